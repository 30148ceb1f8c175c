//! Every storage namespace of the execution log, in one place.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Binary;
use cosmwasm_std::{Addr, HexBinary, Timestamp, Uint128};
use cw_storage_plus::{IndexList, IndexedMap, Item, Map, MultiIndex};
use havn_types::{Asset, Check, RoyaltyPayee, Split, Verdict};

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
    /// Most results per `RecordExecution` (and twice this many jobs per `Finalize`).
    pub max_batch: u32,
    /// Blocks a Valid record waits, challengeable, before `Finalize` may pay it out.
    #[serde(default = "default_challenge_window")]
    pub challenge_window: u64,
    /// Blocks a disputed job waits for a re-execution quorum; then the caller is refunded and
    /// nobody is slashed.
    #[serde(default = "default_dispute_timeout")]
    pub dispute_timeout: u64,
    /// Blocks a dispute that timed out waits for governance's `Arbitrate` (late re-executions
    /// still count); then the caller is refunded and nobody is slashed.
    #[serde(default = "default_arbitration_timeout")]
    pub arbitration_timeout: u64,
    /// The floor on the probability that a job is re-executed at least once, in bps: each
    /// validator that committed a seed for the epoch is drawn so that `1 − (1 − r)ⁿ ≥ p_min`.
    #[serde(default = "default_p_min_bps")]
    pub p_min_bps: u16,
    /// Blocks per sampling epoch: seeds are committed before an epoch and revealed after it.
    #[serde(default = "default_epoch_blocks")]
    pub epoch_blocks: u64,
    /// The share of its jobs, in bps, that a node answers wrongly on purpose (its audits,
    /// `havn_types::audit`): a validator that signs one Valid after "re-executing" it is proven
    /// to have run nothing. Fixed for an epoch at its first node commitment.
    #[serde(default = "default_audit_bps")]
    pub audit_bps: u16,
    /// Blocks a node has, once a job of its is proven invalid, to prove the job was one of its
    /// audits; its fraud slash waits that long.
    #[serde(default = "default_audit_window")]
    pub audit_window: u64,
}

/// 1 %: docs/verification.md derives it from the validator stake, `slash_false_attestation` and
/// the cost of a job.
fn default_audit_bps() -> u16 {
    100
}

/// 50 blocks: 5 minutes at 6 s blocks (10 s on the devnet).
fn default_audit_window() -> u64 {
    50
}

/// 20 %: docs/verification.md derives it from the default stakes and fees.
fn default_p_min_bps() -> u16 {
    2_000
}

/// 600 blocks: an hour at 6 s blocks (2 minutes on the devnet).
fn default_epoch_blocks() -> u64 {
    600
}

/// 150 blocks: 15 minutes at 6 s blocks (30 s on the devnet's 200 ms blocks). Long enough for
/// every drawn validator to re-execute any job the default timeout allows; see docs/verification.md.
fn default_challenge_window() -> u64 {
    150
}

/// 600 blocks: an hour at 6 s blocks.
fn default_dispute_timeout() -> u64 {
    600
}

/// 100 800 blocks: a week at 6 s blocks, time for a governance vote (3 days) to pass and run.
fn default_arbitration_timeout() -> u64 {
    100_800
}

impl Default for Params {
    fn default() -> Self {
        Params {
            job_timeout: 3600,
            quorum_bps: 6_667,
            min_signers: 2,
            max_batch: 20,
            challenge_window: default_challenge_window(),
            dispute_timeout: default_dispute_timeout(),
            arbitration_timeout: default_arbitration_timeout(),
            p_min_bps: default_p_min_bps(),
            epoch_blocks: default_epoch_blocks(),
            audit_bps: default_audit_bps(),
            audit_window: default_audit_window(),
        }
    }
}

/// A job's life: `Pending` → (a Valid quorum) `Recorded` → (the window passes) `Valid`, paid;
/// any Invalid vote → `Disputed` → `Invalid` (refund, slashes) or `Valid` (challenge overturned)
/// or, with no re-execution quorum in time, `Arbitration` → governance decides `Invalid` or
/// `Valid`, or nobody does in time and it is `Refunded`. `Pending` past its deadline → `Refunded`.
#[cw_serde]
#[derive(Copy, Eq)]
pub enum JobStatus {
    Pending,
    /// A Valid quorum recorded the result; the fee waits out the challenge window.
    Recorded,
    /// An Invalid vote froze the job until a re-execution quorum decides.
    Disputed,
    /// No re-execution quorum decided the dispute in time (a third of the stake can block
    /// one): governance arbitrates; re-executed votes still count meanwhile.
    Arbitration,
    /// Final: the result stood and the fee went to payout.
    Valid,
    /// Final: proven invalid; the caller was refunded and the liars slashed.
    Invalid,
    /// Final: the caller took the fee back (no quorum in time).
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
    /// The node's signed claim, fixed by the first record or challenge.
    #[serde(default)]
    pub result: Option<ClaimedResult>,
    /// While `Recorded`: the height from which it may be finalized. While `Disputed` or in
    /// `Arbitration`: the height from which it times out. While `Invalid` with the node's audit
    /// proof still due: the height from which the node is slashed without it.
    #[serde(default)]
    pub window_ends: Option<u64>,
    /// Whether the job may be one of its node's audits, and what the node proved.
    #[serde(default)]
    pub audit: AuditState,
}

