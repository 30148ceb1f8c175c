//! `ReportFalseAttestation`: a validator's re-executed Valid for a result the execution log
//! proved invalid slashes it, however late the evidence comes. The log is the suite's stand-in
//! (`suite::stand_in_log`), answering the `Job` query as the real log does.

use cosmwasm_std::{Addr, Binary, Uint128};
use havn_staking::msg::{ExecuteMsg, FalseAttestation, JobSlash};
use havn_staking::state::{Params, Role};
use havn_staking::ContractError;
use havn_types::{Attestation, Check, Verdict};

use crate::suite::*;

const JOB: u64 = 42;
const VERSION: [u8; 32] = [7; 32];
const INPUT: [u8; 32] = [8; 32];
const OUTPUT: [u8; 32] = [9; 32];

/// A suite whose log holds job 42 with `status`, and two bonded validators.
fn suite_with_log(status: &str) -> Suite {
    let mut suite = SuiteBuilder::new().fund(&["val", "honest"]).build();
    suite.set_job_status(status);
    suite.bond("val", Role::Validator, 10 * MIN).unwrap();
    suite.bond("honest", Role::Validator, 10 * MIN).unwrap();
    suite
}

/// `signer`'s attestation of `verdict` at `check` for the job's claimed output.
fn attested(
    suite: &Suite,
    signer: &str,
    output: [u8; 32],
    verdict: Verdict,
    check: Check,
) -> Binary {
    let chain = suite.chain_id();
    let node = suite.addr("node");
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
    sign(&key(signer), digest.as_bytes())
}

fn evidence(suite: &Suite, validator: &str, check: Check, signature: Binary) -> ExecuteMsg {
    ExecuteMsg::ReportFalseAttestation {
        evidence: FalseAttestation {
            validator: suite.addr(validator).to_string(),
            pubkey: pubkey(&key(validator)),
            job_id: JOB,
            check,
            signature,
        },
    }
}

fn report(suite: &Suite, validator: &str) -> ExecuteMsg {
    let check = Check::Reexecuted { rung: 0 };
    let signature = attested(suite, validator, OUTPUT, Verdict::Valid, check);
    evidence(suite, validator, check, signature)
}

#[test]
fn a_late_re_executed_valid_for_a_proven_invalid_result_is_slashed_and_the_reporter_paid() {
    let mut suite = suite_with_log("invalid");
    let (watcher, treasury) = (suite.addr("watcher"), suite.treasury.clone());
    let msg = report(&suite, "val");
    suite.execute(&watcher, &msg).unwrap();
    let p = Params::default();
    let slashed = Uint128::new(10 * MIN).mul_floor(p.slash_false_attestation);
    let reward = slashed.mul_floor(p.reporter_reward);
    let op = suite.operator("val");
    assert_eq!(op.validator_stake, Uint128::new(10 * MIN) - slashed);
    assert!(op.jailed_until.is_some() && !op.validator_eligible);
    assert_eq!(suite.balance(&watcher), reward.u128());
    assert_eq!(suite.balance(&treasury), (slashed - reward).u128());
    assert_eq!(suite.operator("honest").validator_stake.u128(), 10 * MIN);
    suite.assert_conserved();
    // Once per validator and job.
    assert_eq!(
        suite.execute(&watcher, &msg).unwrap_err(),
        ContractError::AlreadySlashed
    );
}

#[test]
fn a_validator_the_log_already_slashed_for_the_job_is_not_slashed_again() {
    let mut suite = suite_with_log("invalid");
    let log = suite.log.clone();
    suite
        .execute(
            &log,
            &ExecuteMsg::SlashJob(JobSlash {
                job_id: JOB,
                node: None,
                false_attesters: vec![suite.addr("val").to_string()],
                false_challengers: vec![],
                provers: vec![],
                false_auditor: None,
            }),
        )
        .unwrap();
    let stake = suite.operator("val").validator_stake;
    let msg = report(&suite, "val");
    assert_eq!(
        suite.execute(&suite.addr("watcher"), &msg).unwrap_err(),
        ContractError::AlreadySlashed
    );
    assert_eq!(suite.operator("val").validator_stake, stake);
}

