//! `havn-validator`: see `havn-validator --help` and `mesh/deploy/validator.example.toml`.

use clap::Parser;
use havn_mesh_common::service;
use havn_validator::{StartError, Validator, ValidatorConfig};
use std::path::PathBuf;
use std::process::ExitCode;

/// Havn's validator: checks node results and signs attestations.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file; every key can be overridden by HAVN_VALIDATOR_<KEY>.
    #[arg(long, short, env = "HAVN_VALIDATOR_CONFIG")]
    config: Option<PathBuf>,
    /// Write a new random key to this file (mode 0600), print its public key and exit.
    #[arg(long, value_name = "FILE")]
    init_key: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = args.init_key {
        return service::init_key_command("havn-validator", &path);
    }
    let cfg: ValidatorConfig =
        match havn_mesh_common::config::load(args.config.as_deref(), "HAVN_VALIDATOR") {
            Ok(c) => c,
            Err(e) => {
                eprintln!("havn-validator: {e}");
                return ExitCode::from(2);
            }
        };
    service::init_logging(cfg.log_json);
    let key = match cfg.key() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("havn-validator: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("havn-validator: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let executors = match havn_runtime::executors(&cfg.cache_dir, &cfg.torch) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("havn-validator: {e}");
                return ExitCode::from(2);
            }
        };
        let validator = match Validator::start(cfg, key, executors).await {
            Ok(v) => v,
            Err(e) => {
                eprintln!("havn-validator: {e}");
                return match e {
                    StartError::Config(_) => ExitCode::from(2),
                    StartError::Chain(_) => ExitCode::FAILURE,
                };
            }
        };
        service::notify_ready();
        validator
            .run(async {
                service::shutdown_signal().await;
                service::notify_stopping();
            })
            .await;
        ExitCode::SUCCESS
    })
}
