//! What a workflow runs. A workflow version is a JSON manifest, addressed by its sha256 (the hash
//! the registry stores); its `pipeline.kind` names the executor. Executors run synchronously (on a
//! blocking thread), report progress per step and stop between steps when cancelled.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

pub use havn_outputs::{Judgement, Rung};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// A workflow version's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub pipeline: PipelineSpec,
    /// The largest output a correct run produces, in bytes (validators check it).
    #[serde(default = "default_max_output")]
    pub max_output_bytes: u64,
}

fn default_max_output() -> u64 {
    16 * 1024 * 1024
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSpec {
    /// `builtin:digest`, or a kind another executor registers (e.g. `torch`).
    pub kind: String,
    /// The kind's own settings.
    #[serde(flatten)]
    pub config: serde_json::Map<String, serde_json::Value>,
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Self, ExecError> {
        serde_json::from_slice(bytes).map_err(|e| ExecError::BadManifest(e.to_string()))
    }
}

/// One job as an executor sees it.
#[derive(Debug, Clone)]
pub struct JobInput<'a> {
    pub input: &'a [u8],
    pub seed: u64,
    pub parameters: &'a BTreeMap<String, String>,
}

#[derive(Debug, Clone, Error, PartialEq)]
pub enum ExecError {
    #[error("manifest is not valid: {0}")]
    BadManifest(String),
    #[error("no executor for pipeline kind {0:?}")]
    UnknownKind(String),
    #[error("input is not valid: {0}")]
    BadInput(String),
    #[error("bad parameter {name}: {reason}")]
    BadParameter { name: String, reason: String },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

/// Runs one pipeline kind.
pub trait Executor: Send + Sync {
    /// The pipeline kind it runs.
    fn kind(&self) -> &str;
    /// What it is and where it runs, for the node's signed result claim.
    fn runtime(&self) -> (String, String, String);
    /// Runs a job, calling `progress(step, total)` after each step and checking `cancel` between
    /// steps.
    fn run(
        &self,
        manifest: &Manifest,
        job: &JobInput<'_>,
        progress: &mut dyn FnMut(u32, u32),
        cancel: &AtomicBool,
    ) -> Result<Vec<u8>, ExecError>;

    /// Content hashes of the artifacts (model files) `run` reads from the local artifact store;
    /// the daemon fetches them first.
    fn artifacts(&self, _manifest: &Manifest) -> Result<Vec<[u8; 32]>, ExecError> {
        Ok(vec![])
    }

    /// Checks any result without re-executing it (validators, every job): `Err(why)` fails it.
    fn inspect(&self, _manifest: &Manifest, _output: &[u8]) -> Result<(), String> {
        Ok(())
    }

    /// Re-executes a job and judges the `claimed` output against the re-run (validators, the
    /// sampled jobs). The default is byte equality, for deterministic executors.
    fn verify(
        &self,
        manifest: &Manifest,
        job: &JobInput<'_>,
        claimed: &[u8],
        cancel: &AtomicBool,
    ) -> Result<Judgement, ExecError> {
        let rerun = self.run(manifest, job, &mut |_, _| {}, cancel)?;
        Ok(if rerun == claimed {
            Judgement::exact()
        } else {
            Judgement::fail(Rung::Mismatch, "re-execution gives a different output")
        })
    }
}

/// `builtin:digest`: real, deterministic, sized work for tests and load benchmarks. Output:
/// `output_bytes` bytes (default 32) of sha256 in counter mode over a state that starts as
/// sha256(seed ‖ input ‖ parameters) and is hashed `rounds` more times (manifest `rounds`,
/// default 1; the job parameter `rounds` overrides it).
pub struct DigestExecutor;

pub const DIGEST_KIND: &str = "builtin:digest";

impl Executor for DigestExecutor {
    fn kind(&self) -> &str {
        DIGEST_KIND
    }

    fn runtime(&self) -> (String, String, String) {
        (
            DIGEST_KIND.into(),
            "cpu".into(),
            format!("havn-mesh {}", env!("CARGO_PKG_VERSION")),
        )
    }

    fn run(
        &self,
        manifest: &Manifest,
        job: &JobInput<'_>,
        progress: &mut dyn FnMut(u32, u32),
        cancel: &AtomicBool,
    ) -> Result<Vec<u8>, ExecError> {
        let number = |name: &str, default: u64| -> Result<u64, ExecError> {
            if let Some(v) = job.parameters.get(name) {
                return v.parse().map_err(|_| ExecError::BadParameter {
                    name: name.into(),
                    reason: format!("{v:?} is not a whole number"),
                });
            }
            Ok(manifest
                .pipeline
                .config
                .get(name)
                .and_then(|v| v.as_u64())
                .unwrap_or(default))
        };
        let rounds = number("rounds", 1)?;
        let output_bytes = number("output_bytes", 32)?;
        if output_bytes == 0 || output_bytes > manifest.max_output_bytes {
            return Err(ExecError::BadParameter {
                name: "output_bytes".into(),
                reason: format!("must be 1 to {}", manifest.max_output_bytes),
            });
        }
        let mut h = Sha256::new();
        h.update(job.seed.to_be_bytes());
        h.update((job.input.len() as u64).to_be_bytes());
        h.update(job.input);
        for (k, v) in job.parameters {
            h.update((k.len() as u32).to_be_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u32).to_be_bytes());
            h.update(v.as_bytes());
        }
        let mut state: [u8; 32] = h.finalize().into();
        // Ten progress steps (or one per round when there are fewer).
        let steps = rounds.clamp(1, 10);
        let per_step = rounds.div_ceil(steps).max(1);
        let mut done = 0u64;
        for step in 1..=steps {
            if cancel.load(Ordering::Relaxed) {
                return Err(ExecError::Cancelled);
            }
            let until = (step * per_step).min(rounds);
            while done < until {
                state = Sha256::digest(state).into();
                done += 1;
            }
            progress(step as u32, steps as u32);
        }
        let mut out = Vec::with_capacity(output_bytes as usize);
        let mut counter = 0u64;
        while (out.len() as u64) < output_bytes {
            let mut h = Sha256::new();
            h.update(state);
            h.update(counter.to_be_bytes());
            out.extend_from_slice(&h.finalize());
            counter += 1;
        }
        out.truncate(output_bytes as usize);
        Ok(out)
    }
}

