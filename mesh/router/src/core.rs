//! The router's state machine: jobs, the queue, connected nodes and validators. Everything that
//! changes a job happens here, under one lock, and queues its store write under that lock, so
//! writes reach the store in the order the changes happened. Nothing here awaits.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use havn_mesh_common::operators::OperatorSet;
use havn_mesh_common::{keys, now_ms, sha256};
use havn_mesh_proto::v1::{
    router_message, Assignment, Attestation, Cancel, DeadLetter, JobEvent, JobOutput, JobState,
    RouterMessage, SettledJob, SettlementBatch, SubmitJobRequest, TaskAttestation, Verdict,
    VerifyTask,
};
use havn_staking::msg::{DoubleSignEvidence, FalseAttestation};
use tokio::sync::{broadcast, mpsc, oneshot};
use tonic::Status;

use crate::config::RouterConfig;
use crate::metrics::RouterMetrics;
use crate::settlement::Outcomes;
use crate::store::{JobRecord, Store, Write};

pub type NodeTx = mpsc::Sender<Result<RouterMessage, Status>>;
pub type ValidatorTx = mpsc::Sender<Result<VerifyTask, Status>>;

struct JobEntry {
    rec: JobRecord,
    events: broadcast::Sender<JobEvent>,
    lease_until: Option<Instant>,
    step: (u32, u32),
    queued_at: Instant,
    started_at: Option<Instant>,
    result_at: Option<Instant>,
    ended_at: Option<Instant>,
    /// When its result arrived (not moved by verify retries): after `verify_retry_ms`, a Valid
    /// quorum decides without waiting for every connected validator.
    verifying_since: Option<Instant>,
    /// Verdicts so far, by validator.
    verdicts: BTreeMap<String, Attestation>,
    /// Which validator connection was sent its verify task, escalated or not, and when.
    sent: HashMap<String, (u64, bool, Instant)>,
}

/// A node's failures in a row, and until when it is benched for them.
struct Strikes {
    count: u32,
    until: Instant,
}

/// A node's first failure benches it for a second; each further one in a row doubles that, up to
/// ten minutes; an accepted result clears it.
const BENCH_BASE: Duration = Duration::from_secs(1);
const BENCH_MAX: Duration = Duration::from_secs(600);

/// A verify task goes again to the connection that holds it only after this many verify retry
/// intervals (a torch re-execution can take longer than one).
const RESEND_AFTER: u64 = 4;

impl JobEntry {
    /// A job as it comes from the store (at start-up, or back for a change after eviction).
    fn from_record(rec: JobRecord, now: Instant) -> Self {
        let state = JobState::try_from(rec.state).unwrap_or(JobState::Queued);
        JobEntry {
            events: broadcast::channel(16).0,
            lease_until: None,
            step: (0, 0),
            queued_at: now,
            started_at: None,
            result_at: (state == JobState::Result).then_some(now),
            ended_at: None,
            verifying_since: (state == JobState::Result).then_some(now),
            verdicts: rec
                .attestations
                .iter()
                .map(|a| (a.validator.clone(), a.clone()))
                .collect(),
            sent: HashMap::new(),
            rec,
        }
    }

    fn state(&self) -> JobState {
        JobState::try_from(self.rec.state).unwrap_or(JobState::Unspecified)
    }

    fn ended(&self, on_chain: bool) -> bool {
        is_done(&self.rec, on_chain)
    }

    fn event(&self, on_chain: bool) -> JobEvent {
        event_of(&self.rec, self.step, on_chain)
    }
}

/// Whether no further change will come to a job: in the mesh it ended, and where it settles on
/// chain the chain's verdict is in too (for a job in a batch). A DISPUTED job is followed to its
/// end: the router finalizes it at each window's end (dispute → arbitration → refund) and reads
/// its status when re-executions or governance decided it (PAID or REFUNDED).
pub fn is_done(rec: &JobRecord, on_chain: bool) -> bool {
    match JobState::try_from(rec.state) {
        Ok(JobState::Cancelled | JobState::Paid | JobState::Refunded | JobState::Rejected) => true,
        Ok(JobState::Settled | JobState::Recorded | JobState::Disputed) => !on_chain,
        Ok(JobState::Failed) => !(on_chain && rec.in_settlement),
        _ => false,
    }
}

/// The state a chain outcome puts a job in (`None`: not one the router acts on).
pub fn chain_state(outcome: &str) -> Option<JobState> {
    Some(match outcome {
        "recorded" => JobState::Recorded,
        "valid" => JobState::Paid,
        "disputed" | "arbitration" => JobState::Disputed,
        "invalid" | "refunded" | "unproven" | "audit" => JobState::Refunded,
        "rejected" | "no_quorum" => JobState::Rejected,
        _ => return None,
    })
}

pub fn event_of(rec: &JobRecord, step: (u32, u32), on_chain: bool) -> JobEvent {
    JobEvent {
        job_id: rec.id,
        state: rec.state,
        step: step.0,
        total_steps: step.1,
        node: rec.node.clone(),
        attempt: rec.attempt,
        output: rec.output.clone(),
        attestations: rec.attestations.clone(),
        reason: rec.reason.clone(),
        settlement_id: rec.settlement_id,
        chain: rec.chain.clone(),
        done: is_done(rec, on_chain),
    }
}

/// The batch entry for a decided job: its result, the node's claim and every verdict.
fn settled_job(rec: &JobRecord) -> SettledJob {
    let output = rec.output.clone().unwrap_or_default();
    let verdict = match JobState::try_from(rec.state) {
        Ok(JobState::Failed) => Verdict::Invalid,
        _ => Verdict::Valid,
    } as i32;
    let runtime = output.runtime.clone().unwrap_or_default();
    SettledJob {
        job_id: rec.id,
        workflow: rec.workflow.clone(),
        node: output.node.clone(),
        output_hash: output.output_hash.clone(),
        verdict,
        attestations: rec.attestations.clone(),
        input_hash: rec.input_hash.clone(),
        attempt: output.attempt,
        executor: runtime.executor,
        device: runtime.device,
        node_signature: output.node_signature.clone(),
    }
}

struct NodeEntry {
    conn: u64,
    tx: NodeTx,
    slots: u32,
    running: BTreeSet<u64>,
    cached: HashSet<Vec<u8>>,
    /// Pipeline kinds it runs (empty: it did not say, so anything).
    pipelines: BTreeSet<String>,
    last_seen: Instant,
    draining: bool,
}

struct ValidatorEntry {
    conn: u64,
    tx: ValidatorTx,
}

pub struct Core {
    cfg: Arc<RouterConfig>,
    operators: Arc<dyn OperatorSet>,
    store: Store,
    pub metrics: Arc<RouterMetrics>,
    jobs: HashMap<u64, JobEntry>,
    queue: VecDeque<u64>,
    nodes: BTreeMap<String, NodeEntry>,
    validators: BTreeMap<String, ValidatorEntry>,
    next_id: u64,
    next_conn: u64,
    next_settlement: u64,
    decided: Vec<u64>,
    decided_since: Option<Instant>,
    pub draining: bool,
    settled_tx: Option<mpsc::UnboundedSender<SettlementBatch>>,
    evidence_tx: Option<mpsc::UnboundedSender<DoubleSignEvidence>>,
    /// Re-executed Valid votes for results proven invalid: evidence for staking.
    false_attestation_tx: Option<mpsc::UnboundedSender<FalseAttestation>>,
    /// Signed re-executed Valid votes that do not count (their validator is jailed or outside
    /// the active set), held per job until its verdict: evidence if it is Invalid.
    uncounted: BTreeMap<u64, Vec<(String, Attestation, havn_types::Check)>>,
    /// (job, validator) pairs already reported for double-signing.
    reported: BTreeSet<(u64, String)>,
    /// (job, validator) pairs already reported for a late false attestation.
    reported_false: BTreeSet<(u64, String)>,
    /// Nodes with failures in a row (kept across reconnects).
    strikes: BTreeMap<String, Strikes>,
    /// Jobs settle on chain: SETTLED waits for the chain's verdict.
    on_chain: bool,
    /// Dead letters an operator re-drove, for the next batch.
    redriven: Vec<SettledJob>,
    /// When the store was last pruned of jobs past `store_retention_ms`.
    pruned_at: Option<Instant>,
    /// The quorum (bps of validator stake, fewest signers) jobs are decided by: the config's,
    /// or the execution log's params where it settles on chain (`set_quorum`).
    quorum: (u16, u32),
}

/// How often the store is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// The longest deadline a request may ask for (a week): request fields never feed unbounded
/// arithmetic.
pub const MAX_DEADLINE_MS: u64 = 7 * 24 * 3600 * 1000;

/// Locks the core. A handler that panicked while holding it must not take every later call (and
/// the clock) down with it: the state is still the last consistent one each handler left.
pub fn lock(core: &std::sync::Mutex<Core>) -> std::sync::MutexGuard<'_, Core> {
    core.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a submit returns: the job id and the commit to wait for.
pub type Accepted = (u64, oneshot::Receiver<Result<(), String>>);

impl Core {
    /// Loads every job the store holds; unfinished ones go back in the queue. `on_chain`: jobs
    /// settle on chain (`Settlement::on_chain`), so settled ones wait for its verdict.
    pub fn recover(
        cfg: Arc<RouterConfig>,
        operators: Arc<dyn OperatorSet>,
        store: Store,
        metrics: Arc<RouterMetrics>,
        on_chain: bool,
    ) -> Result<Self, crate::store::StoreError> {
        let mut core = Core {
            next_id: store.meta("next_id")?.unwrap_or(1),
            next_settlement: store.meta("next_settlement")?.unwrap_or(1),
            cfg,
            operators,
            store: store.clone(),
            metrics,
            jobs: HashMap::new(),
            queue: VecDeque::new(),
            nodes: BTreeMap::new(),
            validators: BTreeMap::new(),
            next_conn: 1,
            decided: Vec::new(),
            decided_since: None,
            draining: false,
            settled_tx: None,
            evidence_tx: None,
            reported: BTreeSet::new(),
            reported_false: BTreeSet::new(),
            uncounted: BTreeMap::new(),
            strikes: BTreeMap::new(),
            false_attestation_tx: None,
            on_chain,
            redriven: Vec::new(),
            pruned_at: None,
            quorum: (0, 0),
        };
        core.quorum = (core.cfg.quorum_bps, core.cfg.min_signers);
        let mut recovered = 0;
        let now = Instant::now();
        let highest = store.each_job(|mut rec| {
            if is_done(&rec, on_chain) {
                return;
            }
            recovered += 1;
            let state = JobState::try_from(rec.state).unwrap_or(JobState::Queued);
            // A node's lease did not survive the restart; a result and its attestations did.
            if matches!(state, JobState::Assigned | JobState::Queued) {
                rec.state = JobState::Queued as i32;
                rec.node.clear();
            }
            let id = rec.id;
            let entry = JobEntry::from_record(rec, now);
            let requeue = entry.state() == JobState::Queued;
            core.jobs.insert(id, entry);
            if requeue {
                core.queue.push_back(id);
            } else if state == JobState::Verified {
                core.decided.push(id);
                core.decided_since.get_or_insert(now);
            }
        })?;
        core.next_id = core.next_id.max(highest.saturating_add(1));
        core.queue.make_contiguous().sort_unstable();
        tracing::info!(recovered, next_id = core.next_id, "job store loaded");
        Ok(core)
    }

    /// Where formed batches are sent, after they are stored.
    pub fn on_settlement(&mut self, tx: mpsc::UnboundedSender<SettlementBatch>) {
        self.settled_tx = Some(tx);
    }

    /// Where proof of a validator signing two verdicts for one job goes (the staking contract's
    /// `SubmitDoubleSign`).
    pub fn on_double_sign(&mut self, tx: mpsc::UnboundedSender<DoubleSignEvidence>) {
        self.evidence_tx = Some(tx);
    }

    /// Where a re-executed Valid that arrives after its job was decided Invalid goes: evidence
    /// of a false attestation (the vote was too late to be counted or batched).
    pub fn on_false_attestation(&mut self, tx: mpsc::UnboundedSender<FalseAttestation>) {
        self.false_attestation_tx = Some(tx);
    }

    fn persist(&self, id: u64) {
        if let Some(j) = self.jobs.get(&id) {
            self.store
                .write_later(vec![Write::Job(Box::new(j.rec.clone()))]);
        }
    }

    /// Sends the job's current state to its watchers and queues its store write.
    fn changed(&mut self, id: u64) {
        if let Some(j) = self.jobs.get(&id) {
            let _ = j.events.send(j.event(self.on_chain));
        }
        self.persist(id);
    }

