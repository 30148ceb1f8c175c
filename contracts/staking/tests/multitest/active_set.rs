use cosmwasm_std::Uint128;
use havn_staking::msg::{
    ActiveSetResponse, ExecuteMsg, OperatorsResponse, PowerResponse, QueryMsg,
    QuorumContextResponse, ValidatorsResponse,
};
use havn_staking::state::Role;

use crate::suite::*;

fn active(suite: &Suite) -> Vec<(String, u128)> {
    let set: ActiveSetResponse = suite.query(&QueryMsg::ActiveSet {});
    assert_eq!(
        set.total_stake,
        set.validators.iter().map(|v| v.stake).sum::<Uint128>()
    );
    set.validators
        .into_iter()
        .map(|v| (v.operator.to_string(), v.stake.u128()))
        .collect()
}

#[test]
fn active_set_is_the_most_staked_eligible_validators() {
    let mut suite = SuiteBuilder::new()
        .with_params(|p| p.max_validators = 2)
        .fund(&["a", "b", "c"])
        .build();
    let (a, b, c, admin) = (
        suite.addr("a"),
        suite.addr("b"),
        suite.addr("c"),
        suite.admin.clone(),
    );
    suite.bond("a", Role::Validator, 3 * MIN).unwrap();
    suite.bond("b", Role::Validator, MIN).unwrap();
    suite.bond("c", Role::Validator, 2 * MIN).unwrap();
    assert_eq!(
        active(&suite),
        vec![(a.to_string(), 3 * MIN), (c.to_string(), 2 * MIN)]
    );
    // Jailing c lets b in; unjailing and out-staking b brings c back.
    suite
        .execute(
            &admin,
            &ExecuteMsg::Slash {
                operator: c.to_string(),
                role: Some(Role::Validator),
                reason: "test".into(),
                fraction: Some(cosmwasm_std::Decimal::zero()),
            },
        )
        .unwrap();
    assert_eq!(
        active(&suite),
        vec![(a.to_string(), 3 * MIN), (b.to_string(), MIN)]
    );
    suite.advance(havn_staking::state::Params::default().jail_period);
    suite.execute(&c, &ExecuteMsg::Unjail {}).unwrap();
    assert_eq!(
        active(&suite),
        vec![(a.to_string(), 3 * MIN), (c.to_string(), 2 * MIN)]
    );
    // Node stake never counts toward the validator set.
    suite.bond("b", Role::Node, 10 * MIN).unwrap();
    assert_eq!(active(&suite).len(), 2);
    let listed: ValidatorsResponse = suite.query(&QueryMsg::Validators {
        start_after: None,
        limit: None,
    });
    assert_eq!(listed.validators.len(), 3);
}

#[test]
fn quorum_context_in_one_query() {
    let mut suite = SuiteBuilder::new().fund(&["v", "n1", "n2"]).build();
    suite.bond("v", Role::Validator, MIN).unwrap();
    suite.bond("n1", Role::Node, MIN).unwrap();
    suite.bond("n2", Role::Validator, MIN).unwrap();
    let nodes = vec![
        suite.addr("n1").to_string(),
        suite.addr("n2").to_string(),
        suite.addr("nobody").to_string(),
    ];
    let ctx: QuorumContextResponse = suite.query(&QueryMsg::QuorumContext { nodes });
    assert_eq!(
        ctx.nodes.iter().map(|n| n.active).collect::<Vec<_>>(),
        vec![true, false, false]
    );
    // Keys for every operator that bonded, active or not: a fraud is checked against it.
    assert!(ctx.nodes[0].pubkey.is_some() && ctx.nodes[1].pubkey.is_some());
    assert_eq!(ctx.nodes[2].pubkey, None);
    assert_eq!(ctx.validators.len(), 2);
    assert_eq!(ctx.total_stake.u128(), 2 * MIN);
}

#[test]
fn raising_the_minimum_applies_to_the_active_set_at_once() {
    let mut suite = SuiteBuilder::new().fund(&["a", "b"]).build();
    suite.bond("a", Role::Validator, 3 * MIN).unwrap();
    suite.bond("b", Role::Validator, MIN).unwrap();
    let admin = suite.admin.clone();
    let update = havn_staking::msg::ParamsUpdate {
        min_stake_validator: Some(Uint128::new(2 * MIN)),
        ..Default::default()
    };
    suite
        .execute(&admin, &ExecuteMsg::UpdateParams(update))
        .unwrap();
    assert_eq!(active(&suite), vec![(suite.addr("a").to_string(), 3 * MIN)]);
}

