use cosmwasm_std::coins;
use cw_multi_test::Executor;
use havn_execution_log::contract::{CONTRACT_NAME, CONTRACT_VERSION};
use havn_execution_log::msg::{ConfigResponse, ExecuteMsg, MigrateMsg, ParamsUpdate, QueryMsg};
use havn_execution_log::state::Params;
use havn_execution_log::ContractError;
use havn_types::{AssetError, Verdict};

use crate::suite::*;

#[test]
fn batch_size_is_bounded() {
    let mut suite = SuiteBuilder::new().with_params(|p| p.max_batch = 2).build();
    assert_eq!(
        suite.record(vec![]).unwrap_err(),
        ContractError::BadBatchSize { count: 0, max: 2 }
    );
    let ids: Vec<u64> = (0..3).map(|i| suite.request(PRICE, i).unwrap()).collect();
    let results = ids
        .iter()
        .map(|&id| suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3]))
        .collect();
    assert_eq!(
        suite.record(results).unwrap_err(),
        ContractError::BadBatchSize { count: 3, max: 2 }
    );
}

#[test]
fn record_takes_no_funds() {
    let mut suite = SuiteBuilder::new().build();
    let id = suite.request(PRICE, 1).unwrap();
    let caller = suite.addr("caller");
    let msg = ExecuteMsg::RecordExecution {
        results: vec![suite.result(id, 9, Verdict::Valid, &[0, 1, 2, 3])],
    };
    assert_eq!(
        suite
            .execute_with_funds(&caller, &msg, &coins(5, DENOM))
            .unwrap_err(),
        ContractError::Asset(AssetError::Unexpected {
            funds: "5uhai".into()
        })
    );
}

#[test]
fn params_and_config_are_governed() {
    let mut suite = SuiteBuilder::new().build();
    let (gov, mallory, new_payout) = (
        suite.gov.clone(),
        suite.addr("mallory"),
        suite.addr("payout-2"),
    );
    let update = ExecuteMsg::UpdateParams(ParamsUpdate {
        quorum_bps: Some(7_500),
        ..Default::default()
    });
    assert_eq!(
        suite.execute(&mallory, &update).unwrap_err(),
        ContractError::NotAdmin
    );
    suite.execute(&gov, &update).unwrap();
    assert_eq!(
        suite.query::<Params>(&QueryMsg::Params {}).quorum_bps,
        7_500
    );
    for (update, name) in [
        (
            ParamsUpdate {
                quorum_bps: Some(5_000),
                ..Default::default()
            },
            "quorum_bps",
        ),
        (
            ParamsUpdate {
                quorum_bps: Some(10_001),
                ..Default::default()
            },
            "quorum_bps",
        ),
        (
            ParamsUpdate {
                job_timeout: Some(0),
                ..Default::default()
            },
            "job_timeout",
        ),
        (
            ParamsUpdate {
                min_signers: Some(0),
                ..Default::default()
            },
            "min_signers",
        ),
        (
            ParamsUpdate {
                challenge_window: Some(0),
                ..Default::default()
            },
            "challenge_window",
        ),
        (
            ParamsUpdate {
                dispute_timeout: Some(0),
                ..Default::default()
            },
            "dispute_timeout",
        ),
        (
            ParamsUpdate {
                max_batch: Some(51),
                ..Default::default()
            },
            "max_batch",
        ),
    ] {
        let err = suite
            .execute(&gov, &ExecuteMsg::UpdateParams(update))
            .unwrap_err();
        assert!(
            err.message().starts_with(&format!("invalid param {name}:")),
            "{name}: {err:?}"
        );
    }
    let config = ExecuteMsg::UpdateConfig {
        admin: None,
        payout: Some(new_payout.to_string()),
    };
    assert_eq!(
        suite.execute(&mallory, &config).unwrap_err(),
        ContractError::NotAdmin
    );
    suite.execute(&gov, &config).unwrap();
    assert_eq!(
        suite.query::<ConfigResponse>(&QueryMsg::Config {}).payout,
        new_payout
    );
}

#[test]
fn migrate_guards_versions() {
    let mut suite = SuiteBuilder::new().build();
    let (gov, log, code) = (suite.gov.clone(), suite.log.clone(), suite.code_id);
    cw2::set_contract_version(
        suite.app.contract_storage_mut(&log).as_mut(),
        CONTRACT_NAME,
        "0.0.1",
    )
    .unwrap();
    suite
        .app
        .migrate_contract(gov.clone(), log.clone(), &MigrateMsg {}, code)
        .unwrap();
    assert_eq!(
        cw2::get_contract_version(suite.app.contract_storage(&log).as_ref())
            .unwrap()
            .version,
        CONTRACT_VERSION
    );
    cw2::set_contract_version(
        suite.app.contract_storage_mut(&log).as_mut(),
        "crates.io:cw20-base",
        "0.0.1",
    )
    .unwrap();
    assert!(suite
        .app
        .migrate_contract(gov, log, &MigrateMsg {}, code)
        .is_err());
}

#[test]
fn instantiate_rejects_malformed_config() {
    let mut app = cw_multi_test::App::default();
    let code = app.store_code(Box::new(cw_multi_test::ContractWrapper::new(
        havn_execution_log::contract::execute,
        havn_execution_log::contract::instantiate,
        havn_execution_log::contract::query,
    )));
    let admin = app.api().addr_make("admin");
    let valid = havn_execution_log::msg::InstantiateMsg {
        admin: admin.to_string(),
        asset: havn_types::AssetUnchecked::Native(DENOM.into()),
        registry: admin.to_string(),
        staking: admin.to_string(),
        payout: admin.to_string(),
        params: None,
    };
    let mut try_with = |msg: &havn_execution_log::msg::InstantiateMsg| {
        app.instantiate_contract(code, admin.clone(), msg, &[], "log", None)
            .unwrap_err()
            .root_cause()
            .to_string()
    };
    let weak_quorum = havn_execution_log::msg::InstantiateMsg {
        params: Some(Params {
            quorum_bps: 5_000,
            ..Params::default()
        }),
        ..valid.clone()
    };
    assert_eq!(
        try_with(&weak_quorum),
        "invalid param quorum_bps: must be 5001..=10000 (more than half), got 5000"
    );
    assert!(try_with(&havn_execution_log::msg::InstantiateMsg {
        registry: "nope".into(),
        ..valid.clone()
    })
    .contains("Error decoding bech32"));
    assert!(try_with(&havn_execution_log::msg::InstantiateMsg {
        asset: havn_types::AssetUnchecked::Native("x".into()),
        ..valid
    })
    .starts_with("invalid denom"));
}
