//! Havn's LibTorch runtime: the `torch` pipeline kind. A workflow's manifest names TorchScript
//! modules by content hash and wires them, with a few built-in steps (tokenize, seeded noise, a
//! DDIM sampling loop, seeded top-k token sampling), into a small step graph over named values;
//! the output tensor is encoded as PNG, WAV, UTF-8 or npy (`havn-outputs`).
//!
//! Runs on CUDA when present, else CPU. Modules load once and stay warm in an LRU bounded by
//! bytes. A run reports progress per step (per loop iteration inside sampling loops) and stops
//! between them when cancelled. Validators re-execute through [`TorchExecutor::verify`], which
//! walks the tolerance ladder and, for text, checks each token against its own model's
//! probabilities (rung `tokens`).

pub mod cache;
pub mod lora;
pub mod rng;

/// The manifest spec and the examples live in `havn-workflow` (no LibTorch): the CLI checks with
/// the same code this runtime parses with.
pub use havn_workflow::{examples, spec};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use havn_mesh_common::artifacts::ArtifactDir;
use havn_mesh_common::pipeline::{ExecError, Executor, JobInput, Judgement, Manifest, Rung};
use havn_outputs::{encode, ladder, Encoding, OutputSpec};
use serde::Deserialize;
use tch::{CModule, Device, Kind, Tensor};

pub use spec::{manifest_schema, LoraRef, ModuleLoad, Step, TorchPipeline, TORCH_KIND};

/// `[torch]` in the node's and validator's config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TorchConfig {
    /// `auto` (CUDA when available), `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// Intra-op threads on CPU (0: leave LibTorch's default).
    pub threads: usize,
    /// Bytes of loaded modules kept warm.
    pub cache_bytes: u64,
    /// `f32` (what workflows are built for) or `f64`. f64 computes every step in double
    /// precision: a different numeric path to the same result, used to test the tolerance
    /// ladder across "hardware" on a CPU-only machine.
    pub precision: String,
}

impl Default for TorchConfig {
    fn default() -> Self {
        TorchConfig {
            device: "auto".into(),
            threads: 0,
            cache_bytes: 2 << 30,
            precision: "f32".into(),
        }
    }
}

/// The executors a daemon runs: `builtin:digest` and `torch`, whose modules come from the
/// daemon's artifact cache.
pub fn executors(
    cache_dir: &std::path::Path,
    cfg: &TorchConfig,
) -> Result<havn_mesh_common::pipeline::Executors, String> {
    let store = ArtifactDir::open(cache_dir).map_err(|e| e.to_string())?;
    let torch = TorchExecutor::new(store, cfg)?;
    let (_, device, _) = torch.runtime();
    tracing::info!(%device, "torch runtime ready");
    let mut executors = havn_mesh_common::pipeline::Executors::builtin();
    executors.add(Arc::new(torch));
    Ok(executors)
}

/// A parsed, checked pipeline with how each module loads.
struct Parsed {
    config: serde_json::Map<String, serde_json::Value>,
    pipeline: TorchPipeline,
    modules: std::collections::BTreeMap<String, ModuleLoad>,
    tokenizers: std::collections::BTreeMap<String, [u8; 32]>,
}

/// Hugging Face tokenizers loaded, by (file, max_length).
type Tokenizers = HashMap<([u8; 32], usize), Arc<tokenizers::Tokenizer>>;

/// How many loaded tokenizers an executor keeps (each a few MB at most).
const TOKENIZERS_KEPT: usize = 16;

/// How many parsed pipelines an executor keeps.
const PARSED_KEPT: usize = 32;

/// A named value between steps.
enum Value {
    Text(String),
    Tensor(Tensor),
}

/// The `torch` executor.
pub struct TorchExecutor {
    store: ArtifactDir,
    device: Device,
    kind: Kind,
    cache: cache::ModuleCache,
    tokenizers: std::sync::Mutex<Tokenizers>,
    /// Pipelines already parsed and checked, by their manifest config (jobs repeat workflows).
    parsed: std::sync::Mutex<Vec<Arc<Parsed>>>,
    runtime: (String, String, String),
    /// When set, time inside module calls is summed here (with a device sync around each call).
    profile: AtomicBool,
    model_nanos: AtomicU64,
}

fn failed(what: impl std::fmt::Display) -> ExecError {
    ExecError::Failed(what.to_string())
}

