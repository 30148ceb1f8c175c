//! Havn's contracts deployed on the devnet over gRPC and the settlement path measured in SDK gas
//! as a wasmd chain counts it: one `RecordExecution` with the node's claim and 5 validator
//! signatures, then its `Finalize` after the challenge window, alone and as a batch of 32.
//! Needs `make wasm`.

mod common;

use std::path::Path;

use common::{wallet, Devnet};
use cosmwasm_std::{HexBinary, Uint128};
use havn_chain::havn::{self, attributes, DeployOptions};
use havn_execution_log::msg::{JobResult, NodeClaim, SignedAttestation};
use havn_execution_log::state::JobStatus;
use havn_staking::state::Role;
use havn_types::mesh::ResultClaim;
use havn_types::{Attestation, Check, Verdict};
use k256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};

const HAI: u128 = 1_000_000;
const VALIDATORS: usize = 5;

fn operator_key(name: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("havn-devnet-test-operator/{name}"))).unwrap()
}

fn hash(seed: &str) -> HexBinary {
    HexBinary::from(Sha256::digest(seed).as_slice())
}

#[tokio::test(flavor = "multi_thread")]
async fn record_and_finalize_gas_at_batch_1_and_32() {
    let validators: Vec<String> = (0..VALIDATORS).map(|i| format!("validator-{i}")).collect();
    let mut names = vec!["deployer", "creator", "caller", "node"];
    names.extend(validators.iter().map(String::as_str));
    // The challenge window is counted in blocks (the default, 150): 20 ms blocks pass it in 3 s.
    let devnet = Devnet::start(&names, |g| g.block_time_ms = 20).await;
    let c = &devnet.client;
    let deployer = wallet("deployer");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts");
    let d = havn::deploy(
        c,
        &deployer,
        &artifacts,
        DeployOptions {
            balances: names
                .iter()
                .map(|n| (wallet(n).address().to_string(), 100_000 * HAI))
                .collect(),
            staking: havn_staking::state::Params {
                min_stake_node: Uint128::new(1_000 * HAI),
                min_stake_validator: Uint128::new(1_000 * HAI),
                ..Default::default()
            },
            log: havn_execution_log::state::Params {
                max_batch: 32,
                ..Default::default()
            },
            payout: Default::default(),
        },
    )
    .await
    .unwrap();

    for v in &validators {
        d.bond(
            c,
            &wallet(v),
            Role::Validator,
            1_000 * HAI,
            Some(&operator_key(v)),
        )
        .await
        .unwrap();
    }
    d.bond(
        c,
        &wallet("node"),
        Role::Node,
        1_000 * HAI,
        Some(&operator_key("node")),
    )
    .await
    .unwrap();
    let creator = wallet("creator");
    let workflow = d
        .publish(
            c,
            &creator,
            havn_workflow_registry::msg::PublishMsg {
                name: "text-to-image".into(),
                content_hash: hash("manifest").to_hex(),
                price: Uint128::new(1_000),
                split: None,
                dependencies: vec![],
                parent: None,
            },
        )
        .await
        .unwrap();

    // 33 requests in one tx.
    let caller = wallet("caller");
    let requests = (0..33)
        .map(|i| d.request_msg(c, &caller, workflow, 1_000, hash(&format!("input-{i}"))))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let requested = c.send_tx(&caller, requests).await.unwrap();
    let jobs: Vec<u64> = attributes(&requested, "job_id")
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(jobs.len(), 33);

    let node = wallet("node").address().to_string();
    let mut results = vec![];
    for &job_id in &jobs {
        let job = d.job(c, job_id).await.unwrap();
        let output = hash(&format!("output-{job_id}"));
        let digest = Attestation {
            chain_id: c.chain_id(),
            execution_log: &d.log,
            job_id,
            workflow_id: job.workflow_id,
            version_hash: &job.version_hash.to_array().unwrap(),
            node: &node,
            input_hash: &job.input_hash.to_array().unwrap(),
            output_hash: &output.to_array().unwrap(),
            verdict: Verdict::Valid,
            check: Check::Structural,
        }
        .digest()
        .0;
        let claim = ResultClaim {
            job_id,
            attempt: 1,
            output_hash: &output.to_array().unwrap(),
            executor: "builtin:digest",
            device: "cpu",
        }
        .digest();
        results.push(JobResult {
            job_id,
            node: node.clone(),
            output_hash: output,
            claim: NodeClaim {
                attempt: 1,
                executor: "builtin:digest".into(),
                device: "cpu".into(),
                signature: havn::sign_digest(&operator_key("node"), &claim).unwrap(),
            },
            attestations: validators
                .iter()
                .map(|v| SignedAttestation {
                    validator: wallet(v).address().to_string(),
                    verdict: Verdict::Valid,
                    check: Check::Structural,
                    signature: havn::sign_digest(&operator_key(v), &digest).unwrap(),
                })
                .collect(),
        });
    }
    let relayer = deployer;
    let batch = results.split_off(1);
    let one = d.record(c, &relayer, results).await.unwrap();
    let many = d.record(c, &relayer, batch).await.unwrap();
    let mut window_ends = 0;
    for &job_id in &jobs {
        let job = d.job(c, job_id).await.unwrap();
        assert_eq!(job.status, JobStatus::Recorded, "job {job_id}");
        window_ends = window_ends.max(job.window_ends.unwrap());
    }
    // Finalizing inside the window pays nothing.
    let early = d.finalize(c, &relayer, vec![jobs[0]]).await.unwrap();
    assert_eq!(attributes(&early, "valid").next(), Some("0"));
    while c.latest_height().await.unwrap() < window_ends {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let fin_one = d.finalize(c, &relayer, jobs[..1].to_vec()).await.unwrap();
    let fin_many = d.finalize(c, &relayer, jobs[1..].to_vec()).await.unwrap();
    for &job_id in &jobs {
        assert_eq!(
            d.job(c, job_id).await.unwrap().status,
            JobStatus::Valid,
            "job {job_id}"
        );
    }
    let per_job = many.gas_used / 32;
    let fin_per_job = fin_many.gas_used / 32;
    let (total_one, total_many) = (one.gas_used + fin_one.gas_used, per_job + fin_per_job);
    println!("| settlement | RecordExecution | Finalize | per job, both |");
    println!("|---|---:|---:|---:|");
    println!(
        "| 1 job × 5 signatures | {} | {} | {total_one} |",
        one.gas_used, fin_one.gas_used
    );
    println!(
        "| 32 jobs × 5 signatures, per job | {per_job} | {fin_per_job} | {total_many} ({:.2}× batch 1) |",
        total_many as f64 / total_one as f64
    );
    println!(
        "| 33 RequestJob (cw20 Send) in one tx | {} | {} |",
        requested.gas_used,
        requested.gas_used / 33
    );
    // Plausible: the log, staking and registry queries and the payout call each load an instance
    // (60 000), and 5 secp256k1 verifications cost 686 each.
    assert!(
        (200_000..1_500_000).contains(&one.gas_used),
        "{}",
        one.gas_used
    );
    assert!(
        total_many < total_one / 3,
        "batching must amortize the instance loads: {total_many} per job vs {total_one}"
    );
    assert!(
        fin_per_job < fin_one.gas_used / 3,
        "batched finalization must amortize too: {fin_per_job} vs {}",
        fin_one.gas_used
    );
    devnet.stop().await;
}