    /// Recorded jobs (after a restart) still waiting out their window: (job id, window end).
    pub fn recorded_waiting(&self) -> Vec<(u64, u64)> {
        self.jobs
            .values()
            .filter(|j| matches!(j.state(), JobState::Recorded | JobState::Disputed))
            .filter_map(|j| Some((j.rec.id, j.rec.chain.as_ref()?.window_ends)))
            .collect()
    }

    // ---- the chain's verdicts ----

    /// What the chain did with settled jobs: each takes the state its outcome stands for, and
    /// one the chain refused becomes a dead letter. A job already evicted from memory comes
    /// back from the store for the change.
    pub fn chain_outcomes(&mut self, outcomes: Outcomes) {
        let now = Instant::now();
        for (id, outcome) in outcomes {
            let Some(state) = chain_state(&outcome.outcome) else {
                tracing::debug!(job = id, outcome = outcome.outcome, "chain outcome ignored");
                continue;
            };
            if !self.jobs.contains_key(&id) {
                match self.store.job(id) {
                    Ok(Some(rec)) => {
                        let mut entry = JobEntry::from_record(rec, now);
                        entry.result_at = None;
                        entry.verifying_since = None;
                        self.jobs.insert(id, entry);
                    }
                    _ => {
                        tracing::warn!(
                            job = id,
                            outcome = outcome.outcome,
                            "chain outcome for a job this router does not have"
                        );
                        continue;
                    }
                }
            }
            let on_chain = self.on_chain;
            let Some(job) = self.jobs.get_mut(&id) else {
                continue;
            };
            // Only a job in a batch takes the chain's verdict, and only once: a re-sent batch's
            // answer after the job was paid (or cancelled, refused…) changes nothing.
            if !job.rec.in_settlement || job.ended(on_chain) {
                continue;
            }
            job.rec.state = state as i32;
            match state {
                JobState::Rejected => {
                    job.rec.reason = format!("the chain refused it: {}", outcome.reason);
                    self.metrics.chain_rejected.inc();
                }
                JobState::Refunded => {
                    job.rec.reason = match outcome.outcome.as_str() {
                        "invalid" => {
                            "proven invalid on chain: the node was slashed and the caller refunded"
                        }
                        "unproven" => {
                            "its node never proved it was not an audit: the caller was refunded"
                        }
                        "audit" => {
                            "one of its node's audits (a wrong answer on purpose, to catch validators that do not check): the caller was refunded"
                        }
                        _ => "no verdict on chain in time: the caller was refunded",
                    }
                    .into()
                }
                JobState::Disputed => {
                    job.rec.reason = match outcome.outcome.as_str() {
                        "arbitration" => "no re-execution quorum in the dispute window: governance arbitrates, else the caller is refunded at the window's end",
                        _ => "a validator disputed the result on chain; re-executions decide",
                    }
                    .into()
                }
                _ => {}
            }
            if state == JobState::Rejected {
                let letter = DeadLetter {
                    job: Some(settled_job(&job.rec)),
                    reason: outcome.reason.clone(),
                    settlement_id: job.rec.settlement_id,
                    refused_ms: now_ms(),
                };
                self.store
                    .write_later(vec![Write::DeadLetter(Box::new(letter))]);
            }
            job.rec.chain = Some(outcome);
            if job.ended(on_chain) {
                job.ended_at = Some(now);
            }
            self.changed(id);
        }
    }

    /// Puts dead letter `id` back into the next settlement batch: it leaves the list, and the
    /// job waits (SETTLED, or FAILED for an Invalid verdict) for the chain's new verdict.
    pub fn redrive(&mut self, id: u64) -> Result<JobState, Status> {
        let letter = self
            .store
            .dead_letter(id)
            .map_err(|e| Status::internal(e.to_string()))?
            .ok_or_else(|| Status::not_found(format!("job {id} is not a dead letter")))?;
        let mut job = letter.job.unwrap_or_default();
        let now = Instant::now();
        if !self.jobs.contains_key(&id) {
            let rec = self
                .store
                .job(id)
                .map_err(|e| Status::internal(e.to_string()))?
                .ok_or_else(|| Status::not_found(format!("job {id} is not in the job store")))?;
            let mut entry = JobEntry::from_record(rec, now);
            entry.result_at = None;
            entry.verifying_since = None;
            self.jobs.insert(id, entry);
        }
        let entry = self.jobs.get_mut(&id).expect("inserted above");
        // Once only: a re-driven job waits for its new verdict (its dead letter's removal may
        // not have committed yet).
        if entry.state() != JobState::Rejected {
            return Err(Status::not_found(format!(
                "job {id} is not a dead letter: it is {}",
                entry.state().as_str_name()
            )));
        }
        // Votes that came after the first batch go along.
        job.attestations = entry.rec.attestations.clone();
        let state = match Verdict::try_from(job.verdict) {
            Ok(Verdict::Invalid) => JobState::Failed,
            _ => JobState::Settled,
        };
        entry.rec.state = state as i32;
        entry.rec.reason = format!("re-driven after the chain refused it: {}", letter.reason);
        entry.rec.chain = None;
        entry.rec.in_settlement = true;
        entry.ended_at = None;
        self.redriven.push(job);
        self.decided_since.get_or_insert(now);
        self.store.write_later(vec![Write::Redriven(id)]);
        tracing::info!(job = id, "dead letter re-driven into the next batch");
        self.changed(id);
        Ok(state)
    }

    // ---- callers ----

    /// Accepts a job whose manifest's pipeline kind is `pipeline`.
    pub fn submit(
        &mut self,
        req: SubmitJobRequest,
        input: Vec<u8>,
        pipeline: String,
    ) -> Result<Accepted, Status> {
        if self.draining {
            return Err(Status::unavailable(
                "router is draining; submit to another router",
            ));
        }
        if self.queue.len() >= self.cfg.max_queue {
            self.metrics.rejected.inc();
            return Err(Status::resource_exhausted(format!(
                "router queue is full ({} jobs waiting); retry later",
                self.queue.len()
            )));
        }
        if req.deadline_ms > MAX_DEADLINE_MS {
            return Err(Status::invalid_argument(format!(
                "deadline_ms {} is over the router's maximum {MAX_DEADLINE_MS} (a week)",
                req.deadline_ms
            )));
        }
        if req.chain_job_id == u64::MAX {
            return Err(Status::invalid_argument(
                "chain_job_id must be below 18446744073709551615",
            ));
        }
        let id = match req.chain_job_id {
            0 => self.next_id,
            chain => {
                if self.jobs.contains_key(&chain) || self.store.job(chain).ok().flatten().is_some()
                {
                    return Err(Status::already_exists(format!(
                        "job {chain} was already submitted"
                    )));
                }
                chain
            }
        };
        self.next_id = self.next_id.max(id + 1);
        let deadline_ms = match req.deadline_ms {
            0 => self.cfg.default_deadline_ms,
            d => d,
        };
        let rec = JobRecord {
            id,
            workflow: req.workflow,
            input_hash: sha256(&input).to_vec(),
            input,
            seed: req.seed,
            parameters: req.parameters.into_iter().collect(),
            deadline_ms: now_ms().saturating_add(deadline_ms),
            caller: req.caller,
            state: JobState::Queued as i32,
            attempt: 0,
            submitted_ms: now_ms(),
            pipeline,
            ..Default::default()
        };
        let ack = self.store.write(vec![
            Write::Job(Box::new(rec.clone())),
            Write::Meta("next_id", self.next_id),
        ]);
        self.jobs.insert(
            id,
            JobEntry {
                rec,
                events: broadcast::channel(16).0,
                lease_until: None,
                step: (0, 0),
                queued_at: Instant::now(),
                started_at: None,
                result_at: None,
                ended_at: None,
                verifying_since: None,
                verdicts: BTreeMap::new(),
                sent: HashMap::new(),
            },
        );
        self.queue.push_back(id);
        self.metrics.submitted.inc();
        self.dispatch();
        Ok((id, ack))
    }

    /// The job's current event and a subscription to the next ones (`None`: not in memory).
    /// RESOURCE_EXHAUSTED past `max_watchers_per_job` open streams.
    pub fn watch(
        &self,
        id: u64,
    ) -> Result<Option<(JobEvent, broadcast::Receiver<JobEvent>)>, Status> {
        let Some(j) = self.jobs.get(&id) else {
            return Ok(None);
        };
        if j.events.receiver_count() >= self.cfg.max_watchers_per_job {
            return Err(Status::resource_exhausted(format!(
                "job {id} already has {} watchers: use GetJob, or retry later",
                self.cfg.max_watchers_per_job
            )));
        }
        Ok(Some((j.event(self.on_chain), j.events.subscribe())))
    }

    pub fn get(&self, id: u64) -> Option<JobEvent> {
        self.jobs.get(&id).map(|j| j.event(self.on_chain))
    }

    /// Decide jobs by this quorum from now on: the execution log's, which governance may change.
    pub fn set_quorum(&mut self, quorum_bps: u16, min_signers: u32) {
        if self.quorum != (quorum_bps, min_signers) {
            tracing::info!(
                quorum_bps,
                min_signers,
                "quorum from the execution log's params"
            );
            self.quorum = (quorum_bps, min_signers);
        }
    }

    /// The caller a job in memory was submitted with.
    pub fn caller(&self, id: u64) -> Option<String> {
        self.jobs.get(&id).map(|j| j.rec.caller.clone())
    }

    /// Whether `signature` by `pubkey` lets a reader see job `id`'s output: the key is `caller`'s
    /// and signed the read digest of this chain, log and job. A job without a caller (no chain:
    /// the router assigned its id) is readable by anyone.
    pub fn may_read(&self, id: u64, caller: &str, pubkey: &[u8], signature: &[u8]) -> bool {
        let digest = havn_types::mesh::read_digest(&self.cfg.chain_id, &self.cfg.execution_log, id);
        caller.is_empty()
            || (havn_chain::is_address_of(caller, pubkey)
                && keys::verify(pubkey, &digest, signature))
    }

    /// Cancels a job for its caller: `signature` by `pubkey` over the cancel digest, and the key's
    /// address must be the caller the job was submitted with. Only before a result exists: a node
    /// that faked must not cancel its way out of the verdict.
    pub fn cancel(&mut self, id: u64, pubkey: &[u8], signature: &[u8]) -> Result<(), Status> {
        let Some(job) = self.jobs.get_mut(&id) else {
            return Err(Status::not_found(format!(
                "job {id} is unknown or has ended"
            )));
        };
        let digest =
            havn_types::mesh::cancel_digest(&self.cfg.chain_id, &self.cfg.execution_log, id);
        if job.rec.caller.is_empty() {
            return Err(Status::permission_denied(format!(
                "job {id} names no caller, so nobody can cancel it"
            )));
        }
        if !havn_chain::is_address_of(&job.rec.caller, pubkey)
            || !keys::verify(pubkey, &digest, signature)
        {
            return Err(Status::permission_denied(format!(
                "only job {id}'s caller {} may cancel it: sign havn_types::mesh::cancel_digest with its key",
                job.rec.caller
            )));
        }
        if job.ended(self.on_chain) || !matches!(job.state(), JobState::Queued | JobState::Assigned)
        {
            return Err(Status::failed_precondition(format!(
                "job {id} is already {}: a job with a result cannot be cancelled",
                job.state().as_str_name()
            )));
        }
        let node = std::mem::take(&mut job.rec.node);
        job.rec.state = JobState::Cancelled as i32;
        job.rec.reason = "cancelled by the caller".into();
        job.ended_at = Some(Instant::now());
        self.queue.retain(|q| *q != id);
        if let Some(n) = self.nodes.get_mut(&node) {
            n.running.remove(&id);
            let _ = n.tx.try_send(Ok(RouterMessage {
                body: Some(router_message::Body::Cancel(Cancel { job_id: id })),
            }));
        }
        self.metrics.cancelled.inc();
        self.changed(id);
        self.dispatch();
        Ok(())
    }

    // ---- nodes ----

    pub fn node_connected(
        &mut self,
        operator: &str,
        tx: NodeTx,
        slots: u32,
        cached: Vec<Vec<u8>>,
        pipelines: Vec<String>,
    ) -> u64 {
        let conn = self.next_conn;
        self.next_conn += 1;
        // A reconnect replaces the old stream; what it held goes back in the queue.
        if let Some(old) = self.nodes.remove(operator) {
            self.requeue_all(old.running, "the node reconnected");
        }
        self.nodes.insert(
            operator.to_string(),
            NodeEntry {
                conn,
                tx,
                slots: slots.clamp(1, self.cfg.max_node_slots.max(1)),
                running: BTreeSet::new(),
                cached: cached.into_iter().collect(),
                pipelines: pipelines.into_iter().collect(),
                last_seen: Instant::now(),
                draining: false,
            },
        );
        tracing::info!(node = operator, slots, "node connected");
        self.dispatch();
        conn
    }

