use thiserror::Error;

/// What can go wrong talking to a chain; every message says what to do about it.
#[derive(Debug, Error)]
pub enum ChainError {
    #[error(
        "cannot reach the chain at {endpoint}: {reason} (is the node or `havn-devnet` running?)"
    )]
    Connect { endpoint: String, reason: String },
    #[error("the chain answered {method} with an error: {status}")]
    Rpc {
        method: &'static str,
        status: String,
    },
    #[error("account {0} does not exist on chain yet: send it some tokens first")]
    NoAccount(String),
    #[error("tx {hash} failed: code {code} ({codespace}): {log}")]
    Tx {
        hash: String,
        code: u32,
        codespace: String,
        log: String,
    },
    #[error(
        "tx {hash} was not included within {secs} s; it may still land: check it with its hash"
    )]
    NotIncluded { hash: String, secs: u64 },
    #[error("invalid key: {0}")]
    Key(String),
    #[error("cannot build the tx: {0}")]
    Build(String),
    #[error("unexpected answer from the chain: {0}")]
    Decode(String),
}

/// Why a daemon (node, validator) did not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The config or a file it names is wrong: fix it and start again.
    #[error("{0}")]
    Config(String),
    /// The chain could not be reached or refused this operator.
    #[error("{0}")]
    Chain(#[from] ChainError),
}

impl ChainError {
    /// The ABCI code of a failed tx, if that is what this is.
    pub fn tx_code(&self) -> Option<u32> {
        match self {
            ChainError::Tx { code, .. } => Some(*code),
            _ => None,
        }
    }
}
