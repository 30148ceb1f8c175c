//! Weights and LoRAs applied to a loaded module, from safetensors files (the format creators
//! publish): a weights file replaces parameters by name; a LoRA file's low-rank pairs are merged
//! as `W + scale · (α/r) · B·A`, once at load (the merged module is what the LRU keeps, so a job
//! pays nothing per call).
//!
//! A LoRA file holds, per adapted parameter `<p>.weight`, the pair `<p>.lora_A.weight` (`[r, …]`)
//! and `<p>.lora_B.weight` (`[out, r, …]`), and optionally `<p>.alpha` (one value; default `r`),
//! the names PEFT saves (its `base_model.model.` prefix is accepted). `B·A` is
//! `B.reshape(out, r) · A.reshape(r, -1)` reshaped to `W`'s shape, so linear and convolution
//! weights adapt alike. Any tensor the file holds must be used: a file that names a parameter the
//! module lacks, or a pair whose shapes don't fit, is refused naming the file and the tensor.

use std::collections::{BTreeMap, HashMap};

use havn_mesh_common::pipeline::ExecError;
use havn_workflow::ModuleLoad;
use safetensors::{Dtype, SafeTensors};
use tch::{CModule, Kind, Tensor};

/// A prefix PEFT writes before parameter names.
const PEFT_PREFIX: &str = "base_model.model.";

fn bad(msg: String) -> ExecError {
    ExecError::BadManifest(msg)
}

/// Applies `load`'s weights and LoRAs, in that order, to `module` (already on its device and in
/// its precision). `read` gives an artifact's bytes. Returns the bytes read.
pub fn apply(
    module: &CModule,
    name: &str,
    load: &ModuleLoad,
    read: impl Fn(&[u8; 32]) -> Result<Vec<u8>, ExecError>,
) -> Result<u64, ExecError> {
    let _no_grad = tch::no_grad_guard();
    let params: BTreeMap<String, Tensor> = module
        .named_parameters()
        .map_err(|e| bad(format!("module {name:?}: cannot list its parameters: {e}")))?
        .into_iter()
        .collect();
    let mut read_bytes = 0;
    if let Some(h) = &load.weights {
        let bytes = read(h)?;
        read_bytes += bytes.len() as u64;
        let what = format!("weights file {} (module {name:?})", hex::encode(h));
        replace(&params, &parse(&bytes, &what)?, &what)?;
    }
    for (i, (h, scale)) in load.loras.iter().enumerate() {
        let bytes = read(h)?;
        read_bytes += bytes.len() as u64;
        let what = format!("LoRA file {} (module {name:?}, LoRA {i})", hex::encode(h));
        merge(&params, &parse(&bytes, &what)?, *scale, &what)?;
    }
    Ok(read_bytes)
}

/// A safetensors file's tensors, on the CPU in the file's own kind (converted to the parameter's
/// kind and device where they are applied).
fn parse(bytes: &[u8], what: &str) -> Result<BTreeMap<String, Tensor>, ExecError> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("{what}: not a safetensors file: {e:?}")))?;
    file.tensors()
        .into_iter()
        .map(|(key, view)| {
            let kind = match view.dtype() {
                Dtype::F32 => Kind::Float,
                Dtype::F64 => Kind::Double,
                Dtype::F16 => Kind::Half,
                Dtype::BF16 => Kind::BFloat16,
                other => {
                    return Err(bad(format!(
                        "{what}: tensor {key:?} is {other:?}; weights are F32, F64, F16 or BF16"
                    )))
                }
            };
            let shape: Vec<i64> = view.shape().iter().map(|d| *d as i64).collect();
            let t = Tensor::from_data_size(view.data(), &shape, kind);
            Ok((key, t))
        })
        .collect()
}

fn shape_of(t: &Tensor) -> Vec<i64> {
    t.size()
}

fn param<'a>(
    params: &'a BTreeMap<String, Tensor>,
    key: &str,
    target: &str,
    what: &str,
) -> Result<&'a Tensor, ExecError> {
    params.get(target).ok_or_else(|| {
        let names: Vec<&str> = params.keys().map(String::as_str).collect();
        bad(format!(
            "{what}: tensor {key:?} is for parameter {target:?}, which the module does not have (it has {names:?})"
        ))
    })
}

/// Copies each tensor into the parameter of its name.
fn replace(
    params: &BTreeMap<String, Tensor>,
    tensors: &BTreeMap<String, Tensor>,
    what: &str,
) -> Result<(), ExecError> {
    for (key, t) in tensors {
        let target = key.strip_prefix(PEFT_PREFIX).unwrap_or(key);
        let mut p = param(params, key, target, what)?.shallow_clone();
        if shape_of(&p) != shape_of(t) {
            return Err(bad(format!(
                "{what}: tensor {key:?} has shape {:?}; parameter {target:?} is {:?}",
                shape_of(t),
                shape_of(&p)
            )));
        }
        p.copy_(&t.to_kind(p.kind()).to_device(p.device()));
    }
    Ok(())
}

