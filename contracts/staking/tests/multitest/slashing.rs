use cosmwasm_std::{Addr, Decimal, HexBinary, Uint128};
use havn_staking::msg::{DoubleSignEvidence, ExecuteMsg, JobSlash, KeyProof, SignedVerdict};
use havn_staking::state::{Params, Role};
use havn_staking::ContractError;
use havn_types::{Attestation, Check, Verdict};

use crate::suite::*;

const JOB: u64 = 42;
const VERSION: [u8; 32] = [7; 32];
const INPUT: [u8; 32] = [8; 32];

/// An attestation for job 42 signed by `signer` after the structural checks.
fn signed(
    suite: &Suite,
    signer: &str,
    node: &Addr,
    output: [u8; 32],
    verdict: Verdict,
) -> SignedVerdict {
    signed_check(suite, signer, node, output, verdict, Check::Structural)
}

/// An attestation for job 42 signed by `signer`, as the validator service would sign it.
fn signed_check(
    suite: &Suite,
    signer: &str,
    node: &Addr,
    output: [u8; 32],
    verdict: Verdict,
    check: Check,
) -> SignedVerdict {
    let chain = suite.chain_id();
    let digest = Attestation {
        chain_id: &chain,
        execution_log: suite.log.as_str(),
        job_id: JOB,
        workflow_id: 3,
        version_hash: &VERSION,
        node: node.as_str(),
        input_hash: &INPUT,
        output_hash: &output,
        verdict,
        check,
    }
    .digest();
    SignedVerdict {
        output_hash: HexBinary::from(output),
        verdict,
        check,
        signature: sign(&key(signer), digest.as_bytes()),
    }
}

fn evidence(
    suite: &Suite,
    validator: &str,
    first: SignedVerdict,
    second: SignedVerdict,
) -> DoubleSignEvidence {
    DoubleSignEvidence {
        validator: suite.addr(validator).to_string(),
        pubkey: pubkey(&key(validator)),
        job_id: JOB,
        workflow_id: 3,
        version_hash: HexBinary::from(VERSION),
        node: suite.addr("node").to_string(),
        input_hash: HexBinary::from(INPUT),
        first,
        second,
    }
}

fn double_sign(suite: &Suite, validator: &str) -> DoubleSignEvidence {
    let node = suite.addr("node");
    let first = signed(suite, validator, &node, [1; 32], Verdict::Valid);
    let second = signed(suite, validator, &node, [2; 32], Verdict::Valid);
    evidence(suite, validator, first, second)
}

#[test]
fn double_sign_slashes_exactly_the_fraction_and_pays_the_reporter() {
    let mut suite = SuiteBuilder::new().fund(&["val"]).build();
    let (reporter, treasury) = (suite.addr("watcher"), suite.treasury.clone());
    suite.bond("val", Role::Validator, 10 * MIN).unwrap();
    suite.bond("val", Role::Node, 4 * MIN).unwrap();
    let ev = double_sign(&suite, "val");
    suite
        .execute(
            &reporter,
            &ExecuteMsg::SubmitDoubleSign {
                evidence: ev.clone(),
            },
        )
        .unwrap();

    // 5 % of the validator stake (10 MIN) = 500 000; the node stake is untouched.
    let p = Params::default();
    let slashed = Uint128::new(10 * MIN).mul_floor(p.slash_double_sign);
    let reward = slashed.mul_floor(p.reporter_reward);
    let op = suite.operator("val");
    assert_eq!(op.validator_stake, Uint128::new(10 * MIN) - slashed);
    assert_eq!(op.node_stake.u128(), 4 * MIN);
    assert_eq!(suite.balance(&reporter), reward.u128());
    assert_eq!(suite.balance(&treasury), (slashed - reward).u128());
    assert!(op.jailed_until.is_some() && !op.validator_eligible);
    suite.assert_conserved();

    // The same evidence cannot slash twice.
    assert_eq!(
        suite
            .execute(&reporter, &ExecuteMsg::SubmitDoubleSign { evidence: ev })
            .unwrap_err(),
        ContractError::AlreadySlashed
    );
}

