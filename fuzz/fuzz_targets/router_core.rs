//! The router's state machine fed arbitrary calls in arbitrary order, as callers, nodes,
//! validators, the clock and the chain would make them: well-formed ones (results signed by the
//! assigned node, attestations signed by staked validators) and raw proto bytes alike. Never a
//! panic; every accepted job stays findable; the core holds no more jobs than it accepted; a job
//! that is done never changes again.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use arbitrary::Arbitrary;
use havn_mesh_common::keys;
use havn_mesh_common::operators::{FileOperators, Operator};
use havn_mesh_proto::v1::{
    router_message, submit_job_request, ChainOutcome, JobOutput, JobState, RouterMessage,
    RuntimeInfo, SubmitJobRequest, TaskAttestation, Verdict, WorkflowRef,
};
use havn_router::core::{attestation_digest, Core};
use havn_router::store::{JobRecord, Store};
use havn_router::RouterConfig;
use havn_types::mesh::ResultClaim;
use k256::ecdsa::SigningKey;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use tokio::sync::mpsc;

const NODES: u8 = 3;
const VALIDATORS: u8 = 4;
const OUTCOMES: [&str; 8] = [
    "recorded",
    "valid",
    "disputed",
    "invalid",
    "rejected",
    "no_quorum",
    "refunded",
    "skipped",
];

#[derive(Arbitrary, Debug)]
enum Op {
    Submit {
        input: Vec<u8>,
        deadline_ms: u64,
        chain_job_id: u64,
        seed: u64,
    },
    NodeConnect {
        node: u8,
        slots: u32,
    },
    NodeGone {
        node: u8,
    },
    Result {
        node: u8,
        job: u8,
        output: Vec<u8>,
        good_signature: bool,
    },
    RawResult {
        node: u8,
        job: u8,
        bytes: Vec<u8>,
    },
    Failed {
        node: u8,
        job: u8,
        attempt: u32,
    },
    Progress {
        node: u8,
        job: u8,
        step: u32,
        total: u32,
    },
    ValidatorConnect {
        validator: u8,
    },
    Attest {
        validator: u8,
        job: u8,
        valid: bool,
        check: u8,
        good_signature: bool,
    },
    RawAttestation {
        validator: u8,
        bytes: Vec<u8>,
    },
    Cancel {
        job: u8,
        signature: Vec<u8>,
    },
    Tick,
    Settle,
    Chain {
        job: u8,
        outcome: u8,
        window_ends: u64,
        reason: String,
    },
    Redrive {
        job: u8,
    },
}

fn key(name: &str) -> SigningKey {
    SigningKey::from_slice(&havn_mesh_common::sha256(name.as_bytes())).expect("a valid scalar")
}

const VERSION: [u8; 32] = [7; 32];

