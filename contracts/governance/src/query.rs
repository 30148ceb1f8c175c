use cosmwasm_std::{to_json_binary, Binary, Deps, Env, Order, StdError, StdResult};
use cw_storage_plus::Bound;
use havn_staking::msg::PowerResponse;

use crate::actions::{treasury_available, treasury_balance};
use crate::execute::{load_proposal, voting_power};
use crate::msg::{
    ConfigResponse, ProposalResponse, ProposalsResponse, QueryMsg, TreasuryResponse, VoteResponse,
};
use crate::state::{Status, BALLOTS, CONFIG, DEPOSITS_HELD, NEXT_ID, PARAMS, PROPOSALS};
use crate::tally::tally;

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;

pub fn dispatch(deps: Deps, env: &Env, msg: QueryMsg) -> StdResult<Binary> {
    let proposal = |id| load_proposal(deps, id).map_err(|e| StdError::generic_err(e.to_string()));
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_json_binary(&ConfigResponse {
                asset: c.asset,
                staking: c.staking,
                registry: c.registry,
                execution_log: c.execution_log,
                payout: c.payout,
                next_id: NEXT_ID.load(deps.storage)?,
            })
        }
        QueryMsg::Params {} => to_json_binary(&PARAMS.load(deps.storage)?),
        QueryMsg::Proposal { id } => {
            let proposal = proposal(id)?;
            let ended = proposal.status == Status::Open && env.block.time >= proposal.voting_end;
            let outcome = match ended {
                true => Some(tally(
                    &proposal.tally,
                    proposal.total_power,
                    &PARAMS.load(deps.storage)?,
                )),
                false => None,
            };
            to_json_binary(&ProposalResponse { proposal, outcome })
        }
        QueryMsg::Proposals {
            start_before,
            limit,
        } => {
            let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
            let proposals = PROPOSALS
                .range(
                    deps.storage,
                    None,
                    start_before.map(Bound::exclusive),
                    Order::Descending,
                )
                .take(limit)
                .map(|r| r.map(|(_, p)| p))
                .collect::<StdResult<_>>()?;
            to_json_binary(&ProposalsResponse { proposals })
        }
        QueryMsg::Vote { proposal_id, voter } => {
            let voter = deps.api.addr_validate(&voter)?;
            to_json_binary(&VoteResponse {
                ballot: BALLOTS.may_load(deps.storage, (proposal_id, &voter))?,
            })
        }
        QueryMsg::VotingPower { proposal_id, voter } => {
            let proposal = proposal(proposal_id)?;
            let voter = deps.api.addr_validate(&voter)?;
            to_json_binary(&PowerResponse {
                power: voting_power(deps, &proposal, &voter)?,
                height: proposal.start_height,
            })
        }
        QueryMsg::Treasury {} => {
            let asset = CONFIG.load(deps.storage)?.asset;
            to_json_binary(&TreasuryResponse {
                balance: treasury_balance(deps, env, &asset)?,
                deposits_held: DEPOSITS_HELD.load(deps.storage)?,
                available: treasury_available(deps, env, &asset)?,
            })
        }
    }
}
