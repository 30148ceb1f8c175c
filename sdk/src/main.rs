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
    /// Check a workflow, publish it, and show the royalty stack it got.
    Publish {
        /// A workflow file (sdk/workflow.schema.json: the manifest's path and the publishing terms,
        /// which the flags below override), or a bare manifest (mesh/workflow/manifest.schema.json).
        /// The manifest is checked as a node parses it; its sha256 is the version hash.
        file: PathBuf,
        /// Price per run, in uhai (required unless the workflow file sets it).
        #[arg(long)]
        price: Option<u128>,
        /// The creator's key.
        #[arg(long)]
        from: String,
        /// Name in the registry (default: the file's, else the manifest's).
        #[arg(long)]
        name: Option<String>,
        /// Upstream dependency: workflow:ID:BPS or model|lora|prompt|dataset:SHA256:PAYEE:BPS
        /// (replaces the file's).
        #[arg(long = "depends-on")]
        depends_on: Vec<String>,
        /// Royalty split, CREATOR/UPSTREAM/NODE/VALIDATOR/TREASURY in bps (default: governance's).
        #[arg(long)]
        split: Option<String>,
        /// For a derivative: the workflow it derives from (also a dependency).
        #[arg(long)]
        parent: Option<u64>,
    },
    /// Workflows in the registry.
    #[command(subcommand)]
    Workflow(WorkflowCmd),
    /// Copy disputes: bonded claims that a workflow copies an older one, decided by governance.
    #[command(subcommand)]
    Dispute(DisputeCmd),
    /// External assets (models, LoRAs, prompts, datasets) their owners registered.
    #[command(subcommand)]
    Asset(AssetCmd),
    /// Run a workflow: request it on chain (fee escrowed), submit it to the router, follow it,
    /// save the output, and wait for its on-chain record.
    Run {
        /// The workflow id.
        workflow: u64,
        /// The input, as text.
        #[arg(
            long,
            conflicts_with = "input_file",
            required_unless_present = "input_file"
        )]
        input: Option<String>,
        /// The input, from a file.
        #[arg(long)]
        input_file: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the output goes (job-ID.png / .wav / .txt).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// The caller's key (pays the fee).
        #[arg(long)]
        from: String,
    },
    /// Jobs in the execution log.
    #[command(subcommand)]
    Job(JobCmd),
    /// What an address has earned, claimed and can claim; or, with --workflow, the workflow's
    /// proof of usage (runs, fees, and each party's share).
    Earnings {
        /// An address, or a key name from `havn keys list`.
        #[arg(required_unless_present = "workflow", conflicts_with = "workflow")]
        who: Option<String>,
        #[arg(long)]
        workflow: Option<u64>,
    },
    /// Pay out recorded jobs whose challenge window has passed, send disputes that timed out to
    /// governance's arbitration, and refund arbitrations that timed out (anyone may; one tx).
    Finalize {
        /// Job ids.
        #[arg(required = true)]
        jobs: Vec<u64>,
        /// The key that sends (and pays the gas).
        #[arg(long)]
        from: String,
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
    /// The whole network on this machine (built with `--features network`).
    #[cfg(feature = "network")]
    #[command(subcommand)]
    Network(NetworkCmd),
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Create a key from a new 24-word mnemonic (printed once: write it down).
    Add {
        name: String,
    },
    /// Store a key from an existing BIP39 mnemonic (12, 15, 18, 21 or 24 words) read from stdin.
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
    /// One workflow: owner, versions, price, split, dependencies, flags, metadata.
    Show { id: u64 },
    /// Replace a workflow's metadata (creator only) with a file's: a JSON object of
    /// description, tags, license and links, or a workflow file's `metadata`.
    SetMetadata {
        id: u64,
        file: PathBuf,
        /// The creator's key.
        #[arg(long)]
        from: String,
    },
    /// Every workflow, by id.
    List {
        /// Only this creator's (an address or a key name).
        #[arg(long)]
        creator: Option<String>,
    },
    /// Where a workflow comes from: its dependency graph, resolved upstream.
    Lineage {
        id: u64,
        #[arg(long)]
        depth: Option<u8>,
    },
    /// The workflows whose fingerprints are closest to this one's (the registry's bounded
    /// derivative lookup), with their similarity and whether it reaches governance's threshold.
    Similar {
        id: u64,
        /// How many (at most 30).
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
}

/// A `Similar` answer as table lines.
fn similar_lines(r: &havn_workflow_registry::msg::SimilarResponse) -> Vec<String> {
    let mut text = vec![format!(
        "{:>4}  {:>3}  {:<24} {:>10}  creator",
        "id", "v", "name", "similarity"
    )];
    for m in &r.matches {
        text.push(format!(
            "{:>4}  {:>3}  {:<24} {:>7} bps  {}{}",
            m.id,
            m.version,
            m.name,
            m.similarity_bps,
            m.creator,
            if m.over_threshold {
                format!("  [at or over the threshold, {} bps]", r.threshold_bps)
            } else {
                String::new()
            }
        ));
    }
    text
}

#[derive(Subcommand)]
enum DisputeCmd {
    /// Claim that workflow COPY copies the older ORIGINAL, bonding governance's `dispute_bond`.
    ///
    /// The evidence is the two versions' manifests (their hashes are recorded now). A governance
    /// vote decides: the winner gets its bond back and a share of the loser's; an upheld copy's
    /// creator share goes to the original's creator from then on.
    Open {
        /// The workflow that copies (its newest version).
        copy: u64,
        /// The older workflow it copies without declaring it.
        original: u64,
        /// The claimant's similarity figure or a pointer to more (at most 256 characters).
        #[arg(long)]
        note: Option<String>,
        /// The claimant's key (pays the bond).
        #[arg(long)]
        from: String,
    },
    /// Answer a dispute against your workflow with a bond equal to the claimant's.
    Defend {
        id: u64,
        /// The accused workflow's creator's key.
        #[arg(long)]
        from: String,
    },
    /// One dispute: the two versions, the bonds, its status.
    Show { id: u64 },
    /// Every dispute, by id.
    List,
}

#[derive(Subcommand)]
enum AssetCmd {
    /// Register an asset by its content hash (or a file's, hashed here), owned by the sender:
    /// every workflow version published after it whose manifest uses it must credit `payee`.
    Register {
        /// The file (a TorchScript module, a safetensors LoRA…) or its sha256 in hex.
        asset: String,
        #[arg(long, value_enum)]
        kind: AssetKind,
        /// Who is paid (default: the sender).
        #[arg(long)]
        payee: Option<String>,
        #[arg(long)]
        from: String,
    },
    /// A registered asset: kind, owner, payee, height, flag.
    Show {
        /// The file or its sha256 in hex.
        asset: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AssetKind {
    Model,
    Lora,
    Prompt,
    Dataset,
}

impl From<AssetKind> for havn_workflow_registry::state::ArtifactKind {
    fn from(k: AssetKind) -> Self {
        use havn_workflow_registry::state::ArtifactKind as A;
        match k {
            AssetKind::Model => A::Model,
            AssetKind::Lora => A::Lora,
            AssetKind::Prompt => A::Prompt,
            AssetKind::Dataset => A::Dataset,
        }
    }
}

/// A file's sha256, or the hash itself.
fn asset_hash(asset: &str) -> Result<String, CliError> {
    let path = std::path::Path::new(asset);
    if path.is_file() {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Input(format!("cannot read {asset}: {e}")))?;
        return Ok(havn_sdk::hex_sha256(&bytes));
    }
    match asset.len() == 64 && asset.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(asset.to_ascii_lowercase()),
        false => Err(CliError::Input(format!(
            "{asset:?} is neither a file nor a 64-hex-digit sha256"
        ))),
    }
}

/// The registered assets among `hashes` (unregistered ones are skipped).
async fn registered_assets(
    c: &havn_chain::Client,
    registry: &str,
    hashes: &[String],
) -> Result<Vec<havn_workflow_registry::state::RegisteredAsset>, CliError> {
    let mut out = vec![];
    for hash in hashes {
        let q = havn_workflow_registry::msg::QueryMsg::Asset {
            content_hash: hash.clone(),
        };
        match c.smart(registry, &q).await {
            Ok(a) => out.push(a),
            Err(e) if e.to_string().contains("is not registered") => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The artifacts the workflow dependencies' newest versions record: their own stacks pay them.
async fn covered_by_workflows(
    c: &havn_chain::Client,
    registry: &str,
    msg: &havn_workflow_registry::msg::PublishMsg,
) -> Result<Vec<String>, CliError> {
    use havn_workflow_registry::msg::{
        DependencyTarget, HashOwnerResponse, QueryMsg as Q, RunTermsResponse,
    };
    let mut out = vec![];
    for d in &msg.dependencies {
        let DependencyTarget::Workflow { id } = d.target else {
            continue;
        };
        let terms: RunTermsResponse = c.smart(registry, &Q::RunTerms { id }).await?;
        let version: HashOwnerResponse = c
            .smart(
                registry,
                &Q::WorkflowByHash {
                    content_hash: terms.content_hash.to_hex(),
                },
            )
            .await?;
        out.extend(version.artifacts.iter().map(|h| h.to_hex()));
    }
    Ok(out)
}

#[derive(Subcommand)]
enum JobCmd {
    /// A job as the execution log has it.
    Show { id: u64 },
    /// Follow a job on the router until its verdict (one line, or one JSON object, per event).
    Watch { id: u64 },
    /// The router's dead letters: settled jobs the chain refused, with its reason (run on the
    /// router's machine: the router answers loopback callers only).
    DeadLetters,
    /// Put a dead letter back into the router's next settlement batch (once its cause is fixed).
    Redrive { id: u64 },
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
    /// Height, chain id and time of the chain at `grpc`.
    Status,
    /// Stop the devnet `havn devnet up` started (it saves its snapshot first).
    #[cfg(feature = "network")]
    Down,
    /// Run the development chain in the foreground until Ctrl-C (or `havn devnet down`).
    #[cfg(feature = "network")]
    Up {
        #[arg(long, default_value = "mesh/devnet/genesis.example.json")]
        genesis: PathBuf,
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        snapshot: Option<PathBuf>,
    },
}

#[cfg(feature = "network")]
#[derive(Subcommand)]
enum NetworkCmd {
    /// Start the devnet, router, node and validators as processes, deploy Havn, bond the
    /// operators, publish the example workflow, run one job and show who got paid; then keep
    /// serving until Ctrl-C (with --demo: stop after the job).
    Up {
        /// Stop after the example job instead of serving until Ctrl-C.
        #[arg(long)]
        demo: bool,
        /// Where the job's output goes.
        #[arg(long, default_value = "target/demo")]
        out: PathBuf,
        /// The network's files: genesis, keys, daemon configs, logs, and the CLI's config.toml.
        #[arg(long, default_value = "target/network")]
        dir: PathBuf,
        /// The chain: the embedded devnet, or havnd (CometBFT + x/wasm; `make havnd` builds it).
        #[arg(long, value_enum, default_value_t)]
        chain: havn_sdk::network::ChainKind,
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

fn deployment(cfg: &Config) -> Result<havn_chain::havn::Deployment, CliError> {
    for name in ["token", "registry", "log"] {
        cfg.contract(name)?;
    }
    Ok((&cfg.contracts).into())
}

/// A spinner on stderr for long work (hidden when stderr is not a terminal, or for JSON).
fn progress(out: Output) -> indicatif::ProgressBar {
    let bar = if out == Output::Json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A job event on the spinner: its state, and its steps while running.
fn show_progress(bar: &indicatif::ProgressBar, e: &havn_mesh_proto::v1::JobEvent) {
    let state = havn_sdk::jobs::state_name(e.state);
    bar.set_message(if e.total_steps > 0 {
        format!(
            "job {}: {state} step {}/{}",
            e.job_id, e.step, e.total_steps
        )
    } else {
        format!("job {}: {state}", e.job_id)
    });
}

/// `havn network up [--demo]`.
#[cfg(feature = "network")]
async fn network_up(
    out: Output,
    demo: bool,
    out_dir: &std::path::Path,
    dir: &std::path::Path,
    chain: havn_sdk::network::ChainKind,
) -> Result<(), CliError> {
    use havn_sdk::network::{self, Network};
    let started = std::time::Instant::now();
    let bar = progress(out);
    let say = |bar: &indicatif::ProgressBar, text: &str| {
        let line = format!("[{:>5.1}s] {text}", started.elapsed().as_secs_f64());
        match out {
            Output::Json => {}
            // A spinner on a terminal; plain lines elsewhere (indicatif drops them there).
            Output::Text if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
                bar.println(line)
            }
            Output::Text => eprintln!("{line}"),
        }
    };
    bar.set_message("starting the network");
    let interrupted = havn_mesh_common::service::shutdown_signal();
    tokio::pin!(interrupted);
    let mut net = tokio::select! {
        n = Network::up(dir, chain, |s| say(&bar, s)) => n?,
        _ = &mut interrupted => return Err(CliError::Interrupted),
    };
    bar.set_message("running the example job");
    let report = tokio::select! {
        r = network::demo(&mut net, out_dir, |s| say(&bar, s), |e| show_progress(&bar, e)) => r?,
        _ = &mut interrupted => return Err(CliError::Interrupted),
    };
    bar.finish_and_clear();
    let mut text = vec![
        format!("output: {} ({})", report.output.display(), report.runtime),
        format!(
            "execution record: job {} {} at block {}, node {}, {} signers, tx {} ({} gas)",
            report.job_id,
            report.outcome,
            report.record.height,
            report.record.node,
            report.record.signers.len(),
            report.record.tx,
            report.record.gas_used
        ),
        format!(
            "{:<14} {:>16} {:>16} {:>14}",
            "party", "uhai before", "after", "received"
        ),
    ];
    for e in &report.earnings {
        text.push(format!(
            "{:<14} {:>16} {:>16} {:>14}",
            e.party, e.before, e.after, e.received
        ));
    }
    text.push(format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    let mut value = serde_json::to_value(&report).unwrap_or_default();
    value["pids"] = json!(net.pids());
    value["dir"] = json!(net.dir);
    value["chain"] = json!(net.chain);
    value["rpc"] = json!(net.rpc);
    print(out, text.join("\n"), value);
    if demo {
        net.stop();
        return Ok(());
    }
    if out == Output::Text {
        eprintln!(
            "the network is up: havn --config {} (keys: caller, creator, …; try `run {} --input \"…\" --from caller`). Ctrl-C stops it.",
            net.dir.join("config.toml").display(),
            net.workflow_id
        );
    }
    loop {
        tokio::select! {
            _ = &mut interrupted => break,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => net.check_alive()?,
        }
    }
    net.stop();
    eprintln!("havn network: stopped");
    Ok(())
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
            file,
            price,
            from,
            name,
            depends_on,
            split,
            parent,
        } => {
            use havn_sdk::workflow_file::{parse_split, publication, Overrides};
            let flags = Overrides {
                name,
                price,
                split: split.as_deref().map(parse_split).transpose()?,
                parent,
                depends_on,
            };
            let (mut msg, content_hash) = publication(&file, flags)?;
            let registry = cfg.contract("registry")?.to_string();
            let w = keys.get(&from)?;
            let c = client(&cfg).await?;
            let d = deployment(&cfg)?;
            // The registered assets the manifest uses, declared unless already credited.
            let registered = registered_assets(&c, &registry, &msg.artifacts).await?;
            let covered = covered_by_workflows(&c, &registry, &msg).await?;
            for added in
                havn_sdk::workflow_file::declare_registered(&mut msg, &registered, &covered)?
            {
                if matches!(out, Output::Text) {
                    eprintln!("declared registered asset {added} as a dependency");
                }
            }
            // The closest workflows already published, before anything is sent: a match at the
            // threshold that the workflow does not declare is refused (or made a derivative).
            let closest: havn_workflow_registry::msg::SimilarResponse = match &msg.fingerprint {
                Some(fingerprint) => {
                    c.smart(
                        &registry,
                        &havn_workflow_registry::msg::QueryMsg::Similar {
                            to: havn_workflow_registry::msg::SimilarTo::Fingerprint {
                                fingerprint: fingerprint.clone(),
                            },
                            limit: Some(5),
                        },
                    )
                    .await?
                }
                None => havn_workflow_registry::msg::SimilarResponse {
                    threshold_bps: 0,
                    matches: vec![],
                },
            };
            // On stdout: a refusal stays the one line on stderr.
            if matches!(out, Output::Text) && !closest.matches.is_empty() {
                println!("closest published workflows:");
                for line in similar_lines(&closest) {
                    println!("  {line}");
                }
            }
            let id = d.publish(&c, &w, msg).await?;
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
                json!({"workflow_id": id, "content_hash": content_hash, "royalty_stack": stack, "closest": closest.matches}),
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
            let tx = deployment(&cfg)?
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
            use havn_workflow_registry::msg::{MetadataResponse, QueryMsg as Q};
            let registry = cfg.contract("registry")?.to_string();
            let c = client(&cfg).await?;
            let mut workflow: Value = c.smart(&registry, &Q::Workflow { id }).await?;
            let m: MetadataResponse = c.smart(&registry, &Q::Metadata { id }).await?;
            workflow["metadata"] = json!(m.metadata);
            print(
                out,
                serde_json::to_string_pretty(&workflow).unwrap_or_default(),
                workflow,
            );
        }
        Command::Asset(AssetCmd::Register {
            asset,
            kind,
            payee,
            from,
        }) => {
            let content_hash = asset_hash(&asset)?;
            let registry = cfg.contract("registry")?.to_string();
            let w = keys.get(&from)?;
            let msg = havn_workflow_registry::msg::ExecuteMsg::RegisterAsset {
                kind: kind.into(),
                content_hash: content_hash.clone(),
                payee,
            };
            let tx = client(&cfg)
                .await?
                .execute(&w, &registry, &msg, &[])
                .await?;
            print_tx(out, &format!("asset {content_hash} registered"), &tx);
        }
        Command::Dispute(DisputeCmd::Open {
            copy,
            original,
            note,
            from,
        }) => {
            use havn_sdk::disputes::{send, Bonded};
            let registry = cfg.contract("registry")?.to_string();
            let (w, c) = (keys.get(&from)?, client(&cfg).await?);
            let call = Bonded::Open {
                copy,
                original,
                note,
            };
            let (bond, tx) = send(&c, &registry, &w, call).await?;
            let id = havn_chain::havn::attributes(&tx, "dispute_id")
                .next()
                .unwrap_or_default()
                .to_string();
            let what =
                format!("dispute {id} opened: workflow {copy} copies {original}, bond {bond}");
            print_tx(out, &what, &tx);
        }
        Command::Dispute(DisputeCmd::Defend { id, from }) => {
            use havn_sdk::disputes::{send, Bonded};
            let registry = cfg.contract("registry")?.to_string();
            let (w, c) = (keys.get(&from)?, client(&cfg).await?);
            let (bond, tx) = send(&c, &registry, &w, Bonded::Defend { id }).await?;
            print_tx(out, &format!("dispute {id} defended, bond {bond}"), &tx);
        }
        Command::Dispute(DisputeCmd::Show { id }) => {
            let query = havn_workflow_registry::msg::QueryMsg::Dispute { id };
            show(&cfg, out, "registry", &query).await?;
        }
        Command::Dispute(DisputeCmd::List) => {
            use havn_workflow_registry::msg::{DisputesResponse, QueryMsg as Q};
            let registry = cfg.contract("registry")?.to_string();
            let c = client(&cfg).await?;
            let mut all = vec![];
            loop {
                let start_after = all
                    .last()
                    .map(|d: &havn_workflow_registry::state::Dispute| d.id);
                let page: DisputesResponse = c
                    .smart(
                        &registry,
                        &Q::Disputes {
                            start_after,
                            limit: Some(30),
                        },
                    )
                    .await?;
                let done = page.disputes.len() < 30;
                all.extend(page.disputes);
                if done {
                    break;
                }
            }
            let mut text = vec![format!(
                "{:>4}  {:>5}  {:>8}  {:>14}  {:<8}  {:<8}  claimant",
                "id", "copy", "original", "bond (uhai)", "defended", "status"
            )];
            for d in &all {
                text.push(format!(
                    "{:>4}  {:>5}  {:>8}  {:>14}  {:<8}  {:<8}  {}",
                    d.id,
                    d.copy,
                    d.original,
                    d.bond,
                    if d.defender.is_some() { "yes" } else { "no" },
                    format!("{:?}", d.status),
                    d.claimant
                ));
            }
            print(
                out,
                text.join("\n"),
                serde_json::to_value(&all).unwrap_or_default(),
            );
        }
        Command::Asset(AssetCmd::Show { asset }) => {
            let content_hash = asset_hash(&asset)?;
            let query = havn_workflow_registry::msg::QueryMsg::Asset { content_hash };
            show(&cfg, out, "registry", &query).await?;
        }
        Command::Workflow(WorkflowCmd::SetMetadata { id, file, from }) => {
            let metadata = havn_sdk::workflow_file::metadata_of(&file)?;
            let registry = cfg.contract("registry")?.to_string();
            let w = keys.get(&from)?;
            let msg = havn_workflow_registry::msg::ExecuteMsg::SetMetadata { id, metadata };
            let tx = client(&cfg)
                .await?
                .execute(&w, &registry, &msg, &[])
                .await?;
            print_tx(out, &format!("workflow {id}: metadata set"), &tx);
        }
        Command::Workflow(WorkflowCmd::List { creator }) => {
            let registry = cfg.contract("registry")?.to_string();
            let creator = creator.map(|c| address(&keys, &c)).transpose()?;
            let c = client(&cfg).await?;
            let mut all: Vec<havn_workflow_registry::state::Workflow> = vec![];
            loop {
                use havn_workflow_registry::msg::QueryMsg as Q;
                let start_after = all.last().map(|w| w.id);
                let query = match &creator {
                    Some(creator) => Q::WorkflowsByCreator {
                        creator: creator.clone(),
                        start_after,
                        limit: Some(30),
                    },
                    None => Q::Workflows {
                        start_after,
                        limit: Some(30),
                    },
                };
                let page: havn_workflow_registry::msg::WorkflowsResponse =
                    c.smart(&registry, &query).await?;
                let done = page.workflows.len() < 30;
                all.extend(page.workflows);
                if done {
                    break;
                }
            }
            let mut text = vec![format!(
                "{:>4}  {:<24} {:>14}  {:>3}  creator",
                "id", "name", "price (uhai)", "v"
            )];
            for w in &all {
                text.push(format!(
                    "{:>4}  {:<24} {:>14}  {:>3}  {}{}",
                    w.id,
                    w.name,
                    w.price,
                    w.version,
                    w.creator,
                    if w.flag.is_some() { "  [flagged]" } else { "" }
                ));
            }
            print(
                out,
                text.join("\n"),
                serde_json::to_value(&all).unwrap_or_default(),
            );
        }
        Command::Workflow(WorkflowCmd::Similar { id, limit }) => {
            use havn_workflow_registry::msg::{QueryMsg as Q, SimilarResponse, SimilarTo};
            let registry = cfg.contract("registry")?.to_string();
            let c = client(&cfg).await?;
            let r: SimilarResponse = c
                .smart(
                    &registry,
                    &Q::Similar {
                        to: SimilarTo::Workflow { id },
                        limit: Some(limit),
                    },
                )
                .await?;
            let text = match r.matches.is_empty() {
                true => format!("no indexed workflow shares a band with workflow {id}"),
                false => similar_lines(&r).join("\n"),
            };
            print(out, text, serde_json::to_value(&r).unwrap_or_default());
        }
        Command::Workflow(WorkflowCmd::Lineage { id, depth }) => {
            let registry = cfg.contract("registry")?.to_string();
            let c = client(&cfg).await?;
            let l: havn_workflow_registry::msg::LineageResponse = c
                .smart(
                    &registry,
                    &havn_workflow_registry::msg::QueryMsg::Lineage { id, depth },
                )
                .await?;
            let mut text = vec![format!("workflow {id}")];
            for a in &l.ancestors {
                text.push(format!(
                    "{}└─ workflow {} {:?} by {}{}",
                    "   ".repeat(a.depth.saturating_sub(1) as usize),
                    a.id,
                    a.name,
                    a.creator,
                    if a.flagged { " [flagged]" } else { "" }
                ));
            }
            for d in &l.artifacts {
                text.push(format!(
                    "└─ artifact {} ({} bps)",
                    serde_json::to_string(&d.target).unwrap_or_default(),
                    d.weight_bps
                ));
            }
            if l.truncated {
                text.push("… (more ancestors: ask with a larger --depth)".into());
            }
            print(
                out,
                text.join("\n"),
                serde_json::to_value(&l).unwrap_or_default(),
            );
        }
        Command::Run {
            workflow,
            input,
            input_file,
            seed,
            out: dir,
            from,
        } => {
            let input = match (input, input_file) {
                (Some(text), _) => text.into_bytes(),
                (None, Some(path)) => std::fs::read(&path)
                    .map_err(|e| CliError::Input(format!("cannot read {}: {e}", path.display())))?,
                (None, None) => unreachable!("clap requires one"),
            };
            let caller = keys.get(&from)?;
            let (c, d) = (client(&cfg).await?, deployment(&cfg)?);
            let mut router = havn_sdk::jobs::router(&cfg.router, &cfg.tls).await?;
            let bar = progress(out);
            bar.set_message(format!("requesting workflow {workflow} on chain"));
            let requested = havn_sdk::jobs::request(&c, &d, &caller, workflow, &input).await?;
            let job_id = requested.job_id;
            bar.set_message(format!("job {job_id}: submitting to {}", cfg.router));
            havn_sdk::jobs::submit(&mut router, &requested, &caller, input, seed).await?;
            let auth = havn_sdk::jobs::ReadAuth::sign(&caller, c.chain_id(), &d.log, job_id)?;
            let event = havn_sdk::jobs::follow(
                &mut router,
                job_id,
                Some(&auth),
                std::time::Duration::from_secs(600),
                |e| show_progress(&bar, e),
            )
            .await?;
            bar.finish_and_clear();
            let path = havn_sdk::jobs::save_output(&dir, &event)?;
            // The router's stream carries the chain's verdict on the record (RECORDED…).
            let Some(chain) = event.chain.clone() else {
                return Err(CliError::Input(format!(
                    "job {job_id} settled in the mesh, but the router at {} does not settle on chain (no [chain] section): its fee stays escrowed until the deadline",
                    cfg.router
                )));
            };
            let status = chain.outcome.clone();
            let window = match (status.as_str(), chain.window_ends) {
                ("recorded", h) if h > 0 => format!(" (challenge window: paid out from block {h})"),
                ("disputed", h) if h > 0 => {
                    format!(" (disputed: re-executions decide, or governance arbitrates from block {h})")
                }
                ("arbitration", h) if h > 0 => {
                    format!(" (in arbitration: governance decides, or the fee is refunded at block {h})")
                }
                _ => String::new(),
            };
            print(
                out,
                format!(
                    "job {job_id}: {status} on chain{window}; fee {} uhai; output {} (node {}, {} attestations)",
                    requested.terms.price,
                    path.display(),
                    event.output.as_ref().map(|o| o.node.as_str()).unwrap_or(""),
                    event.attestations.len()
                ),
                json!({
                    "job_id": job_id, "workflow_id": workflow, "fee": requested.terms.price,
                    "request_tx": requested.tx.hash, "status": status,
                    "window_ends": (chain.window_ends > 0).then_some(chain.window_ends),
                    "record_tx": chain.tx_hash, "output": path,
                    "output_hash": hex::encode(event.output.as_ref().map(|o| o.output_hash.as_slice()).unwrap_or_default()),
                    "node": event.output.as_ref().map(|o| o.node.clone()),
                    "attestations": event.attestations.len(),
                }),
            );
        }
        Command::Job(JobCmd::Watch { id }) => {
            let mut router = havn_sdk::jobs::router(&cfg.router, &cfg.tls).await?;
            let last = havn_sdk::jobs::follow(
                &mut router,
                id,
                None,
                std::time::Duration::from_secs(3600),
                |e| {
                    let state = havn_sdk::jobs::state_name(e.state);
                    print(
                        out,
                        format!(
                            "job {} {state}{}{}{}",
                            e.job_id,
                            if e.total_steps > 0 { format!(" step {}/{}", e.step, e.total_steps) } else { String::new() },
                            if e.node.is_empty() { String::new() } else { format!(" node {}", e.node) },
                            if e.reason.is_empty() { String::new() } else { format!(": {}", e.reason) },
                        ),
                        json!({"job_id": e.job_id, "state": state, "step": e.step, "total_steps": e.total_steps,
                               "node": e.node, "attempt": e.attempt, "attestations": e.attestations.len(),
                               "reason": e.reason, "settlement_id": e.settlement_id,
                               "chain": e.chain.as_ref().map(|c| json!({"outcome": c.outcome, "reason": c.reason,
                                   "window_ends": c.window_ends, "tx": c.tx_hash, "height": c.height}))}),
                    )
                },
            )
            .await?;
            if !havn_sdk::jobs::result_stands(&last) {
                return Err(CliError::Input(format!(
                    "job {id} ended {}: {}",
                    havn_sdk::jobs::state_name(last.state),
                    last.reason
                )));
            }
        }
        Command::Job(JobCmd::DeadLetters) => {
            let mut router = havn_sdk::jobs::settlements(&cfg.router, &cfg.tls).await?;
            let letters = havn_sdk::jobs::dead_letters(&mut router).await?;
            let text = if letters.is_empty() {
                "no dead letters".to_string()
            } else {
                letters
                    .iter()
                    .map(|l| {
                        let job = l.job.clone().unwrap_or_default();
                        format!(
                            "job {} (batch {}, node {}): {}",
                            job.job_id, l.settlement_id, job.node, l.reason
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let rows: Vec<_> = letters
                .iter()
                .map(|l| {
                    let job = l.job.clone().unwrap_or_default();
                    json!({"job_id": job.job_id, "node": job.node, "settlement_id": l.settlement_id,
                           "reason": l.reason, "refused_ms": l.refused_ms})
                })
                .collect();
            print(out, text, json!(rows));
        }
        Command::Job(JobCmd::Redrive { id }) => {
            let mut router = havn_sdk::jobs::settlements(&cfg.router, &cfg.tls).await?;
            let state = havn_sdk::jobs::redrive(&mut router, id).await?;
            let state = havn_sdk::jobs::state_name(state as i32);
            print(
                out,
                format!("job {id}: re-driven ({state}), in the router's next settlement batch"),
                json!({"job_id": id, "state": state}),
            );
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
        Command::Earnings {
            workflow: Some(workflow_id),
            ..
        } => {
            let contract = cfg.contract("payout")?.to_string();
            let c = client(&cfg).await?;
            let e: havn_payout::msg::WorkflowEarningsResponse = c
                .smart(
                    &contract,
                    &havn_payout::msg::QueryMsg::WorkflowEarnings { workflow_id },
                )
                .await?;
            let rows = [
                ("creator", e.creator),
                ("upstream", e.upstream),
                ("node", e.node),
                ("validators", e.validators),
                ("treasury", e.treasury),
            ];
            let mut text = vec![format!(
                "workflow {workflow_id}: {} runs, {} uhai in fees",
                e.runs, e.total_fees
            )];
            text.extend(
                rows.iter()
                    .map(|(who, amount)| format!("  {who:<11} {amount:>16} uhai")),
            );
            print(
                out,
                text.join("\n"),
                serde_json::to_value(&e).unwrap_or_default(),
            );
        }
        Command::Earnings { who, .. } => {
            let address = address(&keys, who.as_deref().unwrap_or_default())?;
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
        Command::Finalize { jobs, from } => {
            let w = keys.get(&from)?;
            let (c, d) = (client(&cfg).await?, deployment(&cfg)?);
            let msg = havn_execution_log::msg::ExecuteMsg::Finalize { job_ids: jobs };
            let tx = c.execute(&w, &d.log, &msg, &[]).await?;
            let outcomes: Vec<String> = tx
                .events
                .iter()
                .filter(|(ty, _)| ty == "wasm-havn_finalize")
                .map(|(_, attrs)| {
                    let get = |k: &str| {
                        attrs
                            .iter()
                            .find(|(key, _)| key == k)
                            .map_or("", |(_, v)| v.as_str())
                    };
                    match get("reason") {
                        "" => format!("job {}: {}", get("job_id"), get("outcome")),
                        why => format!("job {}: {} ({why})", get("job_id"), get("outcome")),
                    }
                })
                .collect();
            print(
                out,
                format!(
                    "{}\nfinalize: tx {} at height {} ({} gas)",
                    outcomes.join("\n"),
                    tx.hash,
                    tx.height,
                    tx.gas_used
                ),
                json!({"tx": tx.hash, "height": tx.height, "gas_used": tx.gas_used, "jobs": outcomes}),
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
        #[cfg(feature = "network")]
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
            let pid_file = havn_sdk::config_dir().join("devnet.pid");
            if let Some(dir) = pid_file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = std::fs::write(&pid_file, std::process::id().to_string());
            eprintln!("havn devnet: serving {listen} (Ctrl-C or `havn devnet down` stops it)");
            havn_devnet::server::serve(
                handle,
                listener,
                havn_mesh_common::service::shutdown_signal(),
            )
            .await
            .map_err(CliError::Config)?;
            let _ = thread.join();
            let _ = std::fs::remove_file(&pid_file);
        }
        Command::Devnet(DevnetCmd::Status) => {
            let c = client(&cfg).await?;
            let height = c.latest_height().await?;
            print(
                out,
                format!("chain {} at {}: height {height}", c.chain_id(), cfg.grpc),
                json!({"chain_id": c.chain_id(), "grpc": cfg.grpc, "height": height}),
            );
        }
        #[cfg(feature = "network")]
        Command::Devnet(DevnetCmd::Down) => {
            let pid_file = havn_sdk::config_dir().join("devnet.pid");
            let pid: i32 = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse().ok())
                .ok_or_else(|| {
                    CliError::Input(format!(
                        "no devnet started by `havn devnet up` is running (no {})",
                        pid_file.display()
                    ))
                })?;
            havn_sdk::network::terminate(pid, std::time::Duration::from_secs(10))?;
            let _ = std::fs::remove_file(&pid_file);
            print(
                out,
                format!("devnet (pid {pid}) stopped"),
                json!({"stopped": pid}),
            );
        }
        #[cfg(feature = "network")]
        Command::Network(NetworkCmd::Up {
            demo,
            out: out_dir,
            dir,
            chain,
        }) => network_up(out, demo, &out_dir, &dir, chain).await?,
    }
    Ok(())
}