#[test]
fn conflicting_verdicts_also_count() {
    let mut suite = SuiteBuilder::new().fund(&["val"]).build();
    suite.bond("val", Role::Validator, MIN).unwrap();
    let node = suite.addr("node");
    let ev = evidence(
        &suite,
        "val",
        signed(&suite, "val", &node, [1; 32], Verdict::Valid),
        signed(&suite, "val", &node, [1; 32], Verdict::Invalid),
    );
    suite
        .execute(
            &suite.addr("watcher"),
            &ExecuteMsg::SubmitDoubleSign { evidence: ev },
        )
        .unwrap();
    assert!(suite.operator("val").jailed_until.is_some());
}

/// A structural Valid and then a re-executed Invalid for the same output is how a dispute gathers
/// re-executions, not a contradiction; re-executing the same verdict is not one either.
#[test]
fn upgrading_a_structural_vote_is_not_double_signing() {
    let mut suite = SuiteBuilder::new().fund(&["val"]).build();
    suite.bond("val", Role::Validator, MIN).unwrap();
    let node = suite.addr("node");
    let reexecuted = Check::Reexecuted { rung: 1 };
    for (verdict, check) in [(Verdict::Invalid, reexecuted), (Verdict::Valid, reexecuted)] {
        let ev = evidence(
            &suite,
            "val",
            signed(&suite, "val", &node, [1; 32], Verdict::Valid),
            signed_check(&suite, "val", &node, [1; 32], verdict, check),
        );
        assert_eq!(
            suite
                .execute(
                    &suite.addr("watcher"),
                    &ExecuteMsg::SubmitDoubleSign { evidence: ev },
                )
                .unwrap_err(),
            ContractError::NotConflicting
        );
    }
    // Two re-executions that disagree do contradict.
    let ev = evidence(
        &suite,
        "val",
        signed_check(&suite, "val", &node, [1; 32], Verdict::Valid, reexecuted),
        signed_check(&suite, "val", &node, [1; 32], Verdict::Invalid, reexecuted),
    );
    suite
        .execute(
            &suite.addr("watcher"),
            &ExecuteMsg::SubmitDoubleSign { evidence: ev },
        )
        .unwrap();
    assert!(suite.operator("val").jailed_until.is_some());
}

#[test]
fn double_sign_rejections() {
    let mut suite = SuiteBuilder::new().fund(&["val", "other"]).build();
    let watcher = suite.addr("watcher");
    suite.bond("val", Role::Validator, MIN).unwrap();
    suite.bond("other", Role::Validator, MIN).unwrap();
    let node = suite.addr("node");
    let submit = |ev| ExecuteMsg::SubmitDoubleSign { evidence: ev };

    let same = signed(&suite, "val", &node, [1; 32], Verdict::Valid);
    assert_eq!(
        suite
            .execute(
                &watcher,
                &submit(evidence(&suite, "val", same.clone(), same.clone()))
            )
            .unwrap_err(),
        ContractError::NotConflicting
    );
    // Signed by someone else's key: framing `val` fails.
    let framed = evidence(
        &suite,
        "val",
        signed(&suite, "other", &node, [1; 32], Verdict::Valid),
        signed(&suite, "other", &node, [2; 32], Verdict::Valid),
    );
    let err = suite.execute(&watcher, &submit(framed)).unwrap_err();
    assert_eq!(
        err,
        ContractError::InvalidEvidence {
            reason: "the first signature does not verify for this validator's key".into()
        }
    );
    // A key the validator never registered.
    let mut unknown = double_sign(&suite, "val");
    unknown.pubkey = pubkey(&key("stranger"));
    assert_eq!(
        suite.execute(&watcher, &submit(unknown)).unwrap_err(),
        ContractError::UnknownKey
    );
    // A job the log never had (issue 16, item 2: a router making one up to frame validators).
    let mut made_up = double_sign(&suite, "val");
    made_up.job_id = JOB + 1;
    assert_eq!(
        suite.execute(&watcher, &submit(made_up)).unwrap_err(),
        ContractError::UnknownJob { id: JOB + 1 }
    );
    // The log's job, but another workflow, version or input than it was requested with.
    let another = ContractError::InvalidEvidence {
        reason: format!("job {JOB} on the execution log is another workflow, version or input"),
    };
    let mut workflow = double_sign(&suite, "val");
    workflow.workflow_id = 4;
    assert_eq!(
        suite.execute(&watcher, &submit(workflow)).unwrap_err(),
        another
    );
    let mut short = double_sign(&suite, "val");
    short.input_hash = HexBinary::from(vec![1, 2, 3]);
    assert_eq!(
        suite.execute(&watcher, &submit(short)).unwrap_err(),
        another
    );
    assert!(suite.operator("val").jailed_until.is_none());
}

