//! `havn-devnet`: see `havn-devnet --help` and docs/devnet.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use havn_devnet::{server, spawn_chain, Chain, ChainOptions, Genesis};
use havn_mesh_common::service;

/// Havn's development chain: the Cosmos gRPC API over the contracts' real wasm, one process, one
/// validator, no consensus. For local runs and CI only; never production.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Genesis file (JSON): chain id, accounts and balances, codes to store. See
    /// mesh/devnet/genesis.example.json.
    #[arg(long, env = "HAVN_DEVNET_GENESIS")]
    genesis: PathBuf,
    /// Where the gRPC API listens (port 0: any free port, printed at start).
    #[arg(long, env = "HAVN_DEVNET_LISTEN", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// State file: resumed from when it exists, written after every block with txs and on exit.
    #[arg(long, env = "HAVN_DEVNET_SNAPSHOT")]
    snapshot: Option<PathBuf>,
    /// Block interval in milliseconds (the genesis file's `block_time_ms` when absent).
    #[arg(long, env = "HAVN_DEVNET_BLOCK_TIME_MS")]
    block_time_ms: Option<u64>,
    /// Logs as JSON lines.
    #[arg(long, env = "HAVN_DEVNET_LOG_JSON")]
    log_json: bool,
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args = Args::parse();
    service::init_logging(args.log_json);
    let genesis = match Genesis::load(&args.genesis) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("havn-devnet: {e}");
            return ExitCode::from(2);
        }
    };
    let block_time =
        Duration::from_millis(args.block_time_ms.unwrap_or(genesis.block_time_ms).max(1));
    let snapshot = args.snapshot.clone();
    let resume = snapshot.as_ref().filter(|p| p.exists()).cloned();
    let chain_id = genesis.chain_id.clone();
    let build = move || -> Result<Chain, String> {
        match resume {
            Some(path) => {
                let chain = Chain::load_snapshot(&path)?;
                if chain.chain_id() != genesis.chain_id {
                    return Err(format!(
                        "snapshot {} is chain {}, the genesis file says {}; remove one",
                        path.display(),
                        chain.chain_id(),
                        genesis.chain_id
                    ));
                }
                tracing::info!(path = %path.display(), height = chain.block().height, "resumed from snapshot");
                Ok(chain)
            }
            None => Chain::new(genesis),
        }
    };
    let (handle, thread) = match spawn_chain(
        build,
        ChainOptions {
            block_time,
            snapshot,
        },
    ) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("havn-devnet: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("havn-devnet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = server::bind(args.listen).await?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(
            chain_id,
            grpc = %addr,
            block_time_ms = block_time.as_millis() as u64,
            startup_ms = started.elapsed().as_millis() as u64,
            "havn-devnet serving (a development chain: one validator, no consensus)"
        );
        // One plain line for scripts waiting on the port.
        println!("havn-devnet listening on {addr}");
        service::notify_ready();
        server::serve(handle, listener, service::shutdown_signal()).await
    });
    // The gRPC services held the last handles; the chain thread saves its snapshot and ends.
    let _ = thread.join();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("havn-devnet: {e}");
            ExitCode::FAILURE
        }
    }
}
