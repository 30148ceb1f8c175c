//! An independent client against both chains: cosmpy (Python, gRPC; not Havn's code) runs an app
//! developer's ordinary flow (tests/cosmpy/flow.py): bank send, wasm store after a `Codes` lookup
//! by checksum, gzipped as cosmpy sends it, instantiate, execute, smart query, and the block gas
//! limit from `cosmos.consensus.v1.Query/Params` before each send. Both chains run at the shipped
//! min gas price (0.025uhavn). Needs `make wasm havnd py`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{secret, wallet, Devnet, Havnd};
use serde_json::Value;

const SHIPPED_MIN_GAS_PRICE: &str = "0.025";

fn cosmpy_python() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let venv = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("cosmpy");
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make py` (scripts/cosmpy-setup.sh)",
        python.display()
    );
    python
}

/// Runs flow.py against `grpc` as the funded `app` account; its JSON report.
fn cosmpy_flow(grpc: &str, chain_id: &str) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(cosmpy_python())
        .arg(dir.join("tests/cosmpy/flow.py"))
        .env("GRPC", grpc)
        .env("CHAIN_ID", chain_id)
        .env(
            "SECRET",
            cosmwasm_std::HexBinary::from(secret("app")).to_hex(),
        )
        .env("WASM", dir.join("../../artifacts/hai_token.wasm"))
        .env("MIN_GAS_PRICE", SHIPPED_MIN_GAS_PRICE)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cosmpy on {grpc}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check(report: &Value, chain: &str) {
    let n = |k: &str| {
        report[k]
            .as_i64()
            .unwrap_or_else(|| panic!("{chain}: {k} in {report}"))
    };
    assert_eq!(
        report["sender"],
        wallet("app").address().to_string(),
        "{chain}"
    );
    assert_eq!(n("recipient_bank"), 12_345, "{chain}");
    // The sender paid the amount and two fees' worth at most: every tx's fee at 0.025/gas.
    let spent = n("sender_spent");
    assert!(spent > 12_345, "{chain}: no fee was paid: {report}");
    assert!(
        report["code_id_before_store"].is_null(),
        "{chain}: {report}"
    );
    assert!(n("code_id") >= 1, "{chain}");
    assert_eq!(
        n("code_id_found_again"),
        n("code_id"),
        "{chain}: Codes lookup"
    );
    assert!(
        report["contract"].as_str().unwrap().starts_with("havn1"),
        "{chain}"
    );
    assert_eq!(report["recipient_cw20"]["balance"], "250", "{chain}");
    assert_eq!(report["sender_cw20"]["balance"], "750", "{chain}");
    assert_eq!(
        report["transfer_events"]["action"], "transfer",
        "{chain}: {report}"
    );
    assert_eq!(
        report["transfer_events"]["amount"], "250",
        "{chain}: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cosmpy_sends_stores_gzipped_instantiates_executes_and_queries_on_both_chains() {
    let devnet = Devnet::start(&["app"], |g| {
        g.min_gas_price = SHIPPED_MIN_GAS_PRICE.into();
    })
    .await;
    let (grpc, chain_id) = (devnet.grpc.clone(), devnet.chain_id.clone());
    let on_devnet = tokio::task::spawn_blocking(move || cosmpy_flow(&grpc, &chain_id))
        .await
        .unwrap();
    devnet.stop().await;
    let havnd = Havnd::start_priced(&["app"], 200, SHIPPED_MIN_GAS_PRICE).await;
    let grpc = havnd.grpc.clone();
    let on_havnd = tokio::task::spawn_blocking(move || cosmpy_flow(&grpc, "havn-test-1"))
        .await
        .unwrap();
    drop(havnd);

    check(&on_devnet, "devnet");
    check(&on_havnd, "havnd");
    // The devnet reports havnd's block limits, the same event attributes (`msg_index` too) and
    // the gas of the same send within the fidelity table's 10 %.
    for key in ["block_max_gas", "block_max_bytes"] {
        assert_eq!(on_devnet[key], on_havnd[key], "{key}");
    }
    let keys = |r: &Value| {
        let events = r["transfer_events"].as_object().unwrap();
        events.keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(keys(&on_devnet), keys(&on_havnd));
    let ratio =
        on_devnet["send_gas_used"].as_f64().unwrap() / on_havnd["send_gas_used"].as_f64().unwrap();
    assert!(
        (0.9..=1.1).contains(&ratio),
        "send gas: devnet / havnd = {ratio:.3}"
    );
}
