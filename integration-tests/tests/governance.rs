//! Governance over the whole deployment: proposals, x/gov tallies on snapshotted stake, and
//! actions that reach every other contract. Voting power here: five validators and one node with
//! 1 000 $HAI bonded each (6 000 in all); quorum 33.4 %.

use cosmwasm_std::{coins, Decimal, Uint128};
use havn_governance::msg::{
    Action, ExecuteMsg as GovMsg, Outcome, ParamsUpdate, QueryMsg as GovQuery, Status,
    TreasuryResponse, VoteOption, VoteResponse,
};
use havn_governance::ContractError as GovError;
use havn_integration_tests::{simple_workflow, Suite, SuiteBuilder, HAI, MIN_STAKE};
use havn_staking::state::Role;
use havn_types::{AssetError, Split, Verdict};
use havn_workflow_registry::msg::{DerivativeRules, FlagReason};

fn registry_params(s: &Suite) -> havn_workflow_registry::state::Params {
    s.query(
        &s.registry,
        &havn_workflow_registry::msg::QueryMsg::Params {},
    )
}

fn staking_params(s: &Suite) -> havn_staking::state::Params {
    s.query(&s.staking, &havn_staking::msg::QueryMsg::Params {})
}

const NEW_SPLIT: Split = Split {
    creator: 4000,
    upstream: 2000,
    node: 3000,
    validator: 500,
    treasury: 500,
};

fn new_rules() -> Vec<Action> {
    vec![
        Action::UpdateRegistryParams(havn_workflow_registry::msg::ParamsUpdate {
            default_split: Some(NEW_SPLIT),
            ..Default::default()
        }),
        Action::UpdateStakingParams(havn_staking::msg::ParamsUpdate {
            slash_fraud: Some(Decimal::percent(20)),
            ..Default::default()
        }),
    ]
}

#[test]
fn governance_changes_the_default_split_and_a_slash_fraction() {
    let mut s = SuiteBuilder::new().build();
    let old = s
        .publish("creator", simple_workflow("before", 100 * HAI))
        .unwrap();
    let holder_before = s.balance_of("holder");
    let id = s.propose("holder", new_rules()).unwrap();
    assert_eq!(holder_before - s.balance_of("holder"), 100 * HAI);
    s.all_validators_vote(id, VoteOption::Yes);
    // Nothing changes while the vote is open, and it cannot be executed early.
    assert!(matches!(
        s.execute_proposal(id).unwrap_err().message().as_str(),
        m if m.starts_with(&format!("voting on proposal {id} is open until"))
    ));
    s.end_voting();
    assert_eq!(s.proposal(id).outcome, Some(Outcome::Passed));
    s.execute_proposal(id).unwrap();
    assert_eq!(s.proposal(id).proposal.status, Status::Executed);
    assert_eq!(s.balance_of("holder"), holder_before, "deposit refunded");
    assert_eq!(registry_params(&s).default_split, NEW_SPLIT);
    assert_eq!(staking_params(&s).slash_fraud, Decimal::percent(20));

    // The next job of a workflow published now pays by the new split: the node takes 30 %.
    let new = s
        .publish("creator", simple_workflow("after", 100 * HAI))
        .unwrap();
    let job = s.request("caller", new, 100 * HAI, "in").unwrap();
    let result = s.result(job, "node", "out", Verdict::Valid, &[0, 1, 2, 3]);
    s.settle(vec![result]).unwrap();
    let node = s.addr("node");
    assert_eq!(s.earnings(&node).earned.u128(), 30 * HAI);
    // A workflow published before keeps the split it was published with (25 % to the node).
    let job = s.request("caller", old, 100 * HAI, "in").unwrap();
    let result = s.result(job, "node", "out", Verdict::Valid, &[0, 1, 2, 3]);
    s.settle(vec![result]).unwrap();
    assert_eq!(s.earnings(&node).earned.u128(), 55 * HAI);

    // The next fraud slash takes 20 % of the node's stake.
    let job = s.request("caller", new, 100 * HAI, "bad").unwrap();
    let result = s.result(job, "node", "garbage", Verdict::Invalid, &[0, 1, 2, 3]);
    s.record(vec![result]).unwrap();
    assert_eq!(s.operator("node").node_stake.u128(), MIN_STAKE * 8 / 10);
}