impl TorchExecutor {
    pub fn new(store: ArtifactDir, cfg: &TorchConfig) -> Result<Self, String> {
        let device = match cfg.device.as_str() {
            "auto" => Device::cuda_if_available(),
            "cpu" => Device::Cpu,
            "cuda" => Device::Cuda(0),
            other => match other.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
                Some(n) => Device::Cuda(n),
                None => {
                    return Err(format!(
                        "torch device {other:?}: use auto, cpu, cuda or cuda:N"
                    ))
                }
            },
        };
        if let Device::Cuda(n) = device {
            if !tch::Cuda::is_available() || n as i64 >= tch::Cuda::device_count() {
                return Err(format!(
                    "torch device cuda:{n} is not available on this machine"
                ));
            }
        }
        let kind = match cfg.precision.as_str() {
            "f32" => Kind::Float,
            "f64" => Kind::Double,
            other => return Err(format!("torch precision {other:?}: use f32 or f64")),
        };
        if cfg.threads > 0 {
            tch::set_num_threads(cfg.threads as i32);
        }
        Ok(TorchExecutor {
            store,
            device,
            kind,
            cache: cache::ModuleCache::new(cfg.cache_bytes),
            tokenizers: Default::default(),
            parsed: Default::default(),
            runtime: runtime_info(device, kind),
            profile: AtomicBool::new(false),
            model_nanos: AtomicU64::new(0),
        })
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn cache(&self) -> &cache::ModuleCache {
        &self.cache
    }

    /// Benchmarks: sum the time spent inside module calls from now on.
    pub fn profile_models(&self, on: bool) {
        self.profile.store(on, Ordering::Relaxed);
        self.model_nanos.store(0, Ordering::Relaxed);
    }

    /// Seconds spent inside module calls since `profile_models(true)`.
    pub fn model_seconds(&self) -> f64 {
        self.model_nanos.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// The manifest's pipeline, parsed once per distinct config (a comparison of the config is
    /// several times cheaper than parsing and checking it again).
    fn pipeline(&self, manifest: &Manifest) -> Result<Arc<Parsed>, ExecError> {
        let mut kept = self.parsed.lock().expect("poisoned");
        if let Some(i) = kept
            .iter()
            .position(|p| p.config == manifest.pipeline.config)
        {
            let p = kept.remove(i);
            kept.insert(0, p.clone());
            return Ok(p);
        }
        drop(kept);
        let pipeline = TorchPipeline::from_manifest(manifest)?;
        let parsed = Arc::new(Parsed {
            config: manifest.pipeline.config.clone(),
            modules: pipeline.module_loads()?,
            tokenizers: pipeline.tokenizer_hashes()?,
            pipeline,
        });
        let mut kept = self.parsed.lock().expect("poisoned");
        kept.insert(0, parsed.clone());
        kept.truncate(PARSED_KEPT);
        Ok(parsed)
    }

    /// A module as `load` says, merged and cached under its load key.
    fn module(&self, name: &str, load: &ModuleLoad) -> Result<Arc<CModule>, ExecError> {
        let key = load.key();
        if let Some(m) = self.cache.get(&key) {
            return Ok(m);
        }
        let hash = &load.archive;
        let bytes = self.artifact(hash, "module")?;
        let mut module =
            CModule::load_data_on_device(&mut std::io::Cursor::new(&bytes), self.device)
                .map_err(|e| failed(format!("module {} does not load: {e}", hex::encode(hash))))?;
        module.set_eval();
        if self.kind != Kind::Float {
            module.to(self.device, self.kind, false);
        }
        let applied = lora::apply(&module, name, load, |h| self.artifact(h, "weights or LoRA"))?;
        Ok(self.cache.insert(key, module, bytes.len() as u64 + applied))
    }

    /// The tokenizer in file `hash`, truncating at `max_length` and never padding (whatever the
    /// file's own settings: a pipeline states them).
    fn tokenizer(
        &self,
        name: &str,
        hash: &[u8; 32],
        max_length: usize,
    ) -> Result<Arc<tokenizers::Tokenizer>, ExecError> {
        let key = (*hash, max_length);
        if let Some(t) = self.tokenizers.lock().expect("poisoned").get(&key) {
            return Ok(t.clone());
        }
        let bytes = self.artifact(hash, "tokenizer")?;
        let what = format!("tokenizer file {} ({name:?})", hex::encode(hash));
        let mut t = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| ExecError::BadManifest(format!("{what}: not a tokenizer.json: {e}")))?;
        t.with_padding(None);
        t.with_truncation(Some(tokenizers::TruncationParams {
            max_length,
            ..Default::default()
        }))
        .map_err(|e| ExecError::BadManifest(format!("{what}: {e}")))?;
        let t = Arc::new(t);
        let mut kept = self.tokenizers.lock().expect("poisoned");
        if kept.len() >= TOKENIZERS_KEPT {
            kept.clear();
        }
        kept.insert(key, t.clone());
        Ok(t)
    }

