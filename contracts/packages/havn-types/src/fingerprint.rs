//! A workflow version's fingerprint: a MinHash signature of its manifest's feature set, so that
//! the share of equal slots between two signatures estimates the Jaccard similarity of the two
//! sets (the registry compares fingerprints; it cannot read manifests). Which features a manifest
//! has is `havn_workflow::fingerprint`'s job; this module is the math both sides share.
//!
//! - Each feature (bytes) is hashed once: `base = u64_be(sha256(FINGERPRINT_DOMAIN ‖ feature)[..8])`.
//! - Slot `k` (0 ≤ k < [`SLOTS`]) of the signature is the minimum over features of the high 32
//!   bits of `splitmix64(base ⊕ (k + 1)·γ)`, γ = 0x9E3779B97F4A7C15; an empty set has every slot
//!   `u32::MAX`.
//! - [`similarity`] is the share of equal slots, in basis points.
//! - [`band_keys`] cuts the signature into bands of `rows` slots (locality-sensitive hashing):
//!   two signatures share a band key with probability `1 − (1 − Jʳ)ᵇ`, which is how the registry
//!   finds candidates without comparing against every workflow.
//!
//! `mesh/workflow/testdata/fingerprint_vectors.json`, from the independent Python script next to
//! it, checks these values.

use sha2::{Digest, Sha256};

/// The domain separating fingerprint hashes from every other sha256 in Havn.
pub const FINGERPRINT_DOMAIN: &[u8] = b"havn/fingerprint/v1";
/// Slots in a signature: the similarity estimate's standard error is √(J(1−J)/128) ≤ 0.045.
pub const SLOTS: usize = 128;
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A MinHash signature of [`SLOTS`] slots.
pub type Signature = Vec<u32>;

fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A feature's base hash.
pub fn feature_hash(feature: &[u8]) -> u64 {
    let d = Sha256::new()
        .chain_update(FINGERPRINT_DOMAIN)
        .chain_update(feature)
        .finalize();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// The MinHash signature of a feature set (repeats do not matter).
pub fn signature<'a>(features: impl IntoIterator<Item = &'a [u8]>) -> Signature {
    let mut sig = vec![u32::MAX; SLOTS];
    for f in features {
        let base = feature_hash(f);
        for (k, slot) in sig.iter_mut().enumerate() {
            let h = (splitmix64(base ^ (k as u64 + 1).wrapping_mul(GAMMA)) >> 32) as u32;
            if h < *slot {
                *slot = h;
            }
        }
    }
    sig
}

/// The estimated Jaccard similarity of two signatures in basis points (0 to 10 000): the share
/// of slots in which they agree. Signatures of other lengths than [`SLOTS`] compare as 0.
pub fn similarity(a: &[u32], b: &[u32]) -> u16 {
    if a.len() != SLOTS || b.len() != SLOTS {
        return 0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    (equal * 10_000 / SLOTS) as u16
}

/// The signature as stored on chain and sent in messages: its slots as u32 big-endian, 512 bytes.
pub fn encode(sig: &[u32]) -> Vec<u8> {
    sig.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// [`encode`]'s inverse; `None` unless exactly [`SLOTS`] slots.
pub fn decode(bytes: &[u8]) -> Option<Signature> {
    if bytes.len() != SLOTS * 4 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")))
            .collect(),
    )
}

/// The encoded fingerprint of a workflow known only by a label, with no manifest to read (the
/// demo's example upstream, contract tests): the signature of the one feature
/// `placeholder/<label>`. Two labels compare as unrelated.
pub fn placeholder(label: &str) -> cosmwasm_std::HexBinary {
    encode(&signature([format!("placeholder/{label}").as_bytes()])).into()
}

/// The LSH band keys of a signature: band `i` of `rows` slots hashes to
/// `u64_be(sha256(FINGERPRINT_DOMAIN ‖ "band" ‖ i (u16 BE) ‖ its slots as u32 BE)[..8])`.
/// `SLOTS / rows` bands (a trailing partial band is left out); `rows` of 0 gives none.
pub fn band_keys(sig: &[u32], rows: usize) -> Vec<u64> {
    if rows == 0 {
        return vec![];
    }
    sig.chunks_exact(rows)
        .enumerate()
        .map(|(i, band)| {
            let mut h = Sha256::new()
                .chain_update(FINGERPRINT_DOMAIN)
                .chain_update(b"band")
                .chain_update((i as u16).to_be_bytes());
            for v in band {
                h.update(v.to_be_bytes());
            }
            u64::from_be_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(items: &[String]) -> Signature {
        signature(items.iter().map(|s| s.as_bytes()))
    }

    #[test]
    fn order_and_repeats_do_not_matter_and_the_empty_set_is_all_max() {
        let a = set(&["x".into(), "y".into(), "z".into()]);
        let b = set(&["z".into(), "x".into(), "y".into(), "x".into()]);
        assert_eq!(a, b);
        assert_eq!(similarity(&a, &b), 10_000);
        assert_eq!(set(&[]), vec![u32::MAX; SLOTS]);
        assert_eq!(similarity(&a, &a[..64]), 0);
        assert_eq!(band_keys(&a, 4).len(), 32);
        assert_eq!(band_keys(&a, 5).len(), 25);
        assert!(band_keys(&a, 0).is_empty());
        assert_eq!(decode(&encode(&a)), Some(a.clone()));
        assert_eq!(encode(&a)[..4], a[0].to_be_bytes());
        assert_eq!(decode(&encode(&a)[..508]), None);
    }

    proptest! {
        /// The estimate tracks the true Jaccard similarity (within 4.5 standard errors).
        #[test]
        fn similarity_estimates_jaccard(shared in 0usize..60, only_a in 0usize..60, only_b in 0usize..60, salt in 0u32..1000) {
            prop_assume!(shared + only_a + only_b > 0);
            let f = |tag: &str, n: usize| (0..n).map(|i| format!("{salt}/{tag}/{i}")).collect::<Vec<_>>();
            let common = f("c", shared);
            let a: Vec<String> = common.iter().cloned().chain(f("a", only_a)).collect();
            let b: Vec<String> = common.iter().cloned().chain(f("b", only_b)).collect();
            let j = shared as f64 / (shared + only_a + only_b) as f64;
            let est = similarity(&set(&a), &set(&b)) as f64 / 10_000.0;
            let se = (j * (1.0 - j) / SLOTS as f64).sqrt().max(0.01);
            prop_assert!((est - j).abs() <= 4.5 * se + 1.0 / SLOTS as f64, "estimate {est} for J {j}");
        }

        /// Equal band keys are exactly equal bands.
        #[test]
        fn bands_match_where_slots_match(seed in 0u32..1000, rows in 1usize..16) {
            let a = set(&[format!("{seed}")]);
            let mut b = a.clone();
            b[0] ^= 1;
            let (ka, kb) = (band_keys(&a, rows), band_keys(&b, rows));
            prop_assert_ne!(ka[0], kb[0]);
            prop_assert_eq!(&ka[1..], &kb[1..]);
        }
    }
}
