//! What happens when things go wrong: a fraud verdict, a double-signing validator, a job nobody
//! settles in time.

use havn_integration_tests::{
    bytes, hash, key, outcomes, pubkey, sign, simple_workflow, SuiteBuilder, HAI, MIN_STAKE,
};
use havn_staking::msg::{DoubleSignEvidence, ExecuteMsg as StakingMsg, SignedVerdict};
use havn_types::{Check, Verdict};

#[test]
fn a_fraud_verdict_refunds_the_caller_and_slashes_the_node() {
    for mut s in [
        SuiteBuilder::new().build(),
        SuiteBuilder::new().native().build(),
    ] {
        let workflow = s
            .publish("creator", simple_workflow("txt2img", 100 * HAI))
            .unwrap();
        let caller_before = s.balance_of("caller");
        let job = s.request("caller", workflow, 100 * HAI, "prompt").unwrap();
        let (relayer, governance) = (s.balance_of("relayer"), s.balance(&s.governance.clone()));
        let provers: Vec<u128> = (0..4)
            .map(|i| s.balance_of(&format!("validator-{i}")))
            .collect();
        let result = s.result(job, "node", "noise", Verdict::Invalid, &[0, 1, 2, 3]);
        let res = s.record(vec![result]).unwrap();
        assert_eq!(outcomes(&res), vec![(job, "invalid".to_string())]);
        // The caller gets the whole fee back; nobody is paid for the job.
        assert_eq!(s.balance_of("caller"), caller_before);
        assert_eq!(s.payout_totals().distributed.u128(), 0);
        assert_eq!(s.escrowed(), 0);
        // 10 % of the node's stake: 10 % of that shared by the four validators who proved it
        // (not the relayer), the rest to the treasury; the node is jailed.
        let slashed = MIN_STAKE / 10;
        let each = slashed / 10 / 4;
        let op = s.operator("node");
        assert_eq!(op.node_stake.u128(), MIN_STAKE - slashed);
        assert!(op.jailed_until.is_some());
        assert_eq!(s.balance_of("relayer"), relayer);
        for (i, before) in provers.iter().enumerate() {
            assert_eq!(s.balance_of(&format!("validator-{i}")) - before, each);
        }
        assert_eq!(
            s.balance(&s.governance.clone()) - governance,
            slashed - 4 * each
        );
        // A jailed node cannot be credited with work.
        let job = s.request("caller", workflow, 100 * HAI, "again").unwrap();
        let result = s.result(job, "node", "png", Verdict::Valid, &[0, 1, 2, 3]);
        let res = s.record(vec![result]).unwrap();
        assert_eq!(outcomes(&res), vec![(job, "rejected".to_string())]);
    }
}

#[test]
fn a_double_signing_validator_is_slashed_on_evidence_alone() {
    let mut s = SuiteBuilder::new().build();
    let workflow = s
        .publish("creator", simple_workflow("txt2img", 100 * HAI))
        .unwrap();
    let job_id = s.request("caller", workflow, 100 * HAI, "prompt").unwrap();
    let job = s.job(job_id);
    let node = s.addr("node");
    // validator-2 signs two different outputs for the same job.
    let signed = |output: &str| {
        let output_hash = hash(output);
        let digest = s.attestation_digest(
            job_id,
            &node,
            &output_hash,
            (Verdict::Valid, Check::Structural),
        );
        SignedVerdict {
            output_hash,
            verdict: Verdict::Valid,
            check: Check::Structural,
            signature: bytes(&sign(&key("validator-2"), &digest)),
        }
    };
    let evidence = DoubleSignEvidence {
        validator: s.validator(2).to_string(),
        pubkey: pubkey(&key("validator-2")),
        job_id,
        workflow_id: workflow,
        version_hash: job.version_hash.clone(),
        node: node.to_string(),
        input_hash: job.input_hash.clone(),
        first: signed("one output"),
        second: signed("another output"),
    };
    let reporter_before = s.balance_of("holder");
    let staking = s.staking.clone();
    s.execute(
        "holder",
        &staking,
        &StakingMsg::SubmitDoubleSign {
            evidence: evidence.clone(),
        },
        &[],
    )
    .unwrap();
    // 5 % of the validator's stake; 10 % of that to the reporter.
    let slashed = MIN_STAKE / 20;
    let op = s.operator("validator-2");
    assert_eq!(op.validator_stake.u128(), MIN_STAKE - slashed);
    assert!(op.jailed_until.is_some());
    assert_eq!(s.balance_of("holder") - reporter_before, slashed / 10);
    // The same evidence slashes once.
    assert!(s
        .execute(
            "holder",
            &staking,
            &StakingMsg::SubmitDoubleSign { evidence },
            &[]
        )
        .is_err());
    // Jailed, its signature no longer counts toward a quorum.
    let result = s.result(job_id, "node", "one output", Verdict::Valid, &[2, 3, 4]);
    let res = s.record(vec![result]).unwrap();
    assert_eq!(outcomes(&res), vec![(job_id, "no_quorum".to_string())]);
}

