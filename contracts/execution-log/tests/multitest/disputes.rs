//! Verification v2 on chain: the challenge window, disputes decided by re-executions, and who
//! pays when a result is proven invalid or a challenge overturned (docs/verification.md).

use cosmwasm_std::{coins, Decimal};
use cw_multi_test::Executor;
use havn_execution_log::msg::{ExecuteMsg, QueryMsg, VotesResponse};
use havn_execution_log::state::JobStatus;
use havn_execution_log::ContractError;
use havn_staking::state::Params as StakingParams;
use havn_types::{Check, Verdict};

use crate::suite::*;

const VALID: Verdict = Verdict::Valid;
const INVALID: Verdict = Verdict::Invalid;
const STRUCTURAL: Check = Check::Structural;

/// What each validator holds outside its bond before anything is slashed.
const FREE: u128 = 1_000 * MIN - MIN;

/// A Valid quorum (validator 0 re-executed, 1-3 structural) recorded for a fresh job.
fn recorded(suite: &mut Suite) -> u64 {
    let id = suite.request(PRICE, 1).unwrap();
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
    assert_eq!(
        outcomes(&suite.record(vec![result]).unwrap())[0].1,
        "recorded"
    );
    id
}

#[test]
fn a_challenge_in_the_window_proves_fraud_and_everyone_who_lied_pays() {
    let mut suite = SuiteBuilder::new().build();
    let caller = suite.addr("caller");
    let before = suite.balance(&caller);
    let id = recorded(&mut suite);

    // Validator 4 re-executed late, disagreed, and posts its Invalid itself (no router).
    let res = suite
        .challenge(
            "validator-4",
            suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]),
        )
        .unwrap();
    assert!(res.events.iter().any(|e| e
        .attributes
        .iter()
        .any(|a| a.key == "outcome" && a.value == "disputed")));
    let job = suite.job(id);
    assert_eq!(job.status, JobStatus::Disputed);
    let height = suite.app.block_info().height;
    assert_eq!(
        job.window_ends,
        Some(height + suite.params().dispute_timeout)
    );
    // Frozen: neither finalized nor refundable while disputed.
    suite.pass_window();
    assert!(finalize_outcomes(&suite.finalize(&[id]).unwrap())[0]
        .2
        .contains("dispute window"));
    assert_eq!(
        suite
            .execute(&caller, &ExecuteMsg::Refund { job_id: id })
            .unwrap_err(),
        ContractError::AlreadySettled {
            id,
            status: JobStatus::Disputed
        }
    );

    // The structural signers re-execute and upgrade their votes: 3 of 5 Invalid is short of
    // the quorum, the fourth decides.
    attest(&mut suite, 1, id, INVALID, REEXECUTED);
    let res = suite
        .record(vec![suite.result_votes(id, 9, &[(2, INVALID, REEXECUTED)])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "disputed");
    let res = suite
        .record(vec![suite.result_votes(id, 9, &[(3, INVALID, REEXECUTED)])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "invalid");

    assert_eq!(suite.job(id).status, JobStatus::Invalid);
    assert_eq!(
        suite.balance(&caller),
        before,
        "the caller is refunded in full"
    );
    assert!(suite.received().is_empty(), "no payout was ever made");
    assert_eq!(
        suite.balance(&suite.log.clone()),
        0,
        "nothing left in escrow"
    );

    let p = StakingParams::default();
    let node = suite.stake("node");
    assert_eq!(node.node_stake.u128(), MIN - slashed(MIN, p.slash_fraud));
    assert!(node.jailed_until.is_some());
    // Validator 0 signed a re-executed Valid for a fake: slashed and jailed.
    let v0 = suite.stake("validator-0");
    assert_eq!(
        v0.validator_stake.u128(),
        MIN - slashed(MIN, p.slash_false_attestation)
    );
    assert!(v0.jailed_until.is_some());
    // The provers share the reward of both slashes; relaying earned nothing.
    let pool = slashed(MIN, p.slash_fraud) + slashed(MIN, p.slash_false_attestation);
    let each = slashed(pool, p.reporter_reward) / 4;
    for i in 1..5 {
        assert_eq!(
            suite
                .stake(&format!("validator-{i}"))
                .validator_stake
                .u128(),
            MIN
        );
        assert_eq!(
            suite.balance(&suite.validator(i)),
            FREE + each,
            "prover {i}"
        );
    }
    assert_eq!(suite.balance(&suite.addr("relayer")), 0);
    assert_eq!(suite.balance(&suite.addr("anyone")), 0);

    let votes: VotesResponse = suite.query(&QueryMsg::Votes { job_id: id });
    assert_eq!(votes.votes.len(), 5);
    assert!(votes.votes[1..].iter().all(|v| v.check.reexecuted()));
}

#[test]
fn an_overturned_challenge_costs_the_challenger_its_bond_and_pays_the_job() {
    let mut suite = SuiteBuilder::new().build();
    let id = recorded(&mut suite);
    suite
        .challenge(
            "anyone",
            suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]),
        )
        .unwrap();
    assert_eq!(suite.job(id).status, JobStatus::Disputed);
    // Structural Valid votes do not decide a dispute: validator 0's re-execution plus two more.
    let res = suite
        .record(vec![suite.result_votes(
            id,
            9,
            &[(1, VALID, REEXECUTED), (2, VALID, REEXECUTED)],
        )])
        .unwrap();
    assert_eq!(
        outcomes(&res)[0].1,
        "disputed",
        "3 re-executed of 5 is short"
    );
    attest(&mut suite, 3, id, VALID, REEXECUTED);

    assert_eq!(suite.job(id).status, JobStatus::Valid);
    let received = suite.received();
    assert_eq!(received.len(), 1, "paid once the dispute resolved");
    assert_eq!(received[0].funds, coins(PRICE, DENOM));
    assert_eq!(
        received[0].settlements[0].validators.len(),
        4,
        "the Valid voters are paid, the challenger is not"
    );
    let p = StakingParams::default();
    let v4 = suite.stake("validator-4");
    assert_eq!(
        v4.validator_stake.u128(),
        MIN - slashed(MIN, p.slash_false_challenge)
    );
    assert!(v4.jailed_until.is_none(), "a lost bond, not a jail");
    assert_eq!(suite.stake("node").node_stake.u128(), MIN);
    // Settled: nothing more can be said about it.
    assert_eq!(
        suite
            .challenge(
                "anyone",
                suite.result_votes(id, 9, &[(0, INVALID, REEXECUTED)])
            )
            .unwrap_err(),
        ContractError::AlreadySettled {
            id,
            status: JobStatus::Valid
        }
    );
}

