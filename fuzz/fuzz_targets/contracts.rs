//! Any `ExecuteMsg` JSON, from any account, with or without funds, to each of Havn's five
//! contracts deployed and wired on cw-multi-test (the integration suite: validators and a node
//! bonded, one workflow published, one job requested). An input is up to four messages split by
//! 0xFF (never a byte of UTF-8 JSON), each `[contract, sender, funds, json…]`, sent in order.
//! Properties: no contract panics; a refused message moves no money (every account's and
//! contract's balance as before); none creates $HAI (supply never grows).
#![no_main]

use std::cell::RefCell;

use cosmwasm_std::testing::MockStorage;
use cosmwasm_std::{coins, Addr, Binary, BlockInfo, Coin, Order, Storage, WasmMsg};
use cw_multi_test::Executor;
use havn_integration_tests::{simple_workflow, Suite, SuiteBuilder, ACCOUNTS, DENOM, FUNDS};
use libfuzzer_sys::fuzz_target;

const MAX_MESSAGES: usize = 4;

/// The deployment, built once, and its storage and block as built: each input starts from that
/// state again (rebuilding it took ~12 ms an input; restoring it, microseconds).
struct World {
    suite: Suite,
    storage: Vec<(Vec<u8>, Vec<u8>)>,
    block: BlockInfo,
    senders: Vec<String>,
    contracts: [Addr; 5],
    tracked: Vec<Addr>,
}

impl World {
    fn new() -> World {
        let mut suite = SuiteBuilder::new().native().build();
        let workflow = suite
            .publish("creator", simple_workflow("fuzz", 1_000))
            .unwrap();
        suite.request("caller", workflow, 1_000, "input").unwrap();
        let senders: Vec<String> = ACCOUNTS
            .iter()
            .map(|s| s.to_string())
            .chain((0..suite.validators).map(|i| format!("validator-{i}")))
            .chain(["stranger".to_string()])
            .collect();
        let contracts = [
            suite.registry.clone(),
            suite.staking.clone(),
            suite.payout.clone(),
            suite.log.clone(),
            suite.governance.clone(),
        ];
        let tracked = senders
            .iter()
            .map(|s| suite.addr(s))
            .chain(contracts.iter().cloned())
            .collect();
        let storage = suite
            .app
            .storage()
            .range(None, None, Order::Ascending)
            .collect();
        let block = suite.app.block_info();
        World {
            suite,
            storage,
            block,
            senders,
            contracts,
            tracked,
        }
    }

    fn reset(&mut self) {
        let storage = self.suite.app.storage_mut();
        *storage = MockStorage::new();
        for (k, v) in &self.storage {
            storage.set(k, v);
        }
        self.suite.app.set_block(self.block.clone());
    }
}

thread_local! {
    static WORLD: RefCell<World> = RefCell::new(World::new());
}

fuzz_target!(|data: &[u8]| {
    let messages: Vec<&[u8]> = data.split(|&b| b == 0xFF).take(MAX_MESSAGES).collect();
    if messages.iter().all(|m| m.len() < 4) {
        return;
    }
    WORLD.with_borrow_mut(|w| {
        w.reset();
        run(w, &messages)
    });
});

fn run(w: &mut World, messages: &[&[u8]]) {
    let World {
        suite,
        senders,
        contracts,
        tracked,
        ..
    } = w;
    for m in messages {
        let [c, s, f, json @ ..] = *m else {
            continue;
        };
        let contract = contracts[*c as usize % contracts.len()].clone();
        let sender = suite.addr(&senders[*s as usize % senders.len()]);
        let funds: Vec<Coin> = match f % 4 {
            0 => vec![],
            1 => coins(1, DENOM),
            2 => coins(1_000_000_000, DENOM),
            // More than anyone holds: the bank refuses it before the contract runs.
            _ => coins(FUNDS * 10, DENOM),
        };
        let before = balances(suite, tracked);
        let supply = suite.supply();
        let result = suite.app.execute(
            sender,
            WasmMsg::Execute {
                contract_addr: contract.to_string(),
                msg: Binary::from(json.to_vec()),
                funds,
            }
            .into(),
        );
        assert!(suite.supply() <= supply, "$HAI created");
        if let Err(e) = result {
            assert!(!e.to_string().is_empty());
            assert_eq!(
                balances(suite, tracked),
                before,
                "a refused message moved money: {e}"
            );
        }
        suite.advance(7);
    }
}

fn balances(suite: &Suite, who: &[Addr]) -> Vec<u128> {
    who.iter().map(|a| suite.balance(a)).collect()
}
