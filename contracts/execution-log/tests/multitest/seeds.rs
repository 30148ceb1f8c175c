//! Provable draws: seeds committed before an epoch and revealed after it; a validator drawn for
//! a job that signed a structural Valid is slashed, and so is one that never reveals.

use cosmwasm_std::{HexBinary, Uint128};
use havn_execution_log::msg::{EpochResponse, ExecuteMsg, QueryMsg, Seed};
use havn_execution_log::ContractError;
use havn_staking::state::Params as StakingParams;
use havn_types::sampling::{draw_threshold, drawn, epoch_secret, seed_commitment};
use havn_types::{Check, Verdict};

use crate::suite::*;

/// What each validator holds outside its bond.
const FREE: u128 = 1_000 * MIN - MIN;

fn secret(i: usize, epoch: u64) -> [u8; 32] {
    epoch_secret(&[i as u8 + 1; 32], epoch)
}

fn epoch(suite: &Suite) -> EpochResponse {
    suite.query(&QueryMsg::Epoch { epoch: None })
}

fn commit(suite: &mut Suite, i: usize, epoch: u64) -> Result<cw_multi_test::AppResponse, Failure> {
    let v = suite.validator(i);
    let commitment = HexBinary::from(seed_commitment(&secret(i, epoch)).as_slice());
    suite.execute(&v, &ExecuteMsg::CommitSeed { epoch, commitment })
}

fn reveal(suite: &mut Suite, i: usize, epoch: u64) -> Result<cw_multi_test::AppResponse, Failure> {
    let v = suite.validator(i);
    let secret = HexBinary::from(secret(i, epoch).as_slice());
    suite.execute(&v, &ExecuteMsg::RevealSeed { epoch, secret })
}

/// Moves to the first block of `epoch`.
fn enter(suite: &mut Suite, epoch: u64) {
    let start = epoch * suite.params().epoch_blocks;
    let now = suite.app.block_info().height;
    suite.advance_blocks(start - now);
}

fn report(suite: &mut Suite, job_id: u64, i: usize) -> Result<cw_multi_test::AppResponse, Failure> {
    let (anyone, validator) = (suite.addr("anyone"), suite.validator(i).to_string());
    suite.execute(&anyone, &ExecuteMsg::ReportLazy { job_id, validator })
}

fn stake(suite: &Suite, i: usize) -> u128 {
    suite
        .stake(&format!("validator-{i}"))
        .validator_stake
        .u128()
}

/// Every validator commits for the next epoch and a job is requested in it. Returns the job,
/// the epoch, and an output seed for which validator 0 is drawn and validator 1 is not.
fn job_in_committed_epoch(suite: &mut Suite) -> (u64, u64, u8) {
    let next = epoch(suite).current + 1;
    for i in 0..VALIDATORS {
        commit(suite, i, next).unwrap();
    }
    enter(suite, next);
    let id = suite.request(PRICE, 1).unwrap();
    let threshold = draw_threshold(suite.params().p_min_bps, VALIDATORS as u32);
    let output = (0..=255u8)
        .find(|&o| {
            let h: [u8; 32] = hash(o).to_array().unwrap();
            drawn(&secret(0, next), id, &h, threshold)
                && !drawn(&secret(1, next), id, &h, threshold)
        })
        .expect("an output validator 0 is drawn for");
    (id, next, output)
}

