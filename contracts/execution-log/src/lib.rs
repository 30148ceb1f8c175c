//! The Havn execution log: callers request jobs here with their fee in escrow; anyone relays the
//! validators' signed attestations in batches; a stake-weighted quorum makes a job valid (fees go to
//! payout, one message per batch) or invalid (caller refunded, node slashed for fraud).
//! See `docs/execution-log.md`.

mod audits;
pub mod contract;
mod error;
mod execute;
mod finalize;
pub mod msg;
mod query;
mod record;
mod seeds;
pub mod state;

pub use crate::error::ContractError;