fuzz_target!(|ops: Vec<Op>| {
    let ops_set: Vec<Operator> = (0..NODES)
        .map(|i| (format!("node-{i}"), 1, 0))
        .chain((0..VALIDATORS).map(|i| (format!("validator-{i}"), 0, 1)))
        .map(|(address, node_stake, validator_stake)| Operator {
            pubkey: keys::pubkey(&key(&address)),
            address,
            node_stake,
            validator_stake,
        })
        .collect();
    let cfg = Arc::new(RouterConfig {
        max_queue: 64,
        ..RouterConfig::default()
    });
    let store = Store::in_memory().expect("store");
    let mut core = Core::recover(
        cfg.clone(),
        Arc::new(FileOperators::from_operators(ops_set)),
        store.clone(),
        Arc::default(),
        true,
    )
    .expect("recover");
    let mut accepted: Vec<(u64, Vec<u8>)> = vec![];
    let mut nodes: BTreeMap<u8, mpsc::Receiver<_>> = BTreeMap::new();
    let mut validators = vec![];
    // (job, node) → the attempt the router leased it with.
    let mut leases: BTreeMap<(u64, String), u32> = BTreeMap::new();
    let mut done: BTreeMap<u64, i32> = BTreeMap::new();
    for op in ops.into_iter().take(64) {
        let job = |i: u8| accepted.get(i as usize % accepted.len().max(1)).cloned();
        match op {
            Op::Submit {
                input,
                deadline_ms,
                chain_job_id,
                seed,
            } => {
                let req = SubmitJobRequest {
                    workflow: Some(WorkflowRef {
                        workflow_id: 1,
                        version_hash: VERSION.to_vec(),
                    }),
                    input: Some(submit_job_request::Input::InlineInput(input.clone())),
                    seed,
                    deadline_ms,
                    chain_job_id,
                    ..Default::default()
                };
                if let Ok((id, _)) = core.submit(req, input.clone(), "builtin:digest".into()) {
                    assert!(
                        accepted.iter().all(|(a, _)| *a != id),
                        "id {id} given twice"
                    );
                    accepted.push((id, input));
                }
            }
            Op::NodeConnect { node, slots } => {
                let (tx, rx) = mpsc::channel(256);
                let name = format!("node-{}", node % NODES);
                core.node_connected(&name, tx, slots, vec![], vec![]);
                nodes.insert(node % NODES, rx);
            }
            Op::NodeGone { node } => {
                core.node_gone(&format!("node-{}", node % NODES), u64::from(node), "fuzz");
            }
            Op::Result {
                node,
                job: j,
                output,
                good_signature,
            } => {
                let Some((id, _)) = job(j) else { continue };
                let name = format!("node-{}", node % NODES);
                let attempt = leases.get(&(id, name.clone())).copied().unwrap_or(1);
                let hash = havn_mesh_common::sha256(&output);
                let claim = ResultClaim {
                    job_id: id,
                    attempt,
                    output_hash: &hash,
                    executor: "builtin:digest",
                    device: "cpu",
                };
                let signer = if good_signature {
                    key(&name)
                } else {
                    key("mallory")
                };
                core.result(
                    &name,
                    id,
                    JobOutput {
                        attempt,
                        output_hash: hash.to_vec(),
                        output,
                        node: name.clone(),
                        node_signature: keys::sign(&signer, &claim.digest()),
                        runtime: Some(RuntimeInfo {
                            executor: "builtin:digest".into(),
                            device: "cpu".into(),
                            versions: String::new(),
                        }),
                    },
                );
            }
            Op::RawResult {
                node,
                job: j,
                bytes,
            } => {
                let Some((id, _)) = job(j) else { continue };
                if let Ok(output) = JobOutput::decode(bytes.as_slice()) {
                    core.result(&format!("node-{}", node % NODES), id, output);
                }
            }
            Op::Failed {
                node,
                job: j,
                attempt,
            } => {
                let Some((id, _)) = job(j) else { continue };
                core.node_failed_job(&format!("node-{}", node % NODES), id, attempt, "fuzz");
            }
            Op::Progress {
                node,
                job: j,
                step,
                total,
            } => {
                let Some((id, _)) = job(j) else { continue };
                core.progress(&format!("node-{}", node % NODES), id, step, total);
            }
            Op::ValidatorConnect { validator } => {
                let (tx, rx) = mpsc::channel(256);
                core.validator_connected(&format!("validator-{}", validator % VALIDATORS), tx);
                validators.push(rx);
            }
            Op::Attest {
                validator,
                job: j,
                valid,
                check,
                good_signature,
            } => {
                let Some((id, input)) = job(j) else { continue };
                let Some(event) = core.get(id) else { continue };
                let Some(output) = event.output.clone() else {
                    continue;
                };
                let name = format!("validator-{}", validator % VALIDATORS);
                let verdict = if valid {
                    havn_types::Verdict::Valid
                } else {
                    havn_types::Verdict::Invalid
                };
                let check = havn_types::Check::from_byte(check % 4);
                let rec = JobRecord {
                    id,
                    workflow: Some(WorkflowRef {
                        workflow_id: 1,
                        version_hash: VERSION.to_vec(),
                    }),
                    input_hash: havn_mesh_common::sha256(&input).to_vec(),
                    output: Some(output.clone()),
                    ..Default::default()
                };
                let Some(digest) = attestation_digest(&cfg, &rec, (verdict, check)) else {
                    continue;
                };
                let signer = if good_signature {
                    key(&name)
                } else {
                    key("mallory")
                };
                core.attestation(
                    &name,
                    TaskAttestation {
                        job_id: id,
                        attempt: output.attempt,
                        output_hash: output.output_hash.clone(),
                        attestation: Some(havn_mesh_proto::v1::Attestation {
                            validator: name.clone(),
                            verdict: if valid {
                                Verdict::Valid
                            } else {
                                Verdict::Invalid
                            } as i32,
                            signature: keys::sign(&signer, &digest),
                            reason: String::new(),
                            check: u32::from(check.byte()),
                        }),
                        reexecuted: check.reexecuted(),
                    },
                );
            }
            Op::RawAttestation { validator, bytes } => {
                if let Ok(a) = TaskAttestation::decode(bytes.as_slice()) {
                    core.attestation(&format!("validator-{}", validator % VALIDATORS), a);
                }
            }
            Op::Cancel { job: j, signature } => {
                let Some((id, _)) = job(j) else { continue };
                let _ = core.cancel(id, &keys::pubkey(&key("caller")), &signature);
            }
            Op::Tick => core.tick(),
            Op::Settle => {
                core.settle();
            }
            Op::Chain {
                job: j,
                outcome,
                window_ends,
                reason,
            } => {
                let Some((id, _)) = job(j) else { continue };
                let outcome = OUTCOMES[outcome as usize % OUTCOMES.len()].to_string();
                core.chain_outcomes(vec![(
                    id,
                    ChainOutcome {
                        outcome,
                        reason,
                        window_ends,
                        ..Default::default()
                    },
                )]);
            }
            Op::Redrive { job: j } => {
                let Some((id, _)) = job(j) else { continue };
                let _ = core.redrive(id);
            }
        }
        // What the nodes were leased, for well-formed results.
        for (n, rx) in nodes.iter_mut() {
            while let Ok(Ok(RouterMessage {
                body: Some(router_message::Body::Assign(a)),
            })) = rx.try_recv()
            {
                leases.insert((a.job_id, format!("node-{}", n % NODES)), a.attempt);
            }
        }
        for rx in &mut validators {
            while rx.try_recv().is_ok() {}
        }
        // Invariants.
        assert!(
            core.jobs_held() <= accepted.len(),
            "holds more jobs than it accepted"
        );
        for (id, _) in &accepted {
            let event = core.get(*id);
            let state = match &event {
                Some(e) => e.state,
                None => store.job(*id).expect("store").map_or(-1, |r| r.state),
            };
            if let Some(first) = done.get(id) {
                // Only a re-drive may take a REJECTED job back to settlement.
                assert!(
                    *first == state || *first == JobState::Rejected as i32,
                    "job {id} changed after it was done: {first} → {state}"
                );
            } else if event.as_ref().is_some_and(|e| e.done) {
                done.insert(*id, state);
            }
        }
    }
});
