use cosmwasm_std::{StdError, Timestamp, Uint128};
use havn_types::AssetError;
use thiserror::Error;

use crate::state::Status;
use crate::tally::Outcome;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Asset(#[from] AssetError),

    #[error("unauthorized: only the governance contract itself may run a proposal's actions")]
    NotSelf,

    #[error("deposit {deposit} is below the minimum {min}")]
    DepositTooLow { deposit: Uint128, min: Uint128 },

    #[error("{what} must be 1 to {max} characters, got {len}")]
    BadText {
        what: &'static str,
        len: usize,
        max: usize,
    },

    #[error("a proposal needs 1 to {max} actions, got {count}")]
    BadActionCount { count: usize, max: u32 },

    #[error("invalid action {index}: {reason}")]
    InvalidAction { index: usize, reason: String },

    #[error("nobody has bonded stake at height {height}, so nobody could vote")]
    NoTotalPower { height: u64 },

    #[error("proposal {id} does not exist")]
    UnknownProposal { id: u64 },

    #[error("proposal {id} is {status:?}, not open")]
    NotOpen { id: u64, status: Status },

    #[error("voting on proposal {id} ended at {end}")]
    VotingEnded { id: u64, end: Timestamp },

    #[error("voting on proposal {id} is open until {end}")]
    VotingOpen { id: u64, end: Timestamp },

    #[error("proposal {id} passed; its timelock lets it run from {from}")]
    Timelocked { id: u64, from: Timestamp },

    #[error("{voter} had no bonded stake at height {height}, when proposal {id} opened")]
    NoVotingPower { id: u64, voter: String, height: u64 },

    #[error("proposal {id} did not pass ({outcome:?}); Close it instead")]
    NotPassed { id: u64, outcome: Outcome },

    #[error("proposal {id} passed; Execute it instead")]
    Passed { id: u64 },

    #[error("the treasury holds {available}, less than the {requested} to spend")]
    TreasuryShort {
        available: Uint128,
        requested: Uint128,
    },

    #[error("invalid param {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
}