#[test]
fn the_window_closes_and_finalize_pays_many_jobs_at_once() {
    let mut suite = SuiteBuilder::new().build();
    let a = recorded(&mut suite);
    let b = recorded(&mut suite);
    let pending = suite.request(PRICE, 3).unwrap();
    suite.pass_window();
    assert_eq!(
        suite
            .challenge(
                "anyone",
                suite.result_votes(a, 9, &[(4, INVALID, REEXECUTED)])
            )
            .unwrap_err(),
        ContractError::WindowClosed {
            id: a,
            ends: suite.job(a).window_ends.unwrap()
        }
    );
    let res = suite.finalize(&[a, b, pending, 404]).unwrap();
    assert_eq!(
        finalize_outcomes(&res),
        vec![
            (a, "valid".into(), String::new()),
            (b, "valid".into(), String::new()),
            (
                pending,
                "skipped".into(),
                format!("job {pending} has no result on record yet")
            ),
            (404, "skipped".into(), "job 404 does not exist".into()),
        ]
    );
    let received = suite.received();
    assert_eq!(received.len(), 1, "one Distribute for the batch");
    assert_eq!(received[0].funds, coins(2 * PRICE, DENOM));
    let again = suite.finalize(&[a]).unwrap();
    assert_eq!(
        finalize_outcomes(&again)[0].2,
        format!("job {a} is already Valid")
    );
    assert_eq!(suite.received().len(), 1, "paid once");
}

/// A recorded job disputed 2 re-executed Valid (validators 0, 1) against 2 re-executed Invalid
/// (2, 4), validator 3 structural: no re-execution quorum (4 of 5), so a third of the stake
/// blocks the validators' verdict; the dispute times out into governance's arbitration.
fn blocked(suite: &mut Suite) -> u64 {
    let id = recorded(suite);
    suite
        .challenge(
            "validator-4",
            suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]),
        )
        .unwrap();
    attest(suite, 1, id, VALID, REEXECUTED);
    attest(suite, 2, id, INVALID, REEXECUTED);
    assert_eq!(suite.job(id).status, JobStatus::Disputed);
    suite.advance_blocks(suite.params().dispute_timeout - 1);
    assert_eq!(
        finalize_outcomes(&suite.finalize(&[id]).unwrap())[0].1,
        "skipped"
    );
    suite.advance_blocks(1);
    let res = suite.finalize(&[id]).unwrap();
    assert_eq!(finalize_outcomes(&res)[0].1, "arbitration");
    let job = suite.job(id);
    assert_eq!(job.status, JobStatus::Arbitration);
    assert_eq!(
        job.window_ends,
        Some(suite.app.block_info().height + suite.params().arbitration_timeout)
    );
    id
}

