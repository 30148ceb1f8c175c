use cosmwasm_std::Uint128;
use havn_types::Split;
use havn_workflow_registry::msg::{
    ConfigResponse, ExecuteMsg, ParamsUpdate, QueryMsg, RunTermsResponse,
};
use havn_workflow_registry::state::{Flag, FlagReason, Params};
use havn_workflow_registry::ContractError;

use crate::suite::*;

#[test]
fn flag_and_unflag() {
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();
    let height = suite.app.block_info().height;

    suite
        .admin_execute(&ExecuteMsg::Flag {
            id,
            reason: FlagReason::Stolen,
            note: Some("copy of #0".into()),
        })
        .unwrap();
    let terms: RunTermsResponse = suite.query(&QueryMsg::RunTerms { id });
    assert!(!terms.runnable);
    assert_eq!(
        terms.flag,
        Some(Flag {
            reason: FlagReason::Stolen,
            note: Some("copy of #0".into()),
            height
        })
    );

    suite.admin_execute(&ExecuteMsg::Unflag { id }).unwrap();
    let terms: RunTermsResponse = suite.query(&QueryMsg::RunTerms { id });
    assert!(terms.runnable && terms.flag.is_none());
}

#[test]
fn flag_rejections() {
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();
    let flag = ExecuteMsg::Flag {
        id,
        reason: FlagReason::Spam,
        note: None,
    };

    // The creator cannot flag or unflag, only governance.
    assert_eq!(
        suite.execute(&alice, &flag).unwrap_err(),
        ContractError::NotAdmin
    );
    assert_eq!(
        suite.admin_execute(&ExecuteMsg::Unflag { id }).unwrap_err(),
        ContractError::NotFlagged { id }
    );
    assert_eq!(
        suite
            .admin_execute(&ExecuteMsg::Flag {
                id: 3,
                reason: FlagReason::Other,
                note: None
            })
            .unwrap_err(),
        ContractError::UnknownWorkflow { id: 3 }
    );
    let long = ExecuteMsg::Flag {
        id,
        reason: FlagReason::Other,
        note: Some("x".repeat(257)),
    };
    assert_eq!(
        suite.admin_execute(&long).unwrap_err(),
        ContractError::NoteTooLong { len: 257, max: 256 }
    );
    assert!(suite.workflow(id).runnable());

    suite.admin_execute(&flag).unwrap();
    assert_eq!(
        suite.admin_execute(&flag).unwrap_err(),
        ContractError::AlreadyFlagged { id }
    );
    assert_eq!(
        suite
            .execute(&alice, &ExecuteMsg::Unflag { id })
            .unwrap_err(),
        ContractError::NotAdmin
    );
    assert!(!suite.workflow(id).runnable());
}

#[test]
fn update_params() {
    let mut suite = SuiteBuilder::new().build();
    let update = ParamsUpdate {
        max_dependencies: Some(3),
        publish_deposit: Some(Uint128::new(9)),
        ..ParamsUpdate::default()
    };
    suite
        .admin_execute(&ExecuteMsg::UpdateParams(update))
        .unwrap();
    let params: Params = suite.query(&QueryMsg::Params {});
    assert_eq!(
        params,
        Params {
            max_dependencies: 3,
            publish_deposit: Uint128::new(9),
            ..Params::default()
        }
    );
}

