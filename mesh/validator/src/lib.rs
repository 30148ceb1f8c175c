//! The Havn validator service. It dials out to routers, proves its staked key, and for every
//! result it is sent:
//! 1. checks the output against its hash, and the node's signature over its result claim;
//! 2. runs structural checks (not empty, within the manifest's size limit, not one repeated byte);
//! 3. re-executes the jobs it is drawn for and compares outputs. The draw is
//!    `sha256(secret ‖ job_id ‖ output_hash)` below a threshold (`havn_types::sampling`): the
//!    node cannot predict it, and with a chain the secret is the epoch's seed committed on the
//!    execution log beforehand and revealed after (`seeds`), so the validator can neither pick
//!    its draws nor skip one unprovably; without a chain it is a local secret and `sample_rate`;
//! 4. signs the attestation (`havn_types::Attestation`, the bytes the execution log verifies) with
//!    verdict valid or invalid.
//!
//! With an execution log it also posts its re-executed Invalid verdicts there itself
//! (`Challenger`), and re-executes the jobs it judged structurally that their node's audit proof
//! disputed (`audits`).

pub mod audits;
pub mod seeds;
pub mod signed;
mod start;

pub use havn_chain::StartError;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use havn_mesh_common::artifacts::ArtifactDir;
use havn_mesh_common::keys;
use havn_mesh_common::metrics::{Counter, Exposition, Histogram};
use havn_mesh_common::operators::OperatorSet;
use havn_mesh_common::pipeline::{ExecError, Executors, JobInput, Manifest, Rung};
use havn_mesh_proto::v1::{
    artifact_service_client::ArtifactServiceClient, validator_link_client::ValidatorLinkClient,
    validator_message, Attestation, TaskAttestation, ValidatorHello, ValidatorMessage, Verdict,
    VerifyTask,
};
use havn_types::mesh::hello_digest;
use k256::ecdsa::SigningKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// `havn-validator --config validator.toml`; every key overridable as `HAVN_VALIDATOR_<KEY>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidatorConfig {
    pub routers: Vec<String>,
    /// The operator address this validator is staked under.
    pub operator: String,
    pub key_file: Option<PathBuf>,
    pub mnemonic_file: Option<PathBuf>,
    /// The staked operators (to check nodes' result claims).
    pub operators_file: PathBuf,
    /// Fraction of jobs re-executed, 0 to 1.
    pub sample_rate: f64,
    /// The secret the sample derives from (hex, 32 bytes); unset: a fresh random one per start.
    pub sample_secret: Option<String>,
    pub cache_dir: PathBuf,
    pub max_message_bytes: usize,
    /// Prometheus `/metrics`; unset: none.
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub log_json: bool,
    /// `[torch]`: the LibTorch runtime re-execution uses (device, threads, warm-module cache).
    pub torch: havn_runtime::TorchConfig,
    /// `[chain]`: with a staking contract, this operator's heartbeats go to it and the operator
    /// set is read from it (instead of `operators_file`); its key must be the operator's
    /// account.
    pub chain: Option<havn_chain::ChainSection>,
    /// `[tls]`: how it dials its routers (`https://` with `ca_file` for a private CA; plaintext
    /// only to loopback unless `allow_plaintext`).
    pub tls: havn_mesh_common::tls::ClientTls,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        ValidatorConfig {
            routers: vec!["http://127.0.0.1:7600".into()],
            operator: String::new(),
            key_file: None,
            mnemonic_file: None,
            operators_file: "./operators.toml".into(),
            sample_rate: havn_types::sampling::DEFAULT_SAMPLE_RATE,
            sample_secret: None,
            cache_dir: "./havn-validator-cache".into(),
            max_message_bytes: 8 << 20,
            metrics_listen: None,
            log_json: false,
            torch: Default::default(),
            chain: None,
            tls: Default::default(),
        }
    }
}

/// What the validator exports on `/metrics`.
#[derive(Default)]
pub struct ValidatorMetrics {
    pub valid: Counter,
    pub invalid: Counter,
    pub reexecuted: Counter,
    pub check_seconds: Histogram,
    /// Results this validator could not judge (its own re-execution failed): nothing signed.
    pub abstained: Counter,
    /// Resent tasks dropped because this validator was still checking them.
    pub duplicate_tasks: Counter,
    /// Decisions by the ladder rung that made them (`Rung::ALL` order).
    pub rungs: [Counter; 6],
    /// Kept tasks re-executed because their node's audit proof disputed them on chain.
    pub audit_disputes: Counter,
}

