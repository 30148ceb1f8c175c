//! Havn's SDK: the CLI's configuration, its key store and its chain queries, usable from Rust.
//!
//! Config is `~/.config/havn/config.toml` (or `--config`), every key overridable as
//! `HAVN_CLI_<KEY>` (`HAVN_CLI_GRPC`, `HAVN_CLI_CONTRACTS__REGISTRY`).

pub mod disputes;
pub mod jobs;
#[cfg(feature = "network")]
pub mod network;
pub mod workflow_file;

use std::path::{Path, PathBuf};

use havn_chain::{ChainConfig, ChainError, Wallet};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("{0}")]
    Config(String),
    #[error("key {0:?} not found in {1} (see `havn keys list`)")]
    NoKey(String, String),
    #[error("key {0:?} already exists in {1}; pick another name")]
    KeyExists(String, String),
    #[error("{0}")]
    Input(String),
    #[error("interrupted")]
    Interrupted,
    #[error(
        "no {0} contract configured: set contracts.{0} in the config or HAVN_CLI_CONTRACTS__{1}"
    )]
    NoContract(&'static str, String),
}

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError::Input(s)
    }
}

/// Addresses of the Havn deployment the CLI talks to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Contracts {
    pub token: String,
    pub registry: String,
    pub staking: String,
    pub payout: String,
    pub log: String,
    pub governance: String,
}

impl From<&Contracts> for havn_chain::havn::Deployment {
    fn from(c: &Contracts) -> Self {
        havn_chain::havn::Deployment {
            token: c.token.clone(),
            registry: c.registry.clone(),
            staking: c.staking.clone(),
            payout: c.payout.clone(),
            log: c.log.clone(),
            governance: c.governance.clone(),
        }
    }
}

impl From<&havn_chain::havn::Deployment> for Contracts {
    fn from(d: &havn_chain::havn::Deployment) -> Self {
        Contracts {
            token: d.token.clone(),
            registry: d.registry.clone(),
            staking: d.staking.clone(),
            payout: d.payout.clone(),
            log: d.log.clone(),
            governance: d.governance.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The chain's gRPC endpoint.
    pub grpc: String,
    pub prefix: String,
    pub fee_denom: String,
    pub gas_price: f64,
    pub gas_adjustment: f64,
    /// Where `havn keys` keeps mnemonics (one file per key, mode 0600).
    pub keys_dir: PathBuf,
    /// The router `havn run` submits jobs to and `havn job watch` follows them on.
    pub router: String,
    pub contracts: Contracts,
    /// `[tls]`: how the CLI dials the router and the chain (`https://`, with `ca_file` for a
    /// private CA; plaintext only to loopback unless `allow_plaintext`).
    pub tls: havn_mesh_common::tls::ClientTls,
}

pub fn config_dir() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("havn")
}

impl Default for Config {
    fn default() -> Self {
        Config {
            grpc: "http://127.0.0.1:9090".into(),
            prefix: "havn".into(),
            fee_denom: "uhavn".into(),
            gas_price: 0.0,
            gas_adjustment: 1.3,
            keys_dir: config_dir().join("keys"),
            router: "http://127.0.0.1:7600".into(),
            contracts: Contracts::default(),
            tls: Default::default(),
        }
    }
}

impl Config {
    /// `path`, else `~/.config/havn/config.toml` when it exists, else the defaults; then the
    /// `HAVN_CLI_*` environment.
    pub fn load(path: Option<&Path>) -> Result<Config, CliError> {
        let default = config_dir().join("config.toml");
        let path = path
            .map(Path::to_path_buf)
            .or_else(|| default.exists().then_some(default));
        havn_mesh_common::config::load(path.as_deref(), "HAVN_CLI")
            .map_err(|e| CliError::Config(e.to_string()))
    }

    pub fn chain(&self) -> ChainConfig {
        ChainConfig {
            grpc: self.grpc.clone(),
            prefix: self.prefix.clone(),
            fee_denom: self.fee_denom.clone(),
            gas_price: self.gas_price,
            gas_adjustment: self.gas_adjustment,
            inclusion_timeout: std::time::Duration::from_secs(30),
            tls: self.tls.clone(),
        }
    }

