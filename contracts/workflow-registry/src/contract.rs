//! Entry points. Handlers live in `execute.rs` and `query.rs`.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{from_json, Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};
use cw2::{ensure_from_older_version, set_contract_version};
use havn_types::asset::nonpayable;

use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg, ReceiveMsg};
use crate::query;
use crate::state::{Config, CONFIG, NEXT_ID, PARAMS};
use crate::{assets, derivatives, disputes, execute};

pub const CONTRACT_NAME: &str = "crates.io:havn-workflow-registry";
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
    };
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    CONFIG.save(deps.storage, &config)?;
    PARAMS.save(deps.storage, &params)?;
    NEXT_ID.save(deps.storage, &1)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("admin", config.admin)
        .add_attribute("asset", config.asset.to_string())
        .add_attribute("treasury", config.treasury))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    // Only a native-funded Publish or dispute bond takes funds; anything attached elsewhere
    // would be stranded.
    if !matches!(
        msg,
        ExecuteMsg::Publish(_) | ExecuteMsg::OpenDispute { .. } | ExecuteMsg::DefendDispute { .. }
    ) {
        nonpayable(&info)?;
    }
    match msg {
        ExecuteMsg::Publish(publish) => {
            let (config, params) = (CONFIG.load(deps.storage)?, PARAMS.load(deps.storage)?);
            let paid = execute::native_deposit(&config, &params, &info)?;
            execute::publish(deps, &env, &config, &params, info.sender, publish, paid)
        }
        ExecuteMsg::Receive(wrapper) => {
            let (config, params) = (CONFIG.load(deps.storage)?, PARAMS.load(deps.storage)?);
            let sender = deps.api.addr_validate(&wrapper.sender)?;
            match from_json(&wrapper.msg)? {
                ReceiveMsg::Publish(publish) => {
                    let paid =
                        execute::cw20_deposit(&config, &params, &info.sender, wrapper.amount)?;
                    execute::publish(deps, &env, &config, &params, sender, publish, paid)
                }
                ReceiveMsg::OpenDispute {
                    copy,
                    original,
                    note,
                } => {
                    let paid = config.asset.cw20_payment(&info.sender, wrapper.amount)?;
                    disputes::open(deps, &env, &params, sender, copy, original, note, paid)
                }
                ReceiveMsg::DefendDispute { id } => {
                    let paid = config.asset.cw20_payment(&info.sender, wrapper.amount)?;
                    disputes::defend(deps, sender, id, paid)
                }
            }
        }
        ExecuteMsg::OpenDispute {
            copy,
            original,
            note,
        } => {
            let (config, params) = (CONFIG.load(deps.storage)?, PARAMS.load(deps.storage)?);
            let paid = bond_payment(&config, &info)?;
            disputes::open(deps, &env, &params, info.sender, copy, original, note, paid)
        }
        ExecuteMsg::DefendDispute { id } => {
            let config = CONFIG.load(deps.storage)?;
            let paid = bond_payment(&config, &info)?;
            disputes::defend(deps, info.sender, id, paid)
        }
        ExecuteMsg::ResolveDispute { id, upheld } => {
            let (config, params) = (CONFIG.load(deps.storage)?, PARAMS.load(deps.storage)?);
            disputes::resolve(deps, &info.sender, &config, &params, id, upheld)
        }
        ExecuteMsg::Reindex { start_after, limit } => {
            let rules = PARAMS.load(deps.storage)?.derivatives;
            let last = derivatives::reindex(
                deps.storage,
                &rules,
                start_after,
                limit.unwrap_or(derivatives::MAX_REINDEX),
            )?;
            let mut response = Response::new().add_attribute("action", "reindex");
            if let Some((id, version)) = last {
                response = response.add_attribute("last", format!("{id}/{version}"));
            }
            Ok(response)
        }
        ExecuteMsg::NewVersion {
            id,
            content_hash,
            artifacts,
            fingerprint,
        } => execute::new_version(
            deps,
            &env,
            &info.sender,
            id,
            &content_hash,
            &artifacts,
            fingerprint.as_ref(),
        ),
        ExecuteMsg::RegisterAsset {
            kind,
            content_hash,
            payee,
        } => assets::register(deps, &env, &info.sender, kind, &content_hash, payee),
        ExecuteMsg::FlagAsset {
            content_hash,
            reason,
            note,
        } => assets::flag(deps, &env, &info.sender, &content_hash, reason, note),
        ExecuteMsg::UnflagAsset { content_hash } => {
            assets::unflag(deps, &info.sender, &content_hash)
        }
        ExecuteMsg::UpdatePrice { id, price } => {
            execute::update_price(deps, &info.sender, id, price)
        }
        ExecuteMsg::SetMetadata { id, metadata } => {
            execute::set_metadata(deps, &info.sender, id, metadata)
        }
        ExecuteMsg::TransferOwnership { id, new_creator } => {
            execute::transfer_ownership(deps, &info.sender, id, &new_creator)
        }
        ExecuteMsg::AcceptOwnership { id } => execute::accept_ownership(deps, &info.sender, id),
        ExecuteMsg::CancelOwnershipTransfer { id } => {
            execute::cancel_ownership_transfer(deps, &info.sender, id)
        }
        ExecuteMsg::Flag { id, reason, note } => {
            execute::flag(deps, &env, &info.sender, id, reason, note)
        }
        ExecuteMsg::Unflag { id } => execute::unflag(deps, &info.sender, id),
        ExecuteMsg::UpdateParams(update) => execute::update_params(deps, &info.sender, update),
        ExecuteMsg::UpdateShareFloors(floors) => {
            execute::update_share_floors(deps, &info.sender, floors)
        }
        ExecuteMsg::UpdateDerivativeRules(rules) => {
            execute::update_derivative_rules(deps, &info.sender, rules)
        }
        ExecuteMsg::UpdateConfig { admin, treasury } => {
            execute::update_config(deps, &info.sender, admin, treasury)
        }
    }
}

/// A bond attached as native funds (a cw20 deployment bonds through the token's `Send`).
fn bond_payment(
    config: &Config,
    info: &MessageInfo,
) -> Result<cosmwasm_std::Uint128, ContractError> {
    match (&config.asset, info.funds.is_empty()) {
        (havn_types::Asset::Cw20(_), true) => Err(havn_types::AssetError::PayWithCw20 {
            token: config.asset.to_string(),
        }
        .into()),
        _ => Ok(config.asset.native_payment(info)?),
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