impl ValidatorMetrics {
    fn render(&self) -> String {
        Exposition::default()
            .counter(
                "havn_validator_attested_valid_total",
                "Results attested valid.",
                &self.valid,
            )
            .counter(
                "havn_validator_attested_invalid_total",
                "Results attested invalid.",
                &self.invalid,
            )
            .counter(
                "havn_validator_reexecuted_total",
                "Results re-executed (the sample).",
                &self.reexecuted,
            )
            .counter(
                "havn_validator_duplicate_tasks_total",
                "Resent verify tasks dropped while the first copy was still being checked.",
                &self.duplicate_tasks,
            )
            .counter(
                "havn_validator_audit_disputes_total",
                "Jobs re-executed because their node's audit proof disputed them on chain.",
                &self.audit_disputes,
            )
            .counter(
                "havn_validator_abstained_total",
                "Results not attested because this validator's own re-execution failed.",
                &self.abstained,
            )
            .gauges(
                "havn_validator_ladder_decisions",
                "Decisions by the tolerance-ladder rung that made them (a count).",
                "rung",
                &Rung::ALL
                    .iter()
                    .zip(&self.rungs)
                    .map(|(r, c)| (r.name().to_string(), c.get()))
                    .collect::<Vec<_>>(),
            )
            .histogram(
                "havn_validator_check_seconds",
                "Time to check one result.",
                &self.check_seconds,
            )
            .finish()
    }
}

impl ValidatorConfig {
    pub fn key(&self) -> Result<SigningKey, keys::KeyError> {
        keys::KeySource {
            key_file: self.key_file.clone(),
            mnemonic_file: self.mnemonic_file.clone(),
        }
        .load()
    }
}

/// How long a task waits for an unreadable registry before the validator abstains on it (the
/// router asks again after its verify retry).
const TERMS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Validator {
    cfg: Arc<ValidatorConfig>,
    key: Arc<SigningKey>,
    cache: ArtifactDir,
    secret: [u8; 32],
    /// The local draw's threshold (`sample_rate`), used without an on-chain seed.
    local_threshold: u64,
    checker: Checker,
    challenger: Option<Arc<Challenger>>,
    /// With a challenger: the tasks judged structurally, re-executed if an audit disputes them.
    kept: Arc<audits::KeptTasks>,
    seeds: Option<Arc<seeds::Seeds>>,
    pub metrics: Arc<ValidatorMetrics>,
    /// What it signed per job: nothing that contradicts it is signed (`signed`).
    signed: Arc<signed::SignRecord>,
    /// With a chain: its chain id and execution log. A task for another is refused unsigned.
    home: Option<(String, String)>,
    /// With a registry: each version's recorded artifact set, which the manifest must use.
    terms: Option<Arc<havn_chain::registry::RecordedArtifacts>>,
}

/// Posts this validator's re-executed Invalid verdicts on the execution log itself
/// (`Challenge`), so a router that drops or delays them cannot save a faking node.
pub struct Challenger {
    pub client: havn_chain::Client,
    pub wallet: havn_chain::Wallet,
    /// Only tasks bound to this log are challenged.
    pub execution_log: String,
}

impl Challenger {
    /// The `Challenge` for a task this validator signed Invalid: the node's claim as the task
    /// carries it and this validator's one attestation.
    pub fn message(
        task: &VerifyTask,
        attestation: &Attestation,
    ) -> Option<havn_execution_log::msg::ExecuteMsg> {
        use havn_execution_log::msg::{ExecuteMsg, JobResult, NodeClaim, SignedAttestation};
        let output = task.output.as_ref()?;
        let runtime = output.runtime.clone().unwrap_or_default();
        Some(ExecuteMsg::Challenge {
            result: JobResult {
                job_id: task.job_id,
                node: output.node.clone(),
                output_hash: output.output_hash.clone().into(),
                claim: NodeClaim {
                    attempt: output.attempt,
                    executor: runtime.executor,
                    device: runtime.device,
                    signature: output.node_signature.clone().into(),
                },
                attestations: vec![SignedAttestation {
                    validator: attestation.validator.clone(),
                    verdict: havn_types::Verdict::Invalid,
                    check: havn_types::Check::from_byte(u8::try_from(attestation.check).ok()?),
                    signature: attestation.signature.clone().into(),
                }],
            },
        })
    }

    /// Posts a re-executed Valid on a disputed job (`Attest`: the transaction authenticates it).
    async fn attest(&self, task: &VerifyTask, check: havn_types::Check) {
        let Some(output) = &task.output else {
            return;
        };
        let msg = havn_execution_log::msg::ExecuteMsg::Attest {
            job_id: task.job_id,
            node: output.node.clone(),
            output_hash: output.output_hash.clone().into(),
            verdict: havn_types::Verdict::Valid,
            check,
        };
        match self
            .client
            .execute(&self.wallet, &self.execution_log, &msg, &[])
            .await
        {
            Ok(tx) => {
                tracing::info!(job = task.job_id, tx = %tx.hash, "attested the disputed job on chain")
            }
            Err(e) => tracing::info!(job = task.job_id, error = %e, "attestation not taken"),
        }
    }

    async fn challenge(&self, task: VerifyTask, attestation: Attestation) {
        if task.execution_log != self.execution_log {
            tracing::warn!(
                job = task.job_id,
                log = task.execution_log,
                "not challenging a task for another execution log"
            );
            return;
        }
        let Some(msg) = Self::message(&task, &attestation) else {
            return;
        };
        match self
            .client
            .execute(&self.wallet, &self.execution_log, &msg, &[])
            .await
        {
            Ok(tx) => {
                tracing::warn!(job = task.job_id, tx = %tx.hash, "challenged the result on chain")
            }
            // Already disputed by this vote, decided, or the window closed: nothing to add.
            Err(e) => tracing::info!(job = task.job_id, error = %e, "challenge not taken"),
        }
    }
}

