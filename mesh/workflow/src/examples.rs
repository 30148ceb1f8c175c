//! The example workflows `make models` builds (`models/make_models.py`): a folder of manifests
//! (`<name>.json`) and content-addressed artifacts (`artifacts/<sha256>`: modules and manifests).

use std::path::{Path, PathBuf};

use havn_mesh_common::artifacts::ArtifactDir;

/// One example workflow.
#[derive(Debug, Clone)]
pub struct Example {
    pub name: String,
    /// The manifest bytes, whose sha256 is the version hash the registry stores.
    pub manifest: Vec<u8>,
    pub hash: [u8; 32],
}

/// Where the examples are: `$HAVN_MODELS`, else the workspace's `models/build`.
pub fn dir() -> PathBuf {
    std::env::var_os("HAVN_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/build"))
}

/// Every example in `dir`, by name.
pub fn load(dir: &Path) -> Result<Vec<Example>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read {}: {e} (run `make models` to build the example workflows)",
            dir.display()
        )
    })?;
    let mut out = vec![];
    for e in entries.filter_map(|e| e.ok()) {
        let file = e.file_name().to_string_lossy().to_string();
        let Some(name) = file.strip_suffix(".json").filter(|n| *n != "index") else {
            continue;
        };
        let manifest = std::fs::read(e.path()).map_err(|e| format!("{file}: {e}"))?;
        let hash = havn_mesh_common::sha256(&manifest);
        out.push(Example {
            name: name.to_string(),
            manifest,
            hash,
        });
    }
    if out.is_empty() {
        return Err(format!(
            "no example workflows in {} (run `make models`)",
            dir.display()
        ));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Copies every artifact (modules and manifests) of `dir` into `store`.
pub fn publish(dir: &Path, store: &ArtifactDir) -> Result<usize, String> {
    let art = dir.join("artifacts");
    let entries =
        std::fs::read_dir(&art).map_err(|e| format!("cannot read {}: {e}", art.display()))?;
    let mut n = 0;
    for e in entries.filter_map(|e| e.ok()) {
        let bytes = std::fs::read(e.path()).map_err(|e| e.to_string())?;
        store.put(&bytes).map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}
