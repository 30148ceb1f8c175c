//! Audits: nodes answer a share of their jobs wrongly on purpose, so that a validator that signs
//! a re-execution it never ran is caught among honest nodes too (docs/verification.md, "Audits").

use cosmwasm_std::HexBinary;
use havn_execution_log::msg::{AuditProof, EpochResponse, ExecuteMsg, QueryMsg};
use havn_execution_log::state::{AuditState, JobStatus};
use havn_execution_log::ContractError;
use havn_staking::state::Params as StakingParams;
use havn_types::audit::{audit_threshold, AuditTree};
use havn_types::{Check, Verdict};

use crate::suite::*;

const VALID: Verdict = Verdict::Valid;
const INVALID: Verdict = Verdict::Invalid;
const STRUCTURAL: Check = Check::Structural;

fn current_epoch(suite: &Suite) -> u64 {
    suite
        .query::<EpochResponse>(&QueryMsg::Epoch { epoch: None })
        .current
}

fn commit(suite: &mut Suite, who: &str, epoch: u64, tree: &AuditTree) -> Result<(), Failure> {
    let sender = suite.addr(who);
    let root = HexBinary::from(tree.root().as_slice());
    suite
        .execute(&sender, &ExecuteMsg::CommitAudit { epoch, root })
        .map(|_| ())
}

fn proof(tree: &AuditTree, job_id: u64) -> AuditProof {
    let (leaf, path) = tree.proof(job_id);
    AuditProof {
        job_id,
        leaf: HexBinary::from(leaf.as_slice()),
        path: path.iter().map(|h| HexBinary::from(h.as_slice())).collect(),
    }
}

fn prove(
    suite: &mut Suite,
    who: &str,
    proofs: Vec<AuditProof>,
) -> Result<Vec<(u64, String)>, Failure> {
    let sender = suite.addr(who);
    let res = suite.execute(&sender, &ExecuteMsg::ProveAudit { proofs })?;
    Ok(havn_testing::outcomes_of(&res, "wasm-havn_audit")
        .into_iter()
        .map(|(id, outcome, _)| (id, outcome))
        .collect())
}

/// "node" commits a tree for the next epoch, which then starts. Returns the tree.
fn auditing_epoch(suite: &mut Suite) -> AuditTree {
    let tree = AuditTree::new(&[7u8; 32]);
    let next = current_epoch(suite) + 1;
    commit(suite, "node", next, &tree).unwrap();
    let start = next * suite.params().epoch_blocks;
    let now = suite.app.block_info().height;
    suite.advance_blocks(start - now);
    tree
}

/// Requests jobs until one is (`audit`) or is not one of the node's audits; returns its id.
fn request_until(suite: &mut Suite, tree: &AuditTree, audit: bool) -> u64 {
    let threshold = audit_threshold(suite.params().audit_bps);
    loop {
        let id = suite.request(PRICE, 1).unwrap();
        if tree.is_audit(id, threshold) == audit {
            return id;
        }
    }
}

/// Validator 0 signs a re-executed Valid, 1 to 3 structural ones: a Valid quorum.
fn recorded_valid(suite: &mut Suite, id: u64) {
    let result = suite.result_votes(
        id,
        9,
        &[
            (0, VALID, REEXECUTED),
            (1, VALID, STRUCTURAL),
            (2, VALID, STRUCTURAL),
            (3, VALID, STRUCTURAL),
        ],
    );
    let res = suite.record(vec![result]).unwrap();
    assert_eq!(outcomes(&res)[0].1, "recorded");
}

