//! Settlement on chain: each batch the quorum decided becomes one `RecordExecution` tx on the
//! execution log, signed with the router's key through cosmrs; recorded jobs are finalized (paid)
//! in batches once their challenge window has passed; a job is checked against its on-chain
//! request before it is dispatched; double-sign evidence goes to the staking contract.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use havn_chain::{ChainError, Client, TxResult, Wallet};
use havn_execution_log::msg::{ExecuteMsg as LogMsg, JobResult, NodeClaim, SignedAttestation};
use havn_execution_log::state::JobStatus;
use havn_mesh_proto::v1::{ChainOutcome, SettlementBatch, SubmitJobRequest};
use havn_staking::msg::DoubleSignEvidence;

use crate::settlement::{refused, OutcomeSink, Outcomes, SettleFuture, Settlement};

/// Why a record did not land: worth trying the same again later, or refused by the contract.
enum NotRecorded {
    Retry(String),
    Refused(String),
}

/// The log's `JobResult`s for a batch: the node's claim and every verdict the validators
/// signed (dissent included), as the contract checks them.
pub fn job_results(batch: &SettlementBatch) -> Vec<JobResult> {
    batch
        .jobs
        .iter()
        .map(|j| JobResult {
            job_id: j.job_id,
            node: j.node.clone(),
            output_hash: j.output_hash.clone().into(),
            claim: NodeClaim {
                attempt: j.attempt,
                executor: j.executor.clone(),
                device: j.device.clone(),
                signature: j.node_signature.clone().into(),
            },
            attestations: j
                .attestations
                .iter()
                .filter_map(|a| {
                    let (verdict, check) = crate::core::vote_of(a)?;
                    Some(SignedAttestation {
                        validator: a.validator.clone(),
                        verdict,
                        check,
                        signature: a.signature.clone().into(),
                    })
                })
                .collect(),
        })
        .collect()
}

/// Each job's outcome in a tx's events of type `wasm-<kind>` (`havn_job` for `RecordExecution`,
/// `havn_finalize` for `Finalize`): its outcome, reason and window, and the tx.
pub fn outcomes(tx: &TxResult, kind: &str) -> Outcomes {
    let ty = format!("wasm-{kind}");
    tx.events
        .iter()
        .filter(|(t, _)| *t == ty)
        .filter_map(|(_, attrs)| {
            let get = |k: &str| {
                attrs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            let outcome = ChainOutcome {
                outcome: get("outcome")?.to_string(),
                reason: get("reason").unwrap_or_default().to_string(),
                window_ends: get("window_ends").and_then(|h| h.parse().ok()).unwrap_or(0),
                tx_hash: tx.hash.clone(),
                height: tx.height,
            };
            Some((get("job_id")?.parse().ok()?, outcome))
        })
        .collect()
}

/// (job id, height from which it may be finalized) for each outcome that leaves a job waiting
/// out a window: recorded Valid (the challenge window: then it is paid), disputed (the dispute
/// window: then it goes to arbitration), in arbitration (then the caller is refunded), or proven
/// invalid while its node's audit proof is due (then the node is slashed unless it proved an
/// audit). A `Finalize` at each window's end moves it on; one decided meanwhile is read from its
/// status.
pub fn recorded_jobs(outcomes: &Outcomes) -> Vec<(u64, u64)> {
    outcomes
        .iter()
        .filter(|(_, o)| {
            matches!(
                o.outcome.as_str(),
                "recorded" | "disputed" | "arbitration" | "invalid"
            )
        })
        .filter(|(_, o)| o.window_ends > 0)
        .map(|(id, o)| (*id, o.window_ends))
        .collect()
}

/// The outcome a job's status on chain stands for, once it is past `Pending`.
pub fn outcome_of_status(job: &havn_execution_log::state::Job) -> Option<ChainOutcome> {
    let outcome = match job.status {
        JobStatus::Pending => return None,
        JobStatus::Recorded => "recorded",
        JobStatus::Disputed => "disputed",
        JobStatus::Arbitration => "arbitration",
        JobStatus::Valid => "valid",
        // Its node proved it an audit: a wrong answer on purpose, not a fraud.
        JobStatus::Invalid if job.audit == havn_execution_log::state::AuditState::Audit => "audit",
        JobStatus::Invalid => "invalid",
        JobStatus::Refunded => "refunded",
    };
    Some(ChainOutcome {
        outcome: outcome.into(),
        reason: "its status on chain".into(),
        window_ends: job.window_ends.unwrap_or(0),
        ..Default::default()
    })
}

/// Why the chain the router reached is not the one its config names, if it is not: validators
/// sign the configured chain id, so on another chain no attestation would verify.
pub fn chain_mismatch(configured: &str, actual: &str) -> Option<String> {
    (configured != actual).then(|| {
        format!(
            "the chain at [chain] grpc is {actual:?}, but chain_id says {configured:?}: fix one"
        )
    })
}

/// At start-up: the chain is the configured one and `execution_log` is an execution log on it.
pub async fn check_deployment(
    client: &Client,
    chain_id: &str,
    execution_log: &str,
) -> Result<(), String> {
    if let Some(why) = chain_mismatch(chain_id, client.chain_id()) {
        return Err(why);
    }
    client
        .smart::<_, havn_execution_log::msg::ConfigResponse>(
            execution_log,
            &havn_execution_log::msg::QueryMsg::Config {},
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "execution_log {execution_log:?} is not an execution log on {}: {e}",
                client.chain_id()
            )
        })
}

