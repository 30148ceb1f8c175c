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
    /// The Havn staking contract. Set: the daemon reads the operator set from it (replacing
    /// `operators_file`, refreshed every `operators_refresh_ms`) and sends its operator's
    /// heartbeats to it.
    #[serde(default)]
    pub staking: String,
    #[serde(default = "default_operators_refresh_ms")]
    pub operators_refresh_ms: u64,
    /// The Havn execution log. Set on a validator: it posts each re-executed Invalid it signs
    /// there itself (`Challenge`), so a router that drops the verdict cannot save a faking node,
    /// and re-executes what audit proofs dispute there. Tasks for another log are never
    /// challenged. Set on a node: it keeps its audits there (commits, answers, proves).
    #[serde(default)]
    pub execution_log: String,
    /// The Havn workflow registry. Set: a node refuses, and a validator abstains on, a job whose
    /// manifest uses another artifact set than the registry recorded for its version (a creator
    /// could otherwise record a set that leaves out a registered LoRA it must credit, and run
    /// another).
    #[serde(default)]
    pub registry: String,
    /// `[chain.tls]`: TLS to `grpc` (`https://`; plaintext only to loopback unless allowed).
    #[serde(default)]
    pub tls: havn_mesh_common::tls::ClientTls,
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
fn default_operators_refresh_ms() -> u64 {
    10_000
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
            tls: self.tls.clone(),
        }
    }

    /// A client for this section's chain, and its key.
    pub async fn connect(&self) -> Result<(crate::Client, Wallet), ChainError> {
        let wallet = self.wallet()?;
        let client = crate::Client::connect(self.config()).await?;
        Ok((client, wallet))
    }

    /// The operator set from the staking contract, refreshed in the background; `None` when
    /// no staking contract is configured.
    pub async fn operators(
        &self,
        client: &crate::Client,
    ) -> Result<Option<std::sync::Arc<crate::operators::StakingOperators>>, ChainError> {
        if self.staking.is_empty() {
            return Ok(None);
        }
        let set = crate::operators::StakingOperators::load(client, &self.staking).await?;
        set.spawn_refresh(
            client.clone(),
            self.staking.clone(),
            Duration::from_millis(self.operators_refresh_ms.max(100)),
        );
        Ok(Some(set))
    }

    /// Sends this key's heartbeats to the staking contract for as long as the runtime runs
    /// (nothing without a staking contract).
    pub fn spawn_heartbeats(&self, client: &crate::Client, wallet: Wallet) {
        if !self.staking.is_empty() {
            tokio::spawn(crate::operators::heartbeats(
                client.clone(),
                wallet,
                self.staking.clone(),
            ));
        }
    }

    /// What a node or validator daemon does at start: connects, checks the key is `operator`'s
    /// account, starts its heartbeats and (with a staking contract) its operator set.
    pub async fn join_as_operator(
        &self,
        operator: &str,
    ) -> Result<Option<std::sync::Arc<crate::operators::StakingOperators>>, ChainError> {
        let (client, wallet) = self.connect().await?;
        if wallet.address().as_ref() != operator {
            return Err(ChainError::Key(format!(
                "[chain] key_file holds {}'s key, but this daemon's operator is {operator}",
                wallet.address()
            )));
        }
        let operators = self.operators(&client).await?;
        self.spawn_heartbeats(&client, wallet);
        Ok(operators)
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
