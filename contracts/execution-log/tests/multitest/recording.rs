use cosmwasm_std::{coins, Uint128};
use havn_execution_log::msg::{ExecutionsResponse, QueryMsg};
use havn_execution_log::state::{JobStatus, WorkflowStats};
use havn_types::{Split, Verdict};

use crate::suite::*;

#[test]
fn a_quorum_records_the_job_and_pays_out_after_the_window() {
    let mut suite = SuiteBuilder::new().build();
    let job_id = suite.request(150, 1).unwrap();
    assert_eq!(
        suite.balance(&suite.log.clone()),
        150,
        "the fee is escrowed"
    );
    let res = suite
        .record(vec![suite.result(job_id, 9, Verdict::Valid, &[0, 1, 2, 3])])
        .unwrap();
    assert_eq!(
        outcomes(&res),
        vec![(job_id, "recorded".to_string(), String::new())]
    );
    let job = suite.job(job_id);
    assert_eq!(job.status, JobStatus::Recorded);
    let height = suite.app.block_info().height;
    assert_eq!(
        job.window_ends,
        Some(height + suite.params().challenge_window)
    );
    assert_eq!(job.result.as_ref().unwrap().node, suite.addr("node"));
    assert!(
        suite.received().is_empty(),
        "nothing is paid inside the window"
    );
    assert_eq!(suite.balance(&suite.log.clone()), 150, "still escrowed");

    // One block short of the window: skipped, still escrowed.
    suite.advance_blocks(suite.params().challenge_window - 1);
    let res = suite.finalize(&[job_id]).unwrap();
    assert!(
        finalize_outcomes(&res)[0]
            .2
            .contains("in its challenge window"),
        "{:?}",
        finalize_outcomes(&res)
    );
    assert!(suite.received().is_empty());
    suite.advance_blocks(1);
    let res = suite.finalize(&[job_id]).unwrap();
    assert_eq!(finalize_outcomes(&res)[0].1, "valid");

    let job = suite.job(job_id);
    assert_eq!(job.status, JobStatus::Valid);
    let received = suite.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].funds,
        coins(150, DENOM),
        "exactly the fee went to payout"
    );
    let s = &received[0].settlements[0];
    assert_eq!(
        (s.job_id, s.workflow_id, s.fee),
        (job_id, WORKFLOW, Uint128::new(150))
    );
    assert_eq!(s.creator, suite.addr("creator"));
    assert_eq!(s.split, Split::DEFAULT.without_upstream());
    assert_eq!(s.node, suite.addr("node"));
    assert_eq!(
        s.validators
            .iter()
            .map(|(v, _)| v.clone())
            .collect::<Vec<_>>(),
        (0..4).map(|i| suite.validator(i)).collect::<Vec<_>>()
    );
    assert_eq!(suite.balance(&suite.log.clone()), 0);

    let by_node: ExecutionsResponse = suite.query(&QueryMsg::ExecutionsByNode {
        node: suite.addr("node").to_string(),
        start_after: None,
        limit: None,
    });
    assert_eq!(by_node.executions.len(), 1);
    assert_eq!(by_node.executions[0].output_hash, hash(9));
    assert_eq!(by_node.executions[0].signers.len(), 4);
    let stats: WorkflowStats = suite.query(&QueryMsg::WorkflowStats {
        workflow_id: WORKFLOW,
    });
    assert_eq!((stats.runs, stats.total_fees), (1, Uint128::new(150)));
}

