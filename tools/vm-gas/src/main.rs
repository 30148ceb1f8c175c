//! `make gas`: executes the lowered artifacts in `artifacts/` through cosmwasm-vm 2.3.5 (the VM
//! wasmvm 2.x chains embed) and prints the VM gas of each hot path, with ratios against a baseline
//! measured in the same run.
//!
//! The figures cover wasm execution and host calls (e.g. 96 M per `secp256k1_verify`). A real
//! wasmd transaction adds KV-store gas, ~60 000 SDK gas per contract instance loaded, and the tx
//! costs. SDK gas = VM gas / 140 000. Cross-contract queries are answered by the mock querier with
//! the JSON the real contracts return, so their own cost on the queried side is not included.

use cosmwasm_std::{
    coins, to_json_binary, Addr, Binary, ContractResult, Empty, Response, SystemResult, WasmQuery,
};
use cosmwasm_vm::testing::{
    mock_env, mock_instance_with_options, MockApi, MockInstanceOptions, MockQuerier, MockStorage,
};
use cosmwasm_vm::{call_execute, call_instantiate, Instance};
use havn_types::Attestation;
use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

type Vm = Instance<MockApi, MockStorage, MockQuerier>;

const SDK_GAS_MULTIPLIER: u64 = 140_000;
const VALIDATORS: usize = 5;

fn artifact(name: &str) -> Vec<u8> {
    let path = format!("{}/../../artifacts/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; run `make wasm` first"))
}

fn addr(name: &str) -> Addr {
    Addr::unchecked(MockApi::default().addr_make(name))
}

fn key(name: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("havn-gas-key/{name}"))).unwrap()
}

fn sign(key: &SigningKey, digest: &[u8; 32]) -> Binary {
    let sig: Signature = key.sign_prehash(digest).unwrap();
    Binary::from(&sig.to_bytes()[..])
}

fn pubkey(key: &SigningKey) -> Binary {
    Binary::from(key.verifying_key().to_encoded_point(true).as_bytes())
}

fn instance(wasm: &[u8]) -> Vm {
    mock_instance_with_options(
        wasm,
        MockInstanceOptions {
            gas_limit: 1_000_000_000_000_000,
            ..Default::default()
        },
    )
}

fn used(vm: &mut Vm) -> u64 {
    vm.create_gas_report().used_internally
}

/// Instantiates, then returns the VM gas of `execute(msg)` sent by `sender` with `funds`.
fn execute(vm: &mut Vm, sender: &str, msg: &Value, funds: u128) -> u64 {
    execute_at(vm, &mock_env(), sender, msg, funds)
}

/// As `execute`, in the block `env` describes (to pass a challenge window).
fn execute_at(vm: &mut Vm, env: &cosmwasm_std::Env, sender: &str, msg: &Value, funds: u128) -> u64 {
    let before = used(vm);
    let info = cosmwasm_std::MessageInfo {
        sender: addr(sender),
        funds: if funds > 0 {
            coins(funds, "uhai")
        } else {
            vec![]
        },
    };
    let res: ContractResult<Response<Empty>> =
        call_execute(vm, env, &info, &serde_json::to_vec(msg).unwrap()).expect("vm error");
    if let ContractResult::Err(e) = res {
        panic!("{msg}: {e}");
    }
    used(vm) - before
}

