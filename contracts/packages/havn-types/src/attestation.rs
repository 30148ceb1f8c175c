//! The bytes a validator signs to attest one job's result. The execution-log contract recomputes
//! them to check quorum signatures; the mesh computes them to sign. One function, both sides.
//!
//! Preimage (all integers big-endian, every variable-length field prefixed by its u32 length):
//! ```text
//! len ‖ "havn/attest/v2" ‖ len ‖ chain_id ‖ len ‖ execution_log ‖ job_id:u64 ‖ workflow_id:u64 ‖
//! version_hash:32 ‖ len ‖ node ‖ input_hash:32 ‖ output_hash:32 ‖ verdict:u8 (1 valid, 2 invalid) ‖
//! check:u8 (0 structural checks only, 1 + rung when re-executed and decided at that ladder rung)
//! ```
//! The digest is SHA-256 of the preimage; validators sign the digest with secp256k1. The chain id
//! and contract address stop replay across chains and deployments; the job id across jobs. The
//! check is signed so a validator cannot later deny having claimed a re-execution: a re-executed
//! Valid on a result later proven invalid is slashable.
//! Test vectors: `testdata/attestation_vectors.json`.

use std::fmt;

use cosmwasm_schema::cw_serde;
use sha2::{Digest, Sha256};

/// Domain tag: a signature over these bytes means nothing anywhere else.
pub const ATTESTATION_DOMAIN: &str = "havn/attest/v2";

/// What a validator concluded about a node's result.
#[cw_serde]
#[derive(Copy, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
}

impl Verdict {
    pub const fn byte(self) -> u8 {
        match self {
            Verdict::Valid => 1,
            Verdict::Invalid => 2,
        }
    }
}

/// What a validator did before signing: only the structural checks, or a re-execution of the
/// job judged on the tolerance ladder (`rung`: the index of the rung that decided).
#[cw_serde]
#[derive(Copy, Eq)]
pub enum Check {
    Structural,
    Reexecuted { rung: u8 },
}

impl Check {
    pub const fn byte(self) -> u8 {
        match self {
            Check::Structural => 0,
            Check::Reexecuted { rung } => rung.saturating_add(1),
        }
    }

    /// The inverse of [`Check::byte`] (how the mesh's protos carry it).
    pub const fn from_byte(byte: u8) -> Check {
        match byte {
            0 => Check::Structural,
            n => Check::Reexecuted { rung: n - 1 },
        }
    }

    pub const fn reexecuted(self) -> bool {
        matches!(self, Check::Reexecuted { .. })
    }
}

/// Whether two verdicts one validator signed for the same output contradict each other (the
/// double-sign rule, the same for the staking contract, the router and the validator's own
/// record). Only a structural Valid followed by a re-executed Invalid does not: the re-execution
/// found what the structural checks cannot see.
pub fn contradicts(first: (Verdict, Check), second: (Verdict, Check)) -> bool {
    let upgrade = |a: (Verdict, Check), b: (Verdict, Check)| {
        a == (Verdict::Valid, Check::Structural) && b.0 == Verdict::Invalid && b.1.reexecuted()
    };
    first.0 != second.0 && !upgrade(first, second) && !upgrade(second, first)
}

/// The fields a validator attests to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attestation<'a> {
    /// The chain id, as in the block header.
    pub chain_id: &'a str,
    /// The execution-log contract's address, as the chain prints it.
    pub execution_log: &'a str,
    pub job_id: u64,
    pub workflow_id: u64,
    /// SHA-256 of the workflow version's canonical manifest.
    pub version_hash: &'a [u8; 32],
    /// The node's address, as the chain prints it.
    pub node: &'a str,
    pub input_hash: &'a [u8; 32],
    pub output_hash: &'a [u8; 32],
    pub verdict: Verdict,
    pub check: Check,
}

/// SHA-256 of an attestation's preimage: the 32 bytes a validator signs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttestationDigest(pub [u8; 32]);

impl Attestation<'_> {
    pub fn preimage(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            4 * 4
                + ATTESTATION_DOMAIN.len()
                + self.chain_id.len()
                + self.execution_log.len()
                + self.node.len()
                + 16
                + 96
                + 2,
        );
        let mut field = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        field(ATTESTATION_DOMAIN.as_bytes());
        field(self.chain_id.as_bytes());
        field(self.execution_log.as_bytes());
        out.extend_from_slice(&self.job_id.to_be_bytes());
        out.extend_from_slice(&self.workflow_id.to_be_bytes());
        out.extend_from_slice(self.version_hash);
        out.extend_from_slice(&(self.node.len() as u32).to_be_bytes());
        out.extend_from_slice(self.node.as_bytes());
        out.extend_from_slice(self.input_hash);
        out.extend_from_slice(self.output_hash);
        out.push(self.verdict.byte());
        out.push(self.check.byte());
        out
    }

    pub fn digest(&self) -> AttestationDigest {
        AttestationDigest(Sha256::digest(self.preimage()).into())
    }
}

