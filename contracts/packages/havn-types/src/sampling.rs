//! Which jobs a validator re-executes: `sha256(secret ‖ job_id)`, read as a number, below `rate` of
//! the range. The node cannot predict it (the secret is the validator's), and the validator
//! committed to `sha256(secret)` when it connected, so it cannot choose afterwards. The validator
//! daemon and the economic simulator draw with this one function.

use sha2::{Digest, Sha256};

/// The shipped per-validator sample rate (docs/verification.md derives what it buys).
pub const DEFAULT_SAMPLE_RATE: f64 = 0.05;

pub fn sampled(secret: &[u8; 32], rate: f64, job_id: u64) -> bool {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(job_id.to_be_bytes());
    let d: [u8; 32] = h.finalize().into();
    let x = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
    (x as f64) < rate * (u64::MAX as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_rate_is_what_it_says() {
        let secret = [1u8; 32];
        let hits = (0..20_000u64)
            .filter(|id| sampled(&secret, 0.25, *id))
            .count();
        assert!((4_500..5_500).contains(&hits), "{hits} of 20000 at 25%");
        assert_eq!(
            (0..1000u64).filter(|id| sampled(&secret, 0.0, *id)).count(),
            0
        );
        assert_eq!(
            (0..1000u64).filter(|id| sampled(&secret, 1.0, *id)).count(),
            1000
        );
        // Another secret samples other jobs.
        let other: Vec<u64> = (0..100u64)
            .filter(|id| sampled(&[2u8; 32], 0.5, *id))
            .collect();
        let mine: Vec<u64> = (0..100u64)
            .filter(|id| sampled(&secret, 0.5, *id))
            .collect();
        assert_ne!(other, mine);
    }
}
