//! Audits: forced errors against the verifier's dilemma (docs/verification.md, "Audits").
//!
//! A validator drawn to re-execute could sign a re-executed Valid without running anything: among
//! honest nodes nothing would ever catch it. So every node returns a deliberately wrong output for
//! a fixed share of its jobs (its *audits*), and a validator that signs one of those Valid after
//! "re-executing" it is provably lying. Which jobs are audits must be unpredictable to validators
//! until they have voted, and not choosable by the node:
//!
//! - Before an epoch the node commits the root of a Merkle tree of [`AUDIT_LEAVES`] leaves,
//!   `leaf_i = sha256(LEAF_DOMAIN ‖ secret ‖ i)`, its secret derived from its key.
//! - Job `j` uses leaf `j mod AUDIT_LEAVES`, and it is an audit when
//!   `sha256(AUDIT_DOMAIN ‖ leaf ‖ j)`, read as a number, is below the threshold of the
//!   governance rate `audit_bps`. The job id comes from the chain after the root was fixed, so the
//!   node cannot pick its leaves to avoid audits; the leaf is secret, so validators cannot tell.
//! - Once the votes are on chain, the node proves each of its jobs audit or not with the leaf and
//!   its path to the root ([`root_of`]): one job at a time, revealing nothing about the others.
//!
//! The execution log checks proofs with [`root_of`] and [`is_audit`]; the node daemon builds the
//! tree with [`AuditTree`]; `testdata/audit_vectors.json`, from
//! `testdata/gen_attestation_vectors.py`, checks them independently.

use sha2::{Digest, Sha256};

/// The domain of an audit leaf.
pub const LEAF_DOMAIN: &[u8] = b"havn/audit-leaf/v1";
/// The domain of an inner node of the tree.
pub const NODE_DOMAIN: &[u8] = b"havn/audit-node/v1";
/// The domain of a job's audit draw.
pub const AUDIT_DOMAIN: &[u8] = b"havn/audit/v1";
/// The tree's depth: a proof holds this many sibling hashes.
pub const AUDIT_DEPTH: usize = 16;
/// Leaves per epoch: jobs `j` and `j + AUDIT_LEAVES` share a leaf, so a proof for one would tell
/// the other's draw; that needs more than this many jobs in one epoch on one node.
pub const AUDIT_LEAVES: u64 = 1 << AUDIT_DEPTH;

/// The leaf job `job_id` draws with.
pub fn leaf_index(job_id: u64) -> u64 {
    job_id % AUDIT_LEAVES
}

/// `sha256(LEAF_DOMAIN ‖ secret ‖ index)`, the index as 8 big-endian bytes.
pub fn audit_leaf(secret: &[u8; 32], index: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LEAF_DOMAIN);
    h.update(secret);
    h.update(index.to_be_bytes());
    h.finalize().into()
}

