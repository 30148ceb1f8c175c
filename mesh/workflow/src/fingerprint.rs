//! A manifest's fingerprint: the feature set of what it computes, MinHashed
//! ([`havn_types::fingerprint`]). The CLI computes it at publish, nodes and validators recompute
//! it from the manifest they fetch, and the registry compares fingerprints it stores.
//!
//! Features (each a byte string; `enc` is the canonical encoding below):
//! - `kind:` the pipeline kind; `input:` the input spec without its name; `output:` the output
//!   spec without `from`; `max_output_bytes:` its bound;
//! - `artifact:` each artifact hash the manifest uses (modules, weights, LoRAs, tokenizers);
//! - per step, `step:` its identity: its op and what it loads (module and tokenizer names
//!   replaced by their archive, weights, LoRAs and scales, or tokenizer file); and
//!   `param:op.key=` each other parameter alone (the value names it reads and writes left out);
//! - per value a step reads, `edge:` what made it (the producing step's `step:` feature, or the
//!   input's) → this op and argument; and the same for the output.
//!
//! So a copy that renames its values, its modules or the workflow, reorders its JSON, changes
//! whitespace or moves a step keeps every feature; a one-parameter edit changes one feature of
//! some ten to thirty (Jaccard (n−1)/(n+1)). Not robust to: swapping an
//! artifact for one with other bytes (a re-saved or retrained module is, to the fingerprint, a
//! different one), or computing the same thing with other ops; the dispute path is for those.
//!
//! `enc`: null `n`, booleans `t`/`f`, integers `i` + decimal, other numbers `d` + the 16 hex
//! digits of their f64 bits, strings `s` + byte length + `:` + UTF-8, arrays `[` items `,` `]`,
//! objects `{` key `:` value `,` … `}` in key byte order. Hashes are lower-cased first.

use std::collections::{BTreeMap, BTreeSet};

use havn_mesh_common::pipeline::{ExecError, Manifest};
use havn_types::fingerprint::{signature, Signature};
use serde_json::{json, Map, Value};

use crate::spec::{TorchPipeline, TORCH_KIND};

/// Step keys that name values (read or written), by op: left out of the step's own features.
const WIRING: [&str; 6] = ["from", "to", "args", "latent", "cond", "mask"];
/// Step keys that name a module or a tokenizer: replaced by what they load.
const LOADS: [&str; 4] = ["module", "unet", "model", "tokenizer"];

/// The canonical encoding of a JSON value.
pub fn enc(v: &Value) -> String {
    let mut out = String::new();
    enc_into(v, &mut out);
    out
}

fn enc_into(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        Value::Null => out.push('n'),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => write!(out, "i{u}").expect("a string"),
            (_, Some(i)) => write!(out, "i{i}").expect("a string"),
            _ => {
                write!(out, "d{:016x}", n.as_f64().unwrap_or(f64::NAN).to_bits()).expect("a string")
            }
        },
        Value::String(s) => write!(out, "s{}:{s}", s.len()).expect("a string"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                enc_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                enc_into(&Value::String(k.clone()), out);
                out.push(':');
                enc_into(&map[k], out);
            }
            out.push('}');
        }
    }
}

fn lower(h: &Value) -> Value {
    match h {
        Value::String(s) => Value::String(s.to_ascii_lowercase()),
        other => other.clone(),
    }
}

fn without(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove(key);
    }
    v
}

