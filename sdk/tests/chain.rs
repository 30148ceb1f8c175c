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
    assert_eq!(wf["metadata"]["tags"], serde_json::json!([]));

    // One file says it all: the example workflow file gives the manifest and every term (split,
    // parent, dependencies, metadata); a flag overrides the file's price.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/echo-remix.workflow.json");
    let p = json(&havn(
        &h,
        &[
            "publish",
            example.to_str().unwrap(),
            "--price",
            "3000",
            "--from",
            "creator",
            "--output",
            "json",
        ],
    ));
    assert_eq!(p["workflow_id"], 2);
    let wf = json(&havn(&h, &["workflow", "show", "2", "--output", "json"]));
    assert_eq!(
        (wf["name"].as_str(), wf["price"].as_str()),
        (Some("echo-remix"), Some("3000"))
    );
    assert_eq!(
        (wf["parent"].as_u64(), wf["split"]["upstream"].as_u64()),
        (Some(1), Some(3000))
    );
    assert_eq!(wf["metadata"]["license"], "Apache-2.0");
    // Workflow 1 is its nearest neighbour, under the threshold: so small a manifest has few
    // features, and one changed parameter is a third of them.
    let similar = json(&havn(&h, &["workflow", "similar", "2", "--output", "json"]));
    assert_eq!(similar["matches"][0]["id"], 1, "{similar}");
    assert_eq!(similar["matches"][0]["over_threshold"], false, "{similar}");
    // Workflow 2 under another name (other bytes, the same fingerprint), not declaring it:
    // refused in one line that names it.
    let copy = h.join("copy.json");
    std::fs::write(
        &copy,
        br#"{"name": "echo-copy", "pipeline": {"kind": "builtin:digest", "rounds": 2}}"#,
    )
    .unwrap();
    let e = one_line_error(&havn(
        &h,
        &[
            "publish",
            copy.to_str().unwrap(),
            "--price",
            "1",
            "--from",
            "creator",
        ],
    ));
    assert!(
        e.contains("10000 bps similar to workflow 2 version 1"),
        "{e}"
    );
    assert_eq!(
        wf["metadata"]["tags"],
        serde_json::json!(["digest", "example"])
    );
    // Its creator replaces the metadata; anyone else is refused in one line, nothing changed.
    let meta = h.join("metadata.json");
    std::fs::write(&meta, br#"{"description": "renamed", "tags": ["digest"]}"#).unwrap();
    let e = one_line_error(&havn(
        &h,
        &[
            "workflow",
            "set-metadata",
            "2",
            meta.to_str().unwrap(),
            "--from",
            "val",
        ],
    ));
    assert!(e.contains("only the creator of workflow 2"), "{e}");
    json(&havn(
        &h,
        &[
            "workflow",
            "set-metadata",
            "2",
            meta.to_str().unwrap(),
            "--from",
            "creator",
            "--output",
            "json",
        ],
    ));
    let wf = json(&havn(&h, &["workflow", "show", "2", "--output", "json"]));
    assert_eq!(wf["metadata"]["description"], "renamed");
    assert_eq!(wf["metadata"]["license"], serde_json::Value::Null);
    // A registered asset the manifest uses is declared for the creator: `val` registers one of
    // the example workflow's modules (by its file), and publishing the manifest with no
    // dependencies of its own credits it, as the registry requires.
    let example = &havn_workflow::examples::load(&havn_workflow::examples::dir())
        .expect("the example workflows (make models)")[0];
    let manifest_of = havn_workflow::check(&example.manifest).unwrap();
    let module = havn_workflow::artifacts(&manifest_of).unwrap()[0].clone();
    let module_file = havn_workflow::examples::dir()
        .join("artifacts")
        .join(&module);
    let r = json(&havn(
        &h,
        &[
            "asset",
            "register",
            module_file.to_str().unwrap(),
            "--kind",
            "model",
            "--from",
            "val",
            "--output",
            "json",
        ],
    ));
    assert!(r["tx"].is_string(), "{r}");
    let shown = json(&havn(&h, &["asset", "show", &module, "--output", "json"]));
    assert_eq!(shown["payee"], lora_payee.as_str());
    let e = one_line_error(&havn(
        &h,
        &[
            "asset", "register", &module, "--kind", "lora", "--from", "creator",
        ],
    ));
    assert!(e.contains("is already registered by"), "{e}");
    let example_file = h.join("example.json");
    std::fs::write(&example_file, &example.manifest).unwrap();
    let p = json(&havn(
        &h,
        &[
            "publish",
            example_file.to_str().unwrap(),
            "--price",
            "10",
            "--from",
            "creator",
            "--output",
            "json",
        ],
    ));
    assert!(
        p["royalty_stack"].to_string().contains(&lora_payee),
        "the module's owner is paid: {}",
        p["royalty_stack"]
    );
    let versions: serde_json::Value = client
        .smart(
            &d.registry,
            &havn_workflow_registry::msg::QueryMsg::Versions {
                id: p["workflow_id"].as_u64().unwrap(),
                start_after: None,
                limit: None,
            },
        )
        .await
        .unwrap();
    let recorded = versions["versions"][0]["artifacts"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        recorded,
        havn_workflow::artifacts(&manifest_of).unwrap().len()
    );

    // Out of bounds: refused before anything is sent.
    std::fs::write(&meta, br#"{"tags": ["Not A Tag"]}"#).unwrap();
    let e = one_line_error(&havn(
        &h,
        &[
            "workflow",
            "set-metadata",
            "2",
            meta.to_str().unwrap(),
            "--from",
            "creator",
        ],
    ));
    assert!(e.contains("metadata: tag \"Not A Tag\""), "{e}");

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
    let e = one_line_error(&havn(&h, &["workflow", "show", "4"]));
    assert!(e.contains("SmartContractState"), "{e}");

    // A copy dispute: `val` claims workflow 3 (the example) copies workflow 1, bonding
    // governance's 100 HAI; the accused creator answers with an equal bond. Claims the registry
    // refuses, and a claimant who cannot pay, get one line and move nothing.
    let bond = 100_000_000u128;
    let hai = |w: &Wallet| {
        let (d, client, who) = (d.clone(), client.clone(), w.address().to_string());
        async move { d.hai_balance(&client, &who).await.unwrap() }
    };
    let (val_before, creator_before) = (hai(&val).await, hai(&creator).await);
    json(&havn(&h, &["keys", "add", "broke", "--output", "json"]));
    for (args, why) in [
        (
            &["open", "2", "1", "--from", "val"][..],
            "workflow 2 already declares workflow 1",
        ),
        (
            &["open", "1", "3", "--from", "val"],
            "workflow 3 was published after workflow 1",
        ),
        (
            &["open", "3", "3", "--from", "val"],
            "workflow 3 cannot copy itself",
        ),
        (
            &["open", "3", "1", "--from", "broke"],
            "has 0 uhai but opening a dispute bonds 100000000 uhai: nothing was sent",
        ),
        (
            &["defend", "1", "--from", "creator"],
            "dispute 1 does not exist",
        ),
    ] {
        let mut all = vec!["dispute"];
        all.extend_from_slice(args);
        let e = one_line_error(&havn(&h, &all));
        assert!(e.contains(why), "{args:?}: {e}");
    }
    assert_eq!(
        (hai(&val).await, hai(&creator).await),
        (val_before, creator_before)
    );
    let opened = json(&havn(
        &h,
        &[
            "dispute",
            "open",
            "3",
            "1",
            "--note",
            "same digest",
            "--from",
            "val",
            "--output",
            "json",
        ],
    ));
    assert!(opened["tx"].is_string(), "{opened}");
    assert_eq!(hai(&val).await, val_before - bond);
    let e = one_line_error(&havn(&h, &["dispute", "defend", "1", "--from", "val"]));
    assert!(e.contains("only the creator of workflow 3"), "{e}");
    assert_eq!(hai(&val).await, val_before - bond);
    json(&havn(
        &h,
        &[
            "dispute", "defend", "1", "--from", "creator", "--output", "json",
        ],
    ));
    assert_eq!(hai(&creator).await, creator_before - bond);
    let shown = json(&havn(&h, &["dispute", "show", "1", "--output", "json"]));
    assert_eq!(
        (&shown["copy"], &shown["original"], &shown["status"]),
        (
            &serde_json::json!(3),
            &serde_json::json!(1),
            &serde_json::json!("open")
        )
    );
    assert_eq!(shown["claimant"], val.address().to_string());
    assert_eq!(shown["defender"], creator.address().to_string());
    assert_eq!(
        (shown["bond"].as_str(), shown["defender_bond"].as_str()),
        (Some("100000000"), Some("100000000"))
    );
    assert_eq!(shown["note"], "same digest");
    let listed = json(&havn(&h, &["dispute", "list", "--output", "json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

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
