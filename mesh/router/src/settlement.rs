//! Where settlement batches go once formed, and what the router asks of the place they settle.
//! Every batch is in the store first (and listed by `ListSettlements`); a `Settlement` then hands
//! it on: `StoredOnly` keeps them for whoever lists them, `chain::ChainSettlement` records each on
//! the execution log, checks requests against it before dispatch and reports double-signs. What
//! the chain did with each job comes back as `Outcomes`, which the core turns into job states
//! (and dead letters, for what the chain refused).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use havn_mesh_proto::v1::{ChainOutcome, SettlementBatch, SubmitJobRequest};
use havn_staking::msg::{DoubleSignEvidence, FalseAttestation};
use tokio::sync::mpsc;

use crate::store::{Store, Write};

pub type SettleFuture<'a, T = ()> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// What the place a batch settles did with each of its jobs, by job id.
pub type Outcomes = Vec<(u64, ChainOutcome)>;

/// Where outcomes go (the core, which turns them into job states).
pub type OutcomeSink = mpsc::UnboundedSender<Outcomes>;

/// The store's note of the last batch handed on: after a restart, later ones are handed on again.
pub const DELIVERED_THROUGH: &str = "delivered_through";

/// Hands a settlement batch on. Called once per batch, in batch order, and again (with backoff)
/// while it returns an error: an error means "try again", so whatever will never be accepted
/// comes back as a `rejected` outcome instead.
pub trait Settlement: Send + Sync + 'static {
    fn submit<'a>(&'a self, batch: &'a SettlementBatch) -> SettleFuture<'a, Outcomes>;

    /// Whether jobs get a verdict after their batch (the chain's): then SETTLED is not the end.
    fn on_chain(&self) -> bool {
        false
    }

    /// Where outcomes that come later than `submit` go (a recorded job paid out after its
    /// window), and the recorded jobs a restart left waiting: (job id, window end height).
    fn follow_up(&self, _sink: OutcomeSink, _recorded: Vec<(u64, u64)>) {}

    /// Before a job is accepted: is it requested (and paid for) where it will settle, as this
    /// request describes it? `input_hash` is the sha256 of its input. An error refuses the job
    /// with that message.
    fn check_request<'a>(
        &'a self,
        _request: &'a SubmitJobRequest,
        _input_hash: [u8; 32],
    ) -> SettleFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// A validator signed a re-executed Valid for a job the validators proved invalid, too late
    /// to be counted: report it where it can be slashed.
    fn report_false_attestation<'a>(&'a self, evidence: &'a FalseAttestation) -> SettleFuture<'a> {
        tracing::warn!(
            validator = evidence.validator,
            job = evidence.job_id,
            "false-attestation evidence kept only in the log: no chain configured"
        );
        Box::pin(async { Ok(()) })
    }

    /// A validator signed two verdicts for one job: report it where it can be slashed.
    fn report_double_sign<'a>(&'a self, evidence: &'a DoubleSignEvidence) -> SettleFuture<'a> {
        tracing::warn!(
            validator = evidence.validator,
            job = evidence.job_id,
            "double-sign evidence kept only in the log: no chain configured"
        );
        Box::pin(async { Ok(()) })
    }
}

/// Keeps batches in the router's store only.
pub struct StoredOnly;

impl Settlement for StoredOnly {
    fn submit<'a>(&'a self, _batch: &'a SettlementBatch) -> SettleFuture<'a, Outcomes> {
        Box::pin(async { Ok(vec![]) })
    }
}

/// Feeds batches to `sink` in order, retrying each until it is taken, and sends what became of
/// its jobs to `outcomes`; notes each one taken in the store.
pub async fn deliver(
    sink: Arc<dyn Settlement>,
    mut batches: mpsc::UnboundedReceiver<SettlementBatch>,
    outcomes: OutcomeSink,
    store: Store,
) {
    while let Some(batch) = batches.recv().await {
        let mut attempt = 0u32;
        let taken = loop {
            match sink.submit(&batch).await {
                Ok(taken) => break taken,
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(
                        batch = batch.id,
                        attempt,
                        error = e,
                        "settlement failed; retrying"
                    );
                    tokio::time::sleep(Duration::from_millis(
                        (200u64 << attempt.min(8)).min(60_000),
                    ))
                    .await;
                }
            }
        };
        if !taken.is_empty() {
            let _ = outcomes.send(taken);
        }
        store.write_later(vec![Write::Meta(DELIVERED_THROUGH, batch.id)]);
    }
}

/// An outcome with only its name and words (no tx): what a refusal outside the chain's events
/// (a whole batch refused) looks like.
pub fn refused(reason: impl Into<String>) -> ChainOutcome {
    ChainOutcome {
        outcome: "rejected".into(),
        reason: reason.into(),
        ..Default::default()
    }
}

/// Hands each piece of double-sign evidence to `sink`, a few tries each (evidence a chain refuses,
/// e.g. already slashed, is not worth more).
pub async fn report(
    sink: Arc<dyn Settlement>,
    mut evidence: mpsc::UnboundedReceiver<DoubleSignEvidence>,
) {
    while let Some(e) = evidence.recv().await {
        for attempt in 1..=3u32 {
            match sink.report_double_sign(&e).await {
                Ok(()) => break,
                Err(err) => {
                    tracing::warn!(
                        validator = e.validator,
                        job = e.job_id,
                        attempt,
                        error = err,
                        "double-sign report failed"
                    );
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
            }
        }
    }
}

/// Hands each late false attestation to `sink`, each in its own task (the sink may wait for the
/// job's Invalid verdict to land on chain first).
pub async fn report_false(
    sink: Arc<dyn Settlement>,
    mut evidence: mpsc::UnboundedReceiver<FalseAttestation>,
) {
    while let Some(e) = evidence.recv().await {
        let sink = sink.clone();
        tokio::spawn(async move {
            if let Err(err) = sink.report_false_attestation(&e).await {
                tracing::warn!(
                    validator = e.validator,
                    job = e.job_id,
                    error = err,
                    "false-attestation report failed"
                );
            }
        });
    }
}
