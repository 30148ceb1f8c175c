//! A devnet in the test's process, served over a real socket, and cosmrs wallets funded at genesis.

#![allow(dead_code)]

use std::time::Duration;

use havn_chain::{ChainConfig, Client, Wallet};
use havn_devnet::{server, spawn_chain, Chain, ChainOptions, Genesis, GenesisAccount};
use sha2::{Digest, Sha256};

pub const FEE_DENOM: &str = "uhavn";
pub const START_BALANCE: u128 = 1_000_000_000_000;

pub fn artifact(name: &str) -> Vec<u8> {
    let path = format!("{}/../../artifacts/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run `make wasm`)"))
}

pub fn wallet(name: &str) -> Wallet {
    Wallet::from_secret(&secret(name), "havn").unwrap()
}

/// The secp256k1 key of `wallet(name)`.
pub fn secret(name: &str) -> [u8; 32] {
    Sha256::digest(format!("havn-devnet-test/{name}")).into()
}

pub struct Devnet {
    pub client: Client,
    pub grpc: String,
    pub chain_id: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), String>>>,
}

impl Devnet {
    /// A devnet with `names` funded; `tweak` edits the genesis first.
    pub async fn start(names: &[&str], tweak: impl FnOnce(&mut Genesis)) -> Devnet {
        Self::start_with(names, tweak, None).await
    }

    /// As `start`, resuming from (and saving to) `snapshot` when given.
    pub async fn start_with(
        names: &[&str],
        tweak: impl FnOnce(&mut Genesis),
        snapshot: Option<std::path::PathBuf>,
    ) -> Devnet {
        let mut genesis = Genesis {
            chain_id: "havn-test-1".into(),
            bech32_prefix: "havn".into(),
            fee_denom: FEE_DENOM.into(),
            min_gas_price: "0".into(),
            block_time_ms: 100,
            genesis_time: None,
            accounts: names
                .iter()
                .map(|n| GenesisAccount {
                    address: wallet(n).address().to_string(),
                    coins: vec![cosmwasm_std::coin(START_BALANCE, FEE_DENOM)],
                })
                .collect(),
            codes: vec![],
        };
        tweak(&mut genesis);
        let chain_id = genesis.chain_id.clone();
        let block_time = Duration::from_millis(genesis.block_time_ms);
        let resume = snapshot.clone().filter(|p| p.exists());
        let build = move || match resume {
            Some(path) => Chain::load_snapshot(&path),
            None => Chain::new(genesis),
        };
        let (handle, thread) = spawn_chain(
            build,
            ChainOptions {
                block_time,
                snapshot,
            },
        )
        .unwrap();
        let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let grpc = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(handle, listener, async {
            let _ = stopped.await;
        }));
        let mut cfg = ChainConfig::devnet(grpc.clone());
        cfg.inclusion_timeout = Duration::from_secs(20);
        let client = Client::connect(cfg).await.unwrap();
        Devnet {
            client,
            grpc,
            chain_id,
            stop: Some(stop),
            thread: Some(thread),
            server: Some(server),
        }
    }

    /// A client with another fee setting.
    pub async fn client_with(&self, f: impl FnOnce(&mut ChainConfig)) -> Client {
        let mut cfg = self.client.config().clone();
        f(&mut cfg);
        Client::connect(cfg).await.unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(s) = self.server.take() {
            s.await.unwrap().unwrap();
        }
        // The client's channel holds no chain handle; the server's are gone: the thread ends.
        if let Some(t) = self.thread.take() {
            tokio::task::spawn_blocking(move || t.join().unwrap())
                .await
                .unwrap();
        }
    }
}

/// A havnd chain (chain/havnd, CometBFT + x/wasm) with `names` funded, as its own process in a
/// temporary home; stopped on drop. Needs `make havnd` (the binary next to the test binaries).
pub struct Havnd {
    pub client: Client,
    pub grpc: String,
    child: std::process::Child,
    _home: tempfile::TempDir,
}

impl Havnd {
    /// Gas is free (min gas price 0), as on the devnet the tests start.
    pub async fn start(names: &[&str], block_time_ms: u64) -> Havnd {
        Self::start_priced(names, block_time_ms, "0").await
    }

    /// As `start`, with the validator's min gas price in uhavn (the shipped one is 0.025).
    pub async fn start_priced(names: &[&str], block_time_ms: u64, min_gas_price: &str) -> Havnd {
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().and_then(|d| d.parent()).unwrap().join("havnd");
        assert!(
            bin.exists(),
            "{} is missing: run `make havnd`",
            bin.display()
        );
        let home = tempfile::tempdir().unwrap();
        let accounts: Vec<String> = names
            .iter()
            .map(|n| wallet(n).address().to_string())
            .collect();
        let opts = havn_chain::havnd::Options {
            chain_id: "havn-test-1".into(),
            min_gas_price: format!("{min_gas_price}{FEE_DENOM}"),
            block_time_ms,
        };
        let endpoints = havn_chain::havnd::init(
            &bin,
            home.path(),
            &opts,
            &accounts,
            &format!("{START_BALANCE}{FEE_DENOM}"),
        )
        .unwrap();
        let log = std::fs::File::create(home.path().join("havnd.log")).unwrap();
        let child = std::process::Command::new(&bin)
            .args(["start", "--home"])
            .arg(home.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let grpc = endpoints.grpc;
        let mut cfg = ChainConfig::devnet(grpc.clone());
        cfg.inclusion_timeout = Duration::from_secs(20);
        let start = std::time::Instant::now();
        let client = loop {
            if let Ok(c) = Client::connect(cfg.clone()).await {
                if c.latest_height().await.unwrap_or(0) >= 2 {
                    break c;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "havnd did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Havnd {
            client,
            grpc,
            child,
            _home: home,
        }
    }
}

impl Drop for Havnd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