    pub fn contract(&self, name: &'static str) -> Result<&str, CliError> {
        let c = &self.contracts;
        let addr = match name {
            "token" => &c.token,
            "registry" => &c.registry,
            "staking" => &c.staking,
            "payout" => &c.payout,
            "governance" => &c.governance,
            _ => &c.log,
        };
        if addr.is_empty() {
            return Err(CliError::NoContract(name, name.to_uppercase()));
        }
        Ok(addr)
    }
}

/// Mnemonics on disk, one file per key, mode 0600. They are not encrypted: the file mode is
/// the protection, as with `wasmd keys --keyring-backend test`; say so to users.
#[derive(Clone)]
pub struct KeyStore {
    dir: PathBuf,
    prefix: String,
}

impl KeyStore {
    pub fn new(dir: &Path, prefix: &str) -> Self {
        KeyStore {
            dir: dir.to_path_buf(),
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The file holding `name`'s mnemonic (what a daemon's `key_file` names).
    pub fn file(&self, name: &str) -> Result<PathBuf, CliError> {
        self.path(name)
    }

    fn path(&self, name: &str) -> Result<PathBuf, CliError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(CliError::Input(format!(
                "key name {name:?}: use letters, digits, '-' and '_'"
            )));
        }
        Ok(self.dir.join(format!("{name}.mnemonic")))
    }

    /// Stores `phrase` under `name` (which must be new); returns its wallet.
    pub fn add(&self, name: &str, phrase: &str) -> Result<Wallet, CliError> {
        let wallet = Wallet::from_mnemonic(phrase, &self.prefix)?;
        let path = self.path(name)?;
        if path.exists() {
            return Err(CliError::KeyExists(
                name.into(),
                self.dir.display().to_string(),
            ));
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| CliError::Config(format!("cannot create {}: {e}", self.dir.display())))?;
        havn_chain::write_key_file(&path, phrase)?;
        Ok(wallet)
    }

    pub fn get(&self, name: &str) -> Result<Wallet, CliError> {
        let path = self.path(name)?;
        if !path.exists() {
            return Err(CliError::NoKey(name.into(), self.dir.display().to_string()));
        }
        Ok(havn_chain::read_key_file(&path, &self.prefix)?)
    }

    /// (name, address) of every key, by name.
    pub fn list(&self) -> Result<Vec<(String, String)>, CliError> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(vec![]);
        };
        let mut keys = vec![];
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            if let Some(name) = file.strip_suffix(".mnemonic") {
                keys.push((name.to_string(), self.get(name)?.address().to_string()));
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// A dependency as the CLI takes it: `workflow:ID:BPS`, or `KIND:SHA256:PAYEE:BPS` for an
/// external artifact (`model`, `lora`, `prompt`, `dataset`).
pub fn parse_dependency(s: &str) -> Result<havn_workflow_registry::msg::DependencyMsg, CliError> {
    use havn_workflow_registry::msg::{ArtifactKind, DependencyMsg, DependencyTarget};
    let bad = || {
        CliError::Input(format!(
            "dependency {s:?}: expected workflow:ID:BPS or model|lora|prompt|dataset:SHA256:PAYEE:BPS"
        ))
    };
    let parts: Vec<&str> = s.split(':').collect();
    let bps = |p: &str| p.parse::<u16>().map_err(|_| bad());
    let (target, weight_bps) = match parts.as_slice() {
        ["workflow", id, w] => (
            DependencyTarget::Workflow {
                id: id.parse().map_err(|_| bad())?,
            },
            bps(w)?,
        ),
        [kind, hash, payee, w] => {
            let kind = match *kind {
                "model" => ArtifactKind::Model,
                "lora" => ArtifactKind::Lora,
                "prompt" => ArtifactKind::Prompt,
                "dataset" => ArtifactKind::Dataset,
                _ => return Err(bad()),
            };
            (
                DependencyTarget::Artifact {
                    kind,
                    content_hash: hash.to_string(),
                    payee: payee.to_string(),
                },
                bps(w)?,
            )
        }
        _ => return Err(bad()),
    };
    Ok(DependencyMsg { target, weight_bps })
}

/// A manifest as the CLI publishes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedManifest {
    pub name: String,
    /// sha256 of the file's bytes, what the registry stores as the version hash.
    pub content_hash: String,
    /// The artifact hashes it uses, what the registry records for the version.
    pub artifacts: Vec<String>,
    /// Its fingerprint (`havn_workflow::fingerprint`), what the registry indexes and nodes check.
    pub fingerprint: cosmwasm_std::HexBinary,
}

