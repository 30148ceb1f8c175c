//! Each attack the issue names, rejected.

use havn_execution_log::msg::SignedAttestation;
use havn_execution_log::state::JobStatus;
use havn_types::{Check, Verdict};

use crate::suite::*;

/// A result whose four signatures were made over a digest with one field changed.
fn replayed(
    suite: &Suite,
    job_id: u64,
    chain: &str,
    log: &cosmwasm_std::Addr,
    signed_job: u64,
) -> havn_execution_log::msg::JobResult {
    let job = suite.job(job_id);
    let (node, output) = (suite.addr("node"), hash(9));
    let digest = suite.digest_for(
        &job,
        &node,
        &output,
        (Verdict::Valid, Check::Structural),
        (chain, log, signed_job),
    );
    let attestations = (0..4)
        .map(|i| SignedAttestation {
            validator: suite.validator(i).to_string(),
            verdict: Verdict::Valid,
            check: Check::Structural,
            signature: bytes(&sign(&key(&format!("validator-{i}")), &digest)),
        })
        .collect();
    havn_execution_log::msg::JobResult {
        job_id,
        node: node.to_string(),
        claim: suite.claim("node", job_id, &output),
        output_hash: output,
        attestations,
    }
}

#[test]
fn signatures_from_another_chain_contract_or_job_do_not_count() {
    let mut suite = SuiteBuilder::new().build();
    let (chain, log) = (suite.app.block_info().chain_id, suite.log.clone());
    let first = suite.request(PRICE, 1).unwrap();
    let second = suite.request(PRICE, 2).unwrap();
    let other_log = suite.addr("another-deployment");
    let res = suite
        .record(vec![
            replayed(&suite, second, "other-chain-1", &log, second),
            replayed(&suite, second, &chain, &other_log, second),
            replayed(&suite, second, &chain, &log, first),
        ])
        .unwrap();
    for (job, outcome, reason) in outcomes(&res) {
        assert_eq!((job, outcome.as_str()), (second, "no_quorum"));
        assert!(reason.starts_with("no quorum: 0 signers"), "{reason}");
    }
    assert_eq!(suite.job(second).status, JobStatus::Pending);
    // The honest digest works.
    assert_eq!(
        outcomes(
            &suite
                .record(vec![replayed(&suite, second, &chain, &log, second)])
                .unwrap()
        )[0]
        .1,
        "recorded"
    );
}

#[test]
fn a_validator_counts_once_however_it_signs() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    let node = suite.addr("node");
    let vote = (Verdict::Valid, Check::Structural);
    let original = suite.signature(0, id, &node, &hash(9), vote);
    let twin = high_s_twin(&original);
    assert_ne!(bytes(&original), bytes(&twin));

    // Three distinct validators plus validator 0 again (same bytes) and again (high-S twin):
    // 3 of 5 = 60 % < 66.67 %.
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2]);
    let validators: Vec<String> = (0..5).map(|i| suite.validator(i).to_string()).collect();
    let attestation = |i: usize, sig| SignedAttestation {
        validator: validators[i].clone(),
        verdict: Verdict::Valid,
        check: Check::Structural,
        signature: bytes(sig),
    };
    result.attestations.push(attestation(0, &original));
    result.attestations.push(attestation(0, &twin));
    let res = suite.record(vec![result]).unwrap();
    assert!(
        outcomes(&res)[0].2.starts_with("no quorum: 3 signers"),
        "{:?}",
        outcomes(&res)
    );

    // The twin alone does verify: as a fourth validator's only signature it counts.
    let fourth = high_s_twin(&suite.signature(3, id, &node, &hash(9), vote));
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2]);
    result.attestations.push(attestation(3, &fourth));
    assert_eq!(
        outcomes(&suite.record(vec![result]).unwrap())[0].1,
        "recorded"
    );
}

