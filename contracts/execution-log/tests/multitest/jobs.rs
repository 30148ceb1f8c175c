use cosmwasm_std::{coin, coins, HexBinary, Uint128};
use cw_multi_test::Executor;
use havn_execution_log::msg::{ExecuteMsg, QueryMsg};
use havn_execution_log::state::{JobStatus, Params};
use havn_execution_log::ContractError;
use havn_types::{AssetError, Check, Verdict};
use havn_workflow_registry::msg::ExecuteMsg as RegistryMsg;
use havn_workflow_registry::state::FlagReason;

use crate::suite::*;

#[test]
fn request_snapshots_the_terms() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    let job = suite.job(id);
    assert_eq!(
        (job.workflow_id, job.version, job.fee.u128(), job.status),
        (WORKFLOW, 1, PRICE, JobStatus::Pending)
    );
    assert_eq!(job.creator, suite.addr("creator"));
    assert_eq!(
        job.deadline,
        suite
            .app
            .block_info()
            .time
            .plus_seconds(Params::default().job_timeout)
    );

    // The creator raises the price and hands the workflow over; the job keeps its terms.
    let (creator, buyer, registry) = (
        suite.addr("creator"),
        suite.addr("buyer"),
        suite.registry.clone(),
    );
    suite
        .app
        .execute_contract(
            creator.clone(),
            registry.clone(),
            &RegistryMsg::UpdatePrice {
                id: WORKFLOW,
                price: Uint128::new(10 * PRICE),
            },
            &[],
        )
        .unwrap();
    suite
        .app
        .execute_contract(
            creator,
            registry.clone(),
            &RegistryMsg::TransferOwnership {
                id: WORKFLOW,
                new_creator: buyer.to_string(),
            },
            &[],
        )
        .unwrap();
    suite
        .app
        .execute_contract(
            buyer,
            registry,
            &RegistryMsg::AcceptOwnership { id: WORKFLOW },
            &[],
        )
        .unwrap();
    suite.settle(vec![suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3])]);
    assert_eq!(
        suite.received()[0].settlements[0].creator,
        suite.addr("creator")
    );
    // New jobs see the new price.
    assert_eq!(
        suite.request(PRICE, 2).unwrap_err(),
        ContractError::FeeBelowPrice {
            fee: "100uhai".into(),
            price: "1000uhai".into()
        }
    );
}

#[test]
fn request_rejections() {
    let mut suite = SuiteBuilder::new().build();
    let caller = suite.addr("caller");
    let before = suite.balance(&caller);
    let request = |workflow_id, input_hash| ExecuteMsg::RequestJob {
        workflow_id,
        input_hash,
    };
    assert_eq!(
        suite
            .execute_with_funds(&caller, &request(7, hash(1)), &coins(PRICE, DENOM))
            .unwrap_err(),
        ContractError::UnknownWorkflow { id: 7 }
    );
    assert_eq!(
        suite.request(PRICE - 1, 1).unwrap_err(),
        ContractError::FeeBelowPrice {
            fee: "99uhai".into(),
            price: "100uhai".into()
        }
    );
    assert_eq!(
        suite
            .execute_with_funds(
                &caller,
                &request(WORKFLOW, HexBinary::from(vec![1u8; 31])),
                &coins(PRICE, DENOM)
            )
            .unwrap_err(),
        ContractError::InvalidHash {
            what: "input_hash",
            len: 31
        }
    );
    assert_eq!(
        suite
            .execute(&caller, &request(WORKFLOW, hash(1)))
            .unwrap_err(),
        ContractError::Asset(AssetError::NoPayment {
            expected: DENOM.into()
        })
    );
    assert_eq!(
        suite
            .execute_with_funds(&caller, &request(WORKFLOW, hash(1)), &coins(PRICE, "uatom"))
            .unwrap_err(),
        ContractError::Asset(AssetError::WrongAsset {
            expected: DENOM.into(),
            got: "uatom".into()
        })
    );
    assert_eq!(
        suite
            .execute_with_funds(
                &caller,
                &request(WORKFLOW, hash(1)),
                &[coin(PRICE, DENOM), coin(1, "uatom")]
            )
            .unwrap_err(),
        ContractError::Asset(AssetError::MultipleCoins {
            expected: DENOM.into(),
            count: 2
        })
    );
    let (gov, registry) = (suite.gov.clone(), suite.registry.clone());
    suite
        .app
        .execute_contract(
            gov,
            registry,
            &RegistryMsg::Flag {
                id: WORKFLOW,
                reason: FlagReason::Stolen,
                note: None,
            },
            &[],
        )
        .unwrap();
    assert_eq!(
        suite.request(PRICE, 1).unwrap_err(),
        ContractError::NotRunnable { id: WORKFLOW }
    );
    assert_eq!(suite.balance(&caller), before, "nothing was kept");
    assert_eq!(suite.balance(&suite.log.clone()), 0);
}

