//! The node's side of audits (docs/verification.md, "Audits"): what it commits, which of its jobs
//! it answers wrongly on purpose, and when it proves each one. This file is the decision logic,
//! free of I/O so every rule is tested here; the daemon loop that talks to the chain is not wired
//! in yet (issue 15's note says what is left).
//!
//! - One secret per epoch, derived from the node's key: a restart rebuilds the same tree, and
//!   nothing about one epoch's leaves tells anything about another's (a proof reveals its leaf).
//! - An audit is answered with the pipeline run under another seed: well-formed, plausible and
//!   wrong, so only a validator that really re-executes can tell. A pipeline whose output does not
//!   depend on the seed gets its last byte flipped instead (still wrong; a structural check may
//!   then see it, which costs the node nothing: an audit proven invalid is excused).
//! - A job is proven once its votes are on chain (recorded, disputed, or invalid with the proof
//!   window open); a job another node's result settled, or that is over, is dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use havn_execution_log::state::{AuditState, Job, JobStatus};
use havn_types::audit::AuditTree;
use k256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};

const MASTER_DOMAIN: &[u8] = b"havn/audit-master/v1";
const EPOCH_DOMAIN: &[u8] = b"havn/audit-secret/v1";
/// XORed into an audit's seed: any fixed non-zero value gives another run.
const AUDIT_SEED_MASK: u64 = 0xa0d1_7a0d_17a0_d17a;

/// The node's audit master secret: only its key holder can compute it.
pub fn master_secret(key: &SigningKey) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(MASTER_DOMAIN);
    h.update(key.to_bytes());
    h.finalize().into()
}

/// The secret an epoch's tree is built from.
pub fn epoch_secret(master: &[u8; 32], epoch: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(EPOCH_DOMAIN);
    h.update(master);
    h.update(epoch.to_be_bytes());
    h.finalize().into()
}

/// The tree the node commits for an epoch.
pub fn epoch_tree(master: &[u8; 32], epoch: u64) -> AuditTree {
    AuditTree::new(&epoch_secret(master, epoch))
}

/// The seed an audit is run with instead of the job's.
pub fn audit_seed(seed: u64) -> u64 {
    seed ^ AUDIT_SEED_MASK
}

/// The audit's answer: the other seed's output, or the honest one with its last byte flipped
/// when the pipeline ignores the seed (an empty output becomes one byte).
pub fn wrong_answer(honest: &[u8], other_seed: Vec<u8>) -> Vec<u8> {
    if other_seed != honest {
        return other_seed;
    }
    let mut out = honest.to_vec();
    match out.last_mut() {
        Some(b) => *b ^= 0x01,
        None => out.push(0x01),
    }
    out
}

/// What to do about one job the node answered, from its state on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofStep {
    /// Its votes are not on chain yet.
    Wait,
    /// Send its proof now.
    Prove,
    /// Nothing left to prove: why.
    Drop(&'static str),
}

/// The step for `job` (None: the chain has no such job) at `height`, for node `node`.
pub fn proof_step(job: Option<&Job>, node: &str, height: u64) -> ProofStep {
    let Some(job) = job else {
        return ProofStep::Drop("no such job on chain");
    };
    let Some(claim) = &job.result else {
        return match job.status {
            JobStatus::Pending => ProofStep::Wait,
            _ => ProofStep::Drop("settled without a result"),
        };
    };
    if claim.node.as_str() != node {
        return ProofStep::Drop("another node's result was recorded");
    }
    match job.audit {
        AuditState::Due => {}
        AuditState::Exempt => return ProofStep::Drop("its epoch has no audit tree of ours"),
        AuditState::Clear | AuditState::Audit => return ProofStep::Drop("already proven"),
    }
    match (job.status, job.window_ends) {
        (JobStatus::Pending, _) => ProofStep::Wait,
        (JobStatus::Recorded | JobStatus::Invalid, Some(ends)) if height >= ends => {
            ProofStep::Drop("its window closed")
        }
        (JobStatus::Invalid, None) => ProofStep::Drop("its proof window closed"),
        (
            JobStatus::Recorded | JobStatus::Disputed | JobStatus::Arbitration | JobStatus::Invalid,
            _,
        ) => ProofStep::Prove,
        (JobStatus::Valid | JobStatus::Refunded, _) => ProofStep::Drop("settled"),
    }
}

/// The jobs whose proofs are owed, with each one's epoch, kept on disk so a restart still proves
/// them (an unproven job is not paid).
pub struct PendingProofs {
    path: PathBuf,
    jobs: BTreeMap<u64, u64>,
}

impl PendingProofs {
    /// Loads `path` (none yet: empty). A file that does not parse is an error, not a reset: the
    /// jobs in it would go unpaid.
    pub fn open(path: &Path) -> Result<Self, String> {
        let jobs = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: not a pending-proofs file: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(PendingProofs {
            path: path.to_path_buf(),
            jobs,
        })
    }

    pub fn jobs(&self) -> &BTreeMap<u64, u64> {
        &self.jobs
    }

