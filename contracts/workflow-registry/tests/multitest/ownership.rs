use havn_workflow_registry::msg::{ExecuteMsg, QueryMsg, WorkflowsResponse};
use havn_workflow_registry::ContractError;

use crate::suite::*;

fn ids_by(suite: &Suite, creator: &cosmwasm_std::Addr) -> Vec<u64> {
    let res: WorkflowsResponse = suite.query(&QueryMsg::WorkflowsByCreator {
        creator: creator.to_string(),
        start_after: None,
        limit: None,
    });
    res.workflows.iter().map(|w| w.id).collect()
}

#[test]
fn two_step_transfer_moves_the_workflow_and_the_index() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, bob) = (suite.addr("alice"), suite.addr("bob"));
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();

    suite
        .execute(
            &alice,
            &ExecuteMsg::TransferOwnership {
                id,
                new_creator: bob.to_string(),
            },
        )
        .unwrap();
    // Offered, not moved: alice still owns it until bob accepts.
    let w = suite.workflow(id);
    assert_eq!(
        (w.creator.clone(), w.pending_creator.clone()),
        (alice.clone(), Some(bob.clone()))
    );
    suite
        .execute(&bob, &ExecuteMsg::AcceptOwnership { id })
        .unwrap();

    let w = suite.workflow(id);
    assert_eq!((w.creator, w.pending_creator), (bob.clone(), None));
    assert_eq!(ids_by(&suite, &alice), Vec::<u64>::new());
    assert_eq!(ids_by(&suite, &bob), vec![id]);
    // The old creator has no rights left.
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
        ContractError::NotCreator { id }
    );
    suite
        .execute(
            &bob,
            &ExecuteMsg::NewVersion {
                id,
                content_hash: hash(2),
                fingerprint: Some(havn_types::fingerprint::placeholder(&hash(2))),
                artifacts: vec![],
            },
        )
        .unwrap();
}

#[test]
fn transfer_rejections() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, bob, mallory) = (
        suite.addr("alice"),
        suite.addr("bob"),
        suite.addr("mallory"),
    );
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();

    let offer = |to: &str| ExecuteMsg::TransferOwnership {
        id,
        new_creator: to.to_string(),
    };
    assert_eq!(
        suite
            .execute(&mallory, &offer(mallory.as_str()))
            .unwrap_err(),
        ContractError::NotCreator { id }
    );
    assert_eq!(
        suite.execute(&alice, &offer(alice.as_str())).unwrap_err(),
        ContractError::AlreadyCreator { id }
    );
    let err = suite.execute(&alice, &offer("not-an-address")).unwrap_err();
    assert!(err.message().contains("Error decoding bech32"), "{err:?}");
    assert_eq!(
        suite
            .execute(
                &alice,
                &ExecuteMsg::TransferOwnership {
                    id: 5,
                    new_creator: bob.to_string()
                }
            )
            .unwrap_err(),
        ContractError::UnknownWorkflow { id: 5 }
    );

    // Nothing offered yet: nobody can accept, nothing to cancel.
    assert_eq!(
        suite
            .execute(&bob, &ExecuteMsg::AcceptOwnership { id })
            .unwrap_err(),
        ContractError::NotPendingCreator { id }
    );
    assert_eq!(
        suite
            .execute(&alice, &ExecuteMsg::CancelOwnershipTransfer { id })
            .unwrap_err(),
        ContractError::NoPendingTransfer { id }
    );

    suite.execute(&alice, &offer(bob.as_str())).unwrap();
    assert_eq!(
        suite
            .execute(&mallory, &ExecuteMsg::AcceptOwnership { id })
            .unwrap_err(),
        ContractError::NotPendingCreator { id }
    );
    assert_eq!(
        suite
            .execute(&mallory, &ExecuteMsg::CancelOwnershipTransfer { id })
            .unwrap_err(),
        ContractError::NotCreator { id }
    );
    assert_eq!(
        suite
            .execute(&bob, &ExecuteMsg::AcceptOwnership { id: 5 })
            .unwrap_err(),
        ContractError::UnknownWorkflow { id: 5 }
    );

    // A cancelled offer can no longer be accepted.
    suite
        .execute(&alice, &ExecuteMsg::CancelOwnershipTransfer { id })
        .unwrap();
    assert_eq!(suite.workflow(id).pending_creator, None);
    assert_eq!(
        suite
            .execute(&bob, &ExecuteMsg::AcceptOwnership { id })
            .unwrap_err(),
        ContractError::NotPendingCreator { id }
    );
    assert_eq!(suite.workflow(id).creator, alice);
}