#[test]
fn a_drawn_validator_that_signed_structurally_is_slashed_as_lazy() {
    let mut suite = SuiteBuilder::new().build();
    let (id, epoch_no, output) = job_in_committed_epoch(&mut suite);
    let info = epoch(&suite);
    assert_eq!(info.committed, VALIDATORS as u32);
    assert_eq!(info.threshold.u64(), draw_threshold(2_000, 5));
    // Validator 0 was drawn, yet signs a structural Valid like the others; validator 4 re-runs.
    let votes: Vec<_> = (0..4)
        .map(|i| (i, Verdict::Valid, Check::Structural))
        .chain([(4, Verdict::Valid, REEXECUTED)])
        .collect();
    let res = suite
        .record(vec![suite.result_votes(id, output, &votes)])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "recorded");

    // Before the reveal nothing can be proved.
    assert_eq!(
        report(&mut suite, id, 0).unwrap_err(),
        ContractError::SeedNotRevealed {
            epoch: epoch_no,
            validator: suite.validator(0).to_string()
        }
    );
    assert_eq!(
        reveal(&mut suite, 0, epoch_no).unwrap_err(),
        ContractError::BadEpoch {
            epoch: epoch_no,
            reason: format!("a seed is revealed once its epoch is over (now epoch {epoch_no})")
        }
    );
    enter(&mut suite, epoch_no + 1);
    // A wrong secret, or someone else's, is refused.
    let v0 = suite.validator(0);
    let wrong = ExecuteMsg::RevealSeed {
        epoch: epoch_no,
        secret: HexBinary::from(secret(0, epoch_no + 1).as_slice()),
    };
    assert_eq!(
        suite.execute(&v0, &wrong).unwrap_err(),
        ContractError::BadReveal { epoch: epoch_no }
    );
    let caller = suite.addr("caller");
    assert_eq!(
        suite.execute(&caller, &wrong).unwrap_err(),
        ContractError::NoSeed {
            epoch: epoch_no,
            validator: caller.to_string()
        }
    );
    for i in 0..VALIDATORS {
        reveal(&mut suite, i, epoch_no).unwrap();
    }
    assert_eq!(
        reveal(&mut suite, 0, epoch_no).unwrap_err(),
        ContractError::AlreadyRevealed { epoch: epoch_no }
    );
    let seed: Option<Seed> = suite.query(&QueryMsg::Seed {
        epoch: epoch_no,
        validator: suite.validator(0).to_string(),
    });
    assert_eq!(
        seed.unwrap().secret.unwrap().as_slice(),
        secret(0, epoch_no).as_slice()
    );

    // Validator 1 was not drawn, validator 4 re-executed: neither is lazy.
    let before: Vec<u128> = (0..VALIDATORS).map(|i| stake(&suite, i)).collect();
    assert_eq!(
        report(&mut suite, id, 1).unwrap_err(),
        ContractError::NotDrawn {
            id,
            validator: suite.validator(1).to_string()
        }
    );
    assert_eq!(
        report(&mut suite, id, 4).unwrap_err(),
        ContractError::NotLazy {
            id,
            validator: suite.validator(4).to_string(),
            reason: "its vote is not a structural Valid".into()
        }
    );
    assert_eq!(
        report(&mut suite, 999, 0).unwrap_err(),
        ContractError::UnknownJob { id: 999 }
    );
    assert_eq!(
        (0..VALIDATORS)
            .map(|i| stake(&suite, i))
            .collect::<Vec<_>>(),
        before
    );

    // Validator 0 was: slashed `slash_lazy`, jailed; the reporter takes its reward.
    report(&mut suite, id, 0).unwrap();
    let p = StakingParams::default();
    let slashed = Uint128::new(MIN).mul_floor(p.slash_lazy).u128();
    assert_eq!(stake(&suite, 0), MIN - slashed);
    assert!(suite.stake("validator-0").jailed_until.is_some());
    assert_eq!(
        suite.balance(&suite.addr("anyone")),
        Uint128::new(slashed).mul_floor(p.reporter_reward).u128()
    );
    assert_eq!(
        report(&mut suite, id, 0).unwrap_err(),
        ContractError::AlreadyReported
    );
    assert_eq!(stake(&suite, 0), MIN - slashed, "once per job");
    assert_eq!(stake(&suite, 1), MIN);
}

#[test]
fn a_seed_never_revealed_is_slashed_once_its_window_closes() {
    let mut suite = SuiteBuilder::new().build();
    let next = epoch(&suite).current + 1;
    commit(&mut suite, 2, next).unwrap();
    let unrevealed = |s: &mut Suite| {
        let (anyone, validator) = (s.addr("anyone"), s.validator(2).to_string());
        s.execute(
            &anyone,
            &ExecuteMsg::ReportUnrevealed {
                epoch: next,
                validator,
            },
        )
    };
    enter(&mut suite, next + 1);
    assert_eq!(
        unrevealed(&mut suite).unwrap_err(),
        ContractError::BadEpoch {
            epoch: next,
            reason: format!(
                "its seed may be revealed until epoch {} ends (now epoch {})",
                next + 1,
                next + 1
            )
        }
    );
    let (anyone, v3) = (suite.addr("anyone"), suite.validator(3).to_string());
    assert_eq!(
        suite
            .execute(
                &anyone,
                &ExecuteMsg::ReportUnrevealed {
                    epoch: next,
                    validator: v3.clone()
                }
            )
            .unwrap_err(),
        ContractError::NoSeed {
            epoch: next,
            validator: v3
        }
    );
    enter(&mut suite, next + 2);
    unrevealed(&mut suite).unwrap();
    let p = StakingParams::default();
    assert_eq!(
        stake(&suite, 2),
        MIN - Uint128::new(MIN).mul_floor(p.slash_unrevealed).u128()
    );
    assert_eq!(
        unrevealed(&mut suite).unwrap_err(),
        ContractError::AlreadyReported
    );
    // A late reveal is still taken (it lets the epoch's draws be checked); the slash stands.
    reveal(&mut suite, 2, next).unwrap();
    assert_eq!(
        unrevealed(&mut suite).unwrap_err(),
        ContractError::AlreadyRevealed { epoch: next }
    );
}

