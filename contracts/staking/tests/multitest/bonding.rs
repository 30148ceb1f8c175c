use cosmwasm_std::{coin, coins, Uint128};
use havn_staking::msg::{ExecuteMsg, KeyProof, ReceiveMsg};
use havn_staking::state::Role;
use havn_staking::ContractError;
use havn_types::AssetError;

use crate::suite::*;

#[test]
fn bond_registers_a_proven_key_and_stake() {
    let mut suite = SuiteBuilder::new().fund(&["alice"]).build();
    suite.bond("alice", Role::Node, 2 * MIN).unwrap();
    suite.bond("alice", Role::Validator, MIN).unwrap();
    // Later bonds need no key.
    suite.bond("alice", Role::Node, 5).unwrap();
    let op = suite.operator("alice");
    assert_eq!(op.pubkey, pubkey(&key("alice")));
    assert_eq!(
        (op.node_stake.u128(), op.validator_stake.u128()),
        (2 * MIN + 5, MIN)
    );
    assert!(op.node_active && op.validator_eligible);
    assert_eq!(suite.totals().node.u128(), 2 * MIN + 5);
    suite.assert_conserved();
}

#[test]
fn keys_need_proof_of_possession() {
    let mut suite = SuiteBuilder::new().fund(&["alice", "mallory"]).build();
    let (alice, mallory, staking) = (
        suite.addr("alice"),
        suite.addr("mallory"),
        suite.staking.clone(),
    );
    let bond = |key| ExecuteMsg::Bond {
        role: Role::Node,
        key,
    };
    let pay = coins(MIN, DENOM);
    let chain = suite.chain_id();

    assert_eq!(
        suite
            .execute_with_funds(&alice, &bond(None), &pay)
            .unwrap_err(),
        ContractError::KeyRequired
    );
    // Mallory registers alice's public key with a proof she signed with her own key.
    let stolen = KeyProof {
        pubkey: pubkey(&key("alice")),
        signature: suite.proof("mallory").signature,
    };
    assert_eq!(
        suite
            .execute_with_funds(&mallory, &bond(Some(stolen)), &pay)
            .unwrap_err(),
        ContractError::KeyNotProven
    );
    // A proof alice made for her own address does not register her key for mallory.
    let replayed = suite.proof("alice");
    assert_eq!(
        suite
            .execute_with_funds(&mallory, &bond(Some(replayed)), &pay)
            .unwrap_err(),
        ContractError::KeyNotProven
    );
    // Proofs for another chain or another staking contract do not count here.
    let other_chain = suite.proof_with(&key("alice"), &alice, "other-chain-1", &staking);
    assert_eq!(
        suite
            .execute_with_funds(&alice, &bond(Some(other_chain)), &pay)
            .unwrap_err(),
        ContractError::KeyNotProven
    );
    let other_contract = suite.proof_with(&key("alice"), &alice, &chain, &mallory);
    assert_eq!(
        suite
            .execute_with_funds(&alice, &bond(Some(other_contract)), &pay)
            .unwrap_err(),
        ContractError::KeyNotProven
    );
    // Malformed keys.
    let short = KeyProof {
        pubkey: vec![2u8; 20].into(),
        signature: suite.proof("alice").signature,
    };
    let err = suite
        .execute_with_funds(&alice, &bond(Some(short)), &pay)
        .unwrap_err();
    assert!(
        err.message()
            .starts_with("invalid public key: expected a 33-byte"),
        "{err:?}"
    );
    let not_a_point = KeyProof {
        pubkey: [vec![2u8], vec![0xff; 32]].concat().into(),
        signature: suite.proof("alice").signature,
    };
    assert!(suite
        .execute_with_funds(&alice, &bond(Some(not_a_point)), &pay)
        .unwrap_err()
        .message()
        .starts_with("invalid public key"));
    assert_eq!(suite.balance(&alice), 1_000 * MIN, "nothing was kept");

    suite.bond("alice", Role::Node, MIN).unwrap();
    // A second key on a later bond must go through RotateKey.
    let msg = bond(Some(suite.proof_with(
        &key("other"),
        &alice,
        &chain,
        &staking,
    )));
    assert_eq!(
        suite.execute_with_funds(&alice, &msg, &pay).unwrap_err(),
        ContractError::UseRotateKey
    );
}

#[test]
fn one_key_one_operator() {
    let mut suite = SuiteBuilder::new().fund(&["alice", "bob"]).build();
    suite.bond("alice", Role::Node, MIN).unwrap();
    let (bob, staking, chain) = (suite.addr("bob"), suite.staking.clone(), suite.chain_id());
    // Whoever holds alice's key can prove it for bob's address too; the key is still taken.
    let proof = suite.proof_with(&key("alice"), &bob, &chain, &staking);
    assert_eq!(
        suite
            .execute_with_funds(
                &bob,
                &ExecuteMsg::Bond {
                    role: Role::Node,
                    key: Some(proof)
                },
                &coins(MIN, DENOM)
            )
            .unwrap_err(),
        ContractError::KeyTaken
    );
}

