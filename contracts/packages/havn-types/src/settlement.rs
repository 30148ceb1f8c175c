//! What the execution log hands the payout contract for each job a validator quorum accepted:
//! everything needed to split the fee, snapshotted when the job was requested, so settlement never
//! queries the registry and a later change cannot alter a job already paid for.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Uint128};

use crate::split::Split;

#[cw_serde]
pub struct RoyaltyPayee {
    pub payee: Addr,
    pub bps: u16,
}

#[cw_serde]
pub struct Settlement {
    pub job_id: u64,
    pub workflow_id: u64,
    pub fee: Uint128,
    pub split: Split,
    pub creator: Addr,
    /// Sums to `split.upstream` bps.
    pub royalty_stack: Vec<RoyaltyPayee>,
    pub node: Addr,
    /// The validators whose attestations made the quorum, with the stake each had then.
    pub validators: Vec<(Addr, Uint128)>,
}

/// The payout contract's settlement entry point: one message per `RecordExecution` batch, with the
/// batch's fees attached (native funds, or as the `msg` of a cw20 `Send`).
#[cw_serde]
pub enum PayoutMsg {
    Distribute { settlements: Vec<Settlement> },
}