#[test]
fn seeds_are_committed_ahead_by_active_validators_once() {
    let mut suite = SuiteBuilder::new().build();
    let current = epoch(&suite).current;
    let ahead = |e: u64| ContractError::BadEpoch {
        epoch: e,
        reason: format!(
            "commitments are for the next 2 epochs, {} to {}",
            current + 1,
            current + 2
        ),
    };
    assert_eq!(commit(&mut suite, 0, current).unwrap_err(), ahead(current));
    assert_eq!(
        commit(&mut suite, 0, current + 3).unwrap_err(),
        ahead(current + 3)
    );
    let (caller, node) = (suite.addr("caller"), suite.addr("node"));
    for who in [caller, node] {
        let msg = ExecuteMsg::CommitSeed {
            epoch: current + 1,
            commitment: hash(1),
        };
        assert_eq!(
            suite.execute(&who, &msg).unwrap_err(),
            ContractError::NotActiveValidator {
                sender: who.to_string()
            }
        );
    }
    let v0 = suite.validator(0);
    let short = ExecuteMsg::CommitSeed {
        epoch: current + 1,
        commitment: HexBinary::from(vec![1u8; 31]),
    };
    assert_eq!(
        suite.execute(&v0, &short).unwrap_err(),
        ContractError::InvalidHash {
            what: "commitment",
            len: 31
        }
    );
    commit(&mut suite, 0, current + 1).unwrap();
    commit(&mut suite, 0, current + 2).unwrap();
    assert_eq!(
        commit(&mut suite, 0, current + 1).unwrap_err(),
        ContractError::AlreadyCommitted { epoch: current + 1 }
    );
    commit(&mut suite, 1, current + 1).unwrap();
    let info: EpochResponse = suite.query(&QueryMsg::Epoch {
        epoch: Some(current + 1),
    });
    assert_eq!((info.committed, info.p_min_bps), (2, 2_000));
    assert_eq!(info.threshold.u64(), draw_threshold(2_000, 2));
    assert_eq!(info.start_height, (current + 1) * 600);
    // The floor is fixed at the epoch's first commitment: a later change applies later.
    let gov = suite.gov.clone();
    let update = ExecuteMsg::UpdateParams(havn_execution_log::msg::ParamsUpdate {
        p_min_bps: Some(5_000),
        ..Default::default()
    });
    suite.execute(&gov, &update).unwrap();
    commit(&mut suite, 2, current + 1).unwrap();
    let info: EpochResponse = suite.query(&QueryMsg::Epoch {
        epoch: Some(current + 1),
    });
    assert_eq!((info.committed, info.p_min_bps), (3, 2_000));
    // Governance cannot take the floor away.
    let zero = ExecuteMsg::UpdateParams(havn_execution_log::msg::ParamsUpdate {
        p_min_bps: Some(0),
        ..Default::default()
    });
    assert!(matches!(
        suite
            .execute(&gov, &zero)
            .unwrap_err()
            .0
            .downcast::<ContractError>(),
        Ok(ContractError::InvalidParam {
            name: "p_min_bps",
            ..
        })
    ));
}

#[test]
fn once_anyone_committed_only_voters_with_a_seed_are_paid() {
    let mut suite = SuiteBuilder::new().build();
    let next = epoch(&suite).current + 1;
    for i in 0..3 {
        commit(&mut suite, i, next).unwrap();
    }
    enter(&mut suite, next);
    let id = suite.request(PRICE, 1).unwrap();
    // Validator 3 signs without a seed: counted for the quorum, not paid.
    let settled = suite.settle(vec![suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3])]);
    assert!(!settled.events.is_empty());
    let received = suite.received();
    let paid: Vec<_> = received[0].settlements[0]
        .validators
        .iter()
        .map(|(v, _)| v.clone())
        .collect();
    assert_eq!(paid, (0..3).map(|i| suite.validator(i)).collect::<Vec<_>>());
    assert_eq!(suite.balance(&suite.validator(3)), FREE);
}

