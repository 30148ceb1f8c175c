use cosmwasm_std::{StdError, Uint128};
use havn_types::{AssetError, SplitError};
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Asset(#[from] AssetError),

    #[error("job {job_id}: {source}")]
    Split { job_id: u64, source: SplitError },

    #[error("unauthorized: only the payout admin may do this")]
    NotAdmin,

    #[error("unauthorized: only the execution log may distribute fees, not {sender}")]
    NotExecutionLog { sender: String },

    #[error("attached {attached} but the batch's fees add up to {expected}")]
    FeeMismatch {
        attached: Uint128,
        expected: Uint128,
    },

    #[error("job {job_id} is already paid")]
    AlreadyPaid { job_id: u64 },

    #[error("a distribution needs 1 to {max} settlements, got {count}")]
    BadBatchSize { count: usize, max: u32 },

    #[error("job {job_id} has {count} {what}, more than the limit {max}")]
    ListTooLong {
        job_id: u64,
        what: &'static str,
        count: usize,
        max: u32,
    },

    #[error("{address} has nothing to claim")]
    NothingToClaim { address: String },

    #[error("invalid param {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
}
