//! `havn`: see `havn --help`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use havn_chain::Client;
use havn_sdk::{CliError, Config, KeyStore};
use serde_json::{json, Value};

/// Havn: publish AI workflows, run them, and see who earned what.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    /// Config file (default ~/.config/havn/config.toml); every key can be overridden by HAVN_CLI_<KEY>.
    #[arg(long, global = true, env = "HAVN_CONFIG")]
    config: Option<PathBuf>,
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Manage signing keys (BIP39 mnemonics at m/44'/118'/0'/0/0, stored with mode 0600).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Check a workflow manifest, publish it, and show the royalty stack it got.
    Publish {
        /// The manifest (JSON): its sha256 is the version hash nodes and validators check.
        manifest: PathBuf,
        /// Price per run, in uhai.
        #[arg(long)]
        price: u128,
        /// The creator's key.
        #[arg(long)]
        from: String,
        /// Name in the registry (default: the manifest's).
        #[arg(long)]
        name: Option<String>,
        /// Upstream dependency: workflow:ID:BPS or model|lora|prompt|dataset:SHA256:PAYEE:BPS.
        #[arg(long = "depends-on")]
        depends_on: Vec<String>,
    },
    /// Workflows in the registry.
    #[command(subcommand)]
    Workflow(WorkflowCmd),
    /// Jobs in the execution log.
    #[command(subcommand)]
    Job(JobCmd),
    /// What an address has earned, claimed and can claim.
    Earnings {
        /// An address, or a key name from `havn keys list`.
        who: String,
    },
    /// Claim what a key has earned.
    Claim {
        /// The key that claims.
        #[arg(long)]
        from: String,
    },
    /// Node and validator stake.
    #[command(subcommand)]
    Stake(StakeCmd),
    /// The development chain.
    #[command(subcommand)]
    Devnet(DevnetCmd),
    /// The whole network on this machine.
    #[command(subcommand)]
    Network(NetworkCmd),
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Create a key from a new 24-word mnemonic (printed once: write it down).
    Add {
        name: String,
    },
    /// Store a key from an existing mnemonic read from stdin.
    Recover {
        name: String,
    },
    List,
    Show {
        name: String,
    },
}

#[derive(Subcommand)]
enum WorkflowCmd {
    Show { id: u64 },
}

#[derive(Subcommand)]
enum JobCmd {
    Show { id: u64 },
}

#[derive(Subcommand)]
enum StakeCmd {
    /// Bond $HAI as a node or validator (the first bond registers the operator's attestation key).
    Bond {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Amount in uhai.
        #[arg(long)]
        amount: u128,
        #[arg(long)]
        from: String,
        /// The daemon's attestation key (a BIP39 mnemonic file, mode 0600); needed on the first bond.
        #[arg(long)]
        operator_key: Option<PathBuf>,
    },
    /// Start unbonding (claimable after the unbonding period).
    Unbond {
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        amount: u128,
        #[arg(long)]
        from: String,
    },
    /// Claim unbonded $HAI whose period has passed.
    Claim {
        #[arg(long)]
        from: String,
    },
    /// An operator's bonds, key, jail and activity.
    Status {
        /// An address, or a key name.
        who: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Node,
    Validator,
}

impl From<RoleArg> for havn_staking::state::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Node => havn_staking::state::Role::Node,
            RoleArg::Validator => havn_staking::state::Role::Validator,
        }
    }
}

