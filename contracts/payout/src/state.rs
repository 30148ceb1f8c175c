//! Every storage namespace of the payout contract, in one place.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Uint128};
use cw_storage_plus::{Item, Map};
use havn_types::Asset;

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub asset: Asset,
    /// The only sender of `Distribute`; unset until the deployment wires it.
    pub execution_log: Option<Addr>,
    /// Credited with the treasury share and every rounding remainder.
    pub treasury: Addr,
}

/// How the validator share of a fee is divided among the validators whose signatures made the
/// job's quorum.
#[cw_serde]
#[derive(Copy, Eq)]
pub enum ValidatorShares {
    /// The same amount each.
    Equal,
    /// In proportion to the stake each had in the active set when the job was recorded.
    StakeWeighted,
}

#[cw_serde]
pub struct Params {
    pub validator_shares: ValidatorShares,
    /// Most royalty-stack entries one settlement may carry (the registry caps stacks at 64).
    pub max_royalty_payees: u32,
    /// Most validators one settlement may pay (the execution log counts at most 100 signers).
    pub max_signers: u32,
    /// Most settlements in one `Distribute` (the execution log's batches are at most 50).
    pub max_settlements: u32,
    /// Share (bps) of each job's validator pool that goes to the re-execution pot instead of
    /// its signers: re-executing costs what the node's run costs, more than one job's pool, so
    /// the pot pools it across jobs for the validators drawn to re-execute
    /// (docs/verification.md, "Checking pays").
    #[serde(default = "default_reexecution_pot_bps")]
    pub reexecution_pot_bps: u16,
    /// Share (bps) of the pot each proven re-execution (`PayReexecutions`) is paid.
    #[serde(default = "default_pot_payout_bps")]
    pub pot_payout_bps: u16,
}

/// 80 %: a drawn re-execution then earns about 0.8 × pool / p_min (docs/verification.md),
/// above its cost for any node margin over about 20 % at the default split.
fn default_reexecution_pot_bps() -> u16 {
    8_000
}

fn default_pot_payout_bps() -> u16 {
    100
}

impl Default for Params {
    fn default() -> Self {
        Params {
            // Equal shares would let one operator split its stake into many minimum-stake
            // validators and take a share for each (docs/payout.md).
            validator_shares: ValidatorShares::StakeWeighted,
            max_royalty_payees: 64,
            max_signers: 100,
            max_settlements: 50,
            reexecution_pot_bps: default_reexecution_pot_bps(),
            pot_payout_bps: default_pot_payout_bps(),
        }
    }
}

/// Hard ceilings, so no params update can make `Distribute` walk an unbounded list.
pub const MAX_ROYALTY_PAYEES_CEILING: u32 = 128;
pub const MAX_SIGNERS_CEILING: u32 = 200;
pub const MAX_SETTLEMENTS_CEILING: u32 = 100;

/// One recipient's money.
#[cw_serde]
#[derive(Default)]
pub struct Account {
    /// Credited and not yet claimed.
    pub claimable: Uint128,
    /// Everything ever credited (lifetime earnings).
    pub earned: Uint128,
    /// Everything ever claimed.
    pub claimed: Uint128,
}

/// What one workflow's runs paid, and to whom.
#[cw_serde]
#[derive(Default)]
pub struct WorkflowEarnings {
    pub runs: u64,
    pub total_fees: Uint128,
    pub creator: Uint128,
    pub upstream: Uint128,
    pub node: Uint128,
    pub validators: Uint128,
    /// Treasury share plus rounding remainders.
    pub treasury: Uint128,
}

/// Contract-wide sums: `distributed - claimed + pot` is what the contract owes, and its balance.
#[cw_serde]
#[derive(Default)]
pub struct Totals {
    pub distributed: Uint128,
    pub claimed: Uint128,
    pub jobs_paid: u64,
    /// Held for re-executions not yet proven.
    #[serde(default)]
    pub pot: Uint128,
}

pub const CONFIG: Item<Config> = Item::new("config");
pub const PARAMS: Item<Params> = Item::new("params");
pub const ACCOUNTS: Map<&Addr, Account> = Map::new("accounts");
/// Job ids already paid: a job is never paid twice.
pub const PAID: Map<u64, ()> = Map::new("paid");
pub const WORKFLOWS: Map<u64, WorkflowEarnings> = Map::new("workflows");
pub const TOTALS: Item<Totals> = Item::new("totals");
