use cosmwasm_std::Decimal;
use cw_multi_test::Executor;
use havn_staking::contract::{CONTRACT_NAME, CONTRACT_VERSION};
use havn_staking::msg::{ConfigResponse, ExecuteMsg, MigrateMsg, ParamsUpdate, QueryMsg};
use havn_staking::state::Params;
use havn_staking::ContractError;

use crate::suite::*;

#[test]
fn update_params_and_its_rejections() {
    let mut suite = SuiteBuilder::new().build();
    let (admin, mallory) = (suite.admin.clone(), suite.addr("mallory"));
    let update = ParamsUpdate {
        slash_fraud: Some(Decimal::percent(20)),
        max_validators: Some(7),
        ..Default::default()
    };
    assert_eq!(
        suite
            .execute(&mallory, &ExecuteMsg::UpdateParams(update.clone()))
            .unwrap_err(),
        ContractError::NotAdmin
    );
    suite
        .execute(&admin, &ExecuteMsg::UpdateParams(update))
        .unwrap();
    let p: Params = suite.query(&QueryMsg::Params {});
    assert_eq!((p.slash_fraud, p.max_validators), (Decimal::percent(20), 7));

    for (update, name) in [
        (
            ParamsUpdate {
                slash_fraud: Some(Decimal::percent(101)),
                ..Default::default()
            },
            "slash_fraud",
        ),
        (
            ParamsUpdate {
                slash_double_sign: Some(Decimal::percent(150)),
                ..Default::default()
            },
            "slash_double_sign",
        ),
        (
            ParamsUpdate {
                slash_downtime: Some(Decimal::percent(200)),
                ..Default::default()
            },
            "slash_downtime",
        ),
        (
            ParamsUpdate {
                slash_collusion: Some(Decimal::percent(101)),
                ..Default::default()
            },
            "slash_collusion",
        ),
        (
            ParamsUpdate {
                reporter_reward: Some(Decimal::percent(101)),
                ..Default::default()
            },
            "reporter_reward",
        ),
        (
            ParamsUpdate {
                unbonding_period: Some(0),
                ..Default::default()
            },
            "unbonding_period",
        ),
        (
            ParamsUpdate {
                downtime_window: Some(1),
                ..Default::default()
            },
            "downtime_window",
        ),
        // Hard floors: no vote disarms the network (issue: governance in one vote).
        (
            ParamsUpdate {
                slash_fraud: Some(Decimal::zero()),
                ..Default::default()
            },
            "slash_fraud",
        ),
        (
            ParamsUpdate {
                slash_false_attestation: Some(Decimal::permille(9)),
                ..Default::default()
            },
            "slash_false_attestation",
        ),
        (
            ParamsUpdate {
                slash_lazy: Some(Decimal::zero()),
                ..Default::default()
            },
            "slash_lazy",
        ),
        (
            ParamsUpdate {
                reporter_reward: Some(Decimal::percent(51)),
                ..Default::default()
            },
            "reporter_reward",
        ),
        (
            ParamsUpdate {
                unbonding_period: Some(24 * 3600),
                ..Default::default()
            },
            "unbonding_period",
        ),
        (
            ParamsUpdate {
                max_validators: Some(0),
                ..Default::default()
            },
            "max_validators",
        ),
        (
            ParamsUpdate {
                max_validators: Some(101),
                ..Default::default()
            },
            "max_validators",
        ),
    ] {
        let err = suite
            .execute(&admin, &ExecuteMsg::UpdateParams(update))
            .unwrap_err();
        assert!(
            err.message().starts_with(&format!("invalid param {name}:")),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn update_config() {
    let mut suite = SuiteBuilder::new().build();
    let (admin, dao, log2, mallory) = (
        suite.admin.clone(),
        suite.addr("dao"),
        suite.addr("log-2"),
        suite.addr("mallory"),
    );
    let msg = ExecuteMsg::UpdateConfig {
        admin: Some(dao.to_string()),
        treasury: None,
        execution_log: Some(log2.to_string()),
    };
    assert_eq!(
        suite.execute(&mallory, &msg).unwrap_err(),
        ContractError::NotAdmin
    );
    suite.execute(&admin, &msg).unwrap();
    let c: ConfigResponse = suite.query(&QueryMsg::Config {});
    assert_eq!((c.admin.clone(), c.execution_log), (dao, Some(log2)));
    let bad = ExecuteMsg::UpdateConfig {
        admin: None,
        treasury: Some("x".into()),
        execution_log: None,
    };
    assert_eq!(
        suite.execute(&admin, &bad).unwrap_err(),
        ContractError::NotAdmin,
        "the old admin is out"
    );
    assert!(suite
        .execute(&c.admin.clone(), &bad)
        .unwrap_err()
        .message()
        .contains("Error decoding bech32"));
}

#[test]
fn instantiate_rejects_bad_params() {
    let mut app = cw_multi_test::App::default();
    let code = app.store_code(staking_contract());
    let admin = app.api().addr_make("admin");
    let msg = havn_staking::msg::InstantiateMsg {
        admin: admin.to_string(),
        asset: havn_types::AssetUnchecked::Native(DENOM.into()),
        treasury: admin.to_string(),
        execution_log: None,
        params: Some(Params {
            slash_fraud: Decimal::percent(101),
            ..Params::default()
        }),
    };
    let err = app
        .instantiate_contract(code, admin, &msg, &[], "staking", None)
        .unwrap_err();
    assert_eq!(
        err.root_cause().to_string(),
        "invalid param slash_fraud: a fraction must be at most 1, got 1.01"
    );
}

#[test]
fn double_sign_needs_a_configured_execution_log() {
    let mut app = cw_multi_test::App::default();
    let code = app.store_code(staking_contract());
    let admin = app.api().addr_make("admin");
    let msg = havn_staking::msg::InstantiateMsg {
        admin: admin.to_string(),
        asset: havn_types::AssetUnchecked::Native(DENOM.into()),
        treasury: admin.to_string(),
        execution_log: None,
        params: None,
    };
    let staking = app
        .instantiate_contract(code, admin.clone(), &msg, &[], "staking", None)
        .unwrap();
    let evidence = havn_staking::msg::DoubleSignEvidence {
        validator: admin.to_string(),
        pubkey: pubkey(&key("x")),
        job_id: 1,
        workflow_id: 1,
        version_hash: vec![0u8; 32].into(),
        node: admin.to_string(),
        input_hash: vec![0u8; 32].into(),
        first: havn_staking::msg::SignedVerdict {
            output_hash: vec![0u8; 32].into(),
            verdict: havn_types::Verdict::Valid,
            check: havn_types::Check::Structural,
            signature: vec![0u8; 64].into(),
        },
        second: havn_staking::msg::SignedVerdict {
            output_hash: vec![1u8; 32].into(),
            verdict: havn_types::Verdict::Valid,
            check: havn_types::Check::Structural,
            signature: vec![0u8; 64].into(),
        },
    };
    let err = app
        .execute_contract(
            admin,
            staking,
            &ExecuteMsg::SubmitDoubleSign { evidence },
            &[],
        )
        .unwrap_err();
    assert_eq!(
        err.root_cause().to_string(),
        ContractError::NoExecutionLog.to_string()
    );
}

#[test]
fn migrate_guards_versions() {
    let mut suite = SuiteBuilder::new().build();
    let (admin, staking, code_id) = (suite.admin.clone(), suite.staking.clone(), suite.code_id);
    cw2::set_contract_version(
        suite.app.contract_storage_mut(&staking).as_mut(),
        CONTRACT_NAME,
        "0.0.1",
    )
    .unwrap();
    suite
        .app
        .migrate_contract(admin.clone(), staking.clone(), &MigrateMsg {}, code_id)
        .unwrap();
    assert_eq!(
        cw2::get_contract_version(suite.app.contract_storage(&staking).as_ref())
            .unwrap()
            .version,
        CONTRACT_VERSION
    );
    cw2::set_contract_version(
        suite.app.contract_storage_mut(&staking).as_mut(),
        CONTRACT_NAME,
        "99.0.0",
    )
    .unwrap();
    assert!(suite
        .app
        .migrate_contract(admin, staking, &MigrateMsg {}, code_id)
        .unwrap_err()
        .root_cause()
        .to_string()
        .contains("Cannot migrate from newer version"));
}
