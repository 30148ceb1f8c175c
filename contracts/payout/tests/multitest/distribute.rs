use cosmwasm_std::{coins, Uint128};
use havn_payout::msg::{PaidResponse, QueryMsg};
use havn_payout::state::{Params, ValidatorShares};
use havn_payout::ContractError;
use havn_types::{AssetError, Split, SplitError};

use crate::suite::{cw20_suite, suite, suite_with, Suite, DENOM};

/// 10 000 at 45/20/25/5/5 %, upstream 12 % + 8 %, three validators staking 5, 5 and 90:
/// creator 4500, lora 1200, upstream 800, node 2500; of the validators' 500, 80 % (400) to the
/// re-execution pot and the rest by stake (the default): 5, 5, 90; treasury 500.
fn check_reference_job(s: &mut Suite) {
    let settlement = s.settlement(
        1,
        10_000,
        &[("lora", 1200), ("upstream", 800)],
        &[("v0", 5), ("v1", 5), ("v2", 90)],
    );
    let res = s.distribute(vec![settlement]).unwrap();
    for (who, amount) in [
        ("creator", 4500),
        ("lora", 1200),
        ("upstream", 800),
        ("node", 2500),
        ("v0", 5),
        ("v1", 5),
        ("v2", 90),
        ("treasury", 500),
    ] {
        let e = s.earnings(who);
        assert_eq!(
            (who, e.earned.u128(), e.claimable.u128()),
            (who, amount, amount)
        );
    }
    let w = s.workflow(7);
    assert_eq!(
        (
            w.runs,
            w.total_fees.u128(),
            w.creator.u128(),
            w.upstream.u128()
        ),
        (1, 10_000, 4500, 2000)
    );
    assert_eq!(
        (w.node.u128(), w.validators.u128(), w.treasury.u128()),
        (2500, 500, 500)
    );
    let t = s.totals();
    assert_eq!(
        (
            t.distributed.u128(),
            t.pot.u128(),
            t.owed.u128(),
            t.jobs_paid
        ),
        (9_600, 400, 10_000, 1)
    );
    assert_eq!(s.balance(&s.payout.clone()), 10_000);
    let ev = res
        .events
        .iter()
        .find(|e| e.ty == "wasm-havn_payout")
        .expect("a havn_payout event per job");
    let attr = |k: &str| {
        ev.attributes
            .iter()
            .find(|a| a.key == k)
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(
        (
            attr("job_id"),
            attr("fee"),
            attr("validators"),
            attr("to_pot"),
            attr("treasury")
        ),
        (
            "1".into(),
            "10000".into(),
            "500".into(),
            "400".into(),
            "500".into()
        )
    );
}

#[test]
fn credits_every_party_exactly_with_native_fees() {
    check_reference_job(&mut suite());
}

#[test]
fn credits_every_party_exactly_with_cw20_fees() {
    check_reference_job(&mut cw20_suite());
}

/// Equal shares (governance may choose them): three signers of 100 get 33 each, 1 left over.
#[test]
fn equal_validator_shares_ignore_stake() {
    let mut s = suite_with(Params {
        validator_shares: ValidatorShares::Equal,
        ..Params::default()
    });
    let settlement = s.settlement(1, 10_000, &[], &[("v0", 5), ("v1", 5), ("v2", 90)]);
    s.distribute(vec![settlement]).unwrap();
    for v in ["v0", "v1", "v2"] {
        assert_eq!(s.earnings(v).earned.u128(), 33, "{v}");
    }
    assert_eq!(s.earnings("treasury").earned.u128(), 501);
}

/// The default: a Sybil splitting its stake gains nothing.
#[test]
fn stake_weighted_validator_shares_follow_stake() {
    let mut s = suite();
    let settlement = s.settlement(1, 10_000, &[], &[("v0", 3), ("v1", 1), ("v2", 0)]);
    s.distribute(vec![settlement]).unwrap();
    // Pool 500, 400 to the pot: 75 and 25; the zero-stake signer gets nothing; nothing is left.
    assert_eq!(s.earnings("v0").earned.u128(), 75);
    assert_eq!(s.earnings("v1").earned.u128(), 25);
    assert_eq!(s.earnings("v2").earned.u128(), 0);
    // No dependencies: creator 65 %.
    assert_eq!(s.earnings("creator").earned.u128(), 6500);
    assert_eq!(s.earnings("treasury").earned.u128(), 500);
}

#[test]
fn one_address_in_several_roles_is_credited_for_each() {
    let mut s = suite();
    let mut settlement = s.settlement(1, 1_000, &[("creator", 2000)], &[("creator", 1)]);
    settlement.node = s.addr("creator");
    s.distribute(vec![settlement]).unwrap();
    // Creator 450 + upstream 200 + node 250 + the one validator's 10 (40 to the pot).
    assert_eq!(s.earnings("creator").earned.u128(), 910);
    assert_eq!(s.earnings("treasury").earned.u128(), 50);
}

#[test]
fn a_batch_adds_up_across_jobs_and_workflows() {
    let mut s = suite();
    let a = s.settlement(1, 1_000, &[], &[("v0", 1)]);
    let b = s.settlement(2, 3_000, &[], &[("v0", 1), ("v1", 1)]);
    let mut c = s.settlement(3, 7, &[], &[("v1", 1)]);
    c.workflow_id = 8;
    s.distribute(vec![a, b, c]).unwrap();
    // Creator: 650 + 1950 + floor(7 × 0.65) = 4.
    assert_eq!(s.earnings("creator").earned.u128(), 2604);
    // Pools 50, 150, 0, each 80 % to the pot: v0 10 + 15; v1 15 + 0.
    assert_eq!(s.earnings("v0").earned.u128(), 25);
    assert_eq!(s.earnings("v1").earned.u128(), 15);
    assert_eq!(
        (s.workflow(7).runs, s.workflow(7).total_fees.u128()),
        (2, 4_000)
    );
    assert_eq!(
        (s.workflow(8).runs, s.workflow(8).total_fees.u128()),
        (1, 7)
    );
    let t = s.totals();
    assert_eq!(
        (t.distributed.u128(), t.pot.u128(), t.jobs_paid),
        (3_847, 160, 3)
    );
}

#[test]
fn no_signers_leave_the_validator_pool_to_the_treasury() {
    let mut s = suite();
    let settlement = s.settlement(1, 10_000, &[], &[]);
    s.distribute(vec![settlement]).unwrap();
    // The pot still takes its 400: it pays re-executions, whoever signed.
    assert_eq!(s.earnings("treasury").earned.u128(), 600);
    assert_eq!(s.totals().pot.u128(), 400);
}

#[test]
fn a_zero_fee_job_is_recorded_and_credits_nothing() {
    let mut s = suite();
    let settlement = s.settlement(1, 0, &[], &[("v0", 1)]);
    let log = s.log.clone();
    s.distribute_from(&log, vec![settlement], 0).unwrap_err();
    // Native funds cannot be zero; with nothing to pay there is nothing to distribute.
    let mut s = cw20_suite();
    let settlement = s.settlement(1, 0, &[], &[("v0", 1)]);
    s.distribute(vec![settlement]).unwrap();
    assert_eq!(s.workflow(7).runs, 1);
    assert_eq!(s.earnings("creator").earned.u128(), 0);
}

#[test]
fn never_pays_a_job_twice() {
    let mut s = suite();
    let first = s.settlement(1, 1_000, &[], &[("v0", 1)]);
    s.distribute(vec![first.clone()]).unwrap();
    assert_eq!(
        s.distribute(vec![first.clone()]).unwrap_err(),
        ContractError::AlreadyPaid { job_id: 1 }
    );
    // Twice in one batch: the second copy is refused and the whole batch with it.
    let second = s.settlement(2, 1_000, &[], &[("v0", 1)]);
    assert_eq!(
        s.distribute(vec![second.clone(), second]).unwrap_err(),
        ContractError::AlreadyPaid { job_id: 2 }
    );
    let paid = |s: &Suite, job_id| s.query::<PaidResponse>(&QueryMsg::Paid { job_id }).paid;
    assert!(paid(&s, 1));
    assert!(!paid(&s, 2));
    assert_eq!(s.totals().distributed.u128(), 960);
    assert_eq!(s.earnings("creator").earned.u128(), 650);
}

#[test]
fn only_the_execution_log_distributes() {
    for mut s in [suite(), cw20_suite()] {
        let stranger = s.addr("stranger");
        let settlement = s.settlement(1, 1_000, &[], &[]);
        assert_eq!(
            s.distribute_from(&stranger, vec![settlement], 1_000)
                .unwrap_err(),
            ContractError::NotExecutionLog {
                sender: stranger.to_string()
            }
        );
        assert_eq!(s.totals().distributed, Uint128::zero());
    }
}

#[test]
fn the_attached_fees_must_match_the_batch() {
    for mut s in [suite(), cw20_suite()] {
        let log = s.log.clone();
        for attached in [999, 1_001] {
            let settlement = s.settlement(1, 1_000, &[], &[]);
            assert_eq!(
                s.distribute_from(&log, vec![settlement], attached)
                    .unwrap_err(),
                ContractError::FeeMismatch {
                    attached: Uint128::new(attached),
                    expected: Uint128::new(1_000)
                }
            );
        }
    }
}

#[test]
fn the_wrong_asset_is_refused() {
    let mut s = suite();
    let settlement = s.settlement(1, 1_000, &[], &[]);
    let log = s.log.clone();
    let msg = havn_payout::msg::ExecuteMsg::Distribute {
        settlements: vec![settlement.clone()],
    };
    assert_eq!(
        s.execute(&log, &msg, &coins(1_000, "uatom")).unwrap_err(),
        AssetError::WrongAsset {
            expected: DENOM.into(),
            got: "uatom".into()
        }
    );
    assert_eq!(
        s.execute(&log, &msg, &[]).unwrap_err(),
        AssetError::NoPayment {
            expected: DENOM.into()
        }
    );
    // A cw20 deployment takes no bank coins, even from the log.
    let mut s = cw20_suite();
    let log = s.log.clone();
    let msg = havn_payout::msg::ExecuteMsg::Distribute {
        settlements: vec![s.settlement(1, 1_000, &[], &[])],
    };
    assert_eq!(
        s.execute(&log, &msg, &[]).unwrap_err(),
        AssetError::PayWithCw20 {
            token: format!("cw20:{}", s.token.clone().unwrap())
        }
    );
}

#[test]
fn batch_size_is_bounded() {
    let mut s = suite_with(Params {
        max_settlements: 2,
        ..Params::default()
    });
    let log = s.log.clone();
    assert_eq!(
        s.distribute_from(&log, vec![], 1).unwrap_err(),
        ContractError::BadBatchSize { count: 0, max: 2 }
    );
    let batch = (1..=3).map(|id| s.settlement(id, 10, &[], &[])).collect();
    assert_eq!(
        s.distribute(batch).unwrap_err(),
        ContractError::BadBatchSize { count: 3, max: 2 }
    );
}

#[test]
fn every_list_walked_is_bounded_by_params() {
    let mut s = suite_with(Params {
        max_royalty_payees: 2,
        max_signers: 2,
        ..Params::default()
    });
    let payees = s.settlement(1, 1_000, &[("a", 1000), ("b", 500), ("c", 500)], &[]);
    assert_eq!(
        s.distribute(vec![payees]).unwrap_err(),
        ContractError::ListTooLong {
            job_id: 1,
            what: "royalty payees",
            count: 3,
            max: 2
        }
    );
    let signers = s.settlement(1, 1_000, &[], &[("v0", 1), ("v1", 1), ("v2", 1)]);
    assert_eq!(
        s.distribute(vec![signers]).unwrap_err(),
        ContractError::ListTooLong {
            job_id: 1,
            what: "validators",
            count: 3,
            max: 2
        }
    );
}

#[test]
fn a_malformed_split_is_refused() {
    let mut s = suite();
    let mut short = s.settlement(1, 1_000, &[("a", 1000)], &[]);
    short.split = Split::DEFAULT; // upstream 2000 bps, stack only 1000
    assert_eq!(
        s.distribute(vec![short]).unwrap_err(),
        ContractError::Split {
            job_id: 1,
            source: SplitError::StackMismatch {
                stack: 1000,
                upstream: 2000
            }
        }
    );
    let mut broken = s.settlement(2, 1_000, &[], &[]);
    broken.split.treasury = 0;
    assert_eq!(
        s.distribute(vec![broken]).unwrap_err(),
        ContractError::Split {
            job_id: 2,
            source: SplitError::NotWhole { total: 9_500 }
        }
    );
}

/// Each proven re-execution takes `pot_payout_bps` (1 %) of what the pot holds then; only the
/// execution log may pay them, and a count out of range moves nothing.
#[test]
fn proven_reexecutions_are_paid_from_the_pot_by_the_log_only() {
    use havn_payout::msg::ExecuteMsg;
    let mut s = suite();
    let settlement = s.settlement(1, 1_000_000, &[], &[("v0", 1)]);
    s.distribute(vec![settlement]).unwrap();
    // Pool 50 000, 40 000 to the pot.
    assert_eq!(s.totals().pot.u128(), 40_000);
    let drawn = s.addr("drawn").to_string();
    let pay = |count| ExecuteMsg::PayReexecutions {
        validator: drawn.clone(),
        count,
    };
    let stranger = s.addr("stranger");
    let admin = s.admin.clone();
    for sender in [stranger.clone(), admin] {
        assert_eq!(
            s.execute(&sender, &pay(1), &[]).unwrap_err(),
            ContractError::NotExecutionLog {
                sender: sender.to_string()
            }
        );
    }
    let log = s.log.clone();
    for count in [0, 101] {
        assert_eq!(
            s.execute(&log, &pay(count), &[]).unwrap_err(),
            ContractError::BadBatchSize {
                count: count as usize,
                max: 100
            }
        );
    }
    assert_eq!(s.totals().pot.u128(), 40_000);
    s.execute(&log, &pay(2), &[]).unwrap();
    // 400, then 1 % of the 39 600 left: 396.
    assert_eq!(s.earnings("drawn").claimable.u128(), 796);
    let t = s.totals();
    assert_eq!(t.pot.u128(), 40_000 - 796);
    assert_eq!(
        t.owed.u128(),
        s.balance(&s.payout.clone()),
        "owed is what it holds"
    );
    s.claim("drawn").unwrap();
    assert_eq!(s.balance(&s.addr("drawn")), 796);
}

/// Splitting one stake over many minimum-stake validators earns exactly what the one would.
#[test]
fn a_sybil_split_earns_what_the_one_validator_would() {
    let mut s = suite();
    let whole = s.settlement(1, 100_000, &[], &[("honest", 50), ("whole", 50)]);
    let names: Vec<String> = (0..10).map(|i| format!("sybil{i}")).collect();
    let mut signers: Vec<(&str, u128)> = names.iter().map(|n| (n.as_str(), 5)).collect();
    signers.push(("honest2", 50));
    let split = s.settlement(2, 100_000, &[], &signers);
    s.distribute(vec![whole, split]).unwrap();
    let sybils: u128 = names.iter().map(|n| s.earnings(n).earned.u128()).sum();
    assert_eq!(sybils, s.earnings("whole").earned.u128());
    assert_eq!(
        s.earnings("honest2").earned.u128(),
        s.earnings("honest").earned.u128()
    );
}
