//! The example workflows through the real LibTorch runtime on CPU: they run, decode and are
//! deterministic; the Python twin computes the same outputs; a different numeric path passes the
//! tolerance ladder; faked outputs fail it; cancellation, progress, the module LRU and bad input
//! behave. Needs `make models` (the Makefile's `test` builds them first).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use havn_mesh_common::artifacts::ArtifactDir;
use havn_mesh_common::pipeline::{ExecError, Executor, JobInput, Manifest, Rung};
use havn_outputs::{ladder, Values};
use havn_runtime::{examples, TorchConfig, TorchExecutor, TorchPipeline};

const PROMPT: &[u8] = b"a small red fox";

fn manifest(name: &str) -> Manifest {
    let all = examples::load(&examples::dir()).expect("example models (run `make models`)");
    let e = all.iter().find(|e| e.name == name).expect("example exists");
    Manifest::parse(&e.manifest).unwrap()
}

fn executor(cfg: TorchConfig) -> TorchExecutor {
    let store = ArtifactDir::open(&examples::dir().join("artifacts")).unwrap();
    TorchExecutor::new(
        store,
        &TorchConfig {
            device: "cpu".into(),
            ..cfg
        },
    )
    .unwrap()
}

fn cpu() -> TorchExecutor {
    executor(TorchConfig::default())
}