/// The outcome of checking one result.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub verdict: havn_types::Verdict,
    pub reason: String,
    pub reexecuted: bool,
    /// The ladder rung that decided, when an executor judged the output.
    pub rung: Option<Rung>,
}

impl Check {
    /// What the attestation says was checked: a re-execution with the rung that decided (the
    /// structure rung when the re-execution refused the job outright), or the structural checks.
    pub fn signed_check(&self) -> havn_types::Check {
        match self.reexecuted {
            false => havn_types::Check::Structural,
            true => havn_types::Check::Reexecuted {
                rung: self
                    .rung
                    .and_then(|r| Rung::ALL.iter().position(|x| *x == r))
                    .unwrap_or(0) as u8,
            },
        }
    }
}

impl Validator {
    pub fn new(
        cfg: ValidatorConfig,
        key: SigningKey,
        operators: Arc<dyn OperatorSet>,
        executors: Executors,
    ) -> Result<Self, String> {
        if cfg.operator.is_empty() {
            return Err("operator is not set: the address this validator is staked under".into());
        }
        // A url that is plaintext to a remote host (or unreadable TLS files) stops it here, not
        // in a reconnect loop.
        for url in &cfg.routers {
            havn_mesh_common::tls::endpoint(url, &cfg.tls).map_err(|e| e.to_string())?;
        }
        if !(0.0..=1.0).contains(&cfg.sample_rate) {
            return Err(format!(
                "sample_rate must be 0 to 1, got {}",
                cfg.sample_rate
            ));
        }
        let secret = match &cfg.sample_secret {
            Some(hex_secret) => hex::decode(hex_secret)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or("sample_secret must be 64 hex characters")?,
            None => {
                let mut s = [0u8; 32];
                keys::getrandom_fill(&mut s);
                s
            }
        };
        let cache = ArtifactDir::open(&cfg.cache_dir).map_err(|e| e.to_string())?;
        let signed = Arc::new(signed::SignRecord::open(
            &cfg.cache_dir.join("signed.redb"),
        )?);
        let checker = Checker {
            operators,
            executors,
        };
        Ok(Validator {
            local_threshold: havn_types::sampling::rate_threshold(cfg.sample_rate),
            cfg: Arc::new(cfg),
            key: Arc::new(key),
            cache,
            secret,
            checker,
            challenger: None,
            kept: Arc::new(audits::KeptTasks::new(audits::KEPT_BYTES)),
            seeds: None,
            metrics: Arc::default(),
            signed,
            home: None,
            terms: None,
        })
    }

    /// The master secret the epoch seeds derive from: `sample_secret` when set, else one derived
    /// from the validator's key (so a restart reveals what it committed).
    pub fn seed_master(cfg: &ValidatorConfig, key: &SigningKey) -> [u8; 32] {
        match &cfg.sample_secret {
            Some(hex_secret) => hex::decode(hex_secret)
                .ok()
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default(),
            None => {
                let mut h = Sha256::new();
                h.update(b"havn/seed-master/v1");
                h.update(key.to_bytes());
                h.finalize().into()
            }
        }
    }

    /// Draws with the epoch seeds it commits on the execution log.
    pub fn with_seeds(mut self, seeds: seeds::Seeds) -> Self {
        self.seeds = Some(Arc::new(seeds));
        self
    }

    /// Judges each task's manifest against its version's registry record first.
    pub fn with_terms(mut self, terms: havn_chain::registry::RecordedArtifacts) -> Self {
        self.terms = Some(Arc::new(terms));
        self
    }

    /// Signs only tasks for this chain and execution log (issue 16, item 4): a router for
    /// another deployment, or one lying about it, gets nothing signed.
    pub fn for_deployment(mut self, chain_id: &str, execution_log: &str) -> Self {
        self.home = Some((chain_id.to_string(), execution_log.to_string()));
        self
    }

    /// Posts every re-executed Invalid this validator signs on chain as well.
    pub fn with_challenger(mut self, challenger: Challenger) -> Self {
        self.challenger = Some(Arc::new(challenger));
        self
    }

    /// `sha256(secret)`, sent when connecting.
    pub fn commitment(&self) -> [u8; 32] {
        Sha256::digest(self.secret).into()
    }