fn arbitrate(
    suite: &mut Suite,
    id: u64,
    verdict: Verdict,
) -> Result<cw_multi_test::AppResponse, Failure> {
    let gov = suite.gov.clone();
    suite.execute(
        &gov,
        &ExecuteMsg::Arbitrate {
            job_id: id,
            verdict,
        },
    )
}

fn stakes(suite: &Suite) -> Vec<u128> {
    let mut all = vec![suite.stake("node").node_stake.u128()];
    all.extend((0..5).map(|i| {
        suite
            .stake(&format!("validator-{i}"))
            .validator_stake
            .u128()
    }));
    all
}

#[test]
fn a_blocked_dispute_goes_to_arbitration_and_governance_proves_the_fraud() {
    let mut suite = SuiteBuilder::new().build();
    let caller = suite.addr("caller");
    let before = suite.balance(&caller);
    let id = blocked(&mut suite);

    // Frozen: the caller cannot take the fee back, Finalize skips it, nobody else decides.
    assert_eq!(
        suite
            .execute(&caller, &ExecuteMsg::Refund { job_id: id })
            .unwrap_err(),
        ContractError::AlreadySettled {
            id,
            status: JobStatus::Arbitration
        }
    );
    assert!(finalize_outcomes(&suite.finalize(&[id]).unwrap())[0]
        .2
        .contains("arbitration window"));
    let untouched = stakes(&suite);
    for who in [caller.clone(), suite.validator(2), suite.addr("node")] {
        assert_eq!(
            suite
                .execute(
                    &who,
                    &ExecuteMsg::Arbitrate {
                        job_id: id,
                        verdict: INVALID
                    }
                )
                .unwrap_err(),
            ContractError::NotAdmin
        );
    }
    assert_eq!(stakes(&suite), untouched);
    assert_eq!(suite.job(id).status, JobStatus::Arbitration);

    // Governance re-ran it: a fake. Everyone who lied pays, as a re-execution quorum would.
    let res = arbitrate(&mut suite, id, INVALID).unwrap();
    assert!(res.events.iter().any(|e| e
        .attributes
        .iter()
        .any(|a| a.key == "outcome" && a.value == "invalid")));
    assert_eq!(suite.job(id).status, JobStatus::Invalid);
    assert_eq!(suite.balance(&caller), before, "the caller is refunded");
    assert!(suite.received().is_empty(), "no payout was ever made");
    assert_eq!(suite.balance(&suite.log.clone()), 0);
    let p = StakingParams::default();
    let slashes = [
        slashed(MIN, p.slash_fraud),
        slashed(MIN, p.slash_false_attestation),
        slashed(MIN, p.slash_false_attestation),
        0,
        0,
        0,
    ];
    let expected: Vec<u128> = slashes.iter().map(|s| MIN - s).collect();
    assert_eq!(stakes(&suite), expected, "node, then validators 0-4");
    // The two provers (2 and 4) share the reward of the three slashes.
    let each = slashed(slashes.iter().sum(), p.reporter_reward) / 2;
    assert_eq!(suite.balance(&suite.validator(2)), FREE + each);
    assert_eq!(suite.balance(&suite.validator(4)), FREE + each);
    assert_eq!(suite.balance(&suite.validator(3)), FREE);

    // Decided once: a second ruling is refused and moves nothing.
    assert_eq!(
        arbitrate(&mut suite, id, VALID).unwrap_err(),
        ContractError::NotInArbitration {
            id,
            status: JobStatus::Invalid
        }
    );
    assert_eq!(stakes(&suite), expected);
}

