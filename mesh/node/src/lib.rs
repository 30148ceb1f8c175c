//! The Havn node agent. It dials out to each configured router (so it works behind NAT), answers
//! the router's challenge with its staked key, reports its slots and cached workflows, and runs
//! the jobs it is leased: fetch the manifest by hash (sha256-checked, cached on disk), run it
//! through the executor for its pipeline kind, stream progress, and return the output with its
//! hash and the node's signature over the result claim. On drain it finishes what it holds (up to
//! a time limit) and hands the rest back. With an execution log it also keeps its audits: a
//! committed tree per epoch, the jobs it answers wrongly on purpose, and their proofs
//! (`auditor`).

pub mod auditor;
pub mod audits;

pub use havn_chain::StartError;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use havn_mesh_common::artifacts::ArtifactDir;
use havn_mesh_common::keys;
use havn_mesh_common::metrics::{Counter, Exposition, Histogram};
use havn_mesh_common::pipeline::{Executors, JobInput, Manifest};
use havn_mesh_proto::v1::{
    artifact_service_client::ArtifactServiceClient, node_link_client::NodeLinkClient, node_message,
    router_message, Assignment, HandBack, Heartbeat, JobFailure, JobOutput, NodeHello, NodeMessage,
    Progress, RuntimeInfo,
};
use havn_types::mesh::{hello_digest, ResultClaim};
use k256::ecdsa::SigningKey;
use serde::Deserialize;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// `havn-node --config node.toml`; every key overridable as `HAVN_NODE_<KEY>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Routers to serve, e.g. ["http://router.example:7600"].
    pub routers: Vec<String>,
    /// The operator address this node is staked under.
    pub operator: String,
    /// Its key: exactly one of these.
    pub key_file: Option<PathBuf>,
    pub mnemonic_file: Option<PathBuf>,
    /// Jobs run at once.
    pub slots: u32,
    /// Artifact cache.
    pub cache_dir: PathBuf,
    /// On SIGTERM, wait this long for running jobs before handing them back.
    pub drain_timeout_ms: u64,
    /// Threads the executors may use (0: all cores).
    pub threads: usize,
    pub max_message_bytes: usize,
    /// Prometheus `/metrics`; unset: none.
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub log_json: bool,
    /// `[torch]`: the LibTorch runtime (device, threads, warm-module cache).
    pub torch: havn_runtime::TorchConfig,
    /// `[chain]`: with a staking contract, this operator's heartbeats go to it; its key must be the operator's
    /// account.
    pub chain: Option<havn_chain::ChainSection>,
    /// `[tls]`: how it dials its routers (`https://` with `ca_file` for a private CA; plaintext
    /// only to loopback unless `allow_plaintext`).
    pub tls: havn_mesh_common::tls::ClientTls,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            routers: vec!["http://127.0.0.1:7600".into()],
            operator: String::new(),
            key_file: None,
            mnemonic_file: None,
            slots: 4,
            cache_dir: "./havn-node-cache".into(),
            drain_timeout_ms: 30_000,
            threads: 0,
            max_message_bytes: 8 << 20,
            metrics_listen: None,
            log_json: false,
            torch: Default::default(),
            chain: None,
            tls: Default::default(),
        }
    }
}

/// What the node exports on `/metrics`.
#[derive(Default)]
pub struct NodeMetrics {
    pub completed: Counter,
    pub failed: Counter,
    pub handed_back: Counter,
    pub execution_seconds: Histogram,
}

impl NodeMetrics {
    fn render(&self, running: u64, auditor: Option<&auditor::Auditor>) -> String {
        let none = Counter::default();
        let (audits, proven) =
            auditor.map_or((&none, &none), |a| (&a.metrics.audits, &a.metrics.proven));
        Exposition::default()
            .gauge("havn_node_jobs_running", "Jobs running now.", running)
            .counter(
                "havn_node_jobs_completed_total",
                "Jobs whose output was returned.",
                &self.completed,
            )
            .counter(
                "havn_node_jobs_failed_total",
                "Jobs that failed here.",
                &self.failed,
            )
            .counter(
                "havn_node_jobs_handed_back_total",
                "Jobs handed back while draining.",
                &self.handed_back,
            )
            .histogram(
                "havn_node_execution_seconds",
                "Time to run a job, fetch included.",
                &self.execution_seconds,
            )
            .counter(
                "havn_node_audits_total",
                "Jobs answered wrongly on purpose (audits).",
                audits,
            )
            .counter(
                "havn_node_audit_proofs_total",
                "Jobs proven audit or not on chain.",
                proven,
            )
            .finish()
    }
}

impl NodeConfig {
    pub fn key(&self) -> Result<SigningKey, keys::KeyError> {
        keys::KeySource {
            key_file: self.key_file.clone(),
            mnemonic_file: self.mnemonic_file.clone(),
        }
        .load()
    }
}

