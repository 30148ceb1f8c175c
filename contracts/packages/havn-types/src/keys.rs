//! Proof of possession: before the staking contract accepts an operator's secp256k1 key, the key
//! must sign this digest, so nobody can register a key they do not hold (or someone else's).
//!
//! Preimage (big-endian u32 length before each field):
//! `len ‖ "havn/pop/v1" ‖ len ‖ chain_id ‖ len ‖ staking_contract ‖ len ‖ operator`;
//! the digest is its SHA-256, signed as a 64-byte compact secp256k1 signature.

use sha2::{Digest, Sha256};

pub const POSSESSION_DOMAIN: &str = "havn/pop/v1";

/// Length of a compressed secp256k1 public key.
pub const PUBKEY_LEN: usize = 33;

pub fn possession_digest(chain_id: &str, staking_contract: &str, operator: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for field in [POSSESSION_DOMAIN, chain_id, staking_contract, operator] {
        hasher.update((field.len() as u32).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_vector() {
        // From testdata/gen_attestation_vectors.py (Python hashlib, independent of this code).
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../testdata/possession_vectors.json")).unwrap();
        for case in v.as_array().unwrap() {
            let digest = possession_digest(
                case["chain_id"].as_str().unwrap(),
                case["staking_contract"].as_str().unwrap(),
                case["operator"].as_str().unwrap(),
            );
            assert_eq!(hex::encode(digest), case["digest"].as_str().unwrap());
        }
    }

    #[test]
    fn binds_every_field() {
        let base = possession_digest("havn-1", "wasm1staking", "wasm1op");
        assert_ne!(base, possession_digest("havn-2", "wasm1staking", "wasm1op"));
        assert_ne!(
            base,
            possession_digest("havn-1", "wasm1staking2", "wasm1op")
        );
        assert_ne!(
            base,
            possession_digest("havn-1", "wasm1staking", "wasm1op2")
        );
        assert_ne!(base, possession_digest("havn-1w", "asm1staking", "wasm1op"));
    }
}
