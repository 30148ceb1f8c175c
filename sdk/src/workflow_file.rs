//! What `havn publish FILE` publishes. FILE is a workflow file: the manifest (a file of its own,
//! next to it, whose bytes' sha256 is the version hash nodes check) and its publishing terms:
//! name, price, royalty split, parent, dependencies and metadata. Or FILE is a bare manifest,
//! with the terms as flags. Flags override the file. Everything is checked here, with the
//! registry's and the node's own checks, before anything is sent.

use std::path::{Path, PathBuf};

use havn_types::Split;
use havn_workflow_registry::msg::PublishMsg;
use havn_workflow_registry::state::{Metadata, RegisteredAsset};
use serde::Deserialize;

use crate::{check_manifest, parse_dependency, CliError};

/// A workflow file (its JSON Schema: `sdk/workflow.schema.json`).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowFile {
    /// The manifest, relative to this file (`mesh/workflow/manifest.schema.json`).
    pub manifest: PathBuf,
    /// Name in the registry (default: the manifest's).
    #[serde(default)]
    pub name: Option<String>,
    /// Price per run, in uhai.
    #[serde(default)]
    pub price: Option<u128>,
    /// Royalty split in bps, summing to 10000 (default: governance's).
    #[serde(default)]
    pub split: Option<Split>,
    /// For a derivative: the workflow it derives from (also one of `dependencies`).
    #[serde(default)]
    pub parent: Option<u64>,
    /// `workflow:ID:BPS` or `model|lora|prompt|dataset:SHA256:PAYEE:BPS`, as `--depends-on`.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Description, tags, license and links, stored on chain (bounded).
    #[serde(default)]
    pub metadata: Metadata,
}

/// The flags of `havn publish`, each overriding the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub name: Option<String>,
    pub price: Option<u128>,
    pub split: Option<Split>,
    pub parent: Option<u64>,
    /// Replaces the file's dependencies when not empty.
    pub depends_on: Vec<String>,
}

/// The publish message for `path` and the manifest's content hash.
pub fn publication(path: &Path, flags: Overrides) -> Result<(PublishMsg, String), CliError> {
    let bytes = read(path)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::Input(format!("{}: not JSON: {e}", path.display())))?;
    let (file, manifest) = if value.get("pipeline").is_some() {
        let file = WorkflowFile {
            manifest: path.to_path_buf(),
            name: None,
            price: None,
            split: None,
            parent: None,
            dependencies: vec![],
            metadata: Metadata::default(),
        };
        (file, bytes)
    } else if value.get("manifest").is_some() {
        let file: WorkflowFile = serde_json::from_value(value).map_err(|e| {
            CliError::Input(format!("{}: not a workflow file: {e}", path.display()))
        })?;
        let manifest = read(&path.parent().unwrap_or(Path::new(".")).join(&file.manifest))?;
        (file, manifest)
    } else {
        return Err(CliError::Input(format!(
            "{}: neither a manifest (no \"pipeline\") nor a workflow file (no \"manifest\")",
            path.display()
        )));
    };
    let checked = check_manifest(&manifest)?;
    let price = flags.price.or(file.price).ok_or_else(|| {
        CliError::Input("no price: set \"price\" in the workflow file or pass --price".into())
    })?;
    let split = flags.split.or(file.split);
    if let Some(split) = &split {
        split
            .validate()
            .map_err(|e| CliError::Input(format!("split: {e}")))?;
    }
    file.metadata
        .validate()
        .map_err(|e| CliError::Input(format!("metadata: {e}")))?;
    let dependencies = match flags.depends_on.is_empty() {
        true => &file.dependencies,
        false => &flags.depends_on,
    }
    .iter()
    .map(|d| parse_dependency(d))
    .collect::<Result<Vec<_>, _>>()?;
    let msg = PublishMsg {
        name: flags.name.or(file.name).unwrap_or(checked.name),
        content_hash: checked.content_hash.clone(),
        price: cosmwasm_std::Uint128::new(price),
        split,
        dependencies,
        parent: flags.parent.or(file.parent),
        artifacts: checked.artifacts,
        metadata: (!file.metadata.is_empty()).then_some(file.metadata),
        fingerprint: Some(checked.fingerprint),
    };
    Ok((msg, checked.content_hash))
}