/// Checks a workflow manifest as a node will (`havn_workflow::check`, the torch pipeline in
/// full), with its content hash and artifact set.
pub fn check_manifest(bytes: &[u8]) -> Result<CheckedManifest, CliError> {
    let input = |e: havn_mesh_common::pipeline::ExecError| CliError::Input(e.to_string());
    let manifest = havn_workflow::check(bytes).map_err(input)?;
    Ok(CheckedManifest {
        artifacts: havn_workflow::artifacts(&manifest).map_err(input)?,
        fingerprint: havn_types::fingerprint::encode(
            &havn_workflow::fingerprint::fingerprint(&manifest).map_err(input)?,
        )
        .into(),
        name: manifest.name,
        content_hash: hex_sha256(bytes),
    })
}

/// Lower-case hex sha256, as the registry stores content hashes.
pub fn hex_sha256(bytes: &[u8]) -> String {
    havn_mesh_common::sha256(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh 24-word BIP39 mnemonic from the OS's randomness.
pub fn new_mnemonic() -> String {
    let m = bip32::Mnemonic::random(rand_core::OsRng, bip32::Language::English);
    m.phrase().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_parse_and_bad_ones_say_the_format() {
        use havn_workflow_registry::msg::DependencyTarget;
        assert!(matches!(
            parse_dependency("workflow:3:5000").unwrap().target,
            DependencyTarget::Workflow { id: 3 }
        ));
        let d = parse_dependency(&format!("lora:{}:havn1xyz:2500", "ab".repeat(32))).unwrap();
        assert_eq!(d.weight_bps, 2500);
        for bad in ["workflow:x:1", "lora:h:p", "song:h:p:1", "workflow:1:70000"] {
            let e = parse_dependency(bad).unwrap_err().to_string();
            assert!(e.contains("expected workflow:ID:BPS"), "{bad}: {e}");
        }
    }

    #[test]
    fn manifests_are_checked_before_publishing() {
        let m =
            check_manifest(br#"{"name": "d", "pipeline": {"kind": "builtin:digest"}}"#).unwrap();
        assert_eq!((m.name.as_str(), m.content_hash.len()), ("d", 64));
        assert!(m.artifacts.is_empty());
        for (bad, why) in [
            (&br#"{"name": 1}"#[..], "manifest is not valid"),
            (
                br#"{"name": "x", "pipeline": {"kind": "comfy"}}"#,
                "not one a node runs",
            ),
            (
                br#"{"name": "x", "pipeline": {"kind": "torch"}}"#,
                "torch pipeline",
            ),
        ] {
            let e = check_manifest(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn keys_round_trip_with_mode_0600_and_refuse_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path(), "havn");
        let phrase = new_mnemonic();
        assert_eq!(phrase.split(' ').count(), 24);
        let w = store.add("alice", &phrase).unwrap();
        assert_eq!(store.get("alice").unwrap().address(), w.address());
        assert_eq!(
            store.list().unwrap(),
            vec![("alice".into(), w.address().to_string())]
        );
        assert!(matches!(
            store.add("alice", &phrase),
            Err(CliError::KeyExists(..))
        ));
        assert!(matches!(store.get("bob"), Err(CliError::NoKey(..))));
        assert!(matches!(
            store.add("../x", &phrase),
            Err(CliError::Input(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("alice.mnemonic"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
