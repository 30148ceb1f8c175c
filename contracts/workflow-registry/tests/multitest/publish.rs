use cosmwasm_std::{coin, coins, Uint128};
use havn_types::{AssetError, RoyaltyError, Split, SplitError};
use havn_workflow_registry::msg::{
    ExecuteMsg, HashOwnerResponse, QueryMsg, ReceiveMsg, VersionsResponse,
};
use havn_workflow_registry::state::{ArtifactKind, DependencyRef, FlagReason, Params};
use havn_workflow_registry::ContractError;

use crate::suite::*;

#[test]
fn publish_assigns_ids_and_stores_the_workflow() {
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let first = suite
        .publish(&alice, publish_msg("txt2img-base", 1))
        .unwrap();
    let second = suite
        .publish(&alice, publish_msg("txt2img-fast", 2))
        .unwrap();
    assert_eq!((first, second), (1, 2));
    assert_eq!(suite.next_id(), 3);

    let w = suite.workflow(1);
    assert_eq!(w.name, "txt2img-base");
    assert_eq!(w.creator, alice);
    assert_eq!(w.price, Uint128::new(100));
    assert_eq!(w.version, 1);
    assert_eq!(w.content_hash.to_hex(), hash(1));
    assert_eq!(w.created_height, suite.app.block_info().height);
    assert!(w.runnable() && w.pending_creator.is_none() && w.parent.is_none());
    // No dependencies: the default upstream share (20 %) goes to the creator.
    assert_eq!(w.split, split(6_500, 0, 2_500, 500, 500));

    let owner: HashOwnerResponse = suite.query(&QueryMsg::WorkflowByHash {
        content_hash: hash(2),
    });
    assert_eq!((owner.id, owner.version), (2, 1));
    let versions: VersionsResponse = suite.query(&QueryMsg::Versions {
        id: 1,
        start_after: None,
        limit: None,
    });
    assert_eq!(versions.versions.len(), 1);
}

#[test]
fn publish_keeps_an_explicit_split_and_records_dependencies() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, bob, model_author) = (
        suite.addr("alice"),
        suite.addr("bob"),
        suite.addr("model-author"),
    );
    let base = suite.publish(&alice, publish_msg("base", 1)).unwrap();
    let msg = havn_workflow_registry::msg::PublishMsg {
        split: Some(split(4_000, 3_000, 2_000, 500, 500)),
        dependencies: vec![
            on_workflow(base, 6_000),
            on_artifact(ArtifactKind::Lora, 50, &model_author, 4_000),
        ],
        parent: Some(base),
        ..publish_msg("derivative", 2)
    };
    let id = suite.publish(&bob, msg).unwrap();
    let w = suite.workflow(id);
    assert_eq!(w.split, split(4_000, 3_000, 2_000, 500, 500));
    assert_eq!(w.parent, Some(base));
    assert_eq!(w.dependencies.len(), 2);
    assert_eq!(
        w.dependencies[0].target,
        DependencyRef::Workflow { id: base }
    );
    assert!(
        matches!(&w.dependencies[1].target, DependencyRef::Artifact { kind: ArtifactKind::Lora, payee, .. } if *payee == model_author)
    );
}

