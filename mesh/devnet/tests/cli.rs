//! The `havn-devnet` binary: starts from a genesis file in well under a second, serves the gRPC
//! API, stores genesis codes, saves its snapshot on SIGTERM, and turns bad input into one line and
//! exit code 2.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use cosmos_sdk_proto::cosmos::base::tendermint::v1beta1::{
    service_client::ServiceClient, GetNodeInfoRequest,
};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{query_client::QueryClient, QueryCodeRequest};

const BIN: &str = env!("CARGO_BIN_EXE_havn-devnet");

fn genesis(dir: &std::path::Path, codes: &[&str]) -> std::path::PathBuf {
    let artifacts = format!("{}/../../artifacts", env!("CARGO_MANIFEST_DIR"));
    let g = serde_json::json!({
        "chain_id": "havn-cli-1",
        "block_time_ms": 200,
        "accounts": [{"address": "havn19tp5ffjzyfkyvv4e7yvkjn7hvqdn53hnn5lph3", "coins": [{"denom": "uhavn", "amount": "1000"}]}],
        "codes": codes.iter().map(|c| serde_json::json!({"path": format!("{artifacts}/{c}.wasm")})).collect::<Vec<_>>(),
    });
    let path = dir.join("genesis.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&g).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn starts_fast_serves_and_saves_its_snapshot_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis(dir.path(), &["hai_token"]);
    let snapshot = dir.path().join("state.json");
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args([
            "--genesis",
            genesis.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--snapshot",
            snapshot.to_str().unwrap(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let startup = started.elapsed();
    let addr = line
        .trim()
        .strip_prefix("havn-devnet listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    println!("havn-devnet start-up (process start to listening, one 300 KB genesis code compiled): {startup:?}");

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let info = ServiceClient::new(channel.clone())
        .get_node_info(GetNodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.default_node_info.unwrap().network, "havn-cli-1");
    let code = QueryClient::new(channel)
        .code(QueryCodeRequest { code_id: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        code.data.len(),
        std::fs::metadata(format!(
            "{}/../../artifacts/hai_token.wasm",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .len() as usize
    );

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    assert_eq!(saved["genesis"]["chain_id"], "havn-cli-1");
    assert_eq!(saved["codes"].as_array().unwrap().len(), 1);
    assert!(startup.as_secs_f64() < 5.0, "start-up took {startup:?}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--genesis".into(), "/nonexistent/genesis.json".into()],
            "cannot read genesis",
        ),
        (
            {
                let p = dir.path().join("bad.json");
                std::fs::write(&p, r#"{"chain_id": "x", "acounts": []}"#).unwrap();
                vec!["--genesis".into(), p.display().to_string()]
            },
            "unknown field `acounts`",
        ),
        (
            {
                let p = dir.path().join("addr.json");
                std::fs::write(
                    &p,
                    r#"{"chain_id": "x", "accounts": [{"address": "cosmos1xyz", "coins": []}]}"#,
                )
                .unwrap();
                vec!["--genesis".into(), p.display().to_string()]
            },
            "genesis account cosmos1xyz",
        ),
        (
            {
                let p = dir.path().join("code.json");
                std::fs::write(&p, r#"{"chain_id": "x", "accounts": [{"address": "havn19tp5ffjzyfkyvv4e7yvkjn7hvqdn53hnn5lph3"}], "codes": [{"path": "code.json"}]}"#).unwrap();
                vec!["--genesis".into(), p.display().to_string()]
            },
            "does not pass the VM's checks",
        ),
    ];
    for (args, expected) in cases {
        let out = Command::new(BIN)
            .args(&args)
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("havn-devnet: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
}