#[test]
fn refund_after_the_deadline() {
    let mut suite = SuiteBuilder::new().build();
    let (caller, mallory) = (suite.addr("caller"), suite.addr("mallory"));
    let before = suite.balance(&caller);
    let id = suite.request(PRICE, 1).unwrap();
    let deadline = suite.job(id).deadline;
    assert_eq!(
        suite
            .execute(&caller, &ExecuteMsg::Refund { job_id: id })
            .unwrap_err(),
        ContractError::NotExpired { id, deadline }
    );
    suite.advance(Params::default().job_timeout + 1);
    assert_eq!(
        suite
            .execute(&mallory, &ExecuteMsg::Refund { job_id: id })
            .unwrap_err(),
        ContractError::NotCaller { id }
    );
    // Too late to record.
    let res = suite
        .record(vec![suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3])])
        .unwrap();
    assert_eq!(
        outcomes(&res)[0],
        (
            id,
            "rejected".into(),
            format!("job {id} expired at {deadline}; the caller may take the fee back with Refund")
        )
    );
    suite
        .execute(&caller, &ExecuteMsg::Refund { job_id: id })
        .unwrap();
    assert_eq!(suite.balance(&caller), before);
    assert_eq!(suite.job(id).status, JobStatus::Refunded);
    assert_eq!(
        suite
            .execute(&caller, &ExecuteMsg::Refund { job_id: id })
            .unwrap_err(),
        ContractError::AlreadySettled {
            id,
            status: JobStatus::Refunded
        }
    );
    assert_eq!(
        suite
            .execute(&caller, &ExecuteMsg::Refund { job_id: 77 })
            .unwrap_err(),
        ContractError::UnknownJob { id: 77 }
    );
}

#[test]
fn a_recorded_job_cannot_be_refunded() {
    let mut suite = SuiteBuilder::new().build();
    let caller = suite.addr("caller");
    let id = suite.request(PRICE, 1).unwrap();
    suite
        .record(vec![suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3])])
        .unwrap();
    suite.advance(Params::default().job_timeout + 1);
    assert_eq!(
        suite
            .execute(&caller, &ExecuteMsg::Refund { job_id: id })
            .unwrap_err(),
        ContractError::AlreadySettled {
            id,
            status: JobStatus::Recorded
        }
    );
}

#[test]
fn direct_attestations_count_toward_the_quorum() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    let node = suite.addr("node").to_string();
    let attest = |output: u8, verdict| ExecuteMsg::Attest {
        job_id: id,
        node: node.clone(),
        output_hash: hash(output),
        verdict,
        check: Check::Structural,
    };
    let (v2, v3, v4) = (suite.validator(2), suite.validator(3), suite.validator(4));
    suite.execute(&v2, &attest(9, Verdict::Valid)).unwrap();
    suite.execute(&v3, &attest(9, Verdict::Valid)).unwrap();
    // A direct attestation for a different output does not help this result.
    suite.execute(&v4, &attest(8, Verdict::Valid)).unwrap();
    assert_eq!(
        suite.execute(&v2, &attest(9, Verdict::Valid)).unwrap_err(),
        ContractError::AlreadyAttested {
            id,
            validator: v2.to_string()
        }
    );
    let mallory = suite.addr("mallory");
    assert_eq!(
        suite
            .execute(&mallory, &attest(9, Verdict::Valid))
            .unwrap_err(),
        ContractError::NotActiveValidator {
            sender: mallory.to_string()
        }
    );
    let short = ExecuteMsg::Attest {
        job_id: id,
        node: node.clone(),
        output_hash: HexBinary::from(vec![1]),
        verdict: Verdict::Valid,
        check: Check::Structural,
    };
    assert_eq!(
        suite.execute(&v3, &short).unwrap_err(),
        ContractError::InvalidHash {
            what: "output_hash",
            len: 1
        }
    );
    let unknown = ExecuteMsg::Attest {
        job_id: 77,
        node: node.clone(),
        output_hash: hash(9),
        verdict: Verdict::Valid,
        check: Check::Structural,
    };
    assert_eq!(
        suite.execute(&v3, &unknown).unwrap_err(),
        ContractError::UnknownJob { id: 77 }
    );

    // Signatures from 0 and 2 (2 counts once) plus direct attestations from 2 and 3: 3 of 5.
    let res = suite
        .record(vec![suite.result(id, 9, Verdict::Valid, &[0, 2])])
        .unwrap();
    assert!(
        outcomes(&res)[0].2.starts_with("no quorum: 3 signers"),
        "{:?}",
        outcomes(&res)
    );
    let res = suite
        .record(vec![suite.result(id, 9, Verdict::Valid, &[0, 1])])
        .unwrap();
    assert_eq!(outcomes(&res)[0].1, "recorded");
    // On a recorded job a direct attestation is a vote on the result on record, and no other.
    assert_eq!(
        suite.execute(&v4, &attest(8, Verdict::Valid)).unwrap_err(),
        ContractError::ResultMismatch { id }
    );
    suite.pass_window();
    suite.finalize(&[id]).unwrap();
    let signers = suite.received()[0].settlements[0].validators.len();
    assert_eq!(signers, 4);
    assert_eq!(
        suite.execute(&v4, &attest(9, Verdict::Valid)).unwrap_err(),
        ContractError::AlreadySettled {
            id,
            status: JobStatus::Valid
        }
    );
    let jobs_page: havn_execution_log::msg::ExecutionsResponse =
        suite.query(&QueryMsg::ExecutionsByWorkflow {
            workflow_id: WORKFLOW,
            start_after: None,
            limit: None,
        });
    assert_eq!(jobs_page.executions.len(), 1);
}