    pub fn node_gone(&mut self, operator: &str, conn: u64, why: &str) {
        if self.nodes.get(operator).is_some_and(|n| n.conn == conn) {
            let node = self.nodes.remove(operator).expect("checked");
            tracing::warn!(node = operator, why, jobs = node.running.len(), "node gone");
            self.requeue_all(node.running, why);
            self.dispatch();
        }
    }

    pub fn node_seen(&mut self, operator: &str, conn: u64) {
        if let Some(n) = self.nodes.get_mut(operator).filter(|n| n.conn == conn) {
            n.last_seen = Instant::now();
        }
    }

    fn requeue_all(&mut self, jobs: BTreeSet<u64>, why: &str) {
        for id in jobs.into_iter().rev() {
            self.requeue(id, why, true);
        }
    }

    /// Puts an assigned job back in the queue (front: it waited already), or fails it when it
    /// has used its attempts.
    fn requeue(&mut self, id: u64, why: &str, front: bool) {
        let max_attempts = self.cfg.max_attempts;
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if job.state() != JobState::Assigned {
            return;
        }
        job.lease_until = None;
        job.rec.node.clear();
        job.step = (0, 0);
        if job.rec.attempt >= max_attempts {
            job.rec.state = JobState::Failed as i32;
            job.rec.reason =
                format!("no node finished it in {max_attempts} attempts (last: {why})");
            job.ended_at = Some(Instant::now());
            self.metrics.failed.inc();
        } else {
            job.rec.state = JobState::Queued as i32;
            self.metrics.reassigned.inc();
            if front {
                self.queue.push_front(id);
            } else {
                self.queue.push_back(id);
            }
        }
        self.changed(id);
    }

    /// `node` failed job `id`: the job never goes to it again, and the node is benched for a
    /// while that doubles with each failure in a row (issue 16, item 3: failing costs nothing
    /// otherwise, and the same node could be picked again and again).
    fn strike(&mut self, node: &str, id: u64) {
        if node.is_empty() {
            return;
        }
        if let Some(job) = self.jobs.get_mut(&id) {
            if !job.rec.failed_on.iter().any(|n| n == node) {
                job.rec.failed_on.push(node.to_string());
            }
        }
        let count = self.strikes.get(node).map_or(0, |s| s.count) + 1;
        let bench = BENCH_BASE
            .saturating_mul(1u32 << (count - 1).min(16))
            .min(BENCH_MAX);
        tracing::info!(
            node,
            job = id,
            failures = count,
            bench_s = bench.as_secs(),
            "node benched"
        );
        self.strikes.insert(
            node.to_string(),
            Strikes {
                count,
                until: Instant::now() + bench,
            },
        );
    }

    /// How many jobs each connected node may hold now: what it declared (at most
    /// `max_node_slots`), and no more than `slots_per_stake_unit` per unit of its stake (the
    /// smallest node stake in the set), so a node's share of the work follows its bond (issue 16,
    /// item 3). A node with no node stake (jailed, unbonded) gets none.
    fn slot_caps(&self) -> HashMap<String, u32> {
        let unit = self.operators.node_stake_unit().max(1);
        let per_unit = u128::from(self.cfg.slots_per_stake_unit.max(1));
        self.nodes
            .iter()
            .map(|(name, n)| {
                let stake = self.operators.get(name).map_or(0, |o| o.node_stake);
                let by_stake = (stake / unit).saturating_mul(per_unit);
                let cap = u128::from(n.slots).min(by_stake) as u32;
                (name.clone(), cap)
            })
            .collect()
    }

    /// Leases queued jobs to nodes with free slots that run the job's pipeline kind: a node with
    /// the workflow cached first, then the least loaded. A job no free node can run keeps its
    /// place; jobs behind it still go (up to `MAX_SKIPS` looked at per pass).
    pub fn dispatch(&mut self) {
        const MAX_SKIPS: usize = 1024;
        if self.nodes.is_empty() {
            return;
        }
        let lease = Duration::from_millis(self.cfg.lease_ms);
        let caps = self.slot_caps();
        let free = |name: &str, n: &NodeEntry| {
            !n.draining && (n.running.len() as u32) < caps.get(name).copied().unwrap_or(0)
        };
        let mut skipped = Vec::new();
        while let Some(id) = self.queue.pop_front() {
            let any_free = self.nodes.iter().any(|(name, n)| free(name, n));
            if !any_free || skipped.len() >= MAX_SKIPS {
                skipped.push(id);
                break;
            }
            let Some(job) = self.jobs.get(&id) else {
                continue;
            };
            if job.state() != JobState::Queued {
                continue;
            }
            let version = job
                .rec
                .workflow
                .as_ref()
                .map(|w| w.version_hash.clone())
                .unwrap_or_default();
            let kind = job.rec.pipeline.clone();
            let failed_on = job.rec.failed_on.clone();
            let (strikes, now) = (&self.strikes, Instant::now());
            let best = self
                .nodes
                .iter()
                // Stake is read at every lease, not only at the handshake: a node jailed or
                // unbonded since it connected has no slot (`slot_caps`), so no new job.
                .filter(|(name, n)| free(name, n))
                .filter(|(name, _)| !failed_on.contains(name))
                .filter(|(name, _)| strikes.get(*name).is_none_or(|s| s.until <= now))
                .filter(|(_, n)| {
                    kind.is_empty() || n.pipelines.is_empty() || n.pipelines.contains(&kind)
                })
                .min_by_key(|(name, n)| {
                    (
                        !n.cached.contains(&version),
                        // Load as a fraction of slots, in thousandths.
                        n.running.len() as u64 * 1000 / u64::from(caps[name.as_str()].max(1)),
                    )
                })
                .map(|(name, _)| name.clone());
            let Some(node_name) = best else {
                skipped.push(id);
                continue;
            };
            let job = self.jobs.get_mut(&id).expect("checked");
            job.rec.attempt += 1;
            job.rec.state = JobState::Assigned as i32;
            job.rec.node = node_name.clone();
            let until = Instant::now() + lease;
            job.lease_until = Some(until);
            job.started_at = Some(Instant::now());
            let assign = Assignment {
                job_id: id,
                attempt: job.rec.attempt,
                workflow: job.rec.workflow.clone(),
                input: job.rec.input.clone(),
                input_hash: job.rec.input_hash.clone(),
                seed: job.rec.seed,
                parameters: job.rec.parameters.clone().into_iter().collect(),
                lease_deadline_ms: now_ms() + self.cfg.lease_ms,
            };
            self.metrics
                .queue_seconds
                .observe(job.queued_at.elapsed().as_secs_f64());
            let node = self.nodes.get_mut(&node_name).expect("chosen from nodes");
            let sent = node.tx.try_send(Ok(RouterMessage {
                body: Some(router_message::Body::Assign(assign)),
            }));
            if sent.is_err() {
                // The node's stream is full or closed: treat it as busy for now.
                let job = self.jobs.get_mut(&id).expect("checked");
                job.rec.attempt -= 1;
                job.rec.state = JobState::Queued as i32;
                job.rec.node.clear();
                job.lease_until = None;
                skipped.push(id);
                node.draining = node.tx.is_closed();
                continue;
            }
            node.running.insert(id);
            node.cached.insert(version);
            self.changed(id);
        }
        for id in skipped.into_iter().rev() {
            self.queue.push_front(id);
        }
    }

    pub fn progress(&mut self, operator: &str, id: u64, step: u32, total: u32) {
        let on_chain = self.on_chain;
        if let Some(job) = self.jobs.get_mut(&id) {
            if job.rec.node == operator && job.state() == JobState::Assigned {
                job.step = (step, total);
                let _ = job.events.send(job.event(on_chain));
            }
        }
    }

    pub fn node_failed_job(&mut self, operator: &str, id: u64, attempt: u32, reason: &str) {
        if let Some(n) = self.nodes.get_mut(operator) {
            n.running.remove(&id);
        }
        let owns = self
            .jobs
            .get(&id)
            .is_some_and(|j| j.rec.node == operator && j.rec.attempt == attempt);
        if owns {
            self.strike(operator, id);
            self.requeue(id, &format!("{operator}: {reason}"), false);
        }
        self.dispatch();
    }

    /// A node gives a job back: it is draining, so it gets no more.
    pub fn hand_back(&mut self, operator: &str, id: u64) {
        if let Some(n) = self.nodes.get_mut(operator) {
            n.running.remove(&id);
            n.draining = true;
        }
        if self.jobs.get(&id).is_some_and(|j| j.rec.node == operator) {
            // Handing back is not the job's fault: the attempt does not count.
            if let Some(j) = self.jobs.get_mut(&id) {
                j.rec.attempt = j.rec.attempt.saturating_sub(1);
            }
            self.requeue(id, "handed back", true);
        }
        self.dispatch();
    }

