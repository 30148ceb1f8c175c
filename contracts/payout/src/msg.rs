use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Uint128};
use cw20::Cw20ReceiveMsg;
use havn_types::{Asset, AssetUnchecked, Settlement};

pub use crate::state::{Account, Params, Totals, ValidatorShares, WorkflowEarnings};

#[cw_serde]
pub struct InstantiateMsg {
    /// Governance: sets params and config. Any address (the Havn governance contract, a cw3
    /// multisig, a DAO DAO DAO).
    pub admin: String,
    /// $HAI for this deployment; fees arrive and claims leave in it.
    pub asset: AssetUnchecked,
    /// The execution log, the only sender of `Distribute`. Can be set later with `UpdateConfig`
    /// (the log itself needs this contract's address when it is instantiated).
    pub execution_log: Option<String>,
    /// Credited with the treasury share and every rounding remainder.
    pub treasury: String,
    /// Omitted: the defaults.
    pub params: Option<Params>,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// The execution log only: credit a batch of settled jobs, with exactly their fees attached
    /// as native funds. (A cw20 $HAI arrives as `Receive` with this message inside.)
    Distribute { settlements: Vec<Settlement> },
    /// A cw20 $HAI `Send` from the execution log carrying `Distribute`.
    Receive(Cw20ReceiveMsg),
    /// The execution log only: `validator` proved `count` re-executions it was drawn for; each
    /// is paid `pot_payout_bps` of the re-execution pot.
    PayReexecutions { validator: String, count: u32 },
    /// Send the caller its whole claimable balance.
    Claim {},
    /// Anyone: send the treasury's claimable balance to the treasury (useful when the treasury
    /// is a contract, such as the governance contract, that does not call `Claim` itself).
    ReleaseTreasury {},
    /// Admin only: change some params; omitted fields keep their value.
    UpdateParams(ParamsUpdate),
    /// Admin only.
    UpdateConfig {
        admin: Option<String>,
        execution_log: Option<String>,
        treasury: Option<String>,
    },
}

#[cw_serde]
#[derive(Default)]
pub struct ParamsUpdate {
    pub validator_shares: Option<ValidatorShares>,
    pub max_royalty_payees: Option<u32>,
    pub max_signers: Option<u32>,
    pub max_settlements: Option<u32>,
    pub reexecution_pot_bps: Option<u16>,
    pub pot_payout_bps: Option<u16>,
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
    /// What `address` can claim now.
    #[returns(ClaimableResponse)]
    Claimable { address: String },
    /// Lifetime earnings of `address`: credited, claimed, and claimable now.
    #[returns(EarningsResponse)]
    Earnings { address: String },
    /// "This workflow earned X $HAI across Y runs", and how the fees were divided.
    #[returns(WorkflowEarningsResponse)]
    WorkflowEarnings { workflow_id: u64 },
    /// Whether a job's fee has been distributed.
    #[returns(PaidResponse)]
    Paid { job_id: u64 },
    /// Contract-wide sums; `distributed - claimed + pot` equals the contract's balance.
    #[returns(TotalsResponse)]
    Totals {},
}

#[cw_serde]
pub struct ConfigResponse {
    pub admin: Addr,
    pub asset: Asset,
    pub execution_log: Option<Addr>,
    pub treasury: Addr,
}

#[cw_serde]
pub struct ClaimableResponse {
    pub address: Addr,
    pub amount: Uint128,
}

#[cw_serde]
pub struct EarningsResponse {
    pub address: Addr,
    pub earned: Uint128,
    pub claimed: Uint128,
    pub claimable: Uint128,
}

#[cw_serde]
pub struct WorkflowEarningsResponse {
    pub workflow_id: u64,
    pub runs: u64,
    pub total_fees: Uint128,
    pub creator: Uint128,
    pub upstream: Uint128,
    pub node: Uint128,
    pub validators: Uint128,
    pub treasury: Uint128,
}

#[cw_serde]
pub struct PaidResponse {
    pub job_id: u64,
    pub paid: bool,
}

#[cw_serde]
pub struct TotalsResponse {
    pub distributed: Uint128,
    pub claimed: Uint128,
    /// `distributed - claimed + pot`: what the contract holds for its recipients.
    pub owed: Uint128,
    pub jobs_paid: u64,
    /// The re-execution pot.
    pub pot: Uint128,
}