fn run(ex: &TorchExecutor, m: &Manifest, input: &[u8], seed: u64) -> Result<Vec<u8>, ExecError> {
    let params = BTreeMap::new();
    ex.run(
        m,
        &JobInput {
            input,
            seed,
            parameters: &params,
        },
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
}

fn verify(ex: &TorchExecutor, m: &Manifest, seed: u64, claimed: &[u8]) -> havn_outputs::Judgement {
    let params = BTreeMap::new();
    ex.verify(
        m,
        &JobInput {
            input: PROMPT,
            seed,
            parameters: &params,
        },
        claimed,
        &AtomicBool::new(false),
    )
    .unwrap()
}

const WORKFLOWS: [&str; 3] = ["text-to-image", "char-lm", "text-to-audio"];

#[test]
fn every_example_runs_decodes_and_repeats() {
    let ex = cpu();
    for name in WORKFLOWS {
        let m = manifest(name);
        let p = TorchPipeline::from_manifest(&m).unwrap();
        let mut steps = vec![];
        let params = BTreeMap::new();
        let out = ex
            .run(
                &m,
                &JobInput {
                    input: PROMPT,
                    seed: 1,
                    parameters: &params,
                },
                &mut |s, t| steps.push((s, t)),
                &AtomicBool::new(false),
            )
            .unwrap();
        // Progress: every unit once, in order, ending at the total.
        let total = p.total_units();
        assert_eq!(
            steps,
            (1..=total).map(|s| (s, total)).collect::<Vec<_>>(),
            "{name}"
        );
        let decoded = ladder::inspect(&p.output, &out).unwrap_or_else(|e| panic!("{name}: {e}"));
        match (name, &decoded.values) {
            ("text-to-image", Values::U8(px)) => assert_eq!(px.len(), 64 * 64 * 3),
            ("char-lm", Values::Text(t)) => assert_eq!(t.chars().count(), 48),
            ("text-to-audio", Values::I16(s)) => assert_eq!(s.len(), 8192),
            other => panic!("unexpected output {other:?}"),
        }
        assert_eq!(
            run(&ex, &m, PROMPT, 1).unwrap(),
            out,
            "{name} is not deterministic"
        );
        assert_ne!(
            run(&ex, &m, b"another prompt", 1).unwrap(),
            out,
            "{name} ignores its input"
        );
        if name != "text-to-audio" {
            assert_ne!(
                run(&ex, &m, PROMPT, 2).unwrap(),
                out,
                "{name} ignores the seed"
            );
        }
        assert_eq!(ex.artifacts(&m).unwrap().len(), p.modules.len());
    }
    let (executor, device, _) = ex.runtime();
    assert!(
        executor.starts_with("tch 0.24.0 / libtorch 2.11.0"),
        "{executor}"
    );
    assert!(device.starts_with("cpu"), "{device}");
}

/// The Python twin (models/twin.py, PyTorch itself) gives the same values for the same manifest.
#[test]
fn the_python_twin_computes_the_same_outputs() {
    let ex = cpu();
    let dir = tempfile::tempdir().unwrap();
    let python = std::env::var_os("HAVN_TORCH_VENV")
        .map(|v| std::path::Path::new(&v).join("bin/python"))
        .unwrap_or_else(|| "python3".into());
    let twin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/twin.py");
    for name in WORKFLOWS {
        let out = dir.path().join(name);
        let status = std::process::Command::new(&python)
            .arg(&twin)
            .args(["run"])
            .arg(examples::dir())
            .args([name])
            .arg(&out)
            .args(["--seed", "5", "--threads", "1"])
            .env("OMP_NUM_THREADS", "1")
            .status()
            .expect("python with torch (scripts/torch-setup.sh)");
        assert!(status.success(), "twin failed on {name}");
        let twin_bytes = std::fs::read(&out).unwrap();
        let m = manifest(name);
        let j = ladder::compare(
            &TorchPipeline::from_manifest(&m).unwrap().output,
            &twin_bytes,
            &run(&ex, &m, PROMPT, 5).unwrap(),
        );
        // Identical values: byte-identical, or (PNG, whose compressor differs) zero distance.
        assert!(j.pass, "{name}: {j:?}");
        assert!(
            j.rung == Rung::Exact || j.metrics.unwrap().max_abs == 0.0,
            "{name}: {j:?}"
        );
    }
}

/// An honest node on other hardware: every step in f64 instead of f32 (a different numeric path
/// to the same result). The validator's ladder passes it.
#[test]
fn an_honest_run_on_another_numeric_path_passes_the_ladder() {
    let validator = cpu();
    let other = executor(TorchConfig {
        precision: "f64".into(),
        ..TorchConfig::default()
    });
    assert!(other.runtime().1.ends_with("f64"));
    for name in WORKFLOWS {
        let m = manifest(name);
        for seed in [1, 2, 3] {
            let claimed = run(&other, &m, PROMPT, seed).unwrap();
            let j = verify(&validator, &m, seed, &claimed);
            assert!(j.pass, "{name} seed {seed}: {j:?}");
        }
    }
}

#[test]
fn faked_outputs_fail_the_ladder() {
    let ex = cpu();
    // A cached output: the node returns another request's result.
    for name in ["text-to-image", "char-lm"] {
        let m = manifest(name);
        let cached = run(&ex, &m, PROMPT, 2).unwrap();
        let j = verify(&ex, &m, 1, &cached);
        assert!(!j.pass, "{name}: {j:?}");
        assert!(
            matches!(j.rung, Rung::Mismatch | Rung::Tokens),
            "{name}: {j:?}"
        );
    }
    // A near-duplicate request's output: one character of the prompt differs.
    for name in WORKFLOWS {
        let m = manifest(name);
        let near = run(&ex, &m, b"a small red fix", 1).unwrap();
        let j = verify(&ex, &m, 1, &near);
        assert!(!j.pass, "{name}: {j:?}");
    }

    // Random pixels of the right size: decodes, is not blank, but is not the picture.
    let m = manifest("text-to-image");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..3 * 64 * 64)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let random = havn_outputs::encode::png(&[1, 3, 64, 64], &noise).unwrap();
    let j = verify(&ex, &m, 1, &random);
    assert_eq!((j.pass, j.rung), (false, Rung::Mismatch), "{j:?}");
    // Blank or wrongly shaped: structure, without re-execution.
    let blank = havn_outputs::encode::png(&[1, 3, 64, 64], &[0; 3 * 64 * 64]).unwrap();
    assert!(ex.inspect(&m, &blank).unwrap_err().contains("blank"));
    let small = havn_outputs::encode::png(&[1, 3, 8, 8], &noise[..192]).unwrap();
    assert!(ex.inspect(&m, &small).unwrap_err().contains("shape"));

    // Text with one token changed: the token rung names it.
    let m = manifest("char-lm");
    let honest = String::from_utf8(run(&ex, &m, PROMPT, 1).unwrap()).unwrap();
    let mut forged: Vec<char> = honest.chars().collect();
    forged[10] = if forged[10] == 'q' { 'z' } else { 'q' };
    let forged: String = forged.into_iter().collect();
    let j = verify(&ex, &m, 1, forged.as_bytes());
    assert_eq!((j.pass, j.rung), (false, Rung::Tokens), "{j:?}");
    assert!(j.detail.contains("token 10"), "{}", j.detail);
}

