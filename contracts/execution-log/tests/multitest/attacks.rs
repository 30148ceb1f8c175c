//! Each attack the issue names, rejected.

use havn_execution_log::msg::SignedAttestation;
use havn_execution_log::state::JobStatus;
use havn_types::Verdict;

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
        Verdict::Valid,
        (chain, log, signed_job),
    );
    let attestations = (0..4)
        .map(|i| SignedAttestation {
            validator: suite.validator(i).to_string(),
            signature: bytes(&sign(&key(&format!("validator-{i}")), &digest)),
        })
        .collect();
    havn_execution_log::msg::JobResult {
        job_id,
        node: node.to_string(),
        output_hash: output,
        verdict: Verdict::Valid,
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
        "valid"
    );
}

#[test]
fn a_validator_counts_once_however_it_signs() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    let node = suite.addr("node");
    let original = suite.signature(0, id, &node, &hash(9), Verdict::Valid);
    let twin = high_s_twin(&original);
    assert_ne!(bytes(&original), bytes(&twin));

    // Three distinct validators plus validator 0 again (same bytes) and again (high-S twin):
    // 3 of 5 = 60 % < 66.67 %.
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2]);
    result.attestations.push(SignedAttestation {
        validator: suite.validator(0).to_string(),
        signature: bytes(&original),
    });
    result.attestations.push(SignedAttestation {
        validator: suite.validator(0).to_string(),
        signature: bytes(&twin),
    });
    let res = suite.record(vec![result]).unwrap();
    assert!(
        outcomes(&res)[0].2.starts_with("no quorum: 3 signers"),
        "{:?}",
        outcomes(&res)
    );

    // The twin alone does verify: as a fourth validator's only signature it counts.
    let fourth = high_s_twin(&suite.signature(3, id, &node, &hash(9), Verdict::Valid));
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2]);
    result.attestations.push(SignedAttestation {
        validator: suite.validator(3).to_string(),
        signature: bytes(&fourth),
    });
    assert_eq!(outcomes(&suite.record(vec![result]).unwrap())[0].1, "valid");
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
            Verdict::Valid,
            (&suite.app.block_info().chain_id, &suite.log, id),
        ),
    );
    result.attestations.push(SignedAttestation {
        validator: suite.addr("stranger").to_string(),
        signature: bytes(&stranger),
    });
    result.attestations.push(SignedAttestation {
        validator: suite.validator(2).to_string(),
        signature: bytes(&suite.signature(4, id, &node, &hash(9), Verdict::Valid)),
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
fn a_signature_for_one_verdict_or_output_does_not_count_for_another() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3]);
    result.verdict = Verdict::Invalid;
    assert_eq!(
        outcomes(&suite.record(vec![result]).unwrap())[0].1,
        "no_quorum"
    );
    let mut result = suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3]);
    result.output_hash = hash(10);
    assert_eq!(
        outcomes(&suite.record(vec![result]).unwrap())[0].1,
        "no_quorum"
    );
    assert_eq!(suite.job(id).status, JobStatus::Pending);
}
