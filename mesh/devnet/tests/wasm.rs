//! The registry's wasm artifact behind cw-multi-test's router gives exactly what the native
//! contract gives: the same answers, the same errors, the same events. Needs `make wasm`.

use std::sync::atomic::Ordering;

use cosmwasm_std::{Addr, Empty, Uint128};
use cw_multi_test::{App, AppResponse, Contract, ContractWrapper, Executor};
use havn_devnet::Vm;
use havn_types::AssetUnchecked;
use havn_workflow_registry::msg::{ExecuteMsg, InstantiateMsg, PublishMsg, QueryMsg};

fn artifact(name: &str) -> Vec<u8> {
    let path = format!("{}/../../artifacts/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run `make wasm`)"))
}

fn native_registry() -> Box<dyn Contract<Empty>> {
    use havn_workflow_registry::contract::{execute, instantiate, migrate, query};
    Box::new(ContractWrapper::new(execute, instantiate, query).with_migrate(migrate))
}

/// What a user sees of one run of the scenario: every response's events and data, every error,
/// every query answer.
#[derive(Debug, PartialEq)]
struct Transcript(Vec<String>);

fn scenario(code: Box<dyn Contract<Empty>>) -> Transcript {
    let mut app = App::default();
    let mut t = vec![];
    let creator = app.api().addr_make("creator");
    let stranger = app.api().addr_make("stranger");
    let code_id = app.store_code(code);
    let registry = app
        .instantiate_contract(
            code_id,
            app.api().addr_make("deployer"),
            &InstantiateMsg {
                admin: app.api().addr_make("governance").to_string(),
                asset: AssetUnchecked::Native("uhai".into()),
                treasury: app.api().addr_make("treasury").to_string(),
                params: None,
            },
            &[],
            "registry",
            None,
        )
        .unwrap();
    let mut record = |r: anyhow::Result<AppResponse>| {
        t.push(match r {
            Ok(r) => format!("ok {:?} {:?}", r.events, r.data),
            Err(e) => format!("err {}", e.root_cause()),
        })
    };
    let publish = |name: &str, hash: char| {
        ExecuteMsg::Publish(PublishMsg {
            name: name.into(),
            content_hash: hash.to_string().repeat(64),
            price: Uint128::new(1_000),
            split: None,
            dependencies: vec![],
            parent: None,
            artifacts: vec![],
            metadata: None,
            fingerprint: Some(havn_types::fingerprint::placeholder(
                &hash.to_string().repeat(64),
            )),
        })
    };
    let exec = |app: &mut App, who: &Addr, msg: &ExecuteMsg| {
        app.execute_contract(who.clone(), registry.clone(), msg, &[])
    };
    record(exec(&mut app, &creator, &publish("portraits", 'a')));
    record(exec(&mut app, &creator, &publish("landscapes", 'b')));
    // The same hash twice, a stranger changing the price, a malformed hash: errors.
    record(exec(&mut app, &creator, &publish("copy", 'a')));
    record(exec(
        &mut app,
        &stranger,
        &ExecuteMsg::UpdatePrice {
            id: 1,
            price: Uint128::new(5),
        },
    ));
    record(exec(&mut app, &creator, &publish("bad", 'z')));
    record(exec(
        &mut app,
        &creator,
        &ExecuteMsg::UpdatePrice {
            id: 1,
            price: Uint128::new(5),
        },
    ));
    for q in [
        QueryMsg::Workflow { id: 1 },
        QueryMsg::Workflow { id: 9 },
        QueryMsg::Workflows {
            start_after: None,
            limit: None,
        },
        QueryMsg::Config {},
    ] {
        let answer: Result<serde_json::Value, _> = app.wrap().query_wasm_smart(&registry, &q);
        t.push(match answer {
            Ok(v) => format!("query {v}"),
            Err(e) => format!("query err {e}"),
        });
    }
    Transcript(t)
}

#[test]
fn the_wasm_registry_behaves_exactly_as_the_native_one() {
    let vm = Vm::new("cosmwasm", Default::default()).unwrap();
    let wasm = vm.contract(&artifact("workflow_registry")).unwrap();
    let gas = wasm.gas_meter();
    let from_wasm = scenario(Box::new(wasm));
    let native = scenario(native_registry());
    assert_eq!(from_wasm.0.len(), 10);
    for (w, n) in from_wasm.0.iter().zip(&native.0) {
        assert_eq!(w, n);
    }
    assert!(from_wasm.0[2].starts_with("err "), "{}", from_wasm.0[2]);
    assert!(
        from_wasm.0[3].contains("only the creator"),
        "{}",
        from_wasm.0[3]
    );
    // It really ran in the VM: gas was metered.
    assert!(gas.load(Ordering::Relaxed) > 1_000_000, "{gas:?}");
}

#[test]
fn the_vm_refuses_what_a_chain_refuses() {
    let vm = Vm::new("cosmwasm", Default::default()).unwrap();
    let err = vm.contract(b"\0asm\x01\0\0\0").err().unwrap().to_string();
    assert!(err.contains("does not pass the VM's checks"), "{err}");
    assert!(vm.contract(b"not wasm at all").is_err());
}
