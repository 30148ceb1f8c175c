use cosmwasm_std::{to_json_binary, Binary, Deps, StdResult};

use crate::msg::{
    ClaimableResponse, ConfigResponse, EarningsResponse, PaidResponse, QueryMsg, TotalsResponse,
    WorkflowEarningsResponse,
};
use crate::state::{ACCOUNTS, CONFIG, PAID, PARAMS, TOTALS, WORKFLOWS};

pub fn dispatch(deps: Deps, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_json_binary(&ConfigResponse {
                admin: c.admin,
                asset: c.asset,
                execution_log: c.execution_log,
                treasury: c.treasury,
            })
        }
        QueryMsg::Params {} => to_json_binary(&PARAMS.load(deps.storage)?),
        QueryMsg::Claimable { address } => {
            let address = deps.api.addr_validate(&address)?;
            let account = ACCOUNTS
                .may_load(deps.storage, &address)?
                .unwrap_or_default();
            to_json_binary(&ClaimableResponse {
                address,
                amount: account.claimable,
            })
        }
        QueryMsg::Earnings { address } => {
            let address = deps.api.addr_validate(&address)?;
            let a = ACCOUNTS
                .may_load(deps.storage, &address)?
                .unwrap_or_default();
            to_json_binary(&EarningsResponse {
                address,
                earned: a.earned,
                claimed: a.claimed,
                claimable: a.claimable,
            })
        }
        QueryMsg::WorkflowEarnings { workflow_id } => {
            let w = WORKFLOWS
                .may_load(deps.storage, workflow_id)?
                .unwrap_or_default();
            to_json_binary(&WorkflowEarningsResponse {
                workflow_id,
                runs: w.runs,
                total_fees: w.total_fees,
                creator: w.creator,
                upstream: w.upstream,
                node: w.node,
                validators: w.validators,
                treasury: w.treasury,
            })
        }
        QueryMsg::Paid { job_id } => to_json_binary(&PaidResponse {
            job_id,
            paid: PAID.has(deps.storage, job_id),
        }),
        QueryMsg::Totals {} => {
            let t = TOTALS.load(deps.storage)?;
            to_json_binary(&TotalsResponse {
                distributed: t.distributed,
                claimed: t.claimed,
                owed: t.distributed - t.claimed + t.pot,
                jobs_paid: t.jobs_paid,
                pot: t.pot,
            })
        }
    }
}