    pub fn add(&mut self, job_id: u64, epoch: u64) -> Result<(), String> {
        self.jobs.insert(job_id, epoch);
        self.save()
    }

    pub fn remove(&mut self, job_ids: &[u64]) -> Result<(), String> {
        for id in job_ids {
            self.jobs.remove(id);
        }
        self.save()
    }

    /// Written to a temporary file and renamed, so a crash leaves the old file or the new one.
    fn save(&self) -> Result<(), String> {
        let tmp = self.path.with_extension("tmp");
        let bytes = serde_json::to_vec(&self.jobs).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, &self.path))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::{Addr, HexBinary, Timestamp, Uint128};
    use havn_execution_log::state::ClaimedResult;
    use havn_types::audit::{audit_threshold, leaf_index, root_of};

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_slice(&[byte; 32]).unwrap()
    }

    #[test]
    fn each_epoch_has_its_own_tree_and_a_restart_rebuilds_it() {
        let master = master_secret(&key(7));
        assert_eq!(master, master_secret(&key(7)));
        assert_ne!(
            master,
            master_secret(&key(8)),
            "another key, another secret"
        );
        let (a, b) = (epoch_tree(&master, 3), epoch_tree(&master, 4));
        assert_ne!(a.root(), b.root());
        assert_eq!(a.root(), epoch_tree(&master, 3).root());
        // A proof checks against the committed root, as the execution log checks it.
        let (leaf, path) = a.proof(70_000);
        assert_eq!(
            root_of(&leaf, leaf_index(70_000), &path),
            Some(a.root()),
            "job ids past 2^16 reuse a leaf index"
        );
        // About 1 % of jobs are audits at the default rate.
        let t = audit_threshold(100);
        let audits = (0..20_000u64).filter(|j| a.is_audit(*j, t)).count();
        assert!((120..=280).contains(&audits), "{audits} of 20000");
    }

    #[test]
    fn an_audit_is_always_a_different_answer() {
        assert_eq!(wrong_answer(b"abc", b"xyz".to_vec()), b"xyz");
        assert_eq!(wrong_answer(b"abc", b"abc".to_vec()), b"abb");
        assert_eq!(wrong_answer(b"", vec![]), vec![1]);
        assert_ne!(audit_seed(42), 42);
        assert_eq!(audit_seed(audit_seed(42)), 42);
    }

    fn job(status: JobStatus, audit: AuditState, node: Option<&str>, ends: Option<u64>) -> Job {
        Job {
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
            status,
            result: node.map(|n| ClaimedResult {
                node: Addr::unchecked(n),
                output_hash: HexBinary::from([0u8; 32]),
                attempt: 1,
                executor: "tch".into(),
                device: "cpu".into(),
                signature: Default::default(),
            }),
            window_ends: ends,
            audit,
        }
    }

    #[test]
    fn a_job_is_proven_once_its_votes_are_on_chain_and_only_then() {
        use AuditState::*;
        use JobStatus::*;
        let step = |j: &Job| proof_step(Some(j), "me", 100);
        assert_eq!(step(&job(Pending, Exempt, None, None)), ProofStep::Wait);
        assert_eq!(step(&job(Pending, Due, Some("me"), None)), ProofStep::Wait);
        for status in [Recorded, Invalid] {
            assert_eq!(
                step(&job(status, Due, Some("me"), Some(101))),
                ProofStep::Prove
            );
            assert!(matches!(
                step(&job(status, Due, Some("me"), Some(100))),
                ProofStep::Drop(_)
            ));
        }
        for status in [Disputed, Arbitration] {
            assert_eq!(
                step(&job(status, Due, Some("me"), Some(900))),
                ProofStep::Prove
            );
        }
        for dropped in [
            job(Recorded, Due, Some("other"), Some(101)),
            job(Recorded, Exempt, Some("me"), Some(101)),
            job(Recorded, Clear, Some("me"), Some(101)),
            job(Disputed, Audit, Some("me"), Some(900)),
            job(Valid, Due, Some("me"), None),
            job(Refunded, Due, Some("me"), None),
            job(Invalid, Due, Some("me"), None),
            job(Refunded, Exempt, None, None),
        ] {
            assert!(matches!(step(&dropped), ProofStep::Drop(_)), "{dropped:?}");
        }
        assert!(matches!(proof_step(None, "me", 1), ProofStep::Drop(_)));
    }

    #[test]
    fn owed_proofs_survive_a_restart_and_a_corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-proofs.json");
        let mut p = PendingProofs::open(&path).unwrap();
        p.add(5, 1).unwrap();
        p.add(9, 2).unwrap();
        p.remove(&[5]).unwrap();
        let p = PendingProofs::open(&path).unwrap();
        assert_eq!(p.jobs().iter().collect::<Vec<_>>(), vec![(&9, &2)]);
        std::fs::write(&path, b"{not json").unwrap();
        let err = PendingProofs::open(&path).err().unwrap();
        assert!(err.contains("not a pending-proofs file"), "{err}");
    }
}
