//! Entry points. Handlers live in `execute.rs`, `slashing.rs` and `query.rs`.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{from_json, Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};
use cw2::{ensure_from_older_version, set_contract_version};
use havn_types::asset::nonpayable;

use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg, ReceiveMsg};
use crate::state::{Config, Totals, CONFIG, PARAMS, TOTALS};
use crate::{execute, query, slashing};

pub const CONTRACT_NAME: &str = "crates.io:havn-staking";
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
        treasury: deps.api.addr_validate(&msg.treasury)?,
        execution_log: msg
            .execution_log
            .map(|a| deps.api.addr_validate(&a))
            .transpose()?,
    };
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    CONFIG.save(deps.storage, &config)?;
    PARAMS.save(deps.storage, &params)?;
    TOTALS.save(deps.storage, &Totals::default())?;
    crate::state::ACTIVE_SET.save(deps.storage, &vec![])?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("asset", config.asset.to_string()))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    // Only a native-funded Bond takes funds; anything attached elsewhere would be stranded.
    if !matches!(msg, ExecuteMsg::Bond { .. }) {
        nonpayable(&info)?;
    }
    match msg {
        ExecuteMsg::Bond { role, key } => {
            let amount = CONFIG.load(deps.storage)?.asset.native_payment(&info)?;
            execute::bond(deps, &env, info.sender, role, key, amount)
        }
        ExecuteMsg::Receive(wrapper) => {
            let amount = CONFIG
                .load(deps.storage)?
                .asset
                .cw20_payment(&info.sender, wrapper.amount)?;
            let operator = deps.api.addr_validate(&wrapper.sender)?;
            match from_json(&wrapper.msg)? {
                ReceiveMsg::Bond { role, key } => {
                    execute::bond(deps, &env, operator, role, key, amount)
                }
            }
        }
        ExecuteMsg::RotateKey { key } => execute::rotate_key(deps, &env, info.sender, key),
        ExecuteMsg::Unbond { role, amount } => {
            execute::unbond(deps, &env, info.sender, role, amount)
        }
        ExecuteMsg::Claim {} => execute::claim(deps, &env, info.sender),
        ExecuteMsg::Heartbeat {} => execute::heartbeat(deps, &env, info.sender),
        ExecuteMsg::Unjail {} => execute::unjail(deps, &env, info.sender),
        ExecuteMsg::ReportDowntime { operator } => {
            slashing::report_downtime(deps, &env, info.sender, &operator)
        }
        ExecuteMsg::SubmitDoubleSign { evidence } => {
            slashing::double_sign(deps, &env, info.sender, evidence)
        }
        ExecuteMsg::ReportFalseAttestation { evidence } => {
            slashing::false_attestation(deps, &env, info.sender, evidence)
        }
        ExecuteMsg::SlashJob(job) => slashing::slash_job(deps, &env, &info.sender, job),
        ExecuteMsg::SlashLazy {
            validator,
            reporter,
            job_id,
            epoch,
        } => slashing::slash_lazy(
            deps,
            &env,
            &info.sender,
            &validator,
            &reporter,
            job_id,
            epoch,
        ),
        ExecuteMsg::Slash {
            operator,
            role,
            reason,
            fraction,
        } => slashing::by_governance(deps, &env, &info.sender, &operator, role, reason, fraction),
        ExecuteMsg::UpdateParams(update) => execute::update_params(deps, &info.sender, update),
        ExecuteMsg::UpdateConfig {
            admin,
            treasury,
            execution_log,
        } => execute::update_config(deps, &info.sender, admin, treasury, execution_log),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    query::dispatch(deps, env, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let from = ensure_from_older_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", from.to_string())
        .add_attribute("to_version", CONTRACT_VERSION))
}