#[test]
fn rotate_key() {
    let mut suite = SuiteBuilder::new().fund(&["alice"]).build();
    let (alice, staking, chain) = (suite.addr("alice"), suite.staking.clone(), suite.chain_id());
    assert_eq!(
        suite
            .execute(
                &alice,
                &ExecuteMsg::RotateKey {
                    key: suite.proof("alice")
                }
            )
            .unwrap_err(),
        ContractError::NotOperator {
            address: alice.to_string()
        }
    );
    suite.bond("alice", Role::Validator, MIN).unwrap();
    let unproven = KeyProof {
        pubkey: pubkey(&key("alice-2")),
        signature: suite.proof("alice").signature,
    };
    assert_eq!(
        suite
            .execute(&alice, &ExecuteMsg::RotateKey { key: unproven })
            .unwrap_err(),
        ContractError::KeyNotProven
    );
    let proof = suite.proof_with(&key("alice-2"), &alice, &chain, &staking);
    suite
        .execute(&alice, &ExecuteMsg::RotateKey { key: proof })
        .unwrap();
    assert_eq!(suite.operator("alice").pubkey, pubkey(&key("alice-2")));
    let set: havn_staking::msg::ActiveSetResponse =
        suite.query(&havn_staking::msg::QueryMsg::ActiveSet {});
    assert_eq!(
        set.validators[0].pubkey,
        pubkey(&key("alice-2")),
        "the active set carries the new key"
    );
}

#[test]
fn bond_rejects_wrong_payment_and_low_stake() {
    let mut suite = SuiteBuilder::new().fund(&["alice"]).build();
    let alice = suite.addr("alice");
    let proof = suite.proof("alice");
    let bond = ExecuteMsg::Bond {
        role: Role::Validator,
        key: Some(proof),
    };
    assert_eq!(
        suite.execute(&alice, &bond).unwrap_err(),
        ContractError::Asset(AssetError::NoPayment {
            expected: DENOM.into()
        })
    );
    assert_eq!(
        suite
            .execute_with_funds(&alice, &bond, &coins(MIN, "uatom"))
            .unwrap_err(),
        ContractError::Asset(AssetError::WrongAsset {
            expected: DENOM.into(),
            got: "uatom".into()
        })
    );
    assert_eq!(
        suite
            .execute_with_funds(&alice, &bond, &[coin(MIN, DENOM), coin(1, "uatom")])
            .unwrap_err(),
        ContractError::Asset(AssetError::MultipleCoins {
            expected: DENOM.into(),
            count: 2
        })
    );
    assert_eq!(
        suite
            .execute_with_funds(&alice, &bond, &coins(MIN - 1, DENOM))
            .unwrap_err(),
        ContractError::BelowMinimum {
            role: Role::Validator,
            stake: Uint128::new(MIN - 1),
            min: Uint128::new(MIN)
        }
    );
    // Messages that take no funds refuse them.
    let err = suite
        .execute_with_funds(&alice, &ExecuteMsg::Claim {}, &coins(1, DENOM))
        .unwrap_err();
    assert_eq!(
        err,
        ContractError::Asset(AssetError::Unexpected {
            funds: "1uhai".into()
        })
    );
    assert_eq!(suite.balance(&alice), 1_000 * MIN);
}

#[test]
fn bond_with_cw20() {
    let mut suite = SuiteBuilder::new().with_cw20().fund(&["alice"]).build();
    suite.bond("alice", Role::Node, 3 * MIN).unwrap();
    assert_eq!(suite.operator("alice").node_stake.u128(), 3 * MIN);
    assert_eq!(suite.balance(&suite.staking.clone()), 3 * MIN);
    // Native funds in a cw20 deployment, and forged Receive hooks, are refused.
    let alice = suite.addr("alice");
    let token = suite.token.clone().unwrap();
    let err = suite
        .execute(
            &alice,
            &ExecuteMsg::Bond {
                role: Role::Node,
                key: None,
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        ContractError::Asset(AssetError::PayWithCw20 {
            token: format!("cw20:{token}")
        })
    );
    let forged = ExecuteMsg::Receive(cw20::Cw20ReceiveMsg {
        sender: alice.to_string(),
        amount: Uint128::new(MIN),
        msg: cosmwasm_std::to_json_binary(&ReceiveMsg::Bond {
            role: Role::Node,
            key: None,
        })
        .unwrap(),
    });
    assert_eq!(
        suite.execute(&alice, &forged).unwrap_err(),
        ContractError::Asset(AssetError::WrongAsset {
            expected: format!("cw20:{token}"),
            got: format!("cw20:{alice}")
        })
    );
    suite.assert_conserved();
}