/// The execution log's quorum: (bps of validator stake, fewest signers).
pub async fn log_quorum(client: &Client, execution_log: &str) -> Result<(u16, u32), ChainError> {
    let p: havn_execution_log::state::Params = client
        .smart(execution_log, &havn_execution_log::msg::QueryMsg::Params {})
        .await?;
    Ok((p.quorum_bps, p.min_signers))
}

/// Keeps the core's quorum the execution log's, read every `period` (governance may change it;
/// a failed read keeps the last one).
pub async fn follow_quorum(
    client: Client,
    execution_log: String,
    core: Arc<std::sync::Mutex<crate::core::Core>>,
    period: Duration,
) {
    loop {
        match log_quorum(&client, &execution_log).await {
            Ok((bps, min)) => crate::core::lock(&core).set_quorum(bps, min),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the log's quorum; keeping the last one")
            }
        }
        tokio::time::sleep(period).await;
    }
}

/// Most jobs per `Finalize` (the log takes twice its `max_batch`, 20 by default).
const FINALIZE_BATCH: usize = 40;

pub struct ChainSettlement {
    client: Client,
    wallet: Wallet,
    execution_log: String,
    /// Where double-sign evidence goes; empty: it is only logged.
    staking: String,
    /// Recorded jobs waiting out their challenge window: (job id, finalizable from height).
    recorded: Mutex<Vec<(u64, u64)>>,
    /// Where the outcomes of finalizing go.
    outcomes: Mutex<Option<OutcomeSink>>,
    /// One tx at a time from the router's account (record, finalize, evidence share a sequence).
    sending: tokio::sync::Mutex<()>,
}

impl ChainSettlement {
    pub fn new(client: Client, wallet: Wallet, execution_log: String, staking: String) -> Self {
        ChainSettlement {
            client,
            wallet,
            execution_log,
            staking,
            recorded: Mutex::default(),
            outcomes: Mutex::default(),
            sending: tokio::sync::Mutex::new(()),
        }
    }

    /// Executes `msg` on `contract` from the router's account, one tx at a time.
    async fn send<M: serde::Serialize>(
        &self,
        contract: &str,
        msg: &M,
    ) -> Result<TxResult, ChainError> {
        let _one = self.sending.lock().await;
        self.client.execute(&self.wallet, contract, msg, &[]).await
    }

    /// The lowest height from which a waiting job may be finalized.
    fn earliest_due(&self) -> Option<u64> {
        let waiting = self.recorded.lock().expect("finalize queue");
        waiting.iter().map(|(_, h)| *h).min()
    }