#[test]
fn unknown_jailed_and_forged_signers_are_ignored() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    let node = suite.addr("node");
    // Jail validator 3 (governance slash of 0 %).
    let gov = suite.gov.clone();
    let staking = suite.staking.clone();
    let jail = havn_staking::msg::ExecuteMsg::Slash {
        operator: suite.validator(3).to_string(),
        role: None,
        reason: "test".into(),
        fraction: Some(cosmwasm_std::Decimal::zero()),
    };
    cw_multi_test::Executor::execute_contract(&mut suite.app, gov, staking, &jail, &[]).unwrap();

    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 3]);
    // A stranger's real signature, and validator 2's name on validator 4's signature.
    let stranger = sign(
        &key("stranger"),
        &suite.digest_for(
            &suite.job(id),
            &node,
            &hash(9),
            (Verdict::Valid, Check::Structural),
            (&suite.app.block_info().chain_id, &suite.log, id),
        ),
    );
    result.attestations.push(SignedAttestation {
        validator: suite.addr("stranger").to_string(),
        verdict: Verdict::Valid,
        check: Check::Structural,
        signature: bytes(&stranger),
    });
    result.attestations.push(SignedAttestation {
        validator: suite.validator(2).to_string(),
        verdict: Verdict::Valid,
        check: Check::Structural,
        signature: bytes(&suite.signature(
            4,
            id,
            &node,
            &hash(9),
            (Verdict::Valid, Check::Structural),
        )),
    });
    let res = suite.record(vec![result]).unwrap();
    // Active set is now 4 (4 MIN): only validators 0 and 1 count, 50 %.
    assert!(
        outcomes(&res)[0]
            .2
            .starts_with("no quorum: 2 signers with 2000000 of 4000000"),
        "{:?}",
        outcomes(&res)
    );
}

#[test]
fn a_signature_for_one_verdict_check_or_output_does_not_count_for_another() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    // Signed Valid, presented as Invalid: would dispute the job if it counted.
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3]);
    for a in &mut result.attestations {
        a.verdict = Verdict::Invalid;
    }
    assert_eq!(
        outcomes(&suite.record(vec![result]).unwrap())[0].1,
        "no_quorum"
    );
    // Signed after the structural checks, presented as re-executed.
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3]);
    for a in &mut result.attestations {
        a.check = REEXECUTED;
    }
    assert_eq!(
        outcomes(&suite.record(vec![result]).unwrap())[0].1,
        "no_quorum"
    );
    // Another output: the node never claimed it.
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3]);
    result.output_hash = hash(10);
    assert_eq!(
        outcomes(&suite.record(vec![result]).unwrap())[0],
        (
            id,
            "rejected".into(),
            format!(
                "the result claim is not signed by {}'s staked key",
                suite.addr("node")
            )
        )
    );
    assert_eq!(suite.job(id).status, JobStatus::Pending);
}

/// Property 6: a quorum can neither credit a node with work it did not claim nor frame it.
#[test]
fn a_quorum_cannot_credit_or_frame_a_node_that_did_not_sign() {
    let mut suite = SuiteBuilder::new().build();
    suite.bond("node-2", havn_staking::state::Role::Node, MIN);
    let id = suite.request(PRICE, 1).unwrap();
    let node2 = suite.addr("node-2");
    for verdict in [Verdict::Valid, Verdict::Invalid] {
        // Every validator signs, for node-2, a result whose claim "node" signed.
        let mut result = suite.result(id, 9, verdict, &[0, 1, 2, 3, 4]);
        result.node = node2.to_string();
        for (i, a) in result.attestations.iter_mut().enumerate() {
            a.signature = bytes(&suite.signature(i, id, &node2, &hash(9), (verdict, a.check)));
        }
        assert_eq!(
            outcomes(&suite.record(vec![result]).unwrap())[0],
            (
                id,
                "rejected".into(),
                format!("the result claim is not signed by {node2}'s staked key")
            ),
            "{verdict:?}"
        );
    }
    // A node that never bonded has no key to check a claim against.
    let mut result = suite.result(id, 9, Verdict::Invalid, &[0, 1, 2, 3, 4]);
    result.node = suite.addr("stranger").to_string();
    assert!(outcomes(&suite.record(vec![result]).unwrap())[0]
        .2
        .contains("has no staked key"));
    assert_eq!(
        suite.stake("node-2").node_stake.u128(),
        MIN,
        "nobody slashed"
    );
    assert_eq!(suite.stake("node").node_stake.u128(), MIN);
    assert_eq!(suite.job(id).status, JobStatus::Pending);
}
