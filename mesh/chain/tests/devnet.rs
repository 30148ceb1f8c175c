//! The chain client against the devnet over a real socket: cw20-base and the registry stored,
//! instantiated, executed and queried; the wasm and tx queries a client relies on; snapshots.
//! Needs `make wasm`.

mod common;

use common::{artifact, wallet, Devnet, FEE_DENOM, START_BALANCE};
use cosmrs::proto::cosmos::tx::v1beta1::{
    service_client::ServiceClient as TxClient, GetTxsEventRequest,
};
use cosmrs::proto::cosmwasm::wasm::v1::{
    query_client::QueryClient as WasmClient, QueryCodeRequest, QueryContractInfoRequest,
    QueryContractsByCodeRequest,
};
use cosmwasm_std::Uint128;
use havn_chain::{ChainConfig, ChainError, Client};

async fn cw20(
    devnet: &Devnet,
    owner: &havn_chain::Wallet,
    initial: &[(&str, u128)],
) -> (u64, String) {
    let c = &devnet.client;
    let code = c.store_code(owner, artifact("hai_token")).await.unwrap();
    let token = c
        .instantiate(
            owner,
            code,
            &cw20_base_msg(initial),
            "hai",
            Some(owner.address().as_ref()),
        )
        .await
        .unwrap();
    (code, token)
}

fn cw20_base_msg(initial: &[(&str, u128)]) -> serde_json::Value {
    serde_json::json!({
        "name": "Havn AI", "symbol": "HAI", "decimals": 6,
        "initial_balances": initial.iter().map(|(a, n)| serde_json::json!({"address": a, "amount": n.to_string()})).collect::<Vec<_>>(),
        "mint": null, "marketing": null
    })
}

async fn cw20_balance(devnet: &Devnet, token: &str, who: &str) -> u128 {
    let b: cw20::BalanceResponse = devnet
        .client
        .smart(
            token,
            &cw20::Cw20QueryMsg::Balance {
                address: who.into(),
            },
        )
        .await
        .unwrap();
    b.balance.u128()
}

