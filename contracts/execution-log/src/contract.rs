//! Entry points. Handlers live in `execute.rs`, `record.rs`, `finalize.rs` and `query.rs`.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{from_json, Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};
use cw2::{ensure_from_older_version, set_contract_version};
use havn_types::asset::nonpayable;

use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg, ReceiveMsg};
use crate::state::{Config, CONFIG, NEXT_JOB_ID, PARAMS};
use crate::{audits, execute, finalize, query, record, seeds};

pub const CONTRACT_NAME: &str = "crates.io:havn-execution-log";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    nonpayable(&info)?;
    let params = msg.params.unwrap_or_default();
    execute::validate_params(&params)?;
    let config = Config {
        admin: deps.api.addr_validate(&msg.admin)?,
        asset: msg.asset.check(deps.api)?,
        registry: deps.api.addr_validate(&msg.registry)?,
        staking: deps.api.addr_validate(&msg.staking)?,
        payout: deps.api.addr_validate(&msg.payout)?,
    };
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    CONFIG.save(deps.storage, &config)?;
    PARAMS.save(deps.storage, &params)?;
    NEXT_JOB_ID.save(deps.storage, &1)?;
    Ok(Response::new().add_attribute("action", "instantiate"))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    // Only a native-funded RequestJob takes funds; anything attached elsewhere would be stranded.
    if !matches!(msg, ExecuteMsg::RequestJob { .. }) {
        nonpayable(&info)?;
    }
    match msg {
        ExecuteMsg::RequestJob {
            workflow_id,
            input_hash,
        } => {
            let fee = CONFIG.load(deps.storage)?.asset.native_payment(&info)?;
            execute::request_job(deps, &env, info.sender, workflow_id, input_hash, fee)
        }
        ExecuteMsg::Receive(wrapper) => {
            let fee = CONFIG
                .load(deps.storage)?
                .asset
                .cw20_payment(&info.sender, wrapper.amount)?;
            let caller = deps.api.addr_validate(&wrapper.sender)?;
            match from_json(&wrapper.msg)? {
                ReceiveMsg::RequestJob {
                    workflow_id,
                    input_hash,
                } => execute::request_job(deps, &env, caller, workflow_id, input_hash, fee),
            }
        }
        ExecuteMsg::RecordExecution { results } => record::record_execution(deps, &env, results),
        ExecuteMsg::Challenge { result } => record::challenge(deps, &env, result),
        ExecuteMsg::Finalize { job_ids } => finalize::finalize(deps, &env, job_ids),
        ExecuteMsg::Attest {
            job_id,
            node,
            output_hash,
            verdict,
            check,
        } => execute::attest(
            deps,
            &env,
            info.sender,
            job_id,
            &node,
            output_hash,
            verdict,
            check,
        ),
        ExecuteMsg::Arbitrate { job_id, verdict } => {
            execute::arbitrate(deps, &env, &info.sender, job_id, verdict)
        }
        ExecuteMsg::CommitSeed { epoch, commitment } => {
            seeds::commit(deps, &env, info.sender, epoch, commitment)
        }
        ExecuteMsg::RevealSeed { epoch, secret } => {
            seeds::reveal(deps, &env, info.sender, epoch, secret)
        }
        ExecuteMsg::ReportLazy { job_id, validator } => {
            seeds::report_lazy(deps, info.sender, job_id, validator)
        }
        ExecuteMsg::ReportUnrevealed { epoch, validator } => {
            seeds::report_unrevealed(deps, &env, info.sender, epoch, validator)
        }
        ExecuteMsg::ClaimReexecutions { job_ids } => {
            seeds::claim_reexecutions(deps, info.sender, job_ids)
        }
        ExecuteMsg::CommitAudit { epoch, root } => {
            audits::commit(deps, &env, info.sender, epoch, root)
        }
        ExecuteMsg::ProveAudit { proofs } => audits::prove(deps, &env, info.sender, proofs),
        ExecuteMsg::Refund { job_id } => execute::refund(deps, &env, &info.sender, job_id),
        ExecuteMsg::UpdateParams(update) => execute::update_params(deps, &info.sender, update),
        ExecuteMsg::UpdateConfig { admin, payout } => {
            execute::update_config(deps, &info.sender, admin, payout)
        }
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    query::dispatch(deps, &env, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let from = ensure_from_older_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", from.to_string())
        .add_attribute("to_version", CONTRACT_VERSION))
}
