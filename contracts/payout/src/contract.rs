//! Entry points. Handlers live in `execute.rs` and `query.rs`.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{from_json, Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};
use cw2::{ensure_from_older_version, set_contract_version};
use havn_types::asset::nonpayable;
use havn_types::PayoutMsg;

use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use crate::state::{Config, Totals, CONFIG, PARAMS, TOTALS};
use crate::{execute, query};

pub const CONTRACT_NAME: &str = "crates.io:havn-payout";
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
        execution_log: msg
            .execution_log
            .map(|l| deps.api.addr_validate(&l))
            .transpose()?,
        treasury: deps.api.addr_validate(&msg.treasury)?,
    };
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    CONFIG.save(deps.storage, &config)?;
    PARAMS.save(deps.storage, &params)?;
    TOTALS.save(deps.storage, &Totals::default())?;
    Ok(Response::new().add_attribute("action", "instantiate"))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    // Only a native-funded Distribute takes funds; anything attached elsewhere would be stranded.
    if !matches!(msg, ExecuteMsg::Distribute { .. }) {
        nonpayable(&info)?;
    }
    match msg {
        ExecuteMsg::Distribute { settlements } => {
            let attached = CONFIG.load(deps.storage)?.asset.native_payment(&info)?;
            execute::distribute(deps, &info.sender, attached, settlements)
        }
        ExecuteMsg::Receive(wrapper) => {
            let attached = CONFIG
                .load(deps.storage)?
                .asset
                .cw20_payment(&info.sender, wrapper.amount)?;
            let sender = deps.api.addr_validate(&wrapper.sender)?;
            match from_json(&wrapper.msg)? {
                PayoutMsg::Distribute { settlements } => {
                    execute::distribute(deps, &sender, attached, settlements)
                }
            }
        }
        ExecuteMsg::PayReexecutions { validator, count } => {
            execute::pay_reexecutions(deps, &info.sender, &validator, count)
        }
        ExecuteMsg::Claim {} => execute::claim(deps, info.sender),
        ExecuteMsg::ReleaseTreasury {} => {
            let treasury = CONFIG.load(deps.storage)?.treasury;
            execute::claim(deps, treasury)
        }
        ExecuteMsg::UpdateParams(update) => execute::update_params(deps, &info.sender, update),
        ExecuteMsg::UpdateConfig {
            admin,
            execution_log,
            treasury,
        } => execute::update_config(deps, &info.sender, admin, execution_log, treasury),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    query::dispatch(deps, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let from = ensure_from_older_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", from.to_string())
        .add_attribute("to_version", CONTRACT_VERSION))
}