    /// Pays out recorded jobs once their window has passed, polling the chain's height every
    /// `every`. Anyone may finalize; the router does it for the jobs it recorded, so nobody
    /// waits on a third party. A failed `Finalize` is retried on the next round.
    pub async fn finalize_loop(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            let earliest = self.earliest_due();
            let Some(earliest) = earliest else {
                continue;
            };
            let height = match self.client.latest_height().await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the chain height to finalize");
                    continue;
                }
            };
            if height < earliest {
                continue;
            }
            let due: Vec<u64> = self
                .recorded
                .lock()
                .expect("finalize queue")
                .iter()
                .filter(|(_, h)| *h <= height)
                .map(|(id, _)| *id)
                .take(FINALIZE_BATCH)
                .collect();
            if due.is_empty() {
                continue;
            }
            let msg = LogMsg::Finalize {
                job_ids: due.clone(),
            };
            match self.send(&self.execution_log, &msg).await {
                Ok(tx) => {
                    tracing::info!(jobs = due.len(), tx = %tx.hash, height = tx.height, gas_used = tx.gas_used, "finalized: fees released to payout");
                    self.recorded
                        .lock()
                        .expect("finalize queue")
                        .retain(|(id, _)| !due.contains(id));
                    let finalized = self.settled_or_status(outcomes(&tx, "havn_finalize")).await;
                    // A job still recorded (a challenge came and went) waits for its new window.
                    self.recorded
                        .lock()
                        .expect("finalize queue")
                        .extend(recorded_jobs(&finalized));
                    let sink = self.outcomes.lock().expect("outcome sink").clone();
                    if let Some(sink) = sink {
                        let _ = sink.send(finalized);
                    }
                }
                Err(e) => tracing::warn!(jobs = due.len(), error = %e, "finalize failed; retrying"),
            }
        }
    }

    async fn check(&self, req: &SubmitJobRequest, input_hash: [u8; 32]) -> Result<(), String> {
        let id = req.chain_job_id;
        if id == 0 {
            return Err("this router settles on chain: request the job on the execution log first and submit with its chain_job_id".into());
        }
        let job: havn_execution_log::state::Job = self
            .client
            .smart(
                &self.execution_log,
                &havn_execution_log::msg::QueryMsg::Job { id },
            )
            .await
            .map_err(|e| match e {
                ChainError::Rpc { .. } => format!("job {id} is not requested on chain ({e})"),
                e => format!("cannot check job {id} on chain: {e}"),
            })?;
        let workflow = req.workflow.as_ref().ok_or("workflow is required")?;
        let mismatch = if job.status != JobStatus::Pending {
            Some(format!("it is already {:?}", job.status).to_lowercase())
        } else if job.workflow_id != workflow.workflow_id {
            Some(format!("it is for workflow {}", job.workflow_id))
        } else if job.version_hash.as_slice() != workflow.version_hash.as_slice() {
            Some(format!("it is for version {}", job.version_hash.to_hex()))
        } else if job.input_hash.as_slice() != input_hash {
            Some("its input hash differs from this input's sha256".into())
        } else if !req.caller.is_empty() && job.caller.as_str() != req.caller {
            Some(format!("it was requested by {}", job.caller))
        } else {
            None
        };
        match mismatch {
            Some(why) => Err(format!("chain job {id} does not match this request: {why}")),
            None => Ok(()),
        }
    }
}