#[test]
fn arbitration_can_uphold_the_result_and_the_challengers_lose_their_bond() {
    let mut suite = SuiteBuilder::new().build();
    let id = blocked(&mut suite);
    arbitrate(&mut suite, id, VALID).unwrap();
    assert_eq!(suite.job(id).status, JobStatus::Valid);
    let received = suite.received();
    assert_eq!(received.len(), 1, "paid once arbitrated");
    assert_eq!(received[0].funds, coins(PRICE, DENOM));
    let p = StakingParams::default();
    let bond = slashed(MIN, p.slash_false_challenge);
    assert_eq!(
        stakes(&suite),
        vec![MIN, MIN, MIN, MIN - bond, MIN, MIN - bond]
    );
}

#[test]
fn late_reexecutions_still_decide_a_job_in_arbitration() {
    let mut suite = SuiteBuilder::new().build();
    let id = recorded(&mut suite);
    suite
        .challenge(
            "validator-4",
            suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]),
        )
        .unwrap();
    attest(&mut suite, 2, id, INVALID, REEXECUTED);
    suite.advance_blocks(suite.params().dispute_timeout);
    suite.finalize(&[id]).unwrap();
    assert_eq!(suite.job(id).status, JobStatus::Arbitration);
    // Validators 1 and 3 re-execute at last: four re-executed Invalid of five is a quorum.
    attest(&mut suite, 1, id, INVALID, REEXECUTED);
    assert_eq!(suite.job(id).status, JobStatus::Arbitration);
    let res = suite
        .record(vec![suite.result_votes(id, 9, &[(3, INVALID, REEXECUTED)])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "invalid");
    assert_eq!(suite.job(id).status, JobStatus::Invalid);
    let p = StakingParams::default();
    assert_eq!(
        stakes(&suite)[..2],
        [
            MIN - slashed(MIN, p.slash_fraud),
            MIN - slashed(MIN, p.slash_false_attestation)
        ]
    );
}

#[test]
fn an_arbitration_nobody_decides_times_out_refunds_and_slashes_nobody() {
    let mut suite = SuiteBuilder::new().build();
    let caller = suite.addr("caller");
    let before = suite.balance(&caller);
    let id = blocked(&mut suite);
    suite.advance_blocks(suite.params().arbitration_timeout - 1);
    assert_eq!(
        finalize_outcomes(&suite.finalize(&[id]).unwrap())[0].1,
        "skipped"
    );
    suite.advance_blocks(1);
    let res = suite.finalize(&[id]).unwrap();
    assert_eq!(finalize_outcomes(&res)[0].1, "refunded");
    assert_eq!(suite.job(id).status, JobStatus::Refunded);
    assert_eq!(suite.balance(&caller), before);
    assert!(suite.received().is_empty());
    assert_eq!(
        stakes(&suite),
        vec![MIN; 6],
        "nothing was proved: nobody slashed"
    );
    assert_eq!(
        arbitrate(&mut suite, id, INVALID).unwrap_err(),
        ContractError::NotInArbitration {
            id,
            status: JobStatus::Refunded
        }
    );
}

#[test]
fn only_a_job_in_arbitration_can_be_arbitrated() {
    let mut suite = SuiteBuilder::new().build();
    let id = recorded(&mut suite);
    assert_eq!(
        arbitrate(&mut suite, id, INVALID).unwrap_err(),
        ContractError::NotInArbitration {
            id,
            status: JobStatus::Recorded
        }
    );
    let pending = suite.request(PRICE, 2).unwrap();
    assert_eq!(
        arbitrate(&mut suite, pending, VALID).unwrap_err(),
        ContractError::NotInArbitration {
            id: pending,
            status: JobStatus::Pending
        }
    );
    assert_eq!(
        arbitrate(&mut suite, 999, VALID).unwrap_err(),
        ContractError::UnknownJob { id: 999 }
    );
    assert_eq!(suite.job(id).status, JobStatus::Recorded);
    assert!(suite.received().is_empty());
}

/// The router is the only one holding the Invalid attestations and sits on them: the validator
/// posts its own, with the node's claim from the verify task, even after the job's deadline.
#[test]
fn a_router_that_drops_the_invalid_batch_does_not_save_the_node() {
    let mut suite = SuiteBuilder::new().build();
    let caller = suite.addr("caller");
    let id = suite.request(PRICE, 1).unwrap();
    suite.advance(havn_execution_log::state::Params::default().job_timeout + 1);
    suite
        .challenge(
            "validator-4",
            suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]),
        )
        .unwrap();
    let job = suite.job(id);
    assert_eq!(job.status, JobStatus::Disputed);
    assert_eq!(job.result.unwrap().node, suite.addr("node"));
    // The caller can no longer race the slash with a refund.
    assert!(suite
        .execute(&caller, &ExecuteMsg::Refund { job_id: id })
        .is_err());
    for i in 0..3 {
        attest(&mut suite, i, id, INVALID, REEXECUTED);
    }
    assert_eq!(suite.job(id).status, JobStatus::Invalid);
    assert!(suite.stake("node").node_stake.u128() < MIN);
}