#[test]
fn reexecution_claims_skip_what_cannot_be_paid_and_say_why() {
    let mut suite = SuiteBuilder::new().build();
    let (id, epoch_no, output) = job_in_committed_epoch(&mut suite);
    let votes = [
        (0, Verdict::Valid, REEXECUTED),
        (1, Verdict::Valid, REEXECUTED),
        (2, Verdict::Valid, Check::Structural),
        (3, Verdict::Valid, Check::Structural),
    ];
    suite
        .record(vec![suite.result_votes(id, output, &votes)])
        .unwrap();
    let v0 = suite.validator(0);
    let claim = |s: &mut Suite, who: &cosmwasm_std::Addr, job_ids: Vec<u64>| {
        s.execute(who, &ExecuteMsg::ClaimReexecutions { job_ids })
    };
    for ids in [vec![], (0..41).collect()] {
        assert_eq!(
            claim(&mut suite, &v0, ids.clone()).unwrap_err(),
            ContractError::BadBatchSize {
                count: ids.len(),
                max: 40
            }
        );
    }
    let reasons = |res: &cw_multi_test::AppResponse| -> Vec<String> {
        res.events
            .iter()
            .filter(|e| e.ty == "wasm-havn_reexecution")
            .map(|e| {
                let get = |k: &str| {
                    e.attributes
                        .iter()
                        .find(|a| a.key == k)
                        .map_or(String::new(), |a| a.value.clone())
                };
                format!("{} {}", get("outcome"), get("reason"))
            })
            .collect()
    };
    // Still in its window, and an unknown job: skipped, nothing sent to payout.
    let res = claim(&mut suite, &v0, vec![id, 999]).unwrap();
    assert_eq!(
        reasons(&res),
        [
            format!("skipped job {id} is Recorded, not decided"),
            "skipped job 999 does not exist".to_string()
        ]
    );
    assert!(suite.received().is_empty());
    suite.pass_window();
    suite.finalize(&[id]).unwrap();
    let res = claim(&mut suite, &v0, vec![id]).unwrap();
    assert_eq!(
        reasons(&res),
        [format!("skipped no revealed seed for epoch {epoch_no}")]
    );
    enter(&mut suite, epoch_no + 1);
    for i in 0..VALIDATORS {
        reveal(&mut suite, i, epoch_no).unwrap();
    }
    // Validator 0 was drawn: paid once. Validator 1 re-executed undrawn; 2 only looked.
    assert!(suite.pot_claims().is_empty());
    let res = claim(&mut suite, &v0, vec![id]).unwrap();
    assert_eq!(reasons(&res), ["claimed ".to_string()]);
    assert_eq!(suite.pot_claims(), [(v0.to_string(), 1)]);
    let res = claim(&mut suite, &v0, vec![id]).unwrap();
    assert_eq!(reasons(&res), ["skipped already paid".to_string()]);
    let v1 = suite.validator(1);
    let res = claim(&mut suite, &v1, vec![id]).unwrap();
    assert_eq!(
        reasons(&res),
        ["skipped not drawn, and the job was not disputed".to_string()]
    );
    let v2 = suite.validator(2);
    let res = claim(&mut suite, &v2, vec![id]).unwrap();
    assert_eq!(
        reasons(&res),
        ["skipped not a re-execution that agrees with the verdict".to_string()]
    );
    let caller = suite.addr("caller");
    let res = claim(&mut suite, &caller, vec![id]).unwrap();
    assert_eq!(
        reasons(&res),
        ["skipped no vote of this validator".to_string()]
    );
    assert_eq!(
        suite.pot_claims().len(),
        1,
        "paid once, for the drawn one only"
    );
}

/// A dispute asks every validator to re-execute: those re-executions are paid like drawn ones
/// (or ignoring disputes would pay), once the seed is out, and only when they agree.
#[test]
fn reexecutions_a_dispute_asked_for_are_paid_like_drawn_ones() {
    let mut suite = SuiteBuilder::new().build();
    let (id, epoch_no, output) = job_in_committed_epoch(&mut suite);
    // Validator 1 is not drawn; 0 to 3 re-executed and found it Invalid, 4 said Valid.
    let votes = [
        (0, Verdict::Invalid, REEXECUTED),
        (1, Verdict::Invalid, REEXECUTED),
        (2, Verdict::Invalid, REEXECUTED),
        (3, Verdict::Invalid, REEXECUTED),
        (4, Verdict::Valid, Check::Structural),
    ];
    suite
        .record(vec![suite.result_votes(id, output, &votes)])
        .unwrap();
    enter(&mut suite, epoch_no + 1);
    for i in 0..VALIDATORS {
        reveal(&mut suite, i, epoch_no).unwrap();
    }
    for i in [1, 4] {
        let v = suite.validator(i);
        suite
            .execute(&v, &ExecuteMsg::ClaimReexecutions { job_ids: vec![id] })
            .unwrap();
    }
    assert_eq!(
        suite.pot_claims(),
        [(suite.validator(1).to_string(), 1)],
        "the undrawn re-execution the dispute asked for; not the structural vote"
    );
}