impl Settlement for ChainSettlement {
    fn submit<'a>(&'a self, batch: &'a SettlementBatch) -> SettleFuture<'a, Outcomes> {
        Box::pin(async move {
            let taken = match self.record(batch).await {
                Ok(taken) => taken,
                // The contract refused the whole batch (one job it cannot judge, a batch over
                // a lowered `max_batch`): one job at a time, so each gets its own answer.
                Err(NotRecorded::Refused(e)) if batch.jobs.len() > 1 => {
                    tracing::warn!(
                        batch = batch.id,
                        error = e,
                        "the execution log refused the batch; recording its jobs one by one"
                    );
                    let mut taken = Outcomes::new();
                    for job in &batch.jobs {
                        let one = SettlementBatch {
                            jobs: vec![job.clone()],
                            ..batch.clone()
                        };
                        match self.record(&one).await {
                            Ok(outcomes) => taken.extend(outcomes),
                            Err(NotRecorded::Refused(e)) => taken.push((job.job_id, refused(e))),
                            Err(NotRecorded::Retry(e)) => return Err(e),
                        }
                    }
                    taken
                }
                Err(NotRecorded::Refused(e)) => batch
                    .jobs
                    .iter()
                    .map(|j| (j.job_id, refused(e.clone())))
                    .collect(),
                Err(NotRecorded::Retry(e)) => return Err(e),
            };
            self.recorded
                .lock()
                .expect("finalize queue")
                .extend(recorded_jobs(&taken));
            for (job, o) in taken.iter().filter(|(_, o)| o.outcome == "rejected") {
                tracing::error!(
                    batch = batch.id,
                    job,
                    reason = o.reason,
                    "the execution log refused the job: dead-lettered"
                );
            }
            self.report_false_attestations(batch).await;
            Ok(taken)
        })
    }

    fn on_chain(&self) -> bool {
        true
    }

    fn follow_up(&self, sink: OutcomeSink, recorded: Vec<(u64, u64)>) {
        *self.outcomes.lock().expect("outcome sink") = Some(sink);
        self.recorded
            .lock()
            .expect("finalize queue")
            .extend(recorded);
    }

    fn check_request<'a>(
        &'a self,
        request: &'a SubmitJobRequest,
        input_hash: [u8; 32],
    ) -> SettleFuture<'a> {
        Box::pin(self.check(request, input_hash))
    }

    fn report_double_sign<'a>(&'a self, evidence: &'a DoubleSignEvidence) -> SettleFuture<'a> {
        Box::pin(self.report(evidence))
    }

    fn report_false_attestation<'a>(
        &'a self,
        evidence: &'a havn_staking::msg::FalseAttestation,
    ) -> SettleFuture<'a> {
        Box::pin(self.report_late(evidence))
    }
}

impl ChainSettlement {
    /// One `RecordExecution` of the batch: each job's outcome.
    async fn record(&self, batch: &SettlementBatch) -> Result<Outcomes, NotRecorded> {
        let msg = LogMsg::RecordExecution {
            results: job_results(batch),
        };
        match self.send(&self.execution_log, &msg).await {
            Ok(tx) => {
                tracing::info!(
                    batch = batch.id,
                    jobs = batch.jobs.len(),
                    tx = %tx.hash,
                    height = tx.height,
                    gas_used = tx.gas_used,
                    "settlement recorded on chain"
                );
                Ok(self.settled_or_status(outcomes(&tx, "havn_job")).await)
            }
            Err(e @ ChainError::Tx { .. }) if is_contract_error(&e) => {
                Err(NotRecorded::Refused(e.to_string()))
            }
            Err(e) => Err(NotRecorded::Retry(e.to_string())),
        }
    }

    /// The outcomes, with each job the log refused or skipped replaced by its status on chain
    /// where that is past `Pending`: a retried batch whose first tx landed unseen, a job someone
    /// else finalized. Only what the chain really refused stays `rejected`.
    async fn settled_or_status(&self, outcomes: Outcomes) -> Outcomes {
        let mut out = Vec::with_capacity(outcomes.len());
        for (id, outcome) in outcomes {
            if !matches!(outcome.outcome.as_str(), "rejected" | "skipped") {
                out.push((id, outcome));
                continue;
            }
            let job: Result<havn_execution_log::state::Job, _> = self
                .client
                .smart(
                    &self.execution_log,
                    &havn_execution_log::msg::QueryMsg::Job { id },
                )
                .await;
            match job.as_ref().ok().and_then(outcome_of_status) {
                Some(status) => {
                    tracing::info!(
                        job = id,
                        status = status.outcome,
                        refused = outcome.reason,
                        "already past pending on chain"
                    );
                    out.push((id, status));
                }
                None if outcome.outcome == "rejected" => out.push((id, outcome)),
                None => {
                    tracing::warn!(job = id, reason = outcome.reason, "finalize skipped a job")
                }
            }
        }
        out
    }

