//! The `havn-node` binary: help, key creation, the example config, clear errors.

use std::process::Command;

fn node() -> Command {
    Command::new(env!("CARGO_BIN_EXE_havn-node"))
}

/// `havn-node --init-key path`; whether it succeeded.
fn init_key(path: &std::path::Path) -> bool {
    node()
        .arg("--init-key")
        .arg(path)
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn help_and_init_key() {
    let out = node().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("--init-key"));
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("node.key");
    let out = node().arg("--init-key").arg(&key).output().unwrap();
    assert!(out.status.success());
    let pubkey = String::from_utf8(out.stdout).unwrap();
    assert_eq!(pubkey.trim().len(), 66, "33-byte compressed key in hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Never overwrites an existing key.
    assert!(!init_key(&key));
}

#[test]
fn the_example_config_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/node.example.toml");
    let cfg: havn_node::NodeConfig =
        havn_mesh_common::config::load(Some(std::path::Path::new(path)), "HAVN_NODE_TEST").unwrap();
    assert_eq!(cfg.slots, 4);
    let cfg: havn_node::NodeConfig = havn_mesh_common::config::parse_with_section(
        &std::fs::read_to_string(path).unwrap(),
        "chain",
    )
    .unwrap();
    let chain = cfg.chain.expect("the [chain] section");
    assert_eq!(
        (chain.staking.as_str(), chain.gas_price),
        ("wasm1...", 0.025)
    );
}

#[test]
fn a_missing_key_is_one_clear_line() {
    let out = node().env("HAVN_NODE_OPERATOR", "wasm1x").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim(),
        "havn-node: configure exactly one of key_file and mnemonic_file"
    );
}

/// Issue 16, item 10: a router url that is plaintext to a remote host stops the node at start
/// with one line naming the fix, instead of sending its jobs in the clear.
#[test]
fn plaintext_to_a_remote_router_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("node.key");
    assert!(init_key(&key));
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "routers = [\"http://router.example.net:7600\"]\noperator = \"wasm1x\"\nkey_file = \"{}\"\ncache_dir = \"{}\"\n",
            key.display(),
            dir.path().join("cache").display()
        ),
    )
    .unwrap();
    let out = node().arg("--config").arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    // One error line (after the runtime's start-up log).
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("havn-node:"))
        .collect();
    let [err] = errors[..] else {
        panic!("{stderr}")
    };
    assert!(
        err.contains("http://router.example.net:7600") && err.contains("allow_plaintext"),
        "{err}"
    );
}