    fn artifact(&self, hash: &[u8; 32], what: &str) -> Result<Vec<u8>, ExecError> {
        self.store.read(hash).map_err(failed)?.ok_or_else(|| {
            failed(format!(
                "{what} {} is not in the artifact store",
                hex::encode(hash)
            ))
        })
    }

    fn forward(&self, module: &CModule, name: &str, args: &[&Tensor]) -> Result<Tensor, ExecError> {
        let profile = self.profile.load(Ordering::Relaxed);
        let started = profile.then(|| {
            self.sync();
            Instant::now()
        });
        let out = module
            .forward_ts(args)
            .map_err(|e| failed(format!("module {name:?}: {e}")))?;
        if let Some(t) = started {
            self.sync();
            self.model_nanos
                .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        Ok(out)
    }

    fn sync(&self) {
        if let Device::Cuda(n) = self.device {
            tch::Cuda::synchronize(n as i64);
        }
    }

    /// Runs the steps of `p` in order over a fresh environment; returns the environment.
    fn eval(
        &self,
        parsed: &Parsed,
        job: &JobInput<'_>,
        steps: &[Step],
        progress: &mut dyn FnMut(u32, u32),
        cancel: &AtomicBool,
    ) -> Result<HashMap<String, Value>, ExecError> {
        // Both are thread-local in LibTorch; executors run on pooled threads, so set per run.
        let _no_grad = tch::no_grad_guard();
        // The TorchScript profiling executor gives its first call a different numeric path from
        // later ones; without graph optimisation every call computes the same way.
        tch::jit::set_graph_executor_optimize(false);
        let (p, modules) = (&parsed.pipeline, &parsed.modules);
        let total = p.total_units();
        let mut done = 0u32;
        let mut env = HashMap::new();
        env.insert(p.input.name().to_string(), self.input(p, job.input)?);
        let check = |cancel: &AtomicBool| {
            if cancel.load(Ordering::Relaxed) {
                Err(ExecError::Cancelled)
            } else {
                Ok(())
            }
        };
        for step in steps {
            check(cancel)?;
            match step {
                Step::Tokenize {
                    from,
                    to,
                    vocab,
                    length,
                } => {
                    let Some(Value::Text(text)) = env.get(from) else {
                        return Err(failed(format!("tokenize: {from:?} is not text")));
                    };
                    let ids = tokenize(text, vocab.as_deref(), *length)?;
                    let t = Tensor::from_slice(&ids)
                        .view([1, ids.len() as i64])
                        .to_device(self.device);
                    env.insert(to.clone(), Value::Tensor(t));
                }
                Step::HfTokenize {
                    tokenizer,
                    from,
                    to,
                    mask,
                    max_length,
                } => {
                    let Some(Value::Text(text)) = env.get(from) else {
                        return Err(failed(format!("hf_tokenize: {from:?} is not text")));
                    };
                    let t =
                        self.tokenizer(tokenizer, &parsed.tokenizers[tokenizer], *max_length)?;
                    let enc = t.encode(text.as_str(), true).map_err(|e| {
                        ExecError::BadInput(format!("tokenizer {tokenizer:?}: {e}"))
                    })?;
                    let row = |v: &[u32]| {
                        let v: Vec<i64> = v.iter().map(|x| i64::from(*x)).collect();
                        Tensor::from_slice(&v)
                            .view([1, v.len() as i64])
                            .to_device(self.device)
                    };
                    let (ids, attention) = (row(enc.get_ids()), row(enc.get_attention_mask()));
                    env.insert(to.clone(), Value::Tensor(ids));
                    env.insert(mask.clone(), Value::Tensor(attention));
                }
                Step::MeanPool { from, mask, to } => {
                    let h = tensor(&env, from)?;
                    let m = tensor(&env, mask)?;
                    let (hs, ms) = (h.size(), m.size());
                    if hs.len() != 3 || ms.len() != 2 || hs[..2] != ms[..] {
                        return Err(failed(format!(
                            "mean_pool: {from:?} is {hs:?} and {mask:?} is {ms:?}; need [B, T, D] and [B, T]"
                        )));
                    }
                    // As sentence-transformers: Σ h·m / clamp(Σ m, 1e-9) over the positions.
                    let m = m.to_kind(h.kind()).unsqueeze(-1).expand_as(h);
                    let sum = (h * &m).sum_dim_intlist([1i64].as_slice(), false, h.kind());
                    let count = m
                        .sum_dim_intlist([1i64].as_slice(), false, h.kind())
                        .clamp_min(1e-9);
                    env.insert(to.clone(), Value::Tensor(sum / count));
                }
                Step::L2Normalize { from, to } => {
                    // As torch.nn.functional.normalize: x / max(‖x‖₂, 1e-12), last dimension.
                    let x = tensor(&env, from)?;
                    let norm = x
                        .norm_scalaropt_dim(2, [-1i64].as_slice(), true)
                        .clamp_min(1e-12)
                        .expand_as(x);
                    env.insert(to.clone(), Value::Tensor(x / norm));
                }
                Step::Module { module, args, to } => {
                    let m = self.module(module, &modules[module])?;
                    let tensors: Vec<&Tensor> = args
                        .iter()
                        .map(|a| tensor(&env, a))
                        .collect::<Result<_, _>>()?;
                    let out = self.forward(&m, module, &tensors)?;
                    env.insert(to.clone(), Value::Tensor(out));
                }
                Step::Noise { shape, to } => {
                    let mut rng = rng::Stream::new(job.seed, to);
                    let n: usize = shape.iter().product();
                    let values: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
                    let dims: Vec<i64> = shape.iter().map(|d| *d as i64).collect();
                    let t = Tensor::from_slice(&values)
                        .view(dims.as_slice())
                        .to_kind(self.kind)
                        .to_device(self.device);
                    env.insert(to.clone(), Value::Tensor(t));
                }
                Step::Ddim {
                    unet,
                    latent,
                    cond,
                    steps,
                    train_steps,
                    beta_start,
                    beta_end,
                    to,
                } => {
                    let m = self.module(unet, &modules[unet])?;
                    let cond = tensor(&env, cond)?.shallow_clone();
                    let mut x = tensor(&env, latent)?.shallow_clone();
                    let schedule = ddim_schedule(*train_steps, *steps, *beta_start, *beta_end);
                    // Every timestep in one host-to-device copy, not one per step.
                    let times: Vec<f32> = schedule.iter().map(|(t, ..)| *t as f32).collect();
                    let times = Tensor::from_slice(&times)
                        .to_kind(self.kind)
                        .to_device(self.device);
                    for (i, (_, a_t, a_prev)) in schedule.into_iter().enumerate() {
                        check(cancel)?;
                        let tt = times.narrow(0, i as i64, 1);
                        let eps = self.forward(&m, unet, &[&x, &tt, &cond])?;
                        // x₀ = (x − √(1−ᾱₜ)·ε)/√ᾱₜ and x ← √ᾱₚ·x₀ + √(1−ᾱₚ)·ε, folded into
                        // x·a + ε·b (three kernels), exactly as the Python twin computes it.
                        let (a, b) = ddim_coefficients(a_t, a_prev);
                        x = &x * a + &eps * b;
                        done += 1;
                        progress(done, total);
                    }
                    env.insert(to.clone(), Value::Tensor(x));
                    continue;
                }
                Step::SampleTokens {
                    model,
                    from,
                    to,
                    max_new_tokens,
                    top_k,
                    temperature,
                    context,
                } => {
                    let m = self.module(model, &modules[model])?;
                    let mut tokens = prompt_ids(tensor(&env, from)?)?;
                    let mut rng = rng::Stream::new(job.seed, to);
                    let mut out = Vec::with_capacity(*max_new_tokens as usize);
                    for _ in 0..*max_new_tokens {
                        check(cancel)?;
                        let logits = self.next_logits(&m, model, &tokens, *context)?;
                        let next = pick(&logits, *top_k, *temperature, rng.uniform()).0;
                        tokens.push(next);
                        out.push(next);
                        done += 1;
                        progress(done, total);
                    }
                    let t = Tensor::from_slice(&out).view([1, out.len() as i64]);
                    env.insert(to.clone(), Value::Tensor(t));
                    continue;
                }
            }
            done += 1;
            progress(done, total);
        }
        Ok(env)
    }

    /// The logits of the last position for `tokens` (the last `context` of them), on the CPU.
    fn next_logits(
        &self,
        m: &CModule,
        name: &str,
        tokens: &[i64],
        context: u32,
    ) -> Result<Vec<f64>, ExecError> {
        let window = &tokens[tokens.len().saturating_sub(context as usize)..];
        let input = Tensor::from_slice(window)
            .view([1, window.len() as i64])
            .to_device(self.device);
        let logits = self.forward(m, name, &[&input])?;
        if logits.dim() != 3 {
            return Err(failed(format!(
                "module {name:?} returned shape {:?}; a language model returns [1, T, vocab]",
                logits.size()
            )));
        }
        // One device-to-host copy of the last position; widened to f64 on the host.
        let last = logits
            .select(1, -1)
            .to_device(Device::Cpu)
            .to_kind(Kind::Float);
        let values = Vec::<f32>::try_from(&last.flatten(0, -1)).map_err(failed)?;
        Ok(values.into_iter().map(f64::from).collect())
    }

    fn input(&self, p: &TorchPipeline, bytes: &[u8]) -> Result<Value, ExecError> {
        let name = p.input.name();
        match &p.input {
            spec::InputSpec::Text { max_bytes, .. } => {
                if bytes.len() > *max_bytes {
                    return Err(ExecError::BadInput(format!(
                        "{} is {} bytes; this workflow takes at most {max_bytes}",
                        name,
                        bytes.len()
                    )));
                }
                let text = std::str::from_utf8(bytes)
                    .map_err(|e| ExecError::BadInput(format!("{name} is not UTF-8 text: {e}")))?;
                Ok(Value::Text(text.to_string()))
            }
            spec::InputSpec::Tensor { shape, .. } => {
                let n: usize = shape.iter().product();
                if bytes.len() != n * 4 {
                    return Err(ExecError::BadInput(format!(
                        "{} must be {} little-endian f32 values ({} bytes) for shape {shape:?}; got {} bytes",
                        name,
                        n,
                        n * 4,
                        bytes.len()
                    )));
                }
                let values: Vec<f32> = bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                if values.iter().any(|v| !v.is_finite()) {
                    return Err(ExecError::BadInput(format!(
                        "{} contains NaN or infinity",
                        name
                    )));
                }
                let dims: Vec<i64> = shape.iter().map(|d| *d as i64).collect();
                Ok(Value::Tensor(
                    Tensor::from_slice(&values)
                        .view(dims.as_slice())
                        .to_kind(self.kind)
                        .to_device(self.device),
                ))
            }
        }
    }

    /// The output tensor as the job's bytes.
    fn encode(&self, spec: &OutputSpec, t: &Tensor) -> Result<Vec<u8>, ExecError> {
        let shape: Vec<usize> = t.size().iter().map(|d| *d as usize).collect();
        if let Some(want) = &spec.shape {
            if *want != shape {
                return Err(failed(format!(
                    "output tensor has shape {shape:?}; the workflow declares {want:?}"
                )));
            }
        }
        let cpu = |x: Tensor| x.to_device(Device::Cpu);
        let enc_err = |e: havn_outputs::OutputError| failed(e);
        // Float outputs: one copy to the host as f32, then checked and quantized there (the
        // same IEEE f32 steps as the twin's tensor ops: (x + 1)·0.5, clamp, ·255, round half to
        // even), instead of eight small kernels on the device.
        let floats = || -> Result<Vec<f32>, ExecError> {
            let v = Vec::<f32>::try_from(&cpu(t.to_kind(Kind::Float)).flatten(0, -1))
                .map_err(failed)?;
            if v.iter().any(|x| !x.is_finite()) {
                return Err(failed("output contains NaN or infinity"));
            }
            Ok(v)
        };
        match spec.encode {
            Encoding::Png => {
                let v: Vec<u8> = floats()?
                    .into_iter()
                    .map(|x| (((x + 1.0) * 0.5).clamp(0.0, 1.0) * 255.0).round_ties_even() as u8)
                    .collect();
                encode::png(&shape, &v).map_err(enc_err)
            }
            Encoding::Wav => {
                encode::flat_len(&shape, "wav").map_err(enc_err)?;
                let v: Vec<i16> = floats()?
                    .into_iter()
                    .map(|x| (x.clamp(-1.0, 1.0) * 32767.0).round_ties_even() as i16)
                    .collect();
                Ok(encode::wav(spec.sample_rate.unwrap_or(16_000), &v))
            }
            Encoding::Utf8 => {
                encode::flat_len(&shape, "utf8").map_err(enc_err)?;
                let ids = Vec::<i64>::try_from(&cpu(t.to_kind(Kind::Int64)).flatten(0, -1))
                    .map_err(failed)?;
                encode::utf8(spec.vocab.as_deref(), &ids).map_err(enc_err)
            }
            Encoding::Npy => encode::npy(&shape, &floats()?).map_err(enc_err),
        }
    }

    /// Rung `tokens`: the claimed text, token by token, against this runtime's own model. A token
    /// that differs from the one this runtime samples passes only when the request's uniform draw
    /// lies within `TOKEN_EPSILON` of the edge of that token's probability interval (two devices
    /// disagreeing at a sampling boundary), and at most a few times per output.
    fn verify_tokens(
        &self,
        parsed: &Parsed,
        job: &JobInput<'_>,
        claimed: &str,
        cancel: &AtomicBool,
    ) -> Result<Judgement, ExecError> {
        let p = &parsed.pipeline;
        let Some(idx) = p
            .steps
            .iter()
            .position(|s| matches!(s, Step::SampleTokens { to, .. } if *to == p.output.from))
        else {
            return Ok(Judgement::fail(
                Rung::Mismatch,
                "text differs from re-execution",
            ));
        };
        let Step::SampleTokens {
            model,
            from,
            to,
            top_k,
            temperature,
            context,
            ..
        } = &p.steps[idx]
        else {
            unreachable!("matched above");
        };
        let env = self.eval(parsed, job, &p.steps[..idx], &mut |_, _| {}, cancel)?;
        let _no_grad = tch::no_grad_guard();
        let m = self.module(model, &parsed.modules[model])?;
        let mut tokens = prompt_ids(tensor(&env, from)?)?;
        let claimed_ids = match tokenize(claimed, p.output.vocab.as_deref(), None) {
            Ok(ids) => ids,
            Err(e) => return Ok(Judgement::fail(Rung::Structure, e.to_string())),
        };
        let mut rng = rng::Stream::new(job.seed, to);
        let allowed = (claimed_ids.len() / 16).max(2);
        let mut boundary = 0usize;
        for (i, c) in claimed_ids.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(ExecError::Cancelled);
            }
            let logits = self.next_logits(&m, model, &tokens, *context)?;
            let u = rng.uniform();
            let (own, intervals) = pick(&logits, *top_k, *temperature, u);
            if own != *c {
                let Some((lo, hi)) = intervals.get(c) else {
                    return Ok(Judgement::fail(
                        Rung::Tokens,
                        format!("token {i} ({c}) is outside the model's top {top_k}"),
                    ));
                };
                let near = (u - lo).abs() <= TOKEN_EPSILON || (u - hi).abs() <= TOKEN_EPSILON;
                if !near {
                    return Ok(Judgement::fail(
                        Rung::Tokens,
                        format!(
                            "token {i} is {c}; the seeded draw {u:.6} selects {own} (interval of {c}: {lo:.6}..{hi:.6})"
                        ),
                    ));
                }
                boundary += 1;
                if boundary > allowed {
                    return Ok(Judgement::fail(
                        Rung::Tokens,
                        format!("{boundary} tokens at sampling boundaries (at most {allowed})"),
                    ));
                }
            }
            tokens.push(*c);
        }
        Ok(Judgement {
            pass: true,
            rung: Rung::Tokens,
            detail: format!(
                "every token agrees with the model; {boundary} of {} at a sampling boundary",
                claimed_ids.len()
            ),
            metrics: None,
        })
    }
}

