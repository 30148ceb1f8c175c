//! Property: whatever operators do (bond, unbond, claim) and however they are slashed, the tokens
//! the contract holds equal bonded + unbonding stake, and nothing else.

use cosmwasm_std::{Decimal, Uint128};
use havn_staking::msg::ExecuteMsg;
use havn_staking::state::Role;
use proptest::prelude::*;

use crate::suite::*;

#[derive(Debug, Clone)]
enum Op {
    Bond(usize, bool, u128),
    Unbond(usize, bool, u128),
    Claim(usize),
    Slash(usize, u8),
    Wait(u64),
}

const WHO: [&str; 3] = ["a", "b", "c"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, any::<bool>(), MIN..5 * MIN).prop_map(|(w, v, a)| Op::Bond(w, v, a)),
        (0..3usize, any::<bool>(), 1..3 * MIN).prop_map(|(w, v, a)| Op::Unbond(w, v, a)),
        (0..3usize).prop_map(Op::Claim),
        (0..3usize, 0u8..=100).prop_map(|(w, pct)| Op::Slash(w, pct)),
        (1u64..20 * 24 * 3600).prop_map(Op::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn tokens_are_conserved(ops in proptest::collection::vec(op(), 1..25)) {
        let mut suite = SuiteBuilder::new().fund(&WHO).build();
        let admin = suite.admin.clone();
        for op in ops {
            let role = |v: bool| if v { Role::Validator } else { Role::Node };
            // Individual steps may be refused (unbonding more than bonded, …); that is fine, a
            // refused step must simply change nothing.
            let _ = match op {
                Op::Bond(w, v, amount) => suite.bond(WHO[w], role(v), amount).map(|_| ()),
                Op::Unbond(w, v, amount) => {
                    let who = suite.addr(WHO[w]);
                    suite.execute(&who, &ExecuteMsg::Unbond { role: role(v), amount: Uint128::new(amount) }).map(|_| ())
                }
                Op::Claim(w) => {
                    let who = suite.addr(WHO[w]);
                    suite.execute(&who, &ExecuteMsg::Claim {}).map(|_| ())
                }
                Op::Slash(w, pct) => {
                    let operator = suite.addr(WHO[w]).to_string();
                    let msg = ExecuteMsg::Slash { operator, role: None, reason: "property test".into(), fraction: Some(Decimal::percent(pct.into())) };
                    suite.execute(&admin, &msg).map(|_| ())
                }
                Op::Wait(seconds) => {
                    suite.advance(seconds);
                    Ok(())
                }
            };
            let t = suite.totals();
            prop_assert_eq!(suite.balance(&suite.staking.clone()), (t.node + t.validator + t.unbonding).u128());
            // Everyone's tokens are somewhere: wallets + contract + treasury = what was minted.
            let total: u128 = WHO.iter().map(|w| suite.balance(&suite.addr(w))).sum::<u128>()
                + suite.balance(&suite.staking.clone())
                + suite.balance(&suite.treasury.clone());
            prop_assert_eq!(total, 3 * 1_000 * MIN);
        }
    }
}