/// Every way the evidence can be wrong moves nothing, with the error that says why.
#[test]
fn false_attestation_rejections() {
    let reexecuted = Check::Reexecuted { rung: 0 };
    let invalid_evidence = |reason: &str| ContractError::InvalidEvidence {
        reason: reason.into(),
    };
    let not_proven = ContractError::NotProvenInvalid { id: JOB };
    // The job stood, or is still open: a Valid for it is no lie.
    for status in ["valid", "recorded", "disputed", "pending", "refunded"] {
        let mut suite = suite_with_log(status);
        let msg = report(&suite, "val");
        assert_eq!(
            suite.execute(&suite.addr("w"), &msg).unwrap_err(),
            not_proven,
            "{status}"
        );
    }
    let mut suite = suite_with_log("invalid");
    let watcher = suite.addr("watcher");
    let before = suite.operator("val");
    let cases: Vec<(ExecuteMsg, ContractError)> = vec![
        // Structural: claimed nothing (laziness is the log's ReportLazy).
        (
            evidence(
                &suite,
                "val",
                Check::Structural,
                attested(&suite, "val", OUTPUT, Verdict::Valid, Check::Structural),
            ),
            invalid_evidence(
                "a structural Valid claims no re-execution (a drawn one is the log's ReportLazy)",
            ),
        ),
        // An Invalid, another output, another rung than signed, another signer.
        (
            evidence(
                &suite,
                "val",
                reexecuted,
                attested(&suite, "val", OUTPUT, Verdict::Invalid, reexecuted),
            ),
            invalid_evidence("the signature is not this validator's re-executed Valid for the job's proven-invalid result"),
        ),
        (
            evidence(
                &suite,
                "val",
                reexecuted,
                attested(&suite, "val", [1; 32], Verdict::Valid, reexecuted),
            ),
            invalid_evidence("the signature is not this validator's re-executed Valid for the job's proven-invalid result"),
        ),
        (
            evidence(
                &suite,
                "val",
                Check::Reexecuted { rung: 1 },
                attested(&suite, "val", OUTPUT, Verdict::Valid, reexecuted),
            ),
            invalid_evidence("the signature is not this validator's re-executed Valid for the job's proven-invalid result"),
        ),
        (
            evidence(
                &suite,
                "val",
                reexecuted,
                attested(&suite, "honest", OUTPUT, Verdict::Valid, reexecuted),
            ),
            invalid_evidence("the signature is not this validator's re-executed Valid for the job's proven-invalid result"),
        ),
    ];
    for (msg, want) in cases {
        assert_eq!(suite.execute(&watcher, &msg).unwrap_err(), want);
    }
    // A key the validator never registered; an operator that never bonded; another job.
    let mut msg = report(&suite, "val");
    if let ExecuteMsg::ReportFalseAttestation { evidence } = &mut msg {
        evidence.pubkey = pubkey(&key("honest"));
    }
    assert_eq!(
        suite.execute(&watcher, &msg).unwrap_err(),
        ContractError::UnknownKey
    );
    let stranger = report(&suite, "stranger");
    assert!(suite.execute(&watcher, &stranger).is_err());
    let mut msg = report(&suite, "val");
    if let ExecuteMsg::ReportFalseAttestation { evidence } = &mut msg {
        evidence.job_id = JOB + 1;
    }
    assert_eq!(
        suite.execute(&watcher, &msg).unwrap_err(),
        ContractError::NotProvenInvalid { id: JOB + 1 }
    );
    assert_eq!(suite.operator("val"), before);
    assert_eq!(suite.balance(&watcher), 0);
    let _: Addr = watcher;
}