    /// Every re-executed Valid in the batch for a job it settles Invalid, sent to staking as
    /// evidence: the log slashes the ones it counted (those come back `AlreadySlashed`), this
    /// catches the rest, such as votes on a job the validators' own challenges proved invalid
    /// before the batch landed. The router's account takes the reporter reward.
    async fn report_false_attestations(&self, batch: &SettlementBatch) {
        use havn_mesh_proto::v1::Verdict;
        if self.staking.is_empty() {
            return;
        }
        for job in batch
            .jobs
            .iter()
            .filter(|j| j.verdict == Verdict::Invalid as i32)
        {
            for a in &job.attestations {
                let check = havn_types::Check::from_byte(u8::try_from(a.check).unwrap_or(0));
                if a.verdict != Verdict::Valid as i32 || !check.reexecuted() {
                    continue;
                }
                let operator: Result<havn_staking::msg::OperatorResponse, _> = self
                    .client
                    .smart(
                        &self.staking,
                        &havn_staking::msg::QueryMsg::Operator {
                            address: a.validator.clone(),
                        },
                    )
                    .await;
                let Ok(operator) = operator else {
                    continue;
                };
                self.send_false_attestation(&havn_staking::msg::FalseAttestation {
                    validator: a.validator.clone(),
                    pubkey: operator.pubkey,
                    job_id: job.job_id,
                    check,
                    signature: a.signature.clone().into(),
                })
                .await;
            }
        }
    }

    async fn send_false_attestation(&self, evidence: &havn_staking::msg::FalseAttestation) {
        let msg = havn_staking::msg::ExecuteMsg::ReportFalseAttestation {
            evidence: evidence.clone(),
        };
        let (validator, job) = (&evidence.validator, evidence.job_id);
        match self.send(&self.staking, &msg).await {
            Ok(tx) => {
                tracing::warn!(validator, job, tx = %tx.hash, "false attestation reported: validator slashed")
            }
            Err(e) => tracing::debug!(validator, job, error = %e, "false attestation not taken"),
        }
    }