/// A manifest for `builtin:digest`, canonical JSON, and its hash.
pub fn digest_manifest(name: &str, rounds: u64) -> (Vec<u8>, [u8; 32]) {
    let manifest = Manifest {
        name: name.into(),
        pipeline: PipelineSpec {
            kind: DIGEST_KIND.into(),
            config: serde_json::json!({ "rounds": rounds })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        },
        max_output_bytes: default_max_output(),
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    let hash = crate::sha256(&bytes);
    (bytes, hash)
}

/// The executors a daemon has, by kind.
#[derive(Default, Clone)]
pub struct Executors {
    by_kind: BTreeMap<String, std::sync::Arc<dyn Executor>>,
}

impl Executors {
    /// The built-in `builtin:digest` only.
    pub fn builtin() -> Self {
        let mut e = Executors::default();
        e.add(std::sync::Arc::new(DigestExecutor));
        e
    }

    pub fn add(&mut self, executor: std::sync::Arc<dyn Executor>) {
        self.by_kind.insert(executor.kind().to_string(), executor);
    }

    pub fn get(&self, kind: &str) -> Result<std::sync::Arc<dyn Executor>, ExecError> {
        self.by_kind
            .get(kind)
            .cloned()
            .ok_or_else(|| ExecError::UnknownKind(kind.to_string()))
    }

    pub fn kinds(&self) -> Vec<String> {
        self.by_kind.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `manifest` fuzz target: a number in a manifest survives being parsed and
    /// written again (without `float_roundtrip`, 1e125 came back 1.0000000000000001e+125).
    #[test]
    fn a_manifest_keeps_its_numbers_through_a_round_trip() {
        let text = br#"{"name":"n","max_output_bytes":9,"pipeline":{"kind":"torch","shape":[1e125,0.1,3.0000000000000004]}}"#;
        let manifest = Manifest::parse(text).unwrap();
        let again = Manifest::parse(&serde_json::to_vec(&manifest).unwrap()).unwrap();
        assert_eq!(again, manifest);
    }

    fn run(rounds: u64, input: &[u8], seed: u64) -> Vec<u8> {
        let (bytes, _) = digest_manifest("t", rounds);
        let manifest = Manifest::parse(&bytes).unwrap();
        let params = BTreeMap::new();
        let mut steps = vec![];
        let out = DigestExecutor
            .run(
                &manifest,
                &JobInput {
                    input,
                    seed,
                    parameters: &params,
                },
                &mut |s, t| steps.push((s, t)),
                &AtomicBool::new(false),
            )
            .unwrap();
        assert_eq!(steps.last().map(|s| s.0 == s.1), Some(true));
        out
    }

    #[test]
    fn digest_is_deterministic_and_depends_on_everything() {
        let base = run(100, b"in", 1);
        assert_eq!(base.len(), 32);
        assert_eq!(base, run(100, b"in", 1));
        assert_ne!(base, run(101, b"in", 1));
        assert_ne!(base, run(100, b"in2", 1));
        assert_ne!(base, run(100, b"in", 2));
        // One round is sha256 of the seeded state: checked against an independent computation.
        let mut h = Sha256::new();
        h.update(1u64.to_be_bytes());
        h.update(2u64.to_be_bytes());
        h.update(b"in");
        let state: [u8; 32] = Sha256::digest(h.finalize()).into();
        let mut c = Sha256::new();
        c.update(state);
        c.update(0u64.to_be_bytes());
        assert_eq!(run(1, b"in", 1), c.finalize().to_vec());
    }

    #[test]
    fn cancellation_and_bad_parameters_stop_the_run() {
        let (bytes, _) = digest_manifest("t", 1000);
        let manifest = Manifest::parse(&bytes).unwrap();
        let mut params = BTreeMap::new();
        let job = |p: &BTreeMap<String, String>| {
            DigestExecutor.run(
                &manifest,
                &JobInput {
                    input: b"x",
                    seed: 0,
                    parameters: p,
                },
                &mut |_, _| {},
                &AtomicBool::new(true),
            )
        };
        assert_eq!(job(&params), Err(ExecError::Cancelled));
        params.insert("rounds".into(), "many".into());
        assert!(matches!(job(&params), Err(ExecError::BadParameter { .. })));
        assert!(matches!(
            Manifest::parse(b"{}"),
            Err(ExecError::BadManifest(_))
        ));
        assert!(Executors::builtin().get("torch").is_err());
    }
}
