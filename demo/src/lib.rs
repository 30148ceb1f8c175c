//! The whole loop with every part real: the development chain (`havn-devnet`: the Cosmos gRPC
//! API over the contracts' wasm artifacts in cosmwasm-vm) and the mesh (the real router, node
//! agent and validators talking gRPC over localhost), all in one process; every chain action is a
//! cosmrs-signed tx over gRPC.
//!
//! 1. start the devnet; deploy $HAI (cw20-base) and the registry, staking, payout and execution
//!    log from `artifacts/`; bond a node and five validators with their attestation keys;
//! 2. a creator publishes the example text-to-image workflow (`make models`: TorchScript text
//!    encoder, UNet with a DDIM loop, decoder → 64×64 PNG; manifest hash = content hash) built on
//!    another creator's workflow and an external LoRA, so royalties flow upstream;
//! 3. a caller requests a job on chain (fee escrowed) and submits it to the router with that job id;
//! 4. the router takes its operator set from the staking contract; the node runs the job on
//!    LibTorch (CUDA when present, else CPU), the validators re-execute it, walk the tolerance
//!    ladder and sign attestations bound to this chain id and execution log;
//! 5. the router records the settlement batch on chain (`RecordExecution`, signed by its own key),
//!    payout splits the fee, and everyone claims.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cosmwasm_std::{HexBinary, Uint128};
use havn_chain::havn::{self, Deployment};
use havn_chain::{ChainConfig, Client, Wallet};
use havn_devnet::{server, spawn_chain, Chain, ChainOptions, Genesis, GenesisAccount};
use havn_execution_log::state::JobStatus;
use havn_mesh_common::operators::{FileOperators, Operator};
use havn_mesh_common::pipeline::digest_manifest;
use havn_mesh_proto::v1::{
    job_service_client::JobServiceClient, submit_job_request, JobState, SubmitJobRequest,
    WatchJobRequest, WorkflowRef,
};
use havn_node::{Node, NodeConfig};
use havn_router::{Router, RouterConfig};
use havn_staking::state::Role;
use havn_validator::{Validator, ValidatorConfig};
use havn_workflow_registry::msg::{ArtifactKind, DependencyMsg, DependencyTarget, PublishMsg};
use k256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

/// 1 $HAI in uhai.
pub const HAI: u128 = 1_000_000;
pub const PRICE: u128 = 50 * HAI;
pub const VALIDATORS: usize = 5;
/// The devnet's gas price, in uhavn per gas.
const GAS_PRICE: f64 = 0.025;

/// What happened, for printing and for the test.
pub struct Report {
    pub chain_id: String,
    pub workflow_id: u64,
    pub job_id: u64,
    pub fee: u128,
    pub output_hash: String,
    /// Where the output image was written.
    pub output_path: PathBuf,
    /// The runtime the node reported (executor, device).
    pub runtime: String,
    /// Why the validators found it valid (the ladder rung that decided, per validator).
    pub verdicts: Vec<String>,
    pub attestations: usize,
    pub outcome: String,
    /// The on-chain execution record: node, signers, block height.
    pub record_node: String,
    pub record_signers: Vec<String>,
    pub record_height: u64,
    /// The router's `RecordExecution` tx.
    pub record_tx: String,
    pub record_gas: u64,
    /// (who, $HAI before claiming, after claiming).
    pub balances: Vec<(String, u128, u128)>,
    pub steps: Vec<String>,
}

impl Report {
    /// What each party received (after − before).
    pub fn received(&self, who: &str) -> Option<u128> {
        self.balances
            .iter()
            .find(|(w, _, _)| w == who)
            .map(|(_, before, after)| after - before)
    }
}

/// Everyone in the demo; each has a cosmrs account key and, for operators, an attestation key.
fn names() -> Vec<String> {
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

/// Demo keys, derived from names (never use these for anything but a local devnet).
fn wallet(name: &str) -> Wallet {
    Wallet::from_secret(&Sha256::digest(format!("havn-demo/account/{name}")), "havn")
        .expect("a sha256 is a valid secret key")
}

fn operator_key(name: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("havn-demo/operator/{name}")))
        .expect("a sha256 is a valid secret key")
}

fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts")
}

/// Runs the whole loop; the output image goes to `out_dir`.
pub fn run(out_dir: &Path) -> Result<Report, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(run_async(out_dir))
}

async fn run_async(out_dir: &Path) -> Result<Report, String> {
    let mut steps = Vec::new();
    let example = havn_runtime::examples::load(&havn_runtime::examples::dir())?
        .into_iter()
        .find(|e| e.name == "text-to-image")
        .ok_or("the text-to-image example is missing (run `make models`)")?;

    // 1. The chain.
    let genesis = Genesis {
        chain_id: "havn-demo-1".into(),
        bech32_prefix: "havn".into(),
        fee_denom: "uhavn".into(),
        min_gas_price: GAS_PRICE.to_string(),
        block_time_ms: 200,
        genesis_time: None,
        accounts: names()
            .iter()
            .map(|n| GenesisAccount {
                address: wallet(n).address().to_string(),
                coins: vec![cosmwasm_std::coin(1_000_000_000_000, "uhavn")],
            })
            .collect(),
        codes: vec![],
    };
    let block_time = Duration::from_millis(genesis.block_time_ms);
    let (handle, chain_thread) = spawn_chain(
        move || Chain::new(genesis),
        ChainOptions {
            block_time,
            snapshot: None,
        },
    )?;
    let listener = server::bind("127.0.0.1:0".parse().expect("literal")).await?;
    let grpc = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (stop_chain, chain_stopped) = tokio::sync::oneshot::channel::<()>();
    let chain_server = tokio::spawn(server::serve(handle, listener, async {
        let _ = chain_stopped.await;
    }));
    let client = Client::connect(ChainConfig {
        gas_price: GAS_PRICE,
        ..ChainConfig::devnet(grpc.clone())
    })
    .await
    .map_err(|e| e.to_string())?;
    let result = on_chain(&client, out_dir, example, &mut steps).await;
    let _ = stop_chain.send(());
    let _ = chain_server.await;
    let _ = tokio::task::spawn_blocking(move || chain_thread.join()).await;
    let mut report = result?;
    report.steps = steps;
    Ok(report)
}