#[test]
fn a_batch_of_ten_with_four_of_five_signatures() {
    let mut suite = SuiteBuilder::new().build();
    let jobs: Vec<u64> = (0..10)
        .map(|i| suite.request(PRICE + i, i as u8).unwrap())
        .collect();
    let results = jobs
        .iter()
        .enumerate()
        .map(|(i, &id)| suite.result(id, 100 + i as u8, Verdict::Valid, &[0, 1, 3, 4]))
        .collect();
    let res = suite.record(results).unwrap();
    let out = outcomes(&res);
    assert_eq!(out.len(), 10);
    assert!(
        out.iter().all(|(_, outcome, _)| outcome == "recorded"),
        "{out:?}"
    );
    suite.pass_window();
    let res = suite.finalize(&jobs).unwrap();
    assert!(finalize_outcomes(&res).iter().all(|(_, o, _)| o == "valid"));

    // One payout message for the whole batch, carrying the sum of the fees.
    let received = suite.received();
    assert_eq!(received.len(), 1);
    let total: u128 = (0..10).map(|i| PRICE + i).sum();
    assert_eq!(received[0].funds, coins(total, DENOM));
    assert_eq!(
        received[0]
            .settlements
            .iter()
            .map(|s| s.job_id)
            .collect::<Vec<_>>(),
        jobs
    );
    let stats: WorkflowStats = suite.query(&QueryMsg::WorkflowStats {
        workflow_id: WORKFLOW,
    });
    assert_eq!((stats.runs, stats.total_fees.u128()), (10, total));
    let page: ExecutionsResponse = suite.query(&QueryMsg::ExecutionsByWorkflow {
        workflow_id: WORKFLOW,
        start_after: Some(jobs[6]),
        limit: None,
    });
    assert_eq!(
        page.executions.iter().map(|e| e.job_id).collect::<Vec<_>>(),
        jobs[7..].to_vec()
    );
    let by_caller: ExecutionsResponse = suite.query(&QueryMsg::ExecutionsByCaller {
        caller: suite.addr("caller").to_string(),
        start_after: None,
        limit: Some(3),
    });
    assert_eq!(by_caller.executions.len(), 3);
}

#[test]
fn an_invalid_quorum_refunds_the_caller_and_slashes_the_node_rewarding_the_provers() {
    let mut suite = SuiteBuilder::new().build();
    let (caller, relayer) = (suite.addr("caller"), suite.addr("relayer"));
    let before = suite.balance(&caller);
    let job_id = suite.request(PRICE, 1).unwrap();
    let res = suite
        .record(vec![suite.result(
            job_id,
            9,
            Verdict::Invalid,
            &[0, 1, 2, 3, 4],
        )])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "invalid");
    assert_eq!(suite.job(job_id).status, JobStatus::Invalid);
    assert_eq!(suite.balance(&caller), before, "refunded in full");
    assert!(suite.received().is_empty(), "nothing to pay out");

    let node: havn_staking::msg::OperatorResponse = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.staking,
            &havn_staking::msg::QueryMsg::Operator {
                address: suite.addr("node").to_string(),
            },
        )
        .unwrap();
    let slashed = Uint128::new(MIN).mul_floor(havn_staking::state::Params::default().slash_fraud);
    assert_eq!(node.node_stake, Uint128::new(MIN) - slashed);
    assert!(node.jailed_until.is_some());
    assert_eq!(
        suite.balance(&relayer),
        0,
        "relaying earns no part of a slash"
    );
    let reward =
        slashed.mul_floor(havn_staking::state::Params::default().reporter_reward) / Uint128::new(5);
    for i in 0..5 {
        assert_eq!(
            suite.balance(&suite.validator(i)),
            1_000 * MIN - MIN + reward.u128(),
            "validator {i} proved it and shares the reward"
        );
    }
}

