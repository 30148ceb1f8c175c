use cosmwasm_std::coins;
use cw_multi_test::{App, Executor};
use havn_types::AssetUnchecked;
use havn_workflow_registry::msg::InstantiateMsg;
use havn_workflow_registry::state::Params;

use crate::suite::*;

/// Instantiates with `tweak` applied to a valid message; returns the root error message.
fn instantiate_err(
    tweak: impl FnOnce(&mut InstantiateMsg, &App),
    funds: &[cosmwasm_std::Coin],
) -> String {
    let mut app = App::default();
    let creator = app.api().addr_make("deployer");
    app.init_modules(|router, _, storage| {
        router
            .bank
            .init_balance(storage, &creator, coins(10, DENOM))
            .unwrap()
    });
    let mut msg = InstantiateMsg {
        admin: app.api().addr_make("governance").to_string(),
        asset: AssetUnchecked::Native(DENOM.into()),
        treasury: app.api().addr_make("treasury").to_string(),
        params: None,
    };
    tweak(&mut msg, &app);
    let code_id = app.store_code(registry_contract());
    let err = app
        .instantiate_contract(code_id, creator.clone(), &msg, funds, "registry", None)
        .unwrap_err();
    assert_eq!(
        app.wrap()
            .query_balance(&creator, DENOM)
            .unwrap()
            .amount
            .u128(),
        10,
        "funds stay with the sender"
    );
    err.root_cause().to_string()
}

#[test]
fn instantiate_rejects_malformed_config() {
    let err = instantiate_err(
        |m, _| {
            m.params = Some(Params {
                max_royalty_depth: 0,
                ..Params::default()
            })
        },
        &[],
    );
    assert_eq!(err, "invalid param max_royalty_depth: must be 1..=8, got 0");
    let err = instantiate_err(
        |m, _| {
            m.params = Some(Params {
                default_split: split(4_500, 2_000, 2_500, 500, 0),
                ..Params::default()
            })
        },
        &[],
    );
    assert!(
        err.starts_with("invalid param default_split: split must add up to exactly 10000 bps"),
        "{err}"
    );
    assert!(instantiate_err(|m, _| m.admin = "admin".into(), &[]).contains("Error decoding bech32"));
    let err = instantiate_err(|m, _| m.treasury = "".into(), &[]);
    assert!(err.contains("Error decoding bech32"), "{err}");
    assert!(
        instantiate_err(|m, _| m.asset = AssetUnchecked::Cw20("token".into()), &[])
            .contains("Error decoding bech32")
    );
    assert_eq!(
        instantiate_err(|m, _| m.asset = AssetUnchecked::Native("1hai".into()), &[]),
        "invalid denom \"1hai\": a denom is 3-128 characters of letters, digits and /:._- starting with a letter"
    );
    assert_eq!(
        instantiate_err(|_, _| {}, &coins(10, DENOM)),
        "this message takes no funds; attached: 10uhai"
    );
}