/// Validators 0 to 3 re-executed and found it Invalid: proven at once.
fn recorded_invalid(suite: &mut Suite, id: u64) {
    let res = suite
        .record(vec![suite.result(id, 9, INVALID, &[0, 1, 2, 3])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "invalid");
    // Its event says from when `Finalize` may slash the node (a router queues it by this).
    let ends = res
        .events
        .iter()
        .filter(|e| e.ty == "wasm-havn_job")
        .flat_map(|e| e.attributes.iter())
        .find(|a| a.key == "window_ends")
        .map(|a| a.value.parse::<u64>().unwrap());
    assert_eq!(ends, suite.job(id).window_ends);
    assert!(ends.is_some());
}

fn node_stake(suite: &Suite) -> u128 {
    suite.stake("node").node_stake.u128()
}

fn validator_stake(suite: &Suite, i: usize) -> u128 {
    suite
        .stake(&format!("validator-{i}"))
        .validator_stake
        .u128()
}

#[test]
fn audit_trees_are_committed_ahead_by_active_nodes_once() {
    let mut suite = SuiteBuilder::new().build();
    let tree = AuditTree::new(&[1u8; 32]);
    let current = current_epoch(&suite);
    assert_eq!(
        commit(&mut suite, "node", current, &tree).unwrap_err(),
        ContractError::BadEpoch {
            epoch: current,
            reason: format!(
                "commitments are for the next 2 epochs, {} to {}",
                current + 1,
                current + 2
            ),
        }
    );
    for who in ["caller", "validator-0", "node-2"] {
        assert_eq!(
            commit(&mut suite, who, current + 1, &tree).unwrap_err(),
            ContractError::NotActiveNode {
                sender: suite.addr(who).to_string()
            },
            "{who}"
        );
    }
    let node = suite.addr("node");
    let short = ExecuteMsg::CommitAudit {
        epoch: current + 1,
        root: HexBinary::from(vec![1u8; 31]),
    };
    assert_eq!(
        suite.execute(&node, &short).unwrap_err(),
        ContractError::InvalidHash {
            what: "root",
            len: 31
        }
    );
    commit(&mut suite, "node", current + 1, &tree).unwrap();
    assert_eq!(
        commit(&mut suite, "node", current + 1, &tree).unwrap_err(),
        ContractError::AuditAlreadyCommitted { epoch: current + 1 }
    );
    let epoch: EpochResponse = suite.query(&QueryMsg::Epoch {
        epoch: Some(current + 1),
    });
    assert_eq!((epoch.auditors, epoch.audit_bps), (1, 100));
    let root: Option<HexBinary> = suite.query(&QueryMsg::AuditRoot {
        epoch: current + 1,
        node: node.to_string(),
    });
    assert_eq!(root, Some(HexBinary::from(tree.root().as_slice())));
}

/// A node that commits no tree while another does would dodge audits: its results are refused.
#[test]
fn once_one_node_audits_an_epoch_every_node_must() {
    let mut suite = SuiteBuilder::new().build();
    suite.bond("node-2", havn_staking::state::Role::Node, MIN);
    auditing_epoch(&mut suite);
    let id = suite.request(PRICE, 1).unwrap();
    let mut result = suite.result(id, 9, VALID, &[0, 1, 2, 3]);
    result.node = suite.addr("node-2").to_string();
    result.claim = suite.claim("node-2", id, &hash(9));
    // The validators' signatures name "node"; re-sign for node-2.
    for (i, a) in result.attestations.iter_mut().enumerate() {
        a.signature =
            bytes(&suite.signature(i, id, &suite.addr("node-2"), &hash(9), (VALID, STRUCTURAL)));
    }
    let res = suite.record(vec![result]).unwrap();
    let epoch = current_epoch(&suite);
    assert_eq!(
        outcomes(&res),
        vec![(
            id,
            "rejected".into(),
            ContractError::NoAuditRoot {
                node: suite.addr("node-2").to_string(),
                epoch
            }
            .to_string()
        )]
    );
    assert_eq!(suite.job(id).status, JobStatus::Pending);
}

#[test]
fn a_job_that_is_not_an_audit_is_paid_only_once_the_node_proves_it() {
    let mut suite = SuiteBuilder::new().build();
    let tree = auditing_epoch(&mut suite);
    let (proven, unproven) = (
        request_until(&mut suite, &tree, false),
        request_until(&mut suite, &tree, false),
    );
    // Before the votes are on chain a proof would tell the validators: refused.
    assert_eq!(
        prove(&mut suite, "node", vec![proof(&tree, proven)]).unwrap_err(),
        ContractError::NotRecorded { id: proven }
    );
    recorded_valid(&mut suite, proven);
    recorded_valid(&mut suite, unproven);
    assert_eq!(suite.job(proven).audit, AuditState::Due);
    let mut bent = proof(&tree, proven);
    bent.path[3] = HexBinary::from(vec![0u8; 32]);
    let epoch = current_epoch(&suite);
    assert_eq!(
        prove(&mut suite, "node", vec![bent]).unwrap_err(),
        ContractError::BadAuditProof { id: proven, epoch }
    );
    let mut other_leaf = proof(&tree, proven);
    other_leaf.leaf = proof(&tree, proven + 1).leaf;
    assert_eq!(
        prove(&mut suite, "node", vec![other_leaf]).unwrap_err(),
        ContractError::BadAuditProof { id: proven, epoch }
    );
    assert_eq!(
        prove(&mut suite, "validator-0", vec![proof(&tree, proven)]).unwrap_err(),
        ContractError::NotJobNode { id: proven }
    );
    assert_eq!(
        prove(&mut suite, "node", vec![]).unwrap_err(),
        ContractError::BadBatchSize { count: 0, max: 40 }
    );
    assert_eq!(
        prove(&mut suite, "node", vec![proof(&tree, proven)]).unwrap(),
        vec![(proven, "clear".to_string())]
    );
    assert_eq!(
        prove(&mut suite, "node", vec![proof(&tree, proven)]).unwrap_err(),
        ContractError::AuditNotDue {
            id: proven,
            state: AuditState::Clear,
            reason: "already proven"
        }
    );
    let caller = suite.addr("caller");
    let before = suite.balance(&caller);
    suite.pass_window();
    assert_eq!(
        prove(&mut suite, "node", vec![proof(&tree, unproven)]).unwrap_err(),
        ContractError::WindowClosed {
            id: unproven,
            ends: suite.job(unproven).window_ends.unwrap()
        }
    );
    let res = suite.finalize(&[proven, unproven]).unwrap();
    let got: Vec<(u64, String)> = finalize_outcomes(&res)
        .into_iter()
        .map(|(id, o, _)| (id, o))
        .collect();
    assert_eq!(
        got,
        vec![(proven, "valid".into()), (unproven, "unproven".into())]
    );
    assert_eq!(suite.job(unproven).status, JobStatus::Refunded);
    assert_eq!(suite.balance(&caller), before + PRICE);
    let paid: Vec<u64> = suite
        .received()
        .iter()
        .flat_map(|r| r.settlements.iter().map(|s| s.job_id))
        .collect();
    assert_eq!(paid, vec![proven], "the unproven job pays nobody");
}

/// The verifier's dilemma: validator 0 signs a re-executed Valid without running anything.
/// Nobody else was drawn, so the job is recorded; the node's proof that it was an audit
/// disputes it, the others re-execute, and the liar is slashed. The node is neither paid nor
/// slashed, the caller refunded.
#[test]
fn an_audit_catches_a_validator_that_signed_a_reexecution_it_never_ran() {
    let mut suite = SuiteBuilder::new().build();
    let tree = auditing_epoch(&mut suite);
    let id = request_until(&mut suite, &tree, true);
    recorded_valid(&mut suite, id);
    let caller = suite.addr("caller");
    let before = suite.balance(&caller);
    assert_eq!(
        prove(&mut suite, "node", vec![proof(&tree, id)]).unwrap(),
        vec![(id, "audit_disputed".to_string())]
    );
    let job = suite.job(id);
    assert_eq!(
        (job.status, job.audit),
        (JobStatus::Disputed, AuditState::Audit)
    );
    // The dispute is decided by re-executions only: four honest ones find it Invalid.
    for i in 1..=4 {
        attest(&mut suite, i, id, INVALID, REEXECUTED);
    }
    assert_eq!(suite.job(id).status, JobStatus::Invalid);
    let p = StakingParams::default();
    let slashed = slashed(MIN, p.slash_false_attestation);
    assert_eq!(validator_stake(&suite, 0), MIN - slashed, "the liar");
    for i in 1..VALIDATORS {
        assert_eq!(validator_stake(&suite, i), MIN, "honest validator {i}");
    }
    assert_eq!(node_stake(&suite), MIN, "the node did its audit");
    assert!(suite.stake("node").jailed_until.is_none());
    assert_eq!(suite.balance(&caller), before + PRICE);
    assert!(suite.received().is_empty(), "no payout");
}

/// Caught at once by drawn validators: the node's slash waits for its proof. An audit costs it
/// nothing; a real fake still costs it the fraud slash, proven or not.
#[test]
fn a_caught_audit_costs_the_node_nothing_and_a_caught_fake_the_slash() {
    let mut suite = SuiteBuilder::new().build();
    let tree = auditing_epoch(&mut suite);
    let audit = request_until(&mut suite, &tree, true);
    let fake = request_until(&mut suite, &tree, false);
    let silent = request_until(&mut suite, &tree, false);
    for id in [audit, fake, silent] {
        recorded_invalid(&mut suite, id);
    }
    assert_eq!(
        node_stake(&suite),
        MIN,
        "the node's slash waits for its proof"
    );
    let window = suite.params().audit_window;
    assert_eq!(
        suite.job(silent).window_ends,
        Some(suite.app.block_info().height + window)
    );
    let got = prove(
        &mut suite,
        "node",
        vec![proof(&tree, audit), proof(&tree, fake)],
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            (audit, "audit_excused".to_string()),
            (fake, "clear_slashed".to_string())
        ]
    );
    let p = StakingParams::default();
    let cut = |s: u128| s - slashed(s, p.slash_fraud);
    assert_eq!(node_stake(&suite), cut(MIN), "one fake");
    let res = suite.finalize(&[silent]).unwrap();
    assert_eq!(finalize_outcomes(&res)[0].1, "skipped");
    suite.advance_blocks(window);
    assert_eq!(
        prove(&mut suite, "node", vec![proof(&tree, silent)]).unwrap_err(),
        ContractError::AuditNotDue {
            id: silent,
            state: AuditState::Due,
            reason: "its audit window closed"
        }
    );
    let res = suite.finalize(&[silent, audit]).unwrap();
    let got: Vec<String> = finalize_outcomes(&res).into_iter().map(|o| o.1).collect();
    assert_eq!(got, vec!["slashed", "skipped"]);
    assert_eq!(
        node_stake(&suite),
        cut(cut(MIN)),
        "the unproven one slashed too"
    );
    assert!(suite.stake("node").jailed_until.is_some());
    // Sent once only.
    let res = suite.finalize(&[silent]).unwrap();
    assert_eq!(finalize_outcomes(&res)[0].1, "skipped");
    assert_eq!(node_stake(&suite), cut(cut(MIN)));
}

