//! A `torch` pipeline as its manifest states it: TorchScript modules by content hash (optionally
//! with their weights from a safetensors file and LoRAs merged into them), one declared input, a
//! list of steps over named values, and one declared output. Checked in full before a job runs,
//! so a bad manifest fails with a message and no work is wasted.

use std::collections::{BTreeMap, BTreeSet};

use havn_mesh_common::pipeline::{ExecError, Manifest};
use havn_outputs::{Encoding, OutputSpec};
use serde::{Deserialize, Serialize};

pub const TORCH_KIND: &str = "torch";

/// Upper bounds that keep one job's work and memory finite.
pub const MAX_STEPS: usize = 64;
pub const MAX_LOOP: u32 = 1000;
pub const MAX_ELEMENTS: usize = 1 << 24;
/// The most tokens an `hf_tokenize` step keeps.
pub const MAX_TOKENS: usize = 4096;
/// LoRAs merged into one module.
pub const MAX_LORAS: usize = 8;
/// The largest |scale| a LoRA is applied at (beyond it a LoRA no longer adapts, it replaces).
pub const MAX_LORA_SCALE: f64 = 16.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TorchPipeline {
    /// Local name → sha256 (hex) of the TorchScript file.
    pub modules: BTreeMap<String, String>,
    /// Local name → sha256 (hex) of a safetensors file whose tensors replace that module's
    /// parameters of the same names at load (weights as creators publish them); parameters the
    /// file does not name keep the archive's values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, String>,
    /// Local name → LoRAs merged into that module's weights at load, in order:
    /// `W + scale · (α/r) · B·A` for each low-rank pair the file holds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub loras: BTreeMap<String, Vec<LoraRef>>,
    /// Local name → sha256 (hex) of a Hugging Face `tokenizer.json` (`hf_tokenize` steps).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tokenizers: BTreeMap<String, String>,
    pub input: InputSpec,
    pub steps: Vec<Step>,
    pub output: OutputSpec,
}

/// One LoRA applied to a module: a safetensors file of low-rank pairs, at a scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoraRef {
    /// sha256 (hex) of the safetensors file.
    pub file: String,
    /// How strongly it applies (1.0: as trained; 0 would be no LoRA at all).
    pub scale: f64,
}

/// How one module loads: its archive, the weights replacing its parameters, the LoRAs merged
/// into them. What a node caches a loaded module under is [`ModuleLoad::key`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleLoad {
    pub archive: [u8; 32],
    pub weights: Option<[u8; 32]>,
    pub loras: Vec<([u8; 32], f64)>,
}

impl ModuleLoad {
    /// The archive's hash when nothing is applied to it, else the sha256 of
    /// "havn/module-load/v1" ‖ archive ‖ (weights or 32 zero bytes) ‖ per LoRA (hash ‖ scale as
    /// f64 big-endian): one key per (module, weights, LoRAs, scales).
    pub fn key(&self) -> [u8; 32] {
        if self.weights.is_none() && self.loras.is_empty() {
            return self.archive;
        }
        let mut b = b"havn/module-load/v1".to_vec();
        b.extend_from_slice(&self.archive);
        b.extend_from_slice(&self.weights.unwrap_or([0; 32]));
        for (h, scale) in &self.loras {
            b.extend_from_slice(h);
            b.extend_from_slice(&scale.to_be_bytes());
        }
        havn_mesh_common::sha256(&b)
    }

    /// Every artifact this load reads.
    pub fn artifacts(&self) -> impl Iterator<Item = [u8; 32]> + '_ {
        std::iter::once(self.archive)
            .chain(self.weights)
            .chain(self.loras.iter().map(|(h, _)| *h))
    }
}

/// The job's one input: what its bytes are, and the name steps use for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum InputSpec {
    /// UTF-8 text of at most `max_bytes`.
    Text { name: String, max_bytes: usize },
    /// Little-endian f32 values of exactly this shape.
    Tensor { name: String, shape: Vec<usize> },
}

impl InputSpec {
    pub fn name(&self) -> &str {
        match self {
            InputSpec::Text { name, .. } | InputSpec::Tensor { name, .. } => name,
        }
    }
}

