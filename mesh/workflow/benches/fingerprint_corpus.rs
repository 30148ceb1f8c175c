//! How well fingerprints tell copies from originals, over a generated corpus: `make
//! bench-fingerprint` (`cargo bench -p havn-workflow --bench fingerprint_corpus`).
//!
//! 1,000 random torch workflows over the four example pipeline shapes (image, text, audio,
//! embedding), random parameters and artifacts. Each gets its copies (renamed, reordered JSON,
//! one parameter edited, two edited, a LoRA scale changed) and is compared with unrelated
//! workflows (another random one of the same shape; one of the same shape on the very same
//! artifacts, as two creators building on one public model). Prints, per class, the similarity
//! and how many reach the threshold, and how many pairs share an LSH band (the registry's
//! candidate lookup), against the time to fingerprint one manifest.

use std::time::Instant;

use havn_mesh_common::pipeline::Manifest;
use havn_types::fingerprint::{band_keys, similarity, Signature};
use havn_workflow::fingerprint::fingerprint;
use serde_json::{json, Value};

/// The threshold proposed as governance's default (bps), and the LSH rows per band.
const THRESHOLD: u16 = 7_000;
const ROWS: usize = 4;
const WORKFLOWS: usize = 1_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn hash(&mut self) -> String {
        (0..4).map(|_| format!("{:016x}", self.next())).collect()
    }
}

/// The artifacts a workflow of `shape` loads.
fn artifacts(rng: &mut Rng, shape: u64) -> Vec<String> {
    let n = [4, 1, 1, 2][shape as usize];
    (0..n).map(|_| rng.hash()).collect()
}

/// A random workflow of one of four shapes on `arts`.
fn workflow(rng: &mut Rng, shape: u64, arts: &[String]) -> Value {
    let text =
        json!({"name": "prompt", "type": "text", "max_bytes": rng.pick(&[32, 64, 128, 256])});
    let pipeline = match shape {
        0 => json!({
            "kind": "torch",
            "modules": {"text_encoder": arts[0], "unet": arts[1], "decoder": arts[2]},
            "loras": {"unet": [{"file": arts[3], "scale": rng.pick(&[0.5, 0.6, 0.7, 0.8, 0.9, 1.0])}]},
            "input": text,
            "steps": [
                {"op": "tokenize", "from": "prompt", "to": "tokens", "length": rng.pick(&[16, 32, 64])},
                {"op": "module", "module": "text_encoder", "args": ["tokens"], "to": "cond"},
                {"op": "noise", "shape": [1, 4, rng.pick(&[8, 16, 32]), rng.pick(&[8, 16, 32])], "to": "latent"},
                {"op": "ddim", "unet": "unet", "latent": "latent", "cond": "cond",
                 "steps": rng.pick(&[8, 10, 12, 20, 25, 30, 50]), "train_steps": 1000,
                 "beta_start": rng.pick(&[0.0001, 0.00085, 0.001]), "beta_end": rng.pick(&[0.012, 0.02]), "to": "latent"},
                {"op": "module", "module": "decoder", "args": ["latent"], "to": "image"},
            ],
            "output": {"from": "image", "encode": "png"},
        }),
        1 => {
            let vocab = rng.pick(&[
                " abcdefghijklmnopqrstuvwxyz",
                " abcdefghijklmnopqrstuvwxyz.,!?",
            ]);
            json!({
                "kind": "torch",
                "modules": {"lm": arts[0]},
                "input": text,
                "steps": [
                    {"op": "tokenize", "from": "prompt", "to": "p", "vocab": vocab},
                    {"op": "sample_tokens", "model": "lm", "from": "p", "to": "text",
                     "max_new_tokens": rng.pick(&[16, 32, 48, 64, 128]), "top_k": rng.pick(&[1, 4, 8, 16, 40]),
                     "temperature": rng.pick(&[0.7, 0.8, 1.0, 1.2]), "context": rng.pick(&[32, 64, 128])},
                ],
                "output": {"from": "text", "encode": "utf8", "vocab": vocab},
            })
        }
        2 => json!({
            "kind": "torch",
            "modules": {"vocoder": arts[0]},
            "input": text,
            "steps": [
                {"op": "tokenize", "from": "prompt", "to": "tokens", "length": rng.pick(&[16, 32, 64])},
                {"op": "module", "module": "vocoder", "args": ["tokens"], "to": "audio"},
            ],
            "output": {"from": "audio", "encode": "wav", "sample_rate": rng.pick(&[8000, 16000, 22050, 44100])},
        }),
        _ => json!({
            "kind": "torch",
            "modules": {"bert": arts[0]},
            "tokenizers": {"wp": arts[1]},
            "input": text,
            "steps": [
                {"op": "hf_tokenize", "tokenizer": "wp", "from": "prompt", "to": "ids", "mask": "m",
                 "max_length": rng.pick(&[128, 256, 512])},
                {"op": "module", "module": "bert", "args": ["ids", "m"], "to": "h"},
                {"op": "mean_pool", "from": "h", "mask": "m", "to": "pooled"},
                {"op": "l2_normalize", "from": "pooled", "to": "e"},
            ],
            "output": {"from": "e", "encode": "npy"},
        }),
    };
    json!({"name": format!("w{}", rng.next()), "pipeline": pipeline, "max_output_bytes": 1 << 20})
}

