use cw_multi_test::Executor;
use havn_workflow_registry::contract::{CONTRACT_NAME, CONTRACT_VERSION};
use havn_workflow_registry::msg::MigrateMsg;

use crate::suite::*;

fn stored_version(suite: &Suite) -> cw2::ContractVersion {
    cw2::get_contract_version(suite.app.contract_storage(&suite.registry).as_ref()).unwrap()
}

fn set_version(suite: &mut Suite, name: &str, version: &str) {
    let registry = suite.registry.clone();
    cw2::set_contract_version(
        suite.app.contract_storage_mut(&registry).as_mut(),
        name,
        version,
    )
    .unwrap();
}

fn migrate(suite: &mut Suite) -> anyhow::Result<cw_multi_test::AppResponse> {
    let (admin, registry, code_id) = (suite.admin.clone(), suite.registry.clone(), suite.code_id);
    suite
        .app
        .migrate_contract(admin, registry, &MigrateMsg {}, code_id)
}

#[test]
fn instantiate_records_the_cw2_version() {
    let suite = SuiteBuilder::new().build();
    assert_eq!(
        stored_version(&suite),
        cw2::ContractVersion {
            contract: CONTRACT_NAME.into(),
            version: CONTRACT_VERSION.into()
        }
    );
}

#[test]
fn migrates_from_an_older_version_and_keeps_state() {
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let id = suite.publish(&alice, publish_msg("wf", 1)).unwrap();
    set_version(&mut suite, CONTRACT_NAME, "0.0.1");
    let res = migrate(&mut suite).unwrap();
    let attrs: Vec<(String, String)> = res
        .events
        .iter()
        .flat_map(|e| {
            e.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
        })
        .collect();
    assert!(attrs.contains(&("from_version".into(), "0.0.1".into())));
    assert_eq!(stored_version(&suite).version, CONTRACT_VERSION);
    assert_eq!(suite.workflow(id).creator, alice);
}

#[test]
fn refuses_downgrades_and_foreign_contracts() {
    let mut suite = SuiteBuilder::new().build();
    set_version(&mut suite, CONTRACT_NAME, "99.0.0");
    let err = migrate(&mut suite).unwrap_err();
    assert!(
        err.root_cause()
            .to_string()
            .contains("Cannot migrate from newer version"),
        "{err:?}"
    );

    set_version(&mut suite, "crates.io:cw20-base", "0.0.1");
    let err = migrate(&mut suite).unwrap_err();
    assert!(
        err.root_cause()
            .to_string()
            .contains("Cannot migrate from crates.io:cw20-base"),
        "{err:?}"
    );
}

#[test]
fn only_the_chain_admin_may_migrate() {
    let mut suite = SuiteBuilder::new().build();
    let (mallory, registry, code_id) =
        (suite.addr("mallory"), suite.registry.clone(), suite.code_id);
    assert!(suite
        .app
        .migrate_contract(mallory, registry, &MigrateMsg {}, code_id)
        .is_err());
}
