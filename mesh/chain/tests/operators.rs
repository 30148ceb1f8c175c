//! The mesh's view of staking on the devnet: the deployment hands admin and treasury to
//! governance; the operator set follows bonds and unbonds on refresh; heartbeats land when due.
//! Needs `make wasm`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{wallet, Devnet};
use cosmwasm_std::Uint128;
use havn_chain::havn::{self, DeployOptions};
use havn_chain::operators::{heartbeat_due_in, StakingOperators};
use havn_mesh_common::operators::OperatorSet;
use havn_staking::state::Role;
use k256::ecdsa::SigningKey;

const HAI: u128 = 1_000_000;

fn key(name: &str) -> SigningKey {
    SigningKey::from_slice(&havn_mesh_common::sha256(name.as_bytes())).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_set_follows_staking_and_heartbeats_land() {
    let names = ["deployer", "node", "validator"];
    let devnet = Devnet::start(&names, |_| {}).await;
    let c = &devnet.client;
    let d = havn::deploy(
        c,
        &wallet("deployer"),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts"),
        DeployOptions {
            balances: names
                .iter()
                .map(|n| (wallet(n).address().to_string(), 10_000 * HAI))
                .collect(),
            staking: havn_staking::state::Params {
                min_stake_node: Uint128::new(1_000 * HAI),
                min_stake_validator: Uint128::new(1_000 * HAI),
                downtime_window: 4,
                ..Default::default()
            },
            log: Default::default(),
            payout: Default::default(),
            governance: Default::default(),
        },
    )
    .await
    .unwrap();

    // Governance holds every contract's admin role and the treasury.
    let staking: havn_staking::msg::ConfigResponse = c
        .smart(&d.staking, &havn_staking::msg::QueryMsg::Config {})
        .await
        .unwrap();
    assert_eq!(
        (staking.admin.as_str(), staking.treasury.as_str()),
        (d.governance.as_str(), d.governance.as_str())
    );
    let payout: havn_payout::msg::ConfigResponse = c
        .smart(&d.payout, &havn_payout::msg::QueryMsg::Config {})
        .await
        .unwrap();
    assert_eq!(payout.admin.as_str(), d.governance);
    let log: havn_execution_log::msg::ConfigResponse = c
        .smart(&d.log, &havn_execution_log::msg::QueryMsg::Config {})
        .await
        .unwrap();
    assert_eq!(log.admin.as_str(), d.governance);

    // The set starts empty and follows bonds on refresh.
    let set = StakingOperators::load(c, &d.staking).await.unwrap();
    let (node, validator) = (
        wallet("node").address().to_string(),
        wallet("validator").address().to_string(),
    );
    assert!(set.get(&node).is_none() && set.validators().is_empty());
    d.bond(c, &wallet("node"), Role::Node, 1_000 * HAI, Some(&key("n")))
        .await
        .unwrap();
    d.bond(
        c,
        &wallet("validator"),
        Role::Validator,
        2_000 * HAI,
        Some(&key("v")),
    )
    .await
    .unwrap();
    assert!(set.get(&node).is_none(), "not until refreshed");
    assert_eq!(set.refresh(c, &d.staking).await.unwrap(), 2);
    let n = set.get(&node).unwrap();
    assert!(n.is_node() && !n.is_validator());
    assert_eq!(
        n.pubkey,
        key("n").verifying_key().to_encoded_point(true).as_bytes()
    );
    let v = set.validators();
    assert_eq!(
        (v.len(), v[0].address.as_str(), v[0].validator_stake),
        (1, validator.as_str(), 2_000 * HAI)
    );

    // Unbonding below the minimum takes the node out of the mesh at the next refresh.
    c.execute(
        &wallet("node"),
        &d.staking,
        &havn_staking::msg::ExecuteMsg::Unbond {
            role: Role::Node,
            amount: Uint128::new(HAI),
        },
        &[],
    )
    .await
    .unwrap();
    set.refresh(c, &d.staking).await.unwrap();
    assert!(!set.get(&node).unwrap().is_node());

    // A heartbeat is refused until half the downtime window has passed; the loop sends it then.
    let due = heartbeat_due_in(c, &wallet("validator"), &d.staking)
        .await
        .unwrap();
    assert!((1..=2).contains(&due), "due in {due} s");
    let early = c
        .execute(
            &wallet("validator"),
            &d.staking,
            &havn_staking::msg::ExecuteMsg::Heartbeat {},
            &[],
        )
        .await
        .unwrap_err();
    assert!(early.to_string().contains("heartbeat too soon"), "{early}");
    let before = last_heartbeat(c, &d.staking, &validator).await;
    let beats = tokio::spawn(havn_chain::operators::heartbeats(
        c.clone(),
        wallet("validator"),
        d.staking.clone(),
    ));
    let mut after = before;
    for _ in 0..100 {
        after = last_heartbeat(c, &d.staking, &validator).await;
        if after > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    beats.abort();
    assert!(after > before, "no heartbeat landed in 10 s");
}

async fn last_heartbeat(c: &havn_chain::Client, staking: &str, who: &str) -> u64 {
    let o: havn_staking::msg::OperatorResponse = c
        .smart(
            staking,
            &havn_staking::msg::QueryMsg::Operator {
                address: who.into(),
            },
        )
        .await
        .unwrap();
    o.last_heartbeat.seconds()
}
