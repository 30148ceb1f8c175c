//! The chain's state machine: genesis, the ante checks, message execution, blocks, the tx index,
//! snapshots. One thread owns it (see [`crate::server`]); everything here is synchronous.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cosmos_sdk_proto::cosmos::bank::v1beta1::{MsgSend, MsgSendResponse};
use cosmos_sdk_proto::cosmos::base::abci::v1beta1::{TxMsgData, TxResponse};
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{AuthInfo, SignDoc, Tx, TxBody, TxRaw};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgExecuteContract, MsgExecuteContractResponse, MsgInstantiateContract,
    MsgInstantiateContract2, MsgInstantiateContract2Response, MsgInstantiateContractResponse,
    MsgMigrateContract, MsgMigrateContractResponse, MsgStoreCode, MsgStoreCodeResponse,
};
use cosmos_sdk_proto::tendermint::abci::{Event, EventAttribute};
use cosmos_sdk_proto::Any;
use cosmwasm_std::{
    Addr, Api, BankMsg, Binary, BlockInfo, Coin, CosmosMsg, Timestamp, Uint128, WasmMsg,
};
use cw_multi_test::{AppResponse, Executor};
use prost::{Message, Name};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::{self, ChainApp, ChainStorage};
use crate::gas::{self, Meter};
use crate::vm::Vm;

/// ABCI codes and codespaces as the Cosmos SDK and wasmd register them.
pub mod codes {
    pub const SDK: &str = "sdk";
    pub const WASM: &str = "wasm";
    pub const TX_DECODE: u32 = 2;
    pub const UNAUTHORIZED: u32 = 4;
    pub const INSUFFICIENT_FUNDS: u32 = 5;
    pub const INVALID_PUBKEY: u32 = 8;
    pub const UNKNOWN_ADDRESS: u32 = 9;
    pub const OUT_OF_GAS: u32 = 11;
    pub const INSUFFICIENT_FEE: u32 = 13;
    pub const INVALID_REQUEST: u32 = 18;
    pub const TX_IN_MEMPOOL_CACHE: u32 = 19;
    pub const WRONG_SEQUENCE: u32 = 32;
    /// wasmd's `x/wasm/types/errors.go`.
    pub const WASM_CREATE_FAILED: u32 = 2;
    pub const WASM_INSTANTIATE_FAILED: u32 = 4;
    pub const WASM_EXECUTE_FAILED: u32 = 5;
    pub const WASM_MIGRATION_FAILED: u32 = 11;
}

/// A tx rejected or failed: its ABCI code, codespace and log, as a chain reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abci {
    pub code: u32,
    pub codespace: &'static str,
    pub log: String,
}

impl Abci {
    fn sdk(code: u32, log: impl Into<String>) -> Self {
        Abci {
            code,
            codespace: codes::SDK,
            log: log.into(),
        }
    }
}

/// What a genesis file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub chain_id: String,
    #[serde(default = "default_prefix")]
    pub bech32_prefix: String,
    /// The denom fees are paid in.
    #[serde(default = "default_fee_denom")]
    pub fee_denom: String,
    /// The smallest gas price a tx may offer, in `fee_denom` per gas (a decimal, e.g. "0.025").
    #[serde(default = "default_min_gas_price")]
    pub min_gas_price: String,
    #[serde(default = "default_block_time_ms")]
    pub block_time_ms: u64,
    /// Unix seconds of block 1; now when absent.
    #[serde(default)]
    pub genesis_time: Option<u64>,
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// Codes stored at genesis, numbered from 1 in this order (paths relative to the file).
    #[serde(default)]
    pub codes: Vec<GenesisCode>,
}