/// The pairs of a LoRA file by the parameter they adapt: (A, B, α).
struct Pair<'a> {
    a: Option<(&'a str, &'a Tensor)>,
    b: Option<(&'a str, &'a Tensor)>,
    alpha: Option<(&'a str, &'a Tensor)>,
}

fn merge(
    params: &BTreeMap<String, Tensor>,
    tensors: &BTreeMap<String, Tensor>,
    scale: f64,
    what: &str,
) -> Result<(), ExecError> {
    let mut pairs: BTreeMap<String, Pair> = BTreeMap::new();
    for (key, t) in tensors {
        let name = key.strip_prefix(PEFT_PREFIX).unwrap_or(key);
        let (prefix, role) = [".lora_A.weight", ".lora_B.weight", ".alpha"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).map(|p| (p, *suffix)))
            .ok_or_else(|| {
                bad(format!(
                    "{what}: tensor {key:?} is not a LoRA tensor (<param>.lora_A.weight, <param>.lora_B.weight or <param>.alpha)"
                ))
            })?;
        let pair = pairs.entry(format!("{prefix}.weight")).or_insert(Pair {
            a: None,
            b: None,
            alpha: None,
        });
        let slot = match role {
            ".lora_A.weight" => &mut pair.a,
            ".lora_B.weight" => &mut pair.b,
            _ => &mut pair.alpha,
        };
        *slot = Some((key.as_str(), t));
    }
    if pairs.is_empty() {
        return Err(bad(format!("{what}: holds no LoRA tensors")));
    }
    // Every pair checked before any is merged: a refused file changes nothing.
    let mut deltas: HashMap<String, Tensor> = HashMap::new();
    for (target, pair) in &pairs {
        let (Some((a_key, a)), Some((b_key, b))) = (pair.a, pair.b) else {
            let (have, missing) = match (pair.a, pair.b) {
                (Some((k, _)), None) => (k.to_string(), "lora_B"),
                (None, Some((k, _))) => (k.to_string(), "lora_A"),
                _ => (
                    pair.alpha.map(|(k, _)| k).unwrap_or("?").to_string(),
                    "lora_A and lora_B",
                ),
            };
            return Err(bad(format!(
                "{what}: tensor {have:?} has no {missing} to pair with"
            )));
        };
        let w = param(params, a_key, target, what)?;
        let (ws, as_, bs) = (shape_of(w), shape_of(a), shape_of(b));
        let out = ws[0];
        let rank = as_.first().copied().unwrap_or(0);
        let per_row: i64 = ws[1..].iter().product();
        let a_ok = as_.len() >= 2 && rank > 0 && a.numel() as i64 == rank * per_row;
        let b_ok = bs.len() >= 2 && bs[0] == out && bs[1] == rank && b.numel() as i64 == out * rank;
        // A rank above W's smaller side adapts nothing more, and only multiplies the merge's work.
        if a_ok && b_ok && rank > out.min(per_row) {
            return Err(bad(format!(
                "{what}: tensor {a_key:?} has rank {rank}; parameter {target:?} {ws:?} takes at most {}",
                out.min(per_row)
            )));
        }
        if !a_ok || !b_ok {
            let key = if a_ok { b_key } else { a_key };
            return Err(bad(format!(
                "{what}: tensor {key:?} does not fit parameter {target:?} {ws:?} (lora_A {as_:?}, lora_B {bs:?}: need A [r, {per_row}] and B [{out}, r])"
            )));
        }
        let alpha = match pair.alpha {
            None => rank as f64,
            Some((_, t)) if t.numel() == 1 => t.reshape([-1]).double_value(&[0]),
            Some((key, t)) => {
                return Err(bad(format!(
                    "{what}: tensor {key:?} holds {} values; alpha is one",
                    t.numel()
                )))
            }
        };
        if !alpha.is_finite() {
            return Err(bad(format!("{what}: alpha of {target:?} is not finite")));
        }
        let (kind, device) = (w.kind(), w.device());
        let b2 = b.reshape([out, rank]).to_kind(kind).to_device(device);
        let a2 = a.reshape([rank, per_row]).to_kind(kind).to_device(device);
        let delta = (b2.mm(&a2) * (scale * alpha / rank as f64)).reshape(ws.as_slice());
        deltas.insert(target.clone(), delta);
    }
    for (target, delta) in deltas {
        let mut w = params[&target].shallow_clone();
        let _ = w.g_add_(&delta);
    }
    Ok(())
}
