//! Which jobs a validator re-executes, and how the chain proves afterwards that it was drawn.
//!
//! The draw is `sha256(secret ‖ job_id ‖ output_hash)`, read as a number, below a threshold. The
//! node cannot predict it (the secret is the validator's) and cannot grind its output against it;
//! the validator cannot choose its draws either, because it committed to `sha256(secret)` on chain
//! before the epoch began (`epoch_secret` gives one secret per epoch from a master secret) and
//! reveals it when the epoch ends. Then anyone can recompute each draw: a validator that was
//! drawn and signed a structural Valid anyway is provably lazy (the execution log's
//! `ReportLazy`). The threshold follows from the governance floor `p_min`: with `n` validators
//! committed for the epoch, each is drawn with `r` such that `1 − (1 − r)ⁿ ≥ p_min`, so at least
//! one re-execution happens with probability `p_min` or more. The validator daemon, the execution
//! log and the economic simulator draw with these functions; `testdata/draw_vectors.json`, from
//! `testdata/gen_attestation_vectors.py`, checks them independently (the thresholds by exact
//! integer arithmetic).

use sha2::{Digest, Sha256};

/// The shipped per-validator sample rate for a validator without a chain (tests, a private mesh).
pub const DEFAULT_SAMPLE_RATE: f64 = 0.05;

/// The domain of `epoch_secret`.
pub const SEED_DOMAIN: &[u8] = b"havn/seed/v1";

/// Basis points: 10 000 is certainty.
const BPS: u128 = 10_000;

/// The epoch a height falls in.
pub fn epoch_of(height: u64, epoch_blocks: u64) -> u64 {
    height / epoch_blocks.max(1)
}

/// The secret a validator draws with in `epoch`: `sha256(SEED_DOMAIN ‖ master ‖ epoch)`. Derived,
/// so a restart never loses one, and revealing one epoch's says nothing about the next.
pub fn epoch_secret(master: &[u8; 32], epoch: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(SEED_DOMAIN);
    h.update(master);
    h.update(epoch.to_be_bytes());
    h.finalize().into()
}

