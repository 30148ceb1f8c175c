//! `havn-validator`: see `havn-validator --help` and `mesh/deploy/validator.example.toml`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use havn_mesh_common::operators::{FileOperators, OperatorSet};
use havn_mesh_common::service;
use havn_validator::{Validator, ValidatorConfig};

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
        // The operator set: from the staking contract when the chain names one, else the file.
        let from_chain = match &cfg.chain {
            Some(chain) => match chain.join_as_operator(&cfg.operator).await {
                Ok(set) => set,
                Err(e) => {
                    eprintln!("havn-validator: {e}");
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        };
        let operators: Arc<dyn OperatorSet> = match from_chain {
            Some(set) => set,
            None => match FileOperators::load(&cfg.operators_file) {
                Ok(o) => Arc::new(o),
                Err(e) => {
                    eprintln!("havn-validator: {e}");
                    return ExitCode::from(2);
                }
            },
        };
        let executors = match havn_runtime::executors(&cfg.cache_dir, &cfg.torch) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("havn-validator: {e}");
                return ExitCode::from(2);
            }
        };
        // With an execution log: challenge on chain, and draw with seeds committed there.
        let master = Validator::seed_master(&cfg, &key);
        let challenger = match cfg.chain.as_ref().filter(|c| !c.execution_log.is_empty()) {
            Some(chain) => match (chain.connect().await, chain.connect().await) {
                (Ok((client, wallet)), Ok((seed_client, seed_wallet))) => Some((
                    havn_validator::Challenger {
                        client,
                        wallet,
                        execution_log: chain.execution_log.clone(),
                    },
                    havn_validator::seeds::Seeds::new(
                        seed_client,
                        seed_wallet,
                        chain.execution_log.clone(),
                        master,
                    ),
                )),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("havn-validator: {e}");
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        };
        let validator = match Validator::new(cfg, key, operators, executors) {
            Ok(v) => match challenger {
                Some((c, seeds)) => v.with_challenger(c).with_seeds(seeds),
                None => v,
            },
            Err(e) => {
                eprintln!("havn-validator: {e}");
                return ExitCode::from(2);
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
