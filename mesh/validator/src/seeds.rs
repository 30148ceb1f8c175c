//! The validator's side of provable draws (docs/verification.md, "Provable draws"): it commits
//! each epoch's seed on the execution log before the epoch, draws that epoch's jobs with it,
//! reveals it once the epoch is over, and then claims the pot's reward for the drawn
//! re-executions it got right. Each epoch's secret derives from one master secret (the config's
//! `sample_secret`, or the validator's key), so a restart can always reveal what it committed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use havn_execution_log::msg::{EpochResponse, ExecuteMsg, QueryMsg};
use havn_execution_log::state::{Job, JobStatus, Params, Seed};
use havn_types::sampling::{drawn, epoch_of, epoch_secret, seed_commitment};

/// Jobs per `ClaimReexecutions` (the log takes twice its `max_batch`, 20 by default).
const CLAIM_BATCH: usize = 40;

/// How often the keeper looks at the chain's height to commit, reveal and claim.
pub const TICK: Duration = Duration::from_secs(2);

pub struct Seeds {
    client: havn_chain::Client,
    wallet: havn_chain::Wallet,
    log: String,
    master: [u8; 32],
    /// Epoch → the threshold this validator draws with, or `None`: no seed committed for it.
    epochs: Mutex<BTreeMap<u64, Option<u64>>>,
    /// Epoch → jobs this validator was drawn for and re-executed, to claim once revealed.
    drawn: Mutex<BTreeMap<u64, Vec<u64>>>,
}

/// What a job's draw came to for this validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    pub epoch: u64,
    pub drawn: bool,
}

impl Seeds {
    pub fn new(
        client: havn_chain::Client,
        wallet: havn_chain::Wallet,
        log: String,
        master: [u8; 32],
    ) -> Self {
        Seeds {
            client,
            wallet,
            log,
            master,
            epochs: Mutex::default(),
            drawn: Mutex::default(),
        }
    }

    fn operator(&self) -> String {
        self.wallet.address().to_string()
    }

    async fn params(&self) -> Result<Params, havn_chain::ChainError> {
        self.client.smart(&self.log, &QueryMsg::Params {}).await
    }

    async fn seed(&self, epoch: u64) -> Result<Option<Seed>, havn_chain::ChainError> {
        let q = QueryMsg::Seed {
            epoch,
            validator: self.operator(),
        };
        self.client.smart(&self.log, &q).await
    }

    /// The draw for a job's claimed output, by the seed committed for the job's epoch; `None`
    /// when this validator committed none for it (or the chain cannot say): the caller falls
    /// back to its local sample.
    pub async fn draw(&self, job_id: u64, output_hash: &[u8; 32]) -> Option<Draw> {
        let job: Job = self
            .client
            .smart(&self.log, &QueryMsg::Job { id: job_id })
            .await
            .ok()?;
        let params = self.params().await.ok()?;
        let epoch = epoch_of(job.requested_height, params.epoch_blocks);
        let known = self.epochs.lock().expect("epochs").get(&epoch).copied();
        let threshold = match known {
            Some(t) => t,
            None => {
                let t = match self.seed(epoch).await.ok()? {
                    Some(_) => {
                        let info: EpochResponse = self
                            .client
                            .smart(&self.log, &QueryMsg::Epoch { epoch: Some(epoch) })
                            .await
                            .ok()?;
                        Some(info.threshold.u64())
                    }
                    None => None,
                };
                self.epochs.lock().expect("epochs").insert(epoch, t);
                t
            }
        }?;
        let secret = epoch_secret(&self.master, epoch);
        Some(Draw {
            epoch,
            drawn: drawn(&secret, job_id, output_hash, threshold),
        })
    }

    /// Remembers a drawn re-execution this validator signed, to claim its reward later.
    pub fn reexecuted(&self, draw: Draw, job_id: u64) {
        if draw.drawn {
            self.drawn
                .lock()
                .expect("drawn")
                .entry(draw.epoch)
                .or_default()
                .push(job_id);
        }
    }

    /// Commits, reveals and claims until the task is dropped.
    pub async fn keep(self: std::sync::Arc<Self>) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "seed keeping: will retry");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    async fn send(&self, msg: &ExecuteMsg) -> Result<havn_chain::TxResult, havn_chain::ChainError> {
        self.client.execute(&self.wallet, &self.log, msg, &[]).await
    }

    /// One round: commit the next epoch's seed, reveal the last one's, claim what it paid.
    pub async fn tick(&self) -> Result<(), havn_chain::ChainError> {
        let params = self.params().await?;
        let current = epoch_of(self.client.latest_height().await?, params.epoch_blocks);
        let next = current + 1;
        if self.seed(next).await?.is_none() {
            let commitment = seed_commitment(&epoch_secret(&self.master, next));
            let msg = ExecuteMsg::CommitSeed {
                epoch: next,
                commitment: commitment.to_vec().into(),
            };
            match self.send(&msg).await {
                Ok(tx) => tracing::info!(epoch = next, tx = %tx.hash, "committed the sample seed"),
                // Not an active validator (yet): it draws locally until it is.
                Err(e) => tracing::debug!(epoch = next, error = %e, "seed not committed"),
            }
        }
        for epoch in current.saturating_sub(2)..current {
            if let Some(Seed { secret: None, .. }) = self.seed(epoch).await? {
                let secret = epoch_secret(&self.master, epoch);
                let msg = ExecuteMsg::RevealSeed {
                    epoch,
                    secret: secret.to_vec().into(),
                };
                let tx = self.send(&msg).await?;
                tracing::info!(epoch, tx = %tx.hash, "revealed the sample seed");
            }
        }
        self.claim(current).await
    }

    /// Claims the drawn re-executions of revealed epochs whose jobs are decided; keeps those
    /// still in their window for a later round (reading a job's status costs no gas).
    async fn claim(&self, current: u64) -> Result<(), havn_chain::ChainError> {
        let due: Vec<(u64, u64)> = {
            let drawn = self.drawn.lock().expect("drawn");
            drawn
                .range(..current)
                .flat_map(|(e, jobs)| jobs.iter().map(|j| (*e, *j)))
                .collect()
        };
        let mut decided = Vec::new();
        let mut dropped = Vec::new();
        for (_, id) in &due {
            let job: Job = self
                .client
                .smart(&self.log, &QueryMsg::Job { id: *id })
                .await?;
            match job.status {
                JobStatus::Valid | JobStatus::Invalid => decided.push(*id),
                JobStatus::Refunded => dropped.push(*id),
                _ => {}
            }
        }
        for chunk in decided.chunks(CLAIM_BATCH) {
            let msg = ExecuteMsg::ClaimReexecutions {
                job_ids: chunk.to_vec(),
            };
            let tx = self.send(&msg).await?;
            let claimed = tx.attribute("wasm", "claimed").unwrap_or("0").to_string();
            tracing::info!(claimed, tx = %tx.hash, "claimed re-execution rewards");
            dropped.extend_from_slice(chunk);
        }
        let mut drawn = self.drawn.lock().expect("drawn");
        for jobs in drawn.values_mut() {
            jobs.retain(|j| !dropped.contains(j));
        }
        drawn.retain(|_, jobs| !jobs.is_empty());
        Ok(())
    }
}