async fn on_chain(
    client: &Client,
    out_dir: &Path,
    example: havn_runtime::examples::Example,
    steps: &mut Vec<String>,
) -> Result<Report, String> {
    let e = |e: havn_chain::ChainError| e.to_string();
    let deployer = wallet("deployer");
    let d = havn::deploy(
        client,
        &deployer,
        &artifacts_dir(),
        havn::DeployOptions {
            balances: names()
                .iter()
                .map(|n| (wallet(n).address().to_string(), 10_000 * HAI))
                .collect(),
            staking: havn_staking::state::Params {
                min_stake_node: Uint128::new(1_000 * HAI),
                min_stake_validator: Uint128::new(1_000 * HAI),
                ..Default::default()
            },
            log: Default::default(),
            payout: Default::default(),
        },
    )
    .await
    .map_err(e)?;
    for i in 0..VALIDATORS {
        let name = format!("validator-{i}");
        d.bond(
            client,
            &wallet(&name),
            Role::Validator,
            1_000 * HAI,
            Some(&operator_key(&name)),
        )
        .await
        .map_err(e)?;
    }
    d.bond(
        client,
        &wallet("node"),
        Role::Node,
        1_000 * HAI,
        Some(&operator_key("node")),
    )
    .await
    .map_err(e)?;
    steps.push(format!(
        "devnet {} up; deployed $HAI (cw20-base) + registry, staking, payout, execution log from their wasm; bonded 1 node and {VALIDATORS} validators (cosmrs txs over gRPC)",
        client.chain_id()
    ));

    // 2. An upstream workflow by another creator, and the demo workflow built on it and on an
    // external LoRA: half of the upstream share each.
    let (_, base_version) = digest_manifest("base-diffusion (demo)", 1);
    let base = d
        .publish(
            client,
            &wallet("upstream-a"),
            PublishMsg {
                name: "base-diffusion".into(),
                content_hash: hex::encode(base_version),
                price: Uint128::new(10 * HAI),
                split: None,
                dependencies: vec![],
                parent: None,
            },
        )
        .await
        .map_err(e)?;
    let lora = DependencyTarget::Artifact {
        kind: ArtifactKind::Lora,
        content_hash: hex::encode(havn_mesh_common::sha256(b"watercolor.safetensors")),
        payee: wallet("lora-artist").address().to_string(),
    };
    let (manifest, version) = (example.manifest, example.hash);
    let workflow_id = d
        .publish(
            client,
            &wallet("creator"),
            PublishMsg {
                name: "watercolor-portraits".into(),
                content_hash: hex::encode(version),
                price: Uint128::new(PRICE),
                split: None,
                dependencies: vec![
                    DependencyMsg {
                        target: DependencyTarget::Workflow { id: base },
                        weight_bps: 5_000,
                    },
                    DependencyMsg {
                        target: lora,
                        weight_bps: 5_000,
                    },
                ],
                parent: None,
            },
        )
        .await
        .map_err(e)?;
    steps.push(format!(
        "upstream-a published workflow {base}; creator published workflow {workflow_id} on it and a LoRA (manifest {})",
        &hex::encode(version)[..16]
    ));

    // 3. The request.
    let input = "ada lovelace, watercolor";
    let caller = wallet("caller");
    let input_hash = HexBinary::from(havn_mesh_common::sha256(input.as_bytes()).as_slice());
    let request = d
        .request_msg(client, &caller, workflow_id, PRICE, input_hash)
        .map_err(e)?;
    let requested = client.send_tx(&caller, vec![request]).await.map_err(e)?;
    let job_id: u64 = havn::attributes(&requested, "job_id")
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or("the request tx has no job id")?;
    steps.push(format!(
        "caller requested job {job_id} on chain, {} $HAI escrowed",
        PRICE / HAI
    ));

    // 4. The mesh.
    let event = run_mesh(client, &d, manifest, version, workflow_id, job_id, input).await?;
    let output = event.output.clone().ok_or("no output")?;
    let runtime_info = output.runtime.clone().unwrap_or_default();
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let output_path = out_dir.join(format!("job-{job_id}.png"));
    std::fs::write(&output_path, &output.output)
        .map_err(|e| format!("{}: {e}", output_path.display()))?;
    steps.push(format!(
        "mesh: node {} ran it on {} ({}), {} validators re-executed and attested; the router recorded settlement batch {} on chain",
        short(&output.node),
        runtime_info.device,
        runtime_info.executor,
        event.attestations.len(),
        event.settlement_id
    ));

    // 5. The record, and everyone's pay.
    let job = d.job(client, job_id).await.map_err(e)?;
    let outcome = match job.status {
        JobStatus::Valid => "valid",
        JobStatus::Invalid => "invalid",
        _ => "not recorded",
    };
    let executions: havn_execution_log::msg::ExecutionsResponse = client
        .smart(
            &d.log,
            &havn_execution_log::msg::QueryMsg::ExecutionsByWorkflow {
                workflow_id,
                start_after: None,
                limit: None,
            },
        )
        .await
        .map_err(e)?;
    let record = executions
        .executions
        .into_iter()
        .find(|x| x.job_id == job_id)
        .ok_or("no execution record on chain")?;
    let record_tx = client
        .search_txs(&format!("wasm-havn_job.job_id='{job_id}'"))
        .await
        .map_err(e)?
        .into_iter()
        .last()
        .ok_or("the RecordExecution tx was not found")?;
    steps.push(format!(
        "execution log: job {job_id} {outcome}, node {}, {} signers, block {}, tx {}… ({} gas)",
        short(record.node.as_str()),
        record.signers.len(),
        record.height,
        &record_tx.hash[..12],
        record_tx.gas_used
    ));

    let mut balances = vec![];
    let parties: Vec<String> = ["creator", "upstream-a", "lora-artist", "node"]
        .iter()
        .map(|s| s.to_string())
        .chain((0..VALIDATORS).map(|i| format!("validator-{i}")))
        .collect();
    for name in parties {
        let w = wallet(&name);
        let before = cw20_balance(client, &d, &w).await?;
        let claimed = client
            .execute(&w, &d.payout, &havn_payout::msg::ExecuteMsg::Claim {}, &[])
            .await;
        let after = cw20_balance(client, &d, &w).await?;
        match claimed {
            Ok(_) => balances.push((name, before, after)),
            // Validators outside the signing quorum earn nothing this time.
            Err(err) if after == before => tracing::info!("{name}: nothing to claim ({err})"),
            Err(err) => return Err(err.to_string()),
        }
    }
    let before = cw20_balance(client, &d, &deployer).await?;
    client
        .execute(
            &wallet("relayer"),
            &d.payout,
            &havn_payout::msg::ExecuteMsg::ReleaseTreasury {},
            &[],
        )
        .await
        .map_err(e)?;
    balances.push((
        "treasury".into(),
        before,
        cw20_balance(client, &d, &deployer).await?,
    ));
    steps.push("everyone claimed; the treasury share went to the treasury (the deployer)".into());
    Ok(Report {
        chain_id: client.chain_id().into(),
        workflow_id,
        job_id,
        fee: PRICE,
        output_hash: hex::encode(&output.output_hash),
        output_path,
        runtime: format!("{} on {}", runtime_info.executor, runtime_info.device),
        verdicts: event
            .attestations
            .iter()
            .map(|a| a.reason.clone())
            .collect(),
        attestations: event.attestations.len(),
        outcome: outcome.into(),
        record_node: record.node.to_string(),
        record_signers: record.signers.iter().map(|s| s.to_string()).collect(),
        record_height: record.height,
        record_tx: record_tx.hash,
        record_gas: record_tx.gas_used,
        balances,
        steps: vec![],
    })
}

