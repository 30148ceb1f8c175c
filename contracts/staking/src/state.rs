//! Every storage namespace of the staking contract, in one place.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Decimal, Timestamp, Uint128};
use cw_storage_plus::{Item, Map, SnapshotItem, SnapshotMap, Strategy};
use havn_types::Asset;

#[cw_serde]
#[derive(Copy, Eq)]
pub enum Role {
    Node,
    Validator,
}

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub asset: Asset,
    pub treasury: Addr,
    pub execution_log: Option<Addr>,
}

#[cw_serde]
pub struct Params {
    pub min_stake_node: Uint128,
    pub min_stake_validator: Uint128,
    /// Seconds between `Unbond` and the claim's release.
    pub unbonding_period: u64,
    /// Fractions of the role's stake (bonded and unbonding) each reason slashes; each ≤ 1.
    pub slash_fraud: Decimal,
    pub slash_double_sign: Decimal,
    pub slash_downtime: Decimal,
    pub slash_collusion: Decimal,
    /// Fraction of a slash paid to whoever reported or proved it; the rest goes to the treasury.
    pub reporter_reward: Decimal,
    /// A validator that signed a re-executed Valid for a result proven invalid.
    #[serde(default = "default_slash_false_attestation")]
    pub slash_false_attestation: Decimal,
    /// A validator whose Invalid a re-execution quorum overturned: the challenge bond.
    #[serde(default = "default_slash_false_challenge")]
    pub slash_false_challenge: Decimal,
    /// A validator drawn to re-execute a job (by its revealed seed) that signed a structural
    /// Valid instead.
    #[serde(default = "default_slash_lazy")]
    pub slash_lazy: Decimal,
    /// A validator that never revealed an epoch's seed (hiding every draw of the epoch).
    #[serde(default = "default_slash_unrevealed")]
    pub slash_unrevealed: Decimal,
    /// Seconds without a heartbeat after which anyone may report downtime.
    pub downtime_window: u64,
    /// Seconds a slashed operator stays jailed.
    pub jail_period: u64,
    /// Size of the active validator set.
    pub max_validators: u32,
}

/// 30 %: a validator that claims a re-execution of a wrong result either never ran it or covers
/// a fraud; audits find the first at a low rate, so the slash must be large (docs/verification.md).
fn default_slash_false_attestation() -> Decimal {
    Decimal::percent(30)
}

fn default_slash_false_challenge() -> Decimal {
    Decimal::percent(1)
}

fn default_slash_lazy() -> Decimal {
    Decimal::percent(1)
}

fn default_slash_unrevealed() -> Decimal {
    Decimal::percent(10)
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_stake_node: Uint128::new(1_000_000),
            min_stake_validator: Uint128::new(1_000_000),
            unbonding_period: 14 * 24 * 3600,
            slash_fraud: Decimal::percent(10),
            slash_double_sign: Decimal::percent(5),
            slash_downtime: Decimal::permille(1),
            slash_collusion: Decimal::percent(50),
            reporter_reward: Decimal::percent(10),
            slash_false_attestation: default_slash_false_attestation(),
            slash_false_challenge: default_slash_false_challenge(),
            slash_lazy: default_slash_lazy(),
            slash_unrevealed: default_slash_unrevealed(),
            downtime_window: 3600,
            jail_period: 24 * 3600,
            max_validators: 50,
        }
    }
}

#[cw_serde]
pub struct Operator {
    /// 33-byte compressed secp256k1 key, proven held.
    pub pubkey: Binary,
    pub node: Uint128,
    pub validator: Uint128,
    pub jailed_until: Option<Timestamp>,
    pub last_heartbeat: Timestamp,
}

impl Operator {
    pub fn stake(&self, role: Role) -> Uint128 {
        match role {
            Role::Node => self.node,
            Role::Validator => self.validator,
        }
    }

    pub fn stake_mut(&mut self, role: Role) -> &mut Uint128 {
        match role {
            Role::Node => &mut self.node,
            Role::Validator => &mut self.validator,
        }
    }

    pub fn active(&self, role: Role, params: &Params) -> bool {
        let min = match role {
            Role::Node => params.min_stake_node,
            Role::Validator => params.min_stake_validator,
        };
        self.jailed_until.is_none() && !self.stake(role).is_zero() && self.stake(role) >= min
    }
}

#[cw_serde]
pub struct Claim {
    pub role: Role,
    pub amount: Uint128,
    pub release_at: Timestamp,
}

#[cw_serde]
pub struct ActiveValidator {
    pub operator: Addr,
    pub pubkey: Binary,
    pub stake: Uint128,
}

#[cw_serde]
#[derive(Default)]
pub struct Totals {
    pub node: Uint128,
    pub validator: Uint128,
    pub unbonding: Uint128,
}

/// Most outstanding claims one operator may have (bounds the work of every slash).
pub const MAX_CLAIMS: usize = 10;

pub const CONFIG: Item<Config> = Item::new("config");
pub const PARAMS: Item<Params> = Item::new("params");
pub const TOTALS: Item<Totals> = Item::new("totals");
pub const OPERATORS: Map<&Addr, Operator> = Map::new("operators");
pub const CLAIMS: Map<&Addr, Vec<Claim>> = Map::new("claims");
/// Which operator registered a key: one key, one operator.
pub const KEY_OWNER: Map<&[u8], Addr> = Map::new("key_owner");
/// Every key an operator ever registered, so evidence signed before a rotation still counts.
pub const KEY_HISTORY: Map<(&Addr, &[u8]), ()> = Map::new("key_history");
/// Operators with validator stake, for paginated listing.
pub const VALIDATORS: Map<&Addr, ()> = Map::new("validators");
/// Eligible validators by (stake, address) → key: the source of the active set.
pub const VALIDATOR_INDEX: Map<(u128, &Addr), Binary> = Map::new("validator_index");
/// The `max_validators` most staked eligible validators, most stake first: one read per batch.
pub const ACTIVE_SET: Item<Vec<ActiveValidator>> = Item::new("active_set");
/// (validator, job id) already slashed for double-signing.
pub const DOUBLE_SIGNS: Map<(&Addr, u64), ()> = Map::new("double_signs");
/// Jobs slashed before per-operator records (kept so a migrated contract never slashes one twice).
pub const FRAUD_JOBS: Map<u64, ()> = Map::new("fraud_jobs");
/// (job id, operator) → slashed over that job (once each, whatever the log sends).
pub const SLASHED_IN_JOB: Map<(u64, &Addr), ()> = Map::new("slashed_in_job");
/// (validator, job id) already slashed for a false attestation, by the log or a report.
pub const FALSE_ATTESTATIONS: Map<(&Addr, u64), ()> = Map::new("false_attestations");
/// Bonded stake (both roles) per operator and in total, by height, for governance.
pub const POWER: SnapshotMap<&Addr, Uint128> = SnapshotMap::new(
    "power",
    "power__checkpoints",
    "power__changelog",
    Strategy::EveryBlock,
);
pub const TOTAL_POWER: SnapshotItem<Uint128> = SnapshotItem::new(
    "total_power",
    "total_power__checkpoints",
    "total_power__changelog",
    Strategy::EveryBlock,
);