/// Declares each registered asset the manifest uses that no dependency credits (`covered`: the
/// artifacts the workflow dependencies' own versions record, which their stacks pay). With no
/// dependencies given, the found ones share the upstream pool evenly (the first takes the
/// remainder); otherwise the weights are the creator's to set, so the missing ones are named.
/// Returns what it added, as `kind:hash:payee`.
pub fn declare_registered(
    msg: &mut PublishMsg,
    registered: &[RegisteredAsset],
    covered: &[String],
) -> Result<Vec<String>, CliError> {
    use havn_workflow_registry::msg::{DependencyMsg, DependencyTarget};
    let declared = |hash: &str| {
        msg.dependencies.iter().any(|d| {
            matches!(&d.target, DependencyTarget::Artifact { content_hash, .. } if content_hash.eq_ignore_ascii_case(hash))
        })
    };
    let missing: Vec<&RegisteredAsset> = registered
        .iter()
        .filter(|a| a.flag.is_none())
        .filter(|a| {
            let hash = a.content_hash.to_hex();
            msg.artifacts.contains(&hash) && !declared(&hash) && !covered.contains(&hash)
        })
        .collect();
    let named: Vec<String> = missing
        .iter()
        .map(|a| {
            format!(
                "{}:{}:{}",
                a.kind.as_str(),
                a.content_hash.to_hex(),
                a.payee
            )
        })
        .collect();
    if missing.is_empty() {
        return Ok(named);
    }
    if !msg.dependencies.is_empty() {
        return Err(CliError::Input(format!(
            "the manifest uses registered assets its dependencies do not credit: add --depends-on {} (with weights summing to 10000)",
            named.iter().map(|n| format!("{n}:BPS")).collect::<Vec<_>>().join(" ")
        )));
    }
    let each = 10_000 / missing.len() as u16;
    let first = 10_000 - each * (missing.len() as u16 - 1);
    for (i, a) in missing.iter().enumerate() {
        msg.dependencies.push(DependencyMsg {
            target: DependencyTarget::Artifact {
                kind: a.kind.clone(),
                content_hash: a.content_hash.to_hex(),
                payee: a.payee.to_string(),
            },
            weight_bps: if i == 0 { first } else { each },
        });
    }
    Ok(named)
}

/// The metadata in `path`: a JSON object of it, or a workflow file's; checked.
pub fn metadata_of(path: &Path) -> Result<Metadata, CliError> {
    let bytes = read(path)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::Input(format!("{}: not JSON: {e}", path.display())))?;
    let metadata: Metadata = match value.get("manifest") {
        Some(_) => serde_json::from_value::<WorkflowFile>(value).map(|f| f.metadata),
        None => serde_json::from_value(value),
    }
    .map_err(|e| CliError::Input(format!("{}: not metadata: {e}", path.display())))?;
    metadata
        .validate()
        .map_err(|e| CliError::Input(format!("metadata: {e}")))?;
    Ok(metadata)
}

