//! Entry points. Handlers live in `execute.rs`, `actions.rs` and `query.rs`.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    from_json, Binary, Deps, DepsMut, Env, MessageInfo, Reply, Response, StdResult, SubMsgResult,
    Uint128,
};
use cw2::{ensure_from_older_version, set_contract_version};
use havn_types::asset::nonpayable;

use crate::error::ContractError;
use crate::execute;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg, ReceiveMsg};
use crate::query;
use crate::state::{Config, CONFIG, DEPOSITS_HELD, NEXT_ID, PARAMS};

pub const CONTRACT_NAME: &str = "crates.io:havn-governance";
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
        asset: msg.asset.check(deps.api)?,
        staking: deps.api.addr_validate(&msg.staking)?,
        registry: deps.api.addr_validate(&msg.registry)?,
        execution_log: deps.api.addr_validate(&msg.execution_log)?,
        payout: deps.api.addr_validate(&msg.payout)?,
    };
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    CONFIG.save(deps.storage, &config)?;
    PARAMS.save(deps.storage, &params)?;
    NEXT_ID.save(deps.storage, &1)?;
    DEPOSITS_HELD.save(deps.storage, &Uint128::zero())?;
    Ok(Response::new().add_attribute("action", "instantiate"))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    // Only a native-funded Propose takes funds; anything attached elsewhere would be stranded.
    if !matches!(msg, ExecuteMsg::Propose(_)) {
        nonpayable(&info)?;
    }
    match msg {
        ExecuteMsg::Propose(propose) => {
            let deposit = CONFIG.load(deps.storage)?.asset.native_payment(&info)?;
            execute::propose(deps, &env, info.sender, deposit, propose)
        }
        ExecuteMsg::Receive(wrapper) => {
            let deposit = CONFIG
                .load(deps.storage)?
                .asset
                .cw20_payment(&info.sender, wrapper.amount)?;
            let proposer = deps.api.addr_validate(&wrapper.sender)?;
            match from_json(&wrapper.msg)? {
                ReceiveMsg::Propose(propose) => {
                    execute::propose(deps, &env, proposer, deposit, propose)
                }
            }
        }
        ExecuteMsg::Vote {
            proposal_id,
            option,
        } => execute::vote(deps, &env, info.sender, proposal_id, option),
        ExecuteMsg::Execute { proposal_id } => execute::execute_proposal(deps, &env, proposal_id),
        ExecuteMsg::Close { proposal_id } => execute::close(deps, &env, proposal_id),
        ExecuteMsg::RunActions { proposal_id } => {
            execute::run_actions(deps, &env, &info.sender, proposal_id)
        }
    }
}

/// Only failed `RunActions` sub-calls reply (`reply_on_error`); the id is the proposal's.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn reply(deps: DepsMut, _env: Env, reply: Reply) -> Result<Response, ContractError> {
    match reply.result {
        SubMsgResult::Err(error) => execute::action_failed(deps, reply.id, error),
        SubMsgResult::Ok(_) => Ok(Response::new()),
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
