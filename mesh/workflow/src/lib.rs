//! A workflow as creators write it and nodes accept it, without LibTorch: the `torch` pipeline's
//! manifest spec and its full static check, its JSON Schema, its fingerprint, and the example
//! workflows. The CLI
//! checks a manifest before publishing with the very function a node and a validator parse it
//! with (`havn-runtime` runs what this crate accepts), so a manifest the CLI passes is one they
//! run.

pub mod examples;
pub mod fingerprint;
pub mod spec;

use havn_mesh_common::pipeline::{ExecError, Manifest, DIGEST_KIND};

pub use spec::{manifest_schema, LoraRef, ModuleLoad, Step, TorchPipeline, TORCH_KIND};

/// The pipeline kinds a node runs.
pub const KINDS: [&str; 2] = [TORCH_KIND, DIGEST_KIND];

/// Parses a manifest and checks its pipeline in full, as a node does before it runs a job.
pub fn check(bytes: &[u8]) -> Result<Manifest, ExecError> {
    let manifest = Manifest::parse(bytes)?;
    match manifest.pipeline.kind.as_str() {
        TORCH_KIND => {
            TorchPipeline::from_manifest(&manifest)?;
        }
        DIGEST_KIND => {}
        other => {
            return Err(ExecError::BadManifest(format!(
                "pipeline kind {other:?} is not one a node runs ({})",
                KINDS.join(", ")
            )))
        }
    }
    Ok(manifest)
}

/// The artifact hashes (hex, sorted, no repeats) a manifest uses: what the registry records for
/// its version, and what a node and a validator compare the manifest they fetch against.
pub fn artifacts(manifest: &Manifest) -> Result<Vec<String>, ExecError> {
    let mut out: Vec<String> = match manifest.pipeline.kind.as_str() {
        TORCH_KIND => TorchPipeline::from_manifest(manifest)?
            .artifact_hashes()?
            .iter()
            .map(hex::encode)
            .collect(),
        _ => vec![],
    };
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether `used` (the artifacts a manifest's executor loads) is exactly the set its registry
/// version records: a creator could otherwise record a set that leaves out a registered LoRA it
/// must credit, and run another. The refusal names the difference.
pub fn ensure_recorded_artifacts(used: &[[u8; 32]], recorded: &[String]) -> Result<(), ExecError> {
    let mut used: Vec<String> = used.iter().map(hex::encode).collect();
    used.sort();
    used.dedup();
    let mut recorded: Vec<String> = recorded.iter().map(|h| h.to_ascii_lowercase()).collect();
    recorded.sort();
    recorded.dedup();
    if used == recorded {
        return Ok(());
    }
    let unlisted: Vec<&String> = used.iter().filter(|h| !recorded.contains(h)).collect();
    let unused: Vec<&String> = recorded.iter().filter(|h| !used.contains(h)).collect();
    Err(ExecError::BadManifest(format!(
        "its artifacts differ from its registry record: used but not recorded {unlisted:?}, recorded but not used {unused:?}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_is_checked_in_full_and_an_unknown_kind_is_named() {
        let digest = br#"{"name":"d","pipeline":{"kind":"builtin:digest"}}"#;
        assert_eq!(check(digest).unwrap().name, "d");
        let unknown = br#"{"name":"u","pipeline":{"kind":"onnx"}}"#;
        let e = check(unknown).unwrap_err().to_string();
        assert!(
            e.contains("\"onnx\"") && e.contains("torch, builtin:digest"),
            "{e}"
        );
        // A torch pipeline that cannot run fails here, not on a node.
        let bad = br#"{"name":"t","pipeline":{"kind":"torch","modules":{},"input":{"kind":"text","name":"x","max_bytes":8},"steps":[],"output":{"from":"nowhere","encode":"utf8"}}}"#;
        assert!(check(bad).is_err());
        assert!(check(b"not json").is_err());
    }

    #[test]
    fn the_recorded_artifact_set_must_be_the_used_one_exactly() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let hex = |h: [u8; 32]| hex::encode(h);
        ensure_recorded_artifacts(&[a, b], &[hex(b), hex(a).to_uppercase()]).unwrap();
        ensure_recorded_artifacts(&[], &[]).unwrap();
        let e = ensure_recorded_artifacts(&[a, b], &[hex(a)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("used but not recorded [\"{}\"]", hex(b))),
            "{e}"
        );
        let e = ensure_recorded_artifacts(&[a], &[hex(a), hex(b)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("recorded but not used [\"{}\"]", hex(b))),
            "{e}"
        );
    }

    #[test]
    fn a_digest_uses_no_artifacts_and_a_bad_torch_manifest_has_none_to_record() {
        let digest =
            Manifest::parse(br#"{"name":"d","pipeline":{"kind":"builtin:digest"}}"#).unwrap();
        assert!(artifacts(&digest).unwrap().is_empty());
        // A torch manifest that does not check has no artifact set to record.
        let bad = Manifest::parse(br#"{"name":"t","pipeline":{"kind":"torch"}}"#).unwrap();
        assert!(artifacts(&bad).is_err());
    }
}
