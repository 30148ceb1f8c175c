//! Havn staking and slashing. Nodes and validators bond $HAI under a secp256k1 key they proved they
//! hold; the execution log reads the active validator set from here (one query per batch) and asks
//! for fraud slashes; anyone can prove a double-sign or report downtime; governance slashes
//! collusion. See `docs/staking.md`.

pub mod contract;
mod error;
mod execute;
pub mod msg;
mod query;
mod slashing;
pub mod state;

pub use crate::error::ContractError;
