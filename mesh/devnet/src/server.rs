//! The Cosmos gRPC API over the chain: one thread owns the [`Chain`] (the VM's instances are not
//! `Send`), ends a block on every tick, and runs requests the gRPC services hand it in order.

// `tonic::Status` is what every gRPC handler returns; boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cosmos_sdk_proto::cosmos::auth::v1beta1::query_server::{
    Query as AuthQuery, QueryServer as AuthServer,
};
use cosmos_sdk_proto::cosmos::auth::v1beta1::{
    self as auth, BaseAccount, Bech32PrefixRequest, Bech32PrefixResponse, QueryAccountRequest,
    QueryAccountResponse,
};
use cosmos_sdk_proto::cosmos::bank::v1beta1::query_server::{
    Query as BankQuery, QueryServer as BankServer,
};
use cosmos_sdk_proto::cosmos::bank::v1beta1::{
    self as bank, QueryAllBalancesRequest, QueryAllBalancesResponse, QueryBalanceRequest,
    QueryBalanceResponse,
};
use cosmos_sdk_proto::cosmos::base::abci::v1beta1::{
    GasInfo, Result as AbciResult, TxMsgData, TxResponse,
};
use cosmos_sdk_proto::cosmos::base::query::v1beta1::PageResponse;
use cosmos_sdk_proto::cosmos::base::tendermint::v1beta1::service_server::{
    Service as TmService, ServiceServer as TmServer,
};
use cosmos_sdk_proto::cosmos::base::tendermint::v1beta1::{
    self as tmv, Block, GetBlockByHeightRequest, GetBlockByHeightResponse, GetLatestBlockRequest,
    GetLatestBlockResponse, GetNodeInfoRequest, GetNodeInfoResponse, GetSyncingRequest,
    GetSyncingResponse, Header, VersionInfo,
};
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey;
use cosmos_sdk_proto::cosmos::tx::v1beta1::service_server::{
    Service as TxService, ServiceServer as TxServer,
};
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    self as txv, BroadcastMode, BroadcastTxRequest, BroadcastTxResponse, GetTxRequest,
    GetTxResponse, GetTxsEventRequest, GetTxsEventResponse, OrderBy, SimulateRequest,
    SimulateResponse, TxRaw,
};
use cosmos_sdk_proto::cosmwasm::wasm::v1 as wasm;
use cosmos_sdk_proto::tendermint::google::protobuf::Timestamp;
use cosmos_sdk_proto::tendermint::{p2p, types as tm};
use cosmos_sdk_proto::Any;
use prost::Message;
use tonic::codegen::{http, Body, BoxFuture, Context, Poll, StdError};
use tonic::{Request, Response, Status};

use crate::chain::{self, Chain};

type Job = Box<dyn FnOnce(&mut Chain) + Send>;

/// Sends work to the chain's thread.
#[derive(Clone)]
pub struct Handle {
    jobs: mpsc::Sender<Job>,
}

impl Handle {
    /// Runs `f` on the chain's thread, between blocks, and returns what it returns.
    pub async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Chain) -> R + Send + 'static,
    ) -> Result<R, Status> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |c| {
                let _ = tx.send(f(c));
            }))
            .map_err(|_| Status::unavailable("the chain has stopped"))?;
        rx.await
            .map_err(|_| Status::unavailable("the chain has stopped"))
    }
}

/// How the chain thread runs.
pub struct ChainOptions {
    pub block_time: Duration,
    /// Saved after every block that had txs, and on shutdown.
    pub snapshot: Option<PathBuf>,
}