    /// A late re-executed Valid: once the job is Invalid on chain (its batch or the validators'
    /// challenges may still be landing; two minutes at most), sent to staking.
    async fn report_late(
        &self,
        evidence: &havn_staking::msg::FalseAttestation,
    ) -> Result<(), String> {
        if self.staking.is_empty() {
            return Ok(());
        }
        for _ in 0..120 {
            let job: Result<havn_execution_log::state::Job, _> = self
                .client
                .smart(
                    &self.execution_log,
                    &havn_execution_log::msg::QueryMsg::Job {
                        id: evidence.job_id,
                    },
                )
                .await;
            if job.is_ok_and(|j| j.status == JobStatus::Invalid) {
                self.send_false_attestation(evidence).await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(format!(
            "job {} is not Invalid on chain after 2 min",
            evidence.job_id
        ))
    }

    async fn report(&self, evidence: &DoubleSignEvidence) -> Result<(), String> {
        if self.staking.is_empty() {
            tracing::warn!(
                validator = evidence.validator,
                job = evidence.job_id,
                "double-sign evidence not sent: no staking contract configured"
            );
            return Ok(());
        }
        let msg = havn_staking::msg::ExecuteMsg::SubmitDoubleSign {
            evidence: evidence.clone(),
        };
        match self.send(&self.staking, &msg).await {
            Ok(tx) => {
                tracing::warn!(validator = evidence.validator, job = evidence.job_id, tx = %tx.hash, "double-sign evidence recorded: validator slashed");
                Ok(())
            }
            Err(e @ ChainError::Tx { .. }) if is_contract_error(&e) => {
                tracing::error!(validator = evidence.validator, error = %e, "the staking contract refused the evidence");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

fn is_contract_error(e: &ChainError) -> bool {
    match e {
        ChainError::Tx { codespace, log, .. } => {
            codespace == "wasm" || log.contains("execute wasm contract failed")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_router_configured_for_another_chain_says_so() {
        assert_eq!(chain_mismatch("havn-1", "havn-1"), None);
        let why = chain_mismatch("havn-1", "havn-2").unwrap();
        assert!(
            why.contains("\"havn-2\"") && why.contains("\"havn-1\""),
            "{why}"
        );
    }

    fn event(job: &str, outcome: &str, ends: &str) -> (String, Vec<(String, String)>) {
        let attrs = [("job_id", job), ("outcome", outcome), ("window_ends", ends)];
        (
            "wasm-havn_job".into(),
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn tx(events: Vec<(String, Vec<(String, String)>)>) -> TxResult {
        TxResult {
            hash: "h".into(),
            height: 9,
            gas_wanted: 0,
            gas_used: 0,
            events,
            msg_responses: vec![],
        }
    }

    /// Every job's outcome is read from the record's events (other events and malformed ones
    /// are not); those left waiting out a window (recorded, disputed, an invalid one whose
    /// node's audit proof is due) wait for `Finalize`.
    #[test]
    fn outcomes_are_read_from_the_records_events() {
        let mut refused = event("3", "rejected", "");
        refused.1.push((
            "reason".into(),
            "node is not a bonded, unjailed node".into(),
        ));
        let tx = tx(vec![
            event("1", "recorded", "159"),
            event("2", "disputed", "609"),
            refused,
            ("wasm".into(), vec![("job_id".into(), "4".into())]),
            event("5", "recorded", "160"),
            event("7", "invalid", "60"),
            event("8", "invalid", ""),
            event("x", "recorded", "1"),
            ("wasm-havn_finalize".into(), event("6", "valid", "").1),
        ]);
        let got = outcomes(&tx, "havn_job");
        let ids: Vec<(u64, &str)> = got
            .iter()
            .map(|(id, o)| (*id, o.outcome.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (1, "recorded"),
                (2, "disputed"),
                (3, "rejected"),
                (5, "recorded"),
                (7, "invalid"),
                (8, "invalid")
            ]
        );
        assert_eq!(got[2].1.reason, "node is not a bonded, unjailed node");
        assert_eq!((got[0].1.tx_hash.as_str(), got[0].1.height), ("h", 9));
        assert_eq!(
            recorded_jobs(&got),
            vec![(1, 159), (2, 609), (5, 160), (7, 60)]
        );
        assert_eq!(outcomes(&tx, "havn_finalize")[0].0, 6);
    }

    /// An invalid job its node proved an audit reads as one (the caller is refunded, nobody
    /// cheated); the others by their status.
    #[test]
    fn an_invalid_job_proven_an_audit_reads_as_an_audit() {
        use cosmwasm_std::{Addr, HexBinary, Timestamp, Uint128};
        use havn_execution_log::state::{AuditState, Job};
        let job = Job {
            id: 1,
            workflow_id: 1,
            version: 1,
            version_hash: HexBinary::from([0u8; 32]),
            caller: Addr::unchecked("caller"),
            input_hash: HexBinary::from([0u8; 32]),
            fee: Uint128::new(1),
            creator: Addr::unchecked("creator"),
            split: havn_types::Split::DEFAULT,
            royalty_stack: vec![],
            requested_height: 1,
            deadline: Timestamp::from_seconds(1),
            status: JobStatus::Invalid,
            result: None,
            window_ends: None,
            audit: AuditState::Audit,
        };
        let read = |status, audit| {
            outcome_of_status(&Job {
                status,
                audit,
                ..job.clone()
            })
            .map(|o| o.outcome)
        };
        assert_eq!(
            read(JobStatus::Invalid, AuditState::Audit).as_deref(),
            Some("audit")
        );
        for audit in [AuditState::Due, AuditState::Clear, AuditState::Exempt] {
            assert_eq!(read(JobStatus::Invalid, audit).as_deref(), Some("invalid"));
        }
        assert_eq!(
            read(JobStatus::Valid, AuditState::Clear).as_deref(),
            Some("valid")
        );
        assert_eq!(read(JobStatus::Pending, AuditState::Exempt), None);
    }
}