#[test]
fn a_proposal_that_fails_quorum_changes_nothing() {
    let mut s = SuiteBuilder::new().build();
    let before = (registry_params(&s), staking_params(&s));
    let holder_before = s.balance_of("holder");
    let id = s.propose("holder", new_rules()).unwrap();
    // 1 000 of 6 000 (16.7 %) votes: below the 33.4 % quorum.
    s.vote("node", id, VoteOption::Yes).unwrap();
    s.end_voting();
    assert_eq!(
        s.execute_proposal(id).unwrap_err(),
        GovError::NotPassed {
            id,
            outcome: Outcome::QuorumNotReached
        }
    );
    s.close_proposal(id).unwrap();
    assert_eq!(s.proposal(id).proposal.status, Status::Rejected);
    assert_eq!((registry_params(&s), staking_params(&s)), before);
    assert_eq!(s.balance_of("holder"), holder_before, "deposit refunded");
    assert_eq!(
        s.close_proposal(id).unwrap_err(),
        GovError::NotOpen {
            id,
            status: Status::Rejected
        }
    );
}

#[test]
fn a_majority_of_no_rejects_and_refunds() {
    let mut s = SuiteBuilder::new().build();
    let id = s.propose("holder", new_rules()).unwrap();
    s.vote("validator-0", id, VoteOption::Yes).unwrap();
    s.vote("validator-1", id, VoteOption::Yes).unwrap();
    for v in ["validator-2", "validator-3", "validator-4"] {
        s.vote(v, id, VoteOption::No).unwrap();
    }
    s.end_voting();
    assert_eq!(s.proposal(id).outcome, Some(Outcome::Rejected));
    let before = s.balance_of("holder");
    s.close_proposal(id).unwrap();
    assert_eq!(s.balance_of("holder") - before, 100 * HAI);
    assert_eq!(registry_params(&s).default_split, Split::DEFAULT);
}

#[test]
fn a_veto_rejects_and_burns_the_deposit() {
    for mut s in [
        SuiteBuilder::new().build(),
        SuiteBuilder::new().native().build(),
    ] {
        let supply = s.supply();
        let id = s.propose("holder", new_rules()).unwrap();
        for v in ["validator-0", "validator-1", "validator-2"] {
            s.vote(v, id, VoteOption::Yes).unwrap();
        }
        // 2 000 of 5 000 votes (40 %) veto: above 33.4 %, so the yes majority does not matter.
        s.vote("validator-3", id, VoteOption::NoWithVeto).unwrap();
        s.vote("validator-4", id, VoteOption::NoWithVeto).unwrap();
        s.end_voting();
        assert_eq!(
            s.execute_proposal(id).unwrap_err(),
            GovError::NotPassed {
                id,
                outcome: Outcome::Vetoed
            }
        );
        let holder = s.balance_of("holder");
        s.close_proposal(id).unwrap();
        assert_eq!(s.proposal(id).proposal.status, Status::Vetoed);
        assert_eq!(s.balance_of("holder"), holder, "no refund");
        assert_eq!(supply - s.supply(), 100 * HAI, "deposit burned");
        assert_eq!(registry_params(&s).default_split, Split::DEFAULT);
    }
}