#[test]
fn evidence_signed_before_a_key_rotation_still_counts() {
    let mut suite = SuiteBuilder::new().fund(&["val"]).build();
    suite.bond("val", Role::Validator, MIN).unwrap();
    let ev = double_sign(&suite, "val");
    let (val, staking, chain) = (suite.addr("val"), suite.staking.clone(), suite.chain_id());
    let new_key: KeyProof = suite.proof_with(&key("val-2"), &val, &chain, &staking);
    suite
        .execute(&val, &ExecuteMsg::RotateKey { key: new_key })
        .unwrap();
    suite
        .execute(
            &suite.addr("watcher"),
            &ExecuteMsg::SubmitDoubleSign { evidence: ev },
        )
        .unwrap();
    assert!(suite.operator("val").jailed_until.is_some());
}

#[test]
fn unbonding_does_not_dodge_a_slash() {
    let mut suite = SuiteBuilder::new().fund(&["val"]).build();
    let val = suite.addr("val");
    suite.bond("val", Role::Validator, 10 * MIN).unwrap();
    let ev = double_sign(&suite, "val");
    // The validator sees trouble coming and unbonds everything.
    suite
        .execute(
            &val,
            &ExecuteMsg::Unbond {
                role: Role::Validator,
                amount: Uint128::new(10 * MIN),
            },
        )
        .unwrap();
    suite.advance(60);
    suite
        .execute(
            &suite.addr("watcher"),
            &ExecuteMsg::SubmitDoubleSign { evidence: ev },
        )
        .unwrap();
    let slashed = Uint128::new(10 * MIN).mul_floor(Params::default().slash_double_sign);
    assert_eq!(
        suite.operator("val").unbonding,
        Uint128::new(10 * MIN) - slashed,
        "the unbonding claim was slashed"
    );
    suite.advance(Params::default().unbonding_period);
    suite.execute(&val, &ExecuteMsg::Claim {}).unwrap();
    assert_eq!(suite.balance(&val), 1_000 * MIN - slashed.u128());
    suite.assert_conserved();
}

#[test]
fn job_slashes_only_from_the_execution_log_and_the_provers_share_the_reward() {
    let mut suite = SuiteBuilder::new()
        .fund(&["node", "liar", "rash", "p1", "p2"])
        .build();
    let (log, mallory, treasury) = (
        suite.log.clone(),
        suite.addr("mallory"),
        suite.treasury.clone(),
    );
    suite.bond("node", Role::Node, 10 * MIN).unwrap();
    for v in ["liar", "rash", "p1", "p2"] {
        suite.bond(v, Role::Validator, 10 * MIN).unwrap();
    }
    let treasury_before = suite.balance(&treasury);
    let (p1_before, p2_before) = (
        suite.balance(&suite.addr("p1")),
        suite.balance(&suite.addr("p2")),
    );
    let slash = ExecuteMsg::SlashJob(JobSlash {
        job_id: 9,
        node: Some(suite.addr("node").to_string()),
        false_attesters: vec![suite.addr("liar").to_string()],
        false_challengers: vec![suite.addr("rash").to_string()],
        // One who never bonded: skipped, never an error.
        provers: vec![suite.addr("p1").to_string(), suite.addr("p2").to_string()],
        false_auditor: None,
    });
    assert_eq!(
        suite.execute(&mallory, &slash).unwrap_err(),
        ContractError::NotExecutionLog
    );
    let admin = suite.admin.clone();
    assert_eq!(
        suite.execute(&admin, &slash).unwrap_err(),
        ContractError::NotExecutionLog
    );
    suite.execute(&log, &slash).unwrap();
    let p = Params::default();
    let stake = Uint128::new(10 * MIN);
    let fraud = stake.mul_floor(p.slash_fraud);
    let lie = stake.mul_floor(p.slash_false_attestation);
    let bond = stake.mul_floor(p.slash_false_challenge);
    assert_eq!(suite.operator("node").node_stake, stake - fraud);
    assert!(suite.operator("node").jailed_until.is_some());
    assert_eq!(suite.operator("liar").validator_stake, stake - lie);
    assert!(suite.operator("liar").jailed_until.is_some());
    assert_eq!(suite.operator("rash").validator_stake, stake - bond);
    assert!(
        suite.operator("rash").jailed_until.is_none(),
        "an overturned challenge costs a bond, not a jail"
    );
    let each = (fraud + lie).mul_floor(p.reporter_reward) / Uint128::new(2);
    assert_eq!(suite.balance(&suite.addr("p1")), p1_before + each.u128());
    assert_eq!(suite.balance(&suite.addr("p2")), p2_before + each.u128());
    assert_eq!(
        suite.balance(&treasury) - treasury_before,
        (fraud + lie + bond - each - each).u128()
    );
    assert_eq!(
        suite.execute(&log, &slash).unwrap_err(),
        ContractError::AlreadySlashed,
        "once per job"
    );
    suite.assert_conserved();
}

