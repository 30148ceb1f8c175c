use cosmwasm_std::{StdError, Uint128};
use havn_types::{AssetError, RoyaltyError, SplitError};
use thiserror::Error;

use crate::state::FlagReason;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Asset(#[from] AssetError),

    #[error("{0}")]
    Split(#[from] SplitError),

    #[error("{0}")]
    Royalty(#[from] RoyaltyError),

    #[error("unauthorized: only the registry admin may do this")]
    NotAdmin,

    #[error("unauthorized: only the creator of workflow {id} may do this")]
    NotCreator { id: u64 },

    #[error("unauthorized: workflow {id} was not offered to you")]
    NotPendingCreator { id: u64 },

    #[error("workflow {id} has no pending ownership transfer")]
    NoPendingTransfer { id: u64 },

    #[error("workflow {id} already belongs to that address")]
    AlreadyCreator { id: u64 },

    #[error("workflow {id} does not exist")]
    UnknownWorkflow { id: u64 },

    #[error("invalid name: {reason}")]
    InvalidName { reason: String },

    #[error("invalid content hash {hash:?}: expected the 64 hex digits of a SHA-256 digest")]
    InvalidContentHash { hash: String },

    #[error("content hash {hash} is already registered as workflow {id} version {version}; publish a derivative with it as a dependency instead")]
    ContentHashTaken { hash: String, id: u64, version: u32 },

    #[error("{count} dependencies declared; the limit is {max}")]
    TooManyDependencies { count: usize, max: u32 },

    #[error("a workflow cannot depend on itself (workflow {id} is the id being published)")]
    SelfDependency { id: u64 },

    #[error("workflow {id} is listed as a dependency twice")]
    DuplicateDependency { id: u64 },

    #[error("artifact {hash} is listed as a dependency twice")]
    DuplicateArtifact { hash: String },

    #[error("dependency workflow {id} is flagged ({}) and cannot be built on", reason.as_str())]
    FlaggedDependency { id: u64, reason: FlagReason },

    #[error("parent workflow {parent} must also be one of the dependencies")]
    ParentNotADependency { parent: u64 },

    #[error("the upstream share is {upstream} bps; a workflow with dependencies must give them at least {min} bps")]
    UpstreamTooLow { upstream: u16, min: u16 },

    #[error("the {part} share is {bps} bps, under governance's floor of {min} bps")]
    ShareBelowFloor {
        part: &'static str,
        bps: u16,
        min: u16,
    },

    #[error("the publish deposit is {required}; {paid} was attached")]
    WrongDeposit { required: String, paid: String },

    #[error("workflow {id} is already flagged; unflag it first to change the reason")]
    AlreadyFlagged { id: u64 },

    #[error("workflow {id} is not flagged")]
    NotFlagged { id: u64 },

    #[error("flag note is {len} characters; the limit is {max}")]
    NoteTooLong { len: usize, max: usize },

    #[error("asset {hash} is already registered by {owner}")]
    AssetTaken { hash: String, owner: String },

    #[error("asset {hash} is not registered")]
    UnknownAsset { hash: String },

    #[error("asset {hash} is already flagged; unflag it first")]
    AssetAlreadyFlagged { hash: String },

    #[error("asset {hash} is not flagged")]
    AssetNotFlagged { hash: String },

    #[error("{count} artifacts listed; the limit is {max}")]
    TooManyArtifacts { count: usize, max: usize },

    #[error("the manifest uses registered {kind} {hash} without crediting it: declare {kind}:{hash}:{payee}:BPS as a dependency, or depend on a workflow that uses it")]
    UncreditedAsset {
        hash: String,
        kind: &'static str,
        payee: String,
    },

    #[error("asset {hash} is registered to be paid to {payee}; a dependency may not credit it to anyone else")]
    AssetPayeeMismatch { hash: String, payee: String },

    #[error("invalid metadata: {reason}")]
    InvalidMetadata { reason: String },

    #[error("invalid param {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },

    #[error(
        "no publish deposit is required ({0}); send Publish directly instead of through the token"
    )]
    DepositNotRequired(Uint128),

    #[error("a fingerprint is {expected} bytes (128 slots, u32 big-endian); got {len}")]
    InvalidFingerprint { len: usize, expected: usize },

    #[error(
        "derivative detection is on: send the manifest's fingerprint (havn publish computes it)"
    )]
    FingerprintRequired,

    #[error("this workflow is {similarity_bps} bps similar to workflow {candidate} version {version} (governance's threshold: {threshold_bps}) and does not declare it: add it as a dependency and parent, or dispute it if it copies yours")]
    UndeclaredDerivative {
        candidate: u64,
        version: u32,
        similarity_bps: u16,
        threshold_bps: u16,
    },

    #[error("this version is {similarity_bps} bps similar to workflow {candidate} version {version} (governance's threshold: {threshold_bps}), which this workflow's fixed dependencies do not declare: publish it as a new workflow that does")]
    VersionMatches {
        candidate: u64,
        version: u32,
        similarity_bps: u16,
        threshold_bps: u16,
    },

    #[error("the dispute bond is {required}; {paid} was attached")]
    WrongBond { required: Uint128, paid: Uint128 },

    #[error("workflow {id} cannot copy itself")]
    SelfDispute { id: u64 },

    #[error(
        "workflow {original} was published after workflow {copy}: the older one is the original"
    )]
    OriginalIsNewer { copy: u64, original: u64 },

    #[error("workflow {id} is already marked a copy of workflow {of}")]
    AlreadyACopy { id: u64, of: u64 },

    #[error("workflow {copy} already declares workflow {original} (as a dependency or an ancestor of one)")]
    AlreadyDeclared { copy: u64, original: u64 },

    #[error("workflow {id} already has an open dispute ({dispute})")]
    DisputeOpen { id: u64, dispute: u64 },

    #[error("dispute {id} does not exist")]
    UnknownDispute { id: u64 },

    #[error("dispute {id} is already resolved")]
    DisputeClosed { id: u64 },

    #[error("dispute {id} already has a defender")]
    AlreadyDefended { id: u64 },
}