#[test]
fn voting_power_is_the_stake_bonded_when_the_proposal_opened() {
    let mut s = SuiteBuilder::new().build();
    let id = s.propose("holder", new_rules()).unwrap();
    // Bonding in the same block or later does not buy votes on an open proposal.
    s.bond("holder", Role::Node, 10_000 * HAI).unwrap();
    let holder = s.addr("holder");
    let start = s.proposal(id).proposal.start_height;
    assert_eq!(
        s.vote("holder", id, VoteOption::Yes).unwrap_err(),
        GovError::NoVotingPower {
            id,
            voter: holder.to_string(),
            height: start
        }
    );
    s.advance(10);
    s.bond("node-2", Role::Node, MIN_STAKE).unwrap();
    assert!(s.vote("node-2", id, VoteOption::Yes).is_err());
    // Unbonding after it opened does not take votes away either (nor count them twice).
    let staking = s.staking.clone();
    s.execute(
        "validator-0",
        &staking,
        &havn_staking::msg::ExecuteMsg::Unbond {
            role: Role::Validator,
            amount: Uint128::new(MIN_STAKE),
        },
        &[],
    )
    .unwrap();
    s.vote("validator-0", id, VoteOption::Yes).unwrap();
    let ballot: VoteResponse = s.query(
        &s.governance,
        &GovQuery::Vote {
            proposal_id: id,
            voter: s.validator(0).to_string(),
        },
    );
    assert_eq!(ballot.ballot.unwrap().power.u128(), MIN_STAKE);
    assert_eq!(s.proposal(id).proposal.total_power.u128(), 6 * MIN_STAKE);
    // The holder's new stake counts for proposals opened after it bonded.
    s.advance(5);
    let later = s.propose("holder", new_rules()).unwrap();
    s.vote("holder", later, VoteOption::Yes).unwrap();
    assert_eq!(s.proposal(later).proposal.tally.yes.u128(), 10_000 * HAI);
}

#[test]
fn voting_again_replaces_the_ballot() {
    let mut s = SuiteBuilder::new().build();
    let id = s.propose("holder", new_rules()).unwrap();
    s.vote("validator-0", id, VoteOption::Yes).unwrap();
    s.vote("validator-0", id, VoteOption::NoWithVeto).unwrap();
    let tally = s.proposal(id).proposal.tally;
    assert_eq!(
        (tally.yes.u128(), tally.no_with_veto.u128()),
        (0, MIN_STAKE)
    );
}

#[test]
fn flag_slash_spend_and_derivative_rules_in_one_proposal() {
    let mut s = SuiteBuilder::new().build();
    let workflow = s
        .publish("creator", simple_workflow("stolen", 10 * HAI))
        .unwrap();
    // Fund the treasury: someone donates 500 $HAI to it.
    let governance = s.governance.clone();
    s.transfer("holder", &governance, 500 * HAI);
    let lora = s.addr("lora-artist");
    let colluder = s.validator(4);
    let rules_9000 = s.derivative_rules_action(DerivativeRules {
        threshold_bps: 9_000,
        ..Default::default()
    });
    let id = s
        .pass(vec![
            Action::FlagWorkflow {
                id: workflow,
                reason: FlagReason::Stolen,
                note: Some("copy of workflow 7".into()),
            },
            Action::SlashOperator {
                operator: colluder.to_string(),
                role: None,
                reason: "colluded with node-2 on jobs 10-14".into(),
                fraction: None,
            },
            Action::SpendTreasury {
                recipient: lora.to_string(),
                amount: Uint128::new(200 * HAI),
            },
            rules_9000,
        ])
        .unwrap();
    assert_eq!(s.proposal(id).proposal.status, Status::Executed);
    // Flagged: nobody can run it.
    let err = s.request("caller", workflow, 10 * HAI, "x").unwrap_err();
    assert!(err.message().contains("flagged"), "{}", err.message());
    // Collusion: staking's collusion fraction (50 %) of the validator's stake, jailed.
    let op = s.operator("validator-4");
    assert_eq!(op.validator_stake.u128(), MIN_STAKE / 2);
    assert!(op.jailed_until.is_some());
    // Spent: 200 to the artist; the slash's 500 arrived after the spend was checked.
    assert_eq!(
        s.balance_of("lora-artist"),
        havn_integration_tests::FUNDS + 200 * HAI
    );
    let treasury: TreasuryResponse = s.query(&s.governance, &GovQuery::Treasury {});
    assert_eq!(treasury.available.u128(), (500 - 200) * HAI + MIN_STAKE / 2);
    assert_eq!(registry_params(&s).derivatives.threshold_bps, 9_000);

    // And governance can make it runnable again.
    s.pass(vec![Action::UnflagWorkflow { id: workflow }])
        .unwrap();
    s.request("caller", workflow, 10 * HAI, "x").unwrap();
}

