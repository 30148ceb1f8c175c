//! The router's settings: `havn-router --config router.toml`, every key overridable as
//! `HAVN_ROUTER_<KEY>`. See `mesh/deploy/router.example.toml`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// gRPC address for callers, nodes and validators.
    pub listen: SocketAddr,
    /// Prometheus `/metrics`; unset: no metrics endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// The job store (redb) lives here.
    pub data_dir: PathBuf,
    /// Content-addressed artifacts (manifests, inputs) served to nodes and validators.
    pub artifacts_dir: PathBuf,
    /// The staked operators (see `havn_mesh_common::operators::FileOperators`).
    pub operators_file: PathBuf,
    /// What attestations are bound to.
    pub chain_id: String,
    pub execution_log: String,
    /// Attesting validator stake needed, in bps of all validator stake (as the execution log).
    pub quorum_bps: u16,
    /// And at least this many validators.
    pub min_signers: u32,
    pub heartbeat_interval_ms: u64,
    /// How long a node holds a job before it goes to another node.
    pub lease_ms: u64,
    /// Deadline of a job that names none.
    pub default_deadline_ms: u64,
    /// Assignments a job gets before it fails.
    pub max_attempts: u32,
    /// The most jobs one node holds at once, whatever slots it declares (one node must not
    /// take the whole queue).
    pub max_node_slots: u32,
    /// And at most this many per unit of stake (the smallest node stake in the operator set): a
    /// node's share of the work follows its bond, so declaring a million slots buys nothing.
    pub slots_per_stake_unit: u32,
    /// Jobs waiting for a node; beyond it `SubmitJob` answers RESOURCE_EXHAUSTED.
    pub max_queue: usize,
    /// Largest inline input.
    pub max_input_bytes: usize,
    /// Largest gRPC message either way.
    pub max_message_bytes: usize,
    /// Jobs per settlement batch, and the longest a decided job waits for one.
    pub settlement_batch: usize,
    pub settlement_interval_ms: u64,
    /// Resend a result to validators that have not answered after this long.
    pub verify_retry_ms: u64,
    /// Ended jobs stay in memory this long (then they are read from the store).
    pub retention_ms: u64,
    /// Ended jobs, and settlement batches, stay in the store this long after they were
    /// submitted (formed); then they are pruned (the chain keeps the record).
    pub store_retention_ms: u64,
    /// Most `WatchJob` streams open at once on one job, and from one connection.
    pub max_watchers_per_job: usize,
    pub max_watchers_per_connection: usize,
    /// On SIGTERM: stop taking jobs, then wait at most this long for streams to close.
    pub drain_timeout_ms: u64,
    /// Log one JSON object per line.
    pub log_json: bool,
    /// Where settlement batches are recorded; without it they stay in the store (listed by
    /// `ListSettlements`).
    pub chain: Option<havn_chain::ChainSection>,
    /// `[tls]`: the certificate chain and key callers, nodes and validators see (PEM). Needed
    /// to listen beyond loopback, unless `allow_plaintext`.
    pub tls: Option<havn_mesh_common::tls::ServerTls>,
    /// Listen beyond loopback without TLS (behind a TLS-terminating proxy, or on a network you
    /// trust end to end).
    pub allow_plaintext: bool,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            listen: "127.0.0.1:7600".parse().expect("literal"),
            metrics_listen: None,
            data_dir: "./havn-router-data".into(),
            artifacts_dir: "./havn-router-data/artifacts".into(),
            operators_file: "./operators.toml".into(),
            chain_id: "havn-devnet-1".into(),
            execution_log: String::new(),
            quorum_bps: 6_667,
            min_signers: 2,
            heartbeat_interval_ms: 2_000,
            lease_ms: 60_000,
            default_deadline_ms: 600_000,
            max_attempts: 3,
            max_node_slots: 256,
            slots_per_stake_unit: 16,
            max_queue: 100_000,
            max_input_bytes: 1 << 20,
            max_message_bytes: 8 << 20,
            settlement_batch: 20,
            settlement_interval_ms: 1_000,
            verify_retry_ms: 10_000,
            retention_ms: 600_000,
            store_retention_ms: 7 * 24 * 3600 * 1000,
            max_watchers_per_job: 32,
            max_watchers_per_connection: 1024,
            drain_timeout_ms: 10_000,
            log_json: false,
            chain: None,
            tls: None,
            allow_plaintext: false,
        }
    }
}
