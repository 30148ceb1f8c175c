//! `havn-node`: see `havn-node --help` and `mesh/deploy/node.example.toml`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use havn_mesh_common::service;
use havn_node::{Node, NodeConfig};

/// Havn's node agent: serves jobs from routers with its staked key.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file; every key can be overridden by HAVN_NODE_<KEY>.
    #[arg(long, short, env = "HAVN_NODE_CONFIG")]
    config: Option<PathBuf>,
    /// Write a new random key to this file (mode 0600), print its public key and exit.
    #[arg(long, value_name = "FILE")]
    init_key: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = args.init_key {
        return service::init_key_command("havn-node", &path);
    }
    let cfg: NodeConfig = match havn_mesh_common::config::load(args.config.as_deref(), "HAVN_NODE")
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("havn-node: {e}");
            return ExitCode::from(2);
        }
    };
    service::init_logging(cfg.log_json);
    let key = match cfg.key() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("havn-node: {e}");
            return ExitCode::from(2);
        }
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if cfg.threads > 0 {
        runtime.max_blocking_threads(cfg.threads);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("havn-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let executors = match havn_runtime::executors(&cfg.cache_dir, &cfg.torch) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("havn-node: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let node = match Node::start(cfg, key, executors).await {
            Ok(n) => n,
            Err(e @ havn_node::StartError::Config(_)) => {
                eprintln!("havn-node: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("havn-node: {e}");
                return ExitCode::FAILURE;
            }
        };
        service::notify_ready();
        node.run(async {
            service::shutdown_signal().await;
            service::notify_stopping();
        })
        .await;
        ExitCode::SUCCESS
    })
}