#[test]
fn an_expired_job_refunds_its_caller() {
    let mut s = SuiteBuilder::new().build();
    let workflow = s
        .publish("creator", simple_workflow("slow", 100 * HAI))
        .unwrap();
    let before = s.balance_of("caller");
    let job = s.request("caller", workflow, 100 * HAI, "prompt").unwrap();
    let log = s.log.clone();
    let refund = havn_execution_log::msg::ExecuteMsg::Refund { job_id: job };
    // Not before the deadline, and only by the caller.
    assert!(s.execute("caller", &log, &refund, &[]).is_err());
    s.advance(3_601);
    assert!(s.execute("holder", &log, &refund, &[]).is_err());
    s.execute("caller", &log, &refund, &[]).unwrap();
    assert_eq!(s.balance_of("caller"), before);
    assert_eq!(s.escrowed(), 0);
    // A late quorum cannot settle it any more.
    let result = s.result(job, "node", "png", Verdict::Valid, &[0, 1, 2, 3, 4]);
    let res = s.record(vec![result]).unwrap();
    assert_eq!(outcomes(&res), vec![(job, "rejected".to_string())]);
    assert_eq!(s.payout_totals().distributed.u128(), 0);
}

/// Verification v2 through the real payout: a recorded result challenged within its window and
/// proven invalid by re-executions pays nobody; the validator that signed a re-executed Valid
/// is slashed with the node.
#[test]
fn a_challenged_fraud_pays_nobody_and_slashes_its_valid_reexecutor() {
    use havn_integration_tests::REEXECUTED;
    let mut s = SuiteBuilder::new().build();
    let workflow = s
        .publish("creator", simple_workflow("txt2img", 100 * HAI))
        .unwrap();
    let caller_before = s.balance_of("caller");
    let job = s.request("caller", workflow, 100 * HAI, "prompt").unwrap();
    let votes = [
        (0, Verdict::Valid, REEXECUTED),
        (1, Verdict::Valid, Check::Structural),
        (2, Verdict::Valid, Check::Structural),
        (3, Verdict::Valid, Check::Structural),
    ];
    let res = s
        .record(vec![s.result_votes(job, "node", "fake", &votes)])
        .unwrap();
    assert_eq!(outcomes(&res), vec![(job, "recorded".to_string())]);
    let challenge = s.result_votes(job, "node", "fake", &[(4, Verdict::Invalid, REEXECUTED)]);
    s.challenge("validator-4", challenge).unwrap();
    let upgrades: Vec<_> = (1..4).map(|i| (i, Verdict::Invalid, REEXECUTED)).collect();
    let res = s
        .record(vec![s.result_votes(job, "node", "fake", &upgrades)])
        .unwrap();
    assert_eq!(outcomes(&res), vec![(job, "invalid".to_string())]);
    s.pass_window();
    assert!(s.finalize(&[job]).is_ok(), "finalize skips it");
    assert_eq!(s.balance_of("caller"), caller_before);
    assert_eq!(s.payout_totals().distributed.u128(), 0, "nobody was paid");
    assert_eq!(
        s.operator("node").node_stake.u128(),
        MIN_STAKE - MIN_STAKE / 10
    );
    assert_eq!(
        s.operator("validator-0").validator_stake.u128(),
        MIN_STAKE - false_attestation_slash(MIN_STAKE)
    );
    assert_eq!(s.operator("validator-1").validator_stake.u128(), MIN_STAKE);
}

