use cosmwasm_std::{to_json_binary, Binary, Deps, Env, Order, StdError, StdResult};
use cw_storage_plus::Bound;

use crate::msg::{ConfigResponse, EscrowResponse, ExecutionsResponse, QueryMsg, VotesResponse};
use crate::state::{executions, CONFIG, ESCROW, JOBS, NEXT_JOB_ID, PARAMS, STATS, VOTES};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;

pub fn dispatch(deps: Deps, env: &Env, msg: QueryMsg) -> StdResult<Binary> {
    let limit = |l: Option<u32>| l.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_json_binary(&ConfigResponse {
                admin: c.admin,
                asset: c.asset,
                registry: c.registry,
                staking: c.staking,
                payout: c.payout,
                next_job_id: NEXT_JOB_ID.load(deps.storage)?,
            })
        }
        QueryMsg::Params {} => to_json_binary(&PARAMS.load(deps.storage)?),
        QueryMsg::Epoch { epoch } => to_json_binary(&crate::seeds::query_epoch(deps, env, epoch)?),
        QueryMsg::AuditRoot { epoch, node } => {
            let node = deps.api.addr_validate(&node)?;
            to_json_binary(&crate::state::AUDIT_ROOTS.may_load(deps.storage, (epoch, &node))?)
        }
        QueryMsg::Seed { epoch, validator } => {
            let validator = deps.api.addr_validate(&validator)?;
            to_json_binary(&crate::state::SEEDS.may_load(deps.storage, (epoch, &validator))?)
        }
        QueryMsg::Escrow {} => to_json_binary(&EscrowResponse {
            escrowed: ESCROW.may_load(deps.storage)?.unwrap_or_default(),
        }),
        QueryMsg::Votes { job_id } => to_json_binary(&VotesResponse {
            votes: VOTES.may_load(deps.storage, job_id)?.unwrap_or_default(),
        }),
        QueryMsg::Job { id } => to_json_binary(
            &JOBS
                .may_load(deps.storage, id)?
                .ok_or_else(|| StdError::not_found(format!("job {id}")))?,
        ),
        QueryMsg::ExecutionsByWorkflow {
            workflow_id,
            start_after,
            limit: l,
        } => {
            let prefix = executions().idx.workflow.prefix(workflow_id);
            to_json_binary(&ExecutionsResponse {
                executions: page(
                    prefix.range(
                        deps.storage,
                        start_after.map(Bound::exclusive),
                        None,
                        Order::Ascending,
                    ),
                    limit(l),
                )?,
            })
        }
        QueryMsg::ExecutionsByCaller {
            caller,
            start_after,
            limit: l,
        } => {
            let prefix = executions()
                .idx
                .caller
                .prefix(deps.api.addr_validate(&caller)?);
            to_json_binary(&ExecutionsResponse {
                executions: page(
                    prefix.range(
                        deps.storage,
                        start_after.map(Bound::exclusive),
                        None,
                        Order::Ascending,
                    ),
                    limit(l),
                )?,
            })
        }
        QueryMsg::ExecutionsByNode {
            node,
            start_after,
            limit: l,
        } => {
            let prefix = executions().idx.node.prefix(deps.api.addr_validate(&node)?);
            to_json_binary(&ExecutionsResponse {
                executions: page(
                    prefix.range(
                        deps.storage,
                        start_after.map(Bound::exclusive),
                        None,
                        Order::Ascending,
                    ),
                    limit(l),
                )?,
            })
        }
        QueryMsg::WorkflowStats { workflow_id } => to_json_binary(
            &STATS
                .may_load(deps.storage, workflow_id)?
                .unwrap_or_default(),
        ),
    }
}

fn page<T>(items: impl Iterator<Item = StdResult<(u64, T)>>, limit: usize) -> StdResult<Vec<T>> {
    items.take(limit).map(|item| item.map(|(_, v)| v)).collect()
}
