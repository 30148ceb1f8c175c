use cosmwasm_std::{StdError, Timestamp, Uint128};
use havn_types::AssetError;
use thiserror::Error;

use crate::state::Role;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Asset(#[from] AssetError),

    #[error("{0}")]
    Overflow(#[from] cosmwasm_std::OverflowError),

    #[error("unauthorized: only the staking admin may do this")]
    NotAdmin,

    #[error("unauthorized: only the execution log may report fraud")]
    NotExecutionLog,

    #[error("no execution log is configured yet")]
    NoExecutionLog,

    #[error("{address} is not a bonded operator")]
    NotOperator { address: String },

    #[error("the first bond must register a key (pubkey and proof of possession)")]
    KeyRequired,

    #[error("this operator already has a key; change it with RotateKey")]
    UseRotateKey,

    #[error("invalid public key: {reason}")]
    InvalidKey { reason: String },

    #[error("the proof of possession does not verify: sign possession_digest(chain id, this contract, your address) with the key")]
    KeyNotProven,

    #[error("this key is registered to another operator")]
    KeyTaken,

    #[error("{role:?} stake would be {stake}, below the minimum {min}")]
    BelowMinimum {
        role: Role,
        stake: Uint128,
        min: Uint128,
    },

    #[error("cannot unbond {requested}: only {bonded} is bonded as {role:?}")]
    InsufficientStake {
        role: Role,
        requested: Uint128,
        bonded: Uint128,
    },

    #[error("amount must be above zero")]
    ZeroAmount,

    #[error("{max} claims are already pending; claim or wait for them first")]
    TooManyClaims { max: usize },

    #[error("nothing to claim yet")]
    NothingToClaim,

    #[error("heartbeat too soon: the next one is accepted from {next_at}")]
    HeartbeatTooSoon { next_at: Timestamp },

    #[error("operator is not jailed")]
    NotJailed,

    #[error("operator is jailed until {until}")]
    StillJailed { until: Timestamp },

    #[error("operator is already jailed")]
    AlreadyJailed,

    #[error("bond at least the minimum stake for a role before unjailing")]
    BelowMinimumToUnjail,

    #[error("operator is not down: last heartbeat at {last_heartbeat}")]
    NotDown { last_heartbeat: Timestamp },

    #[error("operator has no stake to slash")]
    NothingToSlash,

    #[error("the two attestations agree (same output hash and verdict): not a double sign")]
    NotConflicting,

    #[error("key is not one this validator ever registered")]
    UnknownKey,

    #[error("invalid evidence: {reason}")]
    InvalidEvidence { reason: String },

    #[error("already slashed for this offence")]
    AlreadySlashed,

    #[error("job {id} is not proven invalid on the execution log: only a re-executed Valid for a proven-invalid result is a false attestation")]
    NotProvenInvalid { id: u64 },

    #[error("job {id} is not on the execution log: evidence must be about a requested job")]
    UnknownJob { id: u64 },

    #[error("invalid param {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },

    #[error("at most {max} nodes per query")]
    TooManyNodes { max: usize },
}