#[test]
fn publish_rejects_malformed_input_and_changes_nothing() {
    let mut suite = SuiteBuilder::new().with_balance("alice", 1_000).build();
    let alice = suite.addr("alice");
    let payee = suite.addr("payee");
    let base = suite.publish(&alice, publish_msg("base", 1)).unwrap();
    let flagged = suite.publish(&alice, publish_msg("spam", 2)).unwrap();
    suite
        .admin_execute(&ExecuteMsg::Flag {
            id: flagged,
            reason: FlagReason::Spam,
            note: None,
        })
        .unwrap();
    let next = suite.next_id();
    let with_deps = |deps| havn_workflow_registry::msg::PublishMsg {
        dependencies: deps,
        ..publish_msg("derived", 100)
    };

    let cases: Vec<(&str, havn_workflow_registry::msg::PublishMsg, ContractError)> = vec![
        (
            "short hash",
            havn_workflow_registry::msg::PublishMsg {
                content_hash: "abcd".into(),
                ..publish_msg("x", 3)
            },
            ContractError::InvalidContentHash {
                hash: "abcd".into(),
            },
        ),
        (
            "non-hex hash",
            havn_workflow_registry::msg::PublishMsg {
                content_hash: "zz".repeat(32),
                ..publish_msg("x", 3)
            },
            ContractError::InvalidContentHash {
                hash: "zz".repeat(32),
            },
        ),
        (
            "hash taken",
            havn_workflow_registry::msg::PublishMsg {
                content_hash: hash(1),
                ..publish_msg("x", 3)
            },
            ContractError::ContentHashTaken {
                hash: hash(1),
                id: base,
                version: 1,
            },
        ),
        (
            "empty name",
            publish_msg("", 3),
            ContractError::InvalidName {
                reason: "the name is empty".into(),
            },
        ),
        (
            "long name",
            publish_msg(&"n".repeat(65), 3),
            ContractError::InvalidName {
                reason: "65 characters; the limit is 64".into(),
            },
        ),
        (
            "control char",
            publish_msg("a\nb", 3),
            ContractError::InvalidName {
                reason: "control characters are not allowed".into(),
            },
        ),
        (
            "padded name",
            publish_msg(" a", 3),
            ContractError::InvalidName {
                reason: "leading or trailing whitespace is not allowed".into(),
            },
        ),
        (
            "split not whole",
            havn_workflow_registry::msg::PublishMsg {
                split: Some(split(4_500, 2_000, 2_500, 500, 499)),
                ..publish_msg("x", 3)
            },
            ContractError::Split(SplitError::NotWhole { total: 9_999 }),
        ),
        (
            "weights not whole",
            with_deps(vec![
                on_workflow(base, 6_000),
                on_artifact(ArtifactKind::Model, 9, &payee, 3_000),
            ]),
            ContractError::Royalty(RoyaltyError::WeightsNotWhole { total: 9_000 }),
        ),
        (
            "zero weight",
            with_deps(vec![
                on_workflow(base, 10_000),
                on_artifact(ArtifactKind::Model, 9, &payee, 0),
            ]),
            ContractError::Royalty(RoyaltyError::ZeroWeight),
        ),
        (
            "too many deps",
            with_deps(
                (0..9)
                    .map(|i| on_artifact(ArtifactKind::Prompt, 10 + i, &payee, 1_111))
                    .collect(),
            ),
            ContractError::TooManyDependencies { count: 9, max: 8 },
        ),
        (
            "self dependency",
            with_deps(vec![on_workflow(next, 10_000)]),
            ContractError::SelfDependency { id: next },
        ),
        (
            "unknown dependency",
            with_deps(vec![on_workflow(99, 10_000)]),
            ContractError::UnknownWorkflow { id: 99 },
        ),
        (
            "flagged dependency",
            with_deps(vec![on_workflow(flagged, 10_000)]),
            ContractError::FlaggedDependency {
                id: flagged,
                reason: FlagReason::Spam,
            },
        ),
        (
            "duplicate workflow",
            with_deps(vec![on_workflow(base, 5_000), on_workflow(base, 5_000)]),
            ContractError::DuplicateDependency { id: base },
        ),
        (
            "duplicate artifact",
            with_deps(vec![
                on_artifact(ArtifactKind::Model, 9, &payee, 5_000),
                on_artifact(ArtifactKind::Lora, 9, &payee, 5_000),
            ]),
            ContractError::DuplicateArtifact { hash: hash(9) },
        ),
        (
            "bad artifact hash",
            with_deps(vec![havn_workflow_registry::msg::DependencyMsg {
                target: havn_workflow_registry::msg::DependencyTarget::Artifact {
                    kind: ArtifactKind::Dataset,
                    content_hash: "12".into(),
                    payee: payee.to_string(),
                },
                weight_bps: 10_000,
            }]),
            ContractError::InvalidContentHash { hash: "12".into() },
        ),
        (
            "parent not a dependency",
            havn_workflow_registry::msg::PublishMsg {
                parent: Some(base),
                ..with_deps(vec![on_artifact(ArtifactKind::Model, 9, &payee, 10_000)])
            },
            ContractError::ParentNotADependency { parent: base },
        ),
        (
            "node share under its floor (the creator and node self-dealing)",
            havn_workflow_registry::msg::PublishMsg {
                split: Some(split(8_100, 0, 1_200, 500, 200)),
                ..publish_msg("self-dealing", 7)
            },
            ContractError::ShareBelowFloor {
                part: "node",
                bps: 1_200,
                min: 1_500,
            },
        ),
        (
            "validator share under its floor (checks unpaid)",
            havn_workflow_registry::msg::PublishMsg {
                split: Some(split(10_000 - 1_500 - 200, 0, 1_500, 0, 200)),
                ..publish_msg("no-checks", 7)
            },
            ContractError::ShareBelowFloor {
                part: "validator",
                bps: 0,
                min: 500,
            },
        ),
        (
            "treasury share under its floor",
            havn_workflow_registry::msg::PublishMsg {
                split: Some(split(8_000, 0, 1_500, 500, 0)),
                ..publish_msg("no-treasury", 7)
            },
            ContractError::ShareBelowFloor {
                part: "treasury",
                bps: 0,
                min: 200,
            },
        ),
        (
            "upstream below minimum",
            havn_workflow_registry::msg::PublishMsg {
                split: Some(split(7_400, 400, 1_500, 500, 200)),
                ..with_deps(vec![on_workflow(base, 10_000)])
            },
            ContractError::UpstreamTooLow {
                upstream: 400,
                min: 500,
            },
        ),
    ];
    for (name, msg, expected) in cases {
        let err = suite.publish(&alice, msg).unwrap_err();
        assert_eq!(err, expected, "case {name}: {err:?}");
    }

    // An unparseable payee address is a clear error too.
    let bad_payee = with_deps(vec![havn_workflow_registry::msg::DependencyMsg {
        target: havn_workflow_registry::msg::DependencyTarget::Artifact {
            kind: ArtifactKind::Model,
            content_hash: hash(9),
            payee: "not-an-address".into(),
        },
        weight_bps: 10_000,
    }]);
    let err = suite.publish(&alice, bad_payee).unwrap_err();
    assert!(err.message().contains("Error decoding bech32"), "{err:?}");

    // Funds are refused when no deposit is due, and stay with the sender.
    let err = suite
        .publish_with_funds(&alice, publish_msg("x", 3), &coins(5, DENOM))
        .unwrap_err();
    assert_eq!(
        err,
        ContractError::WrongDeposit {
            required: "0uhai".into(),
            paid: "5uhai".into()
        }
    );

    // Nothing above was stored, and nobody lost a coin.
    assert_eq!(suite.next_id(), next);
    assert_eq!(suite.bank_balance(&alice), 1_000);
    assert_eq!(suite.bank_balance(&suite.registry.clone()), 0);
}

