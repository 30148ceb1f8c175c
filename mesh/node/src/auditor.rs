//! The node's audit duties on its execution log (docs/verification.md, "Audits"): it commits its
//! tree for the next epochs, tells `execute` which jobs to answer wrongly, and proves every job
//! it answered in a committed epoch once the votes are on chain. The rules are in `audits`; this
//! file is their I/O.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use havn_chain::{ChainError, Client, Wallet};
use havn_execution_log::msg::{AuditProof, EpochResponse, ExecuteMsg, QueryMsg};
use havn_execution_log::state::{Job, Params};
use havn_types::audit::{audit_threshold, AuditTree};
use havn_types::sampling::epoch_of;

use crate::audits::{epoch_tree, proof_step, PendingProofs, ProofStep};

/// How often the auditor looks at the chain to commit and prove. Well inside the challenge
/// window (150 blocks), which a job's proof must beat.
pub const TICK: Duration = Duration::from_secs(2);

/// How long a job waits for an unreachable chain before it fails.
pub const CHAIN_PATIENCE: Duration = Duration::from_secs(60);

/// Commitments are for the next two epochs (the log's `COMMIT_AHEAD`).
const COMMIT_AHEAD: u64 = 2;

/// How the node answers one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Answer it wrongly on purpose.
    pub audit: bool,
    /// The epoch whose tree it must be proven against; `None`: the node committed none for the
    /// job's epoch, so nothing is owed.
    pub owed: Option<u64>,
}

pub struct Auditor {
    client: Client,
    wallet: Wallet,
    log: String,
    master: [u8; 32],
    /// Epoch → its tree (built once; 4 MiB), for the last few epochs.
    trees: Mutex<BTreeMap<u64, Arc<AuditTree>>>,
    /// Epoch → the audit threshold of an epoch the node committed for, or `None`: it did not.
    /// Only past and current epochs are cached (their commitments can no longer change).
    committed: Mutex<BTreeMap<u64, Option<u64>>>,
    pending: Mutex<PendingProofs>,
    pub metrics: AuditMetrics,
}

#[derive(Default)]
pub struct AuditMetrics {
    pub audits: havn_mesh_common::metrics::Counter,
    pub proven: havn_mesh_common::metrics::Counter,
}

impl Auditor {
    /// An auditor for `log`, its owed proofs kept in `pending_file`. `master` is the node's
    /// `audits::master_secret`.
    pub fn new(
        client: Client,
        wallet: Wallet,
        log: String,
        master: [u8; 32],
        pending_file: &Path,
    ) -> Result<Self, String> {
        Ok(Auditor {
            client,
            wallet,
            log,
            master,
            trees: Mutex::default(),
            committed: Mutex::default(),
            pending: Mutex::new(PendingProofs::open(pending_file)?),
            metrics: AuditMetrics::default(),
        })
    }

    fn node(&self) -> String {
        self.wallet.address().to_string()
    }

    async fn params(&self) -> Result<Params, ChainError> {
        self.client.smart(&self.log, &QueryMsg::Params {}).await
    }

    async fn root(&self, epoch: u64) -> Result<Option<cosmwasm_std::HexBinary>, ChainError> {
        let q = QueryMsg::AuditRoot {
            epoch,
            node: self.node(),
        };
        self.client.smart(&self.log, &q).await
    }

    /// The tree for `epoch`, built off the async threads the first time.
    async fn tree(&self, epoch: u64) -> Arc<AuditTree> {
        if let Some(t) = self.trees.lock().expect("trees").get(&epoch) {
            return t.clone();
        }
        let master = self.master;
        let tree = tokio::task::spawn_blocking(move || Arc::new(epoch_tree(&master, epoch)))
            .await
            .expect("building an audit tree does not panic");
        let mut trees = self.trees.lock().expect("trees");
        trees.insert(epoch, tree.clone());
        // Jobs of older epochs are proven within a window far shorter than these epochs.
        while trees.len() > 6 {
            trees.pop_first();
        }
        tree
    }

    /// How to answer job `job_id`: read from the chain (its epoch, and whether this node
    /// committed a tree for it). An error fails the job: answering an audit honestly would get
    /// the honest validators who checked it slashed.
    pub async fn plan(&self, job_id: u64) -> Result<Plan, String> {
        let read = |e: ChainError| format!("cannot read job {job_id}'s audit state: {e}");
        let job: Job = self
            .client
            .smart(&self.log, &QueryMsg::Job { id: job_id })
            .await
            .map_err(read)?;
        let params = self.params().await.map_err(read)?;
        let epoch = epoch_of(job.requested_height, params.epoch_blocks);
        let Some(threshold) = self.threshold(epoch).await.map_err(read)? else {
            return Ok(Plan {
                audit: false,
                owed: None,
            });
        };
        let tree = self.tree(epoch).await;
        Ok(Plan {
            audit: tree.is_audit(job_id, threshold),
            owed: Some(epoch),
        })
    }