/// The log's verdict must land even if a slashed operator left: unknown operators are skipped.
#[test]
fn a_job_slash_skips_operators_with_nothing_to_slash() {
    let mut suite = SuiteBuilder::new().fund(&["node"]).build();
    let log = suite.log.clone();
    suite.bond("node", Role::Node, MIN).unwrap();
    let slash = ExecuteMsg::SlashJob(JobSlash {
        job_id: 3,
        node: Some(suite.addr("node").to_string()),
        false_attesters: vec![suite.addr("gone").to_string()],
        false_challengers: vec![],
        provers: vec![],
        false_auditor: None,
    });
    suite.execute(&log, &slash).unwrap();
    assert!(suite.operator("node").node_stake.u128() < MIN);
    suite.assert_conserved();
}

#[test]
fn downtime_heartbeats_jail_and_unjail() {
    let mut suite = SuiteBuilder::new().fund(&["node"]).build();
    let (node, watcher) = (suite.addr("node"), suite.addr("watcher"));
    let window = Params::default().downtime_window;
    suite.bond("node", Role::Node, 10 * MIN).unwrap();
    let report = ExecuteMsg::ReportDowntime {
        operator: node.to_string(),
    };

    let err = suite.execute(&node, &ExecuteMsg::Heartbeat {}).unwrap_err();
    assert!(err.message().starts_with("heartbeat too soon"), "{err:?}");
    suite.advance(window / 2);
    suite.execute(&node, &ExecuteMsg::Heartbeat {}).unwrap();
    suite.advance(window);
    assert!(suite
        .execute(&watcher, &report)
        .unwrap_err()
        .message()
        .starts_with("operator is not down"));
    suite.advance(1);
    suite.execute(&watcher, &report).unwrap();
    let slashed = Uint128::new(10 * MIN).mul_floor(Params::default().slash_downtime);
    let op = suite.operator("node");
    assert_eq!(op.node_stake, Uint128::new(10 * MIN) - slashed);
    assert!(!op.node_active);
    assert_eq!(
        suite.execute(&watcher, &report).unwrap_err(),
        ContractError::AlreadyJailed
    );

    let until = op.jailed_until.unwrap();
    assert_eq!(
        suite.execute(&node, &ExecuteMsg::Unjail {}).unwrap_err(),
        ContractError::StillJailed { until }
    );
    suite.advance(Params::default().jail_period);
    suite.execute(&node, &ExecuteMsg::Unjail {}).unwrap();
    assert!(suite.operator("node").node_active);
    assert_eq!(
        suite.execute(&node, &ExecuteMsg::Unjail {}).unwrap_err(),
        ContractError::NotJailed
    );
    assert_eq!(
        suite
            .execute(&watcher, &ExecuteMsg::Heartbeat {})
            .unwrap_err(),
        ContractError::NotOperator {
            address: watcher.to_string()
        }
    );
    suite.assert_conserved();
}

