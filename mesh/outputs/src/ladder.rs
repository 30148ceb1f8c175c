//! The tolerance ladder: how a validator decides whether a node's output matches its own
//! re-execution when the two ran on different hardware. Rungs, in order:
//!
//! 1. **structure** (every result, re-executed or not): the output decodes as its declared
//!    encoding, has the declared shape, holds no NaN/Inf, and is not blank or constant: else fail;
//! 2. **exact**: the bytes are identical: pass;
//! 3. **tolerance**: the decoded values are close (max-abs, relative L2 and cosine similarity all
//!    within the output kind's thresholds): pass;
//! 4. **perceptual** (images): the 64-bit difference hashes are within a few bits: pass;
//! 5. otherwise **mismatch**: fail. Text has no numeric rung here: a runtime that can check
//!    tokens against its model's probabilities does that itself (rung **tokens**).
//!
//! Every judgement names the rung that decided and carries the measured distances, so false
//! positives and negatives can be studied from validators' logs and metrics.

use serde::{Deserialize, Serialize};

use crate::encode::{decode, Decoded, Encoding, OutputSpec, Values};

/// Thresholds of the numeric and perceptual rungs, in the decoded output's own units (0–255 for
/// pixels, PCM steps for audio, raw values for npy).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// The largest difference of any one value.
    pub max_abs: f64,
    /// ‖claimed − reference‖₂ / ‖reference‖₂.
    pub rel_l2: f64,
    /// The lowest cosine similarity of the two value vectors.
    pub min_cosine: f64,
    /// Images: the largest Hamming distance of the 64-bit difference hashes (0: no such rung).
    #[serde(default)]
    pub phash_bits: u32,
    /// Images: the perceptual rung only rescues outputs whose relative L2 error is at most this
    /// (local deviations, a few pixels far off); a globally different picture never passes on
    /// its hash alone.
    #[serde(default = "default_perceptual_rel_l2")]
    pub perceptual_max_rel_l2: f64,
}

fn default_perceptual_rel_l2() -> f64 {
    0.05
}

/// How much looser than the measured defaults a manifest may set a threshold. Honest
/// cross-device runs sit 8–20× inside the defaults and the closest measured fake (one prompt
/// character changed) 2.6× outside the perceptual gate (docs/runtime.md), so twice the default
/// leaves a noisier pipeline room and still fails every measured fake; without a ceiling a
/// creator and a node together could declare a tolerance any fake passes.
pub const CEILING_FACTOR: f64 = 2.0;

impl Tolerance {
    /// The loosest tolerance a manifest may declare for an output kind: each threshold at most
    /// `CEILING_FACTOR` looser than the default, the hash distance no looser at all.
    pub fn ceiling_for(encoding: Encoding) -> Self {
        let d = Self::default_for(encoding);
        Tolerance {
            max_abs: d.max_abs * CEILING_FACTOR,
            rel_l2: d.rel_l2 * CEILING_FACTOR,
            min_cosine: 1.0 - (1.0 - d.min_cosine) * CEILING_FACTOR,
            phash_bits: d.phash_bits,
            perceptual_max_rel_l2: d.perceptual_max_rel_l2 * CEILING_FACTOR,
        }
    }

    /// `Err(why)` naming the first threshold looser than `ceiling_for(encoding)` (or not a
    /// number); tighter is always allowed.
    pub fn check_within(&self, encoding: Encoding) -> Result<(), String> {
        let c = Self::ceiling_for(encoding);
        let over = |name: &str, got: f64, max: f64| {
            Err(format!(
                "tolerance {name} {got} is looser than the ceiling {max} for {encoding:?} outputs"
            ))
        };
        for (name, got, max) in [
            ("max_abs", self.max_abs, c.max_abs),
            ("rel_l2", self.rel_l2, c.rel_l2),
            (
                "perceptual_max_rel_l2",
                self.perceptual_max_rel_l2,
                c.perceptual_max_rel_l2,
            ),
        ] {
            if got.is_nan() || got > max {
                return over(name, got, max);
            }
        }
        if self.min_cosine.is_nan() || self.min_cosine < c.min_cosine {
            return over("min_cosine", self.min_cosine, c.min_cosine);
        }
        if self.phash_bits > c.phash_bits {
            return over("phash_bits", self.phash_bits.into(), c.phash_bits.into());
        }
        Ok(())
    }