/// One step. Names refer to values made by the input or earlier steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Text → token ids `[1, L]` (int64): characters of `vocab`, or bytes without one; padded
    /// with id 0 to `length` when given.
    Tokenize {
        from: String,
        to: String,
        #[serde(default)]
        vocab: Option<String>,
        #[serde(default)]
        length: Option<usize>,
    },
    /// Text → token ids `to` and attention mask `mask`, both `[1, L]` int64, through a Hugging
    /// Face tokenizer (`tokenizers`), with its special tokens, truncated to `max_length` tokens as
    /// the model's own pipeline truncates; never padded (L is the text's length in tokens).
    #[serde(rename = "hf_tokenize")]
    HfTokenize {
        tokenizer: String,
        from: String,
        to: String,
        mask: String,
        max_length: usize,
    },
    /// Mean of `from` (`[B, T, D]`) over the positions `mask` (`[B, T]`) marks: `[B, D]`, as
    /// sentence-transformers pools (the mask's sum clamped to ≥ 1e-9).
    MeanPool {
        from: String,
        mask: String,
        to: String,
    },
    /// `from / max(‖from‖₂, 1e-12)` along the last dimension.
    L2Normalize { from: String, to: String },
    /// `to = module.forward(args...)`.
    Module {
        module: String,
        args: Vec<String>,
        to: String,
    },
    /// Seeded standard-normal noise of `shape` (float32), from the request's seed.
    Noise { shape: Vec<usize>, to: String },
    /// Deterministic DDIM sampling (η = 0) with a noise-predicting `unet(x, t, cond)`, on a
    /// scaled-linear β schedule of `train_steps`, in `steps` steps.
    Ddim {
        unet: String,
        latent: String,
        cond: String,
        steps: u32,
        train_steps: u32,
        beta_start: f64,
        beta_end: f64,
        to: String,
    },
    /// Autoregressive sampling: `model(tokens[:, -context:])` gives logits `[1, T, V]`; the next
    /// token is drawn from the top `top_k` of the last position at `temperature`, with the
    /// request's seed. Produces `[1, max_new_tokens]`.
    SampleTokens {
        model: String,
        from: String,
        to: String,
        max_new_tokens: u32,
        top_k: u32,
        temperature: f64,
        context: u32,
    },
}

impl Step {
    /// Progress units the step reports.
    pub fn units(&self) -> u32 {
        match self {
            Step::Ddim { steps, .. } => *steps,
            Step::SampleTokens { max_new_tokens, .. } => *max_new_tokens,
            _ => 1,
        }
    }
}

/// The JSON Schema of a `torch` workflow manifest, generated from the types a node parses it
/// into (so it cannot drift from what nodes accept); committed as `mesh/workflow/manifest.schema.json`
/// for tools in any language, and printed by `havn-torch schema`. What it cannot say (names defined
/// before use, bounds, module hashes present) `TorchPipeline::check` adds.
pub fn manifest_schema() -> serde_json::Value {
    /// `Manifest` with its pipeline typed (other top-level keys are allowed, as nodes ignore them).
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct TorchManifest {
        /// The workflow's name.
        name: String,
        pipeline: TorchPipeline,
        /// The largest output a correct run produces, in bytes (default 16 MiB).
        #[serde(default)]
        max_output_bytes: Option<u64>,
    }
    let mut schema =
        serde_json::to_value(schemars::schema_for!(TorchManifest)).expect("a schema serializes");
    // The pipeline's `kind` is read by the manifest, the rest by `TorchPipeline`.
    if let Some(p) = schema.pointer_mut("/definitions/TorchPipeline") {
        p["properties"]["kind"] = serde_json::json!({"type": "string", "enum": [TORCH_KIND]});
        if let Some(required) = p["required"].as_array_mut() {
            required.insert(0, "kind".into());
        }
    }
    schema
}

fn bad(msg: impl Into<String>) -> ExecError {
    ExecError::BadManifest(msg.into())
}

/// A 64-hex-digit sha256, decoded; `what` names it in the refusal.
fn hash(h: &str, what: &str) -> Result<[u8; 32], ExecError> {
    hex::decode(h)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| bad(format!("{what}: {h:?} is not a 64-hex-digit sha256")))
}

