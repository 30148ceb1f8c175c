use std::time::{Duration, Instant};

use cosmrs::proto::cosmos::auth::v1beta1::{
    query_client::QueryClient as AuthClient, BaseAccount, QueryAccountRequest,
};
use cosmrs::proto::cosmos::bank::v1beta1::{
    query_client::QueryClient as BankClient, QueryBalanceRequest,
};
use cosmrs::proto::cosmos::base::abci::v1beta1::{TxMsgData, TxResponse};
use cosmrs::proto::cosmos::base::tendermint::v1beta1::{
    service_client::ServiceClient as TmClient, GetLatestBlockRequest, GetNodeInfoRequest,
};
use cosmrs::proto::cosmos::tx::v1beta1::{
    service_client::ServiceClient as TxClient, BroadcastMode, BroadcastTxRequest, GetTxRequest,
    GetTxsEventRequest, SimulateRequest,
};
use cosmrs::proto::cosmwasm::wasm::v1::{
    query_client::QueryClient as WasmClient, MsgInstantiateContractResponse, MsgStoreCodeResponse,
    QuerySmartContractStateRequest,
};
use cosmrs::proto::prost::Message;
use cosmrs::tx::{Body, Fee, Msg, SignDoc, SignerInfo};
use cosmrs::{AccountId, Any, Coin};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::Channel;

use crate::{ChainError, Wallet};

/// Where the chain is and how to pay for txs.
#[derive(Debug, Clone)]
pub struct ChainConfig {
    /// The node's gRPC endpoint, e.g. `http://127.0.0.1:9090`.
    pub grpc: String,
    pub prefix: String,
    pub fee_denom: String,
    /// Fee per unit of gas, in `fee_denom`.
    pub gas_price: f64,
    /// Simulated gas is multiplied by this (the SDK CLI's `--gas-adjustment`).
    pub gas_adjustment: f64,
    /// How long to wait for a broadcast tx to land in a block.
    pub inclusion_timeout: Duration,
    /// TLS to `grpc` (plaintext only to loopback unless allowed).
    pub tls: havn_mesh_common::tls::ClientTls,
}

impl ChainConfig {
    /// The devnet's defaults at `grpc`.
    pub fn devnet(grpc: impl Into<String>) -> Self {
        ChainConfig {
            grpc: grpc.into(),
            prefix: "havn".into(),
            fee_denom: "uhavn".into(),
            gas_price: 0.0,
            gas_adjustment: 1.3,
            inclusion_timeout: Duration::from_secs(30),
            tls: Default::default(),
        }
    }
}

/// An included tx.
#[derive(Debug, Clone)]
pub struct TxResult {
    pub hash: String,
    pub height: u64,
    pub gas_wanted: u64,
    pub gas_used: u64,
    pub events: Vec<(String, Vec<(String, String)>)>,
    /// One per message, in order (`MsgExecuteContractResponse`, …).
    pub msg_responses: Vec<Any>,
}