/// A node agent serving its routers until told to stop.
pub struct Node {
    cfg: Arc<NodeConfig>,
    key: Arc<SigningKey>,
    executors: Executors,
    cache: ArtifactDir,
    slots: Arc<Semaphore>,
    running: Arc<AtomicU32>,
    /// Flips to true when the node drains.
    draining: watch::Sender<bool>,
    pub metrics: Arc<NodeMetrics>,
    auditor: Option<Arc<auditor::Auditor>>,
    /// The registry's record of each version, checked before a job runs.
    terms: Option<Arc<havn_chain::registry::RecordedArtifacts>>,
}

impl Node {
    pub fn new(cfg: NodeConfig, key: SigningKey, executors: Executors) -> Result<Self, String> {
        if cfg.operator.is_empty() {
            return Err("operator is not set: the address this node is staked under".into());
        }
        // A url that is plaintext to a remote host (or unreadable TLS files) stops it here, not
        // in a reconnect loop.
        for url in &cfg.routers {
            havn_mesh_common::tls::endpoint(url, &cfg.tls).map_err(|e| e.to_string())?;
        }
        let cache = ArtifactDir::open(&cfg.cache_dir).map_err(|e| e.to_string())?;
        Ok(Node {
            slots: Arc::new(Semaphore::new(cfg.slots.max(1) as usize)),
            cfg: Arc::new(cfg),
            key: Arc::new(key),
            executors,
            cache,
            running: Arc::default(),
            draining: watch::channel(false).0,
            metrics: Arc::default(),
            auditor: None,
            terms: None,
        })
    }

    /// Checks every job's manifest against its version's registry record first.
    pub fn with_terms(mut self, terms: havn_chain::registry::RecordedArtifacts) -> Self {
        self.terms = Some(Arc::new(terms));
        self
    }

    /// Keeps audits on the auditor's execution log: every job is first looked up there.
    pub fn with_auditor(mut self, auditor: auditor::Auditor) -> Self {
        self.auditor = Some(Arc::new(auditor));
        self
    }

    /// The node `cfg` describes, as the daemon runs it: joined to its chain (heartbeats start
    /// here) and, with an execution log, keeping its audits there (owed proofs are kept in the
    /// cache directory, so a restart still sends them).
    pub async fn start(
        cfg: NodeConfig,
        key: SigningKey,
        executors: Executors,
    ) -> Result<Node, StartError> {
        let (chain, operator) = (cfg.chain.clone(), cfg.operator.clone());
        let master = audits::master_secret(&key);
        let pending = cfg.cache_dir.join("audit-proofs.json");
        let node = Node::new(cfg, key, executors).map_err(StartError::Config)?;
        let Some(chain) = chain else {
            return Ok(node);
        };
        chain.join_as_operator(&operator).await?;
        let (client, wallet) = chain.connect().await?;
        let node = match chain.registry.is_empty() {
            true => node,
            false => node.with_terms(havn_chain::registry::RecordedArtifacts::new(
                client.clone(),
                chain.registry.clone(),
            )),
        };
        if chain.execution_log.is_empty() {
            return Ok(node);
        }
        let auditor = auditor::Auditor::new(
            client,
            wallet,
            chain.execution_log.clone(),
            master,
            &pending,
        )
        .map_err(StartError::Config)?;
        Ok(node.with_auditor(auditor))
    }