#[test]
fn a_failing_action_fails_the_whole_proposal_and_nothing_takes_effect() {
    let mut s = SuiteBuilder::new().build();
    let lora = s.addr("lora-artist");
    let rules_8000 = s.derivative_rules_action(DerivativeRules {
        threshold_bps: 8_000,
        ..Default::default()
    });
    let id = s
        .pass(vec![
            rules_8000,
            // The treasury is empty.
            Action::SpendTreasury {
                recipient: lora.to_string(),
                amount: Uint128::new(HAI),
            },
        ])
        .unwrap();
    let p = s.proposal(id).proposal;
    assert_eq!(p.status, Status::Failed);
    assert!(p
        .execution_error
        .unwrap()
        .contains("the treasury holds 0, less than the 1000000 to spend"));
    assert_eq!(
        registry_params(&s).derivatives,
        DerivativeRules::default(),
        "rolled back"
    );
    // A target contract refusing its message fails the proposal the same way.
    let id = s
        .pass(vec![
            Action::UpdateExecutionLogParams(havn_execution_log::msg::ParamsUpdate {
                job_timeout: Some(7_200),
                ..Default::default()
            }),
            Action::UpdateStakingParams(havn_staking::msg::ParamsUpdate {
                slash_fraud: Some(Decimal::percent(150)),
                ..Default::default()
            }),
        ])
        .unwrap();
    assert_eq!(s.proposal(id).proposal.status, Status::Failed);
    let log: havn_execution_log::state::Params =
        s.query(&s.log, &havn_execution_log::msg::QueryMsg::Params {});
    assert_eq!(log.job_timeout, 3_600, "rolled back");
    assert_eq!(
        s.execute_proposal(id).unwrap_err(),
        GovError::NotOpen {
            id,
            status: Status::Failed
        }
    );
}

#[test]
fn governance_sets_payout_log_and_its_own_params_and_migrates_contracts() {
    let mut s = SuiteBuilder::new().build();
    let registry = s.registry.clone();
    let code = s.codes.registry;
    s.pass(vec![
        Action::UpdatePayoutParams(havn_payout::msg::ParamsUpdate {
            validator_shares: Some(havn_payout::state::ValidatorShares::StakeWeighted),
            ..Default::default()
        }),
        Action::UpdateExecutionLogParams(havn_execution_log::msg::ParamsUpdate {
            min_signers: Some(3),
            ..Default::default()
        }),
        Action::UpdateGovernanceParams(ParamsUpdate {
            voting_period: Some(7_200),
            ..Default::default()
        }),
        Action::MigrateContract {
            contract: registry.to_string(),
            code_id: code,
            msg: cosmwasm_std::to_json_binary(&havn_workflow_registry::msg::MigrateMsg {}).unwrap(),
        },
        Action::ExecuteContract {
            contract: registry.to_string(),
            msg: cosmwasm_std::to_json_binary(
                &havn_workflow_registry::msg::ExecuteMsg::UpdateParams(
                    havn_workflow_registry::msg::ParamsUpdate {
                        publish_deposit: Some(Uint128::new(5 * HAI)),
                        ..Default::default()
                    },
                ),
            )
            .unwrap(),
        },
    ])
    .unwrap();
    let payout: havn_payout::state::Params =
        s.query(&s.payout, &havn_payout::msg::QueryMsg::Params {});
    assert_eq!(
        payout.validator_shares,
        havn_payout::state::ValidatorShares::StakeWeighted
    );
    let log: havn_execution_log::state::Params =
        s.query(&s.log, &havn_execution_log::msg::QueryMsg::Params {});
    assert_eq!(log.min_signers, 3);
    let gov: havn_governance::state::Params = s.query(&s.governance, &GovQuery::Params {});
    assert_eq!(gov.voting_period, 7_200);
    assert_eq!(registry_params(&s).publish_deposit.u128(), 5 * HAI);
    // Publishing now costs the deposit, which goes to the treasury.
    let governance = s.governance.clone();
    let before = s.balance(&governance);
    s.publish("creator", simple_workflow("paid", HAI)).unwrap();
    assert_eq!(s.balance(&governance) - before, 5 * HAI);
}