impl AttestationDigest {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for AttestationDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for AttestationDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttestationDigest({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        chain_id: String,
        execution_log: String,
        job_id: u64,
        workflow_id: u64,
        version_hash: String,
        node: String,
        input_hash: String,
        output_hash: String,
        verdict: Verdict,
        check: Check,
        preimage: String,
        digest: String,
    }

    fn hash32(hex_str: &str) -> [u8; 32] {
        hex::decode(hex_str).unwrap().try_into().unwrap()
    }

    /// The vectors were produced by an independent Python script (testdata/gen_attestation_vectors.py)
    /// from the layout in this module's docs; the mesh checks the same file.
    #[test]
    fn matches_the_published_vectors() {
        let vectors: Vec<Vector> =
            serde_json::from_str(include_str!("../testdata/attestation_vectors.json")).unwrap();
        assert!(vectors.len() >= 4);
        for v in vectors {
            let (version, input, output) = (
                hash32(&v.version_hash),
                hash32(&v.input_hash),
                hash32(&v.output_hash),
            );
            let a = Attestation {
                chain_id: &v.chain_id,
                execution_log: &v.execution_log,
                job_id: v.job_id,
                workflow_id: v.workflow_id,
                version_hash: &version,
                node: &v.node,
                input_hash: &input,
                output_hash: &output,
                verdict: v.verdict,
                check: v.check,
            };
            assert_eq!(
                hex::encode(a.preimage()),
                v.preimage,
                "preimage of vector {}",
                v.name
            );
            assert_eq!(
                a.digest().to_string(),
                v.digest,
                "digest of vector {}",
                v.name
            );
        }
    }

    #[test]
    fn check_bytes_round_trip() {
        for byte in 0..=255u8 {
            assert_eq!(Check::from_byte(byte).byte(), byte);
        }
        assert_eq!(Check::from_byte(0), Check::Structural);
        assert_eq!(Check::from_byte(3), Check::Reexecuted { rung: 2 });
    }

    #[test]
    fn only_real_contradictions_count() {
        let s = Check::Structural;
        let r = Check::Reexecuted { rung: 2 };
        let (valid, invalid) = (Verdict::Valid, Verdict::Invalid);
        assert!(
            !contradicts((valid, s), (valid, r)),
            "re-executing after a structural pass"
        );
        assert!(
            !contradicts((valid, s), (invalid, r)),
            "re-execution found a fake"
        );
        assert!(!contradicts((invalid, r), (valid, s)), "either order");
        assert!(
            contradicts((valid, r), (invalid, r)),
            "two re-executions disagree"
        );
        assert!(contradicts((invalid, s), (valid, s)));
        assert!(contradicts((invalid, s), (valid, r)));
        assert!(contradicts((valid, s), (invalid, s)));
    }

    #[test]
    fn every_field_changes_the_digest() {
        let (h1, h2) = ([1u8; 32], [2u8; 32]);
        let base = Attestation {
            chain_id: "havn-devnet-1",
            execution_log: "wasm1log",
            job_id: 7,
            workflow_id: 3,
            version_hash: &h1,
            node: "wasm1node",
            input_hash: &h1,
            output_hash: &h1,
            verdict: Verdict::Valid,
            check: Check::Structural,
        };
        let variants = [
            Attestation {
                chain_id: "havn-devnet-2",
                ..base
            },
            Attestation {
                execution_log: "wasm1log2",
                ..base
            },
            Attestation { job_id: 8, ..base },
            Attestation {
                workflow_id: 4,
                ..base
            },
            Attestation {
                version_hash: &h2,
                ..base
            },
            Attestation {
                node: "wasm1node2",
                ..base
            },
            Attestation {
                input_hash: &h2,
                ..base
            },
            Attestation {
                output_hash: &h2,
                ..base
            },
            Attestation {
                verdict: Verdict::Invalid,
                ..base
            },
            Attestation {
                check: Check::Reexecuted { rung: 0 },
                ..base
            },
            Attestation {
                check: Check::Reexecuted { rung: 1 },
                ..base
            },
            // Moving a byte across a field boundary must not collide (length prefixes).
            Attestation {
                chain_id: "havn-devnet-1w",
                execution_log: "asm1log",
                ..base
            },
        ];
        let mut seen = std::collections::HashSet::from([base.digest()]);
        for v in variants {
            assert!(seen.insert(v.digest()), "collision for {v:?}");
        }
    }
}
