//! `havn-torch`: the LibTorch runtime on its own, for creators and operators: what it runs on,
//! one workflow run, a validator's judgement of an output, and a benchmark table.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use havn_mesh_common::artifacts::ArtifactDir;
use havn_mesh_common::pipeline::{Executor, JobInput, Manifest};
use havn_runtime::{TorchConfig, TorchExecutor, TorchPipeline};

#[derive(Parser)]
#[command(
    name = "havn-torch",
    version,
    about = "Havn's LibTorch runtime: run, verify and benchmark workflows"
)]
struct Cli {
    /// A folder as `make models` writes it: <workflow>.json manifests and artifacts/<sha256>.
    #[arg(
        long,
        global = true,
        default_value = "models/build",
        env = "HAVN_MODELS"
    )]
    models: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, global = true, default_value = "auto")]
    device: String,
    /// CPU threads (0: LibTorch's default).
    #[arg(long, global = true, default_value_t = 0)]
    threads: usize,
    /// f32, or f64 to compute on a different numeric path.
    #[arg(long, global = true, default_value = "f32")]
    precision: String,
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// The runtime and device this machine would report in a node's result claim.
    Info,
    /// The JSON Schema of a torch workflow manifest (also in mesh/workflow/manifest.schema.json).
    Schema,
    /// Runs one workflow and writes its output.
    Run {
        /// A workflow name in the models folder (e.g. text-to-image) or a manifest file.
        workflow: String,
        #[arg(long, default_value = "a small red fox")]
        input: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the output (default: <workflow>.<png|wav|txt|npy>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Judges an output as a validator would: re-executes and walks the tolerance ladder.
    /// Exits 0 when it passes, 1 when it fails.
    Verify {
        workflow: String,
        /// The output to judge.
        claimed: PathBuf,
        #[arg(long, default_value = "a small red fox")]
        input: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Per-job time of each example workflow, and how much of it is module time.
    Bench {
        /// Workflows to time (default: every manifest in the models folder).
        #[arg(long, value_delimiter = ',')]
        workflows: Vec<String>,
        #[arg(long, default_value_t = 20)]
        jobs: u32,
        /// Also write each workflow's output for seed 1 here (for cross-device checks).
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("havn-torch: {e}");
            ExitCode::from(2)
        }
    }
}

fn load(models: &Path, workflow: &str) -> Result<(Manifest, String), String> {
    let path = if workflow.ends_with(".json") {
        PathBuf::from(workflow)
    } else {
        models.join(format!("{workflow}.json"))
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "cannot read {}: {e} (run `make models` to build the examples)",
            path.display()
        )
    })?;
    let manifest = Manifest::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok((manifest, name))
}

fn extension(m: &Manifest) -> &'static str {
    match TorchPipeline::from_manifest(m).map(|p| p.output.encode) {
        Ok(havn_outputs::Encoding::Png) => "png",
        Ok(havn_outputs::Encoding::Wav) => "wav",
        Ok(havn_outputs::Encoding::Utf8) => "txt",
        _ => "npy",
    }
}

