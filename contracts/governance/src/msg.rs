use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Decimal, Uint128};
use cw20::Cw20ReceiveMsg;
use havn_staking::state::Role;
use havn_types::{Asset, AssetUnchecked, Verdict};
use havn_workflow_registry::state::FlagReason;

pub use crate::state::{Ballot, Params, Proposal, Status, Tally, VoteOption};
pub use crate::tally::Outcome;

#[cw_serde]
pub struct InstantiateMsg {
    /// $HAI for this deployment: deposits and treasury spends are in it.
    pub asset: AssetUnchecked,
    /// Voting power is bonded stake in this staking contract.
    pub staking: String,
    pub registry: String,
    pub execution_log: String,
    pub payout: String,
    /// Omitted: the defaults.
    pub params: Option<Params>,
}

/// What a passed proposal does. The targets must have this contract as their admin.
// A proposal is parsed once and holds a handful of actions: the big params variants cost nothing
// worth boxing (and boxing would change every caller's code, not the JSON).
#[allow(clippy::large_enum_variant)]
#[cw_serde]
pub enum Action {
    /// Registry: default split, dependency and royalty limits, publish deposit.
    UpdateRegistryParams(havn_workflow_registry::msg::ParamsUpdate),
    /// Staking: minimum stakes, slash fractions, reporter reward, unbonding, jail, windows.
    UpdateStakingParams(havn_staking::msg::ParamsUpdate),
    /// Execution log: quorum, minimum signers, job timeout, batch size.
    UpdateExecutionLogParams(havn_execution_log::msg::ParamsUpdate),
    /// Payout: validator share mode (equal or stake-weighted), list caps.
    UpdatePayoutParams(havn_payout::msg::ParamsUpdate),
    /// This contract's own voting rules.
    UpdateGovernanceParams(ParamsUpdate),
    /// Make a workflow unrunnable (spam, stolen, other).
    FlagWorkflow {
        id: u64,
        reason: FlagReason,
        note: Option<String>,
    },
    UnflagWorkflow {
        id: u64,
    },
    /// Slash an operator for collusion (or another reason the vote decided on). Omitted role:
    /// both roles; omitted fraction: staking's collusion fraction.
    SlashOperator {
        operator: String,
        role: Option<Role>,
        reason: String,
        fraction: Option<Decimal>,
    },
    /// Pay from this contract's own $HAI (the treasury; deposits held for open proposals are
    /// not part of it).
    SpendTreasury {
        recipient: String,
        amount: Uint128,
    },
    /// Execution log: decide a job in arbitration (a dispute the validators' re-executions did
    /// not settle in time; voters should re-run it, e.g. `havn verify`): `invalid` refunds the
    /// caller and slashes the node and its re-executed Valid signers, `valid` pays the job and
    /// costs the Invalid voters their bond.
    ArbitrateJob {
        job_id: u64,
        verdict: Verdict,
    },
    /// Registry: decide a copy dispute (the evidence is its two manifests; compare them, e.g.
    /// `havn workflow similar`). Upheld: the copy's creator share goes to the original's creator.
    ResolveCopyDispute {
        dispute_id: u64,
        upheld: bool,
    },
    /// Any other call on a contract this one administers (e.g. an `UpdateConfig`).
    ExecuteContract {
        contract: String,
        msg: Binary,
    },
    /// Migrate a contract whose wasm admin is this contract.
    MigrateContract {
        contract: String,
        code_id: u64,
        msg: Binary,
    },
}

#[cw_serde]
#[derive(Default)]
pub struct ParamsUpdate {
    pub voting_period: Option<u64>,
    pub min_deposit: Option<Uint128>,
    pub quorum: Option<Decimal>,
    pub threshold: Option<Decimal>,
    pub veto_threshold: Option<Decimal>,
    pub max_actions: Option<u32>,
    pub execution_delay: Option<u64>,
}

#[cw_serde]
pub struct ProposeMsg {
    /// 1–140 characters.
    pub title: String,
    /// Up to 10 000 characters.
    pub description: String,
    pub actions: Vec<Action>,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Open a proposal; attach the deposit as native funds. Voting starts now, with power as
    /// bonded at the start of this block. The id is returned as the response data.
    Propose(ProposeMsg),
    /// Propose paying the deposit in a cw20 $HAI: the token's `Send` with `ReceiveMsg` inside.
    Receive(Cw20ReceiveMsg),
    /// Vote with your bonded stake at the proposal's start height; voting again replaces it.
    Vote {
        proposal_id: u64,
        option: VoteOption,
    },
    /// Anyone, after the voting period: run a passed proposal's actions (all or none) and refund
    /// its deposit.
    Execute { proposal_id: u64 },
    /// Anyone, after the voting period: close a proposal that did not pass, refunding its
    /// deposit, or burning it if vetoed.
    Close { proposal_id: u64 },
    /// This contract only (a sub-call of `Execute`): dispatch the actions, so they all revert
    /// together if one fails.
    RunActions { proposal_id: u64 },
}

#[cw_serde]
pub enum ReceiveMsg {
    Propose(ProposeMsg),
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
    #[returns(ProposalResponse)]
    Proposal { id: u64 },
    /// Newest first, paginated (default 10, at most 30).
    #[returns(ProposalsResponse)]
    Proposals {
        start_before: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(VoteResponse)]
    Vote { proposal_id: u64, voter: String },
    /// A voter's power for a proposal (bonded stake at its start height).
    #[returns(havn_staking::msg::PowerResponse)]
    VotingPower { proposal_id: u64, voter: String },
    /// The treasury: this contract's $HAI less the deposits it holds.
    #[returns(TreasuryResponse)]
    Treasury {},
}

#[cw_serde]
pub struct ConfigResponse {
    pub asset: Asset,
    pub staking: Addr,
    pub registry: Addr,
    pub execution_log: Addr,
    pub payout: Addr,
    pub next_id: u64,
}

#[cw_serde]
pub struct ProposalResponse {
    pub proposal: Proposal,
    /// While open: `None` during voting, the outcome the tally gives once voting has ended.
    pub outcome: Option<Outcome>,
}

#[cw_serde]
pub struct ProposalsResponse {
    pub proposals: Vec<Proposal>,
}

#[cw_serde]
pub struct VoteResponse {
    pub ballot: Option<Ballot>,
}

#[cw_serde]
pub struct ProposeResponse {
    pub id: u64,
}

#[cw_serde]
pub struct TreasuryResponse {
    pub balance: Uint128,
    pub deposits_held: Uint128,
    pub available: Uint128,
}
