//! What the three mesh daemons (router, node agent, validator) share, once:
//! - [`config`]: TOML files with environment overrides;
//! - [`keys`]: operator keys from a 0600 keyfile or a BIP39 mnemonic, signing and verifying;
//! - [`operators`]: the staked operator set, behind a trait the chain-backed source will implement;
//! - [`pipeline`]: workflow manifests, the `Executor` trait and the built-in `builtin:digest`;
//! - [`claims`]: checking a node's output and its signed result claim;
//! - [`artifacts`]: content-addressed, sha256-checked fetching and caching;
//! - [`metrics`]: Prometheus text exposition over a tiny HTTP endpoint;
//! - [`service`]: logging, signals, systemd readiness and watchdog;
//! - [`tls`]: TLS on every link, plaintext only to loopback unless a config allows it.

pub mod artifacts;
pub mod claims;
pub mod config;
pub mod keys;
pub mod metrics;
pub mod operators;
pub mod pipeline;
pub mod service;
pub mod tls;

/// sha256 of some bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
