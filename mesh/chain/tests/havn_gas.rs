//! Havn's contracts deployed over gRPC and each hot path measured in SDK gas, on the devnet and
//! on havnd (a real wasmd chain: CometBFT, the SDK's ante handler and gas meter) side by side:
//! the devnet's fidelity table (docs/devnet.md). The settlement path is one `RecordExecution`
//! with the node's claim and 5 validator signatures, then its `Finalize` after the challenge
//! window, alone and as a batch of 32. Needs `make wasm havnd`; `make fidelity` prints the table.

mod common;

use std::path::Path;

use common::{wallet, Devnet, Havnd};
use cosmwasm_std::{HexBinary, Uint128};
use havn_chain::havn::{self, attributes, DeployOptions};
use havn_chain::Client;
use havn_execution_log::msg::{JobResult, NodeClaim, SignedAttestation};
use havn_execution_log::state::JobStatus;
use havn_staking::state::Role;
use havn_types::mesh::ResultClaim;
use havn_types::{Attestation, Check, Verdict};
use k256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};

const HAI: u128 = 1_000_000;
const VALIDATORS: usize = 5;
const SHIPPED_MIN_GAS_PRICE: &str = "0.025";

fn operator_key(name: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("havn-devnet-test-operator/{name}"))).unwrap()
}

fn hash(seed: &str) -> HexBinary {
    HexBinary::from(Sha256::digest(seed).as_slice())
}

/// SDK gas of each hot path, in table order.
type Gas = Vec<Row>;

/// One hot path's tx: its SDK gas and the events it emitted, as (type, attribute keys).
struct Row {
    path: &'static str,
    gas: u64,
    events: Vec<(String, Vec<String>)>,
}

fn row(path: &'static str, tx: &havn_chain::TxResult) -> Row {
    Row {
        path,
        gas: tx.gas_used,
        events: tx
            .events
            .iter()
            .map(|(ty, attrs)| (ty.clone(), attrs.iter().map(|(k, _)| k.clone()).collect()))
            .collect(),
    }
}