#[test]
fn the_deployer_keeps_no_power_after_the_handover() {
    let mut s = SuiteBuilder::new().build();
    let registry = s.registry.clone();
    let staking = s.staking.clone();
    let flag = havn_workflow_registry::msg::ExecuteMsg::Flag {
        id: 1,
        reason: FlagReason::Spam,
        note: None,
    };
    let err = s.execute("deployer", &registry, &flag, &[]).unwrap_err();
    assert_eq!(err, havn_workflow_registry::ContractError::NotAdmin);
    let slash = havn_staking::msg::ExecuteMsg::Slash {
        operator: s.validator(0).to_string(),
        role: None,
        reason: "because".into(),
        fraction: None,
    };
    assert_eq!(
        s.execute("deployer", &staking, &slash, &[]).unwrap_err(),
        havn_staking::ContractError::NotAdmin
    );
    let info = s.app.wrap().query_wasm_contract_info(&registry).unwrap();
    assert_eq!(info.admin, Some(s.governance.clone()));
}

#[test]
fn malformed_and_unauthorized_calls_get_clear_errors() {
    let mut s = SuiteBuilder::new().build();
    let governance = s.governance.clone();
    let id = s.propose("holder", new_rules()).unwrap();
    // Only the contract itself runs actions.
    assert_eq!(
        s.execute(
            "holder",
            &governance,
            &GovMsg::RunActions { proposal_id: id },
            &[]
        )
        .unwrap_err(),
        GovError::NotSelf
    );
    assert_eq!(
        s.vote("validator-0", 99, VoteOption::Yes).unwrap_err(),
        GovError::UnknownProposal { id: 99 }
    );
    assert_eq!(
        s.close_proposal(id).unwrap_err().message(),
        GovError::VotingOpen {
            id,
            end: s.proposal(id).proposal.voting_end
        }
        .to_string()
    );
    s.all_validators_vote(id, VoteOption::Yes);
    s.end_voting();
    assert_eq!(
        s.vote("validator-0", id, VoteOption::No).unwrap_err(),
        GovError::VotingEnded {
            id,
            end: s.proposal(id).proposal.voting_end
        }
    );
    assert_eq!(s.close_proposal(id).unwrap_err(), GovError::Passed { id });
    s.execute_proposal(id).unwrap();
    assert_eq!(
        s.execute_proposal(id).unwrap_err(),
        GovError::NotOpen {
            id,
            status: Status::Executed
        }
    );

    // Proposals are checked before any deposit is taken.
    assert_eq!(
        s.propose_with_deposit("holder", new_rules(), 99 * HAI)
            .unwrap_err(),
        GovError::DepositTooLow {
            deposit: Uint128::new(99 * HAI),
            min: Uint128::new(100 * HAI)
        }
    );
    assert_eq!(
        s.propose("holder", vec![]).unwrap_err(),
        GovError::BadActionCount { count: 0, max: 10 }
    );
    assert_eq!(
        s.propose("holder", vec![Action::UnflagWorkflow { id: 1 }; 11])
            .unwrap_err(),
        GovError::BadActionCount { count: 11, max: 10 }
    );
    let bad_actions: Vec<(Action, &str)> = vec![
        (
            Action::SlashOperator {
                operator: s.validator(0).to_string(),
                role: None,
                reason: String::new(),
                fraction: None,
            },
            "a slash needs a reason",
        ),
        (
            Action::SlashOperator {
                operator: s.validator(0).to_string(),
                role: None,
                reason: "x".into(),
                fraction: Some(Decimal::percent(101)),
            },
            "slash fraction must be above 0 and at most 1",
        ),
        (
            Action::SpendTreasury {
                recipient: s.addr("holder").to_string(),
                amount: Uint128::zero(),
            },
            "spend amount must be above 0",
        ),
        (
            Action::SpendTreasury {
                recipient: "not-an-address".into(),
                amount: Uint128::one(),
            },
            "",
        ),
        (
            Action::UpdateGovernanceParams(ParamsUpdate {
                quorum: Some(Decimal::zero()),
                ..Default::default()
            }),
            "invalid param quorum",
        ),
        (
            Action::UpdateGovernanceParams(ParamsUpdate {
                voting_period: Some(60),
                ..Default::default()
            }),
            "invalid param voting_period",
        ),
    ];
    for (action, reason) in bad_actions {
        let err = s.propose("holder", vec![action]).unwrap_err().message();
        assert!(
            err.starts_with(&format!("invalid action 0: {reason}")),
            "{err}"
        );
    }
    let msg = havn_governance::msg::ProposeMsg {
        title: String::new(),
        description: String::new(),
        actions: new_rules(),
    };
    let token = s.token.clone().unwrap();
    let send = cw20::Cw20ExecuteMsg::Send {
        contract: governance.to_string(),
        amount: Uint128::new(100 * HAI),
        msg: cosmwasm_std::to_json_binary(&havn_governance::msg::ReceiveMsg::Propose(msg)).unwrap(),
    };
    assert_eq!(
        s.execute("holder", &token, &send, &[]).unwrap_err(),
        GovError::BadText {
            what: "title",
            len: 0,
            max: 140
        }
    );
}