/// How far (in probability) a seeded draw may lie from a token's interval edge for a different
/// token to count as a device's rounding rather than a wrong output.
pub const TOKEN_EPSILON: f64 = 1e-3;

fn tensor<'a>(env: &'a HashMap<String, Value>, name: &str) -> Result<&'a Tensor, ExecError> {
    match env.get(name) {
        Some(Value::Tensor(t)) => Ok(t),
        Some(Value::Text(_)) => Err(failed(format!("{name:?} is text; the step needs a tensor"))),
        None => Err(failed(format!("{name:?} is not defined"))),
    }
}

/// The prompt's token ids; an empty prompt starts from token 0.
fn prompt_ids(t: &Tensor) -> Result<Vec<i64>, ExecError> {
    let ids = Vec::<i64>::try_from(&t.to_device(Device::Cpu).to_kind(Kind::Int64).flatten(0, -1))
        .map_err(failed)?;
    Ok(if ids.is_empty() { vec![0] } else { ids })
}

/// Text → token ids: positions in `vocab`'s characters, or UTF-8 bytes; padded with 0 to `length`.
pub fn tokenize(
    text: &str,
    vocab: Option<&str>,
    length: Option<usize>,
) -> Result<Vec<i64>, ExecError> {
    let mut ids: Vec<i64> = match vocab {
        Some(v) => {
            let chars: Vec<char> = v.chars().collect();
            text.chars()
                .map(|c| {
                    chars
                        .iter()
                        .position(|x| *x == c)
                        .map(|i| i as i64)
                        .ok_or_else(|| {
                            ExecError::BadInput(format!(
                                "{c:?} is not in this workflow's vocabulary {v:?}"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?
        }
        None => text.bytes().map(i64::from).collect(),
    };
    if let Some(len) = length {
        if ids.len() > len {
            return Err(ExecError::BadInput(format!(
                "the text is {} tokens; this workflow takes at most {len}",
                ids.len()
            )));
        }
        ids.resize(len, 0);
    }
    Ok(ids)
}

/// The DDIM (η = 0) schedule: `(t, ᾱ_t, ᾱ_prev)` per step, from a scaled-linear β schedule.
pub fn ddim_schedule(
    train_steps: u32,
    steps: u32,
    beta_start: f64,
    beta_end: f64,
) -> Vec<(u32, f64, f64)> {
    let (s0, s1) = (beta_start.sqrt(), beta_end.sqrt());
    let mut alphas_cumprod = Vec::with_capacity(train_steps as usize);
    let mut prod = 1.0f64;
    let last = (train_steps.max(2) - 1) as f64;
    for i in 0..train_steps {
        let b = s0 + (s1 - s0) * i as f64 / last;
        prod *= 1.0 - b * b;
        alphas_cumprod.push(prod);
    }
    let ratio = train_steps / steps;
    (0..steps)
        .rev()
        .map(|i| {
            let t = i * ratio;
            let prev = if t >= ratio {
                alphas_cumprod[(t - ratio) as usize]
            } else {
                1.0
            };
            (t, alphas_cumprod[t as usize], prev)
        })
        .collect()
}

/// The DDIM (η = 0) update as `x·a + ε·b`: a = √ᾱₚ/√ᾱₜ, b = √(1−ᾱₚ) − √ᾱₚ·√(1−ᾱₜ)/√ᾱₜ.
pub fn ddim_coefficients(a_t: f64, a_prev: f64) -> (f64, f64) {
    let a = a_prev.sqrt() / a_t.sqrt();
    (a, (1.0 - a_prev).sqrt() - a * (1.0 - a_t).sqrt())
}

/// Seeded top-k sampling: the `k` largest logits (ties to the lower id), softmax at
/// `temperature` in f64, and the token whose cumulative interval holds `u`. Returns the token and
/// every candidate's interval `[lo, hi)` in probability.
pub fn pick(logits: &[f64], k: u32, temperature: f64, u: f64) -> (i64, HashMap<i64, (f64, f64)>) {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|a, b| logits[*b].total_cmp(&logits[*a]).then(a.cmp(b)));
    order.truncate((k as usize).min(logits.len()).max(1));
    let scaled: Vec<f64> = order.iter().map(|i| logits[*i] / temperature).collect();
    let max = scaled.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = scaled.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut intervals = HashMap::with_capacity(order.len());
    let mut acc = 0.0;
    let mut chosen = None;
    for (i, w) in order.iter().zip(&weights) {
        let lo = acc / total;
        acc += w;
        let hi = acc / total;
        intervals.insert(*i as i64, (lo, hi));
        if chosen.is_none() && u * total < acc {
            chosen = Some(*i as i64);
        }
    }
    (
        chosen.unwrap_or(*order.last().expect("k ≥ 1") as i64),
        intervals,
    )
}

impl Executor for TorchExecutor {
    fn kind(&self) -> &str {
        TORCH_KIND
    }

    fn runtime(&self) -> (String, String, String) {
        self.runtime.clone()
    }

    fn run(
        &self,
        manifest: &Manifest,
        job: &JobInput<'_>,
        progress: &mut dyn FnMut(u32, u32),
        cancel: &AtomicBool,
    ) -> Result<Vec<u8>, ExecError> {
        let parsed = self.pipeline(manifest)?;
        let p = &parsed.pipeline;
        let env = self.eval(&parsed, job, &p.steps, progress, cancel)?;
        let out = tensor(&env, &p.output.from)?;
        let bytes = self.encode(&p.output, out)?;
        if bytes.len() as u64 > manifest.max_output_bytes {
            return Err(failed(format!(
                "output is {} bytes; the workflow allows {}",
                bytes.len(),
                manifest.max_output_bytes
            )));
        }
        Ok(bytes)
    }

    fn artifacts(&self, manifest: &Manifest) -> Result<Vec<[u8; 32]>, ExecError> {
        self.pipeline(manifest)?.pipeline.artifact_hashes()
    }

    fn inspect(&self, manifest: &Manifest, output: &[u8]) -> Result<(), String> {
        let parsed = self.pipeline(manifest).map_err(|e| e.to_string())?;
        ladder::inspect(&parsed.pipeline.output, output).map(|_| ())
    }

    fn verify(
        &self,
        manifest: &Manifest,
        job: &JobInput<'_>,
        claimed: &[u8],
        cancel: &AtomicBool,
    ) -> Result<Judgement, ExecError> {
        let parsed = self.pipeline(manifest)?;
        let rerun = self.run(manifest, job, &mut |_, _| {}, cancel)?;
        let output = &parsed.pipeline.output;
        let judgement = ladder::compare(output, claimed, &rerun);
        if judgement.rung == Rung::Mismatch && output.encode == Encoding::Utf8 {
            let text = String::from_utf8_lossy(claimed);
            return self.verify_tokens(&parsed, job, &text, cancel);
        }
        Ok(judgement)
    }
}

/// What the node signs about its runtime: (executor, device, versions).
fn runtime_info(device: Device, kind: Kind) -> (String, String, String) {
    let executor = format!(
        "tch {} / libtorch {}",
        TCH_VERSION,
        env!("HAVN_LIBTORCH_VERSION")
    );
    let precision = if kind == Kind::Double { " f64" } else { "" };
    match device {
        Device::Cuda(n) => {
            let (name, driver) = nvidia_info(n);
            let cudnn = if tch::Cuda::cudnn_is_available() {
                format!(", cudnn {}", tch::utils::version_cudnn())
            } else {
                String::new()
            };
            (
                executor,
                format!("cuda:{n} {name}{precision}"),
                format!("driver {driver}{cudnn}"),
            )
        }
        _ => (
            executor,
            format!("cpu {}{precision}", cpu_model()),
            format!("threads {}", tch::get_num_threads()),
        ),
    }
}

/// The tch version this runtime is built with (pinned in the workspace).
pub const TCH_VERSION: &str = "0.24.0";

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// GPU model and driver version from the NVIDIA driver's /proc files (no nvidia-smi needed).
fn nvidia_info(index: usize) -> (String, String) {
    let driver = std::fs::read_to_string("/proc/driver/nvidia/version")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .skip_while(|w| *w != "Kernel" && *w != "Module")
                .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into());
    let mut gpus: Vec<_> = std::fs::read_dir("/proc/driver/nvidia/gpus")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    gpus.sort();
    let name = gpus
        .get(index)
        .and_then(|p| std::fs::read_to_string(p.join("information")).ok())
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Model:"))
                .map(|l| l["Model:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "NVIDIA GPU".into());
    (name, driver)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The sampled token is the one whose interval holds the draw; the top-k intervals tile
        /// [0, 1) in order of logit.
        #[test]
        fn pick_draws_from_the_top_k_by_interval(
            logits in prop::collection::vec(-20.0f64..20.0, 1..64),
            k in 1u32..16,
            temperature in 0.1f64..3.0,
            u in 0.0f64..1.0,
        ) {
            let (token, intervals) = pick(&logits, k, temperature, u);
            prop_assert_eq!(intervals.len(), (k as usize).min(logits.len()));
            let (lo, hi) = intervals[&token];
            prop_assert!(lo <= u && (u < hi || hi >= 1.0 - 1e-12), "{} not in [{}, {})", u, lo, hi);
            let mut spans: Vec<(f64, f64)> = intervals.values().copied().collect();
            spans.sort_by(|a, b| a.0.total_cmp(&b.0));
            prop_assert!(spans[0].0 == 0.0);
            prop_assert!((spans.last().unwrap().1 - 1.0).abs() < 1e-9);
            for w in spans.windows(2) {
                prop_assert_eq!(w[0].1, w[1].0);
            }
            // Every candidate has a logit at least as large as every non-candidate.
            let worst = intervals.keys().map(|i| logits[*i as usize]).fold(f64::INFINITY, f64::min);
            for (i, l) in logits.iter().enumerate() {
                if !intervals.contains_key(&(i as i64)) {
                    prop_assert!(*l <= worst);
                }
            }
        }

        /// The folded DDIM update equals the textbook two-step form.
        #[test]
        fn ddim_coefficients_match_the_two_step_update(
            a_t in 0.01f64..0.999, a_prev in 0.01f64..1.0, x in -5.0f64..5.0, eps in -5.0f64..5.0,
        ) {
            let x0 = (x - (1.0 - a_t).sqrt() * eps) / a_t.sqrt();
            let want = a_prev.sqrt() * x0 + (1.0 - a_prev).sqrt() * eps;
            let (a, b) = ddim_coefficients(a_t, a_prev);
            prop_assert!((a * x + b * eps - want).abs() < 1e-9 * (1.0 + want.abs()));
        }
    }

    #[test]
    fn the_schedule_runs_from_noise_to_clean() {
        let s = ddim_schedule(1000, 10, 0.00085, 0.012);
        assert_eq!(s.len(), 10);
        assert_eq!(s[0].0, 900);
        assert_eq!(s.last().unwrap().0, 0);
        assert_eq!(s.last().unwrap().2, 1.0, "the last step lands on ᾱ = 1");
        // ᾱ falls as t grows.
        assert!(s.windows(2).all(|w| w[0].1 < w[1].1 && w[0].2 > w[0].1));
    }

    #[test]
    fn tokenize_pads_and_refuses() {
        assert_eq!(tokenize("ab", None, Some(4)).unwrap(), vec![97, 98, 0, 0]);
        assert_eq!(tokenize("ba", Some("ab"), None).unwrap(), vec![1, 0]);
        assert!(tokenize("abc", None, Some(2)).is_err());
        assert!(tokenize("z", Some("ab"), None).is_err());
    }
}