#[test]
fn unjail_needs_the_minimum_stake() {
    let mut suite = SuiteBuilder::new().fund(&["node"]).build();
    let (node, admin) = (suite.addr("node"), suite.admin.clone());
    suite.bond("node", Role::Node, MIN).unwrap();
    suite
        .execute(
            &admin,
            &ExecuteMsg::Slash {
                operator: node.to_string(),
                role: None,
                reason: "collusion ring #4".into(),
                fraction: None,
            },
        )
        .unwrap();
    suite.advance(Params::default().jail_period);
    assert_eq!(
        suite.execute(&node, &ExecuteMsg::Unjail {}).unwrap_err(),
        ContractError::BelowMinimumToUnjail
    );
    suite.bond("node", Role::Node, MIN).unwrap();
    suite.execute(&node, &ExecuteMsg::Unjail {}).unwrap();
}

#[test]
fn governance_slash() {
    let mut suite = SuiteBuilder::new().fund(&["op"]).build();
    let (op, admin, mallory, treasury) = (
        suite.addr("op"),
        suite.admin.clone(),
        suite.addr("mallory"),
        suite.treasury.clone(),
    );
    suite.bond("op", Role::Node, 4 * MIN).unwrap();
    suite.bond("op", Role::Validator, 2 * MIN).unwrap();
    let slash = |fraction| ExecuteMsg::Slash {
        operator: op.to_string(),
        role: Some(Role::Validator),
        reason: "collusion".into(),
        fraction,
    };
    assert_eq!(
        suite.execute(&mallory, &slash(None)).unwrap_err(),
        ContractError::NotAdmin
    );
    assert!(suite
        .execute(&admin, &slash(Some(Decimal::percent(101))))
        .unwrap_err()
        .message()
        .starts_with("invalid param fraction"));
    suite
        .execute(&admin, &slash(Some(Decimal::percent(25))))
        .unwrap();
    let o = suite.operator("op");
    assert_eq!(
        (o.node_stake.u128(), o.validator_stake.u128()),
        (4 * MIN, 2 * MIN * 3 / 4)
    );
    assert_eq!(
        suite.balance(&treasury),
        2 * MIN / 4,
        "no reporter: all to the treasury"
    );
    suite.assert_conserved();
}

#[test]
fn lazy_slashes_only_from_the_execution_log_and_pay_the_reporter() {
    let mut suite = SuiteBuilder::new().fund(&["lazy", "hider"]).build();
    let (log, mallory, treasury) = (
        suite.log.clone(),
        suite.addr("mallory"),
        suite.treasury.clone(),
    );
    for v in ["lazy", "hider"] {
        suite.bond(v, Role::Validator, 10 * MIN).unwrap();
    }
    let treasury_before = suite.balance(&treasury);
    let lazy = |suite: &Suite, who: &str, job_id| ExecuteMsg::SlashLazy {
        validator: suite.addr(who).to_string(),
        reporter: suite.addr("reporter").to_string(),
        job_id,
        epoch: 4,
    };
    let msg = lazy(&suite, "lazy", Some(9));
    for sender in [mallory, suite.admin.clone()] {
        assert_eq!(
            suite.execute(&sender, &msg).unwrap_err(),
            ContractError::NotExecutionLog
        );
    }
    assert_eq!(suite.operator("lazy").validator_stake.u128(), 10 * MIN);
    suite.execute(&log, &msg).unwrap();
    let hide = lazy(&suite, "hider", None);
    suite.execute(&log, &hide).unwrap();
    let p = Params::default();
    let stake = Uint128::new(10 * MIN);
    let (skipped, hidden) = (
        stake.mul_floor(p.slash_lazy),
        stake.mul_floor(p.slash_unrevealed),
    );
    assert_eq!(suite.operator("lazy").validator_stake, stake - skipped);
    assert_eq!(suite.operator("hider").validator_stake, stake - hidden);
    let rewards = skipped.mul_floor(p.reporter_reward) + hidden.mul_floor(p.reporter_reward);
    assert_eq!(suite.balance(&suite.addr("reporter")), rewards.u128());
    assert_eq!(
        suite.balance(&treasury) - treasury_before,
        (skipped + hidden - rewards).u128()
    );
    // Someone never bonded: skipped, never an error.
    suite
        .execute(&log, &lazy(&suite, "nobody", Some(9)))
        .unwrap();
    suite.assert_conserved();
}