async fn cw20_balance(client: &Client, d: &Deployment, who: &Wallet) -> Result<u128, String> {
    let b: cw20::BalanceResponse = client
        .smart(
            &d.token,
            &cw20::Cw20QueryMsg::Balance {
                address: who.address().to_string(),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(b.balance.u128())
}

fn short(address: &str) -> String {
    if address.len() > 20 {
        format!("{}…{}", &address[..12], &address[address.len() - 6..])
    } else {
        address.to_string()
    }
}

/// The mesh's operator set, read from the staking contract: each operator's bonded stake and the
/// attestation key it proved on chain.
async fn operators_from_chain(
    client: &Client,
    d: &Deployment,
    names: &[String],
) -> Result<FileOperators, String> {
    let mut operators = vec![];
    for name in names {
        let o: havn_staking::msg::OperatorResponse = client
            .smart(
                &d.staking,
                &havn_staking::msg::QueryMsg::Operator {
                    address: wallet(name).address().to_string(),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        operators.push(Operator {
            address: o.address.to_string(),
            pubkey: o.pubkey.to_vec(),
            node_stake: o.node_stake.u128(),
            validator_stake: o.validator_stake.u128(),
        });
    }
    Ok(FileOperators::from_operators(operators))
}

async fn run_mesh(
    client: &Client,
    d: &Deployment,
    manifest: Vec<u8>,
    version: [u8; 32],
    workflow_id: u64,
    job_id: u64,
    input: &str,
) -> Result<havn_mesh_proto::v1::JobEvent, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let names: Vec<String> = std::iter::once("node".to_string())
        .chain((0..VALIDATORS).map(|i| format!("validator-{i}")))
        .collect();
    let operators = Arc::new(operators_from_chain(client, d, &names).await?);
    let cfg = RouterConfig {
        listen: "127.0.0.1:0".parse().expect("literal"),
        data_dir: dir.path().join("router"),
        artifacts_dir: dir.path().join("artifacts"),
        chain_id: client.chain_id().into(),
        execution_log: d.log.clone(),
        settlement_interval_ms: 100,
        ..RouterConfig::default()
    };
    // The router settles on chain with its own key.
    let settlement = Arc::new(havn_router::chain::ChainSettlement::new(
        client.clone(),
        wallet("relayer"),
        d.log.clone(),
        d.staking.clone(),
    ));
    let router = Router::start_with(cfg, operators.clone(), settlement)
        .await
        .map_err(|e| e.to_string())?;
    router.artifacts.put(&manifest).map_err(|e| e.to_string())?;
    // The workflow's modules, served to the node and validators by hash.
    havn_runtime::examples::publish(&havn_runtime::examples::dir(), &router.artifacts)?;
    let torch = havn_runtime::TorchConfig::default();
    let url = format!("http://{}", router.addr);
    let node = Node::new(
        NodeConfig {
            routers: vec![url.clone()],
            operator: wallet("node").address().to_string(),
            cache_dir: dir.path().join("node"),
            ..NodeConfig::default()
        },
        operator_key("node"),
        havn_runtime::executors(&dir.path().join("node"), &torch)?,
    )?;
    let mut tasks = vec![tokio::spawn(node.run(std::future::pending()))];
    for i in 0..VALIDATORS {
        let name = format!("validator-{i}");
        let v = Validator::new(
            ValidatorConfig {
                routers: vec![url.clone()],
                operator: wallet(&name).address().to_string(),
                sample_rate: 1.0,
                cache_dir: dir.path().join(&name),
                ..ValidatorConfig::default()
            },
            operator_key(&name),
            operators.clone(),
            havn_runtime::executors(&dir.path().join(&name), &torch)?,
        )?;
        tasks.push(tokio::spawn(v.run(std::future::pending())));
    }
    let channel = Channel::from_shared(url)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let mut jobs = JobServiceClient::new(channel.clone());
    jobs.submit_job(SubmitJobRequest {
        workflow: Some(WorkflowRef {
            workflow_id,
            version_hash: version.to_vec(),
        }),
        input: Some(submit_job_request::Input::InlineInput(
            input.as_bytes().to_vec(),
        )),
        seed: 42,
        caller: wallet("caller").address().to_string(),
        chain_job_id: job_id,
        ..Default::default()
    })
    .await
    .map_err(|e| e.message().to_string())?;
    let mut events = jobs
        .watch_job(WatchJobRequest { job_id })
        .await
        .map_err(|e| e.message().to_string())?
        .into_inner();
    let mut last = None;
    let watch = async {
        while let Some(e) = events
            .message()
            .await
            .map_err(|e| e.message().to_string())?
        {
            let done = e.state >= JobState::Settled as i32;
            last = Some(e);
            if done {
                break;
            }
        }
        Ok::<_, String>(())
    };
    tokio::time::timeout(Duration::from_secs(60), watch)
        .await
        .map_err(|_| "the job did not settle within 60 s".to_string())??;
    let event = last.ok_or("no events")?;
    if event.state != JobState::Settled as i32 {
        return Err(format!("job ended {:?}: {}", event.state, event.reason));
    }
    // The router's settlement tx lands in a block or two.
    let mut recorded = false;
    for _ in 0..150 {
        if d.job(client, job_id)
            .await
            .map_err(|e| e.to_string())?
            .status
            != JobStatus::Pending
        {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        t.abort();
    }
    router.stop().await.map_err(|e| e.to_string())?;
    if !recorded {
        return Err("the router did not record the settlement on chain within 15 s".into());
    }
    Ok(event)
}
