//! `havn network up`: the whole network on this machine, every part its own process, talking
//! only over sockets: the chain (`havn-devnet`, or `havnd` with `--chain havnd`), `havn-router`, one `havn-node` and four
//! `havn-validator`s, configured the way an operator configures them (TOML files, 0600 key files,
//! a `[chain]` section). This process deploys Havn through the chain's gRPC API, bonds the
//! operators, publishes the example workflow and, for the demo, runs one job as a caller would
//! and shows who got paid.
//!
//! Everything lives in one directory (default `target/network`): `genesis.json`, `keys/`,
//! `*.toml`, `logs/*.log`, and `config.toml` for the CLI (`havn --config target/network/config.toml
//! run 2 --input "…" --from caller`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cosmwasm_std::Uint128;
use havn_chain::havn::{self, Deployment};
use havn_chain::{ChainConfig, Client};
use havn_devnet::{Genesis, GenesisAccount};
use havn_staking::state::Role;
use havn_workflow_registry::msg::{ArtifactKind, DependencyMsg, DependencyTarget, PublishMsg};
use serde::Serialize;

use crate::{CliError, KeyStore};

/// Which chain the network runs on; everything but how it starts is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ChainKind {
    /// `havn-devnet`: our single-process chain, the fast default.
    #[default]
    Devnet,
    /// `havnd`: CometBFT + Cosmos SDK + x/wasm (chain/havnd), one validator.
    Havnd,
}

impl ChainKind {
    pub fn binary(self) -> &'static str {
        match self {
            ChainKind::Devnet => "havn-devnet",
            ChainKind::Havnd => "havnd",
        }
    }
}

pub const CHAIN_ID: &str = "havn-local-1";
/// Every genesis account's uhavn, for fees.
const GENESIS_UHAVN: u128 = 1_000_000_000_000;
/// Block time on both chains (havnd: CometBFT's `timeout_commit`).
const BLOCK_TIME_MS: u64 = 200;

/// 1 $HAI in uhai.
pub const HAI: u128 = 1_000_000;
/// The example workflow's price per run.
pub const PRICE: u128 = 50 * HAI;
pub const VALIDATORS: usize = 4;
/// Both chains' minimum gas price, in uhavn per gas.
const GAS_PRICE: f64 = 0.025;
/// Short, so the demo shows heartbeats: one is due every half window.
const DOWNTIME_WINDOW_S: u64 = 10;
const MARKER: &str = ".havn-network";

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::Input(e.to_string())
}

/// Everyone with an account; operators also have an attestation key (`NAME-operator`).
fn accounts() -> Vec<String> {
    [
        "deployer",
        "relayer",
        "creator",
        "upstream-a",
        "lora-artist",
        "caller",
        "node",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain((0..VALIDATORS).map(|i| format!("validator-{i}")))
    .collect()
}

fn operators() -> Vec<String> {
    std::iter::once("node".to_string())
        .chain((0..VALIDATORS).map(|i| format!("validator-{i}")))
        .collect()
}

/// One daemon, how it was started, and its log.
struct Proc {
    name: String,
    bin: String,
    args: Vec<String>,
    child: Child,
    log: PathBuf,
}

/// A running network. Dropping it stops every process (SIGTERM, then SIGKILL after 10 s).
pub struct Network {
    pub dir: PathBuf,
    pub chain: ChainKind,
    pub grpc: String,
    /// havnd's CometBFT RPC (the devnet serves gRPC only).
    pub rpc: Option<String>,
    pub router: String,
    router_metrics: String,
    pub client: Client,
    pub deployment: Deployment,
    pub keys: KeyStore,
    /// The example text-to-image workflow, and the upstream workflow it builds on.
    pub workflow_id: u64,
    pub upstream_id: u64,
    /// Each operator's last heartbeat when it bonded (unix seconds): later ones are its daemon's.
    bonded_at: Vec<(String, u64)>,
    procs: Procs,
}

/// Where the daemons' binaries are: next to this executable (one cargo target dir; a test
/// binary sits one level down, in `deps/`), else PATH.
fn find_bin(bin_dir: &Path, name: &str) -> Result<PathBuf, CliError> {
    let beside = [
        Some(bin_dir),
        bin_dir.parent().filter(|_| bin_dir.ends_with("deps")),
    ];
    if let Some(here) = beside
        .into_iter()
        .flatten()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
    {
        return Ok(here);
    }
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            let how = if name == "havnd" {
                "make havnd".to_string()
            } else {
                format!("cargo build -p {name}")
            };
            CliError::Input(format!(
                "{name} not found next to havn ({}) or on PATH: build it with `{how}`",
                bin_dir.display()
            ))
        })
}