/// Two colluding validators sign a re-executed Valid for the node's fake, two honest ones a
/// re-executed Invalid, one never answers: no re-execution quorum either way, so the validators
/// alone cannot decide. The dispute times out into arbitration, and a governance vote proves the
/// fraud: everyone who lied pays, exactly as a re-execution quorum would have made them.
#[test]
fn a_coalition_that_blocks_the_validators_verdict_is_overruled_by_governance() {
    use havn_execution_log::state::JobStatus;
    use havn_governance::msg::Action;
    use havn_integration_tests::REEXECUTED;
    let mut s = SuiteBuilder::new().build();
    let workflow = s
        .publish("creator", simple_workflow("txt2img", 100 * HAI))
        .unwrap();
    let caller_before = s.balance_of("caller");
    let job = s.request("caller", workflow, 100 * HAI, "prompt").unwrap();
    let votes = [
        (0, Verdict::Valid, REEXECUTED),
        (1, Verdict::Valid, REEXECUTED),
        (2, Verdict::Invalid, REEXECUTED),
        (3, Verdict::Invalid, REEXECUTED),
    ];
    let res = s
        .record(vec![s.result_votes(job, "node", "fake", &votes)])
        .unwrap();
    assert_eq!(outcomes(&res), vec![(job, "disputed".to_string())]);
    let params: havn_execution_log::state::Params = s.query(
        &s.log.clone(),
        &havn_execution_log::msg::QueryMsg::Params {},
    );
    s.advance_blocks(params.dispute_timeout);
    s.finalize(&[job]).unwrap();
    assert_eq!(s.job(job).status, JobStatus::Arbitration);
    let provers = [s.balance_of("validator-2"), s.balance_of("validator-3")];

    s.pass(vec![Action::ArbitrateJob {
        job_id: job,
        verdict: Verdict::Invalid,
    }])
    .unwrap();
    assert_eq!(s.job(job).status, JobStatus::Invalid);
    assert_eq!(s.balance_of("caller"), caller_before, "refunded");
    assert_eq!(s.payout_totals().distributed.u128(), 0, "nobody was paid");
    assert_eq!(s.escrowed(), 0);
    let slash = MIN_STAKE / 10;
    assert_eq!(s.operator("node").node_stake.u128(), MIN_STAKE - slash);
    for colluder in ["validator-0", "validator-1"] {
        assert_eq!(
            s.operator(colluder).validator_stake.u128(),
            MIN_STAKE - false_attestation_slash(MIN_STAKE),
            "{colluder}"
        );
    }
    // The reporter reward (10 %) of the node's and both colluders' slashes, to the two provers.
    let pool = slash + 2 * false_attestation_slash(MIN_STAKE);
    let each = pool / 10 / 2;
    assert_eq!(s.balance_of("validator-2") - provers[0], each);
    assert_eq!(s.balance_of("validator-3") - provers[1], each);
    assert_eq!(s.operator("validator-4").validator_stake.u128(), MIN_STAKE);
}

/// What staking's shipped `slash_false_attestation` takes from `stake` (rounded down, as it does).
fn false_attestation_slash(stake: u128) -> u128 {
    let fraction = havn_staking::state::Params::default().slash_false_attestation;
    cosmwasm_std::Uint128::new(stake).mul_floor(fraction).u128()
}