/// What a validator commits on chain before the epoch: `sha256(secret)`.
pub fn seed_commitment(secret: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// The draw's number for a job's claimed result: the first 8 bytes of
/// `sha256(secret ‖ job_id ‖ output_hash)`, big-endian.
pub fn draw(secret: &[u8; 32], job_id: u64, output_hash: &[u8; 32]) -> u64 {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(job_id.to_be_bytes());
    h.update(output_hash);
    let d: [u8; 32] = h.finalize().into();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Whether the validator holding `secret` is drawn to re-execute this result.
pub fn drawn(secret: &[u8; 32], job_id: u64, output_hash: &[u8; 32], threshold: u64) -> bool {
    draw(secret, job_id, output_hash) < threshold
}

/// The threshold of a plain rate (0 to 1): a validator without a chain draws with it.
pub fn rate_threshold(rate: f64) -> u64 {
    match rate {
        r if r.is_nan() || r <= 0.0 => 0,
        r if r >= 1.0 => u64::MAX,
        r => (r * 2f64.powi(64)) as u64,
    }
}

/// The per-validator threshold `t` (a draw is `< t`, out of 2⁶⁴) for `validators` equal draws to
/// re-execute a job at least once with probability `p_min_bps / 10 000` or more: the smallest
/// `t` with `(1 − t/2⁶⁴)ⁿ ≤ 1 − p_min`, the power computed in 64-bit fixed point rounding up, so
/// rounding can only raise `t` (a few units in 2⁶⁴), never lower the guarantee. Integers only:
/// the execution log runs it in wasm.
pub fn draw_threshold(p_min_bps: u16, validators: u32) -> u64 {
    let p = u128::from(p_min_bps.min(10_000));
    if p == 0 {
        return 0;
    }
    if p == BPS || validators == 0 {
        return u64::MAX;
    }
    // Fixed point with 64 fractional bits: `miss` is 1 − p (below one, so it fits in 64 bits).
    let miss = (((BPS - p) << 64) / BPS) as u64;
    // The smallest t in [1, u64::MAX] with (2⁶⁴ − t)ⁿ ≤ miss; at t = u64::MAX the power is at
    // most 2⁻⁶⁴·ⁿ, at or below any `miss` here but 0, and p < 1 means miss > 0.
    let (mut lo, mut hi) = (1u64, u64::MAX);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match pow_up(u64::MAX - mid + 1, validators) <= u128::from(miss) {
            true => hi = mid,
            false => lo = mid + 1,
        }
    }
    lo
}

/// `xⁿ` in 64-bit fixed point (`x < 2⁶⁴` stands for `x / 2⁶⁴`), each product rounded up.
fn pow_up(x: u64, n: u32) -> u128 {
    let mul = |a: u128, b: u128| -> u128 { (a * b).div_ceil(1 << 64) };
    let (mut result, mut base, mut n) = (1u128 << 64, u128::from(x), n);
    // `result` starts at one (2⁶⁴), which only ever meets `base < 2⁶⁴`: no product overflows.
    while n > 0 {
        if n & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
        n >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The independent script's secrets, commitments and draws, exactly; its exact thresholds
    /// never below and within 2²⁰ of 2⁶⁴ (6 × 10⁻¹⁴ in probability): rounding up only.
    #[test]
    fn match_the_published_vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../testdata/draw_vectors.json")).unwrap();
        let bytes32 = |s: &serde_json::Value| -> [u8; 32] {
            hex::decode(s.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        };
        for case in v["draws"].as_array().unwrap() {
            let secret = epoch_secret(&bytes32(&case["master"]), case["epoch"].as_u64().unwrap());
            assert_eq!(secret, bytes32(&case["secret"]));
            assert_eq!(seed_commitment(&secret), bytes32(&case["commitment"]));
            let d = draw(
                &secret,
                case["job_id"].as_u64().unwrap(),
                &bytes32(&case["output_hash"]),
            );
            assert_eq!(d.to_string(), case["draw"].as_str().unwrap());
        }
        for case in v["thresholds"].as_array().unwrap() {
            let (p, n) = (
                case["p_min_bps"].as_u64().unwrap() as u16,
                case["validators"].as_u64().unwrap() as u32,
            );
            let exact: u64 = case["exact"].as_str().unwrap().parse().unwrap();
            let t = draw_threshold(p, n);
            assert!(
                t >= exact && t - exact <= 1 << 20,
                "{p} bps, {n}: {t} vs exact {exact}"
            );
        }
    }

    #[test]
    fn the_draw_rate_is_what_the_threshold_says() {
        let secret = [1u8; 32];
        let out = [7u8; 32];
        let t = rate_threshold(0.25);
        let hits = (0..20_000u64)
            .filter(|id| drawn(&secret, *id, &out, t))
            .count();
        assert!((4_500..5_500).contains(&hits), "{hits} of 20000 at 25%");
        assert_eq!(
            (0..1000u64)
                .filter(|id| drawn(&secret, *id, &out, 0))
                .count(),
            0
        );
        // Another secret, or another output for the same job, draws other jobs.
        let mine: Vec<u64> = (0..100)
            .filter(|id| drawn(&secret, *id, &out, 1 << 63))
            .collect();
        let theirs: Vec<u64> = (0..100)
            .filter(|id| drawn(&[2u8; 32], *id, &out, 1 << 63))
            .collect();
        let other_output: Vec<u64> = (0..100)
            .filter(|id| drawn(&secret, *id, &[8u8; 32], 1 << 63))
            .collect();
        assert_ne!(mine, theirs);
        assert_ne!(mine, other_output);
    }

    #[test]
    fn epoch_secrets_differ_and_commit() {
        let master = [3u8; 32];
        assert_ne!(epoch_secret(&master, 1), epoch_secret(&master, 2));
        assert_ne!(epoch_secret(&master, 1), epoch_secret(&[4u8; 32], 1));
        let s = epoch_secret(&master, 5);
        assert_eq!(seed_commitment(&s), <[u8; 32]>::from(Sha256::digest(s)));
        assert_eq!(epoch_of(1199, 600), 1);
        assert_eq!(epoch_of(1200, 600), 2);
        assert_eq!(epoch_of(7, 0), 7, "a zero epoch length reads as one block");
    }

    /// The threshold meets the floor exactly as the float formula says, never below it.
    #[test]
    fn the_threshold_guarantees_p_min() {
        for (p_bps, n) in [
            (2_000u16, 4u32),
            (1_855, 4),
            (2_000, 1),
            (500, 7),
            (9_999, 100),
            (1, 3),
        ] {
            let t = draw_threshold(p_bps, n);
            let r = t as f64 / 2f64.powi(64);
            let p = 1.0 - (1.0 - r).powi(n as i32);
            let want = f64::from(p_bps) / 10_000.0;
            assert!(p >= want - 1e-12, "p {p} < {want} ({p_bps} bps, {n})");
            let exact = 1.0 - (1.0 - want).powf(1.0 / f64::from(n));
            assert!(
                (r - exact).abs() < 1e-9,
                "r {r} vs {exact} ({p_bps} bps, {n})"
            );
        }
        assert_eq!(draw_threshold(0, 4), 0);
        assert_eq!(draw_threshold(10_000, 4), u64::MAX);
        assert_eq!(draw_threshold(2_000, 0), u64::MAX);
        // One validator: r is p_min itself.
        let one = draw_threshold(2_000, 1) as f64 / 2f64.powi(64);
        assert!((one - 0.2).abs() < 1e-12);
    }
}