/// A node that calls a job an audit while its output was right (it skipped the audit) loses its
/// bond; the job is paid.
#[test]
fn an_audit_the_reexecutions_uphold_costs_the_node_its_bond() {
    let mut suite = SuiteBuilder::new().build();
    let tree = auditing_epoch(&mut suite);
    let id = request_until(&mut suite, &tree, true);
    recorded_valid(&mut suite, id);
    prove(&mut suite, "node", vec![proof(&tree, id)]).unwrap();
    for i in 1..=3 {
        attest(&mut suite, i, id, VALID, REEXECUTED);
    }
    assert_eq!(suite.job(id).status, JobStatus::Valid);
    let p = StakingParams::default();
    let bond = slashed(MIN, p.slash_false_challenge);
    assert_eq!(node_stake(&suite), MIN - bond);
    assert!(
        suite.stake("node").jailed_until.is_none(),
        "a bond, not a jail"
    );
    assert_eq!(validator_stake(&suite, 0), MIN, "validator 0 was right");
    let paid: Vec<u64> = suite
        .received()
        .iter()
        .flat_map(|r| r.settlements.iter().map(|s| s.job_id))
        .collect();
    assert_eq!(paid, vec![id]);
}

#[test]
fn a_job_of_a_node_without_a_tree_has_nothing_to_prove() {
    let mut suite = SuiteBuilder::new().build();
    let tree = AuditTree::new(&[7u8; 32]);
    let id = suite.request(PRICE, 1).unwrap();
    recorded_valid(&mut suite, id);
    assert_eq!(suite.job(id).audit, AuditState::Exempt);
    assert_eq!(
        prove(&mut suite, "node", vec![proof(&tree, id)]).unwrap_err(),
        ContractError::AuditNotDue {
            id,
            state: AuditState::Exempt,
            reason: "the node committed no audit tree for the job's epoch"
        }
    );
    suite.pass_window();
    let res = suite.finalize(&[id]).unwrap();
    assert_eq!(finalize_outcomes(&res)[0].1, "valid");
}
