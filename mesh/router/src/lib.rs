//! The Havn router: callers submit jobs (`JobService`), staked nodes open `NodeLink` streams and
//! take leased jobs, validators open `ValidatorLink` streams and return signed attestations, and
//! every job a validator quorum decided goes into a settlement batch (`SettlementService`).
//! Accepted jobs live in redb, so a restart (even `kill -9`) loses none. See `docs/mesh.md`.

// `tonic::Status` is every gRPC handler's error type; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod chain;
pub mod config;
pub mod core;
pub mod metrics;
pub mod service;
pub mod settlement;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use havn_mesh_common::artifacts::{ArtifactDir, ArtifactError};
use havn_mesh_common::operators::OperatorSet;
use havn_mesh_proto::v1::{
    artifact_service_server::ArtifactServiceServer, job_service_server::JobServiceServer,
    node_link_server::NodeLinkServer, settlement_service_server::SettlementServiceServer,
    validator_link_server::ValidatorLinkServer,
};
use thiserror::Error;
use tokio::net::TcpListener;

pub use crate::config::RouterConfig;
use crate::core::Core;
use crate::metrics::RouterMetrics;
use crate::service::Shared;
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum RouterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Artifacts(#[from] ArtifactError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("gRPC server: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(String),
    #[error(transparent)]
    Tls(#[from] havn_mesh_common::tls::TlsError),
}

/// A running router.
pub struct Router {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub core: Arc<Mutex<Core>>,
    pub artifacts: ArtifactDir,
    task: tokio::task::JoinHandle<Result<(), RouterError>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Router {
    /// A router whose settlement batches stay in its store (listed by `ListSettlements`).
    pub async fn start(
        cfg: RouterConfig,
        operators: Arc<dyn OperatorSet>,
    ) -> Result<Router, RouterError> {
        Self::start_with(cfg, operators, Arc::new(settlement::StoredOnly)).await
    }

    /// Opens the store (recovering what it holds), binds, and serves until `stop` is called or
    /// the handle dropped. Every settlement batch is stored, then handed to `settlement`.
    pub async fn start_with(
        cfg: RouterConfig,
        operators: Arc<dyn OperatorSet>,
        settlement: Arc<dyn settlement::Settlement>,
    ) -> Result<Router, RouterError> {
        // Before anything else: a router that would serve plaintext beyond loopback, or whose
        // certificate cannot be read, does not start.
        let tls = havn_mesh_common::tls::server_config(
            cfg.listen,
            cfg.tls.as_ref(),
            cfg.allow_plaintext,
        )?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let cfg = Arc::new(cfg);
        let store = Store::open(&cfg.data_dir)?;
        let artifacts = ArtifactDir::open(&cfg.artifacts_dir)?;
        let metrics = Arc::new(RouterMetrics::default());
        let core = Arc::new(Mutex::new(Core::recover(
            cfg.clone(),
            operators.clone(),
            store.clone(),
            metrics.clone(),
            settlement.on_chain(),
        )?));
        let (settled_tx, settled_rx) = tokio::sync::mpsc::unbounded_channel();
        let (evidence_tx, evidence_rx) = tokio::sync::mpsc::unbounded_channel();
        let (false_tx, false_rx) = tokio::sync::mpsc::unbounded_channel();
        let (outcome_tx, mut outcome_rx) = tokio::sync::mpsc::unbounded_channel();
        // Batches formed before a restart but never handed on go first.
        let delivered = store.meta(settlement::DELIVERED_THROUGH)?.unwrap_or(0);
        for batch in store.settlements(delivered, usize::MAX)? {
            let _ = settled_tx.send(batch);
        }
        {
            let mut core = core.lock().expect("fresh");
            settlement.follow_up(outcome_tx.clone(), core.recorded_waiting());
            core.on_settlement(settled_tx);
            core.on_double_sign(evidence_tx);
            core.on_false_attestation(false_tx);
        }
        let verdicts = core.clone();
        tokio::spawn(async move {
            while let Some(outcomes) = outcome_rx.recv().await {
                crate::core::lock(&verdicts).chain_outcomes(outcomes);
            }
        });
        tokio::spawn(settlement::deliver(
            settlement.clone(),
            settled_rx,
            outcome_tx,
            store.clone(),
        ));
        tokio::spawn(settlement::report(settlement.clone(), evidence_rx));
        tokio::spawn(settlement::report_false(settlement.clone(), false_rx));
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| RouterError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| RouterError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let metrics_addr = match cfg.metrics_listen {
            Some(m) => {
                let (core, metrics) = (core.clone(), metrics.clone());
                let render = Arc::new(move || {
                    let load = crate::core::lock(&core).node_load();
                    metrics.render(&load)
                });
                Some(
                    havn_mesh_common::metrics::start(m, render)
                        .await
                        .map_err(|source| RouterError::Bind { addr: m, source })?,
                )
            }
            None => None,
        };

        let shared = Shared {
            core: core.clone(),
            cfg: cfg.clone(),
            operators,
            artifacts: artifacts.clone(),
            store,
            settlement,
            watchers: Arc::default(),
        };
        let max = cfg.max_message_bytes;
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<JobServiceServer<Shared>>().await;
        health.set_serving::<NodeLinkServer<Shared>>().await;
        health.set_serving::<ValidatorLinkServer<Shared>>().await;
        // Reflection v1 and v1alpha: grpcurl and newer tools ask v1, many others still v1alpha.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(havn_mesh_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .map_err(|e| RouterError::Reflection(e.to_string()))?;
        let reflection = reflection()
            .build_v1()
            .map_err(|e| RouterError::Reflection(e.to_string()))?;

        // Leases, heartbeats, deadlines and settlement run on a clock.
        let ticker = core.clone();
        let tick_every = Duration::from_millis((cfg.heartbeat_interval_ms / 4).clamp(20, 250));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick_every);
            loop {
                interval.tick().await;
                crate::core::lock(&ticker).tick();
            }
        });

        let drain_core = core.clone();
        let drain_timeout = Duration::from_millis(cfg.drain_timeout_ms);
        let health_on_drain = health.clone();
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder =
                builder
                    .tls_config(tls)
                    .map_err(|e| havn_mesh_common::tls::TlsError::Setup {
                        what: "the router's [tls] certificate and key".into(),
                        reason: e.to_string(),
                    })?;
        }
        let server = builder
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .tcp_nodelay(true)
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_v1alpha)
            .add_service(
                JobServiceServer::new(shared.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                NodeLinkServer::new(shared.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                ValidatorLinkServer::new(shared.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(ArtifactServiceServer::new(shared.clone()).max_encoding_message_size(max))
            .add_service(SettlementServiceServer::new(shared).max_encoding_message_size(max));
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.await;
                // Drain: NOT_SERVING, no new jobs, nodes told to finish; then close streams
                // so the server's graceful shutdown can complete.
                health_on_drain
                    .set_not_serving::<JobServiceServer<Shared>>()
                    .await;
                crate::core::lock(&drain_core).drain();
                tokio::time::sleep(Duration::from_millis(200)).await;
                crate::core::lock(&drain_core).close_streams();
                let _ = closed_tx.send(());
            };
            // Accepted sockets need TCP_NODELAY set here: the builder's setting only applies when
            // tonic binds the listener itself (without it, small replies wait ~40 ms for Nagle).
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            let serve = server.serve_with_incoming_shutdown(incoming, shutdown);
            // tonic waits for every connection to close; bound that wait.
            tokio::pin!(serve);
            tokio::select! {
                r = &mut serve => r.map_err(RouterError::from),
                _ = async {
                    let _ = closed_rx.await;
                    tokio::time::sleep(drain_timeout).await;
                } => {
                    tracing::warn!("drain timeout: closing with connections still open");
                    Ok(())
                }
            }
        });
        Ok(Router {
            addr,
            metrics_addr,
            core,
            artifacts,
            task,
            stop: Some(stop_tx),
        })
    }

    /// Drains and stops; returns when the server has stopped.
    pub async fn stop(mut self) -> Result<(), RouterError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(_) => Ok(()),
        }
    }

    /// Serves until `signal` resolves, then drains.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> Result<(), RouterError> {
        signal.await;
        self.stop().await
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
