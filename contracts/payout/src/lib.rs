//! The Havn payout contract: the execution log hands it each batch of settled jobs with their fees;
//! it splits every fee (creator, royalty stack, node, signing validators, treasury) with the shared
//! crate's integer math and credits balances that recipients `Claim`. See `docs/payout.md`.

pub mod contract;
mod error;
mod execute;
pub mod msg;
mod query;
pub mod state;

pub use crate::error::ContractError;