/// Every value and module renamed, and the workflow.
fn renamed(w: &Value) -> Value {
    let mut text = w.to_string();
    for (from, to) in [
        ("\"prompt\"", "\"x\""),
        ("\"tokens\"", "\"t\""),
        ("\"image\"", "\"img\""),
        ("\"audio\"", "\"pcm\""),
        ("\"text\"", "\"out\""),
        ("\"pooled\"", "\"mean\""),
        ("\"text_encoder\"", "\"clip\""),
        ("\"vocoder\"", "\"voc\""),
    ] {
        text = text.replace(from, to);
    }
    let mut v: Value = serde_json::from_str(&text).unwrap();
    // `"text"` is also the input type's value: put it back.
    v["pipeline"]["input"]["type"] = json!("text");
    v["name"] = json!("someone-else");
    v
}

/// The steps' numeric parameters, as (step, key) pairs.
fn numeric_params(w: &Value) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, s) in w["pipeline"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (k, v) in s.as_object().unwrap() {
            if v.is_number() && k != "train_steps" {
                out.push((i, k.clone()));
            }
        }
    }
    out
}

fn edit(rng: &mut Rng, w: &Value, n: usize) -> Value {
    let mut v = w.clone();
    let params = numeric_params(w);
    for _ in 0..n {
        let (i, k) = params[rng.below(params.len() as u64) as usize].clone();
        let x = &mut v["pipeline"]["steps"][i][&k];
        *x = match x.as_u64() {
            Some(u) => json!(u + 1),
            None => json!(x.as_f64().unwrap() * 1.1),
        };
    }
    v
}

fn sig(w: &Value) -> Signature {
    fingerprint(&Manifest::parse(w.to_string().as_bytes()).unwrap())
        .unwrap_or_else(|e| panic!("{e}: {w}"))
}

fn main() {
    let mut rng = Rng(2026);
    let mut rows: Vec<(&str, Vec<u16>, usize)> = vec![];
    let classes = [
        "copy: renamed",
        "copy: JSON reordered",
        "copy: 1 parameter edited",
        "copy: 2 parameters edited",
        "copy: LoRA scale changed",
        "unrelated: same shape",
        "unrelated: same shape, same artifacts",
    ];
    let mut sims: Vec<Vec<u16>> = vec![vec![]; classes.len()];
    let mut shared_band = vec![0usize; classes.len()];
    let started = Instant::now();
    let mut fingerprints = 0u32;
    for _ in 0..WORKFLOWS {
        let shape = rng.below(4);
        let arts = artifacts(&mut rng, shape);
        let w = workflow(&mut rng, shape, &arts);
        let reordered: Value =
            serde_json::from_str(&serde_json::to_string_pretty(&w).unwrap()).unwrap();
        let mut lora = w.clone();
        let lora_scaled = if shape == 0 {
            let s = lora["pipeline"]["loras"]["unet"][0]["scale"]
                .as_f64()
                .unwrap();
            lora["pipeline"]["loras"]["unet"][0]["scale"] = json!(s * 0.9);
            Some(lora)
        } else {
            None
        };
        let other_arts = artifacts(&mut rng, shape);
        let others = [
            Some(renamed(&w)),
            Some(reordered),
            Some(edit(&mut rng, &w, 1)),
            Some(edit(&mut rng, &w, 2)),
            lora_scaled,
            Some(workflow(&mut rng, shape, &other_arts)),
            Some(workflow(&mut rng, shape, &arts)),
        ];
        let base = sig(&w);
        fingerprints += 1;
        let base_bands = band_keys(&base, ROWS);
        for (c, other) in others.iter().enumerate() {
            let Some(other) = other else { continue };
            let s = sig(other);
            fingerprints += 1;
            sims[c].push(similarity(&base, &s));
            if band_keys(&s, ROWS)
                .iter()
                .zip(&base_bands)
                .any(|(a, b)| a == b)
            {
                shared_band[c] += 1;
            }
        }
    }
    let per_fingerprint_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(fingerprints);
    for (c, name) in classes.iter().enumerate() {
        rows.push((name, std::mem::take(&mut sims[c]), shared_band[c]));
    }
    println!(
        "fingerprints of {WORKFLOWS} random workflows and their variants (threshold {THRESHOLD} bps, LSH {} bands of {ROWS} rows)",
        havn_types::fingerprint::SLOTS / ROWS
    );
    println!(
        "{:<40} {:>6} {:>8} {:>8} {:>8} {:>10} {:>12}",
        "pair", "pairs", "min", "mean", "max", "≥ thresh", "share a band"
    );
    for (name, s, band) in &rows {
        let n = s.len();
        let over = s.iter().filter(|x| **x >= THRESHOLD).count();
        let mean = s.iter().map(|x| f64::from(*x)).sum::<f64>() / n as f64;
        println!(
            "{:<40} {:>6} {:>8} {:>8.0} {:>8} {:>9.1}% {:>11.1}%",
            name,
            n,
            s.iter().min().unwrap(),
            mean,
            s.iter().max().unwrap(),
            100.0 * over as f64 / n as f64,
            100.0 * *band as f64 / n as f64
        );
    }
    println!("fingerprint of one manifest (parse, check, features, 128-slot MinHash): {per_fingerprint_us:.1} µs");
}
