//! The whole loop in one process, with every part real except the chain: the five contracts run
//! on cw-multi-test (the development chain that speaks the Cosmos gRPC API is its own issue), and
//! the mesh is the real router, node agent and validators talking gRPC over localhost with the
//! same secp256k1 keys the operators bonded on chain.
//!
//! 1. deploy $HAI (cw20) and the five contracts, bond a node and five validators;
//! 2. a creator publishes the example text-to-image workflow (`make models`: TorchScript text
//!    encoder, UNet with a DDIM loop, decoder → 64×64 PNG; manifest hash = content hash) built on
//!    another creator's workflow and an external LoRA, so royalties flow upstream;
//! 3. a caller requests a job on chain (fee escrowed) and submits it to the router with that job id;
//! 4. the node runs it on LibTorch (CUDA when present, else CPU), the validators re-execute it and
//!    walk the tolerance ladder, and sign attestations bound to this chain id and execution-log
//!    address; the router forms a settlement batch;
//! 5. the batch is recorded on chain with `RecordExecution` (the log verifies every signature),
//!    payout splits the fee, and everyone claims.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cosmwasm_std::Uint128;
use havn_execution_log::msg::{JobResult, SignedAttestation};
use havn_integration_tests::{Suite, SuiteBuilder, HAI, VALIDATORS};
use havn_mesh_common::operators::{FileOperators, Operator};
use havn_mesh_common::pipeline::digest_manifest;
use havn_mesh_proto::v1::{
    job_service_client::JobServiceClient, settlement_service_client::SettlementServiceClient,
    submit_job_request, JobState, ListSettlementsRequest, SubmitJobRequest, WatchJobRequest,
    WorkflowRef,
};
use havn_node::{Node, NodeConfig};
use havn_router::{Router, RouterConfig};
use havn_validator::{Validator, ValidatorConfig};
use havn_workflow_registry::msg::{ArtifactKind, DependencyMsg, DependencyTarget};
use tonic::transport::Channel;

/// What happened, for printing and for the test.
pub struct Report {
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
    /// (who, $HAI micro-units claimed).
    pub claims: Vec<(String, u128)>,
    pub treasury: u128,
    pub steps: Vec<String>,
}

pub const PRICE: u128 = 50 * HAI;

