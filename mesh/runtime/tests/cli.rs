//! `havn-torch` as a user runs it: outputs written, verdicts as exit codes, one-line errors.

use std::process::{Command, Output};

fn havn_torch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_havn-torch"))
        .arg("--models")
        .arg(havn_runtime::examples::dir())
        .args(["--device", "cpu"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn run_then_verify_and_the_exit_codes_say_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let honest = dir.path().join("honest.wav");
    let other = dir.path().join("other.wav");
    let out = havn_torch(&[
        "--output",
        "json",
        "run",
        "text-to-audio",
        "--out",
        honest.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["bytes"], 44 + 2 * 8192);
    let wav = std::fs::read(&honest).unwrap();
    assert_eq!(
        report["sha256"],
        hex::encode(havn_mesh_common::sha256(&wav))
    );

    let out = havn_torch(&["verify", "text-to-audio", honest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pass by exact"));

    havn_torch(&[
        "run",
        "text-to-audio",
        "--input",
        "another prompt",
        "--out",
        other.to_str().unwrap(),
    ]);
    let out = havn_torch(&[
        "--output",
        "json",
        "verify",
        "text-to-audio",
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["pass"], false);
    assert_eq!(verdict["rung"], "mismatch");
}

#[test]
fn bad_requests_get_one_line_and_exit_2() {
    for args in [
        vec!["run", "no-such-workflow"],
        vec!["run", "char-lm", "--input", "UPPER CASE"],
        vec!["verify", "text-to-image", "/no/such/file.png"],
    ] {
        let out = havn_torch(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("havn-torch: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_havn-torch"))
        .args(["--device", "tpu", "info"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
