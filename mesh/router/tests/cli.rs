//! The `havn-router` binary as an operator meets it: help, the example config, clear errors.

use std::process::Command;

fn router() -> Command {
    Command::new(env!("CARGO_BIN_EXE_havn-router"))
}

#[test]
fn help_describes_the_flags() {
    let out = router().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("--config") && text.contains("--add-artifact"),
        "{text}"
    );
}

#[test]
fn the_example_config_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/router.example.toml");
    let cfg: havn_router::RouterConfig =
        havn_mesh_common::config::load(Some(std::path::Path::new(path)), "HAVN_ROUTER_TEST")
            .unwrap();
    assert_eq!(cfg.quorum_bps, 6667);
    // It listens beyond loopback, so it ships with TLS on.
    assert!(!cfg.listen.ip().is_loopback() && cfg.tls.is_some() && !cfg.allow_plaintext);
    let cfg: havn_router::RouterConfig = havn_mesh_common::config::parse_with_section(
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
fn bad_config_is_one_clear_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router.toml");
    std::fs::write(&path, "listen = 7600\n").unwrap();
    let out = router().arg("--config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("havn-router: invalid config:"), "{err}");
    // A missing operators file names the file.
    std::fs::write(
        &path,
        format!("operators_file = \"{}/none.toml\"\n", dir.path().display()),
    )
    .unwrap();
    let out = router().arg("--config").arg(&path).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("none.toml"), "{err}");
}

#[test]
fn add_artifact_stores_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    std::fs::write(&file, b"{}").unwrap();
    let out = router()
        .env("HAVN_ROUTER_ARTIFACTS_DIR", dir.path().join("artifacts"))
        .arg("--add-artifact")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let hash = hex::encode(havn_mesh_common::sha256(b"{}"));
    assert!(String::from_utf8(out.stdout).unwrap().starts_with(&hash));
    assert!(dir.path().join("artifacts").join(hash).exists());
}
