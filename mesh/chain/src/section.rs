//! The `[chain]` section the daemons and the CLI share: where the chain is, how to pay, which key
//! signs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{ChainConfig, ChainError, Wallet};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSection {
    /// The node's gRPC endpoint, e.g. `http://127.0.0.1:9090`.
    pub grpc: String,
    /// A file holding the signing key's BIP39 mnemonic (mode 0600).
    pub key_file: PathBuf,
    #[serde(default = "default_prefix")]
    pub prefix: String,
    #[serde(default = "default_fee_denom")]
    pub fee_denom: String,
    #[serde(default)]
    pub gas_price: f64,
    #[serde(default = "default_gas_adjustment")]
    pub gas_adjustment: f64,
    #[serde(default = "default_inclusion_timeout_ms")]
    pub inclusion_timeout_ms: u64,
}

fn default_prefix() -> String {
    "havn".into()
}
fn default_fee_denom() -> String {
    "uhavn".into()
}
fn default_gas_adjustment() -> f64 {
    1.3
}
fn default_inclusion_timeout_ms() -> u64 {
    30_000
}

impl ChainSection {
    pub fn config(&self) -> ChainConfig {
        ChainConfig {
            grpc: self.grpc.clone(),
            prefix: self.prefix.clone(),
            fee_denom: self.fee_denom.clone(),
            gas_price: self.gas_price,
            gas_adjustment: self.gas_adjustment,
            inclusion_timeout: Duration::from_millis(self.inclusion_timeout_ms),
        }
    }

    /// The key in `key_file` (mode 0600).
    pub fn wallet(&self) -> Result<Wallet, ChainError> {
        read_key_file(&self.key_file, &self.prefix)
    }
}

/// A wallet from a file holding a mnemonic, readable by its owner only (as the operators'
/// daemons require of theirs). The phrase is never logged.
pub fn read_key_file(path: &Path, prefix: &str) -> Result<Wallet, ChainError> {
    let key =
        havn_mesh_common::keys::load_mnemonic(path).map_err(|e| ChainError::Key(e.to_string()))?;
    Wallet::from_secret(&key.to_bytes(), prefix)
}

/// Writes a mnemonic to `path` with mode 0600 (created new; an existing file is not replaced).
pub fn write_key_file(path: &Path, phrase: &str) -> Result<(), ChainError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| ChainError::Key(format!("cannot create key file {}: {e}", path.display())))?;
    writeln!(file, "{phrase}")
        .map_err(|e| ChainError::Key(format!("cannot write key file {}: {e}", path.display())))
}