#[test]
fn cancellation_stops_between_steps() {
    let ex = cpu();
    let m = manifest("text-to-image");
    let params = BTreeMap::new();
    let job = JobInput {
        input: PROMPT,
        seed: 1,
        parameters: &params,
    };
    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let r = ex.run(
        &m,
        &job,
        &mut |s, _| {
            seen = s;
            if s == 5 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert_eq!(r, Err(ExecError::Cancelled));
    assert_eq!(seen, 5, "no step ran after the cancel");
    assert_eq!(
        ex.run(&m, &job, &mut |_, _| {}, &AtomicBool::new(true)),
        Err(ExecError::Cancelled)
    );
}

#[test]
fn modules_stay_warm_and_the_cache_respects_its_budget() {
    let m = manifest("text-to-image");
    let warm = cpu();
    let first = run(&warm, &m, PROMPT, 1).unwrap();
    run(&warm, &m, PROMPT, 2).unwrap();
    let s = warm.cache().stats();
    assert_eq!((s.modules, s.loads, s.evictions), (3, 3, 0), "{s:?}");

    // A budget below the pipeline's modules: each run reloads, the output does not change.
    let tight = executor(TorchConfig {
        cache_bytes: 900_000,
        ..TorchConfig::default()
    });
    assert_eq!(run(&tight, &m, PROMPT, 1).unwrap(), first);
    assert_eq!(run(&tight, &m, PROMPT, 1).unwrap(), first);
    let s = tight.cache().stats();
    assert!(s.evictions >= 2 && s.loads > 3, "{s:?}");
    assert!(s.bytes <= 900_000 || s.modules == 1, "{s:?}");
}

#[test]
fn bad_input_and_missing_models_are_clear_errors() {
    let ex = cpu();
    let too_long = run(&ex, &manifest("text-to-image"), &[b'a'; 65], 1).unwrap_err();
    assert!(too_long.to_string().contains("at most 64"), "{too_long}");
    let not_utf8 = run(&ex, &manifest("text-to-image"), &[0xff, 0xfe], 1).unwrap_err();
    assert!(not_utf8.to_string().contains("not UTF-8"), "{not_utf8}");
    let vocab = run(&ex, &manifest("char-lm"), b"HELLO", 1).unwrap_err();
    assert!(matches!(vocab, ExecError::BadInput(_)), "{vocab}");
    assert!(vocab
        .to_string()
        .contains("'H' is not in this workflow's vocabulary"));

    // A store without the model files: the run names the missing module.
    let empty = tempfile::tempdir().unwrap();
    let bare = TorchExecutor::new(
        ArtifactDir::open(empty.path()).unwrap(),
        &TorchConfig {
            device: "cpu".into(),
            ..TorchConfig::default()
        },
    )
    .unwrap();
    let err = run(&bare, &manifest("char-lm"), PROMPT, 1).unwrap_err();
    assert!(
        err.to_string().contains("is not in the artifact store"),
        "{err}"
    );
    assert!(TorchExecutor::new(
        ArtifactDir::open(empty.path()).unwrap(),
        &TorchConfig {
            device: "tpu".into(),
            ..TorchConfig::default()
        }
    )
    .is_err());
    assert!(TorchExecutor::new(
        ArtifactDir::open(empty.path()).unwrap(),
        &TorchConfig {
            precision: "f16".into(),
            ..TorchConfig::default()
        }
    )
    .is_err());
}