/// Starts the chain's thread; `build` makes the chain there. Returns once it is built.
pub fn spawn_chain(
    build: impl FnOnce() -> Result<Chain, String> + Send + 'static,
    options: ChainOptions,
) -> Result<(Handle, std::thread::JoinHandle<()>), String> {
    let (jobs, rx) = mpsc::channel::<Job>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("havn-devnet-chain".into())
        .spawn(move || {
            let mut chain = match build() {
                Ok(c) => {
                    let _ = ready_tx.send(Ok(()));
                    c
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut next_block = Instant::now() + options.block_time;
            loop {
                let wait = next_block.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(job) => job(&mut chain),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let had_txs = !chain.produce_block().txs.is_empty();
                        if let (true, Some(path)) = (had_txs, &options.snapshot) {
                            if let Err(e) = chain.save_snapshot(path) {
                                tracing::error!("{e}");
                            }
                        }
                        next_block += options.block_time;
                        // A slow block must not make the next ones pile up.
                        if next_block < Instant::now() {
                            next_block = Instant::now() + options.block_time;
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            if let Some(path) = &options.snapshot {
                match chain.save_snapshot(path) {
                    Ok(()) => tracing::info!(path = %path.display(), "snapshot saved"),
                    Err(e) => tracing::error!("{e}"),
                }
            }
        })
        .map_err(|e| format!("cannot start the chain thread: {e}"))?;
    ready_rx
        .recv()
        .map_err(|_| "the chain thread died while starting".to_string())??;
    Ok((Handle { jobs }, thread))
}

/// Serves the Cosmos gRPC API on `listener` until `shutdown` resolves.
pub async fn serve(
    handle: Handle,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), String> {
    let api = Api { chain: handle };
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<TxServer<Api>>().await;
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(TxServer::new(api.clone()))
        .add_service(AuthServer::new(api.clone()))
        .add_service(BankServer::new(api.clone()))
        .add_service(TmServer::new(api.clone()))
        .add_service(Served(ConsensusServer))
        .add_service(Served(WasmServer { api }))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
        .map_err(|e| format!("gRPC server: {e}"))
}

/// Binds `addr` (port 0: any free port).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

#[derive(Clone)]
struct Api {
    chain: Handle,
}

fn unimplemented(method: &str) -> Status {
    Status::unimplemented(format!(
        "{method} is not served by the Havn devnet (a development chain); see docs/devnet.md"
    ))
}

fn proto_coin(c: cosmwasm_std::Coin) -> ProtoCoin {
    ProtoCoin {
        denom: c.denom,
        amount: c.amount.to_string(),
    }
}

fn timestamp(nanos: u64) -> Timestamp {
    Timestamp {
        seconds: (nanos / 1_000_000_000) as i64,
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

fn check_address(chain: &Chain, address: &str) -> Result<(), Status> {
    match bech32::decode(address) {
        Ok((hrp, _)) if hrp.as_str() == chain.prefix() => Ok(()),
        Ok((hrp, _)) => Err(Status::invalid_argument(format!(
            "invalid address {address}: prefix {hrp}, expected {}",
            chain.prefix()
        ))),
        Err(e) => Err(Status::invalid_argument(format!(
            "invalid address {address:?}: {e}"
        ))),
    }
}

#[tonic::async_trait]
impl TxService for Api {
    #[allow(deprecated)] // `tx`: the old field, still sent by some clients
    async fn simulate(
        &self,
        r: Request<SimulateRequest>,
    ) -> Result<Response<SimulateResponse>, Status> {
        let r = r.into_inner();
        let bytes = if !r.tx_bytes.is_empty() {
            r.tx_bytes
        } else if let Some(tx) = r.tx {
            // The deprecated field: a decoded `Tx`; re-encode it as a `TxRaw`.
            TxRaw {
                body_bytes: tx.body.map(|b| b.encode_to_vec()).unwrap_or_default(),
                auth_info_bytes: tx.auth_info.map(|a| a.encode_to_vec()).unwrap_or_default(),
                signatures: tx.signatures,
            }
            .encode_to_vec()
        } else {
            return Err(Status::invalid_argument("empty txs not allowed"));
        };
        let (gas_used, result) = self.chain.with(move |c| c.simulate(&bytes)).await?;
        match result {
            #[allow(deprecated)] // `data`: empty, as since SDK 0.46
            Ok((data, events)) => {
                let msg_responses = TxMsgData::decode(&*data)
                    .map(|d| d.msg_responses)
                    .unwrap_or_default();
                Ok(Response::new(SimulateResponse {
                    gas_info: Some(GasInfo {
                        gas_wanted: 0,
                        gas_used,
                    }),
                    result: Some(AbciResult {
                        data: vec![],
                        log: String::new(),
                        events: chain::to_abci_events(&events),
                        msg_responses,
                    }),
                }))
            }
            Err(e) => Err(Status::unknown(format!(
                "{} [codespace {} code {}] With gas wanted: '0' and gas used: '{gas_used}'",
                e.log, e.codespace, e.code
            ))),
        }
    }

    async fn get_tx(&self, r: Request<GetTxRequest>) -> Result<Response<GetTxResponse>, Status> {
        let hash = r.into_inner().hash;
        let record = self
            .chain
            .with(move |c| c.tx(&hash).cloned().ok_or(hash))
            .await?;
        match record {
            Ok(rec) => Ok(Response::new(GetTxResponse {
                tx: chain::decode_tx(&rec.bytes),
                tx_response: Some(chain::tx_response(&rec)),
            })),
            Err(hash) => Err(Status::not_found(format!("tx not found: {hash}"))),
        }
    }

    async fn broadcast_tx(
        &self,
        r: Request<BroadcastTxRequest>,
    ) -> Result<Response<BroadcastTxResponse>, Status> {
        let r = r.into_inner();
        if r.tx_bytes.is_empty() {
            return Err(Status::invalid_argument("invalid empty tx"));
        }
        let mode = BroadcastMode::try_from(r.mode).unwrap_or(BroadcastMode::Unspecified);
        if !matches!(mode, BroadcastMode::Sync | BroadcastMode::Async) {
            return Err(Status::invalid_argument(format!(
                "supported broadcast modes: BROADCAST_MODE_SYNC, BROADCAST_MODE_ASYNC (got {})",
                mode.as_str_name()
            )));
        }
        let bytes = r.tx_bytes;
        let hash = chain::tx_hash(&bytes);
        let result = self.chain.with(move |c| c.check_tx(bytes)).await?;
        let mut response = TxResponse {
            txhash: hash.clone(),
            ..TxResponse::default()
        };
        match result {
            Ok(_) => tracing::debug!(tx = %hash, "accepted into the mempool"),
            Err(e) => {
                tracing::info!(tx = %hash, code = e.code, "rejected: {}", e.log);
                response.code = e.code;
                response.codespace = e.codespace.into();
                response.raw_log = e.log;
            }
        }
        Ok(Response::new(BroadcastTxResponse {
            tx_response: Some(response),
        }))
    }

    #[allow(deprecated)] // `events` and `pagination`: the pre-0.50 fields, still filled
    async fn get_txs_event(
        &self,
        r: Request<GetTxsEventRequest>,
    ) -> Result<Response<GetTxsEventResponse>, Status> {
        let r = r.into_inner();
        let mut conditions = vec![];
        let query = if r.query.is_empty() {
            r.events.join(" AND ")
        } else {
            r.query.clone()
        };
        for part in query
            .split(" AND ")
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((key, value)) = part.split_once('=') else {
                return Err(Status::invalid_argument(format!(
                    "invalid event condition {part:?}: expected type.attribute='value'"
                )));
            };
            conditions.push((
                key.trim().to_string(),
                value
                    .trim()
                    .trim_matches('\'')
                    .trim_matches('"')
                    .to_string(),
            ));
        }
        if conditions.is_empty() {
            return Err(Status::invalid_argument("query cannot be empty"));
        }
        let limit = if r.limit == 0 { 100 } else { r.limit.min(100) } as usize;
        let page = r.page.max(1) as usize;
        let descending = r.order_by == OrderBy::Desc as i32;
        let (total, records) = self
            .chain
            .with(move |c| {
                let mut found: Vec<_> = c.search_txs(&conditions).into_iter().cloned().collect();
                if descending {
                    found.reverse();
                }
                let total = found.len();
                (
                    total,
                    found
                        .into_iter()
                        .skip((page - 1) * limit)
                        .take(limit)
                        .collect::<Vec<_>>(),
                )
            })
            .await?;
        Ok(Response::new(GetTxsEventResponse {
            txs: records
                .iter()
                .filter_map(|r| chain::decode_tx(&r.bytes))
                .collect(),
            tx_responses: records.iter().map(chain::tx_response).collect(),
            pagination: Some(PageResponse {
                next_key: vec![],
                total: total as u64,
            }),
            total: total as u64,
        }))
    }

    async fn get_block_with_txs(
        &self,
        _: Request<txv::GetBlockWithTxsRequest>,
    ) -> Result<Response<txv::GetBlockWithTxsResponse>, Status> {
        Err(unimplemented("get_block_with_txs"))
    }
    async fn tx_decode(
        &self,
        _: Request<txv::TxDecodeRequest>,
    ) -> Result<Response<txv::TxDecodeResponse>, Status> {
        Err(unimplemented("tx_decode"))
    }
    async fn tx_encode(
        &self,
        _: Request<txv::TxEncodeRequest>,
    ) -> Result<Response<txv::TxEncodeResponse>, Status> {
        Err(unimplemented("tx_encode"))
    }
    async fn tx_encode_amino(
        &self,
        _: Request<txv::TxEncodeAminoRequest>,
    ) -> Result<Response<txv::TxEncodeAminoResponse>, Status> {
        Err(unimplemented("tx_encode_amino"))
    }
    async fn tx_decode_amino(
        &self,
        _: Request<txv::TxDecodeAminoRequest>,
    ) -> Result<Response<txv::TxDecodeAminoResponse>, Status> {
        Err(unimplemented("tx_decode_amino"))
    }
}

#[tonic::async_trait]
impl AuthQuery for Api {
    async fn account(
        &self,
        r: Request<QueryAccountRequest>,
    ) -> Result<Response<QueryAccountResponse>, Status> {
        let address = r.into_inner().address;
        let account = self
            .chain
            .with(move |c| {
                check_address(c, &address)?;
                c.account(&address)
                    .map(|a| (address.clone(), a))
                    .ok_or_else(|| Status::not_found(format!("account {address} not found")))
            })
            .await??;
        let (address, a) = account;
        let base = BaseAccount {
            address,
            pub_key: a.pubkey.map(|key| Any {
                type_url: "/cosmos.crypto.secp256k1.PubKey".into(),
                value: PubKey { key }.encode_to_vec(),
            }),
            account_number: a.number,
            sequence: a.sequence,
        };
        Ok(Response::new(QueryAccountResponse {
            account: Some(Any {
                type_url: "/cosmos.auth.v1beta1.BaseAccount".into(),
                value: base.encode_to_vec(),
            }),
        }))
    }

    async fn bech32_prefix(
        &self,
        _: Request<Bech32PrefixRequest>,
    ) -> Result<Response<Bech32PrefixResponse>, Status> {
        let bech32_prefix = self.chain.with(|c| c.prefix().to_string()).await?;
        Ok(Response::new(Bech32PrefixResponse { bech32_prefix }))
    }

    async fn accounts(
        &self,
        _: Request<auth::QueryAccountsRequest>,
    ) -> Result<Response<auth::QueryAccountsResponse>, Status> {
        Err(unimplemented("accounts"))
    }
    async fn account_address_by_id(
        &self,
        _: Request<auth::QueryAccountAddressByIdRequest>,
    ) -> Result<Response<auth::QueryAccountAddressByIdResponse>, Status> {
        Err(unimplemented("account_address_by_id"))
    }
    async fn params(
        &self,
        _: Request<auth::QueryParamsRequest>,
    ) -> Result<Response<auth::QueryParamsResponse>, Status> {
        Err(unimplemented("params"))
    }
    async fn module_accounts(
        &self,
        _: Request<auth::QueryModuleAccountsRequest>,
    ) -> Result<Response<auth::QueryModuleAccountsResponse>, Status> {
        Err(unimplemented("module_accounts"))
    }
    async fn module_account_by_name(
        &self,
        _: Request<auth::QueryModuleAccountByNameRequest>,
    ) -> Result<Response<auth::QueryModuleAccountByNameResponse>, Status> {
        Err(unimplemented("module_account_by_name"))
    }
    async fn address_bytes_to_string(
        &self,
        _: Request<auth::AddressBytesToStringRequest>,
    ) -> Result<Response<auth::AddressBytesToStringResponse>, Status> {
        Err(unimplemented("address_bytes_to_string"))
    }
    async fn address_string_to_bytes(
        &self,
        _: Request<auth::AddressStringToBytesRequest>,
    ) -> Result<Response<auth::AddressStringToBytesResponse>, Status> {
        Err(unimplemented("address_string_to_bytes"))
    }
    async fn account_info(
        &self,
        _: Request<auth::QueryAccountInfoRequest>,
    ) -> Result<Response<auth::QueryAccountInfoResponse>, Status> {
        Err(unimplemented("account_info"))
    }
}

#[tonic::async_trait]
impl BankQuery for Api {
    async fn balance(
        &self,
        r: Request<QueryBalanceRequest>,
    ) -> Result<Response<QueryBalanceResponse>, Status> {
        let r = r.into_inner();
        if r.denom.is_empty() {
            return Err(Status::invalid_argument("invalid denom"));
        }
        let amount = self
            .chain
            .with(move |c| {
                check_address(c, &r.address)?;
                c.balance(&r.address, &r.denom)
                    .map(|a| (r.denom, a))
                    .map_err(Status::internal)
            })
            .await??;
        Ok(Response::new(QueryBalanceResponse {
            balance: Some(ProtoCoin {
                denom: amount.0,
                amount: amount.1.to_string(),
            }),
        }))
    }

    async fn all_balances(
        &self,
        r: Request<QueryAllBalancesRequest>,
    ) -> Result<Response<QueryAllBalancesResponse>, Status> {
        let address = r.into_inner().address;
        let coins = self
            .chain
            .with(move |c| {
                check_address(c, &address)?;
                c.all_balances(&address).map_err(Status::internal)
            })
            .await??;
        Ok(Response::new(QueryAllBalancesResponse {
            pagination: Some(PageResponse {
                next_key: vec![],
                total: coins.len() as u64,
            }),
            balances: coins.into_iter().map(proto_coin).collect(),
        }))
    }

    async fn spendable_balances(
        &self,
        _: Request<bank::QuerySpendableBalancesRequest>,
    ) -> Result<Response<bank::QuerySpendableBalancesResponse>, Status> {
        Err(unimplemented("spendable_balances"))
    }
    async fn spendable_balance_by_denom(
        &self,
        _: Request<bank::QuerySpendableBalanceByDenomRequest>,
    ) -> Result<Response<bank::QuerySpendableBalanceByDenomResponse>, Status> {
        Err(unimplemented("spendable_balance_by_denom"))
    }
    async fn total_supply(
        &self,
        _: Request<bank::QueryTotalSupplyRequest>,
    ) -> Result<Response<bank::QueryTotalSupplyResponse>, Status> {
        Err(unimplemented("total_supply"))
    }
    async fn supply_of(
        &self,
        _: Request<bank::QuerySupplyOfRequest>,
    ) -> Result<Response<bank::QuerySupplyOfResponse>, Status> {
        Err(unimplemented("supply_of"))
    }
    async fn params(
        &self,
        _: Request<bank::QueryParamsRequest>,
    ) -> Result<Response<bank::QueryParamsResponse>, Status> {
        Err(unimplemented("params"))
    }
    async fn denom_metadata(
        &self,
        _: Request<bank::QueryDenomMetadataRequest>,
    ) -> Result<Response<bank::QueryDenomMetadataResponse>, Status> {
        Err(unimplemented("denom_metadata"))
    }
    async fn denom_metadata_by_query_string(
        &self,
        _: Request<bank::QueryDenomMetadataByQueryStringRequest>,
    ) -> Result<Response<bank::QueryDenomMetadataByQueryStringResponse>, Status> {
        Err(unimplemented("denom_metadata_by_query_string"))
    }
    async fn denoms_metadata(
        &self,
        _: Request<bank::QueryDenomsMetadataRequest>,
    ) -> Result<Response<bank::QueryDenomsMetadataResponse>, Status> {
        Err(unimplemented("denoms_metadata"))
    }
    async fn denom_owners(
        &self,
        _: Request<bank::QueryDenomOwnersRequest>,
    ) -> Result<Response<bank::QueryDenomOwnersResponse>, Status> {
        Err(unimplemented("denom_owners"))
    }
    async fn denom_owners_by_query(
        &self,
        _: Request<bank::QueryDenomOwnersByQueryRequest>,
    ) -> Result<Response<bank::QueryDenomOwnersByQueryResponse>, Status> {
        Err(unimplemented("denom_owners_by_query"))
    }
    async fn send_enabled(
        &self,
        _: Request<bank::QuerySendEnabledRequest>,
    ) -> Result<Response<bank::QuerySendEnabledResponse>, Status> {
        Err(unimplemented("send_enabled"))
    }
}

fn block_response(
    c: &Chain,
    height: Option<u64>,
) -> Result<(tm::BlockId, tm::Block, Block), Status> {
    let record = match height {
        None => c.latest_block(),
        Some(h) => c.block_at(h),
    };
    let record = record.ok_or_else(|| match height {
        None => Status::unavailable("no block yet"),
        Some(h) => Status::invalid_argument(format!("requested block height {h} is not available")),
    })?;
    let header = |chain_id: String| Header {
        chain_id,
        height: record.height as i64,
        time: Some(timestamp(record.time_nanos)),
        ..Header::default()
    };
    let id = tm::BlockId {
        hash: record.hash.clone(),
        part_set_header: None,
    };
    let block = tm::Block {
        header: Some(tm::Header {
            chain_id: c.chain_id().into(),
            height: record.height as i64,
            time: Some(timestamp(record.time_nanos)),
            ..tm::Header::default()
        }),
        data: Some(tm::Data { txs: vec![] }),
        evidence: None,
        last_commit: None,
    };
    let sdk_block = Block {
        header: Some(header(c.chain_id().into())),
        data: Some(tm::Data { txs: vec![] }),
        evidence: None,
        last_commit: None,
    };
    Ok((id, block, sdk_block))
}

#[tonic::async_trait]
impl TmService for Api {
    async fn get_node_info(
        &self,
        _: Request<GetNodeInfoRequest>,
    ) -> Result<Response<GetNodeInfoResponse>, Status> {
        let network = self.chain.with(|c| c.chain_id().to_string()).await?;
        Ok(Response::new(GetNodeInfoResponse {
            default_node_info: Some(p2p::DefaultNodeInfo {
                network,
                moniker: "havn-devnet".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..p2p::DefaultNodeInfo::default()
            }),
            application_version: Some(VersionInfo {
                name: "havn-devnet".into(),
                app_name: "havn-devnet".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                cosmos_sdk_version: "v0.50 API (havn-devnet, not a Cosmos SDK node)".into(),
                ..VersionInfo::default()
            }),
        }))
    }

    async fn get_syncing(
        &self,
        _: Request<GetSyncingRequest>,
    ) -> Result<Response<GetSyncingResponse>, Status> {
        Ok(Response::new(GetSyncingResponse { syncing: false }))
    }

    async fn get_latest_block(
        &self,
        _: Request<GetLatestBlockRequest>,
    ) -> Result<Response<GetLatestBlockResponse>, Status> {
        let (id, block, sdk_block) = self.chain.with(|c| block_response(c, None)).await??;
        Ok(Response::new(GetLatestBlockResponse {
            block_id: Some(id),
            block: Some(block),
            sdk_block: Some(sdk_block),
        }))
    }

    async fn get_block_by_height(
        &self,
        r: Request<GetBlockByHeightRequest>,
    ) -> Result<Response<GetBlockByHeightResponse>, Status> {
        let height = r.into_inner().height.max(0) as u64;
        let (id, block, sdk_block) = self
            .chain
            .with(move |c| block_response(c, Some(height)))
            .await??;
        Ok(Response::new(GetBlockByHeightResponse {
            block_id: Some(id),
            block: Some(block),
            sdk_block: Some(sdk_block),
        }))
    }

    async fn get_latest_validator_set(
        &self,
        _: Request<tmv::GetLatestValidatorSetRequest>,
    ) -> Result<Response<tmv::GetLatestValidatorSetResponse>, Status> {
        Err(unimplemented("get_latest_validator_set"))
    }
    async fn get_validator_set_by_height(
        &self,
        _: Request<tmv::GetValidatorSetByHeightRequest>,
    ) -> Result<Response<tmv::GetValidatorSetByHeightResponse>, Status> {
        Err(unimplemented("get_validator_set_by_height"))
    }
    async fn abci_query(
        &self,
        _: Request<tmv::AbciQueryRequest>,
    ) -> Result<Response<tmv::AbciQueryResponse>, Status> {
        Err(unimplemented("abci_query"))
    }
}

impl Api {
    async fn smart(
        &self,
        r: wasm::QuerySmartContractStateRequest,
    ) -> Result<wasm::QuerySmartContractStateResponse, Status> {
        let data = self
            .chain
            .with(move |c| {
                check_address(c, &r.address)?;
                if c.contract_info(&r.address).is_none() {
                    return Err(Status::not_found(format!(
                        "no such contract: {}",
                        r.address
                    )));
                }
                c.smart_query(&r.address, &r.query_data)
                    .map_err(Status::unknown)
            })
            .await??;
        Ok(wasm::QuerySmartContractStateResponse { data })
    }

    async fn contract_info(
        &self,
        r: wasm::QueryContractInfoRequest,
    ) -> Result<wasm::QueryContractInfoResponse, Status> {
        let info = self
            .chain
            .with(move |c| {
                check_address(c, &r.address)?;
                let (data, record) = c
                    .contract_info(&r.address)
                    .ok_or_else(|| Status::not_found(format!("no such contract: {}", r.address)))?;
                Ok::<_, Status>(wasm::QueryContractInfoResponse {
                    address: r.address.clone(),
                    contract_info: Some(wasm::ContractInfo {
                        code_id: data.code_id,
                        creator: data.creator.to_string(),
                        admin: data.admin.map(|a| a.to_string()).unwrap_or_default(),
                        label: data.label,
                        created: Some(wasm::AbsoluteTxPosition {
                            block_height: record.height,
                            tx_index: record.tx_index,
                        }),
                        ibc_port_id: String::new(),
                        extension: None,
                    }),
                })
            })
            .await??;
        Ok(info)
    }

    async fn code(&self, r: wasm::QueryCodeRequest) -> Result<wasm::QueryCodeResponse, Status> {
        let code_id = r.code_id;
        let (creator, checksum, wasm_bytes) = self
            .chain
            .with(move |c| c.code(code_id))
            .await?
            .ok_or_else(|| Status::not_found(format!("no such code: {code_id}")))?;
        Ok(wasm::QueryCodeResponse {
            code_info: Some(wasm::CodeInfoResponse {
                code_id,
                creator,
                data_hash: checksum,
                instantiate_permission: Some(everybody()),
            }),
            data: wasm_bytes,
        })
    }

    /// wasmd pages codes by id: `next_key` is the next id, big-endian.
    async fn codes(&self, r: wasm::QueryCodesRequest) -> Result<wasm::QueryCodesResponse, Status> {
        let page = r.pagination.unwrap_or_default();
        let first = match page.key.len() {
            0 => page.offset.saturating_add(1),
            8 => u64::from_be_bytes(page.key[..].try_into().unwrap()),
            _ => return Err(Status::invalid_argument("invalid pagination key")),
        };
        let limit = match page.limit {
            0 => 100,
            n => n.min(1_000) as usize,
        };
        let (infos, next, total) = self
            .chain
            .with(move |c| {
                let (infos, next) = c.code_infos(first, limit);
                (infos, next, c.code_count())
            })
            .await?;
        Ok(wasm::QueryCodesResponse {
            code_infos: infos
                .into_iter()
                .map(|(code_id, creator, data_hash)| wasm::CodeInfoResponse {
                    code_id,
                    creator,
                    data_hash,
                    instantiate_permission: Some(everybody()),
                })
                .collect(),
            pagination: Some(PageResponse {
                next_key: next.map(|n| n.to_be_bytes().to_vec()).unwrap_or_default(),
                total: if page.count_total { total } else { 0 },
            }),
        })
    }

    async fn contracts_by_code(
        &self,
        r: wasm::QueryContractsByCodeRequest,
    ) -> Result<wasm::QueryContractsByCodeResponse, Status> {
        let code_id = r.code_id;
        let contracts = self
            .chain
            .with(move |c| c.contracts_by_code(code_id))
            .await?;
        Ok(wasm::QueryContractsByCodeResponse {
            pagination: Some(PageResponse {
                next_key: vec![],
                total: contracts.len() as u64,
            }),
            contracts,
        })
    }
}

/// `cosmwasm.wasm.v1.Query` (cosmos-sdk-proto ships only its client): the calls Havn and
/// ordinary clients make (cosmpy looks a code up in `Codes` before storing it), by hand, on
/// tonic's server plumbing.
#[derive(Clone)]
struct WasmServer {
    api: Api,
}

impl HandWritten for WasmServer {
    const NAME: &'static str = "cosmwasm.wasm.v1.Query";

    fn route<B: GrpcBody>(&self, req: http::Request<B>) -> GrpcFuture {
        let api = self.api.clone();
        match req.uri().path() {
            "/cosmwasm.wasm.v1.Query/SmartContractState" => {
                unary(req, move |r| async move { api.smart(r).await })
            }
            "/cosmwasm.wasm.v1.Query/ContractInfo" => {
                unary(req, move |r| async move { api.contract_info(r).await })
            }
            "/cosmwasm.wasm.v1.Query/Code" => unary(req, move |r| async move { api.code(r).await }),
            "/cosmwasm.wasm.v1.Query/Codes" => {
                unary(req, move |r| async move { api.codes(r).await })
            }
            "/cosmwasm.wasm.v1.Query/ContractsByCode" => {
                unary(req, move |r| async move { api.contracts_by_code(r).await })
            }
            path => not_served(path),
        }
    }
}

fn everybody() -> wasm::AccessConfig {
    wasm::AccessConfig {
        permission: wasm::AccessType::Everybody as i32,
        addresses: vec![],
    }
}

/// `cosmos.consensus.v1.Query` (cosmos-sdk-proto 0.27 has its messages but does not export
/// them): `Params`, which clients read for the block gas limit before they send (cosmpy does).
#[derive(Clone)]
struct ConsensusServer;

impl HandWritten for ConsensusServer {
    const NAME: &'static str = "cosmos.consensus.v1.Query";

    fn route<B: GrpcBody>(&self, req: http::Request<B>) -> GrpcFuture {
        match req.uri().path() {
            "/cosmos.consensus.v1.Query/Params" => unary(req, |_: ConsensusParamsRequest| async {
                Ok(ConsensusParamsResponse {
                    params: Some(consensus_params()),
                })
            }),
            path => not_served(path),
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct ConsensusParamsRequest {}

#[derive(Clone, PartialEq, prost::Message)]
struct ConsensusParamsResponse {
    #[prost(message, optional, tag = "1")]
    params: Option<tm::ConsensusParams>,
}

/// CometBFT v0.38's `DefaultConsensusParams`, what `havnd init` writes to genesis: no block gas
/// limit (the devnet enforces none either), 21 MiB blocks.
fn consensus_params() -> tm::ConsensusParams {
    tm::ConsensusParams {
        block: Some(tm::BlockParams {
            max_bytes: 22_020_096,
            max_gas: -1,
        }),
        evidence: Some(tm::EvidenceParams {
            max_age_num_blocks: 100_000,
            max_age_duration: Some(cosmos_sdk_proto::tendermint::google::protobuf::Duration {
                seconds: 48 * 3600,
                nanos: 0,
            }),
            max_bytes: 1_048_576,
        }),
        validator: Some(tm::ValidatorParams {
            pub_key_types: vec!["ed25519".into()],
        }),
        version: None,
        abci: Some(tm::AbciParams {
            vote_extensions_enable_height: 0,
        }),
    }
}

/// A gRPC service whose server stub cosmos-sdk-proto does not ship, routed by hand on tonic's
/// server plumbing.
trait HandWritten: Clone + Send + 'static {
    const NAME: &'static str;
    fn route<B: GrpcBody>(&self, req: http::Request<B>) -> GrpcFuture;
}

/// A request body tonic can decode.
trait GrpcBody: Body<Error: Into<StdError> + Send + 'static> + Send + 'static {}
impl<B: Body<Error: Into<StdError> + Send + 'static> + Send + 'static> GrpcBody for B {}

type GrpcFuture = BoxFuture<http::Response<tonic::body::Body>, std::convert::Infallible>;

#[derive(Clone)]
struct Served<S>(S);

impl<S: HandWritten> tonic::server::NamedService for Served<S> {
    const NAME: &'static str = S::NAME;
}

impl<S: HandWritten, B: GrpcBody> tonic::codegen::Service<http::Request<B>> for Served<S> {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = GrpcFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.0.route(req)
    }
}

fn not_served(path: &str) -> GrpcFuture {
    let status = unimplemented(path);
    Box::pin(async move { Ok(status.into_http()) })
}

/// A unary method as a one-shot closure.
struct Unary<F>(Option<F>);

impl<Req, Resp, F, Fut> tonic::server::UnaryService<Req> for Unary<F>
where
    F: FnOnce(Req) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Resp, Status>> + Send + 'static,
    Req: Send + 'static,
    Resp: Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let f = self.0.take().expect("a unary service is called once");
        Box::pin(async move { f(request.into_inner()).await.map(Response::new) })
    }
}

fn unary<B, Req, Resp, F, Fut>(req: http::Request<B>, f: F) -> GrpcFuture
where
    B: GrpcBody,
    Req: Message + Default + Send + 'static,
    Resp: Message + Send + 'static,
    F: FnOnce(Req) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Resp, Status>> + Send + 'static,
{
    Box::pin(async move {
        let mut grpc = tonic::server::Grpc::new(tonic::codec::ProstCodec::<Resp, Req>::default());
        Ok(grpc.unary(Unary(Some(f)), req).await)
    })
}