    /// A node's result. Accepted once per job: a repeat of the same output is a no-op.
    pub fn result(&mut self, operator: &str, id: u64, output: JobOutput) {
        if let Some(n) = self.nodes.get_mut(operator) {
            n.running.remove(&id);
        }
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        if let Some(existing) = &job.rec.output {
            if existing.output_hash == output.output_hash {
                return; // idempotent
            }
        }
        if job.rec.node != operator
            || job.rec.attempt != output.attempt
            || job.state() != JobState::Assigned
        {
            tracing::debug!(job = id, node = operator, "stale result ignored");
            self.dispatch();
            return;
        }
        if let Err(why) =
            havn_mesh_common::claims::check(self.operators.as_ref(), operator, id, &output)
        {
            tracing::warn!(job = id, node = operator, why, "result refused");
            self.strike(operator, id);
            self.requeue(id, why, false);
            self.dispatch();
            return;
        }
        self.strikes.remove(operator);
        let job = self.jobs.get_mut(&id).expect("checked");
        job.rec.state = JobState::Result as i32;
        job.rec.output = Some(JobOutput {
            node: operator.to_string(),
            ..output
        });
        job.lease_until = None;
        job.result_at = Some(Instant::now());
        job.verifying_since = job.result_at;
        if let Some(started) = job.started_at {
            self.metrics
                .execution_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        self.changed(id);
        self.fan_out(id, None);
        self.dispatch();
    }

    fn task(&self, id: u64) -> Option<VerifyTask> {
        let job = self.jobs.get(&id)?;
        Some(VerifyTask {
            challenge: vec![],
            job_id: id,
            attempt: job.rec.attempt,
            workflow: job.rec.workflow.clone(),
            input: job.rec.input.clone(),
            input_hash: job.rec.input_hash.clone(),
            seed: job.rec.seed,
            parameters: job.rec.parameters.clone().into_iter().collect(),
            output: job.rec.output.clone(),
            chain_id: self.cfg.chain_id.clone(),
            execution_log: self.cfg.execution_log.clone(),
            escalated: escalated(&job.verdicts),
        })
    }

    /// Sends a result to every connected validator that has not answered (or only to `only`);
    /// once escalated, also to those that answered without re-executing. A connection that was
    /// sent the same task less than `RESEND_AFTER` verify retries ago is not sent it again: the
    /// validator may still be re-executing it (a task it dropped or abstained on goes again then).
    fn fan_out(&mut self, id: u64, only: Option<&str>) {
        let Some(task) = self.task(id) else { return };
        let now = Instant::now();
        let resend_after =
            Duration::from_millis(self.cfg.verify_retry_ms.saturating_mul(RESEND_AFTER));
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let answered: HashSet<&String> = job
            .verdicts
            .iter()
            .filter(|(_, a)| !task.escalated || vote_of(a).is_some_and(|(_, c)| c.reexecuted()))
            .map(|(name, _)| name)
            .collect();
        let mut sent = vec![];
        for (name, v) in &self.validators {
            if answered.contains(name) || only.is_some_and(|o| o != name) {
                continue;
            }
            let holds = job.sent.get(name).is_some_and(|(conn, escalated, at)| {
                *conn == v.conn
                    && *escalated == task.escalated
                    && now.duration_since(*at) < resend_after
            });
            if !holds && v.tx.try_send(Ok(task.clone())).is_ok() {
                sent.push((name.clone(), v.conn));
            }
        }
        for (name, conn) in sent {
            job.sent.insert(name, (conn, task.escalated, now));
        }
    }

    // ---- validators ----

    pub fn validator_connected(&mut self, operator: &str, tx: ValidatorTx) -> u64 {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.validators
            .insert(operator.to_string(), ValidatorEntry { conn, tx });
        tracing::info!(validator = operator, "validator connected");
        // Results already waiting for verdicts go to it as well.
        let waiting: Vec<u64> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.state() == JobState::Result)
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.fan_out(id, Some(operator));
        }
        conn
    }

    pub fn validator_gone(&mut self, operator: &str, conn: u64) {
        if self
            .validators
            .get(operator)
            .is_some_and(|v| v.conn == conn)
        {
            self.validators.remove(operator);
            tracing::warn!(validator = operator, "validator gone");
        }
    }

    /// A validator's verdict, counted once per validator (a structural vote may be upgraded once
    /// to a re-executed one). The job is decided by the execution log's own rules
    /// (docs/verification.md): a quorum of Invalid; else, once anyone said Invalid, only a quorum
    /// of re-executed Valid (and every validator is asked to re-execute); else a quorum of Valid.
    pub fn attestation(&mut self, operator: &str, a: TaskAttestation) {
        let id = a.job_id;
        let Some(att) = a.attestation else { return };
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        let Some(output) = &job.rec.output else {
            return;
        };
        let Some(vote) = vote_of(&att) else { return };
        if output.output_hash != a.output_hash || att.validator != operator {
            return;
        }
        if let Some(first) = job.verdicts.get(operator) {
            let Some(first_vote) = vote_of(first) else {
                return;
            };
            if havn_types::contradicts(first_vote, vote) {
                let first = first.clone();
                self.double_signed(operator, id, first, att);
                return;
            }
            if !(first_vote.1 == havn_types::Check::Structural && vote.1.reexecuted()) {
                return;
            }
        }
        if job.state() != JobState::Result {
            self.late_vote(operator, id, &att, vote);
            return;
        }
        let Some(op) = self.operators.get(operator) else {
            return;
        };
        if !op.is_validator() {
            // Jailed since it connected (say, for an earlier false attestation): its vote counts
            // for nothing, but a re-executed Valid is still its signature on the result.
            if vote.0 == havn_types::Verdict::Valid && vote.1.reexecuted() {
                let held = self.uncounted.entry(id).or_default();
                if held.len() < self.validators.len().max(1) {
                    held.push((operator.to_string(), att, vote.1));
                }
            }
            return;
        }
        let digest = match attestation_digest(&self.cfg, &job.rec, vote) {
            Some(d) => d,
            None => return,
        };
        if !keys::verify(&op.pubkey, &digest, &att.signature) {
            tracing::warn!(
                job = id,
                validator = operator,
                "attestation signature refused"
            );
            return;
        }
        let was_escalated = escalated(&job.verdicts);
        let job = self.jobs.get_mut(&id).expect("checked");
        // It answered: whatever it is asked next goes to it at once.
        job.sent.remove(operator);
        job.verdicts.insert(operator.to_string(), att.clone());
        job.rec.attestations = job.verdicts.values().cloned().collect();
        let Some(verdict) = self.decision(id, Instant::now()) else {
            self.persist(id);
            if !was_escalated && self.jobs.get(&id).is_some_and(|j| escalated(&j.verdicts)) {
                tracing::warn!(
                    job = id,
                    validator = operator,
                    "a validator attested the result invalid: every validator re-executes it"
                );
                self.metrics.escalated.inc();
                self.fan_out(id, None);
            }
            return;
        };
        self.decide(id, verdict);
    }

    /// Ends verification with the verdict the votes reached.
    fn decide(&mut self, id: u64, verdict: havn_types::Verdict) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        match verdict {
            havn_types::Verdict::Valid => {
                job.rec.state = JobState::Verified as i32;
                self.metrics.verified.inc();
            }
            havn_types::Verdict::Invalid => {
                job.rec.state = JobState::Failed as i32;
                job.rec.reason = "a validator quorum attested the result invalid".into();
                job.ended_at = Some(Instant::now());
                self.metrics.failed.inc();
            }
        }
        let uncounted = self.uncounted.remove(&id).unwrap_or_default();
        if verdict == havn_types::Verdict::Invalid {
            for (operator, att, check) in uncounted {
                self.report_false(&operator, id, &att, (havn_types::Verdict::Valid, check));
            }
        }
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if let Some(t) = job.result_at {
            self.metrics
                .verify_seconds
                .observe(t.elapsed().as_secs_f64());
        }
        self.metrics
            .end_to_end_seconds
            .observe(job.queued_at.elapsed().as_secs_f64());
        job.rec.in_settlement = true;
        self.decided.push(id);
        self.decided_since.get_or_insert(Instant::now());
        self.changed(id);
        if self.decided.len() >= self.cfg.settlement_batch {
            self.settle();
        }
    }

    /// The verdict the job's votes reach, if any, by the execution log's rules. A Valid quorum of
    /// structural votes also waits for every connected validator's answer (or `verify_retry_ms`),
    /// so a drawn validator's slower re-execution is heard before the job is settled.
    fn decision(&self, id: u64, now: Instant) -> Option<havn_types::Verdict> {
        let job = self.jobs.get(&id)?;
        let validators = self.operators.validators();
        let total: u128 = validators.iter().map(|v| v.validator_stake).sum();
        let stake_of = |name: &str| {
            validators
                .iter()
                .find(|v| v.address == name)
                .map_or(0, |v| v.validator_stake)
        };
        let ballots: Vec<havn_types::Ballot> = job
            .verdicts
            .iter()
            .filter_map(|(name, a)| {
                let (verdict, check) = vote_of(a)?;
                Some((verdict, check, stake_of(name).into()))
            })
            .collect();
        use havn_types::{Decision, Verdict::Invalid, Verdict::Valid};
        match havn_types::decide(&ballots, total.into(), self.quorum.0, self.quorum.1, false) {
            Decision::Invalid => Some(Invalid),
            Decision::Upheld | Decision::Valid { reexecuted: true } => Some(Valid),
            Decision::Valid { reexecuted: false } => {
                let heard_all = self.validators.keys().all(|v| job.verdicts.contains_key(v));
                let waited = job.verifying_since.is_some_and(|t| {
                    now.duration_since(t) >= Duration::from_millis(self.cfg.verify_retry_ms)
                });
                (heard_all || waited).then_some(Valid)
            }
            Decision::Disputed | Decision::Undecided => None,
        }
    }

    /// A vote on a job already decided. A re-executed Valid for a result the validators proved
    /// invalid is a false attestation however late it comes (a colluder slower than the honest
    /// quorum must not escape): signed by the validator's key, it goes to the evidence sink once.
    fn late_vote(
        &mut self,
        operator: &str,
        id: u64,
        att: &Attestation,
        vote: (havn_types::Verdict, havn_types::Check),
    ) {
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        // Failed by a validator quorum (decided, then batched), not for running out of time; or
        // refunded once the chain took that verdict (a colluder slower than the batch).
        let proven_invalid = match job.state() {
            JobState::Failed => job.rec.settlement_id != 0 || self.decided.contains(&id),
            JobState::Refunded => {
                job.rec.in_settlement
                    && self.decision(id, Instant::now()) == Some(havn_types::Verdict::Invalid)
            }
            _ => false,
        };
        if proven_invalid {
            self.report_false(operator, id, att, vote);
        }
    }

    /// Hands a re-executed Valid for a result proven invalid to the evidence sink, once per
    /// (job, validator), if its signature is the validator's.
    fn report_false(
        &mut self,
        operator: &str,
        id: u64,
        att: &Attestation,
        vote: (havn_types::Verdict, havn_types::Check),
    ) {
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        if vote.0 != havn_types::Verdict::Valid || !vote.1.reexecuted() {
            return;
        }
        let (Some(op), Some(tx)) = (self.operators.get(operator), &self.false_attestation_tx)
        else {
            return;
        };
        let signed = attestation_digest(&self.cfg, &job.rec, vote)
            .is_some_and(|d| keys::verify(&op.pubkey, &d, &att.signature));
        if !signed || !self.reported_false.insert((id, operator.to_string())) {
            return;
        }
        tracing::warn!(
            job = id,
            validator = operator,
            "a re-executed Valid for a result proven invalid"
        );
        let _ = tx.send(FalseAttestation {
            validator: operator.to_string(),
            pubkey: op.pubkey.clone().into(),
            job_id: id,
            check: vote.1,
            signature: att.signature.clone().into(),
        });
    }

    /// `second` contradicts `first`, both by `operator` for job `id`: if both signatures are its
    /// key's, that is slashable evidence, handed to the evidence sink once.
    fn double_signed(&mut self, operator: &str, id: u64, first: Attestation, second: Attestation) {
        let Some(op) = self.operators.get(operator) else {
            return;
        };
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        let (Some(v1), Some(v2), Some(workflow), Some(output)) = (
            vote_of(&first),
            vote_of(&second),
            job.rec.workflow.as_ref(),
            job.rec.output.as_ref(),
        ) else {
            return;
        };
        let signed = |v, a: &Attestation| {
            attestation_digest(&self.cfg, &job.rec, v)
                .is_some_and(|d| keys::verify(&op.pubkey, &d, &a.signature))
        };
        if !signed(v1, &first) || !signed(v2, &second) {
            return;
        }
        if !self.reported.insert((id, operator.to_string())) {
            return;
        }
        tracing::warn!(
            job = id,
            validator = operator,
            "validator signed two verdicts for one job: reporting double-sign"
        );
        let output_hash = cosmwasm_std::HexBinary::from(output.output_hash.as_slice());
        let signed_verdict = |(verdict, check), a: &Attestation| havn_staking::msg::SignedVerdict {
            output_hash: output_hash.clone(),
            verdict,
            check,
            signature: a.signature.clone().into(),
        };
        let evidence = DoubleSignEvidence {
            validator: operator.to_string(),
            pubkey: op.pubkey.clone().into(),
            job_id: id,
            workflow_id: workflow.workflow_id,
            version_hash: workflow.version_hash.clone().into(),
            node: output.node.clone(),
            input_hash: job.rec.input_hash.clone().into(),
            first: signed_verdict(v1, &first),
            second: signed_verdict(v2, &second),
        };
        self.metrics.double_signs.inc();
        if let Some(tx) = &self.evidence_tx {
            let _ = tx.send(evidence);
        }
    }

    /// Forms a settlement batch of every decided job (valid ones become SETTLED; invalid ones
    /// stay FAILED but are in the batch, for the chain's fraud slash).
    pub fn settle(&mut self) -> Option<SettlementBatch> {
        if self.decided.is_empty() && self.redriven.is_empty() {
            return None;
        }
        let id = self.next_settlement;
        self.next_settlement += 1;
        let mut batch = SettlementBatch {
            id,
            created_ms: now_ms(),
            jobs: vec![],
        };
        let decided = std::mem::take(&mut self.decided);
        self.decided_since = None;
        let mut writes = Vec::new();
        let on_chain = self.on_chain;
        for job_id in decided {
            let Some(job) = self.jobs.get_mut(&job_id) else {
                continue;
            };
            batch.jobs.push(settled_job(&job.rec));
            job.rec.settlement_id = id;
            if job.state() == JobState::Verified {
                job.rec.state = JobState::Settled as i32;
                self.metrics.settled.inc();
            }
            if job.ended(on_chain) {
                job.ended_at = Some(Instant::now());
            }
            let _ = job.events.send(job.event(on_chain));
            writes.push(Write::Job(Box::new(job.rec.clone())));
        }
        for redriven in std::mem::take(&mut self.redriven) {
            if let Some(job) = self.jobs.get_mut(&redriven.job_id) {
                job.rec.settlement_id = id;
                let _ = job.events.send(job.event(on_chain));
                writes.push(Write::Job(Box::new(job.rec.clone())));
            }
            batch.jobs.push(redriven);
        }
        writes.push(Write::Settlement(batch.clone()));
        writes.push(Write::Meta("next_settlement", self.next_settlement));
        self.store.write_later(writes);
        tracing::info!(
            batch = id,
            jobs = batch.jobs.len(),
            "settlement batch formed"
        );
        if let Some(tx) = &self.settled_tx {
            let _ = tx.send(batch.clone());
        }
        Some(batch)
    }

    // ---- time ----

    /// Liveness, leases, deadlines, verification retries, settlement and memory upkeep.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let silent = Duration::from_millis(self.cfg.heartbeat_interval_ms * 3);
        let dead: Vec<(String, u64)> = self
            .nodes
            .iter()
            .filter(|(_, n)| now.duration_since(n.last_seen) > silent)
            .map(|(name, n)| (name.clone(), n.conn))
            .collect();
        for (name, conn) in dead {
            if let Some(n) = self.nodes.get(&name) {
                let _ = n.tx.try_send(Err(Status::unavailable(
                    "no heartbeat for three intervals; reconnect",
                )));
            }
            self.node_gone(&name, conn, "silent for three heartbeat intervals");
        }
        let now_unix = now_ms();
        let retry = Duration::from_millis(self.cfg.verify_retry_ms);
        let retention = Duration::from_millis(self.cfg.retention_ms);
        let mut expired_leases = Vec::new();
        let mut past_deadline = Vec::new();
        let mut verify_again = Vec::new();
        let mut waited = Vec::new();
        let mut evict = Vec::new();
        for (id, j) in &self.jobs {
            let state = j.state();
            if j.ended(self.on_chain) {
                // Watchers or not: one that stopped reading must not pin the job (its stream
                // still gets the last event, which it holds).
                if j.ended_at
                    .is_some_and(|t| now.duration_since(t) > retention)
                {
                    evict.push(*id);
                }
                continue;
            }
            // Only a job not yet decided can miss its deadline (a settled one waits for the
            // chain's verdict, which has its own windows).
            let undecided = matches!(
                state,
                JobState::Queued | JobState::Assigned | JobState::Result
            );
            if undecided && now_unix > j.rec.deadline_ms {
                past_deadline.push(*id);
            } else if state == JobState::Assigned && j.lease_until.is_some_and(|l| now > l) {
                expired_leases.push(*id);
            } else if state == JobState::Result
                && j.result_at.is_some_and(|t| now.duration_since(t) > retry)
            {
                verify_again.push(*id);
            }
            if state == JobState::Result
                && j.verifying_since
                    .is_some_and(|t| now.duration_since(t) >= retry)
            {
                waited.push(*id);
            }
        }
        for id in expired_leases {
            let node = self
                .jobs
                .get(&id)
                .map(|j| j.rec.node.clone())
                .unwrap_or_default();
            if let Some(n) = self.nodes.get_mut(&node) {
                n.running.remove(&id);
                let _ = n.tx.try_send(Ok(RouterMessage {
                    body: Some(router_message::Body::Cancel(Cancel { job_id: id })),
                }));
            }
            self.strike(&node, id);
            self.requeue(id, "its lease expired", true);
        }
        for id in past_deadline {
            let Some(job) = self.jobs.get_mut(&id) else {
                continue;
            };
            let node = std::mem::take(&mut job.rec.node);
            job.rec.state = JobState::Failed as i32;
            job.rec.reason = "the deadline passed before a validator quorum decided".into();
            job.ended_at = Some(now);
            self.queue.retain(|q| *q != id);
            if let Some(n) = self.nodes.get_mut(&node) {
                n.running.remove(&id);
            }
            self.metrics.failed.inc();
            self.changed(id);
        }
        for id in verify_again {
            if let Some(j) = self.jobs.get_mut(&id) {
                j.result_at = Some(now);
            }
            self.fan_out(id, None);
        }
        // A Valid quorum that waited `verify_retry_ms` for a validator which never answered (a
        // job past its deadline above is no longer in RESULT).
        for id in waited {
            if self
                .jobs
                .get(&id)
                .is_some_and(|j| j.state() == JobState::Result)
            {
                if let Some(verdict) = self.decision(id, now) {
                    self.decide(id, verdict);
                }
            }
        }
        for id in evict {
            self.jobs.remove(&id);
            self.uncounted.remove(&id);
        }
        if self
            .pruned_at
            .is_none_or(|t| now.duration_since(t) >= PRUNE_EVERY)
        {
            self.pruned_at = Some(now);
            self.store.write_later(vec![Write::Prune {
                before_ms: now_unix.saturating_sub(self.cfg.store_retention_ms),
                on_chain: self.on_chain,
            }]);
        }
        if self.decided_since.is_some_and(|t| {
            now.duration_since(t) >= Duration::from_millis(self.cfg.settlement_interval_ms)
        }) {
            self.settle();
        }
        self.dispatch();
        self.update_gauges();
    }

    fn update_gauges(&self) {
        let mut running = 0;
        let mut waiting_verdict = 0;
        for j in self.jobs.values() {
            match j.state() {
                JobState::Assigned => running += 1,
                JobState::Result => waiting_verdict += 1,
                _ => {}
            }
        }
        self.metrics.running.set(running);
        self.metrics.verifying.set(waiting_verdict);
        self.metrics.waiting.set(self.queue.len() as u64);
        self.metrics.nodes.set(self.nodes.len() as u64);
        self.metrics.validators.set(self.validators.len() as u64);
    }

    /// (node, running jobs) for the per-node load gauge.
    pub fn node_load(&self) -> Vec<(String, u64)> {
        self.nodes
            .iter()
            .map(|(n, e)| (n.clone(), e.running.len() as u64))
            .collect()
    }

    /// Stop taking jobs; tell nodes and validators to finish up.
    pub fn drain(&mut self) {
        self.draining = true;
        for n in self.nodes.values() {
            let _ = n.tx.try_send(Ok(RouterMessage {
                body: Some(router_message::Body::Drain(Default::default())),
            }));
        }
        self.settle();
    }

    /// Closes every stream (so the server can finish shutting down).
    pub fn close_streams(&mut self) {
        for n in self.nodes.values() {
            let _ =
                n.tx.try_send(Err(Status::unavailable("router is shutting down")));
        }
        for v in self.validators.values() {
            let _ =
                v.tx.try_send(Err(Status::unavailable("router is shutting down")));
        }
        self.nodes.clear();
        self.validators.clear();
    }

    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Jobs held in memory (unfinished, or ended less than `retention_ms` ago).
    pub fn jobs_held(&self) -> usize {
        self.jobs.len()
    }
}