fn names() -> Vec<String> {
    ["deployer", "creator", "caller", "node"]
        .iter()
        .map(|s| s.to_string())
        .chain((0..VALIDATORS).map(|i| format!("validator-{i}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_path_gas_on_the_devnet_matches_havnd() {
    let names = names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    // Both at the shipped min gas price, so every tx pays its fee as on a live chain. The
    // challenge window is counted in blocks (the default, 150): fast blocks pass it sooner.
    let devnet = Devnet::start(&names, |g| {
        g.block_time_ms = 20;
        g.min_gas_price = SHIPPED_MIN_GAS_PRICE.into();
    })
    .await;
    let client = devnet.client_with(|c| c.gas_price = 0.025).await;
    let on_devnet = hot_paths(&client).await;
    devnet.stop().await;
    let havnd = Havnd::start_priced(&names, 50, SHIPPED_MIN_GAS_PRICE).await;
    let mut cfg = havnd.client.config().clone();
    cfg.gas_price = 0.025;
    let on_havnd = hot_paths(&Client::connect(cfg).await.unwrap()).await;
    drop(havnd);

    println!("| tx | devnet | havnd | devnet / havnd |");
    println!("|---|---:|---:|---:|");
    for (dev, real) in on_devnet.iter().zip(&on_havnd) {
        println!(
            "| {} | {} | {} | {:.3} |",
            dev.path,
            dev.gas,
            real.gas,
            dev.gas as f64 / real.gas as f64
        );
    }
    for (dev, real) in on_devnet.iter().zip(&on_havnd) {
        let ratio = dev.gas as f64 / real.gas as f64;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "{}: the devnet counts {} gas, havnd {} ({ratio:.3})",
            dev.path,
            dev.gas,
            real.gas
        );
    }
    // The events clients read: the same types, in order, with the same attribute keys on both
    // chains. Keys are compared as sets: wasmd sorts the attributes of a wasm sub-message's
    // events by key (its dispatcher sorts them in place for the reply), the devnet keeps the
    // contract's order; clients look attributes up by key.
    for (dev, real) in on_devnet.iter().zip(&on_havnd) {
        let keys = |r: &Row| -> Vec<(String, Vec<String>)> {
            let mut events = r.events.clone();
            events.iter_mut().for_each(|(_, keys)| keys.sort());
            events
        };
        assert_eq!(keys(dev), keys(real), "{}: events differ", dev.path);
    }
}

/// Deploys Havn on `c` and runs every hot path once: cw20 transfer, bond, publish, 33 requests
/// in one tx, record 1 and 32, finalize 1 and 32, claim.
async fn hot_paths(c: &Client) -> Gas {
    let validators: Vec<String> = (0..VALIDATORS).map(|i| format!("validator-{i}")).collect();
    let names = names();
    let mut gas = Gas::new();
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
            governance: Default::default(),
        },
    )
    .await
    .unwrap();

    // Bank sends in the fee denom: the sender's first tx (the ante handler stores its public
    // key), then to an account that exists, then to one the send creates.
    let caller = wallet("caller");
    let creator_address = wallet("creator").address().to_string();
    let first = c
        .bank_send(&caller, &creator_address, 1_000, "uhavn")
        .await
        .unwrap();
    gas.push(row("bank MsgSend, the sender's first tx", &first));
    let again = c
        .bank_send(&caller, &creator_address, 1_000, "uhavn")
        .await
        .unwrap();
    gas.push(row("bank MsgSend", &again));
    let to_new = c
        .bank_send(
            &caller,
            wallet("newcomer").address().as_ref(),
            1_000,
            "uhavn",
        )
        .await
        .unwrap();
    gas.push(row("bank MsgSend creating the account", &to_new));

    // Uploads of the cw20 module, as is and gzipped (what cosmpy and wasmd's CLI send).
    let wasm = common::artifact("hai_token");
    let raw = store(c, &deployer, wasm.clone()).await;
    gas.push(row("MsgStoreCode (cw20-base)", &raw));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &wasm).unwrap();
    let zipped = store(c, &deployer, gz.finish().unwrap()).await;
    gas.push(row("MsgStoreCode (cw20-base, gzipped)", &zipped));

    let transfer = c
        .execute(
            &wallet("caller"),
            &d.token,
            &cw20::Cw20ExecuteMsg::Transfer {
                recipient: wallet("creator").address().to_string(),
                amount: Uint128::new(HAI),
            },
            &[],
        )
        .await
        .unwrap();
    gas.push(row("cw20-base Transfer", &transfer));
    for v in &validators {
        let bonded = d
            .bond(
                c,
                &wallet(v),
                Role::Validator,
                1_000 * HAI,
                Some(&operator_key(v)),
            )
            .await
            .unwrap();
        if gas.len() == 6 {
            gas.push(row("Bond (cw20 Send, with key proof)", &bonded));
        }
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
    let published = c
        .execute(
            &creator,
            &d.registry,
            &havn_workflow_registry::msg::ExecuteMsg::Publish(
                havn_workflow_registry::msg::PublishMsg {
                    name: "text-to-image".into(),
                    content_hash: hash("manifest").to_hex(),
                    price: Uint128::new(1_000),
                    split: None,
                    dependencies: vec![],
                    parent: None,
                    artifacts: vec![],
                    metadata: None,
                    fingerprint: Some(havn_types::fingerprint::placeholder(
                        &hash("manifest").to_hex(),
                    )),
                },
            ),
            &[],
        )
        .await
        .unwrap();
    gas.push(row("Publish", &published));
    let workflow: u64 = attributes(&published, "workflow_id")
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // 33 requests in one tx.
    let requests = (0..33)
        .map(|i| d.request_msg(c, &caller, workflow, 1_000, hash(&format!("input-{i}"))))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let requested = c.send_tx(&caller, requests).await.unwrap();
    let jobs: Vec<u64> = attributes(&requested, "job_id")
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(jobs.len(), 33);
    gas.push(row("33 RequestJob (cw20 Send) in one tx", &requested));

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
    let claimed = c
        .execute(
            &wallet("node"),
            &d.payout,
            &havn_payout::msg::ExecuteMsg::Claim {},
            &[],
        )
        .await
        .unwrap();
    gas.push(row("RecordExecution, 1 job × 5 signatures", &one));
    gas.push(row("RecordExecution, 32 jobs × 5 signatures", &many));
    gas.push(row("Finalize, 1 job", &fin_one));
    gas.push(row("Finalize, 32 jobs", &fin_many));
    gas.push(row("Claim (payout)", &claimed));
    gas.extend(governance(c, &d, workflow).await);

    let per_job = many.gas_used / 32;
    let fin_per_job = fin_many.gas_used / 32;
    let (total_one, total_many) = (one.gas_used + fin_one.gas_used, per_job + fin_per_job);
    println!(
        "{}: settlement per job: {total_one} alone, {total_many} in a batch of 32 ({:.2}×)",
        c.chain_id(),
        total_many as f64 / total_one as f64
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
    gas
}

/// A proposal to flag the workflow, proposed with a cw20 deposit and voted yes by 3 of the 5
/// validators. Its `Execute` is not measured: governance refuses voting periods under an hour,
/// and a real chain's clock cannot be moved on in a test.
async fn governance(c: &Client, d: &havn::Deployment, workflow: u64) -> Gas {
    use havn_governance::msg::{Action, ExecuteMsg, ProposeMsg, ReceiveMsg};
    use havn_governance::state::{Params, VoteOption};
    let proposal = ProposeMsg {
        title: "flag a spam workflow".into(),
        description: "measured by the fidelity table".into(),
        actions: vec![Action::FlagWorkflow {
            id: workflow,
            reason: havn_workflow_registry::msg::FlagReason::Spam,
            note: None,
        }],
    };
    let proposed = c
        .execute(
            &wallet("creator"),
            &d.token,
            &cw20::Cw20ExecuteMsg::Send {
                contract: d.governance.clone(),
                amount: Params::default().min_deposit,
                msg: cosmwasm_std::to_json_binary(&ReceiveMsg::Propose(proposal)).unwrap(),
            },
            &[],
        )
        .await
        .unwrap();
    let proposal_id: u64 = attributes(&proposed, "proposal_id")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut votes = vec![];
    for i in 0..3 {
        let vote = ExecuteMsg::Vote {
            proposal_id,
            option: VoteOption::Yes,
        };
        let voted = c
            .execute(
                &wallet(&format!("validator-{i}")),
                &d.governance,
                &vote,
                &[],
            )
            .await
            .unwrap();
        votes.push(voted);
    }
    vec![
        row("governance Propose (cw20 deposit)", &proposed),
        row("governance Vote", &votes[0]),
    ]
}

async fn store(c: &Client, wallet: &havn_chain::Wallet, wasm: Vec<u8>) -> havn_chain::TxResult {
    use cosmrs::tx::Msg;
    let msg = cosmrs::cosmwasm::MsgStoreCode {
        sender: wallet.address().clone(),
        wasm_byte_code: wasm,
        instantiate_permission: None,
    }
    .to_any()
    .unwrap();
    c.send_tx(wallet, vec![msg]).await.unwrap()
}