/// The manifest's features, sorted, without repeats. A torch manifest is checked first (a
/// fingerprint of a manifest no node runs means nothing).
pub fn features(manifest: &Manifest) -> Result<Vec<String>, ExecError> {
    let p = &manifest.pipeline;
    let mut out = BTreeSet::from([
        format!("kind:{}", enc(&Value::String(p.kind.clone()))),
        format!(
            "max_output_bytes:{}",
            enc(&json!(manifest.max_output_bytes))
        ),
    ]);
    if p.kind != TORCH_KIND {
        for (k, v) in &p.config {
            out.insert(format!("param:{k}={}", enc(v)));
        }
        return Ok(out.into_iter().collect());
    }
    TorchPipeline::from_manifest(manifest)?;
    let c = &p.config;
    let table = |key: &str| {
        c.get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (modules, weights, loras, tokenizers) = (
        table("modules"),
        table("weights"),
        table("loras"),
        table("tokenizers"),
    );
    // What each module or tokenizer name loads.
    let mut loads: BTreeMap<String, String> = BTreeMap::new();
    for (name, h) in &modules {
        let lora_list: Vec<Value> = loras
            .get(name)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .map(|r| json!({"file": lower(&r["file"]), "scale": r["scale"]}))
                    .collect()
            })
            .unwrap_or_default();
        let id = json!({
            "module": lower(h),
            "weights": weights.get(name).map(lower).unwrap_or(Value::Null),
            "loras": lora_list,
        });
        loads.insert(name.clone(), enc(&id));
        out.insert(format!("artifact:{}", enc(&lower(h))));
        if let Some(w) = weights.get(name) {
            out.insert(format!("artifact:{}", enc(&lower(w))));
        }
        for r in &lora_list {
            out.insert(format!("artifact:{}", enc(&r["file"])));
        }
    }
    for (name, h) in &tokenizers {
        loads.insert(name.clone(), enc(&json!({"tokenizer": lower(h)})));
        out.insert(format!("artifact:{}", enc(&lower(h))));
    }
    let input = &c["input"];
    // Each value name → the feature of what made it (the latest definition wins, as in a run).
    let mut made_by: BTreeMap<String, String> = BTreeMap::new();
    let input_feature = format!("input:{}", enc(&without(input, "name")));
    if let Some(name) = input["name"].as_str() {
        made_by.insert(name.to_string(), input_feature.clone());
    }
    out.insert(input_feature);
    for step in c["steps"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(obj) = step.as_object() else {
            continue;
        };
        let op = obj.get("op").and_then(Value::as_str).unwrap_or_default();
        // The step's identity: its op and what it loads; each other parameter is a feature alone.
        let mut identity = Map::from_iter([("op".to_string(), json!(op))]);
        for (k, v) in obj {
            if WIRING.contains(&k.as_str()) || k == "op" {
                continue;
            }
            match (LOADS.contains(&k.as_str()), v.as_str()) {
                (true, Some(name)) => {
                    let load = loads.get(name).cloned().unwrap_or_default();
                    identity.insert(k.clone(), Value::String(load));
                }
                _ => {
                    out.insert(format!("param:{op}.{k}={}", enc(v)));
                }
            }
        }
        let step_feature = format!("step:{}", enc(&Value::Object(identity)));
        // Reads: `from`, `latent`, `cond`, every `args`, and `mask` except where it is written.
        let mut reads: Vec<(String, &str)> = vec![];
        for key in ["from", "latent", "cond"] {
            if let Some(name) = obj.get(key).and_then(Value::as_str) {
                reads.push((key.to_string(), name));
            }
        }
        if op != "hf_tokenize" {
            if let Some(name) = obj.get("mask").and_then(Value::as_str) {
                reads.push(("mask".to_string(), name));
            }
        }
        for (i, a) in obj
            .get("args")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(name) = a.as_str() {
                reads.push((format!("args.{i}"), name));
            }
        }
        for (key, name) in reads {
            let from = made_by.get(name).cloned().unwrap_or_default();
            out.insert(format!("edge:{from}->{op}.{key}"));
        }
        if let Some(to) = obj.get("to").and_then(Value::as_str) {
            made_by.insert(to.to_string(), step_feature.clone());
        }
        if op == "hf_tokenize" {
            if let Some(mask) = obj.get("mask").and_then(Value::as_str) {
                made_by.insert(mask.to_string(), format!("{step_feature}.mask"));
            }
        }
        out.insert(step_feature);
    }
    let output = &c["output"];
    out.insert(format!("output:{}", enc(&without(output, "from"))));
    if let Some(from) = output["from"].as_str() {
        let made = made_by.get(from).cloned().unwrap_or_default();
        out.insert(format!("edge:{made}->output"));
    }
    Ok(out.into_iter().collect())
}

/// The manifest's MinHash signature.
pub fn fingerprint(manifest: &Manifest) -> Result<Signature, ExecError> {
    let f = features(manifest)?;
    Ok(signature(f.iter().map(String::as_bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use havn_types::fingerprint::{band_keys, similarity};

    const VECTORS: &str = include_str!("../testdata/fingerprint_vectors.json");

    fn sig_of(v: &Value) -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    }

    /// Features, signatures, band keys and similarities as the independent Python script
    /// (`testdata/gen_fingerprint_vectors.py`) computes them.
    #[test]
    fn the_fingerprint_matches_the_independent_vectors() {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        let rows = v["rows"].as_u64().unwrap() as usize;
        let mut sigs = BTreeMap::new();
        for case in v["manifests"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let m = Manifest::parse(case["manifest"].as_str().unwrap().as_bytes()).unwrap();
            let want: Vec<&str> = case["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            assert_eq!(features(&m).unwrap(), want, "{name}");
            let sig = fingerprint(&m).unwrap();
            assert_eq!(sig, sig_of(&case["signature"]), "{name}");
            let bands: Vec<String> = band_keys(&sig, rows).iter().map(u64::to_string).collect();
            let want_bands: Vec<String> = case["bands"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_str().unwrap().to_string())
                .collect();
            assert_eq!(bands, want_bands, "{name}");
            sigs.insert(name.to_string(), sig);
        }
        for s in v["similarity"].as_array().unwrap() {
            let (a, b) = (s["a"].as_str().unwrap(), s["b"].as_str().unwrap());
            assert_eq!(
                u64::from(similarity(&sigs[a], &sigs[b])),
                s["bps"].as_u64().unwrap(),
                "{a} vs {b}"
            );
        }
        // What the vectors show: a renamed copy is the same workflow; one parameter moves it a
        // little; an unrelated pipeline is far.
        let sim = |a: &str, b: &str| similarity(&sigs[a], &sigs[b]);
        assert_eq!(sim("image", "image-renamed"), 10_000);
        assert!((7_000..10_000).contains(&sim("image", "image-one-param")));
        assert!(sim("image", "embed") < 1_000);
    }

    /// JSON key order and whitespace are not part of a workflow; a bad torch manifest has no
    /// fingerprint.
    #[test]
    fn json_layout_does_not_matter_and_a_bad_manifest_has_no_fingerprint() {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        let text = v["manifests"][0]["manifest"].as_str().unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let (a, b) = (
            Manifest::parse(text.as_bytes()).unwrap(),
            Manifest::parse(pretty.as_bytes()).unwrap(),
        );
        assert_eq!(fingerprint(&a).unwrap(), fingerprint(&b).unwrap());
        let bad = Manifest::parse(br#"{"name":"t","pipeline":{"kind":"torch"}}"#).unwrap();
        assert!(fingerprint(&bad).is_err());
        assert_eq!(
            enc(&json!({"b": [1, -2, 0.5], "a": null, "c": "é"})),
            "{s1:a:n,s1:b:[i1,i-2,d3fe0000000000000],s1:c:s2:é}"
        );
    }
}