/// A job's audit (`havn_types::audit`): due once its node committed a tree for the job's epoch,
/// proven one way or the other by the node once the votes are on chain.
#[cw_serde]
#[derive(Copy, Eq, Default)]
pub enum AuditState {
    /// The node committed no tree for the epoch (and none did): no audits.
    #[default]
    Exempt,
    /// The node must prove whether it is an audit: before its challenge window ends (else it is
    /// not paid) or, once proven invalid, within `audit_window` (else the node is slashed).
    Due,
    /// Proven not an audit.
    Clear,
    /// Proven an audit: the output is wrong on purpose; re-executions decide it, the node is not
    /// slashed for it and not paid, and every re-executed Valid on it is a lie.
    Audit,
}

/// What the node signed about its result (`havn_types::mesh::ResultClaim`), checked against its
/// staked key: a validator quorum can neither credit nor frame a node that did not sign.
#[cw_serde]
pub struct ClaimedResult {
    pub node: Addr,
    pub output_hash: HexBinary,
    pub attempt: u32,
    pub executor: String,
    pub device: String,
    pub signature: Binary,
}

/// One validator's verdict on a job's claimed result, counted once per validator.
#[cw_serde]
pub struct Vote {
    pub validator: Addr,
    pub verdict: Verdict,
    pub check: Check,
    /// Its active stake when the vote was counted.
    pub stake: Uint128,
}

/// A direct attestation, stored until a `RecordExecution` counts it.
#[cw_serde]
pub struct DirectAttestation {
    pub node: Addr,
    pub output_hash: HexBinary,
    pub verdict: Verdict,
    #[serde(default = "structural")]
    pub check: Check,
}

fn structural() -> Check {
    Check::Structural
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

/// A validator's sample seed for one epoch: `sha256(secret)` before it, the secret after.
#[cw_serde]
pub struct Seed {
    pub commitment: HexBinary,
    pub secret: Option<HexBinary>,
    /// Reported unrevealed (and slashed) once the reveal window closed.
    #[serde(default)]
    pub reported: bool,
}

/// What an epoch's draws depend on, fixed before it starts: how many validators committed, and
/// the floor in force at the first commitment.
#[cw_serde]
#[derive(Default)]
pub struct EpochInfo {
    pub committed: u32,
    pub p_min_bps: u16,
    /// Nodes that committed an audit tree for the epoch; once any did, every node must.
    #[serde(default)]
    pub auditors: u32,
    /// The audit rate fixed at the epoch's first node commitment.
    #[serde(default)]
    pub audit_bps: u16,
}

pub const CONFIG: Item<Config> = Item::new("config");
/// (epoch, validator) → its seed.
pub const SEEDS: Map<(u64, &Addr), Seed> = Map::new("seeds");
pub const EPOCHS: Map<u64, EpochInfo> = Map::new("epochs");
/// (epoch, node) → the root of its audit tree.
pub const AUDIT_ROOTS: Map<(u64, &Addr), HexBinary> = Map::new("audit_roots");
/// (job id, validator) → reported lazy (once).
pub const LAZY_REPORTED: Map<(u64, &Addr), ()> = Map::new("lazy_reported");
/// (job id, validator) → its drawn re-execution was paid from the pot (once).
pub const REEXECUTIONS_PAID: Map<(u64, &Addr), ()> = Map::new("reexecutions_paid");
pub const PARAMS: Item<Params> = Item::new("params");
pub const NEXT_JOB_ID: Item<u64> = Item::new("next_job_id");
pub const JOBS: Map<u64, Job> = Map::new("jobs");
/// (job id, validator) → what it attested directly.
pub const DIRECT_ATTESTATIONS: Map<(u64, &Addr), DirectAttestation> =
    Map::new("direct_attestations");
pub const STATS: Map<u64, WorkflowStats> = Map::new("stats");
/// Job id → every vote counted on its claimed result (bounded by the active set), one write.
pub const VOTES: Map<u64, Vec<Vote>> = Map::new("votes");
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