fn default_prefix() -> String {
    "havn".into()
}
fn default_fee_denom() -> String {
    "uhavn".into()
}
fn default_min_gas_price() -> String {
    "0".into()
}
fn default_block_time_ms() -> u64 {
    500
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub address: String,
    #[serde(default)]
    pub coins: Vec<Coin>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisCode {
    pub path: PathBuf,
    /// Who stored it; the first account when absent.
    #[serde(default)]
    pub creator: Option<String>,
}

impl Genesis {
    /// Reads a genesis file; code paths become relative to its directory.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read genesis {}: {e}", path.display()))?;
        let mut g: Genesis = serde_json::from_str(&text)
            .map_err(|e| format!("genesis {} is not valid: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for code in &mut g.codes {
            if code.path.is_relative() {
                code.path = dir.join(&code.path);
            }
        }
        Ok(g)
    }

    /// The minimum gas price as a fraction `(numerator, 10^18)`.
    fn min_gas_price_atto(&self) -> Result<u128, String> {
        parse_decimal_atto(&self.min_gas_price)
            .ok_or_else(|| format!("min_gas_price {:?} is not a decimal", self.min_gas_price))
    }
}

fn parse_decimal_atto(s: &str) -> Option<u128> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 18 || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_val: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>().ok()? * 10u128.pow(18 - frac.len() as u32)
    };
    int.checked_mul(10u128.pow(18))?.checked_add(frac_val)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub number: u64,
    pub sequence: u64,
    /// Compressed secp256k1 key, once the account has signed a tx.
    pub pubkey: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CodeRecord {
    creator: String,
    #[serde(with = "hex_bytes")]
    wasm: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContractRecord {
    pub address: String,
    pub code_id: u64,
    pub height: u64,
    pub tx_index: u64,
}

/// An included tx and its result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxRecord {
    pub hash: String,
    pub height: u64,
    pub index: u64,
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
    pub code: u32,
    pub codespace: String,
    pub log: String,
    pub gas_wanted: u64,
    pub gas_used: u64,
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
    pub events: Vec<(String, Vec<(String, String)>)>,
    pub timestamp: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockRecord {
    pub height: u64,
    pub time_nanos: u64,
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
    pub txs: Vec<String>,
}

/// A delivered tx's `TxMsgData` bytes and events.
pub type TxOutput = (Vec<u8>, Vec<Evt>);

/// What a successful or failed message run leaves.
struct Outcome {
    /// The tx's gas limit (0 when it does not decode).
    gas_wanted: u64,
    gas_used: u64,
    result: Result<TxOutput, Abci>,
}

pub struct Chain {
    pub genesis: Genesis,
    prefix: &'static str,
    min_gas_price_atto: u128,
    app: ChainApp,
    vm: Arc<Vm>,
    meter: Arc<Meter>,
    codes: Vec<CodeRecord>,
    contracts: Vec<ContractRecord>,
    accounts: BTreeMap<String, Account>,
    next_account_number: u64,
    /// The sequence the next tx in the mempool must carry (CheckTx state).
    check_sequences: HashMap<String, u64>,
    mempool: Vec<Vec<u8>>,
    txs: HashMap<String, TxRecord>,
    tx_order: Vec<String>,
    blocks: Vec<BlockRecord>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    genesis: Genesis,
    height: u64,
    time_nanos: u64,
    storage: Vec<(String, String)>,
    codes: Vec<CodeRecord>,
    contracts: Vec<ContractRecord>,
    accounts: BTreeMap<String, Account>,
    next_account_number: u64,
    txs: Vec<TxRecord>,
    blocks: Vec<BlockRecord>,
}

impl Chain {
    /// A chain at height 0 with the genesis accounts funded and its codes stored.
    pub fn new(genesis: Genesis) -> Result<Self, String> {
        let mut chain = Self::empty(genesis.clone())?;
        let time = genesis
            .genesis_time
            .map_or_else(now_nanos, |s| s * 1_000_000_000);
        chain.app.set_block(BlockInfo {
            height: 0,
            time: Timestamp::from_nanos(time),
            chain_id: genesis.chain_id.clone(),
        });
        for acc in &genesis.accounts {
            chain
                .app
                .api()
                .addr_validate(&acc.address)
                .map_err(|e| format!("genesis account {}: {e}", acc.address))?;
            let addr = Addr::unchecked(&acc.address);
            let coins = acc.coins.clone();
            chain
                .app
                .init_modules(|router, _, storage| {
                    router.bank.inner.init_balance(storage, &addr, coins)
                })
                .map_err(|e| format!("genesis account {}: {e}", acc.address))?;
            chain.ensure_account(&acc.address);
        }
        for code in &genesis.codes {
            let wasm = std::fs::read(&code.path)
                .map_err(|e| format!("genesis code {}: {e}", code.path.display()))?;
            let creator = code
                .creator
                .clone()
                .or_else(|| genesis.accounts.first().map(|a| a.address.clone()))
                .ok_or("genesis codes need a creator or at least one account")?;
            chain
                .store_code(&creator, wasm)
                .map_err(|e| format!("genesis code {}: {e}", code.path.display()))?;
        }
        Ok(chain)
    }

    fn empty(genesis: Genesis) -> Result<Self, String> {
        if genesis.chain_id.is_empty() {
            return Err("genesis chain_id is empty".into());
        }
        bech32::Hrp::parse(&genesis.bech32_prefix)
            .map_err(|e| format!("bech32_prefix {:?}: {e}", genesis.bech32_prefix))?;
        let min_gas_price_atto = genesis.min_gas_price_atto()?;
        // The VM and cw-multi-test's API want a `'static` prefix; one per chain.
        let prefix: &'static str = Box::leak(genesis.bech32_prefix.clone().into_boxed_str());
        let meter = Arc::new(Meter::default());
        let vm = Vm::new(prefix, meter.clone()).map_err(|e| e.to_string())?;
        let app = app::build(
            prefix,
            BlockInfo {
                height: 0,
                time: Timestamp::from_nanos(now_nanos()),
                chain_id: genesis.chain_id.clone(),
            },
            meter.clone(),
        );
        Ok(Chain {
            genesis,
            prefix,
            min_gas_price_atto,
            app,
            vm,
            meter,
            codes: vec![],
            contracts: vec![],
            accounts: BTreeMap::new(),
            next_account_number: 0,
            check_sequences: HashMap::new(),
            mempool: vec![],
            txs: HashMap::new(),
            tx_order: vec![],
            blocks: vec![],
        })
    }

    pub fn chain_id(&self) -> &str {
        &self.genesis.chain_id
    }

    pub fn prefix(&self) -> &str {
        self.prefix
    }

    pub fn block(&self) -> BlockInfo {
        self.app.block_info()
    }

    pub fn latest_block(&self) -> Option<&BlockRecord> {
        self.blocks.last()
    }

    pub fn block_at(&self, height: u64) -> Option<&BlockRecord> {
        self.blocks.iter().rev().find(|b| b.height == height)
    }

    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    fn store_code(&mut self, creator: &str, wasm: Vec<u8>) -> Result<(u64, Vec<u8>), String> {
        let contract = self.vm.contract(&wasm).map_err(|e| e.to_string())?;
        let checksum = contract.checksum_bytes();
        let code_id = self
            .app
            .store_code_with_creator(Addr::unchecked(creator), Box::new(contract));
        self.codes.push(CodeRecord {
            creator: creator.into(),
            wasm,
        });
        debug_assert_eq!(code_id as usize, self.codes.len());
        Ok((code_id, checksum))
    }

    /// The account at `address`, created (with the next number) if it holds funds or is a
    /// contract, as the SDK creates one when it first receives coins.
    pub fn account(&mut self, address: &str) -> Option<Account> {
        if let Some(a) = self.accounts.get(address) {
            return Some(a.clone());
        }
        let funded = self
            .app
            .wrap()
            .query(&cosmwasm_std::QueryRequest::<cosmwasm_std::Empty>::Bank(
                #[allow(deprecated)] // the only query for every denom at once
                cosmwasm_std::BankQuery::AllBalances {
                    address: address.into(),
                },
            ))
            .map(|r: cosmwasm_std::AllBalanceResponse| r.amount)
            .map(|b| !b.is_empty())
            .unwrap_or(false);
        let contract = self.contracts.iter().any(|c| c.address == address);
        (funded || contract).then(|| self.ensure_account(address))
    }

    fn ensure_account(&mut self, address: &str) -> Account {
        let next = &mut self.next_account_number;
        self.accounts
            .entry(address.to_string())
            .or_insert_with(|| {
                let a = Account {
                    number: *next,
                    ..Account::default()
                };
                *next += 1;
                a
            })
            .clone()
    }

    pub fn balance(&self, address: &str, denom: &str) -> Result<Uint128, String> {
        self.app
            .wrap()
            .query_balance(address, denom)
            .map(|c| c.amount)
            .map_err(|e| e.to_string())
    }

    pub fn all_balances(&self, address: &str) -> Result<Vec<Coin>, String> {
        self.app
            .wrap()
            .query(&cosmwasm_std::QueryRequest::<cosmwasm_std::Empty>::Bank(
                #[allow(deprecated)] // the only query for every denom at once
                cosmwasm_std::BankQuery::AllBalances {
                    address: address.into(),
                },
            ))
            .map(|r: cosmwasm_std::AllBalanceResponse| r.amount)
            .map_err(|e| e.to_string())
    }

    /// A smart query from outside (gRPC), under wasmd's query gas limit.
    pub fn smart_query(&self, contract: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
        let request: cosmwasm_std::QueryRequest<cosmwasm_std::Empty> =
            cosmwasm_std::QueryRequest::Wasm(cosmwasm_std::WasmQuery::Smart {
                contract_addr: contract.into(),
                msg: Binary::from(msg),
            });
        self.meter.begin(gas::SMART_QUERY_GAS_LIMIT);
        let raw = cosmwasm_std::to_json_vec(&request).map_err(|e| e.to_string())?;
        let answer = cosmwasm_std::Querier::raw_query(&self.app, &raw);
        let (_, out_of_gas) = self.meter.end();
        if out_of_gas.is_some() {
            return Err(format!(
                "out of gas: query exceeded the limit of {} gas",
                gas::SMART_QUERY_GAS_LIMIT
            ));
        }
        match answer {
            cosmwasm_std::SystemResult::Ok(cosmwasm_std::ContractResult::Ok(b)) => Ok(b.to_vec()),
            cosmwasm_std::SystemResult::Ok(cosmwasm_std::ContractResult::Err(e)) => {
                Err(format!("{e}: query wasm contract failed"))
            }
            cosmwasm_std::SystemResult::Err(e) => Err(format!("{e}: query wasm contract failed")),
        }
    }

    pub fn contract_info(
        &self,
        address: &str,
    ) -> Option<(cw_multi_test::ContractData, &ContractRecord)> {
        let record = self.contracts.iter().find(|c| c.address == address)?;
        let data = self.app.contract_data(&Addr::unchecked(address)).ok()?;
        Some((data, record))
    }

    /// (creator, checksum, wasm) of a stored code.
    pub fn code(&self, code_id: u64) -> Option<(String, Vec<u8>, Vec<u8>)> {
        let code = self.codes.get(code_id.checked_sub(1)? as usize)?;
        Some((
            code.creator.clone(),
            Sha256::digest(&code.wasm).to_vec(),
            code.wasm.clone(),
        ))
    }

    /// Up to `limit` codes from `first` on, and the next id
    /// when more remain: a page of `cosmwasm.wasm.v1.Query/Codes`.
    pub fn code_infos(&self, first: u64, limit: usize) -> (Vec<CodeInfo>, Option<u64>) {
        let first = first.max(1);
        let page: Vec<_> = (first..=self.codes.len() as u64)
            .take(limit)
            .filter_map(|id| {
                self.code(id)
                    .map(|(creator, checksum, _)| (id, creator, checksum))
            })
            .collect();
        let next = first + page.len() as u64;
        (page, (next <= self.codes.len() as u64).then_some(next))
    }

    pub fn code_count(&self) -> u64 {
        self.codes.len() as u64
    }

    pub fn contracts_by_code(&self, code_id: u64) -> Vec<String> {
        self.contracts
            .iter()
            .filter(|c| c.code_id == code_id)
            .map(|c| c.address.clone())
            .collect()
    }

    pub fn tx(&self, hash: &str) -> Option<&TxRecord> {
        self.txs.get(&hash.to_uppercase())
    }

    /// Included txs matching every `type.key='value'` condition (`tx.height=N` too), in order.
    pub fn search_txs(&self, conditions: &[(String, String)]) -> Vec<&TxRecord> {
        self.tx_order
            .iter()
            .filter_map(|h| self.txs.get(h))
            .filter(|tx| {
                conditions.iter().all(|(key, value)| {
                    if key == "tx.height" {
                        return tx.height.to_string() == *value;
                    }
                    if key == "tx.hash" {
                        return tx.hash.eq_ignore_ascii_case(value);
                    }
                    let Some((ty, attr)) = key.split_once('.') else {
                        return false;
                    };
                    tx.events.iter().any(|(t, attrs)| {
                        t == ty && attrs.iter().any(|(k, v)| k == attr && v == value)
                    })
                })
            })
            .collect()
    }

    /// CheckTx (what `BroadcastTx` answers in sync mode): the ante checks against the mempool's
    /// view; accepted txs wait for the next block.
    pub fn check_tx(&mut self, bytes: Vec<u8>) -> Result<String, Abci> {
        let hash = tx_hash(&bytes);
        // CometBFT's mempool cache refuses bytes it has seen, before CheckTx; the SDK answers
        // code 19 with no log. (Its cache holds the last 10 000; the devnet remembers all.)
        if self.txs.contains_key(&hash) || self.mempool.iter().any(|b| tx_hash(b) == hash) {
            return Err(Abci::sdk(codes::TX_IN_MEMPOOL_CACHE, ""));
        }
        let tx = decode(&bytes)?;
        let fee = fee_of(&tx.auth_info);
        self.check_min_fee(&tx.auth_info, &fee)?;
        self.meter
            .begin(tx.auth_info.fee.as_ref().map_or(0, |f| f.gas_limit));
        let result = self.ante(&tx, bytes.len(), Mode::Check);
        self.meter.end();
        result?;
        self.mempool.push(bytes);
        Ok(hash)
    }

    /// Runs a tx against a throwaway copy of the state: its gas and result, nothing kept.
    /// As the SDK's simulation, the signature is not checked (its gas is still counted).
    pub fn simulate(&mut self, bytes: &[u8]) -> (u64, Result<TxOutput, Abci>) {
        let saved_storage = self.app.storage().clone();
        let saved_accounts = self.accounts.clone();
        let saved_next = self.next_account_number;
        let saved_contracts = self.contracts.len();
        let outcome = self.run_tx(bytes, Mode::Simulate, 0);
        *self.app.storage_mut() = saved_storage;
        self.accounts = saved_accounts;
        self.next_account_number = saved_next;
        self.contracts.truncate(saved_contracts);
        (outcome.gas_used, outcome.result)
    }

    /// Ends the current block: runs the mempool in order at the next height.
    pub fn produce_block(&mut self) -> &BlockRecord {
        let prev = self.app.block_info();
        let height = prev.height + 1;
        let time = now_nanos().max(prev.time.nanos() + 1_000_000);
        self.app.set_block(BlockInfo {
            height,
            time: Timestamp::from_nanos(time),
            chain_id: self.genesis.chain_id.clone(),
        });
        let timestamp = rfc3339(time);
        let mut hashes = vec![];
        for (index, bytes) in std::mem::take(&mut self.mempool).into_iter().enumerate() {
            let hash = tx_hash(&bytes);
            let outcome = self.run_tx(&bytes, Mode::Deliver, index as u64);
            let gas_wanted = outcome.gas_wanted;
            let (code, codespace, log, data, events) = match outcome.result {
                Ok((data, events)) => (0, String::new(), String::new(), data, events),
                Err(e) => (e.code, e.codespace.to_string(), e.log, vec![], vec![]),
            };
            tracing::info!(
                height,
                tx = %hash,
                code,
                gas_wanted,
                gas_used = outcome.gas_used,
                "{}",
                if code == 0 { "tx included".to_string() } else { format!("tx failed: {log}") }
            );
            let record = TxRecord {
                hash: hash.clone(),
                height,
                index: index as u64,
                bytes,
                code,
                codespace,
                log,
                gas_wanted,
                gas_used: outcome.gas_used,
                data,
                events,
                timestamp: timestamp.clone(),
            };
            self.txs.insert(hash.clone(), record);
            self.tx_order.push(hash.clone());
            hashes.push(hash);
        }
        self.check_sequences.clear();
        let mut h = Sha256::new();
        h.update(height.to_be_bytes());
        h.update(time.to_be_bytes());
        for tx in &hashes {
            h.update(tx.as_bytes());
        }
        self.blocks.push(BlockRecord {
            height,
            time_nanos: time,
            hash: h.finalize().to_vec(),
            txs: hashes,
        });
        self.blocks.last().unwrap()
    }

    fn check_min_fee(&self, auth: &AuthInfo, fee: &[Coin]) -> Result<(), Abci> {
        let gas_limit = auth.fee.as_ref().map_or(0, |f| f.gas_limit) as u128;
        let required = (gas_limit * self.min_gas_price_atto).div_ceil(10u128.pow(18));
        if required == 0 {
            return Ok(());
        }
        let offered = fee
            .iter()
            .filter(|c| c.denom == self.genesis.fee_denom)
            .map(|c| c.amount.u128())
            .sum::<u128>();
        if offered < required {
            return Err(Abci::sdk(
                codes::INSUFFICIENT_FEE,
                format!(
                    "insufficient fees; got: {} required: {required}{}: insufficient fee",
                    coins_string(fee),
                    self.genesis.fee_denom
                ),
            ));
        }
        Ok(())
    }

    /// The ante handler: size gas, fee deduction, pubkey, sequence, signature, sequence bump.
    /// In `Check` mode only the mempool's sequence moves and no fee is taken.
    fn ante(&mut self, tx: &Decoded, size: usize, mode: Mode) -> Result<String, Abci> {
        let oog = |e: gas::OutOfGas, wanted: u64, used: u64| {
            Abci::sdk(
                codes::OUT_OF_GAS,
                format!(
                    "out of gas in location: {}; gasWanted: {wanted}, gasUsed: {used}: out of gas",
                    e.location
                ),
            )
        };
        let wanted = tx.auth_info.fee.as_ref().map_or(0, |f| f.gas_limit);
        if mode != Mode::Simulate && wanted == 0 {
            return Err(Abci::sdk(
                codes::INVALID_REQUEST,
                "invalid gas limit: 0: invalid request",
            ));
        }
        let signer = tx.signer.clone();
        let sig_count = tx.signatures.len().max(1);
        self.meter
            .consume(gas::ante(size, sig_count, tx.msgs.len()), "txSize")
            .map_err(|e| oog(e, wanted, self.meter.used()))?;
        let Some(account) = self.account(&signer) else {
            return Err(Abci::sdk(
                codes::UNKNOWN_ADDRESS,
                format!("account {signer} not found: unknown address"),
            ));
        };
        // Fees: the payer must hold them (taken for real only when the tx is delivered).
        let fee = fee_of(&tx.auth_info);
        for coin in &fee {
            let have = self.balance(&signer, &coin.denom).unwrap_or_default();
            if have < coin.amount {
                return Err(Abci::sdk(
                    codes::INSUFFICIENT_FUNDS,
                    format!(
                        "spendable balance {have}{} is smaller than {}{}: insufficient funds",
                        coin.denom, coin.amount, coin.denom
                    ),
                ));
            }
        }
        // The public key: given in the tx, or already on the account.
        let info = &tx.auth_info.signer_infos[0];
        let pubkey = match &info.public_key {
            Some(any) if any.type_url == "/cosmos.crypto.secp256k1.PubKey" => {
                let pk = cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey::decode(&*any.value)
                    .map_err(|e| Abci::sdk(codes::INVALID_PUBKEY, format!("{e}: invalid pubkey")))?
                    .key;
                if account_address(self.prefix, &pk).as_deref() != Some(signer.as_str()) {
                    return Err(Abci::sdk(
                        codes::INVALID_PUBKEY,
                        format!(
                            "pubKey does not match signer address {signer} with signer index: 0: invalid pubkey"
                        ),
                    ));
                }
                pk
            }
            Some(any) => {
                return Err(Abci::sdk(
                    codes::INVALID_PUBKEY,
                    format!("unsupported key type {}: invalid pubkey", any.type_url),
                ))
            }
            None => account.pubkey.clone().ok_or_else(|| {
                Abci::sdk(
                    codes::INVALID_PUBKEY,
                    format!("pubkey on account is not set: {signer}: invalid pubkey"),
                )
            })?,
        };
        if account.pubkey.is_none() {
            self.meter
                .consume(gas::NEW_PUBKEY_ESTIMATE, "SetPubKey")
                .map_err(|e| oog(e, wanted, self.meter.used()))?;
        }
        // CheckTx and simulations see the mempool's sequences (the SDK's check state).
        let expected = match mode {
            Mode::Check | Mode::Simulate => *self
                .check_sequences
                .get(&signer)
                .unwrap_or(&account.sequence),
            Mode::Deliver => account.sequence,
        };
        if info.sequence != expected {
            return Err(Abci::sdk(
                codes::WRONG_SEQUENCE,
                format!(
                    "account sequence mismatch, expected {expected}, got {}: incorrect account sequence",
                    info.sequence
                ),
            ));
        }
        if mode != Mode::Simulate {
            let doc = SignDoc {
                body_bytes: tx.raw.body_bytes.clone(),
                auth_info_bytes: tx.raw.auth_info_bytes.clone(),
                chain_id: self.genesis.chain_id.clone(),
                account_number: account.number,
            };
            if !verify(&pubkey, &doc.encode_to_vec(), &tx.signatures[0]) {
                return Err(Abci::sdk(
                    codes::UNAUTHORIZED,
                    format!(
                        "signature verification failed; please verify account number ({}), sequence ({}) and chain-id ({}): unauthorized",
                        account.number, account.sequence, self.genesis.chain_id
                    ),
                ));
            }
        }
        match mode {
            Mode::Check => {
                self.check_sequences.insert(signer.clone(), expected + 1);
            }
            Mode::Deliver | Mode::Simulate => {
                if !fee.is_empty() {
                    let collector = module_address(self.prefix, "fee_collector");
                    self.app
                        .send_tokens(Addr::unchecked(&signer), Addr::unchecked(collector), &fee)
                        .map_err(|e| {
                            Abci::sdk(codes::INSUFFICIENT_FUNDS, e.root_cause().to_string())
                        })?;
                }
                let acc = self.accounts.get_mut(&signer).expect("created above");
                acc.sequence += 1;
                acc.pubkey = Some(pubkey);
            }
        }
        Ok(signer)
    }

    /// DeliverTx (or a simulation): the ante (kept even if a message fails, as in the SDK), then
    /// the messages, all or nothing.
    fn run_tx(&mut self, bytes: &[u8], mode: Mode, tx_index: u64) -> Outcome {
        let tx = match decode(bytes) {
            Ok(tx) => tx,
            Err(e) => {
                return Outcome {
                    gas_wanted: 0,
                    gas_used: 0,
                    result: Err(e),
                }
            }
        };
        let limit = match mode {
            Mode::Simulate => u64::MAX / gas::GAS_MULTIPLIER,
            _ => tx.auth_info.fee.as_ref().map_or(0, |f| f.gas_limit),
        };
        // The ante's effects land only if the whole ante passes. Its one store write, the fee
        // transfer, is its last fallible step and atomic itself, so only the accounts it may
        // have created need restoring.
        let before_ante = (self.accounts.clone(), self.next_account_number);
        self.meter.begin_tx(limit);
        if let Err(e) = self.ante(&tx, bytes.len(), mode) {
            let (used, _) = self.meter.end();
            self.accounts = before_ante.0;
            self.next_account_number = before_ante.1;
            return Outcome {
                gas_wanted: limit,
                gas_used: used,
                result: Err(e),
            };
        }
        let before_msgs = (
            self.app.storage().clone(),
            self.contracts.len(),
            self.next_account_number,
            self.accounts.clone(),
        );
        let mut responses = vec![];
        let mut events = vec![];
        let mut failure = None;
        for (i, msg) in tx.msgs.iter().enumerate() {
            match self.run_msg(&tx.signer, msg, mode, tx_index) {
                Ok((response, evs)) => {
                    responses.push(response);
                    // As the SDK since v0.50: every event a message emits names its index.
                    events.extend(evs.into_iter().map(|(ty, mut attrs)| {
                        attrs.push(("msg_index".into(), i.to_string()));
                        (ty, attrs)
                    }));
                }
                Err(e) => {
                    failure = Some(Abci {
                        log: format!("failed to execute message; message index: {i}: {}", e.log),
                        ..e
                    });
                    break;
                }
            }
        }
        let (used, out_of_gas) = self.meter.end();
        if let Some(location) = out_of_gas {
            failure = Some(Abci::sdk(
                codes::OUT_OF_GAS,
                format!("out of gas in location: {location}; gasWanted: {limit}, gasUsed: {used}: out of gas"),
            ));
        }
        if let Some(e) = failure {
            *self.app.storage_mut() = before_msgs.0;
            self.contracts.truncate(before_msgs.1);
            self.next_account_number = before_msgs.2;
            self.accounts = before_msgs.3;
            return Outcome {
                gas_wanted: limit,
                gas_used: used,
                result: Err(e),
            };
        }
        #[allow(deprecated)] // `data`: empty since SDK 0.46; responses go in `msg_responses`
        let data = TxMsgData {
            data: vec![],
            msg_responses: responses,
        }
        .encode_to_vec();
        // The ante's events, in the SDK's order: the fee's transfer, the fee, the sequence and
        // each signature (base64).
        let fee = fee_of(&tx.auth_info);
        let mut all = vec![];
        if !fee.is_empty() {
            let collector = module_address(self.prefix, "fee_collector");
            all.extend(bank_send_events(
                &tx.signer,
                &collector,
                &coins_string(&fee),
            ));
        }
        all.push(ev(
            "tx",
            &[("fee", &coins_string(&fee)), ("fee_payer", &tx.signer)],
        ));
        all.push(ev(
            "tx",
            &[(
                "acc_seq",
                &format!("{}/{}", tx.signer, tx.auth_info.signer_infos[0].sequence),
            )],
        ));
        for signature in &tx.signatures {
            all.push(ev("tx", &[("signature", &base64(signature))]));
        }
        all.extend(events);
        Outcome {
            gas_wanted: limit,
            gas_used: used,
            result: Ok((data, all)),
        }
    }

    fn run_msg(
        &mut self,
        signer: &str,
        msg: &ChainMsg,
        mode: Mode,
        tx_index: u64,
    ) -> Result<(Any, Vec<Evt>), Abci> {
        let sender = Addr::unchecked(signer);
        let message_event = |action: &str, module: &str| {
            ev(
                "message",
                &[("action", action), ("sender", signer), ("module", module)],
            )
        };
        let wasm_err = |code: u32, what: &str, e: anyhow::Error| {
            if e.to_string().starts_with("out of gas")
                || e.root_cause().to_string().starts_with("out of gas")
            {
                // Reported as code 11 by the caller, which sees the meter.
                return Abci::sdk(codes::OUT_OF_GAS, e.root_cause().to_string());
            }
            Abci {
                code,
                codespace: codes::WASM,
                log: format!("{}: {what}", e.root_cause()),
            }
        };
        match msg {
            ChainMsg::Send(m) => {
                let amount = coins(&m.amount)?;
                self.app
                    .execute(
                        sender,
                        CosmosMsg::Bank(BankMsg::Send {
                            to_address: m.to_address.clone(),
                            amount,
                        }),
                    )
                    .map_err(|e| {
                        Abci::sdk(
                            codes::INSUFFICIENT_FUNDS,
                            format!("{}: insufficient funds", e.root_cause()),
                        )
                    })?;
                if !self.accounts.contains_key(&m.to_address) {
                    self.meter
                        .consume(gas::NEW_ACCOUNT_ESTIMATE, "new account")
                        .map_err(|e| Abci::sdk(codes::OUT_OF_GAS, e.location))?;
                }
                self.ensure_account(&m.to_address);
                Ok((
                    any(&MsgSendResponse {}),
                    vec![message_event(&MsgSend::type_url(), "bank")]
                        .into_iter()
                        .chain(bank_send_events(
                            signer,
                            &m.to_address,
                            &coins_string(&coins(&m.amount)?),
                        ))
                        .collect(),
                ))
            }
            ChainMsg::StoreCode(m) => {
                let packed = &m.wasm_byte_code;
                let create_failed = |e: String| Abci {
                    code: codes::WASM_CREATE_FAILED,
                    codespace: codes::WASM,
                    log: format!("{e}: create wasm contract failed"),
                };
                let wasm = if is_gzip(packed) {
                    let cost = gas::UNCOMPRESS_COST_PER_100_BYTES * packed.len() as u64 / 100;
                    self.meter
                        .consume(cost, "Uncompress gzip bytecode")
                        .map_err(|e| Abci::sdk(codes::OUT_OF_GAS, e.location))?;
                    gunzip(packed, gas::MAX_WASM_SIZE).map_err(create_failed)?
                } else {
                    packed.clone()
                };
                self.meter
                    .consume(gas::COMPILE_COST_PER_BYTE * wasm.len() as u64, "compile")
                    .map_err(|e| Abci::sdk(codes::OUT_OF_GAS, e.location))?;
                let (code_id, checksum) = if mode == Mode::Simulate {
                    let c = self.vm.contract(&wasm).map_err(|e| {
                        wasm_err(codes::WASM_CREATE_FAILED, "create wasm contract failed", e)
                    })?;
                    (self.codes.len() as u64 + 1, c.checksum_bytes())
                } else {
                    self.store_code(signer, wasm).map_err(|e| Abci {
                        code: codes::WASM_CREATE_FAILED,
                        codespace: codes::WASM,
                        log: format!("{e}: create wasm contract failed"),
                    })?
                };
                Ok((
                    any(&MsgStoreCodeResponse {
                        code_id,
                        checksum: checksum.clone(),
                    }),
                    vec![
                        message_event(&MsgStoreCode::type_url(), "wasm"),
                        ev(
                            "store_code",
                            &[
                                ("code_checksum", &hex::encode(&checksum)),
                                ("code_id", &code_id.to_string()),
                            ],
                        ),
                    ],
                ))
            }
            ChainMsg::Instantiate(m, salt) => {
                let (admin, msg, funds) = (
                    (!m.admin.is_empty()).then(|| m.admin.clone()),
                    Binary::from(m.msg.clone()),
                    coins(&m.funds)?,
                );
                let (code_id, label) = (m.code_id, m.label.clone());
                let wasm_msg = match salt {
                    None => WasmMsg::Instantiate {
                        admin,
                        code_id,
                        msg,
                        funds,
                        label,
                    },
                    Some(salt) => WasmMsg::Instantiate2 {
                        admin,
                        code_id,
                        msg,
                        funds,
                        label,
                        salt: Binary::from(salt.clone()),
                    },
                };
                let r = self.app.execute(sender, wasm_msg.into()).map_err(|e| {
                    wasm_err(
                        codes::WASM_INSTANTIATE_FAILED,
                        "instantiate wasm contract failed",
                        e,
                    )
                })?;
                let address = self.record_instantiated(&r, m.code_id, tx_index);
                let data = r.data.as_ref().map(|d| d.to_vec()).unwrap_or_default();
                // Both responses are `{1: address, 2: data}` on the wire.
                let mut response = any(&MsgInstantiateContractResponse {
                    address,
                    data: inner_data(&data),
                });
                let action = if salt.is_some() {
                    response.type_url = MsgInstantiateContract2Response::type_url();
                    MsgInstantiateContract2::type_url()
                } else {
                    MsgInstantiateContract::type_url()
                };
                let mut evs = vec![message_event(&action, "wasm")];
                evs.extend(events_of(&r));
                Ok((response, evs))
            }
            ChainMsg::Execute(m) => {
                let wasm_msg = WasmMsg::Execute {
                    contract_addr: m.contract.clone(),
                    msg: Binary::from(m.msg.clone()),
                    funds: coins(&m.funds)?,
                };
                let r = self.app.execute(sender, wasm_msg.into()).map_err(|e| {
                    wasm_err(
                        codes::WASM_EXECUTE_FAILED,
                        "execute wasm contract failed",
                        e,
                    )
                })?;
                self.record_sub_instantiations(&r, tx_index);
                let data = r.data.as_ref().map(|d| d.to_vec()).unwrap_or_default();
                let mut evs = vec![message_event(&MsgExecuteContract::type_url(), "wasm")];
                evs.extend(events_of(&r));
                Ok((any(&MsgExecuteContractResponse { data }), evs))
            }
            ChainMsg::Migrate(m) => {
                let wasm_msg = WasmMsg::Migrate {
                    contract_addr: m.contract.clone(),
                    new_code_id: m.code_id,
                    msg: Binary::from(m.msg.clone()),
                };
                let r = self.app.execute(sender, wasm_msg.into()).map_err(|e| {
                    wasm_err(
                        codes::WASM_MIGRATION_FAILED,
                        "migrate wasm contract failed",
                        e,
                    )
                })?;
                for c in self
                    .contracts
                    .iter_mut()
                    .filter(|c| c.address == m.contract)
                {
                    c.code_id = m.code_id;
                }
                let data = r.data.as_ref().map(|d| d.to_vec()).unwrap_or_default();
                let mut evs = vec![message_event(&MsgMigrateContract::type_url(), "wasm")];
                evs.extend(events_of(&r));
                Ok((any(&MsgMigrateContractResponse { data }), evs))
            }
        }
    }

    /// Notes every contract an `instantiate` event created; returns the first (the message's own).
    fn record_instantiated(&mut self, r: &AppResponse, code_id: u64, tx_index: u64) -> String {
        let created = self.record_sub_instantiations(r, tx_index);
        created.into_iter().next().unwrap_or_else(|| {
            debug_assert!(
                false,
                "instantiate without an instantiate event (code {code_id})"
            );
            String::new()
        })
    }

    fn record_sub_instantiations(&mut self, r: &AppResponse, tx_index: u64) -> Vec<String> {
        let height = self.app.block_info().height;
        let mut created = vec![];
        for e in r.events.iter().filter(|e| e.ty == "instantiate") {
            let attr = |k: &str| {
                e.attributes
                    .iter()
                    .find(|a| a.key == k)
                    .map(|a| a.value.clone())
            };
            if let (Some(address), Some(code_id)) = (attr("_contract_address"), attr("code_id")) {
                self.contracts.push(ContractRecord {
                    address: address.clone(),
                    code_id: code_id.parse().unwrap_or(0),
                    height,
                    tx_index,
                });
                self.ensure_account(&address);
                created.push(address);
            }
        }
        created
    }

    /// Writes the whole state to `path` (atomically: a temp file, then a rename).
    pub fn save_snapshot(&self, path: &Path) -> Result<(), String> {
        let block = self.app.block_info();
        let snap = Snapshot {
            genesis: self.genesis.clone(),
            height: block.height,
            time_nanos: block.time.nanos(),
            storage: self
                .app
                .storage()
                .0
                .iter()
                .map(|(k, v)| (hex::encode(k), hex::encode(v)))
                .collect(),
            codes: self.codes.clone(),
            contracts: self.contracts.clone(),
            accounts: self.accounts.clone(),
            next_account_number: self.next_account_number,
            txs: self
                .tx_order
                .iter()
                .filter_map(|h| self.txs.get(h).cloned())
                .collect(),
            blocks: self.blocks.clone(),
        };
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec(&snap).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, bytes)
            .map_err(|e| format!("cannot write snapshot {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("cannot write snapshot {}: {e}", path.display()))
    }

    /// A chain resumed from a snapshot (the genesis inside it; codes recompiled in order).
    pub fn load_snapshot(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read snapshot {}: {e}", path.display()))?;
        let snap: Snapshot = serde_json::from_slice(&bytes)
            .map_err(|e| format!("snapshot {} is not valid: {e}", path.display()))?;
        let mut chain = Self::empty(snap.genesis)?;
        for code in snap.codes {
            chain.store_code(&code.creator, code.wasm)?;
        }
        let mut storage = ChainStorage::default();
        for (k, v) in snap.storage {
            let k = hex::decode(k).map_err(|e| e.to_string())?;
            let v = hex::decode(v).map_err(|e| e.to_string())?;
            storage.0.insert(k, v);
        }
        *chain.app.storage_mut() = storage;
        chain.app.set_block(BlockInfo {
            height: snap.height,
            time: Timestamp::from_nanos(snap.time_nanos),
            chain_id: chain.genesis.chain_id.clone(),
        });
        chain.contracts = snap.contracts;
        chain.accounts = snap.accounts;
        chain.next_account_number = snap.next_account_number;
        for tx in snap.txs {
            chain.tx_order.push(tx.hash.clone());
            chain.txs.insert(tx.hash.clone(), tx);
        }
        chain.blocks = snap.blocks;
        Ok(chain)
    }
}

/// An event: its type and attributes.
pub type Evt = (String, Vec<(String, String)>);

fn ev(ty: &str, attrs: &[(&str, &str)]) -> Evt {
    (
        ty.to_string(),
        attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// The SDK bank keeper's events for one send: the coins leave, arrive, move, and who sent them.
fn bank_send_events(from: &str, to: &str, amount: &str) -> Vec<Evt> {
    vec![
        ev("coin_spent", &[("spender", from), ("amount", amount)]),
        ev("coin_received", &[("receiver", to), ("amount", amount)]),
        ev(
            "transfer",
            &[("recipient", to), ("sender", from), ("amount", amount)],
        ),
        ev("message", &[("sender", from)]),
    ]
}

/// Standard base64 with padding, as the SDK prints signatures in events.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn events_of(r: &AppResponse) -> Vec<Evt> {
    r.events
        .iter()
        .map(|e| {
            (
                e.ty.clone(),
                e.attributes
                    .iter()
                    .map(|a| (a.key.clone(), a.value.clone()))
                    .collect(),
            )
        })
        .collect()
}

/// cw-multi-test wraps an instantiate's data as `{1: address, 2: data}`; the contract's own
/// data is field 2.
fn inner_data(data: &[u8]) -> Vec<u8> {
    MsgInstantiateContractResponse::decode(data)
        .map(|r| r.data)
        .unwrap_or_default()
}

pub fn to_abci_events(events: &[Evt]) -> Vec<Event> {
    events
        .iter()
        .map(|(ty, attrs)| Event {
            r#type: ty.clone(),
            attributes: attrs
                .iter()
                .map(|(k, v)| EventAttribute {
                    key: k.clone(),
                    value: v.clone(),
                    index: true,
                })
                .collect(),
        })
        .collect()
}

/// A tx's response as `GetTx` and `GetTxsEvent` give it.
pub fn tx_response(r: &TxRecord) -> TxResponse {
    TxResponse {
        height: r.height as i64,
        txhash: r.hash.clone(),
        codespace: r.codespace.clone(),
        code: r.code,
        data: hex::encode_upper(&r.data),
        raw_log: r.log.clone(),
        logs: vec![],
        info: String::new(),
        gas_wanted: r.gas_wanted as i64,
        gas_used: r.gas_used as i64,
        tx: Some(Any {
            type_url: "/cosmos.tx.v1beta1.Tx".into(),
            value: decode_tx(&r.bytes)
                .map(|t| t.encode_to_vec())
                .unwrap_or_default(),
        }),
        timestamp: r.timestamp.clone(),
        events: to_abci_events(&r.events),
    }
}

/// The `Tx` a `TxRaw` carries.
pub fn decode_tx(bytes: &[u8]) -> Option<Tx> {
    let raw = TxRaw::decode(bytes).ok()?;
    Some(Tx {
        body: Some(TxBody::decode(&*raw.body_bytes).ok()?),
        auth_info: Some(AuthInfo::decode(&*raw.auth_info_bytes).ok()?),
        signatures: raw.signatures,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Check,
    Deliver,
    Simulate,
}

enum ChainMsg {
    Send(MsgSend),
    StoreCode(MsgStoreCode),
    /// `MsgInstantiateContract`, or `MsgInstantiateContract2` with its salt.
    Instantiate(MsgInstantiateContract, Option<Vec<u8>>),
    Execute(MsgExecuteContract),
    Migrate(MsgMigrateContract),
}

impl ChainMsg {
    fn decode(any: &Any) -> Result<Self, Abci> {
        let bad = |e: prost::DecodeError| {
            Abci::sdk(
                codes::TX_DECODE,
                format!("{}: {e}: tx parse error", any.type_url),
            )
        };
        let v = &*any.value;
        Ok(match any.type_url.as_str() {
            u if u == MsgSend::type_url() => ChainMsg::Send(MsgSend::decode(v).map_err(bad)?),
            u if u == MsgStoreCode::type_url() => {
                let m = MsgStoreCode::decode(v).map_err(bad)?;
                // wasmd's `ValidateBasic`, which the SDK runs before the ante handler.
                if m.wasm_byte_code.is_empty() || m.wasm_byte_code.len() > gas::MAX_WASM_SIZE {
                    return Err(Abci::sdk(
                        codes::INVALID_REQUEST,
                        format!(
                            "code bytes must be 1 to {} bytes: invalid request",
                            gas::MAX_WASM_SIZE
                        ),
                    ));
                }
                ChainMsg::StoreCode(m)
            }
            u if u == MsgInstantiateContract::type_url() => {
                ChainMsg::Instantiate(MsgInstantiateContract::decode(v).map_err(bad)?, None)
            }
            u if u == MsgInstantiateContract2::type_url() => {
                let m = MsgInstantiateContract2::decode(v).map_err(bad)?;
                let salt = Some(m.salt);
                ChainMsg::Instantiate(
                    MsgInstantiateContract {
                        sender: m.sender,
                        admin: m.admin,
                        code_id: m.code_id,
                        label: m.label,
                        msg: m.msg,
                        funds: m.funds,
                    },
                    salt,
                )
            }
            u if u == MsgExecuteContract::type_url() => {
                ChainMsg::Execute(MsgExecuteContract::decode(v).map_err(bad)?)
            }
            u if u == MsgMigrateContract::type_url() => {
                ChainMsg::Migrate(MsgMigrateContract::decode(v).map_err(bad)?)
            }
            other => {
                return Err(Abci::sdk(
                    codes::TX_DECODE,
                    format!("unable to resolve type URL {other}: tx parse error"),
                ))
            }
        })
    }

    fn signer(&self) -> &str {
        match self {
            ChainMsg::Send(m) => &m.from_address,
            ChainMsg::StoreCode(m) => &m.sender,
            ChainMsg::Instantiate(m, _) => &m.sender,
            ChainMsg::Execute(m) => &m.sender,
            ChainMsg::Migrate(m) => &m.sender,
        }
    }
}

struct Decoded {
    raw: TxRaw,
    auth_info: AuthInfo,
    msgs: Vec<ChainMsg>,
    signatures: Vec<Vec<u8>>,
    signer: String,
}

fn decode(bytes: &[u8]) -> Result<Decoded, Abci> {
    let parse = |what: &str, e: prost::DecodeError| {
        Abci::sdk(codes::TX_DECODE, format!("{what}: {e}: tx parse error"))
    };
    let raw = TxRaw::decode(bytes).map_err(|e| parse("TxRaw", e))?;
    let body = TxBody::decode(&*raw.body_bytes).map_err(|e| parse("TxBody", e))?;
    let auth_info = AuthInfo::decode(&*raw.auth_info_bytes).map_err(|e| parse("AuthInfo", e))?;
    if body.messages.is_empty() {
        return Err(Abci::sdk(
            codes::INVALID_REQUEST,
            "must contain at least one message: invalid request",
        ));
    }
    let msgs = body
        .messages
        .iter()
        .map(ChainMsg::decode)
        .collect::<Result<Vec<_>, _>>()?;
    let mut signers: Vec<&str> = msgs.iter().map(ChainMsg::signer).collect();
    signers.dedup();
    if signers.len() != 1 {
        return Err(Abci::sdk(
            codes::UNAUTHORIZED,
            format!(
                "the devnet takes txs with one signer; this one has {}: unauthorized",
                signers.len()
            ),
        ));
    }
    if auth_info.signer_infos.len() != 1 || raw.signatures.len() != 1 {
        return Err(Abci::sdk(
            codes::UNAUTHORIZED,
            format!(
                "wrong number of signers; expected 1, got {} signer infos and {} signatures: unauthorized",
                auth_info.signer_infos.len(),
                raw.signatures.len()
            ),
        ));
    }
    let signer = signers[0].to_string();
    Ok(Decoded {
        signatures: raw.signatures.clone(),
        raw,
        auth_info,
        msgs,
        signer,
    })
}

fn fee_of(auth: &AuthInfo) -> Vec<Coin> {
    auth.fee
        .as_ref()
        .map(|f| coins(&f.amount).unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        // A zero fee is no fee (the SDK deducts nothing when the fee is zero).
        .filter(|c| !c.amount.is_zero())
        .collect()
}

fn coins(c: &[ProtoCoin]) -> Result<Vec<Coin>, Abci> {
    c.iter()
        .map(|c| {
            c.amount
                .parse::<u128>()
                .map(|a| Coin::new(a, c.denom.clone()))
                .map_err(|_| {
                    Abci::sdk(
                        codes::INVALID_REQUEST,
                        format!("invalid coin amount {:?}: invalid coins", c.amount),
                    )
                })
        })
        .collect()
}

fn coins_string(c: &[Coin]) -> String {
    c.iter()
        .map(|c| format!("{}{}", c.amount, c.denom))
        .collect::<Vec<_>>()
        .join(",")
}

fn any<M: Message + Name>(m: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

/// Uppercase hex sha256 of the tx bytes, as CometBFT names txs.
pub fn tx_hash(bytes: &[u8]) -> String {
    hex::encode_upper(Sha256::digest(bytes))
}

/// The SDK's secp256k1 address: ripemd160(sha256(compressed key)).
pub fn account_address(prefix: &str, pubkey: &[u8]) -> Option<String> {
    use ripemd::Ripemd160;
    if pubkey.len() != 33 {
        return None;
    }
    let hash = Ripemd160::digest(Sha256::digest(pubkey));
    bech32::encode::<bech32::Bech32>(bech32::Hrp::parse(prefix).ok()?, &hash).ok()
}

/// `authtypes.NewModuleAddress(name)`: sha256(name)[..20].
pub fn module_address(prefix: &str, name: &str) -> String {
    let hash = Sha256::digest(name.as_bytes());
    bech32::encode::<bech32::Bech32>(
        bech32::Hrp::parse(prefix).expect("checked at genesis"),
        &hash[..20],
    )
    .expect("20 bytes always encode")
}

/// secp256k1 over sha256 of the sign bytes; the SDK (and k256) refuse high-S signatures.
fn verify(pubkey: &[u8], sign_bytes: &[u8], signature: &[u8]) -> bool {
    use k256::ecdsa::signature::Verifier;
    let Ok(key) = k256::ecdsa::VerifyingKey::from_sec1_bytes(pubkey) else {
        return false;
    };
    let Ok(sig) = k256::ecdsa::Signature::from_slice(signature) else {
        return false;
    };
    key.verify(sign_bytes, &sig).is_ok()
}

/// (code id, creator, checksum) of a stored code.
pub type CodeInfo = (u64, String, Vec<u8>);

/// wasmd's test for a gzipped upload (`ioutils.IsGzip`): the gzip magic and deflate method.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b, 0x08])
}

/// One gzip member unpacked, refused past `limit` bytes (wasmd's `ioutils.Uncompress`).
fn gunzip(packed: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(packed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("uncompress wasm archive: {e}"))?;
    if out.len() > limit {
        return Err(format!("uncompress wasm archive: max {limit} bytes"));
    }
    Ok(out)
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// RFC 3339 in UTC, as CometBFT prints block times.
pub fn rfc3339(nanos: u64) -> String {
    let secs = nanos / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn gzipped_uploads_unpack_within_wasmds_limit() {
        let module = b"\0asm\x01\0\0\0".repeat(100);
        let packed = gzip(&module);
        assert!(is_gzip(&packed) && !is_gzip(&module));
        assert_eq!(gunzip(&packed, gas::MAX_WASM_SIZE).unwrap(), module);
        // A small archive that unpacks past the limit (a zip bomb) is refused, not allocated.
        let bomb = gzip(&vec![0u8; gas::MAX_WASM_SIZE + 1]);
        assert!(bomb.len() < 10_000);
        let err = gunzip(&bomb, gas::MAX_WASM_SIZE).unwrap_err();
        assert!(err.contains("max 819200 bytes"), "{err}");
        let err = gunzip(&[0x1f, 0x8b, 0x08, 0, 1, 2], gas::MAX_WASM_SIZE).unwrap_err();
        assert!(err.starts_with("uncompress wasm archive"), "{err}");
    }

    #[test]
    fn base64_is_the_standard_padded_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn decimals_parse_to_atto() {
        assert_eq!(parse_decimal_atto("0"), Some(0));
        assert_eq!(parse_decimal_atto("0.025"), Some(25 * 10u128.pow(15)));
        assert_eq!(parse_decimal_atto("1.5"), Some(15 * 10u128.pow(17)));
        assert_eq!(parse_decimal_atto("x"), None);
        assert_eq!(parse_decimal_atto(""), None);
    }

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_795_700_000 * 1_000_000_000),
            "2026-11-26T13:33:20Z"
        );
    }

    #[test]
    fn module_addresses_are_the_sdks() {
        // The Cosmos Hub's fee collector.
        assert_eq!(
            module_address("cosmos", "fee_collector"),
            "cosmos17xpfvakm2amg962yls6f84z3kell8c5lserqta"
        );
    }
}
