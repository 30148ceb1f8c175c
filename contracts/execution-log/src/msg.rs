use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, HexBinary, Uint128, Uint64};
use cw20::Cw20ReceiveMsg;
use havn_types::{Asset, AssetUnchecked, Check, Verdict};

pub use crate::state::{
    AuditState, ClaimedResult, Execution, Job, JobStatus, Params, Seed, Vote, WorkflowStats,
};

#[cw_serde]
pub struct InstantiateMsg {
    /// Governance: sets params. Any address (governance contract, cw3 multisig, DAO DAO DAO).
    pub admin: String,
    /// $HAI for this deployment; fees are paid in it.
    pub asset: AssetUnchecked,
    pub registry: String,
    pub staking: String,
    /// Receives each batch's fees with a `Distribute` message.
    pub payout: String,
    pub params: Option<Params>,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Request a run of a workflow, paying the fee (≥ the workflow's price) as native funds. The
    /// job id is returned as the response data.
    RequestJob {
        workflow_id: u64,
        input_hash: HexBinary,
    },
    /// Request paying with a cw20 $HAI: the token's `Send` with `ReceiveMsg` inside.
    Receive(Cw20ReceiveMsg),
    /// Anyone: record a batch of results with the node's signed claim and the validators'
    /// signed attestations (every verdict, dissent included). Each job is judged on its own, see
    /// the `havn_job` events: a Valid quorum with no dissent is `recorded` (paid after the
    /// challenge window); any Invalid vote `disputed`; a quorum of Invalid, or of re-executed
    /// verdicts on a disputed job, decides it. Results for recorded or disputed jobs add votes.
    RecordExecution { results: Vec<JobResult> },
    /// Anyone (a validator, without the router): a signed Invalid attestation against a job's
    /// result, with the node's claim. Disputes a pending job or a recorded one within its window.
    Challenge { result: JobResult },
    /// Anyone: pays out recorded jobs whose window passed, sends disputes that timed out to
    /// governance's arbitration, and refunds arbitrations that timed out; other ids are skipped
    /// (see the `havn_finalize` events). At most twice `max_batch`.
    Finalize { job_ids: Vec<u64> },
    /// A validator attests directly (the tx authenticates it): counts toward the quorum of a
    /// later `RecordExecution` of a pending job, or as a vote on a disputed one at once.
    Attest {
        job_id: u64,
        node: String,
        output_hash: HexBinary,
        verdict: Verdict,
        check: Check,
    },
    /// Admin (governance) only: decide a job in `Arbitration` (a dispute no re-execution quorum
    /// decided in time), as a re-execution quorum would have.
    Arbitrate { job_id: u64, verdict: Verdict },
    /// An active validator: `sha256(secret)` of its sample seed for one of the next two epochs
    /// (`havn_types::sampling`); it draws the epoch's jobs with the secret.
    CommitSeed { epoch: u64, commitment: HexBinary },
    /// The validator, once the epoch is over (by the end of the next one): the secret itself.
    RevealSeed { epoch: u64, secret: HexBinary },
    /// Anyone: `validator` was drawn for the job by its revealed seed and signed a structural
    /// Valid anyway. Staking slashes it `slash_lazy` and pays the reporter its reward.
    ReportLazy { job_id: u64, validator: String },
    /// Anyone: `validator` committed a seed for `epoch` and did not reveal it by the end of the
    /// next epoch. Staking slashes it `slash_unrevealed`.
    ReportUnrevealed { epoch: u64, validator: String },
    /// A validator, once its seed for the jobs' epochs is revealed: the re-executions it was
    /// drawn for, or asked for by a dispute (any Invalid vote, or the node's audit), and got right
    /// (its vote agrees with the final verdict), each paid from payout's re-execution pot. Other ids are skipped with their reason (`havn_reexecution` events).
    /// At most twice `max_batch`.
    ClaimReexecutions { job_ids: Vec<u64> },
    /// An active node: the root of its audit tree for one of the next two epochs
    /// (`havn_types::audit`). Once any node committed for an epoch, the epoch's results are
    /// recorded only from nodes that did, and each of their jobs waits for the node's proof.
    CommitAudit { epoch: u64, root: HexBinary },
    /// The jobs' node, once their votes are on chain: for each job the leaf it drew with and the
    /// path to the committed root. Not an audit: the job is paid when its window ends. An audit:
    /// a recorded job is disputed (re-executions decide it), and one already proven invalid
    /// costs the node nothing. At most twice `max_batch`; one bad proof fails them all.
    ProveAudit { proofs: Vec<AuditProof> },
    /// The caller takes the fee back once the deadline passed without a quorum.
    Refund { job_id: u64 },
    /// Admin only.
    UpdateParams(ParamsUpdate),
    /// Admin only.
    UpdateConfig {
        admin: Option<String>,
        payout: Option<String>,
    },
}

/// A job's leaf and its Merkle path (`AUDIT_DEPTH` sibling hashes, from the leaf up).
#[cw_serde]
pub struct AuditProof {
    pub job_id: u64,
    pub leaf: HexBinary,
    pub path: Vec<HexBinary>,
}

#[cw_serde]
pub enum ReceiveMsg {
    RequestJob {
        workflow_id: u64,
        input_hash: HexBinary,
    },
}

/// One job's result: the node's claim and what the validators signed about it.
#[cw_serde]
pub struct JobResult {
    pub job_id: u64,
    pub node: String,
    pub output_hash: HexBinary,
    pub claim: NodeClaim,
    pub attestations: Vec<SignedAttestation>,
}

/// The node's 64-byte secp256k1 signature over `havn_types::mesh::ResultClaim::digest`.
#[cw_serde]
pub struct NodeClaim {
    pub attempt: u32,
    pub executor: String,
    pub device: String,
    pub signature: Binary,
}

/// A validator's 64-byte secp256k1 signature over `havn_types::Attestation::digest` of the
/// result it accompanies, with this verdict and check.
#[cw_serde]
pub struct SignedAttestation {
    pub validator: String,
    pub verdict: Verdict,
    pub check: Check,
    pub signature: Binary,
}

#[cw_serde]
#[derive(Default)]
pub struct ParamsUpdate {
    pub job_timeout: Option<u64>,
    pub quorum_bps: Option<u16>,
    pub min_signers: Option<u32>,
    pub max_batch: Option<u32>,
    pub challenge_window: Option<u64>,
    pub dispute_timeout: Option<u64>,
    pub arbitration_timeout: Option<u64>,
    pub p_min_bps: Option<u16>,
    pub epoch_blocks: Option<u64>,
    pub audit_bps: Option<u16>,
    pub audit_window: Option<u64>,
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
    #[returns(Job)]
    Job { id: u64 },
    /// The votes counted on a job's claimed result.
    #[returns(VotesResponse)]
    Votes { job_id: u64 },
    /// Valid executions of a workflow, by job id, paginated (default 10, at most 30).
    #[returns(ExecutionsResponse)]
    ExecutionsByWorkflow {
        workflow_id: u64,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(ExecutionsResponse)]
    ExecutionsByCaller {
        caller: String,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(ExecutionsResponse)]
    ExecutionsByNode {
        node: String,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// "This workflow earned X across Y runs."
    #[returns(WorkflowStats)]
    WorkflowStats { workflow_id: u64 },
    /// A sampling epoch (default: the current one): its heights, how many validators committed a
    /// seed for it, and the draw threshold they use.
    #[returns(EpochResponse)]
    Epoch { epoch: Option<u64> },
    /// A node's audit root for an epoch, if it committed one.
    #[returns(Option<HexBinary>)]
    AuditRoot { epoch: u64, node: String },
    /// A validator's seed for an epoch, if it committed one.
    #[returns(Option<Seed>)]
    Seed { epoch: u64, validator: String },
    /// Fees held for pending jobs (equal to this contract's $HAI balance).
    #[returns(EscrowResponse)]
    Escrow {},
}

#[cw_serde]
pub struct EpochResponse {
    pub epoch: u64,
    /// The epoch at this height.
    pub current: u64,
    pub start_height: u64,
    /// The first height after it.
    pub end_height: u64,
    pub committed: u32,
    /// The floor fixed at the epoch's first commitment.
    pub p_min_bps: u16,
    /// A validator is drawn for a job when its draw is below this (out of 2⁶⁴).
    pub threshold: Uint64,
    /// Nodes that committed an audit tree for the epoch.
    pub auditors: u32,
    /// The audit rate fixed at the epoch's first node commitment.
    pub audit_bps: u16,
}

#[cw_serde]
pub struct VotesResponse {
    pub votes: Vec<Vote>,
}

#[cw_serde]
pub struct EscrowResponse {
    pub escrowed: Uint128,
}

#[cw_serde]
pub struct ConfigResponse {
    pub admin: Addr,
    pub asset: Asset,
    pub registry: Addr,
    pub staking: Addr,
    pub payout: Addr,
    pub next_job_id: u64,
}

#[cw_serde]
pub struct RequestJobResponse {
    pub job_id: u64,
}

#[cw_serde]
pub struct ExecutionsResponse {
    pub executions: Vec<Execution>,
}