fn run(cli: &Cli) -> Result<ExitCode, String> {
    if let Command::Schema = cli.command {
        let schema = havn_runtime::manifest_schema();
        println!(
            "{}",
            serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let store = ArtifactDir::open(&cli.models.join("artifacts")).map_err(|e| e.to_string())?;
    let cfg = TorchConfig {
        device: cli.device.clone(),
        threads: cli.threads,
        precision: cli.precision.clone(),
        ..TorchConfig::default()
    };
    let exec = TorchExecutor::new(store, &cfg)?;
    let params = Default::default();
    let cancel = AtomicBool::new(false);
    let json = cli.output == Output::Json;
    match &cli.command {
        Command::Schema => unreachable!("answered above"),
        Command::Info => {
            let (executor, device, versions) = exec.runtime();
            if json {
                println!(
                    "{}",
                    serde_json::json!({"executor": executor, "device": device, "versions": versions,
                        "cuda_available": tch::Cuda::is_available()})
                );
            } else {
                println!("executor  {executor}\ndevice    {device}\nversions  {versions}");
            }
        }
        Command::Run {
            workflow,
            input,
            seed,
            out,
        } => {
            let (m, name) = load(&cli.models, workflow)?;
            let job = JobInput {
                input: input.as_bytes(),
                seed: *seed,
                parameters: &params,
            };
            let started = Instant::now();
            let bytes = exec
                .run(&m, &job, &mut |_, _| {}, &cancel)
                .map_err(|e| e.to_string())?;
            let secs = started.elapsed().as_secs_f64();
            let out = out
                .clone()
                .unwrap_or_else(|| format!("{name}.{}", extension(&m)).into());
            std::fs::write(&out, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            let hash = hex::encode(havn_mesh_common::sha256(&bytes));
            if json {
                println!(
                    "{}",
                    serde_json::json!({"output": out, "bytes": bytes.len(), "sha256": hash, "seconds": secs})
                );
            } else {
                println!(
                    "{} ({} bytes, sha256 {}…) in {:.1} ms",
                    out.display(),
                    bytes.len(),
                    &hash[..16],
                    secs * 1e3
                );
            }
        }
        Command::Verify {
            workflow,
            claimed,
            input,
            seed,
        } => {
            let (m, _) = load(&cli.models, workflow)?;
            let claimed = std::fs::read(claimed)
                .map_err(|e| format!("cannot read {}: {e}", claimed.display()))?;
            let job = JobInput {
                input: input.as_bytes(),
                seed: *seed,
                parameters: &params,
            };
            let j = exec
                .verify(&m, &job, &claimed, &cancel)
                .map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"pass": j.pass, "rung": j.rung.name(), "detail": j.detail,
                        "metrics": j.metrics})
                );
            } else {
                println!(
                    "{} by {}: {}",
                    if j.pass { "pass" } else { "FAIL" },
                    j.rung.name(),
                    j.detail
                );
            }
            return Ok(if j.pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Command::Bench {
            workflows,
            jobs,
            out_dir,
        } => {
            let names = if workflows.is_empty() {
                example_names(&cli.models)?
            } else {
                workflows.clone()
            };
            let jobs = (*jobs).max(1);
            let (_, device, _) = exec.runtime();
            let mut rows = vec![];
            for name in &names {
                let (m, _) = load(&cli.models, name)?;
                let job = |seed| JobInput {
                    input: b"a small red fox",
                    seed,
                    parameters: &params,
                };
                let first = exec
                    .run(&m, &job(1), &mut |_, _| {}, &cancel)
                    .map_err(|e| e.to_string())?;
                if let Some(dir) = out_dir {
                    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                    std::fs::write(dir.join(format!("{name}.{}", extension(&m))), &first)
                        .map_err(|e| e.to_string())?;
                }
                exec.run(&m, &job(2), &mut |_, _| {}, &cancel)
                    .map_err(|e| e.to_string())?;
                let mut times = Vec::with_capacity(jobs as usize);
                for seed in 0..jobs {
                    let t = Instant::now();
                    exec.run(&m, &job(seed as u64 + 10), &mut |_, _| {}, &cancel)
                        .map_err(|e| e.to_string())?;
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                }
                exec.profile_models(true);
                let t = Instant::now();
                for seed in 0..jobs {
                    exec.run(&m, &job(seed as u64 + 10), &mut |_, _| {}, &cancel)
                        .map_err(|e| e.to_string())?;
                }
                let profiled = t.elapsed().as_secs_f64() * 1e3 / jobs as f64;
                let model = exec.model_seconds() * 1e3 / jobs as f64;
                exec.profile_models(false);
                times.sort_by(f64::total_cmp);
                let mean = times.iter().sum::<f64>() / times.len() as f64;
                rows.push(serde_json::json!({
                    "workflow": name, "jobs": jobs, "mean_ms": mean, "p50_ms": times[times.len() / 2],
                    "model_ms": model, "overhead_ms": profiled - model,
                    "output_sha256": hex::encode(havn_mesh_common::sha256(&first)),
                }));
            }
            if json {
                println!("{}", serde_json::json!({"device": device, "rows": rows}));
            } else {
                println!("device: {device}");
                println!(
                    "{:<14} {:>5} {:>10} {:>10} {:>10} {:>12}",
                    "workflow", "jobs", "mean ms", "p50 ms", "model ms", "overhead ms"
                );
                for r in &rows {
                    println!(
                        "{:<14} {:>5} {:>10.3} {:>10.3} {:>10.3} {:>12.3}",
                        r["workflow"].as_str().unwrap_or(""),
                        r["jobs"],
                        r["mean_ms"].as_f64().unwrap_or(0.0),
                        r["p50_ms"].as_f64().unwrap_or(0.0),
                        r["model_ms"].as_f64().unwrap_or(0.0),
                        r["overhead_ms"].as_f64().unwrap_or(0.0)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The example workflows in a models folder (every `*.json` but the index).
fn example_names(models: &Path) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = std::fs::read_dir(models)
        .map_err(|e| format!("cannot read {}: {e} (run `make models`)", models.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .filter(|n| n != "index")
        .collect();
    names.sort();
    Ok(names)
}