fn parent(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(NODE_DOMAIN);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root a leaf and its path (siblings from the leaf up) lead to; `None` when the path is not
/// [`AUDIT_DEPTH`] long or the index is out of range.
pub fn root_of(leaf: &[u8; 32], index: u64, path: &[[u8; 32]]) -> Option<[u8; 32]> {
    if path.len() != AUDIT_DEPTH || index >= AUDIT_LEAVES {
        return None;
    }
    let mut hash = *leaf;
    for (level, sibling) in path.iter().enumerate() {
        hash = match (index >> level) & 1 {
            0 => parent(&hash, sibling),
            _ => parent(sibling, &hash),
        };
    }
    Some(hash)
}

/// A job's audit draw: the first 8 bytes of `sha256(AUDIT_DOMAIN ‖ leaf ‖ job_id)`, big-endian.
pub fn audit_draw(leaf: &[u8; 32], job_id: u64) -> u64 {
    let mut h = Sha256::new();
    h.update(AUDIT_DOMAIN);
    h.update(leaf);
    h.update(job_id.to_be_bytes());
    let d: [u8; 32] = h.finalize().into();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// The threshold of a rate in bps: `⌊bps · 2⁶⁴ / 10 000⌋` (10 000 bps: every job).
pub fn audit_threshold(audit_bps: u16) -> u64 {
    match audit_bps {
        0 => 0,
        b if b >= 10_000 => u64::MAX,
        b => ((u128::from(b) << 64) / 10_000) as u64,
    }
}

/// Whether job `job_id`, drawing with `leaf`, is an audit.
pub fn is_audit(leaf: &[u8; 32], job_id: u64, threshold: u64) -> bool {
    audit_draw(leaf, job_id) < threshold
}

/// A node's tree for one epoch: every level, leaves first (4 MiB; built once per epoch).
pub struct AuditTree {
    levels: Vec<Vec<[u8; 32]>>,
}

impl AuditTree {
    pub fn new(secret: &[u8; 32]) -> Self {
        let leaves: Vec<[u8; 32]> = (0..AUDIT_LEAVES).map(|i| audit_leaf(secret, i)).collect();
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = levels
                .last()
                .expect("a level")
                .chunks(2)
                .map(|pair| parent(&pair[0], &pair[1]))
                .collect();
            levels.push(next);
        }
        AuditTree { levels }
    }

    /// What the node commits for the epoch.
    pub fn root(&self) -> [u8; 32] {
        self.levels.last().expect("a root")[0]
    }

    /// The leaf job `job_id` draws with, and its path to the root.
    pub fn proof(&self, job_id: u64) -> ([u8; 32], Vec<[u8; 32]>) {
        let index = leaf_index(job_id) as usize;
        let path = self.levels[..AUDIT_DEPTH]
            .iter()
            .enumerate()
            .map(|(level, hashes)| hashes[(index >> level) ^ 1])
            .collect();
        (self.levels[0][index], path)
    }

    /// Whether job `job_id` is one of this epoch's audits.
    pub fn is_audit(&self, job_id: u64, threshold: u64) -> bool {
        is_audit(
            &self.levels[0][leaf_index(job_id) as usize],
            job_id,
            threshold,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes32(s: &serde_json::Value) -> [u8; 32] {
        hex::decode(s.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// The independent script's roots, leaves, paths, draws and thresholds, exactly.
    #[test]
    fn match_the_published_vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../testdata/audit_vectors.json")).unwrap();
        for tree in v["trees"].as_array().unwrap() {
            let t = AuditTree::new(&bytes32(&tree["secret"]));
            assert_eq!(t.root(), bytes32(&tree["root"]));
            for case in tree["proofs"].as_array().unwrap() {
                let job = case["job_id"].as_u64().unwrap();
                let (leaf, path) = t.proof(job);
                assert_eq!(leaf, bytes32(&case["leaf"]));
                let want: Vec<[u8; 32]> = case["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(bytes32)
                    .collect();
                assert_eq!(path, want);
                assert_eq!(root_of(&leaf, leaf_index(job), &path), Some(t.root()));
                assert_eq!(
                    audit_draw(&leaf, job).to_string(),
                    case["draw"].as_str().unwrap()
                );
            }
        }
        for case in v["thresholds"].as_array().unwrap() {
            let bps = case["audit_bps"].as_u64().unwrap() as u16;
            assert_eq!(
                audit_threshold(bps).to_string(),
                case["threshold"].as_str().unwrap()
            );
        }
    }

    /// A proof binds its leaf, its index and every sibling: change any one and the root differs.
    #[test]
    fn a_proof_proves_one_leaf_only() {
        let t = AuditTree::new(&[9u8; 32]);
        let (leaf, path) = t.proof(70_001);
        let index = leaf_index(70_001);
        assert_eq!(root_of(&leaf, index, &path), Some(t.root()));
        assert_ne!(root_of(&[0u8; 32], index, &path), Some(t.root()));
        assert_ne!(root_of(&leaf, index ^ 1, &path), Some(t.root()));
        let mut bent = path.clone();
        bent[7][0] ^= 1;
        assert_ne!(root_of(&leaf, index, &bent), Some(t.root()));
        assert_eq!(root_of(&leaf, index, &path[1..]), None);
        assert_eq!(root_of(&leaf, AUDIT_LEAVES, &path), None);
    }

    /// The share of audits is the rate's; another secret audits other jobs.
    #[test]
    fn audits_come_at_the_governance_rate() {
        let t = AuditTree::new(&[1u8; 32]);
        let th = audit_threshold(200);
        let hits = (0..20_000u64).filter(|&j| t.is_audit(j, th)).count();
        assert!((320..480).contains(&hits), "{hits} of 20000 at 2 %");
        assert_eq!((0..1000u64).filter(|&j| t.is_audit(j, 0)).count(), 0);
        assert_eq!(
            (0..1000u64).filter(|&j| t.is_audit(j, u64::MAX)).count(),
            1000
        );
        let other = AuditTree::new(&[2u8; 32]);
        let mine: Vec<u64> = (0..5000).filter(|&j| t.is_audit(j, th)).collect();
        let theirs: Vec<u64> = (0..5000).filter(|&j| other.is_audit(j, th)).collect();
        assert_ne!(mine, theirs);
    }
}