fn free_port() -> Result<u16, CliError> {
    havn_chain::havnd::free_port().map_err(err)
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| err(format!("cannot write {}: {e}", path.display())))
}

/// The LoRA (hex sha256) the example manifest merges into its UNet.
fn example_lora(manifest: &[u8]) -> Result<String, CliError> {
    let m = havn_workflow::check(manifest).map_err(|e| err(e.to_string()))?;
    let p = havn_workflow::TorchPipeline::from_manifest(&m).map_err(|e| err(e.to_string()))?;
    p.loras
        .values()
        .flatten()
        .next()
        .map(|l| l.file.to_ascii_lowercase())
        .ok_or_else(|| err("the text-to-image example applies no LoRA (run `make models`)"))
}

fn toml_of<T: Serialize>(v: &T) -> Result<String, CliError> {
    toml::to_string(v).map_err(err)
}

/// Empties `dir` if it is a network directory from an earlier run (never anything else).
fn fresh_dir(dir: &Path) -> Result<(), CliError> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(err)?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            return Err(err(format!(
                "{} exists and is not a havn network directory; pick another --dir",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir).map_err(err)?;
    }
    for sub in ["keys", "logs"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(err)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir.join("keys"), std::fs::Permissions::from_mode(0o700));
    }
    write(
        &dir.join(MARKER),
        "made by `havn network up`; deleted by the next one\n",
    )
}

impl Network {
    /// Starts everything; `step` hears what is happening.
    pub async fn up(
        dir: &Path,
        chain: ChainKind,
        step: impl FnMut(&str),
    ) -> Result<Network, CliError> {
        Self::up_with(dir, chain, &[], step).await
    }

