use cosmwasm_std::{StdError, Timestamp, Uint128};
use havn_types::AssetError;
use thiserror::Error;

use crate::state::{AuditState, JobStatus};

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Asset(#[from] AssetError),

    #[error("{0}")]
    Overflow(#[from] cosmwasm_std::OverflowError),

    #[error("unauthorized: only the execution-log admin may do this")]
    NotAdmin,

    #[error("workflow {id} is not in the registry")]
    UnknownWorkflow { id: u64 },

    #[error("workflow {id} is flagged and cannot be run")]
    NotRunnable { id: u64 },

    #[error("fee {fee} is below the workflow's price {price}")]
    FeeBelowPrice { fee: String, price: String },

    #[error("{what} must be a 32-byte hash, got {len} bytes")]
    InvalidHash { what: &'static str, len: usize },

    #[error("job {id} does not exist")]
    UnknownJob { id: u64 },

    #[error("job {id} is already {status:?}")]
    AlreadySettled { id: u64, status: JobStatus },

    #[error("job {id} expired at {deadline}; the caller may take the fee back with Refund")]
    Expired { id: u64, deadline: Timestamp },

    #[error("job {id} is still open until {deadline}")]
    NotExpired { id: u64, deadline: Timestamp },

    #[error("unauthorized: only the caller of job {id} may refund it")]
    NotCaller { id: u64 },

    #[error("{node} is not a bonded, unjailed node")]
    NodeNotActive { node: String },

    #[error("unauthorized: {sender} is not in the active validator set")]
    NotActiveValidator { sender: String },

    #[error("{validator} already attested job {id}")]
    AlreadyAttested { id: u64, validator: String },

    #[error("a batch needs 1 to {max} results, got {count}")]
    BadBatchSize { count: usize, max: u32 },

    #[error("no quorum: {signers} signers with {signed} of {total} active stake")]
    NoQuorum {
        signers: usize,
        signed: Uint128,
        total: Uint128,
    },

    #[error("{node} has no staked key: bond it as a node before its results can be recorded")]
    UnknownNode { node: String },

    #[error("the result claim is not signed by {node}'s staked key")]
    BadClaim { node: String },

    #[error("job {id} already has a different result on record (another node or output)")]
    ResultMismatch { id: u64 },

    #[error("job {id}: no new vote from an active validator (unknown signer, bad signature, or already counted)")]
    NoNewVotes { id: u64 },

    #[error("job {id}'s challenge window closed at height {ends}; Finalize pays it out")]
    WindowClosed { id: u64, ends: u64 },

    #[error("job {id} is in its {window} window until height {ends}")]
    WindowOpen {
        id: u64,
        window: &'static str,
        ends: u64,
    },

    #[error("job {id} is {status:?}, not in arbitration (only a dispute that timed out is)")]
    NotInArbitration { id: u64, status: JobStatus },

    #[error("job {id} has no result on record yet")]
    NotRecorded { id: u64 },

    #[error("a challenge carries exactly one attestation, with verdict invalid")]
    NotAChallenge,

    #[error("epoch {epoch}: {reason}")]
    BadEpoch { epoch: u64, reason: String },

    #[error("a seed for epoch {epoch} is already committed")]
    AlreadyCommitted { epoch: u64 },

    #[error("{validator} committed no seed for epoch {epoch}")]
    NoSeed { epoch: u64, validator: String },

    #[error("the seed for epoch {epoch} is already revealed")]
    AlreadyRevealed { epoch: u64 },

    #[error("the secret does not hash to the commitment for epoch {epoch}")]
    BadReveal { epoch: u64 },

    #[error("{validator} has not revealed its seed for epoch {epoch} yet")]
    SeedNotRevealed { epoch: u64, validator: String },

    #[error("{validator} is not lazy on job {id}: {reason}")]
    NotLazy {
        id: u64,
        validator: String,
        reason: String,
    },

    #[error("{validator} was not drawn to re-execute job {id}")]
    NotDrawn { id: u64, validator: String },

    #[error("already reported")]
    AlreadyReported,

    #[error("{node} committed no audit tree for epoch {epoch}, and the epoch's nodes must (CommitAudit before the epoch)")]
    NoAuditRoot { node: String, epoch: u64 },

    #[error("an audit tree for epoch {epoch} is already committed")]
    AuditAlreadyCommitted { epoch: u64 },

    #[error("unauthorized: {sender} is not a bonded, unjailed node")]
    NotActiveNode { sender: String },

    #[error("unauthorized: only job {id}'s node proves its audit")]
    NotJobNode { id: u64 },

    #[error("job {id}'s audit is not due ({state:?}): {reason}")]
    AuditNotDue {
        id: u64,
        state: AuditState,
        reason: &'static str,
    },

    #[error("job {id}: the leaf and path do not lead to the node's audit root for epoch {epoch}")]
    BadAuditProof { id: u64, epoch: u64 },

    #[error("invalid param {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
}
