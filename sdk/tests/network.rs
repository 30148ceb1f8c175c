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
    // share of the fee, and the shares add up to the fee.
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
    assert_eq!(total, fee, "every unit of the fee is paid out");
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
    let watch = cli(&["job", "watch", &job.to_string()]);
    assert!(watch.status.success());
    assert!(String::from_utf8_lossy(&watch.stdout).contains("SETTLED"));
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
