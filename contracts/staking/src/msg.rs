use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Decimal, HexBinary, Timestamp, Uint128};
use cw20::Cw20ReceiveMsg;
use havn_types::{Asset, AssetUnchecked, Check, Verdict};

pub use crate::state::{ActiveValidator, Claim, Params, Role};

#[cw_serde]
pub struct InstantiateMsg {
    /// Governance: slashes for collusion, sets params. Any address: the Havn governance contract,
    /// a cw3 multisig, a DAO DAO DAO.
    pub admin: String,
    /// $HAI for this deployment (a cw20 token or a bank denom).
    pub asset: AssetUnchecked,
    /// Receives slashed stake (less reporter rewards).
    pub treasury: String,
    /// The execution log, the only sender of fraud slashes. Can be set later with `UpdateConfig`.
    pub execution_log: Option<String>,
    /// Omitted: the defaults.
    pub params: Option<Params>,
}

/// A key registration: the 33-byte compressed secp256k1 key and its 64-byte signature over
/// `havn_types::keys::possession_digest(chain id, this contract, operator)`.
#[cw_serde]
pub struct KeyProof {
    pub pubkey: Binary,
    pub signature: Binary,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Bond the attached $HAI (native funds) for a role. The first bond must register a key.
    Bond { role: Role, key: Option<KeyProof> },
    /// Bond with a cw20 $HAI: the token's `Send` with `ReceiveMsg` inside.
    Receive(Cw20ReceiveMsg),
    /// Replace the operator's key (proved the same way). Old keys stay on record for evidence.
    RotateKey { key: KeyProof },
    /// Start unbonding; the amount stays slashable until claimed after the unbonding period.
    Unbond { role: Role, amount: Uint128 },
    /// Withdraw every claim whose unbonding period has passed.
    Claim {},
    /// Proof of liveness, at most once per half downtime window.
    Heartbeat {},
    /// Leave jail once the jail period is over, if a role is still at its minimum stake.
    Unjail {},
    /// Anyone: an operator whose last heartbeat is older than the downtime window.
    ReportDowntime { operator: String },
    /// Anyone: two conflicting attestations signed by one validator key for one job.
    SubmitDoubleSign { evidence: DoubleSignEvidence },
    /// Anyone: a validator's signed *re-executed* Valid for a job the execution log proved
    /// invalid, however late it comes (the proof may have landed before the vote did):
    /// `slash_false_attestation`, jailed, the reporter rewarded. Once per validator and job,
    /// counting the log's own slash of it.
    ReportFalseAttestation { evidence: FalseAttestation },
    /// The execution log only, once per job: a job's result was proven invalid (the node and
    /// its re-executed Valid signers are slashed) or a challenge against it overturned.
    SlashJob(JobSlash),
    /// The execution log only: a validator proven lazy by its revealed seed (`job_id`: drawn
    /// for that job, signed a structural Valid; `slash_lazy`), or one that never revealed the
    /// epoch's seed (no `job_id`; `slash_unrevealed`). The reporter takes the reward.
    SlashLazy {
        validator: String,
        reporter: String,
        job_id: Option<u64>,
        epoch: u64,
    },
    /// Admin only: slash for collusion or another reason governance decided on.
    Slash {
        operator: String,
        role: Option<Role>,
        reason: String,
        fraction: Option<Decimal>,
    },
    /// Admin only.
    UpdateParams(ParamsUpdate),
    /// Admin only.
    UpdateConfig {
        admin: Option<String>,
        treasury: Option<String>,
        execution_log: Option<String>,
    },
}

/// Who loses stake over one job, as the execution log decided it.
#[cw_serde]
pub struct JobSlash {
    pub job_id: u64,
    /// The node whose result was proven invalid (fraud, `slash_fraud`, jailed).
    pub node: Option<String>,
    /// Validators that signed a re-executed Valid for it (`slash_false_attestation`, jailed).
    pub false_attesters: Vec<String>,
    /// Validators whose Invalid a re-execution quorum overturned (`slash_false_challenge`, not
    /// jailed: the challenge bond).
    pub false_challengers: Vec<String>,
    /// The validators whose Invalid stood: they share the reporter reward.
    pub provers: Vec<String>,
    /// A node that proved a job one of its audits while re-executions upheld its output: it did
    /// not answer wrongly as its audit required (`slash_false_challenge`, not jailed).
    #[serde(default)]
    pub false_auditor: Option<String>,
}

#[cw_serde]
pub enum ReceiveMsg {
    Bond { role: Role, key: Option<KeyProof> },
}

/// Two attestations for one job (same id, workflow, version, node and input) that disagree on
/// the output hash or the verdict, both signed by `validator`'s key `pubkey` (current or former).
#[cw_serde]
pub struct DoubleSignEvidence {
    pub validator: String,
    pub pubkey: Binary,
    pub job_id: u64,
    pub workflow_id: u64,
    pub version_hash: HexBinary,
    pub node: String,
    pub input_hash: HexBinary,
    pub first: SignedVerdict,
    pub second: SignedVerdict,
}

