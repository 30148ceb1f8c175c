use cosmwasm_std::{to_json_binary, Addr, Binary, Deps, Env, Order, StdError, StdResult, Uint128};
use cw_storage_plus::Bound;

use crate::msg::{
    ActiveSetResponse, ClaimsResponse, ConfigResponse, NodeStatus, OperatorResponse,
    OperatorsResponse, PowerResponse, QueryMsg, QuorumContextResponse, TotalsResponse,
    ValidatorsResponse,
};
use crate::state::{
    ActiveValidator, Operator, Role, ACTIVE_SET, CLAIMS, CONFIG, OPERATORS, PARAMS, POWER, TOTALS,
    TOTAL_POWER, VALIDATORS,
};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;
/// Most nodes one `QuorumContext` may ask about (a batch's worth, with room).
pub const MAX_NODES_PER_QUERY: usize = 100;

pub fn dispatch(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_json_binary(&ConfigResponse {
                admin: c.admin,
                asset: c.asset,
                treasury: c.treasury,
                execution_log: c.execution_log,
            })
        }
        QueryMsg::Params {} => to_json_binary(&PARAMS.load(deps.storage)?),
        QueryMsg::Operator { address } => {
            let address = deps.api.addr_validate(&address)?;
            let op = OPERATORS
                .may_load(deps.storage, &address)?
                .ok_or_else(|| StdError::not_found(format!("operator {address}")))?;
            to_json_binary(&operator_response(deps, address, op)?)
        }
        QueryMsg::Validators { start_after, limit } => {
            let start = start_after
                .map(|a| deps.api.addr_validate(&a))
                .transpose()?;
            let validators = VALIDATORS
                .keys(
                    deps.storage,
                    start.as_ref().map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize)
                .map(|addr| {
                    let addr = addr?;
                    let op = OPERATORS.load(deps.storage, &addr)?;
                    operator_response(deps, addr, op)
                })
                .collect::<StdResult<_>>()?;
            to_json_binary(&ValidatorsResponse { validators })
        }
        QueryMsg::Operators { start_after, limit } => {
            let start = start_after
                .map(|a| deps.api.addr_validate(&a))
                .transpose()?;
            let operators = OPERATORS
                .range(
                    deps.storage,
                    start.as_ref().map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize)
                .map(|entry| {
                    let (addr, op) = entry?;
                    operator_response(deps, addr, op)
                })
                .collect::<StdResult<_>>()?;
            to_json_binary(&OperatorsResponse { operators })
        }
        QueryMsg::ActiveSet {} => {
            let (validators, total_stake) = active_set(deps)?;
            to_json_binary(&ActiveSetResponse {
                validators,
                total_stake,
            })
        }
        QueryMsg::Totals {} => {
            let t = TOTALS.load(deps.storage)?;
            to_json_binary(&TotalsResponse {
                node: t.node,
                validator: t.validator,
                unbonding: t.unbonding,
            })
        }
        QueryMsg::Claims { address } => {
            let address = deps.api.addr_validate(&address)?;
            to_json_binary(&ClaimsResponse {
                claims: CLAIMS.may_load(deps.storage, &address)?.unwrap_or_default(),
            })
        }
        QueryMsg::QuorumContext { nodes } => {
            if nodes.len() > MAX_NODES_PER_QUERY {
                return Err(StdError::generic_err(format!(
                    "at most {MAX_NODES_PER_QUERY} nodes per query"
                )));
            }
            let params = PARAMS.load(deps.storage)?;
            let (validators, total_stake) = active_set(deps)?;
            let nodes = nodes
                .iter()
                .map(|n| {
                    let op = OPERATORS.may_load(deps.storage, &deps.api.addr_validate(n)?)?;
                    Ok(NodeStatus {
                        active: op.as_ref().is_some_and(|op| op.active(Role::Node, &params)),
                        pubkey: op.map(|op| op.pubkey),
                    })
                })
                .collect::<StdResult<_>>()?;
            to_json_binary(&QuorumContextResponse {
                validators,
                total_stake,
                nodes,
            })
        }
        QueryMsg::VotingPowerAtHeight { address, height } => {
            let address = deps.api.addr_validate(&address)?;
            let height = height.unwrap_or(env.block.height);
            let power = POWER
                .may_load_at_height(deps.storage, &address, height)?
                .unwrap_or_default();
            to_json_binary(&PowerResponse { power, height })
        }
        QueryMsg::TotalPowerAtHeight { height } => {
            let height = height.unwrap_or(env.block.height);
            let power = TOTAL_POWER
                .may_load_at_height(deps.storage, height)?
                .unwrap_or_default();
            to_json_binary(&PowerResponse { power, height })
        }
    }
}

/// The stored set (kept current by every stake, jail and param change) and its total stake.
fn active_set(deps: Deps) -> StdResult<(Vec<ActiveValidator>, Uint128)> {
    let validators = ACTIVE_SET.load(deps.storage)?;
    let total = validators.iter().map(|v| v.stake).sum();
    Ok((validators, total))
}

fn operator_response(deps: Deps, address: Addr, op: Operator) -> StdResult<OperatorResponse> {
    let params = PARAMS.load(deps.storage)?;
    let unbonding = CLAIMS
        .may_load(deps.storage, &address)?
        .unwrap_or_default()
        .iter()
        .map(|c| c.amount)
        .sum();
    Ok(OperatorResponse {
        node_active: op.active(Role::Node, &params),
        validator_eligible: op.active(Role::Validator, &params),
        address,
        pubkey: op.pubkey,
        node_stake: op.node,
        validator_stake: op.validator,
        unbonding,
        jailed_until: op.jailed_until,
        last_heartbeat: op.last_heartbeat,
    })
}