#[test]
fn cycles_are_impossible_by_construction() {
    // Dependencies must exist before the dependent and never change afterwards, so the only cycle a
    // publisher can attempt is through the id being assigned (self) or a later one (unknown).
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let a = suite.publish(&alice, publish_msg("a", 1)).unwrap();
    let b = suite
        .publish(
            &alice,
            havn_workflow_registry::msg::PublishMsg {
                dependencies: vec![on_workflow(a, 10_000)],
                ..publish_msg("b", 2)
            },
        )
        .unwrap();
    let next = b + 1;
    let through_self = havn_workflow_registry::msg::PublishMsg {
        dependencies: vec![on_workflow(b, 5_000), on_workflow(next, 5_000)],
        ..publish_msg("c", 3)
    };
    assert_eq!(
        suite.publish(&alice, through_self).unwrap_err(),
        ContractError::SelfDependency { id: next }
    );
    let through_future = havn_workflow_registry::msg::PublishMsg {
        dependencies: vec![on_workflow(b, 5_000), on_workflow(next + 1, 5_000)],
        ..publish_msg("c", 3)
    };
    assert_eq!(
        suite.publish(&alice, through_future).unwrap_err(),
        ContractError::UnknownWorkflow { id: next + 1 }
    );
    // A declared parent that is the workflow itself is refused as well.
    let own_parent = havn_workflow_registry::msg::PublishMsg {
        parent: Some(next),
        ..publish_msg("c", 3)
    };
    assert_eq!(
        suite.publish(&alice, own_parent).unwrap_err(),
        ContractError::ParentNotADependency { parent: next }
    );
}