    /// The defaults per output kind. Measured, not guessed: see docs/runtime.md for the CPU vs
    /// CUDA and thread-count distances they were set from, and the distance of faked outputs.
    pub fn default_for(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Png => Tolerance {
                max_abs: 8.0,
                rel_l2: 0.02,
                min_cosine: 0.999,
                phash_bits: 4,
                perceptual_max_rel_l2: 0.05,
            },
            Encoding::Wav => Tolerance {
                max_abs: 328.0, // 1 % of full scale
                rel_l2: 0.01,
                min_cosine: 0.9999,
                phash_bits: 0,
                perceptual_max_rel_l2: 0.0,
            },
            Encoding::Npy => Tolerance {
                max_abs: 1e-3,
                rel_l2: 1e-3,
                min_cosine: 0.99999,
                phash_bits: 0,
                perceptual_max_rel_l2: 0.0,
            },
            Encoding::Utf8 => Tolerance {
                max_abs: 0.0,
                rel_l2: 0.0,
                min_cosine: 1.0,
                phash_bits: 0,
                perceptual_max_rel_l2: 0.0,
            },
        }
    }
}

/// Which rung decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rung {
    Structure,
    Exact,
    Tolerance,
    Perceptual,
    Tokens,
    Mismatch,
}

impl Rung {
    pub const ALL: [Rung; 6] = [
        Rung::Structure,
        Rung::Exact,
        Rung::Tolerance,
        Rung::Perceptual,
        Rung::Tokens,
        Rung::Mismatch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rung::Structure => "structure",
            Rung::Exact => "exact",
            Rung::Tolerance => "tolerance",
            Rung::Perceptual => "perceptual",
            Rung::Tokens => "tokens",
            Rung::Mismatch => "mismatch",
        }
    }
}

/// Distances between a claimed output and a reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub max_abs: f64,
    pub rel_l2: f64,
    pub cosine: f64,
    /// Images only.
    pub phash_distance: Option<u32>,
}

/// A validator's decision about one output.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub pass: bool,
    pub rung: Rung,
    /// Why, in words a person can act on.
    pub detail: String,
    pub metrics: Option<Metrics>,
}

impl Judgement {
    pub fn fail(rung: Rung, detail: impl Into<String>) -> Self {
        Judgement {
            pass: false,
            rung,
            detail: detail.into(),
            metrics: None,
        }
    }

    pub fn exact() -> Self {
        Judgement {
            pass: true,
            rung: Rung::Exact,
            detail: "identical output".into(),
            metrics: None,
        }
    }
}