#[derive(Subcommand)]
enum DevnetCmd {
    /// Run the development chain in the foreground until Ctrl-C.
    Up {
        #[arg(long, default_value = "mesh/devnet/genesis.example.json")]
        genesis: PathBuf,
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        snapshot: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum NetworkCmd {
    /// Start the devnet, deploy Havn, bond operators, run the mesh, run one job and pay everyone.
    Up {
        /// Run the example text-to-image job end to end (the only mode for now).
        #[arg(long)]
        demo: bool,
        /// Where the job's output goes.
        #[arg(long, default_value = "target/demo")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("havn: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the error carried.
            eprintln!(
                "havn: {}",
                e.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            ExitCode::FAILURE
        }
    }
}

fn print(output: Output, text: String, value: Value) {
    match output {
        Output::Text => println!("{text}"),
        Output::Json => println!("{value}"),
    }
}

/// A contract's answer to `query`, pretty-printed (or as one JSON line).
async fn show(
    cfg: &Config,
    out: Output,
    contract: &'static str,
    query: &impl serde::Serialize,
) -> Result<(), CliError> {
    let contract = cfg.contract(contract)?.to_string();
    let answer: Value = client(cfg).await?.smart(&contract, query).await?;
    print(
        out,
        serde_json::to_string_pretty(&answer).unwrap_or_default(),
        answer,
    );
    Ok(())
}

/// What a tx did: `what: tx HASH at height H (G gas)`.
fn print_tx(out: Output, what: &str, tx: &havn_chain::TxResult) {
    print(
        out,
        format!(
            "{what}: tx {} at height {} ({} gas)",
            tx.hash, tx.height, tx.gas_used
        ),
        json!({"tx": tx.hash, "height": tx.height, "gas_used": tx.gas_used}),
    );
}

async fn client(cfg: &Config) -> Result<Client, CliError> {
    Ok(Client::connect(cfg.chain()).await?)
}

fn deployment(cfg: &Config) -> havn_chain::havn::Deployment {
    let c = &cfg.contracts;
    havn_chain::havn::Deployment {
        token: c.token.clone(),
        registry: c.registry.clone(),
        staking: c.staking.clone(),
        payout: c.payout.clone(),
        log: c.log.clone(),
    }
}

/// A key name from the store, else the string itself as an address.
fn address(keys: &KeyStore, who: &str) -> Result<String, CliError> {
    if who.starts_with(&format!("{}1", keys.prefix())) && who.len() > 30 {
        return Ok(who.to_string());
    }
    Ok(keys.get(who)?.address().to_string())
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let cfg = Config::load(cli.config.as_deref())?;
    let keys = KeyStore::new(&cfg.keys_dir, &cfg.prefix);
    let out = cli.output;
    match cli.command {
        Command::Keys(KeysCmd::Add { name }) => {
            let phrase = havn_sdk::new_mnemonic();
            let w = keys.add(&name, &phrase)?;
            print(
                out,
                format!(
                    "key {name}: {}\nmnemonic (shown once, stored unencrypted with mode 0600 in {}):\n{phrase}",
                    w.address(),
                    cfg.keys_dir.display()
                ),
                json!({"name": name, "address": w.address().to_string(), "mnemonic": phrase}),
            );
        }
        Command::Keys(KeysCmd::Recover { name }) => {
            let mut phrase = String::new();
            std::io::stdin().read_to_string(&mut phrase).map_err(|e| {
                CliError::Input(format!("cannot read the mnemonic from stdin: {e}"))
            })?;
            let w = keys.add(&name, phrase.trim())?;
            print(
                out,
                format!("key {name}: {}", w.address()),
                json!({"name": name, "address": w.address().to_string()}),
            );
        }
        Command::Keys(KeysCmd::List) => {
            let list = keys.list()?;
            let text = list
                .iter()
                .map(|(n, a)| format!("{n:<16} {a}"))
                .collect::<Vec<_>>()
                .join("\n");
            print(
                out,
                text,
                json!(list
                    .iter()
                    .map(|(n, a)| json!({"name": n, "address": a}))
                    .collect::<Vec<_>>()),
            );
        }
        Command::Keys(KeysCmd::Show { name }) => {
            let w = keys.get(&name)?;
            print(
                out,
                w.address().to_string(),
                json!({"name": name, "address": w.address().to_string()}),
            );
        }
        Command::Publish {
            manifest,
            price,
            from,
            name,
            depends_on,
        } => {
            let bytes = std::fs::read(&manifest)
                .map_err(|e| CliError::Input(format!("cannot read {}: {e}", manifest.display())))?;
            let (manifest_name, content_hash) = havn_sdk::check_manifest(&bytes)?;
            let dependencies = depends_on
                .iter()
                .map(|d| havn_sdk::parse_dependency(d))
                .collect::<Result<Vec<_>, _>>()?;
            let registry = cfg.contract("registry")?.to_string();
            let w = keys.get(&from)?;
            let c = client(&cfg).await?;
            let d = deployment(&cfg);
            let id = d
                .publish(
                    &c,
                    &w,
                    havn_workflow_registry::msg::PublishMsg {
                        name: name.unwrap_or(manifest_name),
                        content_hash: content_hash.clone(),
                        price: cosmwasm_std::Uint128::new(price),
                        split: None,
                        dependencies,
                        parent: None,
                    },
                )
                .await?;
            let stack: Value = c
                .smart(
                    &registry,
                    &havn_workflow_registry::msg::QueryMsg::RoyaltyStack { id },
                )
                .await?;
            print(
                out,
                format!(
                    "published workflow {id} (content hash {content_hash})\nroyalty stack: {}",
                    serde_json::to_string(&stack).unwrap_or_default()
                ),
                json!({"workflow_id": id, "content_hash": content_hash, "royalty_stack": stack}),
            );
        }
        Command::Stake(StakeCmd::Bond {
            role,
            amount,
            from,
            operator_key,
        }) => {
            cfg.contract("staking")?;
            cfg.contract("token")?;
            let w = keys.get(&from)?;
            let key = operator_key
                .map(|p| {
                    havn_mesh_common::keys::load_mnemonic(&p)
                        .map_err(|e| CliError::Input(e.to_string()))
                })
                .transpose()?;
            let c = client(&cfg).await?;
            let tx = deployment(&cfg)
                .bond(&c, &w, role.into(), amount, key.as_ref())
                .await?;
            print_tx(out, "bonded", &tx);
        }
        Command::Stake(StakeCmd::Unbond { role, amount, from }) => {
            let staking = cfg.contract("staking")?.to_string();
            let w = keys.get(&from)?;
            let c = client(&cfg).await?;
            let msg = havn_staking::msg::ExecuteMsg::Unbond {
                role: role.into(),
                amount: cosmwasm_std::Uint128::new(amount),
            };
            let tx = c.execute(&w, &staking, &msg, &[]).await?;
            print_tx(out, "unbonding", &tx);
        }
        Command::Stake(StakeCmd::Claim { from }) => {
            let staking = cfg.contract("staking")?.to_string();
            let w = keys.get(&from)?;
            let c = client(&cfg).await?;
            let tx = c
                .execute(&w, &staking, &havn_staking::msg::ExecuteMsg::Claim {}, &[])
                .await?;
            print_tx(out, "claimed", &tx);
        }
        Command::Workflow(WorkflowCmd::Show { id }) => {
            let query = havn_workflow_registry::msg::QueryMsg::Workflow { id };
            show(&cfg, out, "registry", &query).await?;
        }
        Command::Job(JobCmd::Show { id }) => {
            show(
                &cfg,
                out,
                "log",
                &havn_execution_log::msg::QueryMsg::Job { id },
            )
            .await?;
        }
        Command::Earnings { who } => {
            let address = address(&keys, &who)?;
            let contract = cfg.contract("payout")?.to_string();
            let c = client(&cfg).await?;
            let e: havn_payout::msg::EarningsResponse = c
                .smart(
                    &contract,
                    &havn_payout::msg::QueryMsg::Earnings {
                        address: address.clone(),
                    },
                )
                .await?;
            print(
                out,
                format!(
                    "{address}: earned {} uhai, claimed {}, claimable {}",
                    e.earned, e.claimed, e.claimable
                ),
                json!({"address": address, "earned": e.earned, "claimed": e.claimed, "claimable": e.claimable}),
            );
        }
        Command::Claim { from } => {
            let w = keys.get(&from)?;
            let contract = cfg.contract("payout")?.to_string();
            let c = client(&cfg).await?;
            let tx = c
                .execute(&w, &contract, &havn_payout::msg::ExecuteMsg::Claim {}, &[])
                .await?;
            print_tx(out, "claimed", &tx);
        }
        Command::Stake(StakeCmd::Status { who }) => {
            let address = address(&keys, &who)?;
            let query = havn_staking::msg::QueryMsg::Operator { address };
            show(&cfg, out, "staking", &query).await?;
        }
        Command::Devnet(DevnetCmd::Up {
            genesis,
            listen,
            snapshot,
        }) => {
            let g = havn_devnet::Genesis::load(&genesis).map_err(CliError::Config)?;
            let block_time = std::time::Duration::from_millis(g.block_time_ms.max(1));
            let (handle, thread) = havn_devnet::spawn_chain(
                move || havn_devnet::Chain::new(g),
                havn_devnet::ChainOptions {
                    block_time,
                    snapshot,
                },
            )
            .map_err(CliError::Config)?;
            let listener = havn_devnet::server::bind(listen)
                .await
                .map_err(CliError::Config)?;
            eprintln!("havn devnet: serving {listen} (Ctrl-C stops it)");
            havn_devnet::server::serve(
                handle,
                listener,
                havn_mesh_common::service::shutdown_signal(),
            )
            .await
            .map_err(CliError::Config)?;
            let _ = thread.join();
        }
        Command::Network(NetworkCmd::Up { demo, out: dir }) => {
            if !demo {
                return Err(CliError::Input(
                    "`havn network up` runs the demo network only for now: add --demo".into(),
                ));
            }
            let r = tokio::task::spawn_blocking(move || havn_demo::run(&dir))
                .await
                .map_err(|e| CliError::Input(e.to_string()))?
                .map_err(CliError::Input)?;
            let parties: Vec<Value> = r
                .balances
                .iter()
                .map(|(who, before, after)| json!({"party": who, "before": before.to_string(), "after": after.to_string(), "received": (after - before).to_string()}))
                .collect();
            let mut text = r
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {s}", i + 1))
                .collect::<Vec<_>>();
            text.push(format!(
                "output: {} ({})",
                r.output_path.display(),
                r.runtime
            ));
            text.push(format!(
                "execution record: job {} {} at block {}, node {}, {} signers, tx {} ({} gas)",
                r.job_id,
                r.outcome,
                r.record_height,
                r.record_node,
                r.record_signers.len(),
                r.record_tx,
                r.record_gas
            ));
            text.push(format!(
                "{:<14} {:>16} {:>16} {:>14}",
                "party", "uhai before", "after", "received"
            ));
            for (who, before, after) in &r.balances {
                text.push(format!(
                    "{who:<14} {before:>16} {after:>16} {:>14}",
                    after - before
                ));
            }
            print(
                out,
                text.join("\n"),
                json!({
                    "chain_id": r.chain_id, "workflow_id": r.workflow_id, "job_id": r.job_id,
                    "fee": r.fee.to_string(), "outcome": r.outcome, "output": r.output_path,
                    "output_hash": r.output_hash, "runtime": r.runtime,
                    "record": {"tx": r.record_tx, "height": r.record_height, "gas_used": r.record_gas,
                               "node": r.record_node, "signers": r.record_signers},
                    "earnings": parties,
                }),
            );
        }
    }
    Ok(())
}