    /// Whether this validator is drawn to re-execute a job's claimed output: by its committed
    /// seed for the job's epoch when it has one, else by its local secret and rate.
    pub async fn draw(&self, job_id: u64, output_hash: &[u8; 32]) -> (bool, Option<seeds::Draw>) {
        if let Some(seeds) = &self.seeds {
            if let Some(draw) = seeds.draw(job_id, output_hash).await {
                return (draw.drawn, Some(draw));
            }
        }
        let local =
            havn_types::sampling::drawn(&self.secret, job_id, output_hash, self.local_threshold);
        (local, None)
    }

    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let this = Arc::new(self);
        if let Some(addr) = this.cfg.metrics_listen {
            let m = this.metrics.clone();
            if let Err(e) =
                havn_mesh_common::metrics::start(addr, Arc::new(move || m.render())).await
            {
                tracing::error!(%addr, error = %e, "cannot serve metrics");
            }
        }
        let mut tasks: Vec<_> = this
            .cfg
            .routers
            .iter()
            .map(|url| tokio::spawn(this.clone().serve_router(url.clone())))
            .collect();
        if let Some(seeds) = &this.seeds {
            tasks.push(tokio::spawn(seeds.clone().keep()));
        }
        if this.challenger.is_some() {
            tasks.push(tokio::spawn(this.clone().follow_audits()));
        }
        stop.await;
        for t in tasks {
            t.abort();
        }
    }

    async fn serve_router(self: Arc<Self>, url: String) {
        havn_mesh_common::service::keep_connected(&url, || false, || self.clone().session(&url))
            .await;
    }

    async fn session(self: Arc<Self>, url: &str) -> Result<(), String> {
        let channel = havn_mesh_common::service::dial(url, &self.cfg.tls).await?;
        let max = self.cfg.max_message_bytes;
        let (out, out_rx) = mpsc::channel::<ValidatorMessage>(4096);
        let mut inbound = ValidatorLinkClient::new(channel.clone())
            .max_decoding_message_size(max)
            .max_encoding_message_size(max)
            .connect(ReceiverStream::new(out_rx))
            .await
            .map_err(|s| s.message().to_string())?
            .into_inner();
        let nonce: [u8; 32] = match inbound.message().await {
            Ok(Some(t)) => t
                .challenge
                .try_into()
                .map_err(|_| "router did not open with a 32-byte challenge".to_string())?,
            Ok(None) => return Err("router closed the stream".into()),
            Err(s) => return Err(s.message().to_string()),
        };
        let hello = ValidatorHello {
            operator: self.cfg.operator.clone(),
            signature: keys::sign(&self.key, &hello_digest(&nonce, &self.cfg.operator)),
            sample_commitment: self.commitment().to_vec(),
        };
        out.send(ValidatorMessage {
            body: Some(validator_message::Body::Hello(hello)),
        })
        .await
        .map_err(|_| "stream closed")?;
        tracing::info!(router = url, "connected");
        let artifacts = ArtifactServiceClient::new(channel).max_decoding_message_size(max);
        // Tasks this session is checking: the router's resend of one still being re-executed
        // is dropped, not run twice.
        let in_flight = Arc::new(InFlight::default());
        loop {
            let task = match inbound.message().await {
                Ok(Some(t)) => t,
                Ok(None) => return Ok(()),
                Err(s) => return Err(format!("router: {}", s.message())),
            };
            let Some(holding) = in_flight.clone().take(&task) else {
                self.metrics.duplicate_tasks.inc();
                tracing::debug!(
                    job = task.job_id,
                    "still checking this task; resend dropped"
                );
                continue;
            };
            let (this, out, artifacts) = (self.clone(), out.clone(), artifacts.clone());
            tokio::spawn(async move {
                let _holding = holding;
                let copy = this.challenger.is_some().then(|| task.clone());
                if let Some(answer) = this.attest(task, artifacts.clone()).await {
                    let valid = answer
                        .attestation
                        .as_ref()
                        .is_some_and(|a| a.verdict == Verdict::Valid as i32);
                    if let (Some(task), false, true) = (copy, answer.reexecuted, valid) {
                        this.kept.keep(task, artifacts);
                    }
                    let _ = out
                        .send(ValidatorMessage {
                            body: Some(validator_message::Body::Attestation(answer)),
                        })
                        .await;
                }
            });
        }
    }

    /// Re-executes each kept task whose job an audit proof disputed on chain, until dropped.
    async fn follow_audits(self: Arc<Self>) {
        let Some(challenger) = self.challenger.clone() else {
            return;
        };
        loop {
            tokio::time::sleep(audits::TICK).await;
            if self.kept.is_empty() {
                continue;
            }
            let ids = match audits::recent_disputes(&challenger.client).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read audit disputes; will retry");
                    continue;
                }
            };
            for id in ids {
                let Some((mut task, artifacts)) = self.kept.take(id) else {
                    continue;
                };
                self.metrics.audit_disputes.inc();
                tracing::info!(job = id, "its node proved it an audit: re-executing");
                task.escalated = true;
                let (this, challenger) = (self.clone(), challenger.clone());
                tokio::spawn(async move {
                    // An Invalid is challenged on chain by `attest` itself.
                    let Some(answer) = this.attest(task.clone(), artifacts).await else {
                        return;
                    };
                    let Some(a) = answer.attestation.filter(|_| answer.reexecuted) else {
                        return;
                    };
                    if a.verdict == Verdict::Valid as i32 {
                        let check = havn_types::Check::from_byte(a.check as u8);
                        challenger.attest(&task, check).await;
                    }
                });
            }
        }
    }

    /// Checks a task and signs the verdict. `None` for a task that cannot be judged at all (no
    /// output, malformed hashes): nothing is signed.
    pub async fn attest(
        &self,
        task: VerifyTask,
        mut artifacts: ArtifactServiceClient<Channel>,
    ) -> Option<TaskAttestation> {
        if let Some(why) = foreign(self.home.as_ref(), &task) {
            tracing::warn!(job = task.job_id, why, "task refused");
            return None;
        }
        let output = task.output.clone()?;
        let workflow = task.workflow.clone()?;
        let version: [u8; 32] = workflow.version_hash.as_slice().try_into().ok()?;
        let input_hash: [u8; 32] = task.input_hash.as_slice().try_into().ok()?;
        let output_hash: [u8; 32] = output.output_hash.as_slice().try_into().ok()?;
        let manifest = match self.cache.get_or_fetch(&version, &mut artifacts).await {
            Ok(bytes) => Manifest::parse(&bytes).ok(),
            Err(e) => {
                tracing::warn!(job = task.job_id, error = %e, "cannot fetch the manifest");
                return None;
            }
        };
        // The model files the manifest's executor loads: checked against the version's registry
        // record, and fetched to re-execute.
        let used = manifest
            .as_ref()
            .and_then(|m| {
                let executor = self.checker.executors.get(&m.pipeline.kind).ok()?;
                executor.artifacts(m).ok()
            })
            .unwrap_or_default();
        if let (Some(terms), Some(m)) = (&self.terms, &manifest) {
            // A job its node should have refused: judged by nobody honest, so it goes unpaid and
            // its caller is refunded at the deadline. Abstaining is never lazy (only a drawn
            // structural Valid is).
            let never = AtomicBool::new(false);
            let fingerprint = havn_workflow::fingerprint::fingerprint(m).unwrap_or_default();
            if let Err(why) = terms
                .check(&version, &used, &fingerprint, TERMS_PATIENCE, &never)
                .await
            {
                self.metrics.abstained.inc();
                tracing::warn!(
                    job = task.job_id,
                    reason = why,
                    "abstained: the manifest breaks its registry record"
                );
                return None;
            }
        }
        let (drawn, draw) = self.draw(task.job_id, &output_hash).await;
        let reexecute = reexecutes(&task, drawn);
        if reexecute {
            // Re-execution reads the pipeline's model files: fetch them (hash-checked) first.
            for hash in &used {
                if let Err(e) = self.cache.ensure(hash, &mut artifacts).await {
                    tracing::warn!(job = task.job_id, error = %e, "cannot fetch a model file");
                    return None;
                }
            }
        }
        let started = std::time::Instant::now();
        let check = {
            let checker = self.checker.clone();
            let task = task.clone();
            tokio::task::spawn_blocking(move || checker.check(&task, manifest.as_ref(), reexecute))
                .await
                .ok()?
        };
        let check = match check {
            Ok(c) => c,
            Err(why) => {
                // Our own failure says nothing about the node: sign nothing; the router asks
                // again after its verify retry interval, and other validators decide meanwhile.
                self.metrics.abstained.inc();
                tracing::warn!(job = task.job_id, reason = why, "abstained");
                return None;
            }
        };
        self.metrics
            .check_seconds
            .observe(started.elapsed().as_secs_f64());
        if check.reexecuted {
            self.metrics.reexecuted.inc();
            if let (Some(seeds), Some(draw)) = (&self.seeds, draw) {
                seeds.reexecuted(draw, task.job_id);
            }
        }
        if let Some(rung) = check.rung {
            let i = Rung::ALL.iter().position(|r| *r == rung).unwrap_or(0);
            self.metrics.rungs[i].inc();
        }
        match check.verdict {
            havn_types::Verdict::Valid => self.metrics.valid.inc(),
            havn_types::Verdict::Invalid => self.metrics.invalid.inc(),
        }
        let checked = check.signed_check();
        let attested = havn_types::Attestation {
            chain_id: &task.chain_id,
            execution_log: &task.execution_log,
            job_id: task.job_id,
            workflow_id: workflow.workflow_id,
            version_hash: &version,
            node: &output.node,
            input_hash: &input_hash,
            output_hash: &output_hash,
            verdict: check.verdict,
            check: checked,
        };
        if let Err(why) = self.signed.admit(&attested) {
            tracing::warn!(job = task.job_id, node = output.node, why, "not signed");
            return None;
        }
        let digest = attested.digest();
        let verdict = match check.verdict {
            havn_types::Verdict::Valid => Verdict::Valid,
            havn_types::Verdict::Invalid => Verdict::Invalid,
        };
        if check.verdict == havn_types::Verdict::Invalid {
            tracing::warn!(
                job = task.job_id,
                node = output.node,
                reason = check.reason,
                "invalid result"
            );
        } else if check.reexecuted {
            tracing::info!(
                job = task.job_id,
                node = output.node,
                reason = check.reason,
                "re-executed"
            );
        }
        let attestation = Attestation {
            validator: self.cfg.operator.clone(),
            verdict: verdict as i32,
            signature: keys::sign(&self.key, digest.as_bytes()),
            reason: check.reason,
            check: u32::from(checked.byte()),
        };
        if let (Some(challenger), havn_types::Verdict::Invalid, true) =
            (&self.challenger, check.verdict, check.reexecuted)
        {
            let (challenger, task, attestation) =
                (challenger.clone(), task.clone(), attestation.clone());
            tokio::spawn(async move { challenger.challenge(task, attestation).await });
        }
        Some(TaskAttestation {
            job_id: task.job_id,
            attempt: task.attempt,
            output_hash: output.output_hash.clone(),
            attestation: Some(attestation),
            reexecuted: check.reexecuted,
        })
    }
}

