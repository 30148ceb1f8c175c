use cosmwasm_std::{coins, Empty};
use cw_multi_test::{ContractWrapper, Executor};
use havn_payout::msg::{ConfigResponse, ExecuteMsg, InstantiateMsg, ParamsUpdate, QueryMsg};
use havn_payout::state::{Params, ValidatorShares};
use havn_payout::ContractError;
use havn_types::{AssetError, AssetUnchecked};

use crate::suite::{suite, Failure, DENOM};

#[test]
fn admin_updates_params_within_bounds() {
    let mut s = suite();
    let admin = s.admin.clone();
    let update = ParamsUpdate {
        validator_shares: Some(ValidatorShares::StakeWeighted),
        max_signers: Some(10),
        ..Default::default()
    };
    s.execute(&admin, &ExecuteMsg::UpdateParams(update.clone()), &[])
        .unwrap();
    let p: Params = s.query(&QueryMsg::Params {});
    assert_eq!(
        (p.validator_shares, p.max_signers, p.max_settlements),
        (ValidatorShares::StakeWeighted, 10, 50)
    );
    let stranger = s.addr("stranger");
    assert_eq!(
        s.execute(&stranger, &ExecuteMsg::UpdateParams(update), &[])
            .unwrap_err(),
        ContractError::NotAdmin
    );
    for (update, name) in [
        (
            ParamsUpdate {
                max_royalty_payees: Some(0),
                ..Default::default()
            },
            "max_royalty_payees",
        ),
        (
            ParamsUpdate {
                max_signers: Some(201),
                ..Default::default()
            },
            "max_signers",
        ),
        (
            ParamsUpdate {
                max_settlements: Some(101),
                ..Default::default()
            },
            "max_settlements",
        ),
    ] {
        let err = s
            .execute(&admin, &ExecuteMsg::UpdateParams(update), &[])
            .unwrap_err();
        assert!(
            err.message().starts_with(&format!("invalid param {name}")),
            "{}",
            err.message()
        );
    }
}

#[test]
fn admin_rewires_config_and_the_old_log_loses_access() {
    let mut s = suite();
    let (admin, new_log, new_admin) = (s.admin.clone(), s.addr("new-log"), s.addr("dao"));
    let stranger = s.addr("stranger");
    let rewire = ExecuteMsg::UpdateConfig {
        admin: Some(new_admin.to_string()),
        execution_log: Some(new_log.to_string()),
        treasury: Some(stranger.to_string()),
    };
    assert_eq!(
        s.execute(&stranger, &rewire, &[]).unwrap_err(),
        ContractError::NotAdmin
    );
    s.execute(&admin, &rewire, &[]).unwrap();
    let c: ConfigResponse = s.query(&QueryMsg::Config {});
    assert_eq!(
        (c.admin, c.execution_log, c.treasury),
        (new_admin, Some(new_log), stranger)
    );
    let old_log = s.log.clone();
    let settlement = s.settlement(1, 10, &[], &[]);
    assert_eq!(
        s.distribute(vec![settlement]).unwrap_err(),
        ContractError::NotExecutionLog {
            sender: old_log.to_string()
        }
    );
    assert_eq!(
        s.execute(
            &admin,
            &ExecuteMsg::UpdateConfig {
                admin: None,
                execution_log: None,
                treasury: None
            },
            &[]
        )
        .unwrap_err(),
        ContractError::NotAdmin
    );
}

#[test]
fn distribute_before_the_log_is_wired_is_refused() {
    let mut s = suite();
    let code = s.app.store_code(Box::new(ContractWrapper::new(
        havn_payout::contract::execute,
        havn_payout::contract::instantiate,
        havn_payout::contract::query,
    )));
    let admin = s.admin.clone();
    let msg = InstantiateMsg {
        admin: admin.to_string(),
        asset: AssetUnchecked::Native(DENOM.into()),
        execution_log: None,
        treasury: admin.to_string(),
        params: None,
    };
    let unwired = s
        .app
        .instantiate_contract(code, admin.clone(), &msg, &[], "unwired", None)
        .unwrap();
    let log = s.log.clone();
    let settlement = s.settlement(1, 10, &[], &[]);
    let err = s
        .app
        .execute_contract(
            log.clone(),
            unwired,
            &ExecuteMsg::Distribute {
                settlements: vec![settlement],
            },
            &coins(10, DENOM),
        )
        .map_err(Failure)
        .unwrap_err();
    assert_eq!(
        err,
        ContractError::NotExecutionLog {
            sender: log.to_string()
        }
    );
}

#[test]
fn instantiate_rejects_bad_input() {
    let mut s = suite();
    let code = s.app.store_code(Box::new(ContractWrapper::new(
        havn_payout::contract::execute,
        havn_payout::contract::instantiate,
        havn_payout::contract::query,
    )));
    let admin = s.admin.clone();
    let good = InstantiateMsg {
        admin: admin.to_string(),
        asset: AssetUnchecked::Native(DENOM.into()),
        execution_log: None,
        treasury: admin.to_string(),
        params: None,
    };
    let mut try_init = |msg: &InstantiateMsg, funds: &[cosmwasm_std::Coin]| {
        s.app
            .instantiate_contract(code, admin.clone(), msg, funds, "payout", None)
            .map_err(Failure)
    };
    assert_eq!(
        try_init(
            &InstantiateMsg {
                asset: AssetUnchecked::Native("x".into()),
                ..good.clone()
            },
            &[]
        )
        .unwrap_err(),
        AssetError::InvalidDenom { denom: "x".into() }
    );
    assert!(try_init(
        &InstantiateMsg {
            treasury: "not an address".into(),
            ..good.clone()
        },
        &[]
    )
    .is_err());
    let err = try_init(
        &InstantiateMsg {
            params: Some(Params {
                max_signers: 0,
                ..Params::default()
            }),
            ..good.clone()
        },
        &[],
    )
    .unwrap_err();
    assert!(err.message().starts_with("invalid param max_signers"));
    // Funds held by a contract that owes nobody would be stranded.
    s.app.init_modules(|router, _, storage| {
        router
            .bank
            .init_balance(storage, &admin, coins(5, DENOM))
            .unwrap()
    });
    assert_eq!(
        s.app
            .instantiate_contract(code, admin.clone(), &good, &coins(5, DENOM), "payout", None)
            .map_err(Failure)
            .unwrap_err(),
        AssetError::Unexpected {
            funds: format!("5{DENOM}")
        }
    );
}

#[test]
fn migrate_keeps_state_and_records_the_version() {
    let mut s = suite();
    let settlement = s.settlement(1, 1_000, &[], &[]);
    s.distribute(vec![settlement]).unwrap();
    let code = s.app.store_code(Box::new(
        ContractWrapper::new(
            havn_payout::contract::execute,
            havn_payout::contract::instantiate,
            havn_payout::contract::query,
        )
        .with_migrate(havn_payout::contract::migrate),
    ));
    let (admin, payout) = (s.admin.clone(), s.payout.clone());
    s.app
        .migrate_contract(
            admin,
            payout.clone(),
            &havn_payout::msg::MigrateMsg {},
            code,
        )
        .unwrap();
    let version = cw2::query_contract_info(&s.app.wrap(), payout).unwrap();
    assert_eq!(version.contract, "crates.io:havn-payout");
    assert_eq!(s.earnings("creator").earned.u128(), 650);
    let _: Empty = Empty {};
}
