//! Types and math that Havn's contracts and its off-chain services must agree on byte for byte.
//!
//! This crate compiles both to wasm (inside every contract) and natively (in the mesh and the SDK),
//! and has no entry points. Anything two sides must compute identically lives here, once:
//! - [`asset`]: $HAI as a cw20 token or a native / IBC denom, and how it is paid and sent;
//! - [`split`]: basis-point fee splits (creator / upstream / node / validator / treasury);
//! - [`royalty`]: flattening a dependency graph into a bounded royalty stack at publish time;
//! - [`attestation`]: the canonical bytes a validator signs for a job;
//! - [`keys`]: the proof-of-possession digest an operator's key signs when it is registered;
//! - [`mesh`]: what the compute mesh signs off-chain (connection hellos, nodes' result claims);
//! - [`quorum`]: when attesting stake is a quorum, and what a job's votes decide;
//! - [`sampling`]: which jobs a validator re-executes;
//! - [`audit`]: which of its jobs a node answers wrongly on purpose, and how it proves them;
//! - [`settlement`]: what the execution log hands payout for each accepted job;
//! - [`fingerprint`]: MinHash signatures of workflows, their similarity and LSH band keys.

pub mod asset;
pub mod attestation;
pub mod audit;
pub mod fingerprint;
pub mod keys;
pub mod mesh;
pub mod quorum;
pub mod royalty;
pub mod sampling;
pub mod settlement;
pub mod split;

pub use asset::{Asset, AssetError, AssetUnchecked};
pub use attestation::{
    contradicts, Attestation, AttestationDigest, Check, Verdict, ATTESTATION_DOMAIN,
};
pub use quorum::{decide, quorum_reached, Ballot, Decision};
pub use royalty::{
    compose_levels, royalty_stack, Edge, EdgeTarget, Payee, PoolShare, RoyaltyError, StackShare,
    POOL_UNITS,
};
pub use settlement::{PayoutMsg, RoyaltyPayee, Settlement};
pub use split::{apportion_fee, divide_pool, FeeShares, Split, SplitError, BPS_TOTAL};
