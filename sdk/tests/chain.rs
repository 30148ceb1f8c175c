//! The `havn` CLI against a devnet with Havn deployed: publish (checked manifest, royalty stack),
//! stake, queries; bad input is one line and moves nothing. Needs `make wasm`.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{json, one_line_error};

use havn_chain::havn::{self, DeployOptions};
use havn_chain::{ChainConfig, Client, Wallet};
use havn_devnet::{server, spawn_chain, Chain, ChainOptions, Genesis, GenesisAccount};

/// `havn args…` with no stdin and the caller's environment.
fn havn(home: &Path, args: &[&str]) -> Output {
    common::havn(home, args, None, &[])
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_stake_and_query_through_the_cli() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();
    let mnemonic = |_: &str| havn_sdk::new_mnemonic();
    let (deployer_m, creator_m, val_m, op_m) =
        (mnemonic("d"), mnemonic("c"), mnemonic("v"), mnemonic("o"));
    let deployer = Wallet::from_mnemonic(&deployer_m, "havn").unwrap();
    let creator = Wallet::from_mnemonic(&creator_m, "havn").unwrap();
    let val = Wallet::from_mnemonic(&val_m, "havn").unwrap();

    let genesis = Genesis {
        chain_id: "havn-cli-test".into(),
        bech32_prefix: "havn".into(),
        fee_denom: "uhavn".into(),
        min_gas_price: "0".into(),
        block_time_ms: 100,
        genesis_time: None,
        accounts: [&deployer, &creator, &val]
            .iter()
            .map(|w| GenesisAccount {
                address: w.address().to_string(),
                coins: vec![cosmwasm_std::coin(1_000_000_000_000, "uhavn")],
            })
            .collect(),
        codes: vec![],
    };
    let (handle, _thread) = spawn_chain(
        move || Chain::new(genesis),
        ChainOptions {
            block_time: Duration::from_millis(100),
            snapshot: None,
        },
    )
    .unwrap();
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let grpc = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(handle, listener, std::future::pending()));
    let client = Client::connect(ChainConfig::devnet(grpc.clone()))
        .await
        .unwrap();
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
    let d = havn::deploy(
        &client,
        &deployer,
        &artifacts,
        DeployOptions {
            balances: vec![
                (creator.address().to_string(), 1_000_000_000),
                (val.address().to_string(), 5_000_000_000),
            ],
            staking: Default::default(),
            log: Default::default(),
            payout: Default::default(),
            governance: Default::default(),
        },
    )
    .await
    .unwrap();

    // The CLI's config and keys.
    std::fs::create_dir_all(h.join("havn")).unwrap();
    std::fs::write(
        h.join("havn/config.toml"),
        format!(
            "grpc = \"{grpc}\"\n[contracts]\ntoken = \"{}\"\nregistry = \"{}\"\nstaking = \"{}\"\npayout = \"{}\"\nlog = \"{}\"\n",
            d.token, d.registry, d.staking, d.payout, d.log
        ),
    )
    .unwrap();
    let keys = havn_sdk::KeyStore::new(&h.join("havn/keys"), "havn");
    keys.add("creator", &creator_m).unwrap();
    keys.add("val", &val_m).unwrap();
    let op_key = h.join("operator.mnemonic");
    havn_chain::write_key_file(&op_key, &op_m).unwrap();

    // Publish a checked manifest with a LoRA upstream; the chain's royalty stack comes back.
    let manifest = h.join("workflow.json");
    std::fs::write(
        &manifest,
        br#"{"name": "echo", "pipeline": {"kind": "builtin:digest"}}"#,
    )
    .unwrap();
    let lora_payee = val.address().to_string();
    let dep = format!("lora:{}:{lora_payee}:10000", "cd".repeat(32));
    let p = json(&havn(
        &h,
        &[
            "publish",
            manifest.to_str().unwrap(),
            "--price",
            "1000",
            "--from",
            "creator",
            "--depends-on",
            &dep,
            "--output",
            "json",
        ],
    ));
    assert_eq!(p["workflow_id"], 1);
    assert_eq!(p["content_hash"].as_str().unwrap().len(), 64);
    assert!(
        p["royalty_stack"].to_string().contains(&lora_payee),
        "{}",
        p["royalty_stack"]
    );
    let wf = json(&havn(&h, &["workflow", "show", "1", "--output", "json"]));
    assert_eq!(wf["name"], "echo");

    // A manifest no node could run, an unknown workflow: one line, nothing published.
    std::fs::write(
        &manifest,
        br#"{"name": "x", "pipeline": {"kind": "torch"}}"#,
    )
    .unwrap();
    let e = one_line_error(&havn(
        &h,
        &[
            "publish",
            manifest.to_str().unwrap(),
            "--price",
            "1",
            "--from",
            "creator",
        ],
    ));
    assert!(e.contains("torch pipeline"), "{e}");
    let e = one_line_error(&havn(&h, &["workflow", "show", "2"]));
    assert!(e.contains("SmartContractState"), "{e}");

    // Stake: the first bond registers the operator key.
    let b = json(&havn(
        &h,
        &[
            "stake",
            "bond",
            "--role",
            "validator",
            "--amount",
            "2000000000",
            "--from",
            "val",
            "--operator-key",
            op_key.to_str().unwrap(),
            "--output",
            "json",
        ],
    ));
    assert!(b["gas_used"].as_u64().unwrap() > 0);
    let s = json(&havn(&h, &["stake", "status", "val", "--output", "json"]));
    assert_eq!(s["validator_stake"], "2000000000");
    // More than the balance: refused, nothing moves.
    let e = one_line_error(&havn(
        &h,
        &[
            "stake",
            "bond",
            "--role",
            "validator",
            "--amount",
            "9000000000",
            "--from",
            "val",
        ],
    ));
    assert!(e.contains("failed"), "{e}");
    let s = json(&havn(&h, &["stake", "status", "val", "--output", "json"]));
    assert_eq!(s["validator_stake"], "2000000000");

    let earned = json(&havn(&h, &["earnings", "creator", "--output", "json"]));
    assert_eq!(earned["earned"], "0");
}
