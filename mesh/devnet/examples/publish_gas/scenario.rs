//! The registry's wasm in the devnet's VM (wasmd's gas: instance, VM, KV store, events), filled
//! with workflows whose fingerprints crowd one neighbourhood, and the SDK gas of one `Publish`
//! measured as the registry grows. Shared by `make bench-publish-gas` and the boundedness test.

use std::sync::Arc;

use cosmwasm_std::{Addr, HexBinary, Uint128};
use cw_multi_test::{App, Executor};
use havn_devnet::{gas::Meter, Vm};
use havn_types::fingerprint::{encode, signature, Signature, SLOTS};
use havn_types::AssetUnchecked;
use havn_workflow_registry::msg::{ExecuteMsg, InstantiateMsg, PublishMsg};

/// A fingerprint of 20 features sharing the first `shared` with a fixed base workflow: its
/// Jaccard similarity with the base is shared / (40 − shared). `tag` makes the rest its own.
pub fn fingerprint(shared: usize, tag: &str) -> HexBinary {
    let features: Vec<String> = (0..20)
        .map(|i| match i < shared {
            true => format!("base/{i}"),
            false => format!("{tag}/{i}"),
        })
        .collect();
    encode(&signature(features.iter().map(|f| f.as_bytes()))).into()
}

/// The base's signature with only the bands in `kept` left as they are (4 slots each, at the
/// shipped `band_rows`); every other slot gets a value of its own, unique to `tag`.
fn banded(kept: impl Fn(usize) -> bool, tag: u64) -> HexBinary {
    let base = base_signature();
    let sig: Signature = (0..SLOTS)
        .map(|slot| match kept(slot / ROWS) {
            true => base[slot],
            // Above any base slot (a minimum of 20 hashes is below 2^31 but once in 2^20).
            false => 0x8000_0000 | (tag as u32) << 7 | slot as u32,
        })
        .collect();
    encode(&sig).into()
}

const ROWS: usize = 4;
const BANDS: usize = SLOTS / ROWS;
const BUCKET_CAP: u64 = 8;

fn base_signature() -> Signature {
    let features: Vec<String> = (0..20).map(|i| format!("base/{i}")).collect();
    signature(features.iter().map(|f| f.as_bytes()))
}

pub struct Registry {
    app: App,
    contract: Addr,
    creator: Addr,
    meter: Arc<Meter>,
    pub published: u64,
}

fn publish_msg(tag: &str, fingerprint: HexBinary) -> ExecuteMsg {
    ExecuteMsg::Publish(PublishMsg {
        name: "workflow".into(),
        content_hash: hex::encode(havn_mesh_common::sha256(tag.as_bytes())),
        price: Uint128::new(1_000),
        split: None,
        dependencies: vec![],
        parent: None,
        artifacts: vec![],
        metadata: None,
        fingerprint: Some(fingerprint),
    })
}

impl Registry {
    /// The lowered wasm at the shipped params, with the base workflow published.
    pub fn new(wasm: &[u8]) -> Self {
        let meter = Arc::new(Meter::default());
        let vm = Vm::new("cosmwasm", meter.clone()).unwrap();
        let mut app = App::default();
        let code_id = app.store_code(Box::new(vm.contract(wasm).unwrap()));
        let creator = app.api().addr_make("creator");
        let contract = app
            .instantiate_contract(
                code_id,
                app.api().addr_make("deployer"),
                &InstantiateMsg {
                    admin: app.api().addr_make("governance").to_string(),
                    asset: AssetUnchecked::Native("uhai".into()),
                    treasury: app.api().addr_make("treasury").to_string(),
                    params: None,
                },
                &[],
                "registry",
                None,
            )
            .unwrap();
        let mut r = Registry {
            app,
            contract,
            creator,
            meter,
            published: 0,
        };
        r.publish("base", fingerprint(20, "base")).unwrap();
        r
    }

    /// SDK gas of one publish (the contract's part of the tx: no ante, no tx bytes).
    pub fn publish(&mut self, tag: &str, fingerprint: HexBinary) -> Result<u64, String> {
        self.meter.begin_tx(1_000_000_000);
        let res = self.app.execute_contract(
            self.creator.clone(),
            self.contract.clone(),
            &publish_msg(tag, fingerprint),
            &[],
        );
        let (used, _) = self.meter.end();
        match res {
            Ok(_) => {
                self.published += 1;
                Ok(used)
            }
            Err(e) => Err(format!("{used} gas: {}", e.root_cause())),
        }
    }

    /// Grows the registry to `n` workflows: workflow i shares i mod 13 features of 20 with the
    /// base (true similarity up to 0.43, six standard errors under the threshold: never refused,
    /// yet crowding the base's buckets).
    pub fn fill_to(&mut self, n: u64) {
        while self.published < n {
            let i = self.published;
            let tag = format!("filler/{i}");
            self.publish(&tag, fingerprint((i % 13) as usize, &tag))
                .unwrap();
        }
    }

    /// The worst case the index allows: every one of the base's 32 band buckets full (8 workflows
    /// each sharing exactly that band with the base, estimated 3 % similar), so a publish near the
    /// base reads 256 entries and compares the 32 best. Any workflow published after this can
    /// neither enter those buckets nor raise the reads.
    pub fn saturate(&mut self) {
        for band in 0..BANDS {
            for k in 0..BUCKET_CAP {
                let tag = 1 + band as u64 * BUCKET_CAP + k;
                self.publish(&format!("band/{tag}"), banded(|b| b == band, tag))
                    .unwrap();
            }
        }
    }

    /// (unrelated, crowded, refused copy) built from the base's bands rather than its features:
    /// none of its bands, half of them (50 %), all but two (94 %).
    pub fn measure_banded(&mut self, round: u64) -> (u64, u64, u64) {
        let tag = |k: u64| 4_000 + round * 3 + k;
        self.measure_three(
            &format!("banded/{round}"),
            [
                banded(|_| false, tag(0)),
                banded(|b| b % 2 == 0, tag(1)),
                banded(|b| b >= 2, tag(2)),
            ],
        )
    }

    /// (unrelated, crowded neighbourhood, refused copy): the gas of each kind of publish now.
    pub fn measure(&mut self, round: u64) -> (u64, u64, u64) {
        let t = |what: &str| format!("measure/{round}/{what}");
        self.measure_three(
            &format!("measure/{round}"),
            [
                fingerprint(0, &t("unrelated")),
                fingerprint(12, &t("crowded")),
                fingerprint(19, &t("copy")),
            ],
        )
    }

    /// Publishes an unrelated workflow and a crowded one (both accepted) and a copy of the base
    /// (refused, naming it): the gas of each.
    fn measure_three(
        &mut self,
        label: &str,
        [unrelated, crowded, copy]: [HexBinary; 3],
    ) -> (u64, u64, u64) {
        let unrelated = self
            .publish(&format!("{label}/unrelated"), unrelated)
            .unwrap();
        let crowded = self.publish(&format!("{label}/crowded"), crowded).unwrap();
        let copy = self.publish(&format!("{label}/copy"), copy).unwrap_err();
        let copy_gas = copy.split(' ').next().unwrap().parse().unwrap();
        assert!(copy.contains("similar to workflow 1 version 1"), "{copy}");
        (unrelated, crowded, copy_gas)
    }
}