#[tokio::test(flavor = "multi_thread")]
async fn cw20_and_the_registry_run_over_grpc() {
    let devnet = Devnet::start(&["alice", "bob"], |_| {}).await;
    let c = &devnet.client;
    assert_eq!(c.chain_id(), "havn-test-1");
    let (alice, bob) = (wallet("alice"), wallet("bob"));
    let (a, b) = (alice.address().to_string(), bob.address().to_string());

    let (code, token) = cw20(&devnet, &alice, &[(&a, 1_000_000)]).await;
    let transfer = c
        .execute(
            &alice,
            &token,
            &cw20::Cw20ExecuteMsg::Transfer {
                recipient: b.clone(),
                amount: Uint128::new(250),
            },
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cw20_balance(&devnet, &token, &a).await, 999_750);
    assert_eq!(cw20_balance(&devnet, &token, &b).await, 250);
    assert_eq!(transfer.attribute("wasm", "action"), Some("transfer"));
    // Plausible SDK gas for a cw20 transfer (docs/devnet.md: ~80–130k on wasmd).
    println!(
        "cw20 transfer: gas used {} (wanted {})",
        transfer.gas_used, transfer.gas_wanted
    );
    assert!(
        (70_000..200_000).contains(&transfer.gas_used),
        "{}",
        transfer.gas_used
    );
    assert!(transfer.gas_wanted >= transfer.gas_used);

    // Three txs so far: the sequence moved with each.
    let (number, sequence) = c.account(&a).await.unwrap();
    assert_eq!(sequence, 3);
    assert_eq!(number, 0);

    // The wasm queries.
    let mut wasm = WasmClient::connect(devnet.grpc.clone()).await.unwrap();
    let info = wasm
        .contract_info(QueryContractInfoRequest {
            address: token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .contract_info
        .unwrap();
    assert_eq!(
        (
            info.code_id,
            info.creator.as_str(),
            info.admin.as_str(),
            info.label.as_str()
        ),
        (code, a.as_str(), a.as_str(), "hai")
    );
    let stored = wasm
        .code(QueryCodeRequest { code_id: code })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.data, artifact("hai_token"));
    use sha2::Digest;
    assert_eq!(
        stored.code_info.unwrap().data_hash,
        sha2::Sha256::digest(artifact("hai_token")).to_vec()
    );
    let by_code = wasm
        .contracts_by_code(QueryContractsByCodeRequest {
            code_id: code,
            pagination: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_code.contracts, vec![token.clone()]);
    assert!(wasm.code(QueryCodeRequest { code_id: 99 }).await.is_err());

    // Txs by event.
    #[allow(deprecated)]
    let found = TxClient::connect(devnet.grpc.clone())
        .await
        .unwrap()
        .get_txs_event(GetTxsEventRequest {
            query: format!("wasm._contract_address='{token}' AND wasm.action='transfer'"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.total, 1);
    assert_eq!(found.tx_responses[0].txhash, transfer.hash);

    // The registry: publish, query, and a contract error with wasmd's code.
    let registry_code = c
        .store_code(&alice, artifact("workflow_registry"))
        .await
        .unwrap();
    let registry = c
        .instantiate(
            &alice,
            registry_code,
            &havn_workflow_registry::msg::InstantiateMsg {
                admin: a.clone(),
                asset: havn_types::AssetUnchecked::Cw20(token.clone()),
                treasury: a.clone(),
                params: None,
            },
            "registry",
            None,
        )
        .await
        .unwrap();
    let publish = |hash: &str| {
        havn_workflow_registry::msg::ExecuteMsg::Publish(havn_workflow_registry::msg::PublishMsg {
            name: "text-to-image".into(),
            content_hash: hash.into(),
            price: Uint128::new(1_000),
            split: None,
            dependencies: vec![],
            parent: None,
            artifacts: vec![],
            metadata: None,
            fingerprint: Some(havn_types::fingerprint::placeholder(hash)),
        })
    };
    let published = c
        .execute(&bob, &registry, &publish(&"ab".repeat(32)), &[])
        .await
        .unwrap();
    assert_eq!(published.attribute("wasm", "workflow_id"), Some("1"));
    let wf: serde_json::Value = c
        .smart(
            &registry,
            &havn_workflow_registry::msg::QueryMsg::Workflow { id: 1 },
        )
        .await
        .unwrap();
    assert_eq!(wf["name"], "text-to-image");
    assert_eq!(wf["creator"], b.as_str());
    let bad = c
        .execute(&bob, &registry, &publish("not-a-hash"), &[])
        .await
        .unwrap_err();
    match &bad {
        ChainError::Tx {
            code,
            codespace,
            log,
            ..
        } => {
            assert_eq!((*code, codespace.as_str()), (5, "simulate"), "{bad}");
            assert!(log.contains("execute wasm contract failed"), "{log}");
        }
        other => panic!("{other}"),
    }

    // A registered LoRA binds later versions through the real wasm: a version whose manifest
    // uses it without crediting it is refused; one crediting it records its artifact set, and the
    // daemons' check of a manifest against that record passes for that set only.
    use havn_workflow_registry::msg::{DependencyMsg, DependencyTarget, ExecuteMsg, PublishMsg};
    use havn_workflow_registry::state::ArtifactKind;
    let (lora, module) = ([7u8; 32], [8u8; 32]);
    c.execute(
        &alice,
        &registry,
        &ExecuteMsg::RegisterAsset {
            kind: ArtifactKind::Lora,
            content_hash: hex::encode(lora),
            payee: None,
        },
        &[],
    )
    .await
    .unwrap();
    let using = |hash: &str, dependencies| {
        ExecuteMsg::Publish(PublishMsg {
            name: "styled".into(),
            content_hash: hash.into(),
            price: Uint128::new(1_000),
            split: None,
            dependencies,
            parent: None,
            artifacts: vec![hex::encode(module), hex::encode(lora)],
            metadata: None,
            fingerprint: Some(havn_types::fingerprint::placeholder(hash)),
        })
    };
    let skipped = c
        .execute(&bob, &registry, &using(&"cd".repeat(32), vec![]), &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        skipped.contains(&format!("uses registered lora {}", hex::encode(lora))),
        "{skipped}"
    );
    let credit = DependencyMsg {
        target: DependencyTarget::Artifact {
            kind: ArtifactKind::Lora,
            content_hash: hex::encode(lora),
            payee: a.clone(),
        },
        weight_bps: 10_000,
    };
    c.execute(&bob, &registry, &using(&"cd".repeat(32), vec![credit]), &[])
        .await
        .unwrap();
    let terms = havn_chain::registry::RecordedArtifacts::new(c.clone(), registry.clone());
    let (patience, never) = (
        std::time::Duration::ZERO,
        std::sync::atomic::AtomicBool::new(false),
    );
    let version = [0xcd; 32];
    let recorded =
        havn_types::fingerprint::decode(&havn_types::fingerprint::placeholder(&"cd".repeat(32)))
            .unwrap();
    terms
        .check(&version, &[lora, module], &recorded, patience, &never)
        .await
        .unwrap();
    let e = terms
        .check(&version, &[module], &recorded, patience, &never)
        .await
        .unwrap_err();
    assert!(
        e.contains(&format!(
            "recorded but not used [\"{}\"]",
            hex::encode(lora)
        )),
        "{e}"
    );
    // A manifest whose fingerprint is not the recorded one: refused.
    let other =
        havn_types::fingerprint::decode(&havn_types::fingerprint::placeholder("other")).unwrap();
    let e = terms
        .check(&version, &[lora, module], &other, patience, &never)
        .await
        .unwrap_err();
    assert!(
        e.contains(
            "the manifest's fingerprint is not the one its version recorded (they agree on 0 bps)"
        ),
        "{e}"
    );
    let e = terms
        .check(&[0xee; 32], &[], &recorded, patience, &never)
        .await
        .unwrap_err();
    assert!(
        e.contains("cannot read the version's registry record"),
        "{e}"
    );

    // Bank: a new account appears with the next number.
    let carol = wallet("carol").address().to_string();
    assert!(matches!(
        c.account(&carol).await,
        Err(ChainError::NoAccount(_))
    ));
    c.bank_send(&alice, &carol, 5_000, FEE_DENOM).await.unwrap();
    assert_eq!(c.balance(&carol, FEE_DENOM).await.unwrap(), 5_000);
    assert_eq!(
        c.account(&carol).await.unwrap(),
        (4, 0),
        "genesis: 0, 1; contracts: 2, 3"
    );
    assert_eq!(
        c.balance(&a, FEE_DENOM).await.unwrap(),
        START_BALANCE - 5_000,
        "gas price 0: no fees"
    );
    devnet.stop().await;
}

/// Forty wasm txs of one account sent at once over forty connections (as a validator's
/// challenges, seed commitments and heartbeats are, from two clients) all land, each once, with
/// consecutive sequences: the client hands out sequences past the ones still in the mempool.
/// (The burst that lost most challenges under load is shown on the network, in
/// `a_node_faking_200_jobs_on_the_devnet_…`; in this process the re-signs kept up.)
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_txs_of_one_account_all_land() {
    const TXS: u128 = 40;
    let devnet = Devnet::start(&["alice", "bob"], |_| {}).await;
    let mut clients = vec![];
    for _ in 0..TXS {
        clients.push(
            Client::connect(ChainConfig::devnet(devnet.grpc.clone()))
                .await
                .unwrap(),
        );
    }
    let (alice, bob) = (wallet("alice"), wallet("bob").address().to_string());
    let a = alice.address().to_string();
    let (_, token) = cw20(&devnet, &alice, &[(&a, 1_000_000)]).await;
    let (_, first) = devnet.client.account(&a).await.unwrap();
    let sends = clients.into_iter().zip(1..).map(|(client, i)| {
        let (token, bob) = (token.clone(), bob.clone());
        tokio::spawn(async move {
            let transfer = cw20::Cw20ExecuteMsg::Transfer {
                recipient: bob,
                amount: Uint128::new(i),
            };
            client
                .execute(&wallet("alice"), &token, &transfer, &[])
                .await
        })
    });
    let mut hashes = std::collections::BTreeSet::new();
    for send in sends {
        hashes.insert(send.await.unwrap().unwrap().hash);
    }
    assert_eq!(hashes.len() as u128, TXS);
    assert_eq!(
        cw20_balance(&devnet, &token, &bob).await,
        TXS * (TXS + 1) / 2
    );
    let (_, sequence) = devnet.client.account(&a).await.unwrap();
    assert_eq!(u128::from(sequence - first), TXS);
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_devnet_resumes_from_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("state.json");
    let alice = wallet("alice");
    let a = alice.address().to_string();
    let devnet = Devnet::start_with(&["alice"], |_| {}, Some(snapshot.clone())).await;
    let (_, token) = cw20(&devnet, &alice, &[(&a, 700)]).await;
    let height = devnet.client.latest_height().await.unwrap();
    devnet.stop().await;
    assert!(snapshot.exists());

    let devnet = Devnet::start_with(&["alice"], |_| {}, Some(snapshot)).await;
    assert!(devnet.client.latest_height().await.unwrap() >= height);
    assert_eq!(cw20_balance(&devnet, &token, &a).await, 700);
    assert_eq!(devnet.client.account(&a).await.unwrap().1, 2);
    // And it goes on: the next tx uses the resumed sequence.
    devnet
        .client
        .execute(
            &alice,
            &token,
            &cw20::Cw20ExecuteMsg::Burn {
                amount: Uint128::new(100),
            },
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cw20_balance(&devnet, &token, &a).await, 600);
    devnet.stop().await;
}