/// An attestation's verdict and check, as signed; `None` for an unknown verdict.
pub fn vote_of(a: &Attestation) -> Option<(havn_types::Verdict, havn_types::Check)> {
    let verdict = match Verdict::try_from(a.verdict) {
        Ok(Verdict::Valid) => havn_types::Verdict::Valid,
        Ok(Verdict::Invalid) => havn_types::Verdict::Invalid,
        _ => return None,
    };
    Some((
        verdict,
        havn_types::Check::from_byte(u8::try_from(a.check).ok()?),
    ))
}

/// Whether any validator said Invalid: the job is then decided by re-executions only.
fn escalated(verdicts: &BTreeMap<String, Attestation>) -> bool {
    verdicts
        .values()
        .any(|a| vote_of(a).is_some_and(|(v, _)| v == havn_types::Verdict::Invalid))
}

/// The attestation digest for a job's result with this verdict and check, as the execution log
/// recomputes it.
pub fn attestation_digest(
    cfg: &RouterConfig,
    rec: &JobRecord,
    (verdict, check): (havn_types::Verdict, havn_types::Check),
) -> Option<[u8; 32]> {
    let workflow = rec.workflow.as_ref()?;
    let output = rec.output.as_ref()?;
    Some(
        havn_types::Attestation {
            chain_id: &cfg.chain_id,
            execution_log: &cfg.execution_log,
            job_id: rec.id,
            workflow_id: workflow.workflow_id,
            version_hash: workflow.version_hash.as_slice().try_into().ok()?,
            node: &output.node,
            input_hash: rec.input_hash.as_slice().try_into().ok()?,
            output_hash: output.output_hash.as_slice().try_into().ok()?,
            verdict,
            check,
        }
        .digest()
        .0,
    )
}

#[cfg(test)]
mod tests {
    //! The scheduler as a state machine: random sequences of submits, node connects and deaths,
    //! results, failures, attestations, cancels and clock ticks, with the invariants checked after
    //! every step.

    use std::collections::BTreeMap;

    use havn_mesh_common::operators::{FileOperators, Operator};
    use havn_mesh_proto::v1::{
        submit_job_request, ChainOutcome, RuntimeInfo, TaskAttestation, WorkflowRef,
    };
    use havn_types::mesh::ResultClaim;
    use k256::ecdsa::SigningKey;
    use proptest::prelude::*;

    use super::*;

    const NODES: usize = 3;
    const VALIDATORS: usize = 4;
    const SLOTS: u32 = 2;

    fn key(name: &str) -> SigningKey {
        SigningKey::from_slice(&sha256(name.as_bytes())).unwrap()
    }

    /// The address of the "caller" key, which the test jobs are submitted with.
    fn caller() -> String {
        havn_chain::address_of(&keys::pubkey(&key("caller")), "havn")
            .unwrap()
            .to_string()
    }

    /// `signer`'s key and its signature cancelling job `id`.
    fn cancel_signature(cfg: &RouterConfig, id: u64, signer: &str) -> (Vec<u8>, Vec<u8>) {
        let digest = havn_types::mesh::cancel_digest(&cfg.chain_id, &cfg.execution_log, id);
        (
            keys::pubkey(&key(signer)),
            keys::sign(&key(signer), &digest),
        )
    }

