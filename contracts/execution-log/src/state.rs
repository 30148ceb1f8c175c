//! Every storage namespace of the execution log, in one place.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, HexBinary, Timestamp, Uint128};
use cw_storage_plus::{IndexList, IndexedMap, Item, Map, MultiIndex};
use havn_types::{Asset, RoyaltyPayee, Split, Verdict};

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub asset: Asset,
    pub registry: Addr,
    pub staking: Addr,
    pub payout: Addr,
}

#[cw_serde]
pub struct Params {
    /// Seconds a job may wait for a quorum before the caller can take the fee back.
    pub job_timeout: u64,
    /// Attesting stake needed, in bps of the active validator stake.
    pub quorum_bps: u16,
    /// And at least this many distinct validators.
    pub min_signers: u32,
    /// Most results per `RecordExecution`.
    pub max_batch: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            job_timeout: 3600,
            quorum_bps: 6_667,
            min_signers: 2,
            max_batch: 20,
        }
    }
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum JobStatus {
    Pending,
    Valid,
    Invalid,
    Refunded,
}

/// A requested job, with the registry's terms as they were at request time.
#[cw_serde]
pub struct Job {
    pub id: u64,
    pub workflow_id: u64,
    pub version: u32,
    pub version_hash: HexBinary,
    pub caller: Addr,
    pub input_hash: HexBinary,
    pub fee: Uint128,
    pub creator: Addr,
    pub split: Split,
    pub royalty_stack: Vec<RoyaltyPayee>,
    pub requested_height: u64,
    pub deadline: Timestamp,
    pub status: JobStatus,
}

/// A direct attestation, stored until a `RecordExecution` counts it.
#[cw_serde]
pub struct DirectAttestation {
    pub node: Addr,
    pub output_hash: HexBinary,
    pub verdict: Verdict,
}

/// Proof that a job ran and a validator quorum accepted its result.
#[cw_serde]
pub struct Execution {
    pub job_id: u64,
    pub workflow_id: u64,
    pub version: u32,
    pub caller: Addr,
    pub node: Addr,
    pub output_hash: HexBinary,
    pub signers: Vec<Addr>,
    pub fee: Uint128,
    pub height: u64,
    pub time: Timestamp,
}

#[cw_serde]
#[derive(Default)]
pub struct WorkflowStats {
    pub runs: u64,
    pub total_fees: Uint128,
}

pub const CONFIG: Item<Config> = Item::new("config");
pub const PARAMS: Item<Params> = Item::new("params");
pub const NEXT_JOB_ID: Item<u64> = Item::new("next_job_id");
pub const JOBS: Map<u64, Job> = Map::new("jobs");
/// (job id, validator) → what it attested directly.
pub const DIRECT_ATTESTATIONS: Map<(u64, &Addr), DirectAttestation> =
    Map::new("direct_attestations");
pub const STATS: Map<u64, WorkflowStats> = Map::new("stats");
/// Fees held for pending jobs: what this contract owes, and its $HAI balance.
pub const ESCROW: Item<Uint128> = Item::new("escrow");

/// Moves `amount` into (`true`) or out of (`false`) the escrow total.
pub fn adjust_escrow(
    storage: &mut dyn cosmwasm_std::Storage,
    amount: Uint128,
    into: bool,
) -> cosmwasm_std::StdResult<()> {
    let held = ESCROW.may_load(storage)?.unwrap_or_default();
    let held = match into {
        true => held.checked_add(amount)?,
        false => held.checked_sub(amount)?,
    };
    ESCROW.save(storage, &held)
}

pub struct ExecutionIndexes<'a> {
    pub workflow: MultiIndex<'a, u64, Execution, u64>,
    pub caller: MultiIndex<'a, Addr, Execution, u64>,
    pub node: MultiIndex<'a, Addr, Execution, u64>,
}

impl IndexList<Execution> for ExecutionIndexes<'_> {
    fn get_indexes(
        &'_ self,
    ) -> Box<dyn Iterator<Item = &'_ dyn cw_storage_plus::Index<Execution>> + '_> {
        let v: Vec<&dyn cw_storage_plus::Index<Execution>> =
            vec![&self.workflow, &self.caller, &self.node];
        Box::new(v.into_iter())
    }
}

const EXECUTIONS_NAMESPACE: &str = "executions";

pub fn executions<'a>() -> IndexedMap<u64, Execution, ExecutionIndexes<'a>> {
    IndexedMap::new(
        EXECUTIONS_NAMESPACE,
        ExecutionIndexes {
            workflow: MultiIndex::new(
                |_pk, e: &Execution| e.workflow_id,
                EXECUTIONS_NAMESPACE,
                "executions__workflow",
            ),
            caller: MultiIndex::new(
                |_pk, e: &Execution| e.caller.clone(),
                EXECUTIONS_NAMESPACE,
                "executions__caller",
            ),
            node: MultiIndex::new(
                |_pk, e: &Execution| e.node.clone(),
                EXECUTIONS_NAMESPACE,
                "executions__node",
            ),
        },
    )
}