#[test]
fn voting_power_is_snapshotted_by_height() {
    let mut suite = SuiteBuilder::new().fund(&["a"]).build();
    let a = suite.addr("a");
    suite.bond("a", Role::Validator, MIN).unwrap();
    suite.advance(10);
    let start = suite.app.block_info().height;
    suite.bond("a", Role::Node, 2 * MIN).unwrap();
    suite.advance(10);
    suite
        .execute(
            &a,
            &ExecuteMsg::Unbond {
                role: Role::Node,
                amount: Uint128::new(MIN),
            },
        )
        .unwrap();
    suite.advance(10);
    let at = |h| {
        suite
            .query::<PowerResponse>(&QueryMsg::VotingPowerAtHeight {
                address: a.to_string(),
                height: Some(h),
            })
            .power
            .u128()
    };
    // A snapshot at height h is the power at the start of block h.
    assert_eq!(at(start), MIN);
    assert_eq!(at(start + 1), 3 * MIN);
    assert_eq!(at(suite.app.block_info().height), 2 * MIN);
    let total: PowerResponse = suite.query(&QueryMsg::TotalPowerAtHeight {
        height: Some(start),
    });
    assert_eq!(total.power.u128(), MIN);
}

#[test]
fn a_raised_minimum_never_leaves_a_validator_in_the_set_twice() {
    let mut suite = SuiteBuilder::new().fund(&["a", "b"]).build();
    suite.bond("a", Role::Validator, 3 * MIN).unwrap();
    suite.bond("b", Role::Validator, MIN).unwrap();
    let admin = suite.admin.clone();
    let raise = havn_staking::msg::ParamsUpdate {
        min_stake_validator: Some(Uint128::new(2 * MIN)),
        ..Default::default()
    };
    suite
        .execute(&admin, &ExecuteMsg::UpdateParams(raise))
        .unwrap();
    // b tops up past the new minimum, then the minimum is lowered again: b must appear once,
    // with its new stake (no entry left behind from before the raise).
    suite.bond("b", Role::Validator, 2 * MIN).unwrap();
    let lower = havn_staking::msg::ParamsUpdate {
        min_stake_validator: Some(Uint128::new(MIN)),
        ..Default::default()
    };
    suite
        .execute(&admin, &ExecuteMsg::UpdateParams(lower))
        .unwrap();
    let mut set = active(&suite);
    set.sort();
    let mut expected = vec![
        (suite.addr("a").to_string(), 3 * MIN),
        (suite.addr("b").to_string(), 3 * MIN),
    ];
    expected.sort();
    assert_eq!(set, expected);
}

#[test]
fn changing_max_validators_applies_at_once() {
    let mut suite = SuiteBuilder::new().fund(&["a", "b", "c"]).build();
    for (name, stake) in [("a", 3), ("b", 2), ("c", 1)] {
        suite.bond(name, Role::Validator, stake * MIN).unwrap();
    }
    let admin = suite.admin.clone();
    suite
        .execute(
            &admin,
            &ExecuteMsg::UpdateParams(havn_staking::msg::ParamsUpdate {
                max_validators: Some(2),
                ..Default::default()
            }),
        )
        .unwrap();
    assert_eq!(active(&suite).len(), 2);
    suite
        .execute(
            &admin,
            &ExecuteMsg::UpdateParams(havn_staking::msg::ParamsUpdate {
                max_validators: Some(3),
                ..Default::default()
            }),
        )
        .unwrap();
    assert_eq!(active(&suite).len(), 3);
}

#[test]
fn operators_lists_nodes_and_validators_page_by_page() {
    let mut suite = SuiteBuilder::new().fund(&["a", "b", "c"]).build();
    suite.bond("a", Role::Node, MIN).unwrap();
    suite.bond("b", Role::Validator, 2 * MIN).unwrap();
    suite.bond("c", Role::Node, MIN).unwrap();
    suite.bond("c", Role::Validator, MIN).unwrap();
    let page = |start_after: Option<String>, limit| -> OperatorsResponse {
        suite.query(&QueryMsg::Operators { start_after, limit })
    };
    let all = page(None, None).operators;
    let mut expected: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| suite.addr(n).to_string())
        .collect();
    expected.sort();
    assert_eq!(
        all.iter()
            .map(|o| o.address.to_string())
            .collect::<Vec<_>>(),
        expected
    );
    let c = all.iter().find(|o| o.address == suite.addr("c")).unwrap();
    assert_eq!((c.node_stake.u128(), c.validator_stake.u128()), (MIN, MIN));
    assert!(c.node_active && c.validator_eligible);
    // Pages join up with no gap or repeat.
    let first = page(None, Some(2)).operators;
    let rest = page(Some(first[1].address.to_string()), Some(2)).operators;
    assert_eq!((first.len(), rest.len()), (2, 1));
    assert_eq!(rest[0].address.as_str(), expected[2]);
    // A malformed cursor is an error, not an empty page.
    let bad: Option<OperatorsResponse> = suite.query_opt(&QueryMsg::Operators {
        start_after: Some("not an address".into()),
        limit: None,
    });
    assert!(bad.is_none());
}