#[test]
fn neither_unbonding_nor_jail_dodges_the_fraud_slash() {
    let mut suite = SuiteBuilder::new().build();
    let p = StakingParams::default();
    // Unbonds all but one unit (below the minimum: inactive) when it sees a quick quorum fail.
    let id = suite.request(PRICE, 1).unwrap();
    suite.unbond("node", MIN - 1);
    let res = suite
        .record(vec![suite.result(id, 9, INVALID, &[0, 1, 2, 3])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "invalid");
    let claims: havn_staking::msg::ClaimsResponse = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.staking,
            &havn_staking::msg::QueryMsg::Claims {
                address: suite.addr("node").to_string(),
            },
        )
        .unwrap();
    let unbonding: u128 = claims.claims.iter().map(|c| c.amount.u128()).sum();
    assert_eq!(
        unbonding,
        (MIN - 1) - slashed(MIN - 1, p.slash_fraud),
        "the unbonding stake was slashed"
    );

    // Jailed (and so inactive) before its second fake is proven: slashed again all the same.
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    let (gov, staking) = (suite.gov.clone(), suite.staking.clone());
    let jail = havn_staking::msg::ExecuteMsg::Slash {
        operator: suite.addr("node").to_string(),
        role: None,
        reason: "test".into(),
        fraction: Some(Decimal::zero()),
    };
    suite
        .app
        .execute_contract(gov, staking, &jail, &[])
        .unwrap();
    let res = suite
        .record(vec![suite.result(id, 9, INVALID, &[0, 1, 2, 3])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "invalid");
    assert_eq!(
        suite.stake("node").node_stake.u128(),
        MIN - slashed(MIN, p.slash_fraud)
    );
}

#[test]
fn one_dissenting_vote_disputes_instead_of_being_outvoted() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    // Four structural Valid (a quorum) and one re-executed Invalid in the same batch.
    let result = suite.result_votes(
        id,
        9,
        &[
            (0, VALID, STRUCTURAL),
            (1, VALID, STRUCTURAL),
            (2, VALID, STRUCTURAL),
            (3, VALID, STRUCTURAL),
            (4, INVALID, REEXECUTED),
        ],
    );
    let res = suite.record(vec![result]).unwrap();
    assert_eq!(outcomes(&res)[0].1, "disputed");
    assert!(suite.received().is_empty());
}

