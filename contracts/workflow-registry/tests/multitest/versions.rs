use cosmwasm_std::{coins, Uint128};
use havn_types::AssetError;
use havn_workflow_registry::msg::{ExecuteMsg, HashOwnerResponse, QueryMsg, VersionsResponse};
use havn_workflow_registry::ContractError;

use crate::suite::*;

#[test]
fn new_version_appends_and_keeps_history() {
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();
    suite.app.update_block(|b| b.height += 5);
    suite
        .execute(
            &alice,
            &ExecuteMsg::NewVersion {
                id,
                content_hash: hash(2),
                fingerprint: Some(havn_types::fingerprint::placeholder(&hash(2))),
                artifacts: vec![],
            },
        )
        .unwrap();

    let w = suite.workflow(id);
    assert_eq!((w.version, w.content_hash.to_hex()), (2, hash(2)));
    let versions: VersionsResponse = suite.query(&QueryMsg::Versions {
        id,
        start_after: None,
        limit: None,
    });
    let got: Vec<(u32, String)> = versions
        .versions
        .iter()
        .map(|v| (v.version, v.content_hash.to_hex()))
        .collect();
    assert_eq!(got, vec![(1, hash(1)), (2, hash(2))]);
    assert_eq!(versions.versions[1].height, versions.versions[0].height + 5);
    // Both hashes still trace back to the workflow.
    let old: HashOwnerResponse = suite.query(&QueryMsg::WorkflowByHash {
        content_hash: hash(1),
    });
    let new: HashOwnerResponse = suite.query(&QueryMsg::WorkflowByHash {
        content_hash: hash(2).to_uppercase(),
    });
    assert_eq!(
        ((old.id, old.version), (new.id, new.version)),
        ((id, 1), (id, 2))
    );
}

#[test]
fn new_version_rejections() {
    let mut suite = SuiteBuilder::new().with_balance("alice", 100).build();
    let (alice, mallory) = (suite.addr("alice"), suite.addr("mallory"));
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();
    let other = suite.publish(&mallory, publish_msg("other", 2)).unwrap();

    assert_eq!(
        suite
            .execute(
                &mallory,
                &ExecuteMsg::NewVersion {
                    id,
                    content_hash: hash(3),
                    fingerprint: Some(havn_types::fingerprint::placeholder(&hash(3))),
                    artifacts: vec![]
                }
            )
            .unwrap_err(),
        ContractError::NotCreator { id }
    );
    assert_eq!(
        suite
            .execute(
                &alice,
                &ExecuteMsg::NewVersion {
                    id: 42,
                    content_hash: hash(3),
                    fingerprint: Some(havn_types::fingerprint::placeholder(&hash(3))),
                    artifacts: vec![]
                }
            )
            .unwrap_err(),
        ContractError::UnknownWorkflow { id: 42 }
    );
    assert_eq!(
        suite
            .execute(
                &alice,
                &ExecuteMsg::NewVersion {
                    id,
                    content_hash: "0x12".into(),
                    fingerprint: Some(havn_types::fingerprint::placeholder("0x12")),
                    artifacts: vec![]
                }
            )
            .unwrap_err(),
        ContractError::InvalidContentHash {
            hash: "0x12".into()
        }
    );
    // Neither its own earlier manifest nor someone else's.
    assert_eq!(
        suite
            .execute(
                &alice,
                &ExecuteMsg::NewVersion {
                    id,
                    content_hash: hash(1),
                    fingerprint: Some(havn_types::fingerprint::placeholder(&hash(1))),
                    artifacts: vec![]
                }
            )
            .unwrap_err(),
        ContractError::ContentHashTaken {
            hash: hash(1),
            id,
            version: 1
        }
    );
    assert_eq!(
        suite
            .execute(
                &alice,
                &ExecuteMsg::NewVersion {
                    id,
                    content_hash: hash(2),
                    fingerprint: Some(havn_types::fingerprint::placeholder(&hash(2))),
                    artifacts: vec![]
                }
            )
            .unwrap_err(),
        ContractError::ContentHashTaken {
            hash: hash(2),
            id: other,
            version: 1
        }
    );
    let err = suite
        .execute_with_funds(
            &alice,
            &ExecuteMsg::NewVersion {
                id,
                content_hash: hash(3),
                fingerprint: Some(havn_types::fingerprint::placeholder(&hash(3))),
                artifacts: vec![],
            },
            &coins(1, DENOM),
        )
        .unwrap_err();
    assert_eq!(
        err,
        ContractError::Asset(AssetError::Unexpected {
            funds: "1uhai".into()
        })
    );
    assert_eq!(suite.workflow(id).version, 1);
    assert_eq!(suite.bank_balance(&alice), 100);
}

#[test]
fn update_price() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, mallory) = (suite.addr("alice"), suite.addr("mallory"));
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();
    suite
        .execute(
            &alice,
            &ExecuteMsg::UpdatePrice {
                id,
                price: Uint128::new(7),
            },
        )
        .unwrap();
    assert_eq!(suite.workflow(id).price, Uint128::new(7));
    assert_eq!(
        suite
            .execute(
                &mallory,
                &ExecuteMsg::UpdatePrice {
                    id,
                    price: Uint128::zero()
                }
            )
            .unwrap_err(),
        ContractError::NotCreator { id }
    );
    assert_eq!(
        suite
            .execute(
                &alice,
                &ExecuteMsg::UpdatePrice {
                    id: 9,
                    price: Uint128::zero()
                }
            )
            .unwrap_err(),
        ContractError::UnknownWorkflow { id: 9 }
    );
    assert_eq!(suite.workflow(id).price, Uint128::new(7));
}
