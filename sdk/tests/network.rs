//! `havn network up`: the chain, router, node and four validators as separate processes; the
//! example job end to end; then the CLI against the running network (run, job watch, workflow
//! list/lineage, earnings), bad input that must move nothing, the router refusing jobs the chain
//! has not requested, and Ctrl-C stopping every process. The same test on both chains: the devnet
//! and havnd (CometBFT + x/wasm). Needs `make wasm models havnd` and the workspace's binaries
//! (`cargo test --workspace --all-targets` builds them).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{json, one_line_error};
use havn_chain::{ChainConfig, Client};
use havn_execution_log::state::JobStatus;
use havn_mesh_proto::v1::{
    job_service_client::JobServiceClient, submit_job_request, SubmitJobRequest, WorkflowRef,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_havn");

fn alive(pid: i64) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[tokio::test(flavor = "multi_thread")]
async fn network_up_on_the_devnet_runs_the_whole_loop_serves_the_cli_and_stops_on_ctrl_c() {
    whole_loop("devnet").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn network_up_on_havnd_runs_the_whole_loop_serves_the_cli_and_stops_on_ctrl_c() {
    whole_loop("havnd").await;
}

/// `kill -9` of havnd halfway through 20 jobs, then a restart on the same home: CometBFT
/// resumes from its WAL and stored blocks, the router's settlement retries, and every job ends
/// Valid, recorded once; the caller paid exactly 20 fees, the payout contract holds exactly
/// them, and no other $HAI moved or appeared.
#[tokio::test(flavor = "multi_thread")]
async fn havnd_killed_mid_run_restarts_from_its_wal_and_every_job_is_recorded_once() {
    use havn_sdk::jobs;
    use havn_sdk::network::{ChainKind, Network};
    const JOBS: u64 = 20;
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Network::up(&tmp.path().join("network"), ChainKind::Havnd, |_| {})
        .await
        .unwrap();
    let (d, caller) = (net.deployment.clone(), net.keys.get("caller").unwrap());
    let supply = total_supply(&net.client, &d.token).await;
    let before = holdings(&net.client, &d.token).await;
    assert_eq!(before.values().sum::<u128>(), supply);

    let mut router = jobs::router(&net.router, &Default::default())
        .await
        .unwrap();
    let (mut ids, mut fees) = (vec![], 0u128);
    for i in 0..JOBS {
        let client = net.client.clone();
        let input = format!("crash test {i}").into_bytes();
        let requested = jobs::request(&client, &d, &caller, net.workflow_id, &input)
            .await
            .unwrap();
        jobs::submit(&mut router, &requested, &caller, input, i)
            .await
            .unwrap();
        ids.push(requested.job_id);
        fees += requested.terms.price.u128();
        if i == JOBS / 2 - 1 {
            // Once the first job is recorded, with the rest still running or settling.
            wait_for(&client, &d, &ids[..1], JobStatus::Recorded).await;
            let height = client.latest_height().await.unwrap();
            let old = net.kill_chain().unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let new = net.restart_chain().await.unwrap();
            assert_ne!(old, new);
            // The same chain, resumed: no block lost or replayed from genesis.
            assert!(net.client.latest_height().await.unwrap() >= height);
        }
    }
    let client = net.client.clone();
    // The jobs of an epoch the node committed a tree for are audited (1 %): those end Invalid,
    // their fees back with the caller; every other job is paid.
    let audits = audits_among(&client, &d, &net.dir, &ids).await;
    let paid: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|i| !audits.contains(i))
        .collect();
    wait_for(&client, &d, &audits, JobStatus::Invalid).await;
    wait_for(&client, &d, &paid, JobStatus::Valid).await;
    println!("{} of {JOBS} jobs were the node's audits", audits.len());
    let fees = fees * paid.len() as u128 / JOBS as u128;

    let executions: havn_execution_log::msg::ExecutionsResponse = client
        .smart(
            &d.log,
            &havn_execution_log::msg::QueryMsg::ExecutionsByWorkflow {
                workflow_id: net.workflow_id,
                start_after: None,
                limit: Some(30),
            },
        )
        .await
        .unwrap();
    let recorded: Vec<u64> = executions.executions.iter().map(|x| x.job_id).collect();
    assert_eq!(recorded, paid, "each job recorded once");

    let after = holdings(&client, &d.token).await;
    assert_eq!(
        total_supply(&client, &d.token).await,
        supply,
        "no $HAI created"
    );
    assert_eq!(after.values().sum::<u128>(), supply);
    let caller_address = caller.address().to_string();
    let everyone: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for who in everyone {
        let (was, now) = (
            before.get(who).copied().unwrap_or(0),
            after.get(who).copied().unwrap_or(0),
        );
        let expected = if *who == caller_address {
            was - fees
        } else if *who == d.payout {
            was + fees
        } else {
            was
        };
        assert_eq!(now, expected, "{who}");
    }
    net.stop();
}

/// Until every job in `ids` has `status` (four minutes at most).
async fn wait_for(
    client: &Client,
    d: &havn_chain::havn::Deployment,
    ids: &[u64],
    status: JobStatus,
) {
    let start = Instant::now();
    loop {
        let mut done = true;
        for &id in ids {
            let job: Result<havn_execution_log::state::Job, _> = client
                .smart(&d.log, &havn_execution_log::msg::QueryMsg::Job { id })
                .await;
            done &= job.is_ok_and(|j| j.status == status);
        }
        if done {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "jobs {ids:?} not all {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn total_supply(client: &Client, token: &str) -> u128 {
    let info: cw20::TokenInfoResponse = client
        .smart(token, &cw20::Cw20QueryMsg::TokenInfo {})
        .await
        .unwrap();
    info.total_supply.u128()
}

/// Every $HAI holder's balance (cw20-base's enumerable accounts).
async fn holdings(client: &Client, token: &str) -> std::collections::BTreeMap<String, u128> {
    let mut all = std::collections::BTreeMap::new();
    let mut start_after = None;
    loop {
        let page: cw20::AllAccountsResponse = client
            .smart(
                token,
                &cw20::Cw20QueryMsg::AllAccounts {
                    start_after: start_after.clone(),
                    limit: Some(30),
                },
            )
            .await
            .unwrap();
        if page.accounts.is_empty() {
            return all;
        }
        for a in &page.accounts {
            let b: cw20::BalanceResponse = client
                .smart(token, &cw20::Cw20QueryMsg::Balance { address: a.clone() })
                .await
                .unwrap();
            all.insert(a.clone(), b.balance.u128());
        }
        start_after = page.accounts.last().cloned();
    }
}

async fn whole_loop(chain: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out) = (tmp.path().join("network"), tmp.path().join("out"));
    let log = std::fs::File::create(tmp.path().join("havn.log")).unwrap();
    let mut up = Command::new(BIN)
        .args([
            "network", "up", "--output", "json", "--chain", chain, "--dir",
        ])
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .env("XDG_CONFIG_HOME", tmp.path())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    // The report is one JSON line, printed once the example job is paid out.
    let stdout = up.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(400))
        .unwrap_or_default();
    let report: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
        let _ = up.kill();
        panic!(
            "no report: {line:?}\n{}",
            std::fs::read_to_string(tmp.path().join("havn.log")).unwrap_or_default()
        )
    });

    // The on-chain record has a valid quorum; every party's cw20 balance rose by exactly its
    // share of the fee, and the shares and the re-execution pot add up to the fee.
    assert_eq!(report["chain"], chain);
    assert_eq!(report["outcome"], "valid");
    assert!(report["record"]["signers"].as_array().unwrap().len() >= 3);
    assert!(report["record"]["gas_used"].as_u64().unwrap() > 100_000);
    let fee: u128 = report["fee"].as_str().unwrap().parse().unwrap();
    let received = |party: &str| -> u128 {
        report["earnings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["party"] == party)
            .map(|e| e["received"].as_str().unwrap().parse().unwrap())
            .unwrap_or_else(|| panic!("no {party} in {report}"))
    };
    let total: u128 = report["earnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["received"].as_str().unwrap().parse::<u128>().unwrap())
        .sum();
    // 80 % of the validators' 5 % waits in payout's pot for drawn re-executions.
    let pot: u128 = report["seeds"]["pot"].as_str().unwrap().parse().unwrap();
    assert_eq!(pot, fee * 5 / 100 * 80 / 100);
    assert_eq!(
        total + pot,
        fee,
        "every unit of the fee is paid out or in the pot"
    );
    // The default split 45 / 20 / 25 / 5 / 5 %; the upstream 20 % is half the base workflow's
    // creator's and half the LoRA artist's.
    assert_eq!(received("creator"), fee * 45 / 100);
    assert_eq!(received("upstream-a"), fee * 10 / 100);
    assert_eq!(received("lora-artist"), fee * 10 / 100);
    assert_eq!(received("node"), fee * 25 / 100);
    assert!(received("treasury") >= fee * 5 / 100);
    // The node ran it on LibTorch; the output is the PNG whose hash the validators signed.
    assert!(report["runtime"].as_str().unwrap().starts_with("tch "));
    let png = std::fs::read(report["output"].as_str().unwrap()).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(
        hex::encode(havn_mesh_common::sha256(&png)),
        report["output_hash"]
    );
    // Every daemon's heartbeat reached the staking contract.
    assert_eq!(report["heartbeats"].as_array().unwrap().len(), 5);
    // Every validator daemon committed its sample seed for the next epoch on its own.
    assert_eq!(report["seeds"]["committed"], 4, "{}", report["seeds"]);
    let pids: Vec<i64> = report["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_i64().unwrap())
        .collect();
    assert_eq!(pids.len(), 7, "chain, router, node, 4 validators");
    assert_eq!(report["pids"][0][0], chain);
    assert!(pids.iter().all(|p| alive(*p)));

    // The CLI against the running network, with the config it wrote.
    let config = dir.join("config.toml");
    let cli = |args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        common::havn(tmp.path(), &all, None, &[])
    };
    let cfg: havn_sdk::Config = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let client = Client::connect(ChainConfig::devnet(cfg.grpc.clone()))
        .await
        .unwrap();
    let d = havn_chain::havn::Deployment::from(&cfg.contracts);
    let hai = |who: &str| {
        let (d, client, who) = (d.clone(), client.clone(), who.to_string());
        async move { d.hai_balance(&client, &who).await.unwrap() }
    };
    let caller = json(&cli(&["keys", "show", "caller", "--output", "json"]))["address"]
        .as_str()
        .unwrap()
        .to_string();

    let list = json(&cli(&["workflow", "list", "--output", "json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["base-diffusion", "watercolor-portraits"]);
    let lineage = json(&cli(&["workflow", "lineage", "2", "--output", "json"]));
    assert_eq!(lineage["ancestors"][0]["id"], 1);
    assert_eq!(lineage["artifacts"].as_array().unwrap().len(), 1);

    // `havn run`: requested, run, verified, saved and recorded; `job watch` sees it settled.
    not_an_audit(&client, &d, &dir, 2).await;
    let before = hai(&caller).await;
    let run = json(&cli(&[
        "run",
        "2",
        "--input",
        "grace hopper, ink",
        "--seed",
        "7",
        "--out",
        out.to_str().unwrap(),
        "--from",
        "caller",
        "--output",
        "json",
    ]));
    // Recorded, its fee waiting out the challenge window; the router finalizes it after.
    assert_eq!(run["status"], "recorded");
    let window_ends = run["window_ends"].as_u64().unwrap();
    let job = run["job_id"].as_u64().unwrap();
    assert_eq!(job, 2);
    assert!(Path::new(run["output"].as_str().unwrap()).exists());
    assert_eq!(hai(&caller).await, before - fee);
    // The router's stream carried the chain's verdict: `job watch` starts from it.
    assert_eq!(run["record_tx"].as_str().map(str::len), Some(64));
    let watch = cli(&["job", "watch", &job.to_string()]);
    assert!(watch.status.success());
    let watched = String::from_utf8_lossy(&watch.stdout).to_string();
    assert!(
        watched.contains("RECORDED") || watched.contains("PAID"),
        "{watched}"
    );
    // Nothing was refused, so the operator's dead-letter list is empty and nothing re-drives.
    assert_eq!(
        json(&cli(&["job", "dead-letters", "--output", "json"])),
        serde_json::json!([])
    );
    let e = one_line_error(&cli(&["job", "redrive", &job.to_string()]));
    assert!(
        e.contains(&format!("job {job} is not a dead letter")),
        "{e}"
    );
    let finalized = havn_sdk::jobs::wait_final(&client, &d, job, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(finalized.status, JobStatus::Valid);
    assert!(client.latest_height().await.unwrap() >= window_ends);
    // Finalizing again, or an unknown job, is skipped with its reason; nothing moves.
    let fin = json(&cli(&[
        "finalize", "2", "77", "--from", "caller", "--output", "json",
    ]));
    assert_eq!(
        fin["jobs"],
        serde_json::json!([
            "job 2: skipped (job 2 is already Valid)",
            "job 77: skipped (job 77 does not exist)"
        ])
    );
    let usage = json(&cli(&["earnings", "--workflow", "2", "--output", "json"]));
    assert_eq!(usage["runs"], 2);
    assert_eq!(usage["total_fees"], (2 * fee).to_string());

    // Bad input: one clear line, and no $HAI moves.
    let before = hai(&caller).await;
    let e = one_line_error(&cli(&["run", "99", "--input", "x", "--from", "caller"]));
    assert!(e.contains("workflow 99 is not in the registry"), "{e}");
    json(&cli(&["keys", "add", "broke", "--output", "json"]));
    let e = one_line_error(&cli(&["run", "2", "--input", "x", "--from", "broke"]));
    assert!(e.contains("has 0 uhai but workflow 2 costs"), "{e}");
    let e = one_line_error(&cli(&["run", "2", "--input", "x", "--from", "nobody"]));
    assert!(e.contains("key \"nobody\" not found"), "{e}");
    assert_eq!(hai(&caller).await, before);
    // Bad input the chain refuses, the same line on both chains, and no fee paid: a contract
    // error (the caller has earned nothing), and a gas price under the validators' minimum
    // (0.025uhavn; the node's CheckTx refuses it, code 13).
    let creator = json(&cli(&["keys", "show", "creator", "--output", "json"]))["address"]
        .as_str()
        .unwrap()
        .to_string();
    let fees_before = (
        client.balance(&caller, "uhavn").await.unwrap(),
        client.balance(&creator, "uhavn").await.unwrap(),
    );
    let e = one_line_error(&cli(&["claim", "--from", "caller"]));
    assert!(e.contains(&format!("{caller} has nothing to claim")), "{e}");
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(&["claim", "--from", "creator"]);
    let cheap = common::havn(tmp.path(), &all, None, &[("HAVN_CLI_GAS_PRICE", "0.001")]);
    let e = one_line_error(&cheap);
    assert!(e.contains("code 13 (sdk): insufficient fees; got: "), "{e}");
    assert!(e.contains("uhavn: insufficient fee"), "{e}");
    let fees_after = (
        client.balance(&caller, "uhavn").await.unwrap(),
        client.balance(&creator, "uhavn").await.unwrap(),
    );
    assert_eq!(fees_after, fees_before, "a refused tx paid a fee");

    // The router takes only jobs the chain has requested, as requested.
    let channel = tonic::transport::Channel::from_shared(cfg.router.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut router = JobServiceClient::new(channel);
    let version = hex::decode(&lineage_hash(&client, &cfg.contracts.registry).await).unwrap();
    let submit = |chain_job_id: u64, input: &str| SubmitJobRequest {
        workflow: Some(WorkflowRef {
            workflow_id: 2,
            version_hash: version.clone(),
        }),
        input: Some(submit_job_request::Input::InlineInput(input.into())),
        caller: caller.clone(),
        chain_job_id,
        ..Default::default()
    };
    for (id, input, why) in [
        (0, "x", "request the job on the execution log first"),
        (job, "grace hopper, ink", "already valid"),
        (77, "x", "not requested on chain"),
    ] {
        let status = router.submit_job(submit(id, input)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
        assert!(status.message().contains(why), "{id}: {}", status.message());
    }

    if chain == "havnd" {
        cosmjs_publishes_over_cometbft_rpc(&report, &dir, &cfg, &client).await;
    }

    // Ctrl-C: every daemon stops, the chain keeps its state, `havn` exits 0.
    unsafe {
        libc::kill(up.id() as libc::pid_t, libc::SIGINT);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(s) = up.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "havn did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} still running");
    }
    if chain == "devnet" {
        assert!(dir.join("devnet.snapshot").exists());
    } else {
        // CometBFT signed past genesis and left its state and WAL for a restart.
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("havnd/data/priv_validator_state.json")).unwrap(),
        )
        .unwrap();
        assert!(state["height"].as_str().unwrap().parse::<u64>().unwrap() > 10);
        assert!(dir.join("havnd/data/cs.wal").exists());
    }
}

/// Which of `ids` are the node's audits: jobs of an epoch it committed a tree for (on chain)
/// whose leaf in that tree, derived from its key as its daemon derives it, says so.
async fn audits_among(
    client: &Client,
    d: &havn_chain::havn::Deployment,
    dir: &Path,
    ids: &[u64],
) -> Vec<u64> {
    use havn_execution_log::msg::{EpochResponse, QueryMsg};
    let cfg: havn_node::NodeConfig =
        havn_mesh_common::config::load(Some(&dir.join("node.toml")), "HAVN_TEST_UNUSED").unwrap();
    let master = havn_node::audits::master_secret(&cfg.key().unwrap());
    let params: havn_execution_log::state::Params =
        client.smart(&d.log, &QueryMsg::Params {}).await.unwrap();
    let mut audits = vec![];
    for &id in ids {
        let job: havn_execution_log::state::Job =
            client.smart(&d.log, &QueryMsg::Job { id }).await.unwrap();
        let epoch = havn_types::sampling::epoch_of(job.requested_height, params.epoch_blocks);
        let root: Option<cosmwasm_std::HexBinary> = client
            .smart(
                &d.log,
                &QueryMsg::AuditRoot {
                    epoch,
                    node: cfg.operator.clone(),
                },
            )
            .await
            .unwrap();
        if root.is_none() {
            continue;
        }
        let e: EpochResponse = client
            .smart(&d.log, &QueryMsg::Epoch { epoch: Some(epoch) })
            .await
            .unwrap();
        let threshold = havn_types::audit::audit_threshold(e.audit_bps);
        if havn_node::audits::epoch_tree(&master, epoch).is_audit(id, threshold) {
            audits.push(id);
        }
    }
    audits
}

/// Until job `job_id`, requested now, would not be one of the node's audits (1 % of its jobs in
/// an epoch it committed a tree for: answered wrongly on purpose and refunded; the audit test
/// below runs one). The whole loop checks a paid job, so in the rare network whose node's tree
/// makes this job an audit in this epoch, it waits for the next.
async fn not_an_audit(client: &Client, d: &havn_chain::havn::Deployment, dir: &Path, job_id: u64) {
    use havn_execution_log::msg::QueryMsg;
    let cfg: havn_node::NodeConfig =
        havn_mesh_common::config::load(Some(&dir.join("node.toml")), "HAVN_TEST_UNUSED").unwrap();
    let master = havn_node::audits::master_secret(&cfg.key().unwrap());
    let params: havn_execution_log::state::Params =
        client.smart(&d.log, &QueryMsg::Params {}).await.unwrap();
    let threshold = havn_types::audit::audit_threshold(params.audit_bps);
    let start = Instant::now();
    loop {
        let height = client.latest_height().await.unwrap();
        let epoch = havn_types::sampling::epoch_of(height, params.epoch_blocks);
        // Near an epoch's end the request could land in the next one: check both.
        let audit = [epoch, epoch + 1]
            .iter()
            .any(|e| havn_node::audits::epoch_tree(&master, *e).is_audit(job_id, threshold));
        if !audit {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "job {job_id} is an audit"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// An app developer's client, cosmjs (sdk/tests/js), against havnd's CometBFT RPC: it lists the
/// registry's workflows, publishes one signed by the creator's mnemonic with "auto" fees, and
/// reads the publish event; our gRPC client then sees the same workflow.
async fn cosmjs_publishes_over_cometbft_rpc(
    report: &Value,
    dir: &Path,
    cfg: &havn_sdk::Config,
    client: &Client,
) {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        js.join("node_modules/@cosmjs/cosmwasm-stargate").is_dir(),
        "cosmjs is not installed: run `make js` (npm ci in {})",
        js.display()
    );
    let content_hash = hex::encode(havn_mesh_common::sha256(b"published by cosmjs"));
    let out = Command::new("node")
        .arg(js.join("publish.mjs"))
        .env("RPC", report["rpc"].as_str().unwrap())
        .env("REGISTRY", &cfg.contracts.registry)
        .env("MNEMONIC_FILE", dir.join("keys/creator.mnemonic"))
        .env("CONTENT_HASH", &content_hash)
        .env(
            "FINGERPRINT",
            havn_types::fingerprint::placeholder("cosmjs-published").to_hex(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cosmjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let js: Value = serde_json::from_slice(&out.stdout).unwrap();
    let creator = report["earnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["party"] == "creator")
        .unwrap()["address"]
        .clone();
    assert_eq!(js["address"], creator, "cosmjs derives the same key");
    assert_eq!(js["chain_id"], "havn-local-1");
    assert_eq!(
        js["before"],
        serde_json::json!(["base-diffusion", "watercolor-portraits"])
    );
    assert_eq!(
        js["after"],
        serde_json::json!(["base-diffusion", "watercolor-portraits", "cosmjs-published"])
    );
    assert_eq!(js["workflow_id"], "3");
    assert_eq!(js["creator"], creator);
    assert!(js["gas_used"].as_u64().unwrap() > 50_000);
    let w: havn_workflow_registry::state::Workflow = client
        .smart(
            &cfg.contracts.registry,
            &havn_workflow_registry::msg::QueryMsg::Workflow { id: 3 },
        )
        .await
        .unwrap();
    assert_eq!(w.name, "cosmjs-published");
}

/// The example workflow's manifest hash, as the registry has it.
async fn lineage_hash(client: &Client, registry: &str) -> String {
    let w: havn_workflow_registry::state::Workflow = client
        .smart(
            registry,
            &havn_workflow_registry::msg::QueryMsg::Workflow { id: 2 },
        )
        .await
        .unwrap();
    w.content_hash.to_hex()
}

/// The outcome and reason of every `RecordExecution` entry for `job_id` on chain.
async fn record_outcomes(client: &Client, job_id: u64) -> Vec<(String, String)> {
    let txs = client
        .search_txs(&format!("wasm-havn_job.job_id='{job_id}'"))
        .await
        .unwrap();
    let mut out = vec![];
    for tx in &txs {
        for (ty, attrs) in &tx.events {
            let get = |k: &str| {
                attrs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            if ty == "wasm-havn_job" && get("job_id") == Some(job_id.to_string()) {
                out.push((
                    get("outcome").unwrap_or_default(),
                    get("reason").unwrap_or_default(),
                ));
            }
        }
    }
    out
}

/// Returns wrong bytes of the right shape for the digest workflow, signed properly: a node that
/// fakes with it, and a validator that "re-executes" with it and agrees (a colluder).
struct Fake;

impl havn_mesh_common::pipeline::Executor for Fake {
    fn kind(&self) -> &str {
        havn_mesh_common::pipeline::DIGEST_KIND
    }
    fn runtime(&self) -> (String, String, String) {
        havn_mesh_common::pipeline::DigestExecutor.runtime()
    }
    fn run(
        &self,
        _: &havn_mesh_common::pipeline::Manifest,
        job: &havn_mesh_common::pipeline::JobInput<'_>,
        _: &mut dyn FnMut(u32, u32),
        _: &std::sync::atomic::AtomicBool,
    ) -> Result<Vec<u8>, havn_mesh_common::pipeline::ExecError> {
        Ok(havn_mesh_common::sha256(job.input).to_vec())
    }
}

fn faking() -> havn_mesh_common::pipeline::Executors {
    let mut e = havn_mesh_common::pipeline::Executors::default();
    e.add(std::sync::Arc::new(Fake));
    e
}

/// Issue 19: a creator who publishes a copy under a false fingerprint hides it from the
/// registry's derivative index (the chain cannot read manifests), not from the mesh. Real
/// processes on the devnet: the node recomputes the manifest's fingerprint and refuses the job;
/// a node that skips that check (this process, in its place) runs the next one, and every
/// validator process abstains, so the copy is paid for by nobody.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_under_a_false_fingerprint_is_refused_by_the_node_and_every_validator() {
    use cosmwasm_std::{HexBinary, Uint128};
    use havn_execution_log::msg::QueryMsg as LogQuery;
    use havn_mesh_common::pipeline::{digest_manifest, DigestExecutor, Executors};
    use havn_mesh_proto::v1::JobState;
    use havn_sdk::network::{ChainKind, Network, HAI};
    use havn_workflow_registry::msg::PublishMsg;
    const REFUSED: &str = "the manifest's fingerprint is not the one its version recorded";
    const ABSTAINED: &str = "abstained: the manifest breaks its registry record";

    let tmp = tempfile::tempdir().unwrap();
    let mut net = Network::up_with(&tmp.path().join("network"), ChainKind::Devnet, &[], |_| {})
        .await
        .unwrap();
    let (d, client, keys) = (net.deployment.clone(), net.client.clone(), net.keys.clone());
    let msg = |name: &str, manifest: &[u8], fingerprint: HexBinary| PublishMsg {
        name: name.into(),
        content_hash: hex::encode(havn_mesh_common::sha256(manifest)),
        price: Uint128::new(5 * HAI),
        split: None,
        dependencies: vec![],
        parent: None,
        artifacts: vec![],
        metadata: None,
        fingerprint: Some(fingerprint),
    };
    let honest = |manifest: &[u8]| havn_sdk::check_manifest(manifest).unwrap().fingerprint;

    // An original, and a copy of it under another name (a name is not a feature).
    let (original, _) = digest_manifest("original", 10);
    let (copy, version) = digest_manifest("copy", 10);
    let original_id = d
        .publish(
            &client,
            &keys.get("upstream-a").unwrap(),
            msg("original", &original, honest(&original)),
        )
        .await
        .unwrap();
    let creator = keys.get("creator").unwrap();
    let e = d
        .publish(&client, &creator, msg("copy", &copy, honest(&copy)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "10000 bps similar to workflow {original_id} version 1"
        )),
        "{e}"
    );
    let lie = havn_types::fingerprint::placeholder("resembles nothing");
    let copy_id = d
        .publish(&client, &creator, msg("copy", &copy, lie))
        .await
        .unwrap();
    havn_mesh_common::artifacts::ArtifactDir::open(&net.dir.join("router/artifacts"))
        .unwrap()
        .put(&copy)
        .unwrap();

    // Each job requested on chain, then handed to the router.
    let caller = keys.get("caller").unwrap();
    let mut router = havn_sdk::jobs::router(&net.router, &Default::default())
        .await
        .unwrap();
    let mut request = async |input: &str| -> u64 {
        let hash = HexBinary::from(havn_mesh_common::sha256(input.as_bytes()).as_slice());
        let paid = d
            .request_msg(&client, &caller, copy_id, 5 * HAI, hash)
            .unwrap();
        let tx = client.send_tx(&caller, vec![paid]).await.unwrap();
        let id = havn_chain::havn::attributes(&tx, "job_id")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        router
            .submit_job(SubmitJobRequest {
                workflow: Some(WorkflowRef {
                    workflow_id: copy_id,
                    version_hash: version.to_vec(),
                }),
                input: Some(submit_job_request::Input::InlineInput(input.into())),
                caller: caller.address().to_string(),
                chain_job_id: id,
                ..Default::default()
            })
            .await
            .unwrap();
        id
    };
    let dir = net.dir.clone();
    // A line of daemon `name`'s log about job `id` that says all of `what` (colours stripped).
    let logged = |name: &str, id: u64, what: &[&str]| {
        let log = std::fs::read_to_string(dir.join(format!("logs/{name}.log"))).unwrap_or_default();
        log.lines().map(without_colours).any(|l| {
            l.split_whitespace().any(|w| w == format!("job={id}"))
                && what.iter().all(|w| l.contains(w))
        })
    };
    let until = async |what: &str, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(90), "{what}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };

    // The node process refuses it before running anything.
    let refused = request("hidden copy").await;
    until("the node did not refuse the copy", &|| {
        logged("node", refused, &["job failed", REFUSED])
    })
    .await;

    // In its place, a node that does not check (no registry to read) runs the next one.
    net.stop_daemon("node").unwrap();
    let mut cfg: havn_node::NodeConfig =
        havn_mesh_common::config::load(Some(&net.dir.join("node.toml")), "HAVN_TEST_UNUSED")
            .unwrap();
    cfg.chain.as_mut().unwrap().registry.clear();
    let key = cfg.key().unwrap();
    let mut executors = Executors::default();
    executors.add(std::sync::Arc::new(DigestExecutor));
    let node = havn_node::Node::start(cfg, key, executors).await.unwrap();
    let (stop_node, node_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(node.run(async {
        let _ = node_stopped.await;
    }));
    net.wait_connected(1, 4).await.unwrap();
    let ran = request("hidden copy, again").await;
    let validators: Vec<String> = (0..4).map(|i| format!("validator-{i}")).collect();
    until("not every validator abstained", &|| {
        validators
            .iter()
            .all(|v| logged(v, ran, &[ABSTAINED, REFUSED]))
    })
    .await;
    // It has the node's result and no signature; on chain, neither job was ever recorded.
    let job = router
        .get_job(havn_mesh_proto::v1::GetJobRequest {
            job_id: ran,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert!(job.output.is_some(), "{job:?}");
    assert!(job.attestations.is_empty(), "{job:?}");
    assert_ne!(job.state, JobState::Verified as i32);
    for id in [refused, ran] {
        let on_chain: havn_execution_log::state::Job =
            client.smart(&d.log, &LogQuery::Job { id }).await.unwrap();
        assert_eq!(on_chain.status, JobStatus::Pending, "job {id}");
    }
    let _ = stop_node.send(());
}

/// `line` without its ANSI colour sequences (the daemons colour their fields).
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut escape = false;
    for c in line.chars() {
        match (escape, c) {
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, '\x1b') => escape = true,
            (false, c) => plain.push(c),
        }
    }
    plain
}

/// Verification v2 on the devnet, through the real contracts, at the shipped defaults (sample
/// rate, `p_min`, slashes, quorum): one node fakes 200 jobs; three validator processes are
/// honest and the fourth (in this process) colludes, "re-executing" with the node's fake and
/// signing Valid. A fake is caught when an honest validator is drawn (its Invalid escalates the
/// job to all); the count must match that model, each caught job must end Invalid on chain with
/// the caller refunded, the node must lose `slash_fraud` of its stake for every one of them
/// (jailed after the first, it is still slashed for the jobs it had taken), and the colluder
/// `slash_false_attestation` for every caught job its re-executed Valid was counted on. Every
/// job is leased before any is judged (the node's slots hold them all), so the jail cuts nothing
/// short; a job requested after it goes to no node.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_faking_200_jobs_on_the_devnet_is_caught_as_the_model_says_and_slashed_for_each() {
    use cosmwasm_std::{HexBinary, Uint128};
    use havn_execution_log::msg::QueryMsg as LogQuery;
    use havn_mesh_proto::v1::JobState;
    use havn_sdk::jobs;
    use havn_sdk::network::{ChainKind, Network, HAI};
    use havn_staking::msg::{OperatorResponse, QueryMsg as StakingQuery};
    use havn_staking::state::Role;
    use havn_types::sampling::epoch_of;
    const JOBS: usize = 200;
    const PRICE: u128 = 5 * HAI;
    const COLLUDER: &str = "validator-3";

    let tmp = tempfile::tempdir().unwrap();
    let mut net = Network::up_with(
        &tmp.path().join("network"),
        ChainKind::Devnet,
        &["node", COLLUDER],
        |_| {},
    )
    .await
    .unwrap();
    let (d, client) = (net.deployment.clone(), net.client.clone());
    let keys = net.keys.clone();
    let address = |name: &str| keys.get(name).unwrap().address().to_string();
    let operator = |client: Client, staking: String, who: String| async move {
        let o: OperatorResponse = client
            .smart(&staking, &StakingQuery::Operator { address: who })
            .await
            .unwrap();
        o
    };
    // The faking node bonds for all 200 jobs at once: the router gives a node 16 slots per
    // `min_stake_node` it bonds (its shipped `slots_per_stake_unit`), so 13 × the minimum holds
    // 208 and every job is leased before any is judged. (At the minimum it would hold 16, and its
    // jail after the first caught fake would leave the rest with no node.)
    const SLOTS_PER_STAKE_UNIT: u128 = 16;
    let params: havn_staking::state::Params = client
        .smart(&d.staking, &StakingQuery::Params {})
        .await
        .unwrap();
    let min_stake = params.min_stake_node.u128();
    let wanted = (JOBS as u128).div_ceil(SLOTS_PER_STAKE_UNIT) * min_stake;
    let node_wallet = keys.get("node").unwrap();
    let have = operator(client.clone(), d.staking.clone(), address("node"))
        .await
        .node_stake
        .u128();
    // What the node does not hold itself comes from the deployer.
    let held: cw20::BalanceResponse = client
        .smart(
            &d.token,
            &cw20::Cw20QueryMsg::Balance {
                address: address("node"),
            },
        )
        .await
        .unwrap();
    let short = (wanted - have).saturating_sub(held.balance.u128());
    client
        .execute(
            &keys.get("deployer").unwrap(),
            &d.token,
            &cw20::Cw20ExecuteMsg::Transfer {
                recipient: address("node"),
                amount: Uint128::new(short),
            },
            &[],
        )
        .await
        .unwrap();
    d.bond(&client, &node_wallet, Role::Node, wanted - have, None)
        .await
        .unwrap();
    let bonded_at = Instant::now();
    let bonded = operator(client.clone(), d.staking.clone(), address("node"))
        .await
        .node_stake;
    assert_eq!(bonded.u128(), wanted);
    // Every validator bonded the same, at the minimum.
    let validator_bonded = operator(client.clone(), d.staking.clone(), address(COLLUDER))
        .await
        .validator_stake;

    // A cheap deterministic workflow the faker can fake, published and served by the router.
    let (manifest, version) = havn_mesh_common::pipeline::digest_manifest("fakeable", 10);
    havn_mesh_common::artifacts::ArtifactDir::open(&net.dir.join("router/artifacts"))
        .unwrap()
        .put(&manifest)
        .unwrap();
    let workflow = d
        .publish(
            &client,
            &net.keys.get("creator").unwrap(),
            havn_workflow_registry::msg::PublishMsg {
                name: "fakeable-digest".into(),
                content_hash: hex::encode(version),
                price: Uint128::new(PRICE),
                split: None,
                dependencies: vec![],
                parent: None,
                artifacts: vec![],
                metadata: None,
                fingerprint: Some(havn_sdk::check_manifest(&manifest).unwrap().fingerprint),
            },
        )
        .await
        .unwrap();

    // The colluder, configured and bonded like the others.
    let (stop_colluder, stopped) = tokio::sync::oneshot::channel::<()>();
    let cfg: havn_validator::ValidatorConfig = havn_mesh_common::config::load(
        Some(&net.dir.join(format!("{COLLUDER}.toml"))),
        "HAVN_TEST_UNUSED",
    )
    .unwrap();
    let key = cfg.key().unwrap();
    let colluder = havn_validator::Validator::start(cfg, key, faking())
        .await
        .unwrap();
    tokio::spawn(colluder.run(async {
        let _ = stopped.await;
    }));
    net.wait_connected(0, 4).await.unwrap();

    // The draws a running network makes: by seeds committed for the epoch (the validators
    // commit for the next ones when they start), so the jobs wait for the first such epoch.
    let start = Instant::now();
    loop {
        let e: havn_execution_log::msg::EpochResponse = client
            .smart(&d.log, &LogQuery::Epoch { epoch: None })
            .await
            .unwrap();
        if e.committed == 4 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "epoch {} has {} committed seeds",
            e.current,
            e.committed
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // 200 requests on chain (ten per transaction), all handed to the router before the node.
    let caller = net.keys.get("caller").unwrap();
    let paid_before = d.hai_balance(&client, &address("caller")).await.unwrap();
    let inputs: Vec<Vec<u8>> = (0..JOBS)
        .map(|i| format!("fake {i}").into_bytes())
        .collect();
    let mut ids: Vec<u64> = vec![];
    for chunk in inputs.chunks(10) {
        let msgs = chunk
            .iter()
            .map(|input| {
                let hash = HexBinary::from(havn_mesh_common::sha256(input).as_slice());
                d.request_msg(&client, &caller, workflow, PRICE, hash)
                    .unwrap()
            })
            .collect();
        let tx = client.send_tx(&caller, msgs).await.unwrap();
        ids.extend(havn_chain::havn::attributes(&tx, "job_id").map(|v| v.parse::<u64>().unwrap()));
    }
    assert_eq!(ids.len(), JOBS);
    let mut router = jobs::router(&net.router, &Default::default())
        .await
        .unwrap();
    for (input, &id) in inputs.iter().zip(&ids) {
        router
            .submit_job(havn_mesh_proto::v1::SubmitJobRequest {
                workflow: Some(havn_mesh_proto::v1::WorkflowRef {
                    workflow_id: workflow,
                    version_hash: version.to_vec(),
                }),
                input: Some(submit_job_request::Input::InlineInput(input.clone())),
                seed: 7,
                caller: caller.address().to_string(),
                chain_job_id: id,
                ..Default::default()
            })
            .await
            .unwrap();
    }

    // The faking node: its slots take every queued job at once.
    let (stop_node, node_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut cfg: havn_node::NodeConfig =
        havn_mesh_common::config::load(Some(&net.dir.join("node.toml")), "HAVN_TEST_UNUSED")
            .unwrap();
    cfg.slots = JOBS as u32;
    // The router reads stakes every operators_refresh_ms: two of them and it has the new bond.
    let refresh = Duration::from_millis(cfg.chain.as_ref().unwrap().operators_refresh_ms);
    tokio::time::sleep((bonded_at + 2 * refresh).saturating_duration_since(Instant::now())).await;
    let key = cfg.key().unwrap();
    cfg.chain
        .as_ref()
        .unwrap()
        .join_as_operator(&cfg.operator)
        .await
        .unwrap();
    let node = havn_node::Node::new(cfg, key, faking()).unwrap();
    tokio::spawn(node.run(async {
        let _ = node_stopped.await;
    }));

    // Every job reaches its verdict in the router's job state, which carries the chain's:
    // refunded (proven invalid) when caught, else recorded Valid, or refused by the chain once
    // the node's jail landed (a dead letter, with the chain's reason). Or it is stranded: put
    // back in the queue (its lease ran out on a loaded machine), with no node left that may take
    // it; its fee goes back to the caller at the deadline.
    let (mut caught, mut colluded, mut refused_in_mesh) = (vec![], 0, vec![]);
    let (mut verdicts, mut stranded) = (std::collections::BTreeMap::new(), vec![]);
    let (start, mut queued_since) = (Instant::now(), None);
    loop {
        let mut open = vec![];
        let waiting: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| !verdicts.contains_key(id))
            .collect();
        for id in waiting {
            let e = router
                .get_job(havn_mesh_proto::v1::GetJobRequest {
                    job_id: id,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .job
                .unwrap();
            if jobs::has_verdict(&e) {
                verdicts.insert(id, e);
            } else {
                open.push(e);
            }
        }
        if open.is_empty() {
            break;
        }
        // Queued for 20 s with the only node jailed, or having failed them (a job never goes
        // back to a node that failed it): no node will take them.
        if open.iter().all(|e| e.state == JobState::Queued as i32) {
            let since = *queued_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(20) {
                stranded = open.iter().map(|e| e.job_id).collect();
                break;
            }
        } else {
            queued_since = None;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "jobs without a verdict after 300 s: {open:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for (&id, e) in &verdicts {
        match JobState::try_from(e.state).unwrap() {
            JobState::Refunded => {
                assert!(
                    e.reason.contains("proven invalid"),
                    "job {id}: {}",
                    e.reason
                );
                caught.push(id);
                // The colluder's re-executed Valid, if the router heard it before its jail.
                colluded += e
                    .attestations
                    .iter()
                    .filter(|a| {
                        a.validator == address(COLLUDER)
                            && a.verdict == havn_mesh_proto::v1::Verdict::Valid as i32
                            && a.check > 0
                    })
                    .count();
            }
            JobState::Recorded | JobState::Paid => {
                assert_eq!(e.chain.as_ref().map(|c| c.window_ends > 0), Some(true));
            }
            JobState::Rejected => {
                let not_bonded = format!("{} is not a bonded, unjailed node", address("node"));
                assert!(e.reason.contains(&not_bonded), "job {id}: {}", e.reason);
                refused_in_mesh.push(id);
            }
            other => panic!("job {id} ended {other:?}: {}", e.reason),
        }
    }
    // On chain: every caught job Invalid; every other one recorded Valid, or, once the node is
    // jailed, refused (`NodeNotActive`): a caught node is paid for nothing still in flight, and
    // those fees go back to the caller at the job's deadline.
    let start = Instant::now();
    let (mut jobs_on_chain, mut refused_on_chain) = (vec![], vec![]);
    for &id in &ids {
        if stranded.contains(&id) {
            // Never run to a result: nothing was recorded, and nothing for the model.
            let job: havn_execution_log::state::Job =
                client.smart(&d.log, &LogQuery::Job { id }).await.unwrap();
            assert_eq!(job.status, JobStatus::Pending, "stranded job {id}");
            continue;
        }
        let job = loop {
            let job: havn_execution_log::state::Job =
                client.smart(&d.log, &LogQuery::Job { id }).await.unwrap();
            let done = if caught.contains(&id) {
                job.status == JobStatus::Invalid
            } else if matches!(job.status, JobStatus::Recorded | JobStatus::Valid) {
                true
            } else {
                assert_eq!(job.status, JobStatus::Pending, "job {id}");
                let refused = record_outcomes(&client, id)
                    .await
                    .into_iter()
                    .any(|(o, why)| {
                        o == "rejected"
                            && why == format!("{} is not a bonded, unjailed node", address("node"))
                    });
                if refused {
                    refused_on_chain.push(id);
                }
                refused
            };
            if done {
                break job;
            }
            assert!(
                start.elapsed() < Duration::from_secs(240),
                "job {id} is {:?} on chain, the mesh says {}",
                job.status,
                if caught.contains(&id) {
                    "caught"
                } else {
                    "valid"
                }
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        jobs_on_chain.push(job);
    }
    // The mesh says what the chain did: the jobs it refused are the router's dead letters.
    assert_eq!(refused_in_mesh, refused_on_chain);
    let mut settlements = jobs::settlements(&net.router, &Default::default())
        .await
        .unwrap();
    let letters: Vec<u64> = jobs::dead_letters(&mut settlements)
        .await
        .unwrap()
        .iter()
        .map(|l| l.job.as_ref().unwrap().job_id)
        .collect();
    assert_eq!(letters, refused_on_chain);
    let unpaid = refused_on_chain.len();

    // Each honest validator sent its own challenges (Invalid, on chain) without losing one to
    // its account's sequence: a burst of them used to collide and most were dropped.
    for i in 0..3 {
        let log = std::fs::read_to_string(net.dir.join(format!("logs/validator-{i}.log"))).unwrap();
        assert!(
            !log.contains("account sequence mismatch"),
            "validator-{i} lost a transaction to its own account sequence"
        );
    }

    // The model: each honest validator draws a job by its seed committed for the job's epoch
    // (threshold from `p_min` and the committed count), else by its local `sample_rate`.
    let params: havn_execution_log::state::Params =
        client.smart(&d.log, &LogQuery::Params {}).await.unwrap();
    let local = havn_validator::ValidatorConfig::default().sample_rate;
    let (mut mean, mut var) = (0.0, 0.0);
    let mut epochs = std::collections::BTreeMap::new();
    for job in &jobs_on_chain {
        let epoch = epoch_of(job.requested_height, params.epoch_blocks);
        if let std::collections::btree_map::Entry::Vacant(slot) = epochs.entry(epoch) {
            let e: havn_execution_log::msg::EpochResponse = client
                .smart(&d.log, &LogQuery::Epoch { epoch: Some(epoch) })
                .await
                .unwrap();
            let mut rates = vec![];
            for v in (0..3).map(|i| address(&format!("validator-{i}"))) {
                let seed: Option<havn_execution_log::state::Seed> = client
                    .smart(
                        &d.log,
                        &LogQuery::Seed {
                            epoch,
                            validator: v,
                        },
                    )
                    .await
                    .unwrap();
                rates.push(match seed {
                    Some(_) => e.threshold.u64() as f64 / 2f64.powi(64),
                    None => local,
                });
            }
            slot.insert(rates);
        }
        let p = 1.0 - epochs[&epoch].iter().map(|r| 1.0 - r).product::<f64>();
        mean += p;
        var += p * (1.0 - p);
    }
    let sd = f64::sqrt(var);
    println!(
        "caught {} of {JOBS} faked jobs ({:.1} %), model {mean:.1} ± {sd:.1} (epochs and rates {epochs:?})",
        caught.len(),
        100.0 * caught.len() as f64 / JOBS as f64,
    );
    assert!(
        (caught.len() as f64 - mean).abs() <= 3.29 * sd,
        "caught {}, model {mean:.1} ± {:.1} (99.9 %)",
        caught.len(),
        3.29 * sd
    );
    assert!(!caught.is_empty());

    // The slashes, by the staking contract's own rounding, once per caught job.
    let staking: havn_staking::state::Params = client
        .smart(&d.staking, &StakingQuery::Params {})
        .await
        .unwrap();
    let after = |stake: Uint128, cuts: usize, fraction| {
        (0..cuts).fold(stake, |s: Uint128, _| s - s.mul_floor(fraction))
    };
    let node = operator(client.clone(), d.staking.clone(), address("node")).await;
    assert_eq!(
        node.node_stake,
        after(bonded, caught.len(), staking.slash_fraud),
        "the node loses slash_fraud for each of its {} caught fakes",
        caught.len()
    );
    assert!(node.jailed_until.is_some() && !node.node_active);
    println!(
        "the router heard the colluder's re-executed Valid in time on {colluded} of the caught jobs; {unpaid} uncaught fakes refused as the node's jail landed first; {} stranded in the queue",
        stranded.len()
    );
    // Every caught job was escalated to the colluder, which "re-executed" and signed Valid: it
    // is slashed once for each, by the log where its vote counted, by the router's report after
    // the batch, or, for a vote that came after the honest quorum decided, by the router's
    // late report (`ReportFalseAttestation` once the job is Invalid on chain).
    let want = after(
        validator_bonded,
        caught.len(),
        staking.slash_false_attestation,
    );
    let start = Instant::now();
    let colluder = loop {
        let o = operator(client.clone(), d.staking.clone(), address(COLLUDER)).await;
        if o.validator_stake <= want || start.elapsed() > Duration::from_secs(150) {
            break o;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(colluder.validator_stake, want);
    assert!(colluder.jailed_until.is_some());
    for i in 0..3 {
        let honest = operator(
            client.clone(),
            d.staking.clone(),
            address(&format!("validator-{i}")),
        )
        .await;
        assert_eq!(
            honest.validator_stake, validator_bonded,
            "validator-{i} is honest"
        );
    }
    // Caught jobs were refunded; the others' fees stay escrowed or paid out.
    let paid = (JOBS - caught.len()) as u128;
    assert_eq!(
        d.hai_balance(&client, &address("caller")).await.unwrap(),
        paid_before - paid * PRICE
    );

    // The router stopped leasing to the jailed node: a new job waits for an active one.
    let input = b"after the jail".to_vec();
    let requested = jobs::request(&client, &d, &caller, workflow, &input)
        .await
        .unwrap();
    jobs::submit(&mut router, &requested, &caller, input, 7)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let e = router
        .get_job(havn_mesh_proto::v1::GetJobRequest {
            job_id: requested.job_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(e.state, JobState::Queued as i32, "leased to a jailed node");

    let _ = (stop_node.send(()), stop_colluder.send(()));
    net.stop();
}

/// Signs every job Valid as "re-executed" without running anything: a validator that pretends
/// to check. Its own runs are honest, so it passes for honest everywhere but an audit.
struct Pretend;

impl havn_mesh_common::pipeline::Executor for Pretend {
    fn kind(&self) -> &str {
        havn_mesh_common::pipeline::DIGEST_KIND
    }
    fn runtime(&self) -> (String, String, String) {
        havn_mesh_common::pipeline::DigestExecutor.runtime()
    }
    fn run(
        &self,
        manifest: &havn_mesh_common::pipeline::Manifest,
        job: &havn_mesh_common::pipeline::JobInput<'_>,
        progress: &mut dyn FnMut(u32, u32),
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<Vec<u8>, havn_mesh_common::pipeline::ExecError> {
        havn_mesh_common::pipeline::DigestExecutor.run(manifest, job, progress, cancel)
    }
    fn verify(
        &self,
        _: &havn_mesh_common::pipeline::Manifest,
        _: &havn_mesh_common::pipeline::JobInput<'_>,
        _: &[u8],
        _: &std::sync::atomic::AtomicBool,
    ) -> Result<havn_mesh_common::pipeline::Judgement, havn_mesh_common::pipeline::ExecError> {
        Ok(havn_mesh_common::pipeline::Judgement::exact())
    }
}

/// Audits on the devnet at the shipped defaults (`audit_bps` 1 %, `p_min`, the slashes, the
/// windows): the node process commits a tree for each coming epoch and proves every job it ran;
/// the test, holding the node's key, requests jobs on chain until one is an audit of the node's
/// tree (the chain fixes the ids; the rest are never run), and runs that one and an ordinary
/// job of the same epoch through the mesh. The ordinary job is proven clear and paid. The audit
/// is answered wrongly, so it ends Invalid whichever way it goes: a drawn honest validator
/// catches it and escalates it, or it is recorded Valid and the node's proof disputes it, and
/// the honest validators re-execute the task they had kept and challenge it on chain. The
/// caller gets that fee back, the node and the honest validators lose nothing, and the fourth
/// validator, run here, which claims a re-execution on every job without running one, loses
/// `slash_false_attestation`. (It sets `sample_rate` 1 and commits no seed, so its every vote
/// claims a re-execution: the lie is on record on every job, not only on those it is drawn for.)
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_on_the_devnet_is_answered_wrongly_proven_and_catches_a_validator_that_pretends() {
    use cosmwasm_std::{HexBinary, Uint128};
    use havn_execution_log::msg::{EpochResponse, QueryMsg as LogQuery, VotesResponse};
    use havn_execution_log::state::{AuditState, Job};
    use havn_sdk::jobs;
    use havn_sdk::network::{ChainKind, Network, HAI};
    use havn_staking::msg::{OperatorResponse, QueryMsg as StakingQuery};
    use havn_types::audit::audit_threshold;
    use havn_types::sampling::epoch_of;
    const PRICE: u128 = HAI;
    const PRETENDER: &str = "validator-3";

    let tmp = tempfile::tempdir().unwrap();
    let mut net = Network::up_with(
        &tmp.path().join("network"),
        ChainKind::Devnet,
        &[PRETENDER],
        |_| {},
    )
    .await
    .unwrap();
    let (d, client) = (net.deployment.clone(), net.client.clone());
    let keys = net.keys.clone();
    let address = |name: &str| keys.get(name).unwrap().address().to_string();
    let stake = |who: String| {
        let (client, staking) = (client.clone(), d.staking.clone());
        async move {
            let o: OperatorResponse = client
                .smart(&staking, &StakingQuery::Operator { address: who })
                .await
                .unwrap();
            o
        }
    };

    // A cheap deterministic workflow, served by the router.
    let (manifest, version) = havn_mesh_common::pipeline::digest_manifest("auditable", 10);
    havn_mesh_common::artifacts::ArtifactDir::open(&net.dir.join("router/artifacts"))
        .unwrap()
        .put(&manifest)
        .unwrap();
    let workflow = d
        .publish(
            &client,
            &keys.get("creator").unwrap(),
            havn_workflow_registry::msg::PublishMsg {
                name: "auditable-digest".into(),
                content_hash: hex::encode(version),
                price: Uint128::new(PRICE),
                split: None,
                dependencies: vec![],
                parent: None,
                artifacts: vec![],
                metadata: None,
                fingerprint: Some(havn_sdk::check_manifest(&manifest).unwrap().fingerprint),
            },
        )
        .await
        .unwrap();

    // The pretender: the network's config for it, re-executing (so it says) every job.
    let (stop_pretender, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut cfg: havn_validator::ValidatorConfig = havn_mesh_common::config::load(
        Some(&net.dir.join(format!("{PRETENDER}.toml"))),
        "HAVN_TEST_UNUSED",
    )
    .unwrap();
    cfg.sample_rate = 1.0;
    let key = cfg.key().unwrap();
    let chain = cfg.chain.clone().unwrap();
    let operators = chain
        .join_as_operator(&cfg.operator)
        .await
        .unwrap()
        .unwrap();
    let (challenge_client, wallet) = chain.connect().await.unwrap();
    let mut pretend = havn_mesh_common::pipeline::Executors::default();
    pretend.add(std::sync::Arc::new(Pretend));
    let pretender = havn_validator::Validator::new(cfg, key, operators, pretend)
        .unwrap()
        .for_deployment(client.chain_id(), &d.log)
        .with_challenger(havn_validator::Challenger {
            client: challenge_client,
            wallet,
            execution_log: d.log.clone(),
        });
    tokio::spawn(pretender.run(async {
        let _ = stopped.await;
    }));
    net.wait_connected(1, 4).await.unwrap();
    let bonded = stake(address(PRETENDER)).await.validator_stake;
    let honest_bonded = stake(address("validator-0")).await.validator_stake;
    let node_bonded = stake(address("node")).await.node_stake;

    // The node's trees, as its daemon derives them from its key.
    let node_cfg: havn_node::NodeConfig =
        havn_mesh_common::config::load(Some(&net.dir.join("node.toml")), "HAVN_TEST_UNUSED")
            .unwrap();
    let master = havn_node::audits::master_secret(&node_cfg.key().unwrap());
    let params: havn_execution_log::state::Params =
        client.smart(&d.log, &LogQuery::Params {}).await.unwrap();

    // Until an epoch the node committed its tree for, with the three honest validators' seeds.
    let start = Instant::now();
    loop {
        let e: EpochResponse = client
            .smart(&d.log, &LogQuery::Epoch { epoch: None })
            .await
            .unwrap();
        let root: Option<HexBinary> = client
            .smart(
                &d.log,
                &LogQuery::AuditRoot {
                    epoch: e.current,
                    node: address("node"),
                },
            )
            .await
            .unwrap();
        // Late in an epoch the requests below could cross into the next one: wait it out.
        let left = e
            .end_height
            .saturating_sub(client.latest_height().await.unwrap());
        if root.is_some() && e.committed == 3 && left > params.epoch_blocks / 2 {
            assert_eq!(e.auditors, 1);
            assert_eq!(e.audit_bps, params.audit_bps);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(360),
            "epoch {}: node root {root:?}, {} seeds",
            e.current,
            e.committed
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // Requests, twenty per transaction, until one is an audit of the node's tree for its epoch.
    let caller = keys.get("caller").unwrap();
    let mut requested: Vec<(u64, Vec<u8>, u64)> = vec![];
    let audit = 'find: loop {
        let inputs: Vec<Vec<u8>> = (requested.len()..requested.len() + 20)
            .map(|i| format!("audit probe {i}").into_bytes())
            .collect();
        let msgs = inputs
            .iter()
            .map(|input| {
                let hash = HexBinary::from(havn_mesh_common::sha256(input).as_slice());
                d.request_msg(&client, &caller, workflow, PRICE, hash)
                    .unwrap()
            })
            .collect();
        let tx = client.send_tx(&caller, msgs).await.unwrap();
        let ids: Vec<u64> = havn_chain::havn::attributes(&tx, "job_id")
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(ids.len(), inputs.len());
        let epoch = epoch_of(tx.height, params.epoch_blocks);
        let tree = havn_node::audits::epoch_tree(&master, epoch);
        let threshold = audit_threshold(params.audit_bps);
        for (id, input) in ids.into_iter().zip(inputs) {
            requested.push((id, input, epoch));
            if tree.is_audit(id, threshold) {
                break 'find requested.len() - 1;
            }
        }
        // At 1 %, 1 500 jobs without an audit happen once in 3 million runs.
        assert!(
            requested.len() < 1_500,
            "no audit in {} jobs",
            requested.len()
        );
    };
    let (audit_id, audit_input, epoch) = requested[audit].clone();
    // An ordinary job of the same epoch: the one before the audit, else a new one.
    let (honest_id, honest_input) = match audit.checked_sub(1).map(|i| &requested[i]) {
        Some((id, input, e)) if *e == epoch => (*id, input.clone()),
        _ => {
            let input = b"an ordinary job".to_vec();
            let r = jobs::request(&client, &d, &caller, workflow, &input)
                .await
                .unwrap();
            (r.job_id, input)
        }
    };
    for id in [audit_id, honest_id] {
        let job: Job = client.smart(&d.log, &LogQuery::Job { id }).await.unwrap();
        assert_eq!(epoch_of(job.requested_height, params.epoch_blocks), epoch);
    }
    println!(
        "job {audit_id} is the node's first audit in epoch {epoch}, after {} requests",
        requested.len()
    );
    let caller_before = d.hai_balance(&client, &address("caller")).await.unwrap();

    let mut router = jobs::router(&net.router, &Default::default())
        .await
        .unwrap();
    for (id, input) in [(honest_id, &honest_input), (audit_id, &audit_input)] {
        router
            .submit_job(SubmitJobRequest {
                workflow: Some(WorkflowRef {
                    workflow_id: workflow,
                    version_hash: version.to_vec(),
                }),
                input: Some(submit_job_request::Input::InlineInput(input.clone())),
                seed: 7,
                caller: caller.address().to_string(),
                chain_job_id: id,
                ..Default::default()
            })
            .await
            .unwrap();
    }

    // The ordinary job: proven not an audit, paid when its window ends.
    wait_for(&client, &d, &[honest_id], JobStatus::Valid).await;
    let honest: Job = client
        .smart(&d.log, &LogQuery::Job { id: honest_id })
        .await
        .unwrap();
    assert_eq!(honest.audit, AuditState::Clear);

    // The audit: Invalid, proven an audit (so the node is excused), its fee back to the caller.
    let start = Instant::now();
    let job = loop {
        let job: Job = client
            .smart(&d.log, &LogQuery::Job { id: audit_id })
            .await
            .unwrap();
        if job.status == JobStatus::Invalid && job.audit == AuditState::Audit {
            break job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "audit job {audit_id}: {:?}, {:?}, outcomes {:?}",
            job.status,
            job.audit,
            record_outcomes(&client, audit_id).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let claimed = job.result.as_ref().unwrap();
    assert_eq!(claimed.node.as_str(), address("node"));
    let digest = havn_mesh_common::pipeline::DigestExecutor;
    let honest_output = havn_mesh_common::pipeline::Executor::run(
        &digest,
        &havn_mesh_common::pipeline::Manifest::parse(&manifest).unwrap(),
        &havn_mesh_common::pipeline::JobInput {
            input: &audit_input,
            seed: 7,
            parameters: &Default::default(),
        },
        &mut |_, _| {},
        &Default::default(),
    )
    .unwrap();
    assert_ne!(
        claimed.output_hash.as_slice(),
        havn_mesh_common::sha256(&honest_output),
        "an audit is answered wrongly"
    );
    let votes: VotesResponse = client
        .smart(&d.log, &LogQuery::Votes { job_id: audit_id })
        .await
        .unwrap();
    let vote_of = |who: &str| {
        votes
            .votes
            .iter()
            .find(|v| v.validator.as_str() == address(who))
            .cloned()
    };
    // The pretender's re-executed Valid counts on chain unless three challenges decided the
    // job first; then the router reports it (`ReportFalseAttestation`). Either way it pays once.
    if let Some(pretended) = vote_of(PRETENDER) {
        assert_eq!(pretended.verdict, havn_types::Verdict::Valid);
        assert!(pretended.check.reexecuted());
    }
    let caught_by = votes
        .votes
        .iter()
        .filter(|v| v.verdict == havn_types::Verdict::Invalid && v.check.reexecuted())
        .count();
    assert!(caught_by >= 2, "votes {:?}", votes.votes);

    // Who paid: the pretender, once; not the node (an audit), not the honest validators.
    let staking: havn_staking::state::Params = client
        .smart(&d.staking, &StakingQuery::Params {})
        .await
        .unwrap();
    let want = bonded - bonded.mul_floor(staking.slash_false_attestation);
    let start = Instant::now();
    let pretender_now = loop {
        let o = stake(address(PRETENDER)).await;
        if o.validator_stake <= want || start.elapsed() > Duration::from_secs(120) {
            break o;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(pretender_now.validator_stake, want);
    assert_eq!(stake(address("node")).await.node_stake, node_bonded);
    for i in 0..3 {
        assert_eq!(
            stake(address(&format!("validator-{i}")))
                .await
                .validator_stake,
            honest_bonded,
            "validator-{i} is honest"
        );
    }
    assert_eq!(
        d.hai_balance(&client, &address("caller")).await.unwrap(),
        caller_before + PRICE,
        "the audit's fee went back to the caller"
    );
    // The node's daemon says what it did.
    let metrics = std::fs::read_to_string(net.dir.join("logs/node.log")).unwrap();
    assert!(metrics.contains("committed the audit tree"), "node log");
    assert!(metrics.contains("proved audits"), "node log");

    let _ = stop_pretender.send(());
    net.stop();
}
