use cosmwasm_std::Uint128;
use havn_staking::msg::{ClaimsResponse, ExecuteMsg, QueryMsg};
use havn_staking::state::{Params, Role, MAX_CLAIMS};
use havn_staking::ContractError;

use crate::suite::*;

#[test]
fn unbond_then_claim_after_the_period() {
    let mut suite = SuiteBuilder::new().fund(&["alice"]).build();
    let alice = suite.addr("alice");
    suite.bond("alice", Role::Node, 3 * MIN).unwrap();
    suite
        .execute(
            &alice,
            &ExecuteMsg::Unbond {
                role: Role::Node,
                amount: Uint128::new(MIN),
            },
        )
        .unwrap();
    assert_eq!(suite.operator("alice").node_stake.u128(), 2 * MIN);
    assert_eq!(suite.operator("alice").unbonding.u128(), MIN);
    assert_eq!(suite.totals().unbonding.u128(), MIN);
    suite.assert_conserved();

    assert_eq!(
        suite.execute(&alice, &ExecuteMsg::Claim {}).unwrap_err(),
        ContractError::NothingToClaim
    );
    suite.advance(Params::default().unbonding_period);
    suite.execute(&alice, &ExecuteMsg::Claim {}).unwrap();
    assert_eq!(suite.balance(&alice), 1_000 * MIN - 2 * MIN);
    assert_eq!(suite.totals().unbonding.u128(), 0);
    let claims: ClaimsResponse = suite.query(&QueryMsg::Claims {
        address: alice.to_string(),
    });
    assert!(claims.claims.is_empty());
    assert_eq!(
        suite.execute(&alice, &ExecuteMsg::Claim {}).unwrap_err(),
        ContractError::NothingToClaim
    );
    suite.assert_conserved();
}

#[test]
fn unbond_rejections() {
    let mut suite = SuiteBuilder::new().fund(&["alice"]).build();
    let (alice, bob) = (suite.addr("alice"), suite.addr("bob"));
    let unbond = |amount: u128| ExecuteMsg::Unbond {
        role: Role::Node,
        amount: Uint128::new(amount),
    };
    assert_eq!(
        suite.execute(&bob, &unbond(1)).unwrap_err(),
        ContractError::NotOperator {
            address: bob.to_string()
        }
    );
    suite.bond("alice", Role::Node, 2 * MIN).unwrap();
    assert_eq!(
        suite.execute(&alice, &unbond(0)).unwrap_err(),
        ContractError::ZeroAmount
    );
    assert_eq!(
        suite.execute(&alice, &unbond(2 * MIN + 1)).unwrap_err(),
        ContractError::InsufficientStake {
            role: Role::Node,
            requested: Uint128::new(2 * MIN + 1),
            bonded: Uint128::new(2 * MIN)
        }
    );
    let wrong_role = ExecuteMsg::Unbond {
        role: Role::Validator,
        amount: Uint128::new(1),
    };
    assert_eq!(
        suite.execute(&alice, &wrong_role).unwrap_err(),
        ContractError::InsufficientStake {
            role: Role::Validator,
            requested: Uint128::new(1),
            bonded: Uint128::zero()
        }
    );
    for _ in 0..MAX_CLAIMS {
        suite.execute(&alice, &unbond(1)).unwrap();
    }
    assert_eq!(
        suite.execute(&alice, &unbond(1)).unwrap_err(),
        ContractError::TooManyClaims { max: MAX_CLAIMS }
    );
    suite.assert_conserved();
}

#[test]
fn unbonding_below_minimum_deactivates_the_role() {
    let mut suite = SuiteBuilder::new().fund(&["alice"]).build();
    let alice = suite.addr("alice");
    suite.bond("alice", Role::Validator, MIN).unwrap();
    suite
        .execute(
            &alice,
            &ExecuteMsg::Unbond {
                role: Role::Validator,
                amount: Uint128::new(1),
            },
        )
        .unwrap();
    assert!(!suite.operator("alice").validator_eligible);
    let set: havn_staking::msg::ActiveSetResponse = suite.query(&QueryMsg::ActiveSet {});
    assert!(set.validators.is_empty());
}
