//! `havn-router`: see `havn-router --help` and `mesh/deploy/router.example.toml`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use havn_mesh_common::operators::{FileOperators, OperatorSet};
use havn_mesh_common::service;
use havn_router::{Router, RouterConfig};

/// Havn's router: takes jobs from callers, leases them to staked nodes, gathers validator
/// attestations into settlement batches.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file; every key can be overridden by HAVN_ROUTER_<KEY>.
    #[arg(long, short, env = "HAVN_ROUTER_CONFIG")]
    config: Option<PathBuf>,
    /// Store a file in the artifact store (a workflow manifest or an input) and print its hash.
    #[arg(long, value_name = "FILE")]
    add_artifact: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg: RouterConfig =
        match havn_mesh_common::config::load(args.config.as_deref(), "HAVN_ROUTER") {
            Ok(c) => c,
            Err(e) => {
                eprintln!("havn-router: {e}");
                return ExitCode::from(2);
            }
        };
    service::init_logging(cfg.log_json);
    if !args.add_artifact.is_empty() {
        return add_artifacts(&cfg, &args.add_artifact);
    }
    // The operator set comes from the staking contract when the chain names one.
    let file_operators = if cfg.chain.as_ref().is_some_and(|c| !c.staking.is_empty()) {
        None
    } else {
        match FileOperators::load(&cfg.operators_file) {
            Ok(o) => Some(o),
            Err(e) => {
                eprintln!("havn-router: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("havn-router: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let mut operators: Option<Arc<dyn OperatorSet>> =
            file_operators.map(|o| Arc::new(o) as Arc<dyn OperatorSet>);
        let mut quorum_source = None;
        let settlement: Arc<dyn havn_router::settlement::Settlement> = match &cfg.chain {
            Some(chain) => {
                let (client, wallet) = chain.connect().await.map_err(|e| e.to_string())?;
                havn_router::chain::check_deployment(&client, &cfg.chain_id, &cfg.execution_log)
                    .await?;
                quorum_source = Some((
                    client.clone(),
                    std::time::Duration::from_millis(chain.operators_refresh_ms),
                ));
                tracing::info!(chain_id = client.chain_id(), relayer = %wallet.address(), "settling on chain");
                if let Some(set) = chain.operators(&client).await.map_err(|e| e.to_string())? {
                    tracing::info!(staking = chain.staking, "operator set from the staking contract");
                    operators = Some(set);
                }
                let settlement = Arc::new(havn_router::chain::ChainSettlement::new(
                    client,
                    wallet,
                    cfg.execution_log.clone(),
                    chain.staking.clone(),
                ));
                tokio::spawn(
                    settlement
                        .clone()
                        .finalize_loop(std::time::Duration::from_millis(500)),
                );
                settlement
            }
            None => Arc::new(havn_router::settlement::StoredOnly),
        };
        let operators = operators.ok_or("no operator set")?;
        let execution_log = cfg.execution_log.clone();
        let router = Router::start_with(cfg, operators, settlement)
            .await
            .map_err(|e| e.to_string())?;
        // The quorum is the execution log's, not the config's, where jobs settle on chain.
        if let Some((client, period)) = quorum_source {
            tokio::spawn(havn_router::chain::follow_quorum(
                client,
                execution_log,
                router.core.clone(),
                period,
            ));
        }
        tracing::info!(addr = %router.addr, metrics = ?router.metrics_addr, "havn-router serving");
        service::notify_ready();
        router
            .run_until(async {
                service::shutdown_signal().await;
                tracing::info!("draining");
                service::notify_stopping();
            })
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("havn-router: {e}");
            ExitCode::FAILURE
        }
    }
}

fn add_artifacts(cfg: &RouterConfig, files: &[PathBuf]) -> ExitCode {
    let store = match havn_mesh_common::artifacts::ArtifactDir::open(&cfg.artifacts_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("havn-router: {e}");
            return ExitCode::FAILURE;
        }
    };
    for f in files {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("havn-router: cannot read {}: {e}", f.display());
                return ExitCode::FAILURE;
            }
        };
        match store.put(&bytes) {
            Ok(hash) => println!("{}  {}", hex::encode(hash), f.display()),
            Err(e) => {
                eprintln!("havn-router: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