    /// As `up`, except that the operators named in `run_here` (`node`, `validator-N`) are bonded
    /// and configured (`DIR/NAME.toml`) but not started: the caller runs their daemons itself,
    /// as a test does to put a cheating node or validator into a real network.
    pub async fn up_with(
        dir: &Path,
        chain: ChainKind,
        run_here: &[&str],
        mut step: impl FnMut(&str),
    ) -> Result<Network, CliError> {
        let example = havn_workflow::examples::load(&havn_workflow::examples::dir())?
            .into_iter()
            .find(|e| e.name == "text-to-image")
            .ok_or_else(|| err("the text-to-image example is missing (run `make models`)"))?;
        let bin_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        for bin in [chain.binary(), "havn-router", "havn-node", "havn-validator"] {
            find_bin(&bin_dir, bin)?;
        }
        fresh_dir(dir)?;
        let dir = dir.canonicalize().map_err(err)?;
        let keys = KeyStore::new(&dir.join("keys"), "havn");
        for name in accounts() {
            keys.add(&name, &crate::new_mnemonic())?;
        }
        for name in operators() {
            keys.add(&format!("{name}-operator"), &crate::new_mnemonic())?;
        }

        // 1. The chain.
        let addresses = accounts()
            .iter()
            .map(|n| Ok(keys.get(n)?.address().to_string()))
            .collect::<Result<Vec<_>, CliError>>()?;
        let mut procs = Procs {
            dir: dir.clone(),
            bin_dir,
            list: vec![],
        };
        let (grpc, rpc) = match chain {
            ChainKind::Devnet => (procs.start_devnet(&addresses)?, None),
            ChainKind::Havnd => {
                let home = dir.join("havnd");
                let e = havn_chain::havnd::init(
                    &find_bin(&procs.bin_dir, "havnd")?,
                    &home,
                    &havn_chain::havnd::Options {
                        chain_id: CHAIN_ID.into(),
                        min_gas_price: format!("{GAS_PRICE}uhavn"),
                        block_time_ms: BLOCK_TIME_MS,
                    },
                    &addresses,
                    &format!("{GENESIS_UHAVN}uhavn"),
                )
                .map_err(err)?;
                procs.spawn(
                    "havnd",
                    "havnd",
                    &["start", "--home", &home.display().to_string()],
                )?;
                (e.grpc, Some(e.rpc))
            }
        };
        let client = procs.wait_for_chain(&grpc).await?;
        let mut net = Network {
            dir: dir.clone(),
            chain,
            grpc: grpc.clone(),
            rpc: rpc.clone(),
            router: String::new(),
            router_metrics: String::new(),
            client,
            deployment: Deployment {
                token: String::new(),
                registry: String::new(),
                staking: String::new(),
                payout: String::new(),
                log: String::new(),
                governance: String::new(),
            },
            keys,
            workflow_id: 0,
            upstream_id: 0,
            bonded_at: vec![],
            procs,
        };
        step(&format!(
            "chain {} up at {grpc} ({}, pid {}{})",
            net.client.chain_id(),
            chain.binary(),
            net.procs.list[0].child.id(),
            rpc.map(|r| format!("; CometBFT RPC {r}"))
                .unwrap_or_default()
        ));

        // 2. Havn on it.
        let deployer = net.keys.get("deployer")?;
        let balances = accounts()
            .iter()
            .map(|n| Ok((net.keys.get(n)?.address().to_string(), 10_000 * HAI)))
            .collect::<Result<_, CliError>>()?;
        net.deployment = havn::deploy(
            &net.client,
            &deployer,
            &artifacts_dir(),
            havn::DeployOptions {
                balances,
                staking: havn_staking::state::Params {
                    min_stake_node: Uint128::new(1_000 * HAI),
                    min_stake_validator: Uint128::new(1_000 * HAI),
                    downtime_window: DOWNTIME_WINDOW_S,
                    ..Default::default()
                },
                log: Default::default(),
                payout: Default::default(),
                governance: Default::default(),
            },
        )
        .await?;
        step("deployed $HAI (cw20-base), registry, staking, payout, execution log and governance from their wasm; governance is admin and treasury");
        for name in operators() {
            let role = if name == "node" {
                Role::Node
            } else {
                Role::Validator
            };
            let key =
                havn_mesh_common::keys::load_mnemonic(&net.keys.file(&format!("{name}-operator"))?)
                    .map_err(err)?;
            net.deployment
                .bond(
                    &net.client,
                    &net.keys.get(&name)?,
                    role,
                    1_000 * HAI,
                    Some(&key),
                )
                .await?;
        }
        for name in operators() {
            let at = net.last_heartbeat(&name).await?;
            net.bonded_at.push((name, at));
        }
        step(&format!(
            "bonded 1 node and {VALIDATORS} validators, each with its attestation key's proof of possession"
        ));

        // 3. The example workflow, built on another creator's workflow and an external LoRA.
        let d = net.deployment.clone();
        net.upstream_id = d
            .publish(
                &net.client,
                &net.keys.get("upstream-a")?,
                PublishMsg {
                    name: "base-diffusion".into(),
                    content_hash: crate::hex_sha256(b"base-diffusion (example upstream)"),
                    price: Uint128::new(10 * HAI),
                    split: None,
                    dependencies: vec![],
                    parent: None,
                    artifacts: vec![],
                    metadata: None,
                    // No manifest (it is never run): a placeholder that resembles nothing.
                    fingerprint: Some(havn_types::fingerprint::placeholder("base-diffusion")),
                },
            )
            .await?;
        // The LoRA the manifest merges into its UNet belongs to another creator, who registers
        // it: the registry then refuses any version that uses it without crediting its owner.
        let lora_hash = example_lora(&example.manifest)?;
        let artist = net.keys.get("lora-artist")?;
        net.client
            .execute(
                &artist,
                &d.registry,
                &havn_workflow_registry::msg::ExecuteMsg::RegisterAsset {
                    kind: ArtifactKind::Lora,
                    content_hash: lora_hash.clone(),
                    payee: Some(artist.address().to_string()),
                },
                &[],
            )
            .await?;
        let lora = DependencyTarget::Artifact {
            kind: ArtifactKind::Lora,
            content_hash: lora_hash.clone(),
            payee: artist.address().to_string(),
        };
        // Its modules are recorded for the version: the node refuses any other set.
        let checked = crate::check_manifest(&example.manifest)?;
        let content_hash = checked.content_hash;
        net.workflow_id = d
            .publish(
                &net.client,
                &net.keys.get("creator")?,
                PublishMsg {
                    name: "watercolor-portraits".into(),
                    content_hash: content_hash.clone(),
                    price: Uint128::new(PRICE),
                    split: None,
                    dependencies: vec![
                        DependencyMsg {
                            target: DependencyTarget::Workflow {
                                id: net.upstream_id,
                            },
                            weight_bps: 5_000,
                        },
                        DependencyMsg {
                            target: lora,
                            weight_bps: 5_000,
                        },
                    ],
                    parent: None,
                    artifacts: checked.artifacts,
                    metadata: None,
                    fingerprint: Some(checked.fingerprint),
                },
            )
            .await?;
        step(&format!(
            "upstream-a published workflow {}; lora-artist registered LoRA {}…; creator published workflow {} (text-to-image, manifest {}…) on both",
            net.upstream_id,
            &lora_hash[..16],
            net.workflow_id,
            &content_hash[..16]
        ));

        // 4. The mesh, configured as operators configure it.
        net.start_mesh(&example.manifest, run_here).await?;
        step(&format!(
            "havn-router at {} (operator set from the staking contract), 1 havn-node and {VALIDATORS} havn-validator processes connected; logs in {}",
            net.router,
            dir.join("logs").display()
        ));
        net.write_cli_config()?;
        Ok(net)
    }