    /// Serves every router until `stop` resolves, then drains.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let this = Arc::new(self);
        let keeper = this.auditor.clone().map(|a| tokio::spawn(a.keep()));
        if let Some(addr) = this.cfg.metrics_listen {
            let (m, running, auditor) = (
                this.metrics.clone(),
                this.running.clone(),
                this.auditor.clone(),
            );
            let render = Arc::new(move || {
                m.render(
                    u64::from(running.load(Ordering::Relaxed)),
                    auditor.as_deref(),
                )
            });
            if let Err(e) = havn_mesh_common::metrics::start(addr, render).await {
                tracing::error!(%addr, error = %e, "cannot serve metrics");
            }
        }
        let tasks: Vec<_> = this
            .cfg
            .routers
            .iter()
            .map(|url| tokio::spawn(this.clone().serve_router(url.clone())))
            .collect();
        stop.await;
        tracing::info!("draining: finishing running jobs");
        let _ = this.draining.send(true);
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(this.cfg.drain_timeout_ms);
        while this.running.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Give the streams a moment to carry the last results and hand-backs.
        tokio::time::sleep(Duration::from_millis(100)).await;
        for t in tasks.into_iter().chain(keeper) {
            t.abort();
        }
    }

    async fn serve_router(self: Arc<Self>, url: String) {
        let draining = self.draining.subscribe();
        havn_mesh_common::service::keep_connected(
            &url,
            || *draining.borrow(),
            || self.clone().session(&url),
        )
        .await;
    }

    /// One connection: handshake, then jobs until the stream ends.
    async fn session(self: Arc<Self>, url: &str) -> Result<(), String> {
        let channel = havn_mesh_common::service::dial(url, &self.cfg.tls).await?;
        let max = self.cfg.max_message_bytes;
        let (out, out_rx) = mpsc::channel::<NodeMessage>(1024);
        let mut link = NodeLinkClient::new(channel.clone())
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let mut inbound = link
            .connect(ReceiverStream::new(out_rx))
            .await
            .map_err(|s| s.message().to_string())?
            .into_inner();
        let nonce: [u8; 32] = match inbound.message().await {
            Ok(Some(m)) => match m.body {
                Some(router_message::Body::Challenge(c)) => c
                    .nonce
                    .try_into()
                    .map_err(|_| "router challenge is not 32 bytes".to_string())?,
                _ => return Err("router did not open with a challenge".into()),
            },
            Ok(None) => return Err("router closed the stream".into()),
            Err(s) => return Err(s.message().to_string()),
        };
        let hello = NodeHello {
            operator: self.cfg.operator.clone(),
            signature: keys::sign(&self.key, &hello_digest(&nonce, &self.cfg.operator)),
            slots: self.cfg.slots,
            devices: vec!["cpu".into()],
            free_memory_bytes: havn_mesh_common::service::available_memory(),
            cached_versions: self.cache.list().into_iter().map(|h| h.to_vec()).collect(),
            pipelines: self.executors.kinds(),
        };
        send(&out, 0, node_message::Body::Hello(hello)).await?;
        let interval = match inbound.message().await {
            Ok(Some(m)) => match m.body {
                Some(router_message::Body::Welcome(w)) => w.heartbeat_interval_ms.max(50),
                _ => return Err("router did not welcome the node".into()),
            },
            Ok(None) => return Err("router closed the stream".into()),
            // PERMISSION_DENIED: an unknown or unstaked key. Say so plainly.
            Err(s) => return Err(format!("router refused the node: {}", s.message())),
        };
        tracing::info!(router = url, "connected");
        let heartbeat = {
            let (out, running) = (out.clone(), self.running.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(interval));
                loop {
                    tick.tick().await;
                    let hb = Heartbeat {
                        running: running.load(Ordering::Relaxed),
                        free_memory_bytes: havn_mesh_common::service::available_memory(),
                    };
                    if send(&out, 0, node_message::Body::Heartbeat(hb))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            })
        };
        let artifacts = ArtifactServiceClient::new(channel).max_decoding_message_size(max);
        let cancels: Arc<Mutex<HashMap<u64, Arc<AtomicBool>>>> = Arc::default();
        let result = loop {
            let msg = match inbound.message().await {
                Ok(Some(m)) => m,
                Ok(None) => break Ok(()),
                Err(s) => break Err(s.message().to_string()),
            };
            match msg.body {
                Some(router_message::Body::Assign(a)) => {
                    if *self.draining.borrow() {
                        let _ = send(
                            &out,
                            a.job_id,
                            node_message::Body::HandBack(HandBack { job_id: a.job_id }),
                        )
                        .await;
                        continue;
                    }
                    let cancel = Arc::new(AtomicBool::new(false));
                    cancels
                        .lock()
                        .expect("poisoned")
                        .insert(a.job_id, cancel.clone());
                    let (this, out, artifacts, cancels) = (
                        self.clone(),
                        out.clone(),
                        artifacts.clone(),
                        cancels.clone(),
                    );
                    tokio::spawn(async move {
                        let id = a.job_id;
                        this.run_job(a, out, artifacts, cancel).await;
                        cancels.lock().expect("poisoned").remove(&id);
                    });
                }
                Some(router_message::Body::Cancel(c)) => {
                    if let Some(flag) = cancels.lock().expect("poisoned").get(&c.job_id) {
                        flag.store(true, Ordering::SeqCst);
                    }
                }
                Some(router_message::Body::Drain(_)) => {
                    tracing::info!(router = url, "router asked to drain");
                }
                _ => {}
            }
        };
        heartbeat.abort();
        for flag in cancels.lock().expect("poisoned").values() {
            // The router reassigns what this stream held; stop working on it.
            flag.store(true, Ordering::SeqCst);
        }
        result
    }

    async fn run_job(
        self: Arc<Self>,
        a: Assignment,
        out: mpsc::Sender<NodeMessage>,
        mut artifacts: ArtifactServiceClient<Channel>,
        cancel: Arc<AtomicBool>,
    ) {
        let Ok(_permit) = self.slots.clone().acquire_owned().await else {
            return;
        };
        self.running.fetch_add(1, Ordering::SeqCst);
        let (id, attempt) = (a.job_id, a.attempt);
        let started = std::time::Instant::now();
        let outcome = self.execute(a, &out, &mut artifacts, &cancel).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.metrics
            .execution_seconds
            .observe(started.elapsed().as_secs_f64());
        let body = match outcome {
            Ok(output) => {
                self.metrics.completed.inc();
                node_message::Body::Result(output)
            }
            Err(_) if cancel.load(Ordering::SeqCst) => return,
            Err(reason) => {
                self.metrics.failed.inc();
                tracing::warn!(job = id, reason, "job failed");
                node_message::Body::Failure(JobFailure {
                    job_id: id,
                    attempt,
                    reason,
                })
            }
        };
        let _ = send(&out, id, body).await;
    }

    async fn execute(
        &self,
        a: Assignment,
        out: &mpsc::Sender<NodeMessage>,
        artifacts: &mut ArtifactServiceClient<Channel>,
        cancel: &Arc<AtomicBool>,
    ) -> Result<JobOutput, String> {
        let workflow = a.workflow.clone().ok_or("assignment without a workflow")?;
        let version: [u8; 32] = workflow
            .version_hash
            .as_slice()
            .try_into()
            .map_err(|_| "version hash is not 32 bytes")?;
        let manifest_bytes = self
            .cache
            .get_or_fetch(&version, artifacts)
            .await
            .map_err(|e| e.to_string())?;
        let manifest = Manifest::parse(&manifest_bytes).map_err(|e| e.to_string())?;
        let executor = self
            .executors
            .get(&manifest.pipeline.kind)
            .map_err(|e| e.to_string())?;
        let used = executor.artifacts(&manifest).map_err(|e| e.to_string())?;
        if let Some(terms) = &self.terms {
            let fingerprint =
                havn_workflow::fingerprint::fingerprint(&manifest).map_err(|e| e.to_string())?;
            terms
                .check(
                    &version,
                    &used,
                    &fingerprint,
                    auditor::CHAIN_PATIENCE,
                    cancel,
                )
                .await?;
        }
        // Model files the pipeline reads, fetched (hash-checked) before the run starts.
        for hash in used {
            self.cache
                .ensure(&hash, artifacts)
                .await
                .map_err(|e| e.to_string())?;
        }
        let (id, attempt) = (a.job_id, a.attempt);
        let plan = match &self.auditor {
            Some(auditor) => Some(auditor.plan_patiently(id, cancel).await?),
            None => None,
        };
        let audit = plan.is_some_and(|p| p.audit);
        let progress_out = out.clone();
        let cancel = cancel.clone();
        let output = tokio::task::spawn_blocking(move || {
            let params: BTreeMap<String, String> = a.parameters.into_iter().collect();
            let job = JobInput {
                input: &a.input,
                seed: a.seed,
                parameters: &params,
            };
            let mut progress = |step, total_steps| {
                let _ = progress_out.try_send(NodeMessage {
                    job_id: id,
                    body: Some(node_message::Body::Progress(Progress {
                        job_id: id,
                        step,
                        total_steps,
                    })),
                });
            };
            let honest = executor.run(&manifest, &job, &mut progress, &cancel)?;
            // An audit: the run under another seed, so only a real re-execution tells.
            let bytes = match audit {
                false => honest,
                true => {
                    let other = JobInput {
                        seed: audits::audit_seed(a.seed),
                        ..job
                    };
                    let wrong = executor.run(&manifest, &other, &mut |_, _| {}, &cancel)?;
                    audits::wrong_answer(&honest, wrong)
                }
            };
            Ok::<_, havn_mesh_common::pipeline::ExecError>((bytes, executor.runtime()))
        })
        .await
        .map_err(|e| format!("executor crashed: {e}"))?
        .map_err(|e| e.to_string())?;
        let (bytes, (executor, device, versions)) = output;
        if let (Some(auditor), Some(epoch)) = (&self.auditor, plan.and_then(|p| p.owed)) {
            if audit {
                auditor.metrics.audits.inc();
            }
            auditor.owe(id, epoch);
        }
        let hash = havn_mesh_common::sha256(&bytes);
        let claim = ResultClaim {
            job_id: id,
            attempt,
            output_hash: &hash,
            executor: &executor,
            device: &device,
        };
        Ok(JobOutput {
            output_hash: hash.to_vec(),
            output: bytes,
            node: self.cfg.operator.clone(),
            node_signature: keys::sign(&self.key, &claim.digest()),
            runtime: Some(RuntimeInfo {
                executor,
                device,
                versions,
            }),
            attempt,
        })
    }
}

async fn send(
    out: &mpsc::Sender<NodeMessage>,
    job_id: u64,
    body: node_message::Body,
) -> Result<(), String> {
    out.send(NodeMessage {
        job_id,
        body: Some(body),
    })
    .await
    .map_err(|_| "stream closed".to_string())
}