    /// One handler's panic must not take the router down (issue 16, item 1).
    #[test]
    fn a_panic_under_the_lock_does_not_poison_the_router() {
        let World { core, _dir, .. } = world();
        let core = Arc::new(std::sync::Mutex::new(core));
        let held = core.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = lock(&held);
            panic!("a handler's bug");
        })
        .join();
        assert!(panicked.is_err() && core.is_poisoned());
        let mut c = lock(&core);
        c.tick();
        assert_eq!(c.queue_len(), 0);
    }

    /// An operator set a test can change under a running router, as a slash or jail does.
    struct Live(std::sync::RwLock<FileOperators>);

    impl OperatorSet for Live {
        fn get(&self, address: &str) -> Option<Operator> {
            self.0.read().unwrap().get(address)
        }
        fn validators(&self) -> Vec<Operator> {
            self.0.read().unwrap().validators()
        }
        fn node_stake_unit(&self) -> u128 {
            self.0.read().unwrap().node_stake_unit()
        }
    }

    /// A node that loses its stake while connected (slashed and jailed for a fake) gets no new
    /// job; the same node bonded again does.
    #[test]
    fn a_node_jailed_while_connected_gets_no_new_job() {
        let dir = tempfile::tempdir().unwrap();
        let node = |stake| Operator {
            address: "node-0".into(),
            pubkey: keys::pubkey(&key("node-0")),
            node_stake: stake,
            validator_stake: 0,
        };
        let set = Arc::new(Live(std::sync::RwLock::new(FileOperators::from_operators(
            [node(1)],
        ))));
        let cfg = RouterConfig {
            data_dir: dir.path().to_path_buf(),
            ..RouterConfig::default()
        };
        let store = Store::open(dir.path()).unwrap();
        let mut core =
            Core::recover(Arc::new(cfg), set.clone(), store, Arc::default(), false).unwrap();
        let (tx, _rx) = mpsc::channel(16);
        core.node_connected("node-0", tx, 4, vec![], vec![]);
        let submit = |core: &mut Core, n: u8| {
            let req = SubmitJobRequest {
                workflow: Some(WorkflowRef {
                    workflow_id: 1,
                    version_hash: vec![7; 32],
                }),
                input: Some(submit_job_request::Input::InlineInput(vec![n])),
                caller: caller(),
                ..Default::default()
            };
            core.submit(req, vec![n], "builtin:digest".into())
                .unwrap()
                .0
        };
        let state = |core: &Core, id| core.jobs[&id].state();
        let first = submit(&mut core, 1);
        assert_eq!(state(&core, first), JobState::Assigned);
        *set.0.write().unwrap() = FileOperators::from_operators([node(0)]);
        let second = submit(&mut core, 2);
        core.dispatch();
        assert_eq!(
            state(&core, second),
            JobState::Queued,
            "leased to a jailed node"
        );
        assert_eq!(state(&core, first), JobState::Assigned, "its lease stands");
        *set.0.write().unwrap() = FileOperators::from_operators([node(1)]);
        core.dispatch();
        assert_eq!(state(&core, second), JobState::Assigned);
    }

    /// After a restart on chain, settled and recorded jobs are still followed (their deadline
    /// has passed, which must not fail them: the chain's windows decide now), recorded ones are
    /// handed back to the finalizer, and ended ones stay in the store only.
    #[tokio::test]
    async fn a_restart_on_chain_keeps_following_the_chains_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = |id, state: JobState, window_ends| JobRecord {
            id,
            state: state as i32,
            deadline_ms: 1,
            in_settlement: true,
            settlement_id: 1,
            chain: (window_ends > 0).then(|| ChainOutcome {
                outcome: "recorded".into(),
                window_ends,
                ..Default::default()
            }),
            ..Default::default()
        };
        let writes = vec![
            Write::Job(Box::new(rec(1, JobState::Settled, 0))),
            Write::Job(Box::new(rec(2, JobState::Recorded, 150))),
            Write::Job(Box::new(rec(3, JobState::Paid, 0))),
            Write::Job(Box::new(rec(4, JobState::Failed, 0))),
        ];
        store.write(writes).await.unwrap().unwrap();
        let cfg = Arc::new(RouterConfig {
            data_dir: dir.path().to_path_buf(),
            ..RouterConfig::default()
        });
        let ops: Arc<dyn OperatorSet> = Arc::new(FileOperators::from_operators([]));
        let mut core = Core::recover(
            cfg.clone(),
            ops.clone(),
            store.clone(),
            Arc::default(),
            true,
        )
        .unwrap();
        core.tick();
        let mut held: Vec<(u64, JobState)> =
            core.jobs.iter().map(|(id, j)| (*id, j.state())).collect();
        held.sort_unstable_by_key(|(id, _)| *id);
        assert_eq!(
            held,
            [
                (1, JobState::Settled),
                (2, JobState::Recorded),
                (4, JobState::Failed)
            ]
        );
        assert_eq!(core.recorded_waiting(), vec![(2, 150)]);
        assert!(!core.get(1).unwrap().done && core.get(2).unwrap().chain.is_some());
        // The chain's verdict ends them.
        core.chain_outcomes(vec![(
            4,
            ChainOutcome {
                outcome: "invalid".into(),
                ..Default::default()
            },
        )]);
        let refunded = core.get(4).unwrap();
        assert_eq!(refunded.state, JobState::Refunded as i32);
        assert!(refunded.done && refunded.reason.contains("proven invalid"));
        // Without a chain, the same store holds nothing unfinished.
        drop(core);
        let core = Core::recover(cfg, ops, store, Arc::default(), false).unwrap();
        assert!(core.jobs.is_empty());
    }

    /// A disputed job is followed to its end: it waits out each window (dispute, then
    /// arbitration) in the finalizer's queue, across a restart too, and the stream ends only on
    /// PAID or REFUNDED.
    #[tokio::test]
    async fn a_disputed_job_is_followed_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = |id| JobRecord {
            id,
            state: JobState::Recorded as i32,
            deadline_ms: 1,
            in_settlement: true,
            settlement_id: 1,
            chain: Some(ChainOutcome {
                outcome: "recorded".into(),
                window_ends: 100,
                ..Default::default()
            }),
            ..Default::default()
        };
        let writes = vec![Write::Job(Box::new(rec(1))), Write::Job(Box::new(rec(2)))];
        store.write(writes).await.unwrap().unwrap();
        let cfg = Arc::new(RouterConfig {
            data_dir: dir.path().to_path_buf(),
            ..RouterConfig::default()
        });
        let ops: Arc<dyn OperatorSet> = Arc::new(FileOperators::from_operators([]));
        let recover = |store: &Store| {
            Core::recover(
                cfg.clone(),
                ops.clone(),
                store.clone(),
                Arc::default(),
                true,
            )
            .unwrap()
        };
        let mut core = recover(&store);
        let outcome = |outcome: &str, window_ends| ChainOutcome {
            outcome: outcome.into(),
            window_ends,
            ..Default::default()
        };
        core.chain_outcomes(vec![
            (1, outcome("disputed", 200)),
            (2, outcome("disputed", 200)),
        ]);
        for id in [1, 2] {
            let e = core.get(id).unwrap();
            assert_eq!(e.state, JobState::Disputed as i32);
            assert!(!e.done, "a dispute is not the end");
        }
        let mut waiting = core.recorded_waiting();
        waiting.sort_unstable();
        assert_eq!(waiting, vec![(1, 200), (2, 200)]);
        // The dispute window passes without a quorum: arbitration, with its own window.
        core.chain_outcomes(vec![(1, outcome("arbitration", 300))]);
        let e = core.get(1).unwrap();
        assert!(
            !e.done && e.reason.contains("governance arbitrates"),
            "{e:?}"
        );
        // A restart keeps both in the finalizer's queue (the writer commits in order: an
        // acknowledged write means the ones queued before it are in).
        drop(core);
        store.write(vec![]).await.unwrap().unwrap();
        let mut core = recover(&store);
        let mut waiting = core.recorded_waiting();
        waiting.sort_unstable();
        assert_eq!(waiting, vec![(1, 300), (2, 200)]);
        // Arbitration times out (refund); re-executions uphold the other (paid).
        core.chain_outcomes(vec![(1, outcome("refunded", 0)), (2, outcome("valid", 0))]);
        let (refunded, paid) = (core.get(1).unwrap(), core.get(2).unwrap());
        assert_eq!(refunded.state, JobState::Refunded as i32);
        assert_eq!(paid.state, JobState::Paid as i32);
        assert!(refunded.done && paid.done);
        assert!(core.recorded_waiting().is_empty());
    }

    /// Issue 15, audits: a recorded job whose node never proved it was not an audit is refunded
    /// at its window's end (`unproven`), and the stream ends there with that reason.
    #[tokio::test]
    async fn a_recorded_job_its_node_never_proved_ends_refunded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = JobRecord {
            id: 1,
            state: JobState::Recorded as i32,
            deadline_ms: 1,
            in_settlement: true,
            settlement_id: 1,
            chain: Some(ChainOutcome {
                outcome: "recorded".into(),
                window_ends: 100,
                ..Default::default()
            }),
            ..Default::default()
        };
        store
            .write(vec![Write::Job(Box::new(rec))])
            .await
            .unwrap()
            .unwrap();
        let cfg = Arc::new(RouterConfig {
            data_dir: dir.path().to_path_buf(),
            ..RouterConfig::default()
        });
        let ops: Arc<dyn OperatorSet> = Arc::new(FileOperators::from_operators([]));
        let mut core = Core::recover(cfg, ops, store, Arc::default(), true).unwrap();
        core.chain_outcomes(vec![(
            1,
            ChainOutcome {
                outcome: "unproven".into(),
                ..Default::default()
            },
        )]);
        let e = core.get(1).unwrap();
        assert_eq!(e.state, JobState::Refunded as i32);
        assert!(e.done && e.reason.contains("never proved"), "{e:?}");
        assert!(core.recorded_waiting().is_empty());
    }

    /// Issue 16, item 3: the nodes that failed a job are part of its record, so a router
    /// restart does not hand the job back to them.
    #[tokio::test]
    async fn a_job_a_node_failed_does_not_go_back_to_it_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = JobRecord {
            id: 1,
            state: JobState::Queued as i32,
            deadline_ms: u64::MAX / 2,
            attempt: 1,
            failed_on: vec!["node-0".into()],
            ..Default::default()
        };
        store
            .write(vec![Write::Job(Box::new(rec))])
            .await
            .unwrap()
            .unwrap();
        let ops = ["node-0", "node-1"].map(|address| Operator {
            address: address.into(),
            pubkey: keys::pubkey(&key(address)),
            node_stake: 1,
            validator_stake: 0,
        });
        let cfg = Arc::new(RouterConfig {
            data_dir: dir.path().to_path_buf(),
            ..RouterConfig::default()
        });
        let ops: Arc<dyn OperatorSet> = Arc::new(FileOperators::from_operators(ops));
        let mut core = Core::recover(cfg, ops, store, Arc::default(), false).unwrap();
        let (tx0, _rx0) = mpsc::channel(4);
        core.node_connected("node-0", tx0, 4, vec![], vec![]);
        assert_eq!(core.jobs[&1].state(), JobState::Queued, "not to node-0");
        let (tx1, _rx1) = mpsc::channel(4);
        core.node_connected("node-1", tx1, 4, vec![], vec![]);
        assert_eq!(core.jobs[&1].rec.node, "node-1");
    }

    /// Issue 16, item 8: a validator still checking a task is not sent it again at the next
    /// verify retry; it is after it reconnects, and the escalated task goes at once.
    #[test]
    fn a_verify_task_is_not_resent_to_a_validator_still_checking_it() {
        let mut w = world();
        let (tx, mut rx) = mpsc::channel(64);
        w.core.validator_connected("validator-0", tx);
        for op in [Op::Submit, Op::Connect(0), Op::Complete(0)] {
            apply(&mut w, &op);
        }
        let id = w.submitted[0];
        assert!(!rx.try_recv().unwrap().unwrap().escalated);
        // The retries within RESEND_AFTER intervals send nothing to the same connection.
        w.core.fan_out(id, None);
        w.core.fan_out(id, None);
        assert!(
            rx.try_recv().is_err(),
            "resent to a validator still checking it"
        );
        // Sent long enough ago: it goes again (the first copy may have been dropped).
        let long_ago = Instant::now()
            .checked_sub(Duration::from_millis(
                w.core.cfg.verify_retry_ms * RESEND_AFTER + 1,
            ))
            .expect("the clock is past it");
        w.core
            .jobs
            .get_mut(&id)
            .unwrap()
            .sent
            .get_mut("validator-0")
            .unwrap()
            .2 = long_ago;
        w.core.fan_out(id, None);
        assert!(rx.try_recv().is_ok());
        // A new connection holds nothing: it gets the task once.
        let (tx, mut rx) = mpsc::channel(64);
        w.core.validator_connected("validator-0", tx);
        assert!(rx.try_recv().is_ok());
        w.core.fan_out(id, None);
        assert!(rx.try_recv().is_err());
    }

    /// Issue 16, item 8: a watcher that stopped reading does not pin an ended job in memory
    /// past retention; it still gets the last event, then the end of the stream; and one job
    /// takes no more than `max_watchers_per_job` streams.
    #[test]
    fn a_stalled_watcher_does_not_pin_an_ended_job() {
        let mut w = world();
        apply(&mut w, &Op::Submit);
        let id = w.submitted[0];
        let (_, mut stalled) = w.core.watch(id).unwrap().unwrap();
        let (pk, sig) = cancel_signature(&w.core.cfg, id, "caller");
        w.core.cancel(id, &pk, &sig).unwrap();
        let past = Instant::now()
            .checked_sub(Duration::from_millis(w.core.cfg.retention_ms + 1))
            .expect("the clock is past it");
        w.core.jobs.get_mut(&id).unwrap().ended_at = Some(past);
        w.core.tick();
        assert!(!w.core.jobs.contains_key(&id), "pinned by a watcher");
        assert_eq!(
            stalled.try_recv().unwrap().state,
            JobState::Cancelled as i32
        );
        assert!(matches!(
            stalled.try_recv(),
            Err(broadcast::error::TryRecvError::Closed)
        ));
        // Watchers per job are bounded.
        apply(&mut w, &Op::Submit);
        let id = w.submitted[1];
        let held: Vec<_> = (0..w.core.cfg.max_watchers_per_job)
            .map(|_| w.core.watch(id).unwrap().unwrap())
            .collect();
        let e = w.core.watch(id).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        drop(held);
        assert!(w.core.watch(id).unwrap().is_some());
    }

    /// Issue 16, item 8: the quorum is the execution log's once set (governance raised it to
    /// every validator here): three Valid votes of four no longer decide; the fourth does.
    #[test]
    fn jobs_are_decided_by_the_quorum_the_log_sets() {
        use havn_types::Check;
        let mut w = world();
        for op in [Op::Submit, Op::Connect(0), Op::Complete(0)] {
            apply(&mut w, &op);
        }
        w.core.set_quorum(10_000, 4);
        let id = w.submitted[0];
        for v in 0..VALIDATORS {
            assert_eq!(
                w.core.jobs[&id].state(),
                JobState::Result,
                "decided by {v} votes"
            );
            vote(
                &mut w,
                id,
                v,
                havn_types::Verdict::Valid,
                Check::Reexecuted { rung: 1 },
            );
        }
        assert_eq!(w.core.jobs[&id].state(), JobState::Verified);
    }

    /// Validator `v`'s signed vote on job `id`'s result.
    fn vote(
        w: &mut World,
        id: u64,
        v: usize,
        verdict: havn_types::Verdict,
        check: havn_types::Check,
    ) {
        let rec = w.core.jobs[&id].rec.clone();
        let output = rec.output.clone().unwrap();
        let name = format!("validator-{v}");
        let digest = attestation_digest(&w.core.cfg, &rec, (verdict, check)).unwrap();
        let proto = match verdict {
            havn_types::Verdict::Valid => Verdict::Valid,
            havn_types::Verdict::Invalid => Verdict::Invalid,
        };
        w.core.attestation(
            &name,
            TaskAttestation {
                job_id: id,
                attempt: output.attempt,
                output_hash: output.output_hash.clone(),
                attestation: Some(Attestation {
                    validator: name.clone(),
                    verdict: proto as i32,
                    signature: keys::sign(&key(&name), &digest),
                    reason: String::new(),
                    check: u32::from(check.byte()),
                }),
                reexecuted: check.reexecuted(),
            },
        );
    }

    fn digest_job(core: &mut Core, n: u32) -> u64 {
        let req = SubmitJobRequest {
            workflow: Some(WorkflowRef {
                workflow_id: 1,
                version_hash: vec![7; 32],
            }),
            input: Some(submit_job_request::Input::InlineInput(
                n.to_be_bytes().to_vec(),
            )),
            caller: caller(),
            ..Default::default()
        };
        core.submit(req, n.to_be_bytes().to_vec(), "builtin:digest".into())
            .unwrap()
            .0
    }

    /// Issue 16, item 3: a node declaring a million slots holds only its stake's share: 16 slots
    /// per unit of stake (the smallest node stake), and never more than `max_node_slots`; the rest
    /// wait for other nodes. A node that loses its stake holds on to what it runs but gets no
    /// new job.
    #[test]
    fn a_node_declaring_a_million_slots_gets_no_more_than_its_share() {
        let mut w = world_staked(&[1, 3, 1_000]);
        let per_unit = w.core.cfg.slots_per_stake_unit as usize;
        let max = w.core.cfg.max_node_slots as usize;
        let mut rxs = vec![];
        for i in 0..3 {
            let (tx, rx) = mpsc::channel(4096);
            rxs.push(rx);
            w.core
                .node_connected(&format!("node-{i}"), tx, 1_000_000, vec![], vec![]);
        }
        let total = per_unit + 3 * per_unit + max;
        for n in 0..total as u32 + 50 {
            digest_job(&mut w.core, n);
        }
        let held = |w: &World, i: usize| w.core.nodes[&format!("node-{i}")].running.len();
        assert_eq!(held(&w, 0), per_unit, "one unit of stake");
        assert_eq!(held(&w, 1), 3 * per_unit, "three units");
        assert_eq!(held(&w, 2), max, "a thousand units, capped");
        assert_eq!(w.core.queue_len(), 50);
    }

    /// Issue 16, item 3: a job a node failed never goes back to it, and a node that fails is
    /// benched (its next job goes elsewhere though it is the least loaded); an accepted result
    /// clears the bench.
    #[test]
    fn a_failing_node_stops_being_chosen() {
        let mut w = world();
        let (tx0, mut rx0) = mpsc::channel(64);
        w.core.node_connected("node-0", tx0, 4, vec![], vec![]);
        let first = digest_job(&mut w.core, 1);
        assert_eq!(w.core.jobs[&first].rec.node, "node-0");
        let (tx1, _rx1) = mpsc::channel(64);
        w.core.node_connected("node-1", tx1, 4, vec![], vec![]);
        w.core.node_failed_job("node-0", first, 1, "out of memory");
        assert_eq!(w.core.jobs[&first].rec.node, "node-1", "not back to node-0");
        // node-0 is idle and node-1 busy, but node-0 is benched.
        let second = digest_job(&mut w.core, 2);
        assert_eq!(w.core.jobs[&second].rec.node, "node-1");
        assert!(w.core.strikes["node-0"].count == 1);
        // Past its bench it is chosen again, but never for the job it failed.
        w.core.strikes.get_mut("node-0").unwrap().until = Instant::now();
        let third = digest_job(&mut w.core, 3);
        assert_eq!(w.core.jobs[&third].rec.node, "node-0");
        // Failing again doubles the bench.
        while rx0.try_recv().is_ok() {}
        let attempt = w.core.jobs[&third].rec.attempt;
        w.core
            .node_failed_job("node-0", third, attempt, "out of memory");
        let s = &w.core.strikes["node-0"];
        assert_eq!(s.count, 2);
        assert!(s.until > Instant::now() + Duration::from_millis(1500));
        assert!(w.core.jobs[&third]
            .rec
            .failed_on
            .contains(&"node-0".to_string()));
    }

    /// Property 8: only the caller cancels, and only before a result exists.
    #[test]
    fn only_the_caller_cancels_and_only_before_a_result() {
        let mut w = world();
        for op in [Op::Submit, Op::Submit] {
            apply(&mut w, &op);
        }
        let (a, b) = (w.submitted[0], w.submitted[1]);
        let denied = |r: Result<(), Status>| r.unwrap_err().code();
        // Anyone else, an empty signature, or the caller's key over another job's digest.
        let (pk, sig) = cancel_signature(&w.core.cfg, a, "mallory");
        assert_eq!(
            denied(w.core.cancel(a, &pk, &sig)),
            tonic::Code::PermissionDenied
        );
        let (pk, _) = cancel_signature(&w.core.cfg, a, "caller");
        assert_eq!(
            denied(w.core.cancel(a, &pk, &[])),
            tonic::Code::PermissionDenied
        );
        let (pk, other) = cancel_signature(&w.core.cfg, b, "caller");
        assert_eq!(
            denied(w.core.cancel(a, &pk, &other)),
            tonic::Code::PermissionDenied
        );
        assert_eq!(w.core.jobs[&a].state(), JobState::Queued);
        let (pk, sig) = cancel_signature(&w.core.cfg, a, "caller");
        w.core.cancel(a, &pk, &sig).unwrap();
        assert_eq!(w.core.jobs[&a].state(), JobState::Cancelled);
        // Job b runs and returns a result: the node cannot cancel its way out, nor the caller.
        for op in [Op::Connect(0), Op::Complete(0)] {
            apply(&mut w, &op);
        }
        assert_eq!(w.core.jobs[&b].state(), JobState::Result);
        let (pk, sig) = cancel_signature(&w.core.cfg, b, "caller");
        let e = w.core.cancel(b, &pk, &sig).unwrap_err();
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        assert!(
            e.message()
                .contains("a job with a result cannot be cancelled"),
            "{}",
            e.message()
        );
        assert_eq!(w.core.jobs[&b].state(), JobState::Result);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Submit,
        Connect(usize),
        Die(usize),
        Complete(usize),
        Fail(usize),
        Attest(usize, usize),
        Cancel(usize),
        Tick,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Submit),
            2 => (0..NODES).prop_map(Op::Connect),
            1 => (0..NODES).prop_map(Op::Die),
            4 => (0..NODES).prop_map(Op::Complete),
            1 => (0..NODES).prop_map(Op::Fail),
            4 => (0..VALIDATORS, 0usize..64).prop_map(|(v, j)| Op::Attest(v, j)),
            1 => (0usize..64).prop_map(Op::Cancel),
            1 => Just(Op::Tick),
        ]
    }

    struct World {
        core: Core,
        _dir: tempfile::TempDir,
        links: BTreeMap<usize, (u64, mpsc::Receiver<Result<RouterMessage, Status>>)>,
        submitted: Vec<u64>,
        ended: BTreeMap<u64, i32>,
    }

    fn world() -> World {
        world_staked(&[1; NODES])
    }

    /// A world whose node `i` has `node_stakes[i]`.
    fn world_staked(node_stakes: &[u128]) -> World {
        world_of(node_stakes, &[1; VALIDATORS])
    }

    /// A world whose node `i` has `node_stakes[i]` and validator `i` `validator_stakes[i]`.
    fn world_of(node_stakes: &[u128], validator_stakes: &[u128]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let ops = (0..node_stakes.len())
            .map(|i| (format!("node-{i}"), node_stakes[i], 0))
            .chain(
                (0..validator_stakes.len())
                    .map(|i| (format!("validator-{i}"), 0, validator_stakes[i])),
            )
            .map(|(address, n, v)| Operator {
                pubkey: keys::pubkey(&key(&address)),
                address,
                node_stake: n,
                validator_stake: v,
            });
        let cfg = RouterConfig {
            data_dir: dir.path().to_path_buf(),
            max_attempts: 3,
            settlement_batch: 2,
            max_queue: 1_000,
            ..RouterConfig::default()
        };
        let store = Store::open(dir.path()).unwrap();
        let core = Core::recover(
            Arc::new(cfg),
            Arc::new(FileOperators::from_operators(ops)),
            store,
            Arc::default(),
            false,
        )
        .unwrap();
        World {
            core,
            _dir: dir,
            links: BTreeMap::new(),
            submitted: vec![],
            ended: BTreeMap::new(),
        }
    }

    fn apply(w: &mut World, op: &Op) {
        let core = &mut w.core;
        match *op {
            Op::Submit => {
                let req = SubmitJobRequest {
                    workflow: Some(WorkflowRef {
                        workflow_id: 1,
                        version_hash: vec![7; 32],
                    }),
                    input: Some(submit_job_request::Input::InlineInput(vec![1])),
                    caller: caller(),
                    ..Default::default()
                };
                let (id, _) = core
                    .submit(req, vec![w.submitted.len() as u8], "builtin:digest".into())
                    .unwrap();
                w.submitted.push(id);
            }
            Op::Connect(i) => {
                if let std::collections::btree_map::Entry::Vacant(slot) = w.links.entry(i) {
                    let (tx, rx) = mpsc::channel(1024);
                    let conn = core.node_connected(&format!("node-{i}"), tx, SLOTS, vec![], vec![]);
                    slot.insert((conn, rx));
                }
            }
            Op::Die(i) => {
                if let Some((conn, _)) = w.links.remove(&i) {
                    core.node_gone(&format!("node-{i}"), conn, "killed");
                }
            }
            Op::Complete(i) | Op::Fail(i) => {
                let name = format!("node-{i}");
                let Some((_, rx)) = w.links.get_mut(&i) else {
                    return;
                };
                // The oldest assignment this node still holds.
                while let Ok(Ok(msg)) = rx.try_recv() {
                    let Some(router_message::Body::Assign(a)) = msg.body else {
                        continue;
                    };
                    let held = core.jobs.get(&a.job_id).is_some_and(|j| {
                        j.rec.node == name
                            && j.rec.attempt == a.attempt
                            && j.state() == JobState::Assigned
                    });
                    if !held {
                        continue;
                    }
                    if matches!(op, Op::Fail(_)) {
                        core.node_failed_job(&name, a.job_id, a.attempt, "boom");
                        return;
                    }
                    let output = vec![a.job_id as u8, 1, 2];
                    let hash = sha256(&output);
                    let claim = ResultClaim {
                        job_id: a.job_id,
                        attempt: a.attempt,
                        output_hash: &hash,
                        executor: "builtin:digest",
                        device: "cpu",
                    };
                    let out = JobOutput {
                        output_hash: hash.to_vec(),
                        output,
                        node: name.clone(),
                        node_signature: keys::sign(&key(&name), &claim.digest()),
                        runtime: Some(RuntimeInfo {
                            executor: "builtin:digest".into(),
                            device: "cpu".into(),
                            versions: String::new(),
                        }),
                        attempt: a.attempt,
                    };
                    core.result(&name, a.job_id, out.clone());
                    // A duplicate delivery changes nothing.
                    core.result(&name, a.job_id, out);
                    return;
                }
            }
            Op::Attest(v, j) => {
                // Validators answer results: pick one waiting for verdicts.
                let waiting: Vec<u64> = w
                    .submitted
                    .iter()
                    .copied()
                    .filter(|id| {
                        core.jobs
                            .get(id)
                            .is_some_and(|j| j.state() == JobState::Result)
                    })
                    .collect();
                let Some(&id) = waiting.get(j % waiting.len().max(1)) else {
                    return;
                };
                let Some(job) = core.jobs.get(&id) else {
                    return;
                };
                let (Some(output), Some(digest)) = (
                    job.rec.output.clone(),
                    attestation_digest(
                        &core.cfg,
                        &job.rec,
                        (havn_types::Verdict::Valid, havn_types::Check::Structural),
                    ),
                ) else {
                    return;
                };
                let validator = format!("validator-{v}");
                core.attestation(
                    &validator,
                    TaskAttestation {
                        job_id: id,
                        attempt: output.attempt,
                        output_hash: output.output_hash,
                        attestation: Some(Attestation {
                            validator: validator.clone(),
                            verdict: Verdict::Valid as i32,
                            signature: keys::sign(&key(&validator), &digest),
                            reason: String::new(),
                            check: 0,
                        }),
                        reexecuted: false,
                    },
                );
            }
            Op::Cancel(j) => {
                if let Some(&id) = w.submitted.get(j % w.submitted.len().max(1)) {
                    let (pubkey, signature) = cancel_signature(&core.cfg, id, "caller");
                    let _ = core.cancel(id, &pubkey, &signature);
                }
            }
            Op::Tick => core.tick(),
        }
    }

    fn check(w: &mut World) -> Result<(), TestCaseError> {
        let core = &w.core;
        // No accepted job is ever lost.
        for id in &w.submitted {
            prop_assert!(core.jobs.contains_key(id), "job {id} vanished");
        }
        // The queue holds exactly the queued jobs, once each.
        let queued: BTreeSet<u64> = core
            .jobs
            .iter()
            .filter(|(_, j)| j.state() == JobState::Queued)
            .map(|(id, _)| *id)
            .collect();
        let in_queue: Vec<u64> = core.queue.iter().copied().collect();
        prop_assert_eq!(
            in_queue.len(),
            queued.len(),
            "duplicates or strays in the queue"
        );
        prop_assert_eq!(in_queue.iter().copied().collect::<BTreeSet<_>>(), queued);
        // Every lease is held by exactly one live node, within its slots.
        let mut leased = BTreeSet::new();
        for (name, n) in &core.nodes {
            prop_assert!(n.running.len() as u32 <= n.slots, "{name} over its slots");
            for id in &n.running {
                prop_assert!(leased.insert(*id), "job {id} leased twice");
                let j = &core.jobs[id];
                prop_assert_eq!(j.state(), JobState::Assigned);
                prop_assert_eq!(&j.rec.node, name);
            }
        }
        for (id, j) in &core.jobs {
            if j.state() == JobState::Assigned {
                prop_assert!(
                    leased.contains(id),
                    "assigned job {id} held by no live node"
                );
            }
            prop_assert!(j.rec.attempt <= 3, "job {id} past max_attempts");
            // Ended jobs stay ended, in the state they ended in.
            if let Some(state) = w.ended.get(id) {
                prop_assert_eq!(*state, j.rec.state, "job {} changed after it ended", id);
            } else if j.ended(false) {
                w.ended.insert(*id, j.rec.state);
            }
            if j.state() == JobState::Settled {
                prop_assert!(j.rec.attestations.len() >= 3, "settled without a quorum");
            }
        }
        Ok(())
    }

    /// A scripted run through every path: the invariants hold and jobs really settle, fail and
    /// get reassigned (so the random runs above are not vacuous).
    #[test]
    fn a_scripted_run_reaches_every_state() {
        let mut w = world();
        let script = [
            Op::Submit,
            Op::Submit,
            Op::Submit,
            Op::Submit,
            Op::Connect(0),
            Op::Connect(1),
            Op::Complete(0),
            Op::Die(1),
            Op::Connect(2),
            Op::Fail(2),
            Op::Complete(2),
            Op::Complete(0),
            Op::Submit,
            Op::Cancel(4),
        ];
        for op in &script {
            apply(&mut w, op);
            check(&mut w).unwrap();
        }
        for _ in 0..3 {
            for v in 0..VALIDATORS {
                apply(&mut w, &Op::Attest(v, 0));
                check(&mut w).unwrap();
            }
        }
        let states: Vec<JobState> = w
            .submitted
            .iter()
            .map(|id| w.core.jobs[id].state())
            .collect();
        assert!(states.contains(&JobState::Settled), "{states:?}");
        assert!(states.contains(&JobState::Cancelled), "{states:?}");
        assert!(
            w.core.metrics.reassigned.get() >= 1,
            "node-1's death and node-2's failure reassign"
        );
    }

    /// A validator that signs valid and then invalid for one job is reported once, with evidence
    /// whose two signatures are its key's over the two verdicts; a forged second signature is not.
    #[test]
    fn a_validator_signing_two_verdicts_is_reported_once() {
        let mut w = world();
        let (tx, mut rx) = mpsc::unbounded_channel();
        w.core.on_double_sign(tx);
        for op in [Op::Submit, Op::Connect(0), Op::Complete(0)] {
            apply(&mut w, &op);
        }
        let id = w.submitted[0];
        let rec = w.core.jobs[&id].rec.clone();
        let output = rec.output.clone().unwrap();
        let validator = "validator-1".to_string();
        let attest = |verdict: Verdict, signer: &str| {
            let v = match verdict {
                Verdict::Valid => havn_types::Verdict::Valid,
                _ => havn_types::Verdict::Invalid,
            };
            let digest =
                attestation_digest(&w.core.cfg, &rec, (v, havn_types::Check::Structural)).unwrap();
            TaskAttestation {
                job_id: id,
                attempt: output.attempt,
                output_hash: output.output_hash.clone(),
                attestation: Some(Attestation {
                    validator: validator.clone(),
                    verdict: verdict as i32,
                    signature: keys::sign(&key(signer), &digest),
                    reason: String::new(),
                    check: 0,
                }),
                reexecuted: false,
            }
        };
        let (valid, invalid, forged) = (
            attest(Verdict::Valid, &validator),
            attest(Verdict::Invalid, &validator),
            attest(Verdict::Invalid, "someone-else"),
        );
        w.core.attestation(&validator, valid.clone());
        w.core.attestation(&validator, valid);
        w.core.attestation(&validator, forged);
        assert!(
            rx.try_recv().is_err(),
            "a repeat or a forgery is no evidence"
        );
        w.core.attestation(&validator, invalid.clone());
        w.core.attestation(&validator, invalid);
        let e = rx.try_recv().expect("evidence");
        assert!(rx.try_recv().is_err(), "reported once");
        assert_eq!((e.validator.as_str(), e.job_id), (validator.as_str(), id));
        assert_eq!(
            (e.first.verdict, e.second.verdict),
            (havn_types::Verdict::Valid, havn_types::Verdict::Invalid)
        );
        let digest = |v| {
            havn_types::Attestation {
                chain_id: &w.core.cfg.chain_id,
                execution_log: &w.core.cfg.execution_log,
                job_id: e.job_id,
                workflow_id: e.workflow_id,
                version_hash: e.version_hash.as_slice().try_into().unwrap(),
                node: &e.node,
                input_hash: e.input_hash.as_slice().try_into().unwrap(),
                output_hash: e.first.output_hash.as_slice().try_into().unwrap(),
                verdict: v,
                check: havn_types::Check::Structural,
            }
            .digest()
            .0
        };
        let pubkey = keys::pubkey(&key(&validator));
        assert_eq!(e.pubkey.as_slice(), pubkey.as_slice());
        assert!(keys::verify(
            &pubkey,
            &digest(e.first.verdict),
            &e.first.signature
        ));
        assert!(keys::verify(
            &pubkey,
            &digest(e.second.verdict),
            &e.second.signature
        ));
        assert_eq!(w.core.metrics.double_signs.get(), 1);
        // The first verdict still counts; the contradiction does not.
        assert_eq!(
            w.core.jobs[&id].verdicts[&validator].verdict,
            Verdict::Valid as i32
        );
    }

    /// Property 2 in the router: one re-executed Invalid escalates the job to every validator;
    /// structural Valid votes no longer decide it; re-executions do, either way.
    #[test]
    fn one_dissent_escalates_and_only_reexecutions_decide() {
        use havn_types::Check;
        let reexecuted = Check::Reexecuted { rung: 1 };
        for invalid_wins in [false, true] {
            let mut w = world();
            let mut tasks: Vec<mpsc::Receiver<Result<VerifyTask, Status>>> = (0..VALIDATORS)
                .map(|v| {
                    let (tx, rx) = mpsc::channel(64);
                    w.core.validator_connected(&format!("validator-{v}"), tx);
                    rx
                })
                .collect();
            for op in [Op::Submit, Op::Connect(0), Op::Complete(0)] {
                apply(&mut w, &op);
            }
            let id = w.submitted[0];
            for rx in &mut tasks {
                assert!(!rx.try_recv().unwrap().unwrap().escalated);
            }
            let vote = |w: &mut World, v: usize, verdict: havn_types::Verdict, check: Check| {
                vote(w, id, v, verdict, check)
            };
            vote(&mut w, 0, havn_types::Verdict::Invalid, reexecuted);
            assert_eq!(w.core.metrics.escalated.get(), 1);
            // Validators 1-3 had not answered: each now gets the escalated task.
            for rx in &mut tasks[1..] {
                assert!(rx.try_recv().unwrap().unwrap().escalated);
            }
            // Three structural Valid votes: a quorum before, nothing now.
            for v in 1..4 {
                vote(&mut w, v, havn_types::Verdict::Valid, Check::Structural);
            }
            assert_eq!(w.core.jobs[&id].state(), JobState::Result);
            // A structural answer is not a re-execution: it is asked again.
            w.core.fan_out(id, None);
            for rx in &mut tasks[1..] {
                assert!(rx.try_recv().unwrap().unwrap().escalated);
            }
            assert!(
                tasks[0].try_recv().is_err(),
                "validator 0 already re-executed"
            );
            // Their re-executions (upgrades, not double-signs) decide.
            let verdict = match invalid_wins {
                true => havn_types::Verdict::Invalid,
                false => havn_types::Verdict::Valid,
            };
            for v in 1..4 {
                vote(&mut w, v, verdict, reexecuted);
            }
            let expected = match invalid_wins {
                true => JobState::Failed,
                false => JobState::Verified,
            };
            assert_eq!(w.core.jobs[&id].state(), expected);
            assert_eq!(w.core.metrics.double_signs.get(), 0);
            // Every validator's latest vote goes to the chain, the dissent included.
            assert_eq!(w.core.jobs[&id].rec.attestations.len(), 4);
        }
    }

    /// A colluder's re-executed Valid for a result the honest validators proved invalid is
    /// reported however late it comes: after the decision, after the chain refunded the job (the
    /// batch landed first), and from a validator jailed meanwhile, whose vote no longer counts.
    #[test]
    fn a_false_attestation_is_reported_late_refunded_or_jailed() {
        use havn_types::{Check, Verdict::Invalid, Verdict::Valid};
        let reexecuted = Check::Reexecuted { rung: 1 };
        #[derive(Debug, Clone, Copy)]
        enum When {
            Decided,
            Refunded,
            Jailed,
        }
        for when in [When::Decided, When::Refunded, When::Jailed] {
            let colluder_stake = match when {
                When::Jailed => 0,
                _ => 1,
            };
            let mut w = world_of(&[1; NODES], &[1, 1, 1, colluder_stake]);
            w.core.on_chain = true;
            let (tx, mut rx) = mpsc::unbounded_channel();
            w.core.on_false_attestation(tx);
            for op in [Op::Submit, Op::Connect(0), Op::Complete(0)] {
                apply(&mut w, &op);
            }
            let id = w.submitted[0];
            if let When::Jailed = when {
                // Its vote comes first and counts for nothing; the job is still undecided.
                vote(&mut w, id, 3, Valid, reexecuted);
                assert_eq!(w.core.jobs[&id].state(), JobState::Result);
                assert!(rx.try_recv().is_err(), "not proven invalid yet");
            }
            for v in 0..3 {
                vote(&mut w, id, v, Invalid, reexecuted);
            }
            assert_eq!(w.core.jobs[&id].state(), JobState::Failed, "{when:?}");
            match when {
                When::Decided => vote(&mut w, id, 3, Valid, reexecuted),
                When::Refunded => {
                    w.core.chain_outcomes(vec![(
                        id,
                        ChainOutcome {
                            outcome: "invalid".into(),
                            ..Default::default()
                        },
                    )]);
                    assert_eq!(w.core.jobs[&id].state(), JobState::Refunded);
                    vote(&mut w, id, 3, Valid, reexecuted);
                }
                When::Jailed => {}
            }
            let e = rx
                .try_recv()
                .unwrap_or_else(|_| panic!("{when:?}: not reported"));
            assert_eq!((e.validator.as_str(), e.job_id), ("validator-3", id));
            assert_eq!(e.check, reexecuted);
            let digest =
                attestation_digest(&w.core.cfg, &w.core.jobs[&id].rec, (Valid, reexecuted));
            assert!(keys::verify(
                e.pubkey.as_slice(),
                &digest.unwrap(),
                e.signature.as_slice()
            ));
            // Once per (job, validator), however often it repeats itself.
            vote(&mut w, id, 3, Valid, reexecuted);
            assert!(rx.try_recv().is_err(), "{when:?}: reported twice");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn the_scheduler_keeps_its_invariants(ops in proptest::collection::vec(op(), 1..120)) {
            let mut w = world();
            for op in &ops {
                apply(&mut w, op);
                check(&mut w)?;
            }

        }
    }
}
