//! The `havn-validator` binary: help, the example config, clear errors.

use std::process::Command;

fn validator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_havn-validator"))
}

#[test]
fn help_lists_the_flags() {
    let out = validator().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--config") && text.contains("--init-key"));
}

#[test]
fn the_example_config_parses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/validator.example.toml"
    );
    let cfg: havn_validator::ValidatorConfig =
        havn_mesh_common::config::load(Some(std::path::Path::new(path)), "HAVN_VALIDATOR_TEST")
            .unwrap();
    assert_eq!(cfg.sample_rate, 0.05);
    let cfg: havn_validator::ValidatorConfig = havn_mesh_common::config::parse_with_section(
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
fn a_world_readable_key_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("v.key");
    std::fs::write(&key, "11".repeat(32)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = validator()
            .env("HAVN_VALIDATOR_OPERATOR", "wasm1v")
            .env("HAVN_VALIDATOR_KEY_FILE", &key)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