    fn chain_section(&self, key: &str) -> Result<toml::Value, CliError> {
        Ok(toml::Value::Table(
            [
                ("grpc", toml::Value::from(self.grpc.clone())),
                (
                    "key_file",
                    toml::Value::from(self.keys.file(key)?.display().to_string()),
                ),
                ("gas_price", toml::Value::from(GAS_PRICE)),
                (
                    "staking",
                    toml::Value::from(self.deployment.staking.clone()),
                ),
                ("operators_refresh_ms", toml::Value::from(2_000)),
                // Validators post their re-executed Invalid verdicts here themselves.
                (
                    "execution_log",
                    toml::Value::from(self.deployment.log.clone()),
                ),
                // The node checks each job's manifest against its version's record here.
                (
                    "registry",
                    toml::Value::from(self.deployment.registry.clone()),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ))
    }

    async fn start_mesh(&mut self, manifest: &[u8], run_here: &[&str]) -> Result<(), CliError> {
        let (port, metrics) = (free_port()?, free_port()?);
        self.router = format!("http://127.0.0.1:{port}");
        self.router_metrics = format!("127.0.0.1:{metrics}");
        let router_dir = self.dir.join("router");
        // The manifest and its modules, served to the node and validators by hash.
        let store = havn_mesh_common::artifacts::ArtifactDir::open(&router_dir.join("artifacts"))
            .map_err(err)?;
        store.put(manifest).map_err(err)?;
        havn_workflow::examples::publish(&havn_workflow::examples::dir(), &store)?;
        let mut t = toml::map::Map::new();
        t.insert("settlement_interval_ms".into(), 200.into());
        t.insert("listen".into(), format!("127.0.0.1:{port}").into());
        t.insert("metrics_listen".into(), self.router_metrics.clone().into());
        t.insert("data_dir".into(), router_dir.display().to_string().into());
        t.insert(
            "artifacts_dir".into(),
            router_dir.join("artifacts").display().to_string().into(),
        );
        t.insert("chain_id".into(), self.client.chain_id().into());
        t.insert("execution_log".into(), self.deployment.log.clone().into());
        t.insert("chain".into(), self.chain_section("relayer")?);
        let path = self.dir.join("router.toml");
        write(&path, &toml_of(&toml::Value::Table(t))?)?;
        self.procs.spawn(
            "router",
            "havn-router",
            &["--config", &path.display().to_string()],
        )?;

        for name in operators() {
            let mut cfg = toml::map::Map::new();
            cfg.insert("routers".into(), vec![self.router.clone()].into());
            cfg.insert(
                "operator".into(),
                self.keys.get(&name)?.address().to_string().into(),
            );
            cfg.insert(
                "mnemonic_file".into(),
                self.keys
                    .file(&format!("{name}-operator"))?
                    .display()
                    .to_string()
                    .into(),
            );
            cfg.insert(
                "cache_dir".into(),
                self.dir.join(&name).display().to_string().into(),
            );
            cfg.insert("chain".into(), self.chain_section(&name)?);
            let path = self.dir.join(format!("{name}.toml"));
            write(&path, &toml_of(&toml::Value::Table(cfg))?)?;
            if run_here.contains(&name.as_str()) {
                continue;
            }
            let bin = if name == "node" {
                "havn-node"
            } else {
                "havn-validator"
            };
            self.procs
                .spawn(&name, bin, &["--config", &path.display().to_string()])?;
        }
        let nodes = usize::from(!run_here.contains(&"node"));
        let validators = VALIDATORS - run_here.iter().filter(|n| **n != "node").count();
        self.wait_connected(nodes, validators).await
    }

    /// Until the router has `nodes` nodes and `validators` validators connected (two minutes at
    /// most).
    pub async fn wait_connected(
        &mut self,
        nodes: usize,
        validators: usize,
    ) -> Result<(), CliError> {
        let start = Instant::now();
        loop {
            self.procs.check_alive()?;
            if let Ok(text) = http_get(&self.router_metrics).await {
                let gauge = |name: &str| {
                    text.lines()
                        .find(|l| l.starts_with(name))
                        .and_then(|l| l.split_whitespace().last())
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(0.0)
                };
                if gauge("havn_router_nodes_connected") >= nodes as f64
                    && gauge("havn_router_validators_connected") >= validators as f64
                {
                    return Ok(());
                }
            }
            if start.elapsed() > Duration::from_secs(120) {
                return Err(err(format!(
                    "the node and validators did not connect to the router within 120 s (see {})",
                    self.dir.join("logs").display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The CLI's config for this network: `havn --config DIR/config.toml …`.
    fn write_cli_config(&self) -> Result<(), CliError> {
        let cfg = crate::Config {
            grpc: self.grpc.clone(),
            gas_price: GAS_PRICE,
            keys_dir: self.dir.join("keys"),
            router: self.router.clone(),
            contracts: (&self.deployment).into(),
            ..crate::Config::default()
        };
        write(&self.dir.join("config.toml"), &toml_of(&cfg)?)
    }

    async fn last_heartbeat(&self, name: &str) -> Result<u64, CliError> {
        let o: havn_staking::msg::OperatorResponse = self
            .client
            .smart(
                &self.deployment.staking,
                &havn_staking::msg::QueryMsg::Operator {
                    address: self.keys.get(name)?.address().to_string(),
                },
            )
            .await?;
        Ok(o.last_heartbeat.seconds())
    }

    /// The daemons' pids by name.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.procs
            .list
            .iter()
            .map(|p| (p.name.clone(), p.child.id()))
            .collect()
    }

    /// Stops every daemon (also done on drop).
    pub fn stop(&mut self) {
        self.procs.stop();
    }

    /// Stops the one daemon `name` (`node`, `validator-N`) as `stop` does, leaving the rest
    /// running: a test then runs another in its place.
    pub fn stop_daemon(&mut self, name: &str) -> Result<(), CliError> {
        let i = self
            .procs
            .list
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| err(format!("no daemon {name:?} is running")))?;
        Procs::stop_one(self.procs.list.remove(i));
        Ok(())
    }

    pub fn check_alive(&mut self) -> Result<(), CliError> {
        self.procs.check_alive()
    }

    /// Crashes the chain: SIGKILL, no shutdown (what a power cut does). Its pid.
    pub fn kill_chain(&mut self) -> Result<u32, CliError> {
        let chain = &mut self.procs.list[0];
        let pid = chain.child.id();
        chain.child.kill().map_err(err)?;
        chain.child.wait().map_err(err)?;
        Ok(pid)
    }

    /// Starts the chain again as it was started (same home, ports and data), once it has
    /// been killed; returns when it serves gRPC again. Its new pid.
    pub async fn restart_chain(&mut self) -> Result<u32, CliError> {
        let (bin, args, log) = {
            let p = &self.procs.list[0];
            (p.bin.clone(), p.args.clone(), p.log.clone())
        };
        let child = self.procs.start(&bin, &args, &log)?;
        let pid = child.id();
        self.procs.list[0].child = child;
        let client = self.procs.wait_for_chain(&self.grpc).await?;
        // Until it commits a new block, a restarted SDK node's queries have no block time
        // (wasmd's smart queries panic on it). CometBFT stores a block before the app commits
        // it: wait for two.
        let resumed = client.latest_height().await?;
        let start = Instant::now();
        while client.latest_height().await? < resumed + 2 {
            self.procs.check_alive()?;
            if start.elapsed() > Duration::from_secs(60) {
                return Err(err("the restarted chain made no block within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.client = client;
        Ok(pid)
    }
}

/// The daemons, in start order.
struct Procs {
    dir: PathBuf,
    bin_dir: PathBuf,
    list: Vec<Proc>,
}

impl Procs {
    /// Writes the devnet's genesis and starts it; its gRPC endpoint.
    fn start_devnet(&mut self, addresses: &[String]) -> Result<String, CliError> {
        let genesis = Genesis {
            chain_id: CHAIN_ID.into(),
            bech32_prefix: "havn".into(),
            fee_denom: "uhavn".into(),
            min_gas_price: GAS_PRICE.to_string(),
            block_time_ms: BLOCK_TIME_MS,
            genesis_time: None,
            accounts: addresses
                .iter()
                .map(|a| GenesisAccount {
                    address: a.clone(),
                    coins: vec![cosmwasm_std::coin(GENESIS_UHAVN, "uhavn")],
                })
                .collect(),
            codes: vec![],
        };
        let path = self.dir.join("genesis.json");
        write(&path, &serde_json::to_string_pretty(&genesis).map_err(err)?)?;
        let listen = format!("127.0.0.1:{}", free_port()?);
        self.spawn(
            "devnet",
            "havn-devnet",
            &[
                "--genesis",
                &path.display().to_string(),
                "--listen",
                &listen,
                "--snapshot",
                &self.dir.join("devnet.snapshot").display().to_string(),
            ],
        )?;
        Ok(format!("http://{listen}"))
    }

    fn spawn(&mut self, name: &str, bin: &str, args: &[&str]) -> Result<(), CliError> {
        let log = self.dir.join("logs").join(format!("{name}.log"));
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let child = self.start(bin, &args, &log)?;
        self.list.push(Proc {
            name: name.to_string(),
            bin: bin.to_string(),
            args,
            child,
            log,
        });
        Ok(())
    }

    /// Starts `bin`, appending to `log`.
    fn start(&self, bin: &str, args: &[String], log: &Path) -> Result<Child, CliError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(err)?;
        let mut cmd = Command::new(find_bin(&self.bin_dir, bin)?);
        cmd.args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(err)?)
            .stderr(file);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        // Its own process group: Ctrl-C reaches `havn` only, which stops the daemons in order
        // (mesh first, chain last).
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        cmd.spawn()
            .map_err(|e| err(format!("cannot start {bin}: {e}")))
    }

    /// An error naming the first daemon that exited, with the last line of its log.
    pub fn check_alive(&mut self) -> Result<(), CliError> {
        for p in &mut self.list {
            if let Ok(Some(status)) = p.child.try_wait() {
                let last = std::fs::read_to_string(&p.log)
                    .unwrap_or_default()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .to_string();
                return Err(err(format!(
                    "{} exited ({status}): {last} (log: {})",
                    p.name,
                    p.log.display()
                )));
            }
        }
        Ok(())
    }

    async fn wait_for_chain(&mut self, grpc: &str) -> Result<Client, CliError> {
        let start = Instant::now();
        loop {
            self.check_alive()?;
            match Client::connect(ChainConfig {
                gas_price: GAS_PRICE,
                ..ChainConfig::devnet(grpc.to_string())
            })
            .await
            {
                // havnd serves gRPC before its first block; queries need one.
                Ok(c) if c.latest_height().await.unwrap_or(0) >= 1 => return Ok(c),
                Ok(_) if start.elapsed() <= Duration::from_secs(60) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Ok(_) => return Err(err("the chain made no block within 60 s")),
                Err(e) if start.elapsed() > Duration::from_secs(60) => return Err(e.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Stops the daemons: SIGTERM to the mesh, then the chain (which saves its snapshot); a
    /// daemon still running after 10 s is killed.
    pub fn stop(&mut self) {
        while let Some(p) = self.list.pop() {
            Self::stop_one(p);
        }
    }

    /// SIGTERM, then SIGKILL if it still runs after 10 s.
    fn stop_one(mut p: Proc) {
        #[cfg(unix)]
        // SAFETY: kill(2) on a child we spawned and have not reaped.
        unsafe {
            libc::kill(p.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let start = Instant::now();
        while matches!(p.child.try_wait(), Ok(None)) {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = p.child.kill();
                let _ = p.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The contracts' wasm: `$HAVN_ARTIFACTS`, else the workspace's `artifacts/` (`make wasm`).
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("HAVN_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts"))
}

/// A plain HTTP/1.0 GET of `/metrics`.
async fn http_get(addr: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    Ok(body)
}

/// What the demo job did, for printing and for the test.
#[derive(Debug, Serialize)]
pub struct Report {
    pub chain_id: String,
    pub workflow_id: u64,
    pub job_id: u64,
    pub fee: String,
    pub outcome: String,
    pub output: PathBuf,
    pub output_hash: String,
    /// Executor and device the node reported.
    pub runtime: String,
    /// Why each validator found it valid (the tolerance-ladder rung).
    pub verdicts: Vec<String>,
    pub record: Record,
    /// Every party's $HAI before and after claiming, and what the payout contract credited it.
    pub earnings: Vec<Earning>,
    /// Operators whose daemon's heartbeat reached the staking contract.
    pub heartbeats: Vec<String>,
    /// The validators' sample seeds on the execution log (provable draws).
    pub seeds: Seeds,
}

/// How many validators committed a sample seed for the next epoch, and what payout's
/// re-execution pot holds for the drawn re-executions.
#[derive(Debug, Serialize)]
pub struct Seeds {
    pub epoch: u64,
    pub committed: u32,
    pub threshold: String,
    pub pot: String,
}

/// The execution log's record of the job and the router's tx that made it.
#[derive(Debug, Serialize)]
pub struct Record {
    pub height: u64,
    pub node: String,
    pub signers: Vec<String>,
    pub tx: String,
    pub gas_used: u64,
}

#[derive(Debug, Serialize)]
pub struct Earning {
    pub party: String,
    pub address: String,
    pub before: String,
    pub after: String,
    pub received: String,
}

impl Report {
    /// What `party` received, in uhai.
    pub fn received(&self, party: &str) -> Option<u128> {
        self.earnings
            .iter()
            .find(|e| e.party == party)
            .and_then(|e| e.received.parse().ok())
    }
}

/// The demo job, as a caller runs one (`havn run`): request on chain, submit to the router,
/// follow it, save the output; then the record, the heartbeats, and everyone's claim.
pub async fn demo(
    net: &mut Network,
    out_dir: &Path,
    mut step: impl FnMut(&str),
    on_event: impl FnMut(&havn_mesh_proto::v1::JobEvent),
) -> Result<Report, CliError> {
    use crate::jobs;
    let (client, d) = (net.client.clone(), net.deployment.clone());
    let caller = net.keys.get("caller")?;
    let input = b"ada lovelace, watercolor".to_vec();
    let requested = jobs::request(&client, &d, &caller, net.workflow_id, &input).await?;
    let job_id = requested.job_id;
    step(&format!(
        "caller requested job {job_id} on chain: {} $HAI escrowed by the execution log (tx {}…)",
        requested.terms.price.u128() / HAI,
        &requested.tx.hash[..12]
    ));
    let mut router = jobs::router(&net.router, &Default::default()).await?;
    jobs::submit(&mut router, &requested, &caller, input, 42).await?;
    let auth = jobs::ReadAuth::sign(&caller, client.chain_id(), &d.log, job_id)?;
    let timeout = Duration::from_secs(300);
    let event = jobs::follow(&mut router, job_id, Some(&auth), timeout, on_event).await?;
    net.check_alive()?;
    let output_path = jobs::save_output(out_dir, &event)?;
    let output = event.output.clone().unwrap_or_default();
    let runtime = output.runtime.clone().unwrap_or_default();
    let reexecuted = event
        .attestations
        .iter()
        .filter(|a| havn_types::Check::from_byte(a.check as u8).reexecuted())
        .count();
    step(&format!(
        "node ran it on {} ({}); {} validators attested it ({} re-executed it, the rest checked its structure: the shipped sample rate); the router put it in settlement batch {}",
        runtime.device,
        runtime.executor,
        event.attestations.len(),
        reexecuted,
        event.settlement_id
    ));

    let job = jobs::wait_recorded(&client, &d, job_id, Duration::from_secs(30)).await?;
    let recorded_at = std::time::Instant::now();
    if let Some(ends) = job.window_ends {
        step(&format!(
            "execution log: job {job_id} {:?} on chain; its fee waits out the challenge window until block {ends}, when the router finalizes it",
            job.status
        ));
    }
    let job = jobs::wait_final(&client, &d, job_id, Duration::from_secs(300)).await?;
    let window_s = recorded_at.elapsed().as_secs_f64();
    let outcome = format!("{:?}", job.status).to_lowercase();
    let executions: havn_execution_log::msg::ExecutionsResponse = client
        .smart(
            &d.log,
            &havn_execution_log::msg::QueryMsg::ExecutionsByWorkflow {
                workflow_id: net.workflow_id,
                start_after: None,
                limit: None,
            },
        )
        .await?;
    let execution = executions
        .executions
        .into_iter()
        .find(|x| x.job_id == job_id)
        .ok_or_else(|| err(format!("job {job_id} has no execution record")))?;
    let tx = client
        .search_txs(&format!("wasm-havn_job.job_id='{job_id}'"))
        .await?
        .into_iter()
        .last()
        .ok_or_else(|| err("the RecordExecution tx was not found"))?;
    let record = Record {
        height: execution.height,
        node: execution.node.to_string(),
        signers: execution.signers.iter().map(|s| s.to_string()).collect(),
        tx: tx.hash,
        gas_used: tx.gas_used,
    };
    step(&format!(
        "execution log: job {job_id} {outcome} at block {} ({window_s:.1} s after its record: the challenge window), {} signers paid, recorded by the router's tx {}… ({} gas)",
        record.height,
        record.signers.len(),
        &record.tx[..12],
        record.gas_used
    ));

    // Liveness: each daemon's heartbeat, due half a downtime window after its bond.
    let heartbeats = wait_heartbeats(net, Duration::from_secs(DOWNTIME_WINDOW_S + 10)).await?;
    step(&format!(
        "heartbeats from {} of {} operators reached the staking contract",
        heartbeats.len(),
        operators().len()
    ));

    // Provable draws: each validator daemon commits its seed for the next epoch itself.
    let seeds = wait_seeds(&client, &d, Duration::from_secs(30)).await?;
    step(&format!(
        "sample seeds: {} of {VALIDATORS} validators committed for epoch {} (each drawn below {}/2^64); the re-execution pot holds {} uhai",
        seeds.committed, seeds.epoch, seeds.threshold, seeds.pot
    ));

    // Everyone claims; the treasury share is released to governance.
    let mut earnings = vec![];
    let parties: Vec<String> = ["creator", "upstream-a", "lora-artist", "node"]
        .iter()
        .map(|s| s.to_string())
        .chain((0..VALIDATORS).map(|i| format!("validator-{i}")))
        .collect();
    for party in parties {
        let w = net.keys.get(&party)?;
        let address = w.address().to_string();
        let before = d.hai_balance(&client, &address).await?;
        let claimed = client
            .execute(&w, &d.payout, &havn_payout::msg::ExecuteMsg::Claim {}, &[])
            .await;
        let after = d.hai_balance(&client, &address).await?;
        match claimed {
            Ok(_) => {}
            // A validator outside the signing quorum earns nothing this time.
            Err(e) if after == before => tracing::info!("{party}: nothing to claim ({e})"),
            Err(e) => return Err(e.into()),
        }
        earnings.push(Earning {
            party,
            address,
            before: before.to_string(),
            after: after.to_string(),
            received: (after - before).to_string(),
        });
    }
    let before = d.hai_balance(&client, &d.governance).await?;
    client
        .execute(
            &net.keys.get("relayer")?,
            &d.payout,
            &havn_payout::msg::ExecuteMsg::ReleaseTreasury {},
            &[],
        )
        .await?;
    let after = d.hai_balance(&client, &d.governance).await?;
    earnings.push(Earning {
        party: "treasury".into(),
        address: d.governance.clone(),
        before: before.to_string(),
        after: after.to_string(),
        received: (after - before).to_string(),
    });
    step("everyone claimed; the treasury share went to governance");
    Ok(Report {
        chain_id: client.chain_id().into(),
        workflow_id: net.workflow_id,
        job_id,
        fee: requested.terms.price.to_string(),
        outcome,
        output: output_path,
        output_hash: hex::encode(&output.output_hash),
        runtime: format!("{} on {}", runtime.executor, runtime.device),
        verdicts: event
            .attestations
            .iter()
            .map(|a| a.reason.clone())
            .collect(),
        record,
        earnings,
        heartbeats,
        seeds,
    })
}

/// The next epoch's seed commitments, waiting up to `timeout` for every validator's.
async fn wait_seeds(
    client: &havn_chain::Client,
    d: &havn_chain::havn::Deployment,
    timeout: Duration,
) -> Result<Seeds, CliError> {
    use havn_execution_log::msg::{EpochResponse, QueryMsg};
    let start = Instant::now();
    loop {
        let now: EpochResponse = client
            .smart(&d.log, &QueryMsg::Epoch { epoch: None })
            .await?;
        let next: EpochResponse = client
            .smart(
                &d.log,
                &QueryMsg::Epoch {
                    epoch: Some(now.current + 1),
                },
            )
            .await?;
        if next.committed as usize >= VALIDATORS || start.elapsed() > timeout {
            let totals: havn_payout::msg::TotalsResponse = client
                .smart(&d.payout, &havn_payout::msg::QueryMsg::Totals {})
                .await?;
            return Ok(Seeds {
                epoch: next.epoch,
                committed: next.committed,
                threshold: next.threshold.to_string(),
                pot: totals.pot.to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The operators whose last heartbeat is the daemon's (after their bond), waiting up to
/// `timeout` for all of them.
async fn wait_heartbeats(net: &mut Network, timeout: Duration) -> Result<Vec<String>, CliError> {
    let start = Instant::now();
    loop {
        net.check_alive()?;
        let mut beat = vec![];
        for (name, at) in net.bonded_at.clone() {
            if net.last_heartbeat(&name).await? > at {
                beat.push(name);
            }
        }
        if beat.len() == operators().len() || start.elapsed() > timeout {
            return Ok(beat);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// SIGTERM to `pid`, then wait up to `grace` for it to exit (SIGKILL after that).
pub fn terminate(pid: i32, grace: Duration) -> Result<(), CliError> {
    // SAFETY: kill(2) with a plain pid and signal; no memory is shared.
    let alive = |sig| unsafe { libc::kill(pid as libc::pid_t, sig) == 0 };
    if !alive(libc::SIGTERM) {
        return Err(err(format!("no process {pid} to stop")));
    }
    let start = Instant::now();
    while alive(0) {
        if start.elapsed() > grace {
            alive(libc::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