/// A re-executed Valid, signed by `validator`'s key `pubkey` (current or former), for the result
/// the execution log holds for `job_id`.
#[cw_serde]
pub struct FalseAttestation {
    pub validator: String,
    pub pubkey: Binary,
    pub job_id: u64,
    /// The rung the validator said it re-executed at (part of the signed bytes).
    pub check: Check,
    pub signature: Binary,
}

#[cw_serde]
pub struct SignedVerdict {
    pub output_hash: HexBinary,
    pub verdict: Verdict,
    /// What the validator said it checked (part of the signed bytes).
    pub check: Check,
    pub signature: Binary,
}

#[cw_serde]
#[derive(Default)]
pub struct ParamsUpdate {
    pub min_stake_node: Option<Uint128>,
    pub min_stake_validator: Option<Uint128>,
    pub unbonding_period: Option<u64>,
    pub slash_fraud: Option<Decimal>,
    pub slash_double_sign: Option<Decimal>,
    pub slash_downtime: Option<Decimal>,
    pub slash_collusion: Option<Decimal>,
    pub reporter_reward: Option<Decimal>,
    pub slash_false_attestation: Option<Decimal>,
    pub slash_false_challenge: Option<Decimal>,
    pub slash_lazy: Option<Decimal>,
    pub slash_unrevealed: Option<Decimal>,
    pub downtime_window: Option<u64>,
    pub jail_period: Option<u64>,
    pub max_validators: Option<u32>,
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(Params)]
    Params {},
    #[returns(OperatorResponse)]
    Operator { address: String },
    /// Operators with validator stake, by address, paginated (default 10, at most 30).
    #[returns(ValidatorsResponse)]
    Validators {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// Every operator (nodes and validators), by address, paginated (default 10, at most 30):
    /// what a router or validator reads to know who may take part.
    #[returns(OperatorsResponse)]
    Operators {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// The active validator set: eligible validators, most stake first, at most `max_validators`.
    #[returns(ActiveSetResponse)]
    ActiveSet {},
    /// Bonded stake per role, and stake unbonding.
    #[returns(TotalsResponse)]
    Totals {},
    #[returns(ClaimsResponse)]
    Claims { address: String },
    /// What the execution log needs for one batch, in one query: the active set and whether each
    /// of these nodes may be credited with work.
    #[returns(QuorumContextResponse)]
    QuorumContext { nodes: Vec<String> },
    /// Bonded stake (both roles) at a height, for governance.
    #[returns(PowerResponse)]
    VotingPowerAtHeight {
        address: String,
        height: Option<u64>,
    },
    #[returns(PowerResponse)]
    TotalPowerAtHeight { height: Option<u64> },
}

#[cw_serde]
pub struct ConfigResponse {
    pub admin: Addr,
    pub asset: Asset,
    pub treasury: Addr,
    pub execution_log: Option<Addr>,
}

#[cw_serde]
pub struct OperatorResponse {
    pub address: Addr,
    pub pubkey: Binary,
    pub node_stake: Uint128,
    pub validator_stake: Uint128,
    pub unbonding: Uint128,
    pub jailed_until: Option<Timestamp>,
    pub last_heartbeat: Timestamp,
    /// Bonded at least the node minimum and not jailed.
    pub node_active: bool,
    /// Bonded at least the validator minimum and not jailed (it may still be outside the
    /// `max_validators` most staked).
    pub validator_eligible: bool,
}

#[cw_serde]
pub struct ValidatorsResponse {
    pub validators: Vec<OperatorResponse>,
}

#[cw_serde]
pub struct OperatorsResponse {
    pub operators: Vec<OperatorResponse>,
}

#[cw_serde]
pub struct ActiveSetResponse {
    pub validators: Vec<ActiveValidator>,
    pub total_stake: Uint128,
}

#[cw_serde]
pub struct TotalsResponse {
    pub node: Uint128,
    pub validator: Uint128,
    pub unbonding: Uint128,
}

#[cw_serde]
pub struct ClaimsResponse {
    pub claims: Vec<Claim>,
}

#[cw_serde]
pub struct QuorumContextResponse {
    pub validators: Vec<ActiveValidator>,
    pub total_stake: Uint128,
    /// In the order asked.
    pub nodes: Vec<NodeStatus>,
}

#[cw_serde]
pub struct NodeStatus {
    /// Bonded, at its minimum and not jailed.
    pub active: bool,
    /// Its current key, for checking its result claims; `None` if it never bonded.
    pub pubkey: Option<Binary>,
}

#[cw_serde]
pub struct PowerResponse {
    pub power: Uint128,
    pub height: u64,
}
