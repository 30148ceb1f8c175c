//! The cw-multi-test app the chain runs: our storage (cloneable, so a tx can roll back as a whole
//! and a simulation can be thrown away), wasmd's contract addresses, a metered bank.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use anyhow::Result as AnyResult;
use cosmwasm_std::{
    Addr, Api, BankMsg, BankQuery, Binary, BlockInfo, CanonicalAddr, CustomMsg, CustomQuery, Empty,
    Order, Querier, Record, Storage,
};
use cw_multi_test::{
    App, AppBuilder, AppResponse, Bank, BankKeeper, BankSudo, CosmosRouter, DistributionKeeper,
    FailingModule, GovFailingModule, IbcFailingModule, MockApiBech32, Module, StakeKeeper,
    StargateFailing, WasmKeeper,
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::gas::{self, Meter};

pub type ChainApp = App<
    MeteredBank,
    MockApiBech32,
    ChainStorage,
    FailingModule<Empty, Empty, Empty>,
    WasmKeeper<Empty, Empty>,
    StakeKeeper,
    DistributionKeeper,
    IbcFailingModule,
    GovFailingModule,
    StargateFailing,
>;

pub fn build(prefix: &'static str, block: BlockInfo, meter: Arc<Meter>) -> ChainApp {
    AppBuilder::new()
        .with_api(MockApiBech32::new(prefix))
        .with_storage(ChainStorage::default())
        .with_wasm(WasmKeeper::new().with_address_generator(ClassicAddresses))
        .with_bank(MeteredBank {
            inner: BankKeeper::new(),
            meter,
        })
        .with_block(block)
        .build(|_, _, _| {})
}

/// The whole chain state: an ordered map, cloned to roll a tx back.
#[derive(Clone, Default, Debug, PartialEq)]
pub struct ChainStorage(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl Storage for ChainStorage {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key).cloned()
    }

    fn range<'a>(
        &'a self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> Box<dyn Iterator<Item = Record> + 'a> {
        let lo = start.map_or(Bound::Unbounded, |s| Bound::Included(s.to_vec()));
        let hi = end.map_or(Bound::Unbounded, |e| Bound::Excluded(e.to_vec()));
        if let (Bound::Included(s), Bound::Excluded(e)) = (&lo, &hi) {
            if s >= e {
                return Box::new(std::iter::empty());
            }
        }
        let it = self
            .0
            .range::<Vec<u8>, _>((lo, hi))
            .map(|(k, v)| (k.clone(), v.clone()));
        match order {
            Order::Ascending => Box::new(it),
            Order::Descending => Box::new(it.rev()),
        }
    }

    fn set(&mut self, key: &[u8], value: &[u8]) {
        self.0.insert(key.to_vec(), value.to_vec());
    }

    fn remove(&mut self, key: &[u8]) {
        self.0.remove(key);
    }
}

/// wasmd's `BuildContractAddressClassic`: `sha256(sha256("module") ‖ "wasm\0" ‖ code id ‖
/// instance id)`, both big-endian u64, instance ids counted from 1.
pub struct ClassicAddresses;

pub fn classic_address(code_id: u64, instance_id: u64) -> CanonicalAddr {
    let mut key = b"wasm\0".to_vec();
    key.extend_from_slice(&code_id.to_be_bytes());
    key.extend_from_slice(&instance_id.to_be_bytes());
    let th = Sha256::digest(b"module");
    let mut h = Sha256::new();
    h.update(th);
    h.update(&key);
    CanonicalAddr::from(h.finalize().to_vec())
}

impl cw_multi_test::AddressGenerator for ClassicAddresses {
    fn contract_address(
        &self,
        api: &dyn Api,
        _storage: &mut dyn Storage,
        code_id: u64,
        instance_id: u64,
    ) -> AnyResult<Addr> {
        // cw-multi-test counts instances from 0, wasmd's sequence from 1.
        Ok(api.addr_humanize(&classic_address(code_id, instance_id + 1))?)
    }
}

/// cw-multi-test's bank, charging each transfer what the SDK's bank store charges.
pub struct MeteredBank {
    pub inner: BankKeeper,
    meter: Arc<Meter>,
}

impl Bank for MeteredBank {}

impl Module for MeteredBank {
    type ExecT = BankMsg;
    type QueryT = BankQuery;
    type SudoT = BankSudo;

    fn execute<ExecC, QueryC>(
        &self,
        api: &dyn Api,
        storage: &mut dyn Storage,
        router: &dyn CosmosRouter<ExecC = ExecC, QueryC = QueryC>,
        block: &BlockInfo,
        sender: Addr,
        msg: BankMsg,
    ) -> AnyResult<AppResponse>
    where
        ExecC: CustomMsg + DeserializeOwned + 'static,
        QueryC: CustomQuery + DeserializeOwned + 'static,
    {
        if let BankMsg::Send { to_address, amount } = &msg {
            let from = api.addr_canonicalize(sender.as_str())?.len();
            let to = api.addr_canonicalize(to_address)?.len();
            for coin in amount {
                let cost =
                    gas::bank_transfer(from, to, coin.denom.len(), coin.amount.to_string().len());
                self.meter
                    .consume(cost, "bank send")
                    .map_err(|e| anyhow::anyhow!("out of gas in location: {}", e.location))?;
            }
        }
        self.inner.execute(api, storage, router, block, sender, msg)
    }

    fn query(
        &self,
        api: &dyn Api,
        storage: &dyn Storage,
        querier: &dyn Querier,
        block: &BlockInfo,
        request: BankQuery,
    ) -> AnyResult<Binary> {
        self.inner.query(api, storage, querier, block, request)
    }

    fn sudo<ExecC, QueryC>(
        &self,
        api: &dyn Api,
        storage: &mut dyn Storage,
        router: &dyn CosmosRouter<ExecC = ExecC, QueryC = QueryC>,
        block: &BlockInfo,
        msg: BankSudo,
    ) -> AnyResult<AppResponse>
    where
        ExecC: CustomMsg + DeserializeOwned + 'static,
        QueryC: CustomQuery + DeserializeOwned + 'static,
    {
        self.inner.sudo(api, storage, router, block, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_addresses_are_wasmds() {
        // wasmd's first contract (code 1, instance 1) under the `wasm` prefix, as every wasmd
        // tutorial shows it.
        let api = MockApiBech32::new("wasm");
        assert_eq!(
            api.addr_humanize(&classic_address(1, 1)).unwrap().as_str(),
            "wasm14hj2tavq8fpesdwxxcu44rty3hh90vhujrvcmstl4zr3txmfvw9s0phg4d"
        );
    }

    #[test]
    fn ranges_are_ordered_and_bounded() {
        let mut s = ChainStorage::default();
        for k in [b"a", b"b", b"c", b"d"] {
            s.set(k, k);
        }
        let keys = |it: Box<dyn Iterator<Item = Record> + '_>| -> Vec<Vec<u8>> {
            it.map(|(k, _)| k).collect()
        };
        assert_eq!(
            keys(s.range(Some(b"b"), Some(b"d"), Order::Ascending)),
            [b"b", b"c"]
        );
        assert_eq!(
            keys(s.range(Some(b"b"), None, Order::Descending)),
            [b"d", b"c", b"b"]
        );
        assert!(keys(s.range(Some(b"c"), Some(b"a"), Order::Ascending)).is_empty());
    }
}
