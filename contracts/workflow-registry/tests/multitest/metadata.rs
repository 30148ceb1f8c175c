use cosmwasm_std::coins;
use havn_types::AssetError;
use havn_workflow_registry::msg::{ExecuteMsg, MetadataResponse, PublishMsg, QueryMsg};
use havn_workflow_registry::state::{Metadata, MAX_DESCRIPTION_CHARS, MAX_LINKS, MAX_TAGS};
use havn_workflow_registry::ContractError;

use crate::suite::*;

fn metadata() -> Metadata {
    Metadata {
        description: "A tiny text-to-image pipeline.\nSeeded, deterministic.".into(),
        tags: vec!["text-to-image".into(), "ddim".into()],
        license: Some("Apache-2.0".into()),
        links: vec!["https://example.org/wf".into(), "ipfs://bafy123".into()],
    }
}

fn stored(suite: &Suite, id: u64) -> Metadata {
    let res: MetadataResponse = suite.query(&QueryMsg::Metadata { id });
    assert_eq!(res.id, id);
    res.metadata
}

fn invalid(reason: &str) -> ContractError {
    ContractError::InvalidMetadata {
        reason: reason.into(),
    }
}

#[test]
fn metadata_published_with_the_workflow_is_stored_and_replaced_by_its_creator_only() {
    let mut suite = SuiteBuilder::new().with_balance("alice", 100).build();
    let (alice, bob) = (suite.addr("alice"), suite.addr("bob"));
    let id = suite
        .publish(
            &alice,
            PublishMsg {
                metadata: Some(metadata()),
                ..publish_msg("wf", 1)
            },
        )
        .unwrap();
    assert_eq!(stored(&suite, id), metadata());
    // Published without any: empty, not an error.
    let bare = suite.publish(&alice, publish_msg("bare", 2)).unwrap();
    assert_eq!(stored(&suite, bare), Metadata::default());

    let changed = Metadata {
        tags: vec!["image".into()],
        ..metadata()
    };
    let set = |metadata: Metadata| ExecuteMsg::SetMetadata { id, metadata };
    assert_eq!(
        suite.execute(&bob, &set(changed.clone())).unwrap_err(),
        ContractError::NotCreator { id }
    );
    assert_eq!(
        suite
            .execute_with_funds(&alice, &set(changed.clone()), &coins(1, DENOM))
            .unwrap_err(),
        ContractError::Asset(AssetError::Unexpected {
            funds: "1uhai".into()
        })
    );
    assert_eq!(
        stored(&suite, id),
        metadata(),
        "a refused call changes nothing"
    );
    suite.execute(&alice, &set(changed.clone())).unwrap();
    assert_eq!(stored(&suite, id), changed);
    // An empty one clears it.
    suite.execute(&alice, &set(Metadata::default())).unwrap();
    assert_eq!(stored(&suite, id), Metadata::default());
    assert_eq!(suite.bank_balance(&alice), 100);

    assert_eq!(
        suite
            .execute(
                &alice,
                &ExecuteMsg::SetMetadata {
                    id: 9,
                    metadata: metadata()
                }
            )
            .unwrap_err(),
        ContractError::UnknownWorkflow { id: 9 }
    );
    assert!(suite
        .query_err(&QueryMsg::Metadata { id: 9 })
        .contains("workflow 9 not found"));
}

#[test]
fn metadata_out_of_bounds_is_refused_with_the_field_named_and_publishes_nothing() {
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
    let cases: Vec<(Metadata, &str)> = vec![
        (
            Metadata {
                description: long,
                ..metadata()
            },
            "description: 1001 characters; the limit is 1000",
        ),
        (
            Metadata {
                description: "a\u{0}b".into(),
                ..metadata()
            },
            "description: control characters other than newlines",
        ),
        (
            Metadata {
                tags: (0..=MAX_TAGS).map(|i| format!("t{i}")).collect(),
                ..metadata()
            },
            "11 tags; the limit is 10",
        ),
        (
            Metadata {
                tags: vec!["Upper".into()],
                ..metadata()
            },
            "tag \"Upper\": 1-32 of a-z, 0-9 and -",
        ),
        (
            Metadata {
                tags: vec![String::new()],
                ..metadata()
            },
            "tag \"\": 1-32 of a-z, 0-9 and -",
        ),
        (
            Metadata {
                tags: vec!["a".into(), "a".into()],
                ..metadata()
            },
            "tag \"a\" is listed twice",
        ),
        (
            Metadata {
                license: Some(" MIT".into()),
                ..metadata()
            },
            "license \" MIT\": 1-64 printable characters, no surrounding spaces",
        ),
        (
            Metadata {
                links: vec!["https://a.org".into(); MAX_LINKS + 1],
                ..metadata()
            },
            "6 links; the limit is 5",
        ),
        (
            Metadata {
                links: vec!["javascript:alert(1)".into()],
                ..metadata()
            },
            "link \"javascript:alert(1)\": an https:// or ipfs:// address of at most 200 characters, no spaces",
        ),
        (
            Metadata {
                links: vec!["https://a.org/with space".into()],
                ..metadata()
            },
            "link \"https://a.org/with space\": an https:// or ipfs:// address of at most 200 characters, no spaces",
        ),
    ];
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();
    for (i, (bad, reason)) in cases.into_iter().enumerate() {
        assert_eq!(
            suite
                .publish(
                    &alice,
                    PublishMsg {
                        metadata: Some(bad.clone()),
                        ..publish_msg("other", 100 + i as u32)
                    },
                )
                .unwrap_err(),
            invalid(reason)
        );
        assert_eq!(
            suite
                .execute(&alice, &ExecuteMsg::SetMetadata { id, metadata: bad })
                .unwrap_err(),
            invalid(reason)
        );
    }
    // Nothing was published by the refused calls: the next id is still 2.
    assert_eq!(
        suite.publish(&alice, publish_msg("next", 99)).unwrap(),
        id + 1
    );
    assert_eq!(stored(&suite, id), Metadata::default());
}