#[test]
fn update_params_rejections() {
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let update = ExecuteMsg::UpdateParams(ParamsUpdate {
        max_dependencies: Some(3),
        ..ParamsUpdate::default()
    });
    assert_eq!(
        suite.execute(&alice, &update).unwrap_err(),
        ContractError::NotAdmin
    );

    let cases: Vec<(ParamsUpdate, &str)> = vec![
        (
            ParamsUpdate {
                default_split: Some(Split {
                    treasury: 0,
                    ..Split::DEFAULT
                }),
                ..Default::default()
            },
            "default_split",
        ),
        (
            ParamsUpdate {
                max_dependencies: Some(0),
                ..Default::default()
            },
            "max_dependencies",
        ),
        (
            ParamsUpdate {
                max_dependencies: Some(33),
                ..Default::default()
            },
            "max_dependencies",
        ),
        (
            ParamsUpdate {
                max_royalty_depth: Some(0),
                ..Default::default()
            },
            "max_royalty_depth",
        ),
        (
            ParamsUpdate {
                max_royalty_depth: Some(9),
                ..Default::default()
            },
            "max_royalty_depth",
        ),
        (
            ParamsUpdate {
                max_royalty_payees: Some(0),
                ..Default::default()
            },
            "max_royalty_payees",
        ),
        (
            ParamsUpdate {
                max_royalty_payees: Some(65),
                ..Default::default()
            },
            "max_royalty_payees",
        ),
        (
            ParamsUpdate {
                min_upstream_bps: Some(10_001),
                ..Default::default()
            },
            "min_upstream_bps",
        ),
    ];
    for (update, param) in cases {
        let err = suite
            .admin_execute(&ExecuteMsg::UpdateParams(update))
            .unwrap_err();
        assert!(
            err.message()
                .starts_with(&format!("invalid param {param}:")),
            "{param}: {err:?}"
        );
    }
    assert_eq!(
        suite.query::<Params>(&QueryMsg::Params {}),
        Params::default()
    );
}

#[test]
fn update_config_hands_over_governance() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, dao, new_treasury) = (
        suite.addr("alice"),
        suite.addr("dao-dao-dao"),
        suite.addr("new-treasury"),
    );
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();

    let handover = ExecuteMsg::UpdateConfig {
        admin: Some(dao.to_string()),
        treasury: Some(new_treasury.to_string()),
    };
    assert_eq!(
        suite.execute(&alice, &handover).unwrap_err(),
        ContractError::NotAdmin
    );
    let bad = ExecuteMsg::UpdateConfig {
        admin: Some("nope".into()),
        treasury: None,
    };
    assert!(suite
        .admin_execute(&bad)
        .unwrap_err()
        .message()
        .contains("Error decoding bech32"));

    suite.admin_execute(&handover).unwrap();
    let config: ConfigResponse = suite.query(&QueryMsg::Config {});
    assert_eq!((config.admin, config.treasury), (dao.clone(), new_treasury));
    // The old admin is out; the new one governs.
    let flag = ExecuteMsg::Flag {
        id,
        reason: FlagReason::Spam,
        note: None,
    };
    assert_eq!(
        suite.admin_execute(&flag).unwrap_err(),
        ContractError::NotAdmin
    );
    suite.execute(&dao, &flag).unwrap();
}

/// Governance cannot let workflows work GPUs or validators for (almost) nothing, nor ship a
/// default split under its own floors; within the limits it sets them.
#[test]
fn share_floors_have_hard_limits_and_bind_the_default_split() {
    let mut suite = SuiteBuilder::new().build();
    let floors = |node, validator, treasury| {
        ExecuteMsg::UpdateShareFloors(havn_workflow_registry::state::ShareFloors {
            node,
            validator,
            treasury,
        })
    };
    let alice = suite.addr("alice");
    assert_eq!(
        suite.execute(&alice, &floors(1_500, 500, 200)).unwrap_err(),
        ContractError::NotAdmin
    );
    for (msg, param) in [
        (floors(499, 500, 200), "share_floors"),
        (floors(1_500, 99, 200), "share_floors"),
        (floors(1_500, 500, 9_000), "share_floors"),
        (floors(1_500, 600, 200), "default_split"),
    ] {
        let err = suite.admin_execute(&msg).unwrap_err();
        assert!(
            err.message()
                .starts_with(&format!("invalid param {param}:")),
            "{param}: {err:?}"
        );
    }
    assert_eq!(
        suite.query::<Params>(&QueryMsg::Params {}),
        Params::default()
    );
    suite.admin_execute(&floors(2_000, 500, 500)).unwrap();
    let p: Params = suite.query(&QueryMsg::Params {});
    assert_eq!((p.share_floors.node, p.share_floors.treasury), (2_000, 500));
}
