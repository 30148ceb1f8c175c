//! Havn's chain client: BIP39 keys, queries and `SIGN_MODE_DIRECT` transactions signed with
//! cosmrs, over the Cosmos SDK gRPC API only, so the same code talks to the devnet and to any
//! CosmWasm chain's gRPC endpoint.

mod client;
mod error;
pub mod havn;
pub mod havnd;
pub mod operators;
pub mod registry;
mod section;
mod wallet;

pub use client::{sign_tx, ChainConfig, Client, SignParams, TxResult};
pub use error::{ChainError, StartError};
pub use section::{read_key_file, write_key_file, ChainSection};
pub use wallet::{address_of, is_address_of, Wallet};

/// The Cosmos HD path (`m/44'/118'/0'/0/0`): what `wasmd keys add` derives.
pub const COSMOS_HD_PATH: &str = "m/44'/118'/0'/0/0";
