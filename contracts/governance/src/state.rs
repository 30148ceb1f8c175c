//! Every storage namespace of the governance contract, in one place.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Decimal, Timestamp, Uint128};
use cw_storage_plus::{Item, Map};
use havn_types::Asset;

use crate::msg::Action;

#[cw_serde]
pub struct Config {
    pub asset: Asset,
    /// Voting power comes from here (bonded stake, snapshotted by height).
    pub staking: Addr,
    pub registry: Addr,
    pub execution_log: Addr,
    pub payout: Addr,
}

#[cw_serde]
pub struct Params {
    /// Seconds a proposal is open for votes.
    pub voting_period: u64,
    /// $HAI a proposer must deposit; refunded unless the proposal is vetoed.
    pub min_deposit: Uint128,
    /// Share of the total voting power that must vote (x/gov: 0.334).
    pub quorum: Decimal,
    /// Share of yes among yes + no + veto needed to pass (x/gov: 0.5).
    pub threshold: Decimal,
    /// Share of no-with-veto among all votes that rejects and burns the deposit (x/gov: 0.334).
    pub veto_threshold: Decimal,
    /// Most actions in one proposal.
    pub max_actions: u32,
    /// Seconds between the end of a passed proposal's vote and when it may run: time for
    /// operators and holders to see what passed (and leave) before it takes effect.
    #[serde(default = "default_execution_delay")]
    pub execution_delay: u64,
}

/// Two days.
fn default_execution_delay() -> u64 {
    2 * 24 * 3600
}

/// The shortest timelock governance may set: a day.
pub const MIN_EXECUTION_DELAY: u64 = 24 * 3600;

impl Default for Params {
    fn default() -> Self {
        Params {
            voting_period: 3 * 24 * 3600,
            min_deposit: Uint128::new(1_000_000_000),
            quorum: Decimal::permille(334),
            threshold: Decimal::percent(50),
            veto_threshold: Decimal::permille(334),
            max_actions: 10,
            execution_delay: default_execution_delay(),
        }
    }
}

pub const MAX_ACTIONS_CEILING: u32 = 32;
pub const MAX_TITLE: usize = 140;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_REASON: usize = 280;

#[cw_serde]
#[derive(Copy, Eq)]
pub enum VoteOption {
    Yes,
    No,
    Abstain,
    NoWithVeto,
}

#[cw_serde]
#[derive(Default)]
pub struct Tally {
    pub yes: Uint128,
    pub no: Uint128,
    pub abstain: Uint128,
    pub no_with_veto: Uint128,
}

/// Where a proposal stands. `Open` becomes one of the others once its voting period is over and
/// someone calls `Execute` (passed) or `Close` (anything else).
#[cw_serde]
#[derive(Copy, Eq)]
pub enum Status {
    Open,
    /// Passed and its actions ran.
    Executed,
    /// Passed, but an action failed; none of them took effect (see `execution_error`).
    Failed,
    /// Not passed: too few votes, or too few yes. Deposit refunded.
    Rejected,
    /// More no-with-veto than the veto threshold. Deposit burned.
    Vetoed,
}

#[cw_serde]
pub struct Proposal {
    pub id: u64,
    pub proposer: Addr,
    pub title: String,
    pub description: String,
    pub actions: Vec<Action>,
    pub deposit: Uint128,
    /// Voting power is bonded stake as it was at the start of this block.
    pub start_height: u64,
    pub start_time: Timestamp,
    pub voting_end: Timestamp,
    /// Total bonded stake at `start_height`: the quorum's denominator.
    pub total_power: Uint128,
    pub tally: Tally,
    pub status: Status,
    pub execution_error: Option<String>,
}

/// A voter's current ballot on a proposal (a new vote replaces it).
#[cw_serde]
pub struct Ballot {
    pub option: VoteOption,
    pub power: Uint128,
}

pub const CONFIG: Item<Config> = Item::new("config");
pub const PARAMS: Item<Params> = Item::new("params");
pub const NEXT_ID: Item<u64> = Item::new("next_id");
pub const PROPOSALS: Map<u64, Proposal> = Map::new("proposals");
pub const BALLOTS: Map<(u64, &Addr), Ballot> = Map::new("ballots");
/// Deposits of open proposals: held, not part of the treasury.
pub const DEPOSITS_HELD: Item<Uint128> = Item::new("deposits_held");
