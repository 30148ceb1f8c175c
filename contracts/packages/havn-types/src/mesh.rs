//! Digests the compute mesh signs off-chain, shared by the router, nodes and validators (and by
//! the chain client, should it ever need to check them).
//!
//! Layouts (big-endian u32 length before each variable field, SHA-256 over the preimage, signed as
//! a 64-byte compact secp256k1 signature):
//! - hello: `len ‖ "havn/hello/v1" ‖ challenge (32) ‖ len ‖ operator`: an operator proves it
//!   holds its staked key when it connects;
//! - result claim: `len ‖ "havn/claim/v1" ‖ job_id (u64) ‖ attempt (u32) ‖ output_hash (32) ‖
//!   len ‖ executor ‖ len ‖ device`: a node vouches for its output and the runtime it used;
//! - cancel: `len ‖ "havn/cancel/v1" ‖ len ‖ chain_id ‖ len ‖ execution_log ‖ job_id (u64)`: the
//!   caller who requested a job asks the router to cancel it;
//! - read: the same under `"havn/read/v1"`: the caller asks the router for the job's output.
//!
//! Test vectors: `testdata/mesh_vectors.json`, from `testdata/gen_attestation_vectors.py`.

use sha2::{Digest, Sha256};

pub const HELLO_DOMAIN: &str = "havn/hello/v1";
pub const CLAIM_DOMAIN: &str = "havn/claim/v1";
pub const CANCEL_DOMAIN: &str = "havn/cancel/v1";
pub const READ_DOMAIN: &str = "havn/read/v1";

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u32).to_be_bytes());
    hasher.update(bytes);
}

/// What an operator signs to answer a router's challenge.
pub fn hello_digest(challenge: &[u8; 32], operator: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    field(&mut h, HELLO_DOMAIN.as_bytes());
    h.update(challenge);
    field(&mut h, operator.as_bytes());
    h.finalize().into()
}

/// What a job's caller signs to cancel it (bound to the chain and execution log it was requested
/// on, so a signature cancels that job only).
pub fn cancel_digest(chain_id: &str, execution_log: &str, job_id: u64) -> [u8; 32] {
    caller_digest(CANCEL_DOMAIN, chain_id, execution_log, job_id)
}

/// What a job's caller signs to read its output from the router (that job's only).
pub fn read_digest(chain_id: &str, execution_log: &str, job_id: u64) -> [u8; 32] {
    caller_digest(READ_DOMAIN, chain_id, execution_log, job_id)
}

fn caller_digest(domain: &str, chain_id: &str, execution_log: &str, job_id: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    field(&mut h, domain.as_bytes());
    field(&mut h, chain_id.as_bytes());
    field(&mut h, execution_log.as_bytes());
    h.update(job_id.to_be_bytes());
    h.finalize().into()
}

/// A node's claim about one attempt of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultClaim<'a> {
    pub job_id: u64,
    pub attempt: u32,
    pub output_hash: &'a [u8; 32],
    pub executor: &'a str,
    pub device: &'a str,
}

impl ResultClaim<'_> {
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        field(&mut h, CLAIM_DOMAIN.as_bytes());
        h.update(self.job_id.to_be_bytes());
        h.update(self.attempt.to_be_bytes());
        h.update(self.output_hash);
        field(&mut h, self.executor.as_bytes());
        field(&mut h, self.device.as_bytes());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash32(hex_str: &str) -> [u8; 32] {
        hex::decode(hex_str).unwrap().try_into().unwrap()
    }

    #[test]
    fn match_the_published_vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../testdata/mesh_vectors.json")).unwrap();
        for case in v["hello"].as_array().unwrap() {
            let digest = hello_digest(
                &hash32(case["challenge"].as_str().unwrap()),
                case["operator"].as_str().unwrap(),
            );
            assert_eq!(hex::encode(digest), case["digest"].as_str().unwrap());
        }
        for case in v["cancel"].as_array().unwrap() {
            let digest = cancel_digest(
                case["chain_id"].as_str().unwrap(),
                case["execution_log"].as_str().unwrap(),
                case["job_id"].as_u64().unwrap(),
            );
            assert_eq!(hex::encode(digest), case["digest"].as_str().unwrap());
        }
        for case in v["read"].as_array().unwrap() {
            let digest = read_digest(
                case["chain_id"].as_str().unwrap(),
                case["execution_log"].as_str().unwrap(),
                case["job_id"].as_u64().unwrap(),
            );
            assert_eq!(hex::encode(digest), case["digest"].as_str().unwrap());
        }
        for case in v["claim"].as_array().unwrap() {
            let claim = ResultClaim {
                job_id: case["job_id"].as_u64().unwrap(),
                attempt: case["attempt"].as_u64().unwrap() as u32,
                output_hash: &hash32(case["output_hash"].as_str().unwrap()),
                executor: case["executor"].as_str().unwrap(),
                device: case["device"].as_str().unwrap(),
            };
            assert_eq!(
                hex::encode(claim.digest()),
                case["digest"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn domains_keep_the_digests_apart() {
        // The same bytes under another domain never collide with a hello.
        let challenge = [7u8; 32];
        assert_ne!(
            hello_digest(&challenge, "op"),
            hello_digest(&[8u8; 32], "op")
        );
        let claim = ResultClaim {
            job_id: 1,
            attempt: 1,
            output_hash: &challenge,
            executor: "x",
            device: "cpu",
        };
        assert_ne!(
            claim.digest(),
            ResultClaim {
                attempt: 2,
                ..claim
            }
            .digest()
        );
    }
}