/// The tasks one router session is checking, by (job, output hash, escalated).
#[derive(Default)]
struct InFlight(std::sync::Mutex<std::collections::HashSet<(u64, Vec<u8>, bool)>>);

/// A task held in `InFlight` until dropped.
struct Holding(Arc<InFlight>, (u64, Vec<u8>, bool));

impl InFlight {
    /// Holds the task, or `None` if it is already held.
    fn take(self: Arc<Self>, task: &VerifyTask) -> Option<Holding> {
        let key = (
            task.job_id,
            task.output
                .as_ref()
                .map(|o| o.output_hash.clone())
                .unwrap_or_default(),
            task.escalated,
        );
        let fresh = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone());
        fresh.then(|| Holding(self, key))
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.0
             .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.1);
    }
}

/// Why a task is for another deployment than `home` (chain id, execution log), if it is.
pub fn foreign(home: Option<&(String, String)>, task: &VerifyTask) -> Option<String> {
    let (chain_id, log) = home?;
    if &task.chain_id != chain_id {
        return Some(format!(
            "the task is for chain {:?}, this validator's is {chain_id:?}",
            task.chain_id
        ));
    }
    if &task.execution_log != log {
        return Some(format!(
            "the task is for execution log {:?}, this validator's is {log:?}",
            task.execution_log
        ));
    }
    None
}