fn instantiate(vm: &mut Vm, msg: Value) {
    let info = cosmwasm_std::MessageInfo {
        sender: addr("deployer"),
        funds: vec![],
    };
    let res: ContractResult<Response<Empty>> =
        call_instantiate(vm, &mock_env(), &info, &serde_json::to_vec(&msg).unwrap())
            .expect("vm error");
    if let ContractResult::Err(e) = res {
        panic!("instantiate: {e}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_hex(seed: &str) -> String {
    hex(&Sha256::digest(seed))
}

struct Row {
    what: String,
    gas: u64,
}

fn registry_rows() -> Vec<Row> {
    let mut vm = instance(&artifact("workflow_registry"));
    instantiate(
        &mut vm,
        json!({"admin": addr("gov"), "asset": {"native": "uhai"}, "treasury": addr("treasury"), "params": null}),
    );
    let publish = |name: &str, deps: Value| json!({"publish": {"name": name, "content_hash": hash_hex(name), "price": "100", "split": null, "dependencies": deps, "parent": null}});
    let base = execute(&mut vm, "alice", &publish("base", json!([])), 0);
    let artifact_dep = |seed: &str, w: u16| json!({"target": {"artifact": {"kind": "model", "content_hash": hash_hex(seed), "payee": addr(seed)}}, "weight_bps": w});
    let wf_dep = |id: u64, w: u16| json!({"target": {"workflow": {"id": id}}, "weight_bps": w});
    execute(
        &mut vm,
        "bob",
        &publish("left", json!([wf_dep(1, 6000), artifact_dep("lora", 4000)])),
        0,
    );
    execute(
        &mut vm,
        "carol",
        &publish("right", json!([wf_dep(1, 10000)])),
        0,
    );
    let diamond = execute(
        &mut vm,
        "dave",
        &publish(
            "top",
            json!([
                wf_dep(2, 5000),
                wf_dep(3, 3000),
                artifact_dep("model", 2000)
            ]),
        ),
        0,
    );
    vec![
        Row {
            what: "registry: Publish, no dependencies".into(),
            gas: base,
        },
        Row {
            what: "registry: Publish, diamond (3 deps, depth 2)".into(),
            gas: diamond,
        },
    ]
}

fn staking_rows() -> Vec<Row> {
    let mut vm = instance(&artifact("staking"));
    instantiate(
        &mut vm,
        json!({"admin": addr("gov"), "asset": {"native": "uhai"}, "treasury": addr("treasury"), "execution_log": addr("log"), "params": null}),
    );
    let env = mock_env();
    let op = addr("validator");
    let digest = havn_types::keys::possession_digest(
        &env.block.chain_id,
        env.contract.address.as_str(),
        op.as_str(),
    );
    let k = key("validator");
    let bond = json!({"bond": {"role": "validator", "key": {"pubkey": pubkey(&k), "signature": sign(&k, &digest)}}});
    let first = execute(&mut vm, "validator", &bond, 2_000_000);
    let again = execute(
        &mut vm,
        "validator",
        &json!({"bond": {"role": "validator", "key": null}}),
        1_000_000,
    );
    vec![
        Row {
            what: "staking: first Bond (proof of possession)".into(),
            gas: first,
        },
        Row {
            what: "staking: Bond again (no key)".into(),
            gas: again,
        },
    ]
}

fn log_rows() -> Vec<Row> {
    let mut vm = instance(&artifact("execution_log"));
    let (registry, staking) = (addr("registry"), addr("staking"));
    instantiate(
        &mut vm,
        json!({"admin": addr("gov"), "asset": {"native": "uhai"}, "registry": registry, "staking": staking, "payout": addr("payout"), "params": null}),
    );
    let validators: Vec<(Addr, SigningKey)> = (0..VALIDATORS)
        .map(|i| {
            (
                addr(&format!("validator-{i}")),
                key(&format!("validator-{i}")),
            )
        })
        .collect();
    let set: Vec<Value> = validators
        .iter()
        .map(|(a, k)| json!({"operator": a, "pubkey": pubkey(k), "stake": "1000000"}))
        .collect();
    let run_terms = json!({"id": 1, "runnable": true, "flag": null, "version": 1, "content_hash": hash_hex("manifest"), "creator": addr("creator"), "price": "100",
        "split": {"creator": 4500, "upstream": 2000, "node": 2500, "validator": 500, "treasury": 500},
        "royalty_stack": [{"payee": addr("model-author"), "bps": 2000}]});
    let (registry_s, staking_s) = (registry.to_string(), staking.to_string());
    vm.with_querier(|querier| {
        querier.update_wasm(move |query| {
            let WasmQuery::Smart { contract_addr, msg } = query else { panic!("unexpected query {query:?}") };
            let reply = if *contract_addr == registry_s {
                run_terms.clone()
            } else if *contract_addr == staking_s {
                let nodes = serde_json::from_slice::<Value>(msg).unwrap()["quorum_context"]["nodes"].as_array().map_or(0, Vec::len);
                let status = json!({"active": true, "pubkey": pubkey(&key("node"))});
                json!({"validators": set, "total_stake": (VALIDATORS as u64 * 1_000_000).to_string(), "nodes": vec![status; nodes]})
            } else {
                panic!("query to unknown contract {contract_addr}")
            };
            SystemResult::Ok(ContractResult::Ok(to_json_binary(&reply).unwrap()))
        });
        Ok(())
    })
    .unwrap();

    let env = mock_env();
    let node = addr("node");
    let request = |i: u8| json!({"request_job": {"workflow_id": 1, "input_hash": hash_hex(&format!("input-{i}"))}});
    let result = |job_id: u64, input: u8, signers: usize| {
        let version: [u8; 32] = Sha256::digest("manifest").into();
        let input_hash: [u8; 32] = Sha256::digest(format!("input-{input}")).into();
        let output: [u8; 32] = Sha256::digest("output").into();
        let digest = Attestation {
            chain_id: &env.block.chain_id,
            execution_log: env.contract.address.as_str(),
            job_id,
            workflow_id: 1,
            version_hash: &version,
            node: node.as_str(),
            input_hash: &input_hash,
            output_hash: &output,
            verdict: havn_types::Verdict::Valid,
            check: havn_types::Check::Structural,
        }
        .digest();
        let claim = havn_types::mesh::ResultClaim {
            job_id,
            attempt: 1,
            output_hash: &output,
            executor: "builtin:digest",
            device: "cpu",
        }
        .digest();
        let attestations: Vec<Value> = validators
            .iter()
            .take(signers)
            .map(|(a, k)| json!({"validator": a, "verdict": "valid", "check": "structural", "signature": sign(k, digest.as_bytes())}))
            .collect();
        json!({"job_id": job_id, "node": node, "output_hash": hex(&output),
            "claim": {"attempt": 1, "executor": "builtin:digest", "device": "cpu", "signature": sign(&key("node"), &claim)},
            "attestations": attestations})
    };

    let request_gas = execute(&mut vm, "caller", &request(0), 100);
    let one_of_five = execute(
        &mut vm,
        "relayer",
        &json!({"record_execution": {"results": [result(1, 0, 5)]}}),
        0,
    );
    execute(&mut vm, "caller", &request(1), 100);
    let four = execute(
        &mut vm,
        "relayer",
        &json!({"record_execution": {"results": [result(2, 1, 4)]}}),
        0,
    );
    let batch: Vec<Value> = (0..10u8)
        .map(|i| {
            execute(&mut vm, "caller", &request(10 + i), 100);
            result(3 + u64::from(i), 10 + i, 4)
        })
        .collect();
    let batch_gas = execute(
        &mut vm,
        "relayer",
        &json!({"record_execution": {"results": batch}}),
        0,
    );
    // Past the default challenge window (150 blocks).
    let mut later = mock_env();
    later.block.height += 150;
    let finalize_one = execute_at(&mut vm, &later, "anyone", &json!({"finalize": {"job_ids": [1]}}), 0);
    let finalize_ten = execute_at(
        &mut vm,
        &later,
        "anyone",
        &json!({"finalize": {"job_ids": (3..13).collect::<Vec<u64>>()}}),
        0,
    );
    // Audits: the node commits its tree for the next epoch; eleven jobs of that epoch are
    // recorded, then proven one, and ten, at a time.
    let epoch = env.block.height / 600 + 1;
    let tree = havn_types::audit::AuditTree::new(&[5u8; 32]);
    let commit_audit = execute(
        &mut vm,
        "node",
        &json!({"commit_audit": {"epoch": epoch, "root": hex(&tree.root())}}),
        0,
    );
    let mut audited = mock_env();
    audited.block.height = epoch * 600 + 1;
    let ids: Vec<u64> = (13..24).collect();
    let results: Vec<Value> = ids
        .iter()
        .map(|&id| {
            execute_at(&mut vm, &audited, "caller", &request(30 + id as u8), 100);
            result(id, 30 + id as u8, 4)
        })
        .collect();
    execute_at(&mut vm, &audited, "relayer", &json!({"record_execution": {"results": results}}), 0);
    let proof = |id: u64| {
        let (leaf, path) = tree.proof(id);
        json!({"job_id": id, "leaf": hex(&leaf), "path": path.iter().map(|h| hex(h)).collect::<Vec<_>>()})
    };
    let prove_one = execute_at(&mut vm, &audited, "node", &json!({"prove_audit": {"proofs": [proof(ids[0])]}}), 0);
    let prove_ten = execute_at(
        &mut vm,
        &audited,
        "node",
        &json!({"prove_audit": {"proofs": ids[1..].iter().map(|&id| proof(id)).collect::<Vec<_>>()}}),
        0,
    );
    vec![
        Row {
            what: "log: CommitAudit".into(),
            gas: commit_audit,
        },
        Row {
            what: "log: ProveAudit, 1 job".into(),
            gas: prove_one,
        },
        Row {
            what: "log: ProveAudit, 10 jobs".into(),
            gas: prove_ten,
        },
        Row {
            what: "log:   … per job in the batch of 10".into(),
            gas: prove_ten / 10,
        },
        Row {
            what: "log: RequestJob".into(),
            gas: request_gas,
        },
        Row {
            what: "log: RecordExecution, 1 job × 5 signatures".into(),
            gas: one_of_five,
        },
        Row {
            what: "log: RecordExecution, 1 job × 4 signatures".into(),
            gas: four,
        },
        Row {
            what: "log: RecordExecution, 10 jobs × 4 signatures".into(),
            gas: batch_gas,
        },
        Row {
            what: "log:   … per job in the batch of 10".into(),
            gas: batch_gas / 10,
        },
        Row {
            what: "log: Finalize, 1 job".into(),
            gas: finalize_one,
        },
        Row {
            what: "log: Finalize, 10 jobs".into(),
            gas: finalize_ten,
        },
        Row {
            what: "log:   … per job in the batch of 10".into(),
            gas: finalize_ten / 10,
        },
    ]
}

fn payout_rows() -> Vec<Row> {
    let mut vm = instance(&artifact("payout"));
    instantiate(
        &mut vm,
        json!({"admin": addr("gov"), "asset": {"native": "uhai"}, "execution_log": addr("log"), "treasury": addr("treasury"), "params": null}),
    );
    // A job of a workflow with three upstream payees, signed by four validators.
    let settlement = |job_id: u64| {
        json!({"job_id": job_id, "workflow_id": 1, "fee": "1000003",
            "split": {"creator": 4500, "upstream": 2000, "node": 2500, "validator": 500, "treasury": 500},
            "creator": addr("creator"),
            "royalty_stack": [{"payee": addr("a"), "bps": 1000}, {"payee": addr("b"), "bps": 600}, {"payee": addr("lora"), "bps": 400}],
            "node": addr("node"),
            "validators": (0..4).map(|i| json!([addr(&format!("validator-{i}")), "1000000"])).collect::<Vec<_>>()})
    };
    let one = execute(
        &mut vm,
        "log",
        &json!({"distribute": {"settlements": [settlement(1)]}}),
        1_000_003,
    );
    let ten: Vec<Value> = (2..12).map(settlement).collect();
    let batch = execute(
        &mut vm,
        "log",
        &json!({"distribute": {"settlements": ten}}),
        10 * 1_000_003,
    );
    let claim = execute(&mut vm, "creator", &json!({"claim": {}}), 0);
    vec![
        Row {
            what: "payout: Distribute, 1 job (3 payees, 4 signers)".into(),
            gas: one,
        },
        Row {
            what: "payout: Distribute, 10 jobs".into(),
            gas: batch,
        },
        Row {
            what: "payout:   … per job in the batch of 10".into(),
            gas: batch / 10,
        },
        Row {
            what: "payout: Claim".into(),
            gas: claim,
        },
    ]
}

fn governance_rows() -> Vec<Row> {
    let mut vm = instance(&artifact("governance"));
    let staking = addr("staking");
    instantiate(
        &mut vm,
        json!({"asset": {"native": "uhai"}, "staking": staking, "registry": addr("registry"), "execution_log": addr("log"), "payout": addr("payout"),
            "params": {"voting_period": 3600, "min_deposit": "100", "quorum": "0.334", "threshold": "0.5", "veto_threshold": "0.334", "max_actions": 10}}),
    );
    vm.with_querier(|querier| {
        querier.update_wasm(|_| {
            let reply = json!({"power": "1000000", "height": 12345});
            SystemResult::Ok(ContractResult::Ok(to_json_binary(&reply).unwrap()))
        });
        Ok(())
    })
    .unwrap();
    let propose = execute(
        &mut vm,
        "holder",
        &json!({"propose": {"title": "New split", "description": "", "actions": [
            {"update_registry_params": {"default_split": {"creator": 4000, "upstream": 2000, "node": 3000, "validator": 500, "treasury": 500}}},
            {"update_staking_params": {"slash_fraud": "0.2"}}]}}),
        100,
    );
    let vote = execute(
        &mut vm,
        "validator-0",
        &json!({"vote": {"proposal_id": 1, "option": "yes"}}),
        0,
    );
    vec![
        Row {
            what: "governance: Propose (2 actions)".into(),
            gas: propose,
        },
        Row {
            what: "governance: Vote".into(),
            gas: vote,
        },
    ]
}

fn main() {
    let rows: Vec<Row> = [
        registry_rows(),
        staking_rows(),
        log_rows(),
        payout_rows(),
        governance_rows(),
    ]
    .into_iter()
    .flatten()
    .collect();
    println!("VM gas of the lowered artifacts in cosmwasm-vm 2.3.5 (wasm + host calls; KV and instance costs excluded)");
    println!("{:<48} {:>15} {:>10}", "operation", "VM gas", "≈ SDK gas");
    for row in &rows {
        println!(
            "{:<48} {:>15} {:>10}",
            row.what,
            row.gas,
            row.gas / SDK_GAS_MULTIPLIER
        );
    }
    let gas = |what: &str| rows.iter().find(|r| r.what.starts_with(what)).unwrap().gas;
    let single = gas("log: RecordExecution, 1 job × 4");
    let per_job = gas("log:   … per job");
    let per_signature = gas("log: RecordExecution, 1 job × 5") - single;
    println!();
    println!(
        "marginal cost of one signature: {per_signature} VM gas (≈ {} SDK gas)",
        per_signature / SDK_GAS_MULTIPLIER
    );
    println!(
        "batching: a job in a batch of 10 costs {:.2}× a job recorded alone",
        per_job as f64 / single as f64
    );
    let payout_single = gas("payout: Distribute, 1 job");
    let payout_per_job = gas("payout:   … per job");
    println!(
        "payout batching: a job in a Distribute of 10 costs {:.2}× a job distributed alone",
        payout_per_job as f64 / payout_single as f64
    );
}