/// Rung 1, for every result: decodes `bytes` as `spec` declares and checks what any correct
/// output satisfies.
pub fn inspect(spec: &OutputSpec, bytes: &[u8]) -> Result<Decoded, String> {
    let decoded = decode(spec, bytes).map_err(|e| e.to_string())?;
    if let Some(want) = &spec.shape {
        // `[C, H, W]` and `[1, C, H, W]` (and `[N]`, `[1, N]`) name the same output.
        let strip = |s: &[usize]| -> Vec<usize> {
            match s.split_first() {
                Some((1, rest)) if !rest.is_empty() => rest.to_vec(),
                _ => s.to_vec(),
            }
        };
        if strip(want) != strip(&decoded.shape) {
            return Err(format!(
                "output has shape {:?}; the workflow declares {want:?}",
                decoded.shape
            ));
        }
    }
    match &decoded.values {
        Values::Text(t) if t.is_empty() => return Err("empty text".into()),
        Values::Text(_) => {}
        Values::F32(v) if v.iter().any(|x| !x.is_finite()) => {
            return Err("output contains NaN or infinity".into())
        }
        _ => {
            let numbers = decoded.numbers().unwrap_or_default();
            match numbers.split_first() {
                None => return Err("empty output".into()),
                Some((first, rest)) if numbers.len() > 1 && rest.iter().all(|x| x == first) => {
                    return Err(format!(
                        "blank output: every value is {first} ({} values)",
                        numbers.len()
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(decoded)
}

/// Judges a node's `claimed` output against the validator's own `reference` run, rung by rung.
pub fn compare(spec: &OutputSpec, claimed: &[u8], reference: &[u8]) -> Judgement {
    let claimed_dec = match inspect(spec, claimed) {
        Ok(d) => d,
        Err(why) => return Judgement::fail(Rung::Structure, why),
    };
    if claimed == reference {
        return Judgement::exact();
    }
    let reference_dec = match decode(spec, reference) {
        Ok(d) => d,
        Err(e) => {
            return Judgement::fail(
                Rung::Mismatch,
                format!("the validator's own output does not decode: {e}"),
            )
        }
    };
    if claimed_dec.shape != reference_dec.shape {
        return Judgement::fail(
            Rung::Structure,
            format!(
                "output has shape {:?}; re-execution gives {:?}",
                claimed_dec.shape, reference_dec.shape
            ),
        );
    }
    let (Some(a), Some(b)) = (claimed_dec.numbers(), reference_dec.numbers()) else {
        return Judgement::fail(Rung::Mismatch, "text differs from re-execution");
    };
    let tol = spec
        .tolerance
        .unwrap_or_else(|| Tolerance::default_for(spec.encode));
    let mut metrics = distances(&a, &b);
    if metrics.max_abs <= tol.max_abs
        && metrics.rel_l2 <= tol.rel_l2
        && metrics.cosine >= tol.min_cosine
    {
        return Judgement {
            pass: true,
            rung: Rung::Tolerance,
            detail: format!(
                "within tolerance: max |Δ| {:.4}, rel L2 {:.2e}, cosine {:.6}",
                metrics.max_abs, metrics.rel_l2, metrics.cosine
            ),
            metrics: Some(metrics),
        };
    }
    if let (Values::U8(pa), Values::U8(pb)) = (&claimed_dec.values, &reference_dec.values) {
        if tol.phash_bits > 0 {
            let d = (dhash(&claimed_dec.shape, pa) ^ dhash(&reference_dec.shape, pb)).count_ones();
            metrics.phash_distance = Some(d);
            if d <= tol.phash_bits && metrics.rel_l2 <= tol.perceptual_max_rel_l2 {
                return Judgement {
                    pass: true,
                    rung: Rung::Perceptual,
                    detail: format!(
                        "perceptually the same: hash distance {d} of 64 bits (max |Δ| {:.1}, rel L2 {:.2e})",
                        metrics.max_abs, metrics.rel_l2
                    ),
                    metrics: Some(metrics),
                };
            }
        }
    }
    Judgement {
        pass: false,
        rung: Rung::Mismatch,
        detail: format!(
            "differs from re-execution: max |Δ| {:.4}, rel L2 {:.2e}, cosine {:.6}{}",
            metrics.max_abs,
            metrics.rel_l2,
            metrics.cosine,
            metrics
                .phash_distance
                .map(|d| format!(", hash distance {d} of 64"))
                .unwrap_or_default()
        ),
        metrics: Some(metrics),
    }
}

/// Max-abs, relative L2 and cosine similarity of two equally long vectors.
pub fn distances(a: &[f64], b: &[f64]) -> Metrics {
    let (mut max_abs, mut diff2, mut aa, mut bb, mut ab) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        max_abs = max_abs.max(d.abs());
        diff2 += d * d;
        aa += x * x;
        bb += y * y;
        ab += x * y;
    }
    let rel_l2 = if bb > 0.0 {
        (diff2 / bb).sqrt()
    } else if diff2 == 0.0 {
        0.0
    } else {
        f64::INFINITY
    };
    let cosine = if aa > 0.0 && bb > 0.0 {
        ab / (aa.sqrt() * bb.sqrt())
    } else if aa == bb {
        1.0
    } else {
        0.0
    };
    Metrics {
        max_abs,
        rel_l2,
        cosine,
        phash_distance: None,
    }
}

/// A 64-bit difference hash (dHash) of an `H × W × C` image: grayscale, box-averaged to 9×8,
/// one bit per horizontally adjacent pair (left brighter than right).
pub fn dhash(shape: &[usize], hwc: &[u8]) -> u64 {
    let (c, h, w) = match shape {
        [1, c, h, w] | [c, h, w] => (*c, *h, *w),
        _ => return 0,
    };
    let gray = |y: usize, x: usize| -> f64 {
        let i = (y * w + x) * c;
        if c == 3 {
            0.299 * hwc[i] as f64 + 0.587 * hwc[i + 1] as f64 + 0.114 * hwc[i + 2] as f64
        } else {
            hwc[i] as f64
        }
    };
    let mut cells = [[0f64; 9]; 8];
    for (gy, row) in cells.iter_mut().enumerate() {
        for (gx, cell) in row.iter_mut().enumerate() {
            let (y0, y1) = (gy * h / 8, ((gy + 1) * h / 8).max(gy * h / 8 + 1).min(h));
            let (x0, x1) = (gx * w / 9, ((gx + 1) * w / 9).max(gx * w / 9 + 1).min(w));
            let mut sum = 0.0;
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += gray(y, x);
                }
            }
            *cell = sum / ((y1 - y0) * (x1 - x0)).max(1) as f64;
        }
    }
    let mut bits = 0u64;
    for row in &cells {
        for x in 0..8 {
            bits = (bits << 1) | (row[x] > row[x + 1]) as u64;
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest may tighten the ladder, and loosen it up to the ceiling, never further.
    #[test]
    fn tolerances_are_bounded_by_the_ceiling() {
        for e in [Encoding::Png, Encoding::Wav, Encoding::Npy, Encoding::Utf8] {
            assert_eq!(Tolerance::default_for(e).check_within(e), Ok(()));
            assert_eq!(Tolerance::ceiling_for(e).check_within(e), Ok(()));
        }
        let png = Tolerance::default_for(Encoding::Png);
        let tighter = Tolerance {
            max_abs: 1.0,
            ..png
        };
        assert_eq!(tighter.check_within(Encoding::Png), Ok(()));
        let cases = [
            (
                Tolerance {
                    max_abs: 16.5,
                    ..png
                },
                "max_abs",
            ),
            (
                Tolerance {
                    rel_l2: f64::NAN,
                    ..png
                },
                "rel_l2",
            ),
            (
                Tolerance {
                    min_cosine: 0.99,
                    ..png
                },
                "min_cosine",
            ),
            (
                Tolerance {
                    phash_bits: 5,
                    ..png
                },
                "phash_bits",
            ),
            (
                Tolerance {
                    perceptual_max_rel_l2: 0.2,
                    ..png
                },
                "perceptual_max_rel_l2",
            ),
        ];
        for (t, name) in cases {
            let err = t.check_within(Encoding::Png).unwrap_err();
            assert!(err.starts_with(&format!("tolerance {name} ")), "{err}");
        }
        // The closest measured fake (docs/runtime.md: one prompt character changed, relative
        // L2 0.13, hash distance 3) stays outside even the loosest gate a manifest may set.
        assert!(Tolerance::ceiling_for(Encoding::Png).perceptual_max_rel_l2 < 0.13);
        assert!(Tolerance::ceiling_for(Encoding::Png).rel_l2 < 0.13);
    }
    use crate::encode;
    use proptest::prelude::*;

    fn spec(encode: Encoding, shape: &[usize]) -> OutputSpec {
        OutputSpec {
            from: "x".into(),
            encode,
            shape: Some(shape.to_vec()),
            sample_rate: None,
            vocab: None,
            tolerance: None,
        }
    }

    /// A smooth 32×32 test image whose pattern depends on `phase`.
    fn image(phase: f64) -> Vec<u8> {
        let mut chw = vec![0u8; 3 * 32 * 32];
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let v = ((x as f64 * 0.3 + phase).sin() * (y as f64 * 0.2 + c as f64).cos()
                        + 1.0)
                        * 120.0;
                    chw[c * 1024 + y * 32 + x] = v as u8;
                }
            }
        }
        chw
    }

    const SHAPE: [usize; 4] = [1, 3, 32, 32];

    #[test]
    fn the_rungs_decide_in_order() {
        let s = spec(Encoding::Png, &SHAPE);
        let reference = encode::png(&SHAPE, &image(0.0)).unwrap();
        assert_eq!(compare(&s, &reference, &reference).rung, Rung::Exact);

        // Quantization noise of a different device: ±1 on some pixels → tolerance.
        let mut near = image(0.0);
        for (i, p) in near.iter_mut().enumerate() {
            if i % 7 == 0 {
                *p = p.saturating_add(1);
            }
        }
        let j = compare(&s, &encode::png(&SHAPE, &near).unwrap(), &reference);
        assert!(j.pass, "{j:?}");
        assert_eq!(j.rung, Rung::Tolerance);
        assert_eq!(j.metrics.unwrap().max_abs, 1.0);

        // One bright blotch (beyond the numeric thresholds) leaves the picture the same.
        let mut blotch = image(0.0);
        for y in 10..14 {
            for x in 10..14 {
                blotch[y * 32 + x] = blotch[y * 32 + x].saturating_add(60);
            }
        }
        let j = compare(&s, &encode::png(&SHAPE, &blotch).unwrap(), &reference);
        assert_eq!((j.pass, j.rung), (true, Rung::Perceptual), "{j:?}");

        // The same structure, globally brighter: the hash cannot tell, the gate on relative
        // error does (a near-duplicate request's cached output looks like this).
        let brighter: Vec<u8> = image(0.0).iter().map(|p| p.saturating_add(40)).collect();
        let j = compare(&s, &encode::png(&SHAPE, &brighter).unwrap(), &reference);
        assert_eq!((j.pass, j.rung), (false, Rung::Mismatch), "{j:?}");
        assert!(j.metrics.unwrap().phash_distance.unwrap() <= 4, "{j:?}");

        // Another picture altogether (a cached output of another request) → mismatch.
        let j = compare(&s, &encode::png(&SHAPE, &image(2.0)).unwrap(), &reference);
        assert_eq!((j.pass, j.rung), (false, Rung::Mismatch), "{j:?}");
        assert!(j.metrics.unwrap().phash_distance.unwrap() > 4);

        // Blank, wrongly shaped or undecodable → structure, whatever the reference.
        let blank = encode::png(&SHAPE, &[128; 3 * 32 * 32]).unwrap();
        assert_eq!(compare(&s, &blank, &reference).rung, Rung::Structure);
        let small = encode::png(&[1, 3, 16, 16], &image(0.0)[..768]).unwrap();
        assert_eq!(compare(&s, &small, &reference).rung, Rung::Structure);
        assert_eq!(compare(&s, b"not a png", &reference).rung, Rung::Structure);
    }

    #[test]
    fn audio_and_tensors_use_their_own_units() {
        let s = spec(Encoding::Wav, &[1, 100]);
        let samples: Vec<i16> = (0..100)
            .map(|i| ((i as f64 * 0.3).sin() * 9000.0) as i16)
            .collect();
        let reference = encode::wav(16_000, &samples);
        let off_by_one: Vec<i16> = samples.iter().map(|x| x + 1).collect();
        assert_eq!(
            compare(&s, &encode::wav(16_000, &off_by_one), &reference).rung,
            Rung::Tolerance
        );
        let inverted: Vec<i16> = samples.iter().map(|x| -x).collect();
        assert!(!compare(&s, &encode::wav(16_000, &inverted), &reference).pass);

        let s = spec(Encoding::Npy, &[4]);
        let reference = encode::npy(&[4], &[0.5, -1.0, 2.0, 0.25]).unwrap();
        let close = encode::npy(&[4], &[0.5, -1.0, 2.0000002, 0.25]).unwrap();
        assert_eq!(compare(&s, &close, &reference).rung, Rung::Tolerance);
        let nan = {
            let mut b = reference.clone();
            let n = b.len();
            b[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
            b
        };
        assert_eq!(compare(&s, &nan, &reference).rung, Rung::Structure);
    }

    #[test]
    fn text_is_exact_or_left_to_the_runtime() {
        let s = spec(Encoding::Utf8, &[1, 5]);
        assert_eq!(compare(&s, b"hello", b"hello").rung, Rung::Exact);
        assert_eq!(compare(&s, b"hellp", b"hello").rung, Rung::Mismatch);
        assert_eq!(compare(&s, b"", b"hello").rung, Rung::Structure);
        assert_eq!(compare(&s, b"hi", b"hello").rung, Rung::Structure);
    }

    proptest! {
        #[test]
        fn distances_are_sane(a in prop::collection::vec(-1e3f64..1e3, 1..64), k in 0.5f64..2.0) {
            let same = distances(&a, &a);
            prop_assert_eq!(same.max_abs, 0.0);
            prop_assert_eq!(same.rel_l2, 0.0);
            prop_assert!(a.iter().all(|x| *x == 0.0) || (same.cosine - 1.0).abs() < 1e-9);
            // Scaling keeps the direction: cosine 1, relative error |k − 1|.
            let scaled: Vec<f64> = a.iter().map(|x| x * k).collect();
            let m = distances(&scaled, &a);
            if a.iter().any(|x| *x != 0.0) {
                prop_assert!((m.cosine - 1.0).abs() < 1e-9);
                prop_assert!((m.rel_l2 - (k - 1.0).abs()).abs() < 1e-9);
            }
        }

        #[test]
        fn a_result_always_matches_itself(pixels in prop::collection::vec(any::<u8>(), 48)) {
            let shape = [1, 3, 4, 4];
            let s = spec(Encoding::Png, &shape);
            let bytes = encode::png(&shape, &pixels).unwrap();
            let j = compare(&s, &bytes, &bytes);
            let constant = pixels.iter().all(|p| *p == pixels[0]);
            prop_assert_eq!(j.pass, !constant);
            prop_assert_eq!(j.rung, if constant { Rung::Structure } else { Rung::Exact });
        }
    }
}