impl TorchPipeline {
    /// Parses and checks a manifest's `pipeline` (its `kind` must be `torch`).
    pub fn from_manifest(manifest: &Manifest) -> Result<Self, ExecError> {
        if manifest.pipeline.kind != TORCH_KIND {
            return Err(bad(format!(
                "pipeline kind is {:?}, not {TORCH_KIND:?}",
                manifest.pipeline.kind
            )));
        }
        // Deserialized from the parsed map in place (no copy: this runs once per job).
        let p = TorchPipeline::deserialize(&manifest.pipeline.config)
            .map_err(|e| bad(format!("torch pipeline: {e}")))?;
        p.check()?;
        Ok(p)
    }

    /// How each module loads, its hashes decoded.
    pub fn module_loads(&self) -> Result<BTreeMap<String, ModuleLoad>, ExecError> {
        let unknown = |what: &str, name: &str| {
            bad(format!(
                "{what} names module {name:?}, which `modules` does not list"
            ))
        };
        if let Some(name) = self.weights.keys().find(|n| !self.modules.contains_key(*n)) {
            return Err(unknown("`weights`", name));
        }
        if let Some(name) = self.loras.keys().find(|n| !self.modules.contains_key(*n)) {
            return Err(unknown("`loras`", name));
        }
        self.modules
            .iter()
            .map(|(name, h)| {
                let weights = self
                    .weights
                    .get(name)
                    .map(|w| hash(w, &format!("weights of module {name:?}")))
                    .transpose()?;
                let refs = self.loras.get(name).map(Vec::as_slice).unwrap_or_default();
                if refs.len() > MAX_LORAS {
                    return Err(bad(format!(
                        "module {name:?}: at most {MAX_LORAS} LoRAs, not {}",
                        refs.len()
                    )));
                }
                let loras = refs
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let what = format!("LoRA {i} of module {name:?}");
                        if !(l.scale.is_finite() && l.scale != 0.0 && l.scale.abs() <= MAX_LORA_SCALE) {
                            return Err(bad(format!(
                                "{what}: scale {} must be finite, not 0, and at most {MAX_LORA_SCALE} in size",
                                l.scale
                            )));
                        }
                        Ok((hash(&l.file, &what)?, l.scale))
                    })
                    .collect::<Result<_, _>>()?;
                let load = ModuleLoad {
                    archive: hash(h, &format!("module {name:?}"))?,
                    weights,
                    loras,
                };
                Ok((name.clone(), load))
            })
            .collect()
    }

    /// The tokenizer files, decoded.
    pub fn tokenizer_hashes(&self) -> Result<BTreeMap<String, [u8; 32]>, ExecError> {
        self.tokenizers
            .iter()
            .map(|(name, h)| Ok((name.clone(), hash(h, &format!("tokenizer {name:?}"))?)))
            .collect()
    }

    /// Every artifact the pipeline reads (modules, weights, LoRAs, tokenizers), sorted, no
    /// repeats.
    pub fn artifact_hashes(&self) -> Result<Vec<[u8; 32]>, ExecError> {
        let mut all: Vec<[u8; 32]> = self
            .module_loads()?
            .values()
            .flat_map(|l| l.artifacts().collect::<Vec<_>>())
            .chain(self.tokenizer_hashes()?.into_values())
            .collect();
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Progress units of a whole run.
    pub fn total_units(&self) -> u32 {
        self.steps.iter().map(Step::units).sum()
    }

    fn check(&self) -> Result<(), ExecError> {
        self.module_loads()?;
        self.tokenizer_hashes()?;
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(bad(format!("a pipeline has 1 to {MAX_STEPS} steps")));
        }
        let mut defined: BTreeSet<&str> = BTreeSet::from([self.input.name()]);
        let module = |name: &str| {
            if self.modules.contains_key(name) {
                Ok(())
            } else {
                Err(bad(format!(
                    "step uses module {name:?}, which `modules` does not list"
                )))
            }
        };
        let elements = |shape: &[usize]| -> Result<(), ExecError> {
            let n = shape
                .iter()
                .try_fold(1usize, |acc, d| acc.checked_mul(*d))
                .filter(|n| *n > 0 && *n <= MAX_ELEMENTS);
            n.map(|_| ()).ok_or_else(|| {
                bad(format!(
                    "shape {shape:?} must hold 1 to {MAX_ELEMENTS} values"
                ))
            })
        };
        match &self.input {
            InputSpec::Text { max_bytes, .. } if *max_bytes == 0 || *max_bytes > 1 << 20 => {
                return Err(bad("text input max_bytes must be 1 to 1048576"))
            }
            InputSpec::Tensor { shape, .. } => elements(shape)?,
            _ => {}
        }
        for (i, step) in self.steps.iter().enumerate() {
            let uses: Vec<&str> = match step {
                Step::Tokenize { from, length, .. } => {
                    if length.is_some_and(|l| l == 0 || l > MAX_ELEMENTS) {
                        return Err(bad(format!("step {i}: bad tokenize length")));
                    }
                    vec![from]
                }
                Step::HfTokenize {
                    tokenizer,
                    from,
                    max_length,
                    to,
                    mask,
                } => {
                    if !self.tokenizers.contains_key(tokenizer) {
                        return Err(bad(format!(
                            "step {i} uses tokenizer {tokenizer:?}, which `tokenizers` does not list"
                        )));
                    }
                    if *max_length < 2 || *max_length > MAX_TOKENS {
                        return Err(bad(format!(
                            "step {i} (hf_tokenize): max_length must be 2 to {MAX_TOKENS}"
                        )));
                    }
                    if to == mask {
                        return Err(bad(format!(
                            "step {i} (hf_tokenize): `to` and `mask` must differ"
                        )));
                    }
                    defined.insert(mask.as_str());
                    vec![from]
                }
                Step::MeanPool { from, mask, .. } => vec![from, mask],
                Step::L2Normalize { from, .. } => vec![from],
                Step::Module {
                    module: m, args, ..
                } => {
                    module(m)?;
                    args.iter().map(String::as_str).collect()
                }
                Step::Noise { shape, .. } => {
                    elements(shape)?;
                    vec![]
                }
                Step::Ddim {
                    unet,
                    latent,
                    cond,
                    steps,
                    train_steps,
                    beta_start,
                    beta_end,
                    ..
                } => {
                    module(unet)?;
                    let betas_ok = 0.0 < *beta_start && beta_start < beta_end && *beta_end < 1.0;
                    if *steps == 0 || steps > train_steps || *train_steps > 10_000 || !betas_ok {
                        return Err(bad(format!(
                            "step {i} (ddim): need 1 ≤ steps ≤ train_steps ≤ 10000 and 0 < beta_start < beta_end < 1"
                        )));
                    }
                    if *steps > MAX_LOOP {
                        return Err(bad(format!("step {i} (ddim): at most {MAX_LOOP} steps")));
                    }
                    vec![latent, cond]
                }
                Step::SampleTokens {
                    model,
                    from,
                    max_new_tokens,
                    top_k,
                    temperature,
                    context,
                    ..
                } => {
                    module(model)?;
                    if *max_new_tokens == 0
                        || *max_new_tokens > MAX_LOOP
                        || *top_k == 0
                        || *context == 0
                        || !(temperature.is_finite() && *temperature > 0.0)
                    {
                        return Err(bad(format!(
                            "step {i} (sample_tokens): need 1 ≤ max_new_tokens ≤ {MAX_LOOP}, top_k ≥ 1, context ≥ 1, temperature > 0"
                        )));
                    }
                    vec![from]
                }
            };
            for name in uses {
                if !defined.contains(name) {
                    return Err(bad(format!(
                        "step {i} uses {name:?} before anything makes it"
                    )));
                }
            }
            defined.insert(match step {
                Step::Tokenize { to, .. }
                | Step::HfTokenize { to, .. }
                | Step::MeanPool { to, .. }
                | Step::L2Normalize { to, .. }
                | Step::Module { to, .. }
                | Step::Noise { to, .. }
                | Step::Ddim { to, .. }
                | Step::SampleTokens { to, .. } => to,
            });
        }
        if !defined.contains(self.output.from.as_str()) {
            return Err(bad(format!(
                "the output {:?} is not made by any step",
                self.output.from
            )));
        }
        if let Some(t) = &self.output.tolerance {
            t.check_within(self.output.encode).map_err(bad)?;
        }
        if self.output.encode == Encoding::Utf8
            && !self
                .steps
                .iter()
                .any(|s| matches!(s, Step::SampleTokens { to, .. } if *to == self.output.from))
        {
            return Err(bad("a utf8 output must be made by a sample_tokens step"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use havn_mesh_common::pipeline::PipelineSpec;
    use serde_json::json;

    fn manifest(pipeline: serde_json::Value) -> Manifest {
        Manifest {
            name: "t".into(),
            pipeline: PipelineSpec {
                kind: TORCH_KIND.into(),
                config: pipeline.as_object().unwrap().clone(),
            },
            max_output_bytes: 1 << 20,
        }
    }

    fn good() -> serde_json::Value {
        json!({
            "modules": {"enc": "ab".repeat(32)},
            "input": {"name": "prompt", "type": "text", "max_bytes": 16},
            "steps": [
                {"op": "tokenize", "from": "prompt", "to": "tok", "length": 8},
                {"op": "module", "module": "enc", "args": ["tok"], "to": "out"}
            ],
            "output": {"from": "out", "encode": "npy"}
        })
    }

    #[test]
    fn accepts_a_wired_pipeline() {
        let p = TorchPipeline::from_manifest(&manifest(good())).unwrap();
        assert_eq!(p.total_units(), 2);
        let loads = p.module_loads().unwrap();
        assert_eq!(loads["enc"].archive, [0xab; 32]);
        // Nothing applied: the cache key is the archive's hash, as before LoRAs existed.
        assert_eq!(loads["enc"].key(), [0xab; 32]);
    }

    /// The embedding pipeline's steps: a tokenizer makes ids and a mask, pooling reads both.
    #[test]
    fn a_tokenizer_step_defines_its_mask_and_its_file_is_an_artifact() {
        let mut v = good();
        v["tokenizers"] = json!({"wp": "cd".repeat(32)});
        v["steps"] = json!([
            {"op": "hf_tokenize", "tokenizer": "wp", "from": "prompt", "to": "ids", "mask": "m", "max_length": 8},
            {"op": "module", "module": "enc", "args": ["ids", "m"], "to": "h"},
            {"op": "mean_pool", "from": "h", "mask": "m", "to": "p"},
            {"op": "l2_normalize", "from": "p", "to": "out"}
        ]);
        let p = TorchPipeline::from_manifest(&manifest(v)).unwrap();
        assert_eq!(p.artifact_hashes().unwrap(), vec![[0xab; 32], [0xcd; 32]]);
        assert_eq!(p.total_units(), 4);
    }

    #[test]
    fn weights_and_loras_are_part_of_the_load_and_its_key() {
        let mut v = good();
        v["weights"] = json!({"enc": "cd".repeat(32)});
        v["loras"] = json!({"enc": [{"file": "ef".repeat(32), "scale": 0.5}]});
        let p = TorchPipeline::from_manifest(&manifest(v.clone())).unwrap();
        let load = &p.module_loads().unwrap()["enc"];
        assert_eq!(load.weights, Some([0xcd; 32]));
        assert_eq!(load.loras, vec![([0xef; 32], 0.5)]);
        let all: Vec<[u8; 32]> = load.artifacts().collect();
        assert_eq!(all, vec![[0xab; 32], [0xcd; 32], [0xef; 32]]);
        // Another scale, another LoRA or no weights: another cached module.
        let key = load.key();
        assert_ne!(key, [0xab; 32]);
        let other = |edit: fn(&mut ModuleLoad)| {
            let mut l = load.clone();
            edit(&mut l);
            l.key()
        };
        assert_ne!(other(|l| l.loras[0].1 = 0.25), key);
        assert_ne!(other(|l| l.loras[0].0 = [0xee; 32]), key);
        assert_ne!(other(|l| l.weights = None), key);
        assert_ne!(other(|l| l.loras.push(([0xef; 32], 0.5))), key);
    }

    #[test]
    fn refuses_what_cannot_run_with_a_reason() {
        type Edit = fn(&mut serde_json::Value);
        let cases: Vec<(Edit, &str)> = vec![
            (|v| v["modules"]["enc"] = json!("zz"), "64-hex-digit"),
            (|v| v["steps"][1]["module"] = json!("nope"), "does not list"),
            (
                |v| v["steps"][1]["args"] = json!(["later"]),
                "before anything makes it",
            ),
            (
                |v| v["output"]["from"] = json!("nothing"),
                "not made by any step",
            ),
            (
                |v| v["steps"][0]["op"] = json!("teleport"),
                "unknown variant",
            ),
            (|v| v["steps"] = json!([]), "1 to 64 steps"),
            (
                |v| {
                    v["steps"][1] = json!({"op": "noise", "shape": [1 << 20, 1 << 20], "to": "out"})
                },
                "must hold",
            ),
            (
                |v| {
                    v["steps"][1] = json!({"op": "sample_tokens", "model": "enc", "from": "tok",
                        "to": "out", "max_new_tokens": 5, "top_k": 0, "temperature": 1.0, "context": 8})
                },
                "top_k",
            ),
            (|v| v["extra"] = json!(1), "unknown field"),
            (
                |v| v["loras"] = json!({"dec": [{"file": "ab".repeat(32), "scale": 1.0}]}),
                "`loras` names module \"dec\"",
            ),
            (
                |v| v["weights"] = json!({"dec": "ab".repeat(32)}),
                "`weights` names module \"dec\"",
            ),
            (
                |v| v["loras"] = json!({"enc": [{"file": "xy", "scale": 1.0}]}),
                "LoRA 0 of module \"enc\": \"xy\" is not a 64-hex-digit sha256",
            ),
            (
                |v| v["loras"] = json!({"enc": [{"file": "ab".repeat(32), "scale": 0.0}]}),
                "scale 0 must be finite",
            ),
            (
                |v| v["loras"] = json!({"enc": [{"file": "ab".repeat(32), "scale": 17.0}]}),
                "at most 16",
            ),
            (
                |v| {
                    v["loras"] =
                        json!({"enc": vec![json!({"file": "ab".repeat(32), "scale": 1.0}); 9]})
                },
                "at most 8 LoRAs",
            ),
            (
                |v| {
                    v["loras"] =
                        json!({"enc": [{"file": "ab".repeat(32), "scale": 1.0, "alpha": 4}]})
                },
                "unknown field",
            ),
            // A creator (with a node of its own) cannot loosen the ladder until a fake passes.
            (
                |v| {
                    v["output"]["tolerance"] =
                        json!({"max_abs": 1e9, "rel_l2": 1.0, "min_cosine": 0.0})
                },
                "looser than the ceiling",
            ),
        ];
        for (edit, want) in cases {
            let mut v = good();
            edit(&mut v);
            let err = TorchPipeline::from_manifest(&manifest(v))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err} (wanted {want})");
        }
        let mut m = manifest(good());
        m.pipeline.kind = "builtin:digest".into();
        assert!(TorchPipeline::from_manifest(&m).is_err());
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.schema.json");

    /// The committed schema is what the types generate (`HAVN_BLESS=1` rewrites it).
    #[test]
    fn the_committed_manifest_schema_is_current() {
        let generated = serde_json::to_string_pretty(&manifest_schema()).unwrap() + "\n";
        if std::env::var_os("HAVN_BLESS").is_some() {
            std::fs::write(COMMITTED, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == generated,
            "mesh/workflow/manifest.schema.json is stale: HAVN_BLESS=1 cargo test -p havn-workflow schema"
        );
    }

    /// The schema says what parsing enforces: required fields, the step ops, the encodings, and
    /// no unknown keys.
    #[test]
    fn the_schema_states_the_parsers_rules() {
        let s = manifest_schema();
        let pipeline = &s["definitions"]["TorchPipeline"];
        assert_eq!(pipeline["additionalProperties"], false);
        let required: Vec<&str> = pipeline["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["kind", "input", "modules", "output", "steps"]);
        assert_eq!(pipeline["properties"]["kind"]["enum"][0], TORCH_KIND);
        let text = s.to_string();
        for op in [
            "tokenize",
            "hf_tokenize",
            "mean_pool",
            "l2_normalize",
            "module",
            "noise",
            "ddim",
            "sample_tokens",
        ] {
            assert!(text.contains(&format!("\"{op}\"")), "step op {op}");
        }
        for enc in ["png", "wav", "utf8", "npy"] {
            assert!(text.contains(&format!("\"{enc}\"")), "encoding {enc}");
        }
        assert_eq!(s["required"], serde_json::json!(["name", "pipeline"]));
    }
}
