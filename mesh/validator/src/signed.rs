//! What this validator has signed, per job, on disk. Two attestations for one job that disagree
//! on the output, or whose verdicts contradict, are slashable double-signing; a router that
//! replays a job with another output, or a node that submits one chain job to two routers, could
//! otherwise collect them from an honest validator. So before signing, the validator records the
//! result it attests to for (chain, execution log, job) and signs nothing that contradicts it:
//! another result, or another verdict, except the one upgrade a dispute needs (a structural vote
//! replaced by a re-executed one, `havn_types::contradicts`). The record survives restarts; it
//! lives beside the artifact cache but is state, not cache: deleting it reopens the framing.

use std::path::Path;

use havn_types::{Attestation, Check, Verdict};
use redb::{Database, ReadableTable, TableDefinition};
use sha2::{Digest, Sha256};

const SIGNED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("signed");

/// The record, one redb file.
pub struct SignRecord {
    db: Database,
}

/// The record's key: one per (chain, execution log, job).
fn key(a: &Attestation) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.chain_id.len() + a.execution_log.len() + 10);
    k.extend_from_slice(a.chain_id.as_bytes());
    k.push(0);
    k.extend_from_slice(a.execution_log.as_bytes());
    k.push(0);
    k.extend_from_slice(&a.job_id.to_be_bytes());
    k
}

/// What the attestation is about besides its verdict and check (the job's workflow, version,
/// node, input and output), length-prefixed so no two results share bytes.
fn result_hash(a: &Attestation) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(a.workflow_id.to_be_bytes());
    h.update(a.version_hash);
    h.update((a.node.len() as u64).to_be_bytes());
    h.update(a.node.as_bytes());
    h.update(a.input_hash);
    h.update(a.output_hash);
    h.finalize().into()
}

fn verdict_byte(v: Verdict) -> u8 {
    match v {
        Verdict::Valid => 0,
        Verdict::Invalid => 1,
    }
}

impl SignRecord {
    pub fn open(path: &Path) -> Result<Self, String> {
        let db = Database::create(path)
            .map_err(|e| format!("cannot open the signing record {}: {e}", path.display()))?;
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        txn.open_table(SIGNED).map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())?;
        Ok(SignRecord { db })
    }

    /// Records that this validator signs `attestation`, durably, unless that would contradict
    /// what it signed for the job before: then `Err(why)`, and nothing may be signed.
    pub fn admit(&self, attestation: &Attestation) -> Result<(), String> {
        let (verdict, check) = (attestation.verdict, attestation.check);
        let (key, result) = (key(attestation), result_hash(attestation));
        let mut value = result.to_vec();
        value.extend_from_slice(&[verdict_byte(verdict), check.byte()]);
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(SIGNED).map_err(|e| e.to_string())?;
            let before = table
                .get(key.as_slice())
                .map_err(|e| e.to_string())?
                .map(|v| v.value().to_vec());
            if let Some(before) = before {
                if before.len() != 34 || before[..32] != result {
                    return Err(format!(
                        "already signed another result for job {}: refusing to sign a second",
                        attestation.job_id
                    ));
                }
                let old_verdict = if before[32] == 0 {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                };
                let old = (old_verdict, Check::from_byte(before[33]));
                let new = (verdict, check);
                if old == new {
                    return Ok(());
                }
                let upgrade = old.1 == Check::Structural
                    && check.reexecuted()
                    && !havn_types::contradicts(old, new);
                if !upgrade {
                    return Err(format!(
                        "already signed {old:?} for job {}: refusing {new:?}",
                        attestation.job_id
                    ));
                }
            }
            table
                .insert(key.as_slice(), value.as_slice())
                .map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(job_id: u64, output: &[u8; 32]) -> Attestation<'_> {
        Attestation {
            chain_id: "havn-1",
            execution_log: "havn1log",
            job_id,
            workflow_id: 3,
            version_hash: &[7; 32],
            node: "havn1node",
            input_hash: &[8; 32],
            output_hash: output,
            verdict: Verdict::Valid,
            check: Check::Structural,
        }
    }

    /// `admit` of `subject` with this verdict and check.
    fn admit(r: &SignRecord, a: Attestation, verdict: Verdict, check: Check) -> Result<(), String> {
        r.admit(&Attestation {
            verdict,
            check,
            ..a
        })
    }

    const STRUCTURAL: Check = Check::Structural;
    const REEXECUTED: Check = Check::Reexecuted { rung: 0 };

    /// The framing attempt: the same job with another output gets no second signature, before
    /// or after a restart; the dispute's upgrade and an identical re-sign still go through.
    #[test]
    fn one_job_gets_one_result_and_no_contradicting_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signed.redb");
        let (a, b) = ([1u8; 32], [2u8; 32]);
        {
            let r = SignRecord::open(&path).unwrap();
            admit(&r, subject(1, &a), Verdict::Valid, STRUCTURAL).unwrap();
            admit(&r, subject(1, &a), Verdict::Valid, STRUCTURAL).unwrap();
            assert!(admit(&r, subject(1, &b), Verdict::Valid, STRUCTURAL)
                .unwrap_err()
                .contains("another result"));
            // Escalated: the structural Valid becomes a re-executed Invalid.
            admit(&r, subject(1, &a), Verdict::Invalid, REEXECUTED).unwrap();
            // Another job is another record.
            admit(&r, subject(2, &b), Verdict::Valid, REEXECUTED).unwrap();
        }
        let r = SignRecord::open(&path).unwrap();
        assert!(admit(&r, subject(1, &b), Verdict::Invalid, REEXECUTED).is_err());
        // Back from the re-executed Invalid, or across a re-executed verdict: contradictions.
        for (verdict, check) in [(Verdict::Valid, STRUCTURAL), (Verdict::Valid, REEXECUTED)] {
            assert!(admit(&r, subject(1, &a), verdict, check).is_err());
        }
        assert!(admit(&r, subject(2, &b), Verdict::Invalid, REEXECUTED).is_err());
        // A structural Invalid never upgrades into a Valid.
        admit(&r, subject(3, &a), Verdict::Invalid, STRUCTURAL).unwrap();
        assert!(admit(&r, subject(3, &a), Verdict::Valid, REEXECUTED).is_err());
        // Another node, chain or log for the same job number is another subject or record.
        let mut other_node = subject(2, &b);
        other_node.node = "havn1other";
        assert!(admit(&r, other_node, Verdict::Valid, REEXECUTED).is_err());
        let mut other_chain = subject(2, &b);
        other_chain.chain_id = "havn-2";
        admit(&r, other_chain, Verdict::Invalid, REEXECUTED).unwrap();
    }
}