#[test]
fn one_bad_job_does_not_sink_the_batch() {
    let mut suite = SuiteBuilder::new().build();
    let good = suite.request(PRICE, 1).unwrap();
    let short = suite.request(PRICE, 2).unwrap();
    let unbonded_node = suite.request(PRICE, 3).unwrap();
    let bad_hash = suite.request(PRICE, 4).unwrap();
    // node-2 holds a key but unbonded below the minimum stake: it cannot be credited.
    suite.bond("node-2", havn_staking::state::Role::Node, MIN);
    suite.unbond("node-2", MIN / 2);
    let mut by_stranger = suite.result(unbonded_node, 9, Verdict::Valid, &[0, 1, 2, 3]);
    by_stranger.node = suite.addr("node-2").to_string();
    by_stranger.claim = suite.claim("node-2", unbonded_node, &hash(9));
    let node2 = suite.addr("node-2");
    for (i, a) in by_stranger.attestations.iter_mut().enumerate() {
        a.signature =
            bytes(&suite.signature(i, unbonded_node, &node2, &hash(9), (a.verdict, a.check)));
    }
    let mut malformed = suite.result(bad_hash, 9, Verdict::Valid, &[0, 1, 2, 3]);
    malformed.output_hash = cosmwasm_std::HexBinary::from(vec![1, 2, 3]);
    let results = vec![
        suite.result(good, 9, Verdict::Valid, &[0, 1, 2, 3]),
        suite.result(short, 9, Verdict::Valid, &[0, 1]),
        by_stranger,
        malformed,
        havn_execution_log::msg::JobResult {
            job_id: 999,
            ..suite.result(good, 9, Verdict::Valid, &[0, 1, 2, 3])
        },
    ];
    let res = suite.record(results).unwrap();
    let out = outcomes(&res);
    assert_eq!(out[0], (good, "recorded".into(), String::new()));
    assert_eq!(out[1].1, "no_quorum");
    assert!(
        out[1]
            .2
            .starts_with("no quorum: 2 signers with 2000000 of 5000000"),
        "{}",
        out[1].2
    );
    assert_eq!(
        out[2],
        (
            unbonded_node,
            "rejected".into(),
            format!("{} is not a bonded, unjailed node", suite.addr("node-2"))
        )
    );
    assert_eq!(
        out[3],
        (
            bad_hash,
            "rejected".into(),
            "output_hash must be a 32-byte hash, got 3 bytes".into()
        )
    );
    assert_eq!(
        out[4],
        (999, "rejected".into(), "job 999 does not exist".into())
    );
    for id in [short, unbonded_node, bad_hash] {
        assert_eq!(
            suite.job(id).status,
            JobStatus::Pending,
            "job {id} is untouched"
        );
    }
    // The short job can still reach its quorum later (signatures are not stored between batches).
    let res = suite
        .record(vec![suite.result(short, 9, Verdict::Valid, &[1, 2, 3, 4])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "recorded");
    suite.pass_window();
    suite.finalize(&[good, short]).unwrap();
    assert_eq!(suite.received()[0].settlements.len(), 2);
}

#[test]
fn a_settled_job_cannot_be_recorded_again() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    suite.settle(vec![suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3])]);
    let res = suite
        .record(vec![suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3])])
        .unwrap();
    assert_eq!(
        outcomes(&res)[0],
        (id, "rejected".into(), format!("job {id} is already Valid"))
    );
    // Not even with the opposite verdict.
    let res = suite
        .record(vec![suite.result(
            id,
            9,
            Verdict::Invalid,
            &[0, 1, 2, 3, 4],
        )])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "rejected");
    assert_eq!(suite.received().len(), 1);
}

#[test]
fn quorum_is_exact_at_the_threshold() {
    // Stakes 3:1, so validator 0 alone holds exactly 75 %.
    let build = |bps| {
        SuiteBuilder::new()
            .with_stakes(&[3 * MIN, MIN])
            .with_params(|p| {
                p.quorum_bps = bps;
                p.min_signers = 1;
            })
    };
    let mut at = build(7_500).build();
    let id = at.request(PRICE, 1).unwrap();
    assert_eq!(
        outcomes(
            &at.record(vec![at.result(id, 9, Verdict::Valid, &[0])])
                .unwrap()
        )[0]
        .1,
        "recorded"
    );
    let mut above = build(7_501).build();
    let id = above.request(PRICE, 1).unwrap();
    assert_eq!(
        outcomes(
            &above
                .record(vec![above.result(id, 9, Verdict::Valid, &[0])])
                .unwrap()
        )[0]
        .1,
        "no_quorum"
    );
}

#[test]
fn min_signers_applies_on_top_of_stake() {
    let mut suite = SuiteBuilder::new().with_stakes(&[10 * MIN, MIN]).build();
    let id = suite.request(PRICE, 1).unwrap();
    // 91 % of the stake, but one signer < min_signers (2).
    let res = suite
        .record(vec![suite.result(id, 9, Verdict::Valid, &[0])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "no_quorum");
    let res = suite
        .record(vec![suite.result(id, 9, Verdict::Valid, &[0, 1])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "recorded");
}

#[test]
fn cw20_fees_flow_through_the_token() {
    let mut suite = SuiteBuilder::new().with_cw20().build();
    let id = suite.request(PRICE + 5, 1).unwrap();
    assert_eq!(suite.job(id).fee.u128(), PRICE + 5);
    suite.settle(vec![suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3])]);
    let received = suite.received();
    assert_eq!(
        received[0].cw20,
        Some((suite.token.clone().unwrap(), Uint128::new(PRICE + 5)))
    );
    assert!(received[0].funds.is_empty());
    assert_eq!(suite.balance(&suite.payout.clone()), PRICE + 5);
}
