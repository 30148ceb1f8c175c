//! The Havn workflow registry: who owns which workflow, its versions (content hashes of the
//! canonical manifest), price, royalty split and dependency graph, and the flattened royalty
//! stack that payout reads. See `docs/workflow-registry.md` for the design.

mod assets;
pub mod contract;
mod derivatives;
mod disputes;
mod error;
mod execute;
pub mod msg;
mod query;
pub mod state;

pub use crate::assets::MAX_ARTIFACTS;
pub use crate::derivatives::validate_rules;
pub use crate::error::ContractError;