#[test]
fn royalty_payee_limit_is_enforced() {
    let params = Params {
        max_royalty_payees: 2,
        ..Params::default()
    };
    let mut suite = SuiteBuilder::new().with_params(params).build();
    let alice = suite.addr("alice");
    let payees: Vec<_> = (0..3).map(|i| suite.addr(&format!("p{i}"))).collect();
    let deps = vec![
        on_artifact(ArtifactKind::Model, 10, &payees[0], 4_000),
        on_artifact(ArtifactKind::Model, 11, &payees[1], 3_000),
        on_artifact(ArtifactKind::Model, 12, &payees[2], 3_000),
    ];
    let err = suite
        .publish(
            &alice,
            havn_workflow_registry::msg::PublishMsg {
                dependencies: deps,
                ..publish_msg("wide", 1)
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        ContractError::Royalty(RoyaltyError::TooManyPayees { count: 3, max: 2 })
    );
}

#[test]
fn native_deposit_goes_to_the_treasury() {
    let mut suite = SuiteBuilder::new()
        .with_deposit(250)
        .with_balance("alice", 1_000)
        .build();
    let alice = suite.addr("alice");
    let treasury = suite.treasury.clone();

    for (funds, expected) in [
        (
            vec![],
            ContractError::WrongDeposit {
                required: "250uhai".into(),
                paid: "0uhai".into(),
            },
        ),
        (
            coins(100, DENOM),
            ContractError::WrongDeposit {
                required: "250uhai".into(),
                paid: "100uhai".into(),
            },
        ),
        (
            coins(300, DENOM),
            ContractError::WrongDeposit {
                required: "250uhai".into(),
                paid: "300uhai".into(),
            },
        ),
        (
            coins(250, "uatom"),
            ContractError::Asset(AssetError::WrongAsset {
                expected: DENOM.into(),
                got: "uatom".into(),
            }),
        ),
        (
            vec![coin(250, DENOM), coin(1, "uatom")],
            ContractError::Asset(AssetError::MultipleCoins {
                expected: DENOM.into(),
                count: 2,
            }),
        ),
    ] {
        assert_eq!(
            suite
                .publish_with_funds(&alice, publish_msg("x", 1), &funds)
                .unwrap_err(),
            expected
        );
    }
    assert_eq!(
        (suite.bank_balance(&alice), suite.bank_balance(&treasury)),
        (1_000, 0)
    );

    let id = suite
        .publish_with_funds(&alice, publish_msg("x", 1), &coins(250, DENOM))
        .unwrap();
    assert_eq!(id, 1);
    assert_eq!(
        (suite.bank_balance(&alice), suite.bank_balance(&treasury)),
        (750, 250)
    );
    assert_eq!(suite.bank_balance(&suite.registry.clone()), 0);
}

#[test]
fn cw20_deposit_goes_to_the_treasury() {
    let mut suite = SuiteBuilder::new()
        .with_cw20()
        .with_deposit(250)
        .with_balance("alice", 1_000)
        .build();
    let alice = suite.addr("alice");
    let treasury = suite.treasury.clone();

    // Paying natively, or not paying, in a cw20 deployment says how to pay.
    let token = suite.token.clone().unwrap();
    assert_eq!(
        suite.publish(&alice, publish_msg("x", 1)).unwrap_err(),
        ContractError::Asset(AssetError::PayWithCw20 {
            token: format!("cw20:{token}")
        })
    );
    assert_eq!(
        suite
            .publish_cw20(&alice, 100, publish_msg("x", 1))
            .unwrap_err(),
        ContractError::WrongDeposit {
            required: format!("250 cw20:{token}"),
            paid: format!("100 cw20:{token}")
        }
    );
    assert_eq!(suite.cw20_balance(&alice), 1_000);

    suite
        .publish_cw20(&alice, 250, publish_msg("x", 1))
        .unwrap();
    let w = suite.workflow(1);
    assert_eq!(w.creator, alice, "the cw20 sender is the creator");
    assert_eq!(
        (suite.cw20_balance(&alice), suite.cw20_balance(&treasury)),
        (750, 250)
    );
    assert_eq!(suite.cw20_balance(&suite.registry.clone()), 0);
}

#[test]
fn cw20_from_another_token_or_a_forged_hook_is_rejected() {
    let mut suite = SuiteBuilder::new()
        .with_cw20()
        .with_deposit(250)
        .with_balance("alice", 1_000)
        .build();
    let alice = suite.addr("alice");
    let token = suite.token.clone().unwrap();

    // A forged Receive sent straight to the registry: info.sender is alice, not the token.
    let forged = ExecuteMsg::Receive(cw20::Cw20ReceiveMsg {
        sender: alice.to_string(),
        amount: Uint128::new(250),
        msg: cosmwasm_std::to_json_binary(&ReceiveMsg::Publish(publish_msg("x", 1))).unwrap(),
    });
    let err = suite.execute(&alice, &forged).unwrap_err();
    assert_eq!(
        err,
        ContractError::Asset(AssetError::WrongAsset {
            expected: format!("cw20:{token}"),
            got: format!("cw20:{alice}")
        })
    );
    assert_eq!(suite.next_id(), 1);
}

#[test]
fn cw20_send_is_refused_when_no_deposit_is_due() {
    let mut suite = SuiteBuilder::new()
        .with_cw20()
        .with_balance("alice", 1_000)
        .build();
    let alice = suite.addr("alice");
    assert_eq!(
        suite
            .publish_cw20(&alice, 10, publish_msg("x", 1))
            .unwrap_err(),
        ContractError::DepositNotRequired(Uint128::zero())
    );
    assert_eq!(suite.cw20_balance(&alice), 1_000);
    // Without a deposit, publishing directly works in a cw20 deployment.
    assert_eq!(suite.publish(&alice, publish_msg("x", 1)).unwrap(), 1);
}

#[test]
fn default_split_comes_from_governance() {
    let params = Params {
        default_split: Split {
            creator: 5_000,
            upstream: 1_000,
            node: 3_000,
            validator: 500,
            treasury: 500,
        },
        ..Params::default()
    };
    let mut suite = SuiteBuilder::new().with_params(params).build();
    let (alice, payee) = (suite.addr("alice"), suite.addr("payee"));
    let msg = havn_workflow_registry::msg::PublishMsg {
        dependencies: vec![on_artifact(ArtifactKind::Model, 7, &payee, 10_000)],
        ..publish_msg("x", 1)
    };
    let id = suite.publish(&alice, msg).unwrap();
    assert_eq!(
        suite.workflow(id).split,
        split(5_000, 1_000, 3_000, 500, 500)
    );
}