/// Runs the whole loop; the output image goes to `out_dir`.
pub fn run(out_dir: &Path) -> Result<Report, String> {
    let mut steps = Vec::new();
    let example = havn_runtime::examples::load(&havn_runtime::examples::dir())?
        .into_iter()
        .find(|e| e.name == "text-to-image")
        .ok_or("the text-to-image example is missing (run `make models`)")?;
    let mut s = SuiteBuilder::new().build();
    steps.push(format!(
        "deployed $HAI (cw20) + registry, staking, execution log, payout, governance on chain {}; bonded 1 node, {VALIDATORS} validators",
        s.chain_id()
    ));

    // An upstream workflow by another creator, and the demo workflow built on it and on an
    // external LoRA: half of the upstream share each.
    let (_, base_version) = digest_manifest("base-diffusion (demo)", 1);
    let base = s
        .publish(
            "upstream-a",
            havn_workflow_registry::msg::PublishMsg {
                name: "base-diffusion".into(),
                content_hash: hex::encode(base_version),
                price: Uint128::new(10 * HAI),
                split: None,
                dependencies: vec![],
                parent: None,
            },
        )
        .map_err(|e| e.message())?;
    let (manifest, version) = (example.manifest, example.hash);
    let lora = DependencyTarget::Artifact {
        kind: ArtifactKind::Lora,
        content_hash: hex::encode(havn_mesh_common::sha256(b"watercolor.safetensors")),
        payee: s.addr("lora-artist").to_string(),
    };
    let workflow_id = s
        .publish(
            "creator",
            havn_workflow_registry::msg::PublishMsg {
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
        .map_err(|e| e.message())?;
    steps.push(format!(
        "upstream-a published workflow {base}; creator published workflow {workflow_id} on it and a LoRA (manifest {})",
        &hex::encode(version)[..16]
    ));

    let input = "ada lovelace, watercolor";
    let fee = PRICE;
    let job_id = s
        .request("caller", workflow_id, fee, input)
        .map_err(|e| e.message())?;
    steps.push(format!(
        "caller requested job {job_id} on chain, {} $HAI escrowed",
        fee / HAI
    ));

    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let (event, batch) =
        runtime.block_on(run_mesh(&s, manifest, version, workflow_id, job_id, input))?;
    let output = event.output.clone().ok_or("no output")?;
    let runtime_info = output.runtime.clone().unwrap_or_default();
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let output_path = out_dir.join(format!("job-{job_id}.png"));
    std::fs::write(&output_path, &output.output)
        .map_err(|e| format!("{}: {e}", output_path.display()))?;
    steps.push(format!(
        "mesh: node {} ran it on {} ({}), {} validators re-executed and attested, settlement batch {}",
        short(&output.node),
        runtime_info.device,
        runtime_info.executor,
        event.attestations.len(),
        batch.id
    ));

    let results = batch
        .jobs
        .iter()
        .map(|j| JobResult {
            job_id: j.job_id,
            node: j.node.clone(),
            output_hash: j.output_hash.clone().into(),
            verdict: if j.verdict == havn_mesh_proto::v1::Verdict::Valid as i32 {
                havn_types::Verdict::Valid
            } else {
                havn_types::Verdict::Invalid
            },
            attestations: j
                .attestations
                .iter()
                .map(|a| SignedAttestation {
                    validator: a.validator.clone(),
                    signature: a.signature.clone().into(),
                })
                .collect(),
        })
        .collect();
    let res = s.record(results).map_err(|e| e.message())?;
    let outcome = havn_integration_tests::outcomes(&res)
        .into_iter()
        .find(|(id, _)| *id == job_id)
        .map(|(_, o)| o)
        .unwrap_or_default();
    steps.push(format!(
        "relayer recorded the batch on chain: job {job_id} {outcome}"
    ));

    let mut claims = Vec::new();
    let names: Vec<String> = ["creator", "upstream-a", "lora-artist", "node"]
        .iter()
        .map(|n| n.to_string())
        .chain((0..VALIDATORS).map(|i| format!("validator-{i}")))
        .collect();
    for name in names {
        let before = s.balance_of(&name);
        if s.claim(&name).is_ok() {
            claims.push((name.clone(), s.balance_of(&name) - before));
        }
    }
    let governance = s.governance.clone();
    let before = s.balance(&governance);
    let payout = s.payout.clone();
    s.execute(
        "relayer",
        &payout,
        &havn_payout::msg::ExecuteMsg::ReleaseTreasury {},
        &[],
    )
    .map_err(|e| e.message())?;
    let treasury = s.balance(&governance) - before;
    steps.push("everyone claimed; the treasury share went to governance".into());
    Ok(Report {
        workflow_id,
        job_id,
        fee,
        output_hash: hex::encode(&output.output_hash),
        output_path,
        runtime: format!("{} on {}", runtime_info.executor, runtime_info.device),
        verdicts: event
            .attestations
            .iter()
            .map(|a| a.reason.clone())
            .collect(),
        attestations: event.attestations.len(),
        outcome,
        claims,
        treasury,
        steps,
    })
}

fn short(address: &str) -> String {
    if address.len() > 20 {
        format!("{}…{}", &address[..12], &address[address.len() - 6..])
    } else {
        address.to_string()
    }
}

async fn run_mesh(
    s: &Suite,
    manifest: Vec<u8>,
    version: [u8; 32],
    workflow_id: u64,
    job_id: u64,
    input: &str,
) -> Result<
    (
        havn_mesh_proto::v1::JobEvent,
        havn_mesh_proto::v1::SettlementBatch,
    ),
    String,
> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // The mesh's operator set: the same addresses and keys as bonded on chain.
    let names: Vec<(String, bool)> = std::iter::once(("node".to_string(), false))
        .chain((0..VALIDATORS).map(|i| (format!("validator-{i}"), true)))
        .collect();
    let operators = Arc::new(FileOperators::from_operators(names.iter().map(|(n, v)| {
        Operator {
            address: s.addr(n).to_string(),
            pubkey: havn_testing::pubkey(&havn_testing::key(n)).to_vec(),
            node_stake: if *v { 0 } else { 1_000 },
            validator_stake: if *v { 1_000 } else { 0 },
        }
    })));
    let cfg = RouterConfig {
        listen: "127.0.0.1:0".parse().expect("literal"),
        data_dir: dir.path().join("router"),
        artifacts_dir: dir.path().join("artifacts"),
        chain_id: s.chain_id(),
        execution_log: s.log.to_string(),
        settlement_interval_ms: 100,
        ..RouterConfig::default()
    };
    let router = Router::start(cfg, operators.clone())
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
            operator: s.addr("node").to_string(),
            cache_dir: dir.path().join("node"),
            ..NodeConfig::default()
        },
        havn_testing::key("node"),
        havn_runtime::executors(&dir.path().join("node"), &torch)?,
    )?;
    let mut tasks = vec![tokio::spawn(node.run(std::future::pending()))];
    for i in 0..VALIDATORS {
        let name = format!("validator-{i}");
        let v = Validator::new(
            ValidatorConfig {
                routers: vec![url.clone()],
                operator: s.addr(&name).to_string(),
                sample_rate: 1.0,
                cache_dir: dir.path().join(&name),
                ..ValidatorConfig::default()
            },
            havn_testing::key(&name),
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
        caller: s.addr("caller").to_string(),
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
    let mut settlements = SettlementServiceClient::new(channel);
    let mut batch = None;
    for _ in 0..100 {
        let batches = settlements
            .list_settlements(ListSettlementsRequest::default())
            .await
            .map_err(|e| e.message().to_string())?
            .into_inner()
            .batches;
        batch = batches.into_iter().find(|b| b.id == event.settlement_id);
        if batch.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in tasks {
        t.abort();
    }
    router.stop().await.map_err(|e| e.to_string())?;
    Ok((event, batch.ok_or("the settlement batch was not listed")?))
}