/// Whether a task is re-executed: when drawn, and always when escalated (a dispute).
pub fn reexecutes(task: &VerifyTask, drawn: bool) -> bool {
    task.escalated || drawn
}

/// The synchronous part of checking: everything but the network.
#[derive(Clone)]
pub struct Checker {
    pub operators: Arc<dyn OperatorSet>,
    pub executors: Executors,
}

impl Checker {
    /// Judges a result, re-executing it when `reexecute` (drawn, or escalated). `Err(why)` when
    /// this validator cannot judge it (its own re-execution failed for a reason of its own: a
    /// runtime error, out of memory): it must abstain, never call an honest node's result
    /// invalid.
    pub fn check(
        &self,
        task: &VerifyTask,
        manifest: Option<&Manifest>,
        reexecute: bool,
    ) -> Result<Check, String> {
        let invalid = |reason: &str, rung: Option<Rung>| Check {
            verdict: havn_types::Verdict::Invalid,
            reason: reason.to_string(),
            reexecuted: false,
            rung,
        };
        let Some(output) = &task.output else {
            return Ok(invalid("no output", None));
        };
        if let Err(why) = havn_mesh_common::claims::check(
            self.operators.as_ref(),
            &output.node,
            task.job_id,
            output,
        ) {
            return Ok(invalid(why, None));
        }
        let Some(manifest) = manifest else {
            return Ok(invalid("the workflow manifest is not valid", None));
        };
        if output.output.is_empty() {
            return Ok(invalid("empty output", None));
        }
        if output.output.len() as u64 > manifest.max_output_bytes {
            return Ok(invalid("output larger than the manifest allows", None));
        }
        if output.output.len() > 1 && output.output.iter().all(|b| *b == output.output[0]) {
            return Ok(invalid("constant output (one repeated byte)", None));
        }
        let executor = self.executors.get(&manifest.pipeline.kind).ok();
        if let Some(executor) = &executor {
            // Rung 1 of the ladder for every result: decodes as declared, right shape, not blank.
            if let Err(why) = executor.inspect(manifest, &output.output) {
                return Ok(invalid(&format!("structure: {why}"), Some(Rung::Structure)));
            }
        }
        if !reexecute {
            return Ok(Check {
                verdict: havn_types::Verdict::Valid,
                reason: String::new(),
                reexecuted: false,
                rung: None,
            });
        }
        let Some(executor) = executor else {
            return Ok(Check {
                verdict: havn_types::Verdict::Valid,
                reason: "no local executor for this kind: structural checks only".into(),
                reexecuted: false,
                rung: None,
            });
        };
        let params: BTreeMap<String, String> = task.parameters.clone().into_iter().collect();
        let job = JobInput {
            input: &task.input,
            seed: task.seed,
            parameters: &params,
        };
        match executor.verify(manifest, &job, &output.output, &AtomicBool::new(false)) {
            Ok(j) => Ok(Check {
                verdict: if j.pass {
                    havn_types::Verdict::Valid
                } else {
                    havn_types::Verdict::Invalid
                },
                reason: format!("{}: {}", j.rung.name(), j.detail),
                reexecuted: true,
                rung: Some(j.rung),
            }),
            // An honest node cannot have produced a result for a bad manifest or input.
            Err(
                e @ (ExecError::BadManifest(_)
                | ExecError::BadInput(_)
                | ExecError::BadParameter { .. }),
            ) => Ok(Check {
                verdict: havn_types::Verdict::Invalid,
                reason: format!("re-execution refuses the job: {e}"),
                reexecuted: true,
                rung: None,
            }),
            Err(e) => Err(format!("re-execution failed here: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use havn_mesh_common::operators::{FileOperators, Operator};
    use havn_mesh_common::pipeline::{digest_manifest, Executor};
    use havn_mesh_proto::v1::{JobOutput, RuntimeInfo, WorkflowRef};
    use havn_types::mesh::ResultClaim;

    fn node_key() -> SigningKey {
        SigningKey::from_slice(&[5u8; 32]).unwrap()
    }

    fn checker() -> Checker {
        let ops = FileOperators::from_operators([Operator {
            address: "node".into(),
            pubkey: keys::pubkey(&node_key()),
            node_stake: 1,
            validator_stake: 0,
        }]);
        Checker {
            operators: Arc::new(ops),
            executors: Executors::builtin(),
        }
    }

    /// Issue 16, item 8: a resent task is dropped while the first copy is being checked; once
    /// that is done (or for the escalated task, or another result) it is taken.
    #[test]
    fn a_task_being_checked_is_not_taken_twice() {
        let signer = SigningKey::from_slice(&[5; 32]).unwrap();
        let t = task(b"out".to_vec(), &signer);
        let held = Arc::new(InFlight::default());
        let first = held.clone().take(&t).expect("fresh");
        assert!(held.clone().take(&t).is_none(), "taken twice");
        let escalated = VerifyTask {
            escalated: true,
            ..t.clone()
        };
        let _escalated = held
            .clone()
            .take(&escalated)
            .expect("the escalated task is new");
        let other = task(b"other".to_vec(), &signer);
        let _other = held.clone().take(&other).expect("another result is new");
        drop(first);
        assert!(
            held.clone().take(&t).is_some(),
            "done: a resend is checked again"
        );
    }

    /// A task whose output is `output`, signed by `signer` as the node's claim.
    fn task(output: Vec<u8>, signer: &SigningKey) -> VerifyTask {
        let hash = havn_mesh_common::sha256(&output);
        let claim = ResultClaim {
            job_id: 9,
            attempt: 1,
            output_hash: &hash,
            executor: "builtin:digest",
            device: "cpu",
        };
        VerifyTask {
            job_id: 9,
            attempt: 1,
            workflow: Some(WorkflowRef {
                workflow_id: 1,
                version_hash: vec![0; 32],
            }),
            input: b"in".to_vec(),
            input_hash: havn_mesh_common::sha256(b"in").to_vec(),
            seed: 3,
            output: Some(JobOutput {
                output_hash: hash.to_vec(),
                output,
                node: "node".into(),
                node_signature: keys::sign(signer, &claim.digest()),
                runtime: Some(RuntimeInfo {
                    executor: "builtin:digest".into(),
                    device: "cpu".into(),
                    versions: String::new(),
                }),
                attempt: 1,
            }),
            ..Default::default()
        }
    }

    fn manifest() -> Manifest {
        Manifest::parse(&digest_manifest("t", 4).0).unwrap()
    }

    fn honest_output() -> Vec<u8> {
        havn_mesh_common::pipeline::DigestExecutor
            .run(
                &manifest(),
                &JobInput {
                    input: b"in",
                    seed: 3,
                    parameters: &BTreeMap::new(),
                },
                &mut |_, _| {},
                &AtomicBool::new(false),
            )
            .unwrap()
    }

    #[test]
    fn tasks_for_another_chain_or_log_are_refused() {
        let mut t = task(honest_output(), &node_key());
        t.chain_id = "havn-1".into();
        t.execution_log = "havn1log".into();
        let home = ("havn-1".to_string(), "havn1log".to_string());
        assert_eq!(foreign(Some(&home), &t), None);
        assert_eq!(
            foreign(None, &t),
            None,
            "no chain configured: nothing to compare"
        );
        let mut other_chain = t.clone();
        other_chain.chain_id = "havn-2".into();
        assert!(foreign(Some(&home), &other_chain)
            .unwrap()
            .contains("chain \"havn-2\""));
        let mut other_log = t;
        other_log.execution_log = "havn1other".into();
        assert!(foreign(Some(&home), &other_log)
            .unwrap()
            .contains("execution log \"havn1other\""));
    }

    #[test]
    fn honest_results_pass_with_and_without_reexecution() {
        for sample in [false, true] {
            let check = checker()
                .check(
                    &task(honest_output(), &node_key()),
                    Some(&manifest()),
                    sample,
                )
                .unwrap();
            assert_eq!(check.verdict, havn_types::Verdict::Valid, "{check:?}");
            assert_eq!(check.reexecuted, sample);
        }
    }

    #[test]
    fn each_check_catches_its_fault() {
        let m = manifest();
        let invalid = |t: &VerifyTask, sample: bool| {
            let c = checker().check(t, Some(&m), sample).unwrap();
            assert_eq!(c.verdict, havn_types::Verdict::Invalid);
            c.reason
        };
        let mut tampered = task(honest_output(), &node_key());
        tampered.output.as_mut().unwrap().output[0] ^= 1;
        assert_eq!(invalid(&tampered, false), "output does not match its hash");
        let forged = task(
            honest_output(),
            &SigningKey::from_slice(&[6u8; 32]).unwrap(),
        );
        assert!(invalid(&forged, false).contains("not signed by its registered key"));
        assert_eq!(
            invalid(&task(vec![7; 32], &node_key()), false),
            "constant output (one repeated byte)"
        );
        assert_eq!(invalid(&task(vec![], &node_key()), false), "empty output");
        // Plausible but wrong bytes pass the cheap checks; only re-execution catches them.
        let wrong = task(havn_mesh_common::sha256(b"wrong").to_vec(), &node_key());
        assert_eq!(
            checker().check(&wrong, Some(&m), false).unwrap().verdict,
            havn_types::Verdict::Valid
        );
        assert_eq!(
            invalid(&wrong, true),
            "mismatch: re-execution gives a different output"
        );
    }

    /// An executor whose every run ends in `error`, claiming the digest kind.
    struct Failing(ExecError);

    impl Executor for Failing {
        fn kind(&self) -> &str {
            havn_mesh_common::pipeline::DIGEST_KIND
        }
        fn runtime(&self) -> (String, String, String) {
            Default::default()
        }
        fn run(
            &self,
            _: &Manifest,
            _: &JobInput<'_>,
            _: &mut dyn FnMut(u32, u32),
            _: &AtomicBool,
        ) -> Result<Vec<u8>, ExecError> {
            Err(self.0.clone())
        }
    }

    #[test]
    fn a_validator_that_cannot_rerun_abstains_instead_of_blaming_the_node() {
        let with = |error: ExecError| {
            let mut c = checker();
            c.executors = Executors::default();
            c.executors.add(Arc::new(Failing(error)));
            c.check(&task(honest_output(), &node_key()), Some(&manifest()), true)
        };
        let why = with(ExecError::Failed("CUDA out of memory".into())).unwrap_err();
        assert!(why.contains("CUDA out of memory"), "{why}");
        assert!(with(ExecError::Cancelled).is_err());
        // An input no honest node could have run: the result is invalid.
        let refused = with(ExecError::BadInput("too long".into())).unwrap();
        assert_eq!(refused.verdict, havn_types::Verdict::Invalid);
        assert!(
            refused.reason.contains("refuses the job"),
            "{}",
            refused.reason
        );
    }

    /// What the validator signs says what it checked, and an escalated task is re-executed
    /// whatever the sample says.
    #[test]
    fn escalated_tasks_are_reexecuted_and_the_check_is_signed() {
        let wrong = task(havn_mesh_common::sha256(b"wrong").to_vec(), &node_key());
        let c = checker()
            .check(&wrong, Some(&manifest()), reexecutes(&wrong, false))
            .unwrap();
        assert_eq!(c.signed_check(), havn_types::Check::Structural);
        let escalated = VerifyTask {
            escalated: true,
            ..wrong
        };
        assert!(reexecutes(&escalated, false));
        let c = checker()
            .check(&escalated, Some(&manifest()), reexecutes(&escalated, false))
            .unwrap();
        assert_eq!(c.verdict, havn_types::Verdict::Invalid);
        assert!(c.reexecuted);
        let mismatch = Rung::ALL.iter().position(|r| *r == Rung::Mismatch).unwrap() as u8;
        assert_eq!(
            c.signed_check(),
            havn_types::Check::Reexecuted { rung: mismatch }
        );
    }

    /// The on-chain challenge carries the node's claim exactly as the node signed it.
    #[test]
    fn a_challenge_carries_the_nodes_claim_and_the_signed_invalid() {
        let t = task(havn_mesh_common::sha256(b"wrong").to_vec(), &node_key());
        let attestation = Attestation {
            validator: "validator".into(),
            verdict: Verdict::Invalid as i32,
            signature: vec![9; 64],
            reason: String::new(),
            check: 2,
        };
        let Some(havn_execution_log::msg::ExecuteMsg::Challenge { result }) =
            Challenger::message(&t, &attestation)
        else {
            panic!("a challenge")
        };
        let output = t.output.as_ref().unwrap();
        let claim = ResultClaim {
            job_id: result.job_id,
            attempt: result.claim.attempt,
            output_hash: result.output_hash.as_slice().try_into().unwrap(),
            executor: &result.claim.executor,
            device: &result.claim.device,
        };
        assert!(keys::verify(
            &keys::pubkey(&node_key()),
            &claim.digest(),
            result.claim.signature.as_slice()
        ));
        assert_eq!(result.node, output.node);
        assert_eq!(result.attestations.len(), 1);
        assert_eq!(
            result.attestations[0].check,
            havn_types::Check::Reexecuted { rung: 1 }
        );
    }
}