#[test]
fn native_deployments_refuse_the_wrong_coin_and_stray_funds() {
    let mut s = SuiteBuilder::new().native().build();
    let governance = s.governance.clone();
    let msg = GovMsg::Propose(havn_governance::msg::ProposeMsg {
        title: "t".into(),
        description: String::new(),
        actions: new_rules(),
    });
    assert_eq!(
        s.execute("holder", &governance, &msg, &coins(100 * HAI, "uatom"))
            .unwrap_err(),
        AssetError::WrongAsset {
            expected: "uhai".into(),
            got: "uatom".into()
        }
    );
    let id = s.propose("holder", new_rules()).unwrap();
    let vote = GovMsg::Vote {
        proposal_id: id,
        option: VoteOption::Yes,
    };
    assert_eq!(
        s.execute("validator-0", &governance, &vote, &coins(1, "uhai"))
            .unwrap_err(),
        AssetError::Unexpected {
            funds: "1uhai".into()
        }
    );
}

#[test]
fn a_proposal_needs_someone_able_to_vote() {
    let mut s = SuiteBuilder::new()
        .validator_stakes(&[])
        .without_node()
        .build();
    let height = s.app.block_info().height;
    assert_eq!(
        s.propose("holder", new_rules()).unwrap_err(),
        GovError::NoTotalPower { height }
    );
}

/// A passed proposal runs only after its timelock (2 days by default), and governance cannot
/// shorten that under a day.
#[test]
fn a_passed_proposal_waits_out_its_timelock() {
    let mut s = SuiteBuilder::new().build();
    let params: havn_governance::state::Params =
        s.query(&s.governance.clone(), &GovQuery::Params {});
    assert_eq!(params.execution_delay, 2 * 24 * 3600);
    let before = staking_params(&s);
    let id = s.propose("holder", new_rules()).unwrap();
    s.all_validators_vote(id, VoteOption::Yes);
    s.advance(params.voting_period);
    assert_eq!(
        s.execute_proposal(id).unwrap_err(),
        GovError::Timelocked {
            id,
            from: s
                .proposal(id)
                .proposal
                .voting_end
                .plus_seconds(params.execution_delay)
        }
    );
    assert_eq!(staking_params(&s), before, "nothing ran");
    s.advance(params.execution_delay);
    s.execute_proposal(id).unwrap();
    assert_ne!(staking_params(&s), before);

    let short = vec![Action::UpdateGovernanceParams(ParamsUpdate {
        execution_delay: Some(3_600),
        ..Default::default()
    })];
    assert!(s
        .propose("holder", short)
        .unwrap_err()
        .message()
        .contains("execution_delay"));
}