/// `C/U/N/V/T`: the creator, upstream, node, validator and treasury shares in bps.
pub fn parse_split(s: &str) -> Result<Split, CliError> {
    let bad = || {
        CliError::Input(format!("split {s:?}: expected CREATOR/UPSTREAM/NODE/VALIDATOR/TREASURY in bps, e.g. 4500/2000/2500/500/500"))
    };
    let parts: Vec<u16> = s
        .split('/')
        .map(|p| p.trim().parse::<u16>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [creator, upstream, node, validator, treasury] = parts[..] else {
        return Err(bad());
    };
    Ok(Split {
        creator,
        upstream,
        node,
        validator,
        treasury,
    })
}

/// The JSON Schema of a workflow file.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WorkflowFile)).expect("a schema serializes")
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Input(format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &[u8] = br#"{"name": "echo", "pipeline": {"kind": "builtin:digest"}}"#;
    const PAYEE: &str = "havn1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3nhqkc";

    fn dir_with(file: &serde_json::Value) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("echo.json"), MANIFEST).unwrap();
        let path = dir.path().join("workflow.json");
        std::fs::write(&path, serde_json::to_vec(file).unwrap()).unwrap();
        (dir, path)
    }

    fn full() -> serde_json::Value {
        serde_json::json!({
            "manifest": "echo.json",
            "name": "echo-v1",
            "price": 1000,
            "split": {"creator": 4000, "upstream": 3000, "node": 2000, "validator": 500, "treasury": 500},
            "parent": 1,
            "dependencies": ["workflow:1:6000", format!("lora:{}:{PAYEE}:4000", "ab".repeat(32))],
            "metadata": {"description": "echoes", "tags": ["test"], "license": "MIT", "links": ["https://example.org"]}
        })
    }

    #[test]
    fn a_workflow_file_gives_every_term_and_the_manifest_its_hash() {
        let (_d, path) = dir_with(&full());
        let (msg, hash) = publication(&path, Overrides::default()).unwrap();
        assert_eq!(hash, crate::hex_sha256(MANIFEST));
        assert_eq!(msg.content_hash, hash);
        assert_eq!(msg.name, "echo-v1");
        assert_eq!(msg.price.u128(), 1000);
        assert_eq!(msg.split.unwrap().upstream, 3000);
        assert_eq!(msg.parent, Some(1));
        assert_eq!(msg.dependencies.len(), 2);
        let m = msg.metadata.unwrap();
        assert_eq!((m.description.as_str(), m.tags.len()), ("echoes", 1));
    }

    #[test]
    fn flags_override_the_file_and_a_bare_manifest_takes_its_terms_from_flags() {
        let (d, path) = dir_with(&full());
        let flags = Overrides {
            name: Some("renamed".into()),
            price: Some(7),
            split: Some(parse_split("4500/2000/2500/500/500").unwrap()),
            parent: Some(2),
            depends_on: vec!["workflow:2:10000".into()],
        };
        let (msg, _) = publication(&path, flags).unwrap();
        assert_eq!((msg.name.as_str(), msg.price.u128()), ("renamed", 7));
        assert_eq!((msg.split.unwrap().creator, msg.parent), (4500, Some(2)));
        assert_eq!(msg.dependencies.len(), 1);

        let bare = d.path().join("echo.json");
        let (msg, _) = publication(
            &bare,
            Overrides {
                price: Some(5),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!((msg.name.as_str(), msg.price.u128()), ("echo", 5));
        assert_eq!((msg.split, msg.parent, msg.metadata), (None, None, None));
    }

    #[test]
    fn a_bad_file_is_one_clear_error() {
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = full();
            f(&mut v);
            let (_d, path) = dir_with(&v);
            publication(&path, Overrides::default())
                .unwrap_err()
                .to_string()
        };
        for (e, want) in [
            (
                with(&|v| v["manifest"] = "missing.json".into()),
                "cannot read",
            ),
            (with(&|v| v["prize"] = 1.into()), "unknown field `prize`"),
            (
                with(&|v| {
                    v.as_object_mut().unwrap().remove("price");
                }),
                "no price",
            ),
            (with(&|v| v["split"]["treasury"] = 499.into()), "split: "),
            (
                with(&|v| v["metadata"]["tags"] = serde_json::json!(["Bad Tag"])),
                "metadata: tag \"Bad Tag\"",
            ),
            (
                with(&|v| v["dependencies"] = serde_json::json!(["workflow:x"])),
                "expected workflow:ID:BPS",
            ),
        ] {
            assert!(e.contains(want), "{e} (wanted {want})");
        }
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.json");
        std::fs::write(&other, b"{\"hello\": 1}").unwrap();
        let e = publication(&other, Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither a manifest"), "{e}");
        for bad in ["1/2/3", "a/b/c/d/e", "1/2/3/4/5/6"] {
            assert!(parse_split(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registered_assets_the_manifest_uses_are_declared_or_named() {
        use cosmwasm_std::{Addr, HexBinary};
        use havn_workflow_registry::state::{ArtifactKind, Flag, FlagReason};
        let asset = |seed: u8, flagged: bool| RegisteredAsset {
            kind: ArtifactKind::Lora,
            content_hash: HexBinary::from(vec![seed; 32]),
            owner: Addr::unchecked("owner"),
            payee: Addr::unchecked(format!("payee{seed}")),
            height: 1,
            flag: flagged.then_some(Flag {
                reason: FlagReason::Stolen,
                note: None,
                height: 2,
            }),
        };
        let (a, b, c, stolen) = (
            asset(1, false),
            asset(2, false),
            asset(3, false),
            asset(4, true),
        );
        let used = |msg: &mut PublishMsg| {
            msg.artifacts = [1u8, 2, 3, 4, 5]
                .iter()
                .map(|s| hex::encode([*s; 32]))
                .collect();
        };
        let (_d, path) = dir_with(&full());
        let (mut msg, _) = publication(&path, Overrides::default()).unwrap();
        msg.dependencies.clear();
        used(&mut msg);
        // c is paid through a workflow dependency; the stolen one is not enforced.
        let covered = vec![c.content_hash.to_hex()];
        let all = [a.clone(), b.clone(), c.clone(), stolen.clone()];
        let added = declare_registered(&mut msg, &all, &covered).unwrap();
        assert_eq!(added.len(), 2, "{added:?}");
        let weights: Vec<u16> = msg.dependencies.iter().map(|d| d.weight_bps).collect();
        assert_eq!(weights, vec![5_000, 5_000]);
        // Declared already: nothing more to add.
        assert!(declare_registered(&mut msg, &all, &covered)
            .unwrap()
            .is_empty());
        // The creator set weights of its own: the missing ones are named, nothing is guessed.
        let (mut msg, _) = publication(&path, Overrides::default()).unwrap();
        used(&mut msg);
        let e = declare_registered(&mut msg, &all, &covered)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("lora:{}:payee1:BPS", hex::encode([1u8; 32]))),
            "{e}"
        );
        // Three found: 3334 + 3333 + 3333.
        let (mut msg, _) = publication(&path, Overrides::default()).unwrap();
        msg.dependencies.clear();
        used(&mut msg);
        declare_registered(&mut msg, &all, &[]).unwrap();
        let weights: Vec<u16> = msg.dependencies.iter().map(|d| d.weight_bps).collect();
        assert_eq!(weights, vec![3_334, 3_333, 3_333]);
    }

    #[test]
    fn the_committed_workflow_file_schema_is_current() {
        let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/workflow.schema.json");
        let generated = serde_json::to_string_pretty(&schema()).unwrap() + "\n";
        if std::env::var_os("HAVN_BLESS").is_some() {
            std::fs::write(committed, &generated).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(committed).unwrap_or_default(),
            generated,
            "sdk/workflow.schema.json is stale: HAVN_BLESS=1 cargo test -p havn-sdk schema"
        );
    }
}