    /// `plan`, read again every second for up to `CHAIN_PATIENCE` while the chain cannot be
    /// read (a chain node restarting must not fail jobs: the router never gives a failed job
    /// back to the node that failed it), unless the job is cancelled meanwhile.
    pub async fn plan_patiently(&self, job_id: u64, cancel: &AtomicBool) -> Result<Plan, String> {
        let start = Instant::now();
        loop {
            match self.plan(job_id).await {
                Ok(plan) => return Ok(plan),
                Err(e) if start.elapsed() < CHAIN_PATIENCE && !cancel.load(Ordering::SeqCst) => {
                    tracing::warn!(job = job_id, error = %e, "cannot read the chain; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The audit threshold of `epoch` (a past or current one) if this node committed for it;
    /// an error if what it committed is not its tree (its proofs would all fail).
    async fn threshold(&self, epoch: u64) -> Result<Option<u64>, ChainError> {
        if let Some(known) = self.committed.lock().expect("committed").get(&epoch) {
            return Ok(*known);
        }
        let threshold = match self.root(epoch).await? {
            None => None,
            Some(root) => {
                if root.as_slice() != self.tree(epoch).await.root() {
                    return Err(ChainError::Key(format!(
                        "the audit root {} committed for epoch {epoch} is not this key's tree: \
                         its jobs cannot be proven (was the node's key changed?)",
                        self.node()
                    )));
                }
                let info: EpochResponse = self
                    .client
                    .smart(&self.log, &QueryMsg::Epoch { epoch: Some(epoch) })
                    .await?;
                Some(audit_threshold(info.audit_bps))
            }
        };
        let mut committed = self.committed.lock().expect("committed");
        committed.insert(epoch, threshold);
        while committed.len() > 16 {
            committed.pop_first();
        }
        Ok(threshold)
    }

    /// Remembers that job `job_id`, answered under `epoch`'s tree, must be proven.
    pub fn owe(&self, job_id: u64, epoch: u64) {
        if let Err(e) = self.pending.lock().expect("pending").add(job_id, epoch) {
            tracing::error!(job = job_id, error = %e, "cannot record an owed audit proof; the job will go unpaid");
        }
    }

    /// Commits and proves until the task is dropped.
    pub async fn keep(self: Arc<Self>) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "audit keeping: will retry");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// One round: commit the next epochs' trees, prove what is due.
    pub async fn tick(&self) -> Result<(), ChainError> {
        let params = self.params().await?;
        let height = self.client.latest_height().await?;
        let current = epoch_of(height, params.epoch_blocks);
        for epoch in current + 1..=current + COMMIT_AHEAD {
            if self.root(epoch).await?.is_some() {
                continue;
            }
            let root = self.tree(epoch).await.root();
            let msg = ExecuteMsg::CommitAudit {
                epoch,
                root: root.to_vec().into(),
            };
            match self.send(&msg).await {
                Ok(tx) => tracing::info!(epoch, tx = %tx.hash, "committed the audit tree"),
                // Not an active node (yet): it commits once it is.
                Err(e) => tracing::debug!(epoch, error = %e, "audit tree not committed"),
            }
        }
        self.prove(height, 2 * params.max_batch.max(1) as usize)
            .await
    }

    async fn send(&self, msg: &ExecuteMsg) -> Result<havn_chain::TxResult, ChainError> {
        self.client.execute(&self.wallet, &self.log, msg, &[]).await
    }

    /// Proves the owed jobs whose votes are on chain, `batch` per transaction; forgets those
    /// with nothing left to prove.
    async fn prove(&self, height: u64, batch: usize) -> Result<(), ChainError> {
        let owed: Vec<(u64, u64)> = {
            let pending = self.pending.lock().expect("pending");
            pending.jobs().iter().map(|(j, e)| (*j, *e)).collect()
        };
        let (node, mut due, mut done) = (self.node(), vec![], vec![]);
        for (id, epoch) in owed {
            let job: Option<Job> = self
                .client
                .smart(&self.log, &QueryMsg::Job { id })
                .await
                .ok();
            // The proof lands in a later block than the one read.
            match proof_step(job.as_ref(), &node, height + 1) {
                ProofStep::Wait => {}
                ProofStep::Prove => due.push((id, epoch)),
                ProofStep::Drop(why) => {
                    tracing::debug!(job = id, why, "no audit proof owed");
                    done.push(id);
                }
            }
        }
        for chunk in due.chunks(batch) {
            let mut proofs = Vec::with_capacity(chunk.len());
            for (id, epoch) in chunk {
                proofs.push(self.proof(*id, *epoch).await);
            }
            match self.send_proofs(proofs.clone()).await {
                Ok(()) => done.extend(chunk.iter().map(|(id, _)| *id)),
                // One bad proof fails the batch: send them one by one, so the rest land.
                Err(e) if chunk.len() > 1 => {
                    tracing::warn!(error = %e, "audit proofs refused as a batch; sending one by one");
                    for proof in proofs {
                        let id = proof.job_id;
                        match self.send_proofs(vec![proof]).await {
                            Ok(()) => done.push(id),
                            Err(e) => tracing::warn!(job = id, error = %e, "audit proof refused"),
                        }
                    }
                }
                Err(e) => tracing::warn!(job = chunk[0].0, error = %e, "audit proof refused"),
            }
        }
        if !done.is_empty() {
            if let Err(e) = self.pending.lock().expect("pending").remove(&done) {
                tracing::warn!(error = %e, "cannot forget proven jobs; they will be read again");
            }
        }
        Ok(())
    }

    async fn proof(&self, job_id: u64, epoch: u64) -> AuditProof {
        let (leaf, path) = self.tree(epoch).await.proof(job_id);
        AuditProof {
            job_id,
            leaf: leaf.to_vec().into(),
            path: path.iter().map(|h| h.to_vec().into()).collect(),
        }
    }

    async fn send_proofs(&self, proofs: Vec<AuditProof>) -> Result<(), ChainError> {
        let n = proofs.len() as u64;
        let tx = self.send(&ExecuteMsg::ProveAudit { proofs }).await?;
        self.metrics.proven.add(n);
        let outcomes: Vec<&str> = tx
            .events
            .iter()
            .filter(|(t, _)| t == "wasm-havn_audit")
            .flat_map(|(_, attrs)| attrs.iter())
            .filter(|(k, _)| k == "outcome")
            .map(|(_, v)| v.as_str())
            .collect();
        tracing::info!(proofs = n, tx = %tx.hash, ?outcomes, "proved audits");
        Ok(())
    }
}