#[test]
fn malformed_and_unauthorized_challenges_move_nothing() {
    let mut suite = SuiteBuilder::new().build();
    let id = recorded(&mut suite);
    let balances = |s: &Suite| {
        (
            s.balance(&s.log.clone()),
            s.balance(&s.addr("caller")),
            s.stake("node").node_stake,
        )
    };
    let before = balances(&suite);
    let two = suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED), (3, INVALID, REEXECUTED)]);
    assert_eq!(
        suite.challenge("anyone", two).unwrap_err(),
        ContractError::NotAChallenge
    );
    let valid = suite.result_votes(id, 9, &[(4, VALID, REEXECUTED)]);
    assert_eq!(
        suite.challenge("anyone", valid).unwrap_err(),
        ContractError::NotAChallenge
    );
    assert_eq!(
        suite
            .challenge("anyone", suite.result(id, 9, INVALID, &[]))
            .unwrap_err(),
        ContractError::NotAChallenge
    );
    // A signature over something else, and a signer outside the active set.
    let mut forged = suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]);
    forged.attestations[0].check = STRUCTURAL;
    assert_eq!(
        suite.challenge("anyone", forged).unwrap_err(),
        ContractError::NoNewVotes { id }
    );
    let mut stranger = suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]);
    stranger.attestations[0].validator = suite.addr("stranger").to_string();
    assert_eq!(
        suite.challenge("anyone", stranger).unwrap_err(),
        ContractError::NoNewVotes { id }
    );
    // Against another output than the one on record.
    let other = suite.result_votes(id, 8, &[(4, INVALID, REEXECUTED)]);
    assert_eq!(
        suite.challenge("anyone", other).unwrap_err(),
        ContractError::ResultMismatch { id }
    );
    // An unknown job; funds attached.
    let unknown = suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]);
    let unknown = havn_execution_log::msg::JobResult {
        job_id: 404,
        ..unknown
    };
    assert_eq!(
        suite.challenge("anyone", unknown).unwrap_err(),
        ContractError::UnknownJob { id: 404 }
    );
    let anyone = suite.addr("anyone");
    let paid = ExecuteMsg::Challenge {
        result: suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]),
    };
    assert!(suite
        .execute_with_funds(&anyone, &paid, &coins(1, DENOM))
        .is_err());
    // A validator that already voted re-executed cannot vote again.
    assert_eq!(
        suite
            .challenge(
                "anyone",
                suite.result_votes(id, 9, &[(0, INVALID, REEXECUTED)])
            )
            .unwrap_err(),
        ContractError::NoNewVotes { id }
    );
    assert_eq!(balances(&suite), before);
    assert_eq!(suite.job(id).status, JobStatus::Recorded);
    // A pending job's challenge needs the node's own claim.
    let pending = suite.request(PRICE, 2).unwrap();
    let mut unsigned = suite.result_votes(pending, 9, &[(4, INVALID, REEXECUTED)]);
    unsigned.claim = suite.claim("validator-4", pending, &hash(9));
    assert_eq!(
        suite.challenge("anyone", unsigned).unwrap_err(),
        ContractError::BadClaim {
            node: suite.addr("node").to_string()
        }
    );
    assert_eq!(suite.job(pending).status, JobStatus::Pending);
    // Found by the invariants proptest: a stranger's challenge of a pending job whose direct
    // Valid attestations make a quorum must fail, not record the job (nor panic).
    for i in 0..4 {
        attest(&mut suite, i, pending, VALID, STRUCTURAL);
    }
    let mut stranger = suite.result_votes(pending, 9, &[(4, INVALID, REEXECUTED)]);
    stranger.attestations[0].validator = suite.addr("stranger").to_string();
    assert_eq!(
        suite.challenge("anyone", stranger).unwrap_err(),
        ContractError::NoNewVotes { id: pending }
    );
    assert_eq!(suite.job(pending).status, JobStatus::Pending);
}

#[test]
fn finalize_batches_are_bounded() {
    let mut suite = SuiteBuilder::new().with_params(|p| p.max_batch = 2).build();
    assert_eq!(
        suite.finalize(&[]).unwrap_err(),
        ContractError::BadBatchSize { count: 0, max: 4 }
    );
    assert_eq!(
        suite.finalize(&[1, 2, 3, 4, 5]).unwrap_err(),
        ContractError::BadBatchSize { count: 5, max: 4 }
    );
    let anyone = suite.addr("anyone");
    let msg = ExecuteMsg::Finalize { job_ids: vec![1] };
    assert!(suite
        .execute_with_funds(&anyone, &msg, &coins(1, DENOM))
        .is_err());
}

#[test]
fn attest_on_a_disputed_job_needs_an_active_validator_and_the_result_on_record() {
    let mut suite = SuiteBuilder::new().build();
    let id = recorded(&mut suite);
    suite
        .challenge(
            "anyone",
            suite.result_votes(id, 9, &[(4, INVALID, REEXECUTED)]),
        )
        .unwrap();
    let mallory = suite.addr("mallory");
    let node = suite.addr("node").to_string();
    let msg = |output| ExecuteMsg::Attest {
        job_id: id,
        node: node.clone(),
        output_hash: hash(output),
        verdict: INVALID,
        check: REEXECUTED,
    };
    assert_eq!(
        suite.execute(&mallory, &msg(9)).unwrap_err(),
        ContractError::NotActiveValidator {
            sender: mallory.to_string()
        }
    );
    let v1 = suite.validator(1);
    assert_eq!(
        suite.execute(&v1, &msg(8)).unwrap_err(),
        ContractError::ResultMismatch { id }
    );
    // Validator 4 already voted re-executed.
    let v4 = suite.validator(4);
    assert_eq!(
        suite.execute(&v4, &msg(9)).unwrap_err(),
        ContractError::AlreadyAttested {
            id,
            validator: v4.to_string()
        }
    );
    assert_eq!(suite.job(id).status, JobStatus::Disputed);
}
