//! Havn governance: bonded $HAI (read from the staking contract's snapshot at each proposal's
//! start height) votes on proposals whose actions set any Havn contract's params, flag workflows,
//! slash colluding operators, spend the treasury and set derivative rules. Tallies follow Cosmos
//! x/gov (quorum, threshold, veto). See `docs/governance.md`.

mod actions;
pub mod contract;
mod error;
mod execute;
pub mod msg;
mod query;
pub mod state;
pub mod tally;

pub use crate::error::ContractError;