impl TxResult {
    /// The first value of `key` in an event of type `ty`.
    pub fn attribute(&self, ty: &str, key: &str) -> Option<&str> {
        self.events
            .iter()
            .filter(|(t, _)| t == ty)
            .flat_map(|(_, attrs)| attrs.iter())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The response to message `index`, decoded.
    pub fn response<M: Message + Default>(&self, index: usize) -> Result<M, ChainError> {
        let any = self.msg_responses.get(index).ok_or_else(|| {
            ChainError::Decode(format!(
                "tx {} has no response for message {index}",
                self.hash
            ))
        })?;
        M::decode(&*any.value).map_err(|e| ChainError::Decode(format!("{}: {e}", any.type_url)))
    }

    fn from_response(r: TxResponse) -> Result<Self, ChainError> {
        let r = failed(r)?;
        let data = hex_decode(&r.data)
            .ok_or_else(|| ChainError::Decode(format!("tx data {:?} is not hex", r.data)))?;
        let msg_responses = TxMsgData::decode(&*data)
            .map_err(|e| ChainError::Decode(format!("tx data: {e}")))?
            .msg_responses;
        Ok(TxResult {
            hash: r.txhash,
            height: r.height.max(0) as u64,
            gas_wanted: r.gas_wanted.max(0) as u64,
            gas_used: r.gas_used.max(0) as u64,
            events: r
                .events
                .into_iter()
                .map(|e| {
                    (
                        e.r#type,
                        e.attributes.into_iter().map(|a| (a.key, a.value)).collect(),
                    )
                })
                .collect(),
            msg_responses,
        })
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// A connection to one chain's gRPC endpoint.
#[derive(Clone)]
pub struct Client {
    cfg: ChainConfig,
    chain_id: cosmrs::tendermint::chain::Id,
    channel: Channel,
}

fn rpc(method: &'static str) -> impl Fn(tonic::Status) -> ChainError {
    move |s| ChainError::Rpc {
        method,
        status: format!("{:?}: {}", s.code(), s.message()),
    }
}

/// How many times a tx that ran out of gas in its block is simulated and sent again.
const OUT_OF_GAS_RETRIES: u32 = 2;

/// How many times a tx is re-signed after an `account sequence mismatch` (code 32).
const SEQUENCE_RETRIES: usize = 3;

impl Client {
    /// Connects and reads the chain id from the node.
    pub async fn connect(cfg: ChainConfig) -> Result<Self, ChainError> {
        let connect_err = |reason: String| ChainError::Connect {
            endpoint: cfg.grpc.clone(),
            reason,
        };
        let channel = havn_mesh_common::tls::endpoint(&cfg.grpc, &cfg.tls)
            .map_err(|e| connect_err(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let info = TmClient::new(channel.clone())
            .get_node_info(GetNodeInfoRequest {})
            .await
            .map_err(rpc("GetNodeInfo"))?
            .into_inner();
        let network = info
            .default_node_info
            .map(|n| n.network)
            .ok_or_else(|| ChainError::Decode("GetNodeInfo without node info".into()))?;
        let chain_id = network
            .parse()
            .map_err(|e| ChainError::Decode(format!("chain id {network:?}: {e}")))?;
        Ok(Client {
            cfg,
            chain_id,
            channel,
        })
    }

    pub fn chain_id(&self) -> &str {
        self.chain_id.as_str()
    }

    pub fn config(&self) -> &ChainConfig {
        &self.cfg
    }

    /// (account number, sequence) of `address`.
    pub async fn account(&self, address: &str) -> Result<(u64, u64), ChainError> {
        let answer = AuthClient::new(self.channel.clone())
            .account(QueryAccountRequest {
                address: address.into(),
            })
            .await;
        let any = match answer {
            Ok(r) => r.into_inner().account,
            Err(s) if s.code() == tonic::Code::NotFound => {
                return Err(ChainError::NoAccount(address.into()))
            }
            Err(s) => return Err(rpc("Account")(s)),
        }
        .ok_or_else(|| ChainError::NoAccount(address.into()))?;
        if any.type_url != "/cosmos.auth.v1beta1.BaseAccount" {
            return Err(ChainError::Decode(format!(
                "account type {} is not supported",
                any.type_url
            )));
        }
        let base =
            BaseAccount::decode(&*any.value).map_err(|e| ChainError::Decode(e.to_string()))?;
        Ok((base.account_number, base.sequence))
    }

    pub async fn balance(&self, address: &str, denom: &str) -> Result<u128, ChainError> {
        let coin = BankClient::new(self.channel.clone())
            .balance(QueryBalanceRequest {
                address: address.into(),
                denom: denom.into(),
            })
            .await
            .map_err(rpc("Balance"))?
            .into_inner()
            .balance
            .unwrap_or_default();
        if coin.amount.is_empty() {
            return Ok(0);
        }
        coin.amount
            .parse()
            .map_err(|_| ChainError::Decode(format!("balance {:?}", coin.amount)))
    }

    pub async fn latest_height(&self) -> Result<u64, ChainError> {
        let block = TmClient::new(self.channel.clone())
            .get_latest_block(GetLatestBlockRequest {})
            .await
            .map_err(rpc("GetLatestBlock"))?
            .into_inner();
        Ok(block
            .sdk_block
            .and_then(|b| b.header)
            .map_or(0, |h| h.height.max(0) as u64))
    }

    /// A contract's answer to a smart query.
    pub async fn smart<Q: Serialize, R: DeserializeOwned>(
        &self,
        contract: &str,
        query: &Q,
    ) -> Result<R, ChainError> {
        let query_data = serde_json::to_vec(query).map_err(|e| ChainError::Build(e.to_string()))?;
        let data = WasmClient::new(self.channel.clone())
            .smart_contract_state(QuerySmartContractStateRequest {
                address: contract.into(),
                query_data,
            })
            .await
            .map_err(rpc("SmartContractState"))?
            .into_inner()
            .data;
        serde_json::from_slice(&data)
            .map_err(|e| ChainError::Decode(format!("contract {contract} answered: {e}")))
    }

    /// Signs `msgs` (`SIGN_MODE_DIRECT`) for the given account state and gas, paying
    /// `gas_limit × gas_price`.
    pub fn sign(
        &self,
        wallet: &Wallet,
        msgs: &[Any],
        account_number: u64,
        sequence: u64,
        gas_limit: u64,
    ) -> Result<Vec<u8>, ChainError> {
        let fee = (gas_limit as f64 * self.cfg.gas_price).ceil() as u128;
        self.sign_paying(wallet, msgs, account_number, sequence, gas_limit, fee)
    }

    fn sign_paying(
        &self,
        wallet: &Wallet,
        msgs: &[Any],
        account_number: u64,
        sequence: u64,
        gas_limit: u64,
        fee: u128,
    ) -> Result<Vec<u8>, ChainError> {
        sign_tx(
            wallet,
            msgs,
            &SignParams {
                chain_id: self.chain_id.as_str(),
                account_number,
                sequence,
                gas_limit,
                fee,
                fee_denom: &self.cfg.fee_denom,
            },
        )
    }

    /// The gas `msgs` use, by simulation.
    pub async fn simulate(
        &self,
        wallet: &Wallet,
        msgs: &[Any],
        account_number: u64,
        sequence: u64,
    ) -> Result<u64, ChainError> {
        // A fee of 1 when the tx will pay one: the ante handler then deducts it in the
        // simulation too (it skips a zero fee), so its gas is in the estimate.
        let fee = u128::from(self.cfg.gas_price > 0.0);
        let tx_bytes = self.sign_paying(wallet, msgs, account_number, sequence, 0, fee)?;
        #[allow(deprecated)] // `tx`: the old field; `tx_bytes` is the one to send
        let request = SimulateRequest { tx: None, tx_bytes };
        let answer = TxClient::new(self.channel.clone()).simulate(request).await;
        match answer {
            Ok(r) => Ok(r.into_inner().gas_info.map_or(0, |g| g.gas_used)),
            Err(s) => Err(ChainError::Tx {
                hash: String::new(),
                code: code_in(s.message())
                    .or_else(|| {
                        s.message()
                            .contains("account sequence mismatch")
                            .then_some(32)
                    })
                    .unwrap_or(0),
                codespace: "simulate".into(),
                log: s.message().to_string(),
            }),
        }
    }

    /// Included txs matching an event query (`wasm.action='transfer' AND …`), oldest first;
    /// failed txs are left out.
    pub async fn search_txs(&self, query: &str) -> Result<Vec<TxResult>, ChainError> {
        self.txs_event(query, 0, 100).await
    }

    /// The newest `limit` (at most 100) included txs matching an event query, newest first.
    pub async fn recent_txs(&self, query: &str, limit: u64) -> Result<Vec<TxResult>, ChainError> {
        // ORDER_BY_DESC
        self.txs_event(query, 2, limit.min(100)).await
    }

    async fn txs_event(
        &self,
        query: &str,
        order_by: i32,
        limit: u64,
    ) -> Result<Vec<TxResult>, ChainError> {
        #[allow(deprecated)] // `events`, `pagination`: the pre-0.50 fields, left empty
        let request = GetTxsEventRequest {
            events: vec![],
            pagination: None,
            order_by,
            page: 1,
            limit,
            query: query.into(),
        };
        let found = TxClient::new(self.channel.clone())
            .get_txs_event(request)
            .await
            .map_err(rpc("GetTxsEvent"))?
            .into_inner();
        Ok(found
            .tx_responses
            .into_iter()
            .filter_map(|r| TxResult::from_response(r).ok())
            .collect())
    }

    /// Broadcasts (sync mode: the node's CheckTx) and returns the tx hash.
    pub async fn broadcast(&self, tx_bytes: Vec<u8>) -> Result<String, ChainError> {
        let r = TxClient::new(self.channel.clone())
            .broadcast_tx(BroadcastTxRequest {
                tx_bytes,
                mode: BroadcastMode::Sync as i32,
            })
            .await
            .map_err(rpc("BroadcastTx"))?
            .into_inner()
            .tx_response
            .ok_or_else(|| ChainError::Decode("BroadcastTx without a response".into()))?;
        Ok(failed(r)?.txhash)
    }

    /// Waits until `hash` is in a block; a failed tx is an error.
    pub async fn wait_for(&self, hash: &str) -> Result<TxResult, ChainError> {
        let deadline = Instant::now() + self.cfg.inclusion_timeout;
        let mut client = TxClient::new(self.channel.clone());
        loop {
            match client.get_tx(GetTxRequest { hash: hash.into() }).await {
                Ok(r) => {
                    let response = r
                        .into_inner()
                        .tx_response
                        .ok_or_else(|| ChainError::Decode("GetTx without a response".into()))?;
                    return TxResult::from_response(response);
                }
                Err(s) if s.code() == tonic::Code::NotFound => {}
                // The node is restarting: the tx may still land (it is in its WAL or mempool).
                Err(s) if s.code() == tonic::Code::Unavailable => {}
                Err(s) => return Err(rpc("GetTx")(s)),
            }
            if Instant::now() >= deadline {
                return Err(ChainError::NotIncluded {
                    hash: hash.into(),
                    secs: self.cfg.inclusion_timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Simulates, signs with gas × adjustment, broadcasts and waits for inclusion; re-signs with
    /// the chain's sequence when another tx of the same account got in first. Txs of one account
    /// from this process (a validator's challenges, seeds and heartbeats, sent concurrently) are
    /// broadcast one at a time, each with the sequence after the last one broadcast: the chain's
    /// account only counts committed txs, so reading it would hand them all the same number.
    /// Only the broadcast is serialised; they wait for inclusion side by side. A tx that ran out
    /// of gas (code 11: the state changed between its simulation and its block, as when three
    /// validators' challenges race and the last one decides the job) is reverted whole, so it is
    /// simulated and sent again, up to `OUT_OF_GAS_RETRIES` times.
    pub async fn send_tx(&self, wallet: &Wallet, msgs: Vec<Any>) -> Result<TxResult, ChainError> {
        let mut retries = 0;
        loop {
            match self.send_once(wallet, msgs.clone()).await {
                Err(e) if e.tx_code() == Some(11) && retries < OUT_OF_GAS_RETRIES => {
                    retries += 1;
                    tracing::info!(error = %e, retries, "out of gas after simulating; simulating again");
                }
                other => return other,
            }
        }
    }

    async fn send_once(&self, wallet: &Wallet, msgs: Vec<Any>) -> Result<TxResult, ChainError> {
        let address = wallet.address().to_string();
        let account = account_lock(self.chain_id(), &address);
        let hash = {
            let mut next = account.lock().await;
            let (number, committed) = self.account(&address).await?;
            let mut sequence = next.map_or(committed, |n| n.max(committed));
            let mut retries = 0;
            loop {
                let attempt = async {
                    let gas = self.simulate(wallet, &msgs, number, sequence).await?;
                    let gas_limit = ((gas as f64) * self.cfg.gas_adjustment).ceil() as u64;
                    let tx = self.sign(wallet, &msgs, number, sequence, gas_limit)?;
                    self.broadcast(tx).await
                };
                match attempt.await {
                    Ok(hash) => {
                        *next = Some(sequence + 1);
                        break hash;
                    }
                    Err(e) if e.tx_code() == Some(32) && retries < SEQUENCE_RETRIES => {
                        retries += 1;
                        let expected = match &e {
                            ChainError::Tx { log, .. } => expected_sequence(log),
                            _ => None,
                        };
                        sequence = match expected {
                            Some(s) => s,
                            None => self.account(&address).await?.1,
                        };
                        tracing::debug!(sequence, retries, "account sequence mismatch; re-signing");
                    }
                    // Nothing was broadcast, so nothing used the sequence.
                    Err(e) => return Err(e),
                }
            }
        };
        self.wait_for(&hash).await
    }

    fn account_id(address: &str) -> Result<AccountId, ChainError> {
        address
            .parse()
            .map_err(|e| ChainError::Build(format!("address {address:?}: {e}")))
    }

    fn coins(&self, funds: &[(u128, &str)]) -> Result<Vec<Coin>, ChainError> {
        funds
            .iter()
            .map(|(amount, denom)| {
                Ok(Coin {
                    amount: *amount,
                    denom: denom
                        .parse()
                        .map_err(|e: cosmrs::ErrorReport| ChainError::Build(e.to_string()))?,
                })
            })
            .collect()
    }

    /// `MsgExecuteContract` with a JSON message, for batching several into one tx.
    pub fn execute_msg<M: Serialize>(
        &self,
        sender: &Wallet,
        contract: &str,
        msg: &M,
        funds: &[(u128, &str)],
    ) -> Result<Any, ChainError> {
        cosmrs::cosmwasm::MsgExecuteContract {
            sender: sender.address().clone(),
            contract: Self::account_id(contract)?,
            msg: serde_json::to_vec(msg).map_err(|e| ChainError::Build(e.to_string()))?,
            funds: self.coins(funds)?,
        }
        .to_any()
        .map_err(|e| ChainError::Build(e.to_string()))
    }

    pub async fn execute<M: Serialize>(
        &self,
        wallet: &Wallet,
        contract: &str,
        msg: &M,
        funds: &[(u128, &str)],
    ) -> Result<TxResult, ChainError> {
        let any = self.execute_msg(wallet, contract, msg, funds)?;
        self.send_tx(wallet, vec![any]).await
    }

    /// Stores `wasm`; returns its code id.
    pub async fn store_code(&self, wallet: &Wallet, wasm: Vec<u8>) -> Result<u64, ChainError> {
        let msg = cosmrs::cosmwasm::MsgStoreCode {
            sender: wallet.address().clone(),
            wasm_byte_code: wasm,
            instantiate_permission: None,
        }
        .to_any()
        .map_err(|e| ChainError::Build(e.to_string()))?;
        let r = self.send_tx(wallet, vec![msg]).await?;
        Ok(r.response::<MsgStoreCodeResponse>(0)?.code_id)
    }

    /// Instantiates `code_id`; returns the contract's address.
    pub async fn instantiate<M: Serialize>(
        &self,
        wallet: &Wallet,
        code_id: u64,
        msg: &M,
        label: &str,
        admin: Option<&str>,
    ) -> Result<String, ChainError> {
        let msg = cosmrs::cosmwasm::MsgInstantiateContract {
            sender: wallet.address().clone(),
            admin: admin.map(Self::account_id).transpose()?,
            code_id,
            label: Some(label.into()),
            msg: serde_json::to_vec(msg).map_err(|e| ChainError::Build(e.to_string()))?,
            funds: vec![],
        }
        .to_any()
        .map_err(|e| ChainError::Build(e.to_string()))?;
        let r = self.send_tx(wallet, vec![msg]).await?;
        Ok(r.response::<MsgInstantiateContractResponse>(0)?.address)
    }

    /// A bank transfer.
    pub async fn bank_send(
        &self,
        wallet: &Wallet,
        to: &str,
        amount: u128,
        denom: &str,
    ) -> Result<TxResult, ChainError> {
        let msg = cosmrs::bank::MsgSend {
            from_address: wallet.address().clone(),
            to_address: Self::account_id(to)?,
            amount: self.coins(&[(amount, denom)])?,
        }
        .to_any()
        .map_err(|e| ChainError::Build(e.to_string()))?;
        self.send_tx(wallet, vec![msg]).await
    }
}

/// Everything a `SIGN_MODE_DIRECT` signature commits to besides the messages.
#[derive(Debug, Clone)]
pub struct SignParams<'a> {
    pub chain_id: &'a str,
    pub account_number: u64,
    pub sequence: u64,
    pub gas_limit: u64,
    /// Fee amount in `fee_denom`; zero sends no fee coin.
    pub fee: u128,
    pub fee_denom: &'a str,
}

/// A signed `TxRaw`, ready to broadcast.
pub fn sign_tx(wallet: &Wallet, msgs: &[Any], p: &SignParams) -> Result<Vec<u8>, ChainError> {
    let build = |e: cosmrs::ErrorReport| ChainError::Build(e.to_string());
    let body = Body::new(msgs.to_vec(), "", 0u32);
    let denom = p.fee_denom.parse().map_err(build)?;
    let mut fee = Fee::from_amount_and_gas(
        Coin {
            denom,
            amount: p.fee,
        },
        p.gas_limit,
    );
    if p.fee == 0 {
        // Free chains: no fee coin rather than a zero one.
        fee.amount.clear();
    }
    let auth_info =
        SignerInfo::single_direct(Some(wallet.key().public_key()), p.sequence).auth_info(fee);
    let chain_id = p
        .chain_id
        .parse()
        .map_err(|e| ChainError::Build(format!("chain id {:?}: {e}", p.chain_id)))?;
    let doc = SignDoc::new(&body, &auth_info, &chain_id, p.account_number).map_err(build)?;
    doc.sign(wallet.key())
        .map_err(build)?
        .to_bytes()
        .map_err(build)
}

/// A response with a non-zero code as the error it is.
fn failed(r: TxResponse) -> Result<TxResponse, ChainError> {
    if r.code == 0 {
        return Ok(r);
    }
    // The SDK answers a CometBFT mempool-cache hit with code 19 and no log: say what it means.
    let log = match (r.code, r.codespace.as_str(), r.raw_log.is_empty()) {
        (19, "sdk", true) => "tx already in the mempool cache: these exact bytes were broadcast \
                              before (check the hash)"
            .to_string(),
        _ => r.raw_log,
    };
    Err(ChainError::Tx {
        hash: r.txhash,
        code: r.code,
        codespace: r.codespace,
        log,
    })
}

/// `account sequence mismatch, expected 5, got 4` → 5.
/// The lock (holding the next sequence to use) of one account on one chain, shared by every
/// `Client` in this process.
fn account_lock(chain_id: &str, address: &str) -> std::sync::Arc<tokio::sync::Mutex<Option<u64>>> {
    type Locks = std::collections::HashMap<
        (String, String),
        std::sync::Arc<tokio::sync::Mutex<Option<u64>>>,
    >;
    static LOCKS: std::sync::OnceLock<std::sync::Mutex<Locks>> = std::sync::OnceLock::new();
    LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry((chain_id.to_string(), address.to_string()))
        .or_default()
        .clone()
}

fn expected_sequence(log: &str) -> Option<u64> {
    let rest = log.split("expected ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The ABCI code the devnet (and this client's errors) put in a simulation error.
fn code_in(message: &str) -> Option<u32> {
    let rest = message.split(" code ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_mismatch_logs_give_the_expected_sequence() {
        assert_eq!(
            expected_sequence(
                "account sequence mismatch, expected 5, got 4: incorrect account sequence"
            ),
            Some(5)
        );
        assert_eq!(expected_sequence("signature verification failed"), None);
    }

    #[test]
    fn hex_decodes() {
        assert_eq!(hex_decode("0A0b"), Some(vec![10, 11]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}
