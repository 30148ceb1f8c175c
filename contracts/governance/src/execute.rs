use cosmwasm_std::{
    to_json_binary, Addr, Decimal, Deps, DepsMut, Env, Response, StdResult, SubMsg, Uint128,
    WasmMsg,
};
use havn_staking::msg::PowerResponse;

use crate::actions;
use crate::error::ContractError;
use crate::msg::{ExecuteMsg, ParamsUpdate, ProposeMsg, ProposeResponse};
use crate::state::{
    Ballot, Params, Proposal, Status, Tally, VoteOption, BALLOTS, CONFIG, DEPOSITS_HELD,
    MAX_ACTIONS_CEILING, MAX_DESCRIPTION, MAX_TITLE, MIN_EXECUTION_DELAY, NEXT_ID, PARAMS,
    PROPOSALS,
};
use crate::tally::{tally, Outcome};

pub fn propose(
    deps: DepsMut,
    env: &Env,
    proposer: Addr,
    deposit: Uint128,
    msg: ProposeMsg,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    if deposit < params.min_deposit {
        return Err(ContractError::DepositTooLow {
            deposit,
            min: params.min_deposit,
        });
    }
    check_text("title", &msg.title, MAX_TITLE)?;
    if msg.description.chars().count() > MAX_DESCRIPTION {
        return Err(ContractError::BadText {
            what: "description",
            len: msg.description.chars().count(),
            max: MAX_DESCRIPTION,
        });
    }
    actions::validate(deps.as_ref(), &params, &msg.actions)?;
    // Power as it stood at the start of this block: stake bonded after the proposal opened
    // (even later in this same block) does not count.
    let start_height = env.block.height;
    let total_power = power(
        deps.as_ref(),
        &StakingQuery::TotalPowerAtHeight {
            height: Some(start_height),
        },
    )?;
    if total_power.is_zero() {
        return Err(ContractError::NoTotalPower {
            height: start_height,
        });
    }
    let id = NEXT_ID.load(deps.storage)?;
    NEXT_ID.save(deps.storage, &(id + 1))?;
    DEPOSITS_HELD.update(deps.storage, |d| -> StdResult<_> { Ok(d + deposit) })?;
    let proposal = Proposal {
        id,
        proposer: proposer.clone(),
        title: msg.title,
        description: msg.description,
        actions: msg.actions,
        deposit,
        start_height,
        start_time: env.block.time,
        voting_end: env.block.time.plus_seconds(params.voting_period),
        total_power,
        tally: Tally::default(),
        status: Status::Open,
        execution_error: None,
    };
    PROPOSALS.save(deps.storage, id, &proposal)?;
    Ok(Response::new()
        .set_data(to_json_binary(&ProposeResponse { id })?)
        .add_attribute("action", "propose")
        .add_attribute("proposal_id", id.to_string())
        .add_attribute("proposer", proposer)
        .add_attribute("deposit", deposit)
        .add_attribute("voting_end", proposal.voting_end.to_string()))
}

fn check_text(what: &'static str, text: &str, max: usize) -> Result<(), ContractError> {
    let len = text.chars().count();
    if len == 0 || len > max {
        return Err(ContractError::BadText { what, len, max });
    }
    Ok(())
}

/// The two staking queries governance makes. Serializes exactly like the same variants of
/// `havn_staking::msg::QueryMsg` (a test checks), without linking that whole enum's serializer.
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StakingQuery {
    VotingPowerAtHeight {
        address: String,
        height: Option<u64>,
    },
    TotalPowerAtHeight {
        height: Option<u64>,
    },
}

fn power(deps: Deps, query: &StakingQuery) -> StdResult<Uint128> {
    let staking = CONFIG.load(deps.storage)?.staking;
    let r: PowerResponse = deps.querier.query_wasm_smart(staking, query)?;
    Ok(r.power)
}

pub fn load_proposal(deps: Deps, id: u64) -> Result<Proposal, ContractError> {
    PROPOSALS
        .may_load(deps.storage, id)?
        .ok_or(ContractError::UnknownProposal { id })
}

/// A voter's power on a proposal: its bonded stake at the proposal's start height.
pub fn voting_power(deps: Deps, proposal: &Proposal, voter: &Addr) -> StdResult<Uint128> {
    power(
        deps,
        &StakingQuery::VotingPowerAtHeight {
            address: voter.to_string(),
            height: Some(proposal.start_height),
        },
    )
}

pub fn vote(
    deps: DepsMut,
    env: &Env,
    voter: Addr,
    id: u64,
    option: VoteOption,
) -> Result<Response, ContractError> {
    let mut proposal = load_proposal(deps.as_ref(), id)?;
    if proposal.status != Status::Open {
        return Err(ContractError::NotOpen {
            id,
            status: proposal.status,
        });
    }
    if env.block.time >= proposal.voting_end {
        return Err(ContractError::VotingEnded {
            id,
            end: proposal.voting_end,
        });
    }
    let power = voting_power(deps.as_ref(), &proposal, &voter)?;
    if power.is_zero() {
        return Err(ContractError::NoVotingPower {
            id,
            voter: voter.to_string(),
            height: proposal.start_height,
        });
    }
    if let Some(old) = BALLOTS.may_load(deps.storage, (id, &voter))? {
        proposal.tally.remove(old.option, old.power);
    }
    proposal.tally.add(option, power);
    BALLOTS.save(deps.storage, (id, &voter), &Ballot { option, power })?;
    PROPOSALS.save(deps.storage, id, &proposal)?;
    Ok(Response::new()
        .add_attribute("action", "vote")
        .add_attribute("proposal_id", id.to_string())
        .add_attribute("voter", voter)
        .add_attribute("option", format!("{option:?}"))
        .add_attribute("power", power))
}

/// The tally of a proposal whose voting period is over.
fn ended_outcome(deps: Deps, env: &Env, p: &Proposal) -> Result<Outcome, ContractError> {
    if p.status != Status::Open {
        return Err(ContractError::NotOpen {
            id: p.id,
            status: p.status,
        });
    }
    if env.block.time < p.voting_end {
        return Err(ContractError::VotingOpen {
            id: p.id,
            end: p.voting_end,
        });
    }
    Ok(tally(&p.tally, p.total_power, &PARAMS.load(deps.storage)?))
}

/// Reply id for the `RunActions` sub-call is the proposal id.
pub fn execute_proposal(deps: DepsMut, env: &Env, id: u64) -> Result<Response, ContractError> {
    let mut proposal = load_proposal(deps.as_ref(), id)?;
    let outcome = ended_outcome(deps.as_ref(), env, &proposal)?;
    if outcome != Outcome::Passed {
        return Err(ContractError::NotPassed { id, outcome });
    }
    let from = proposal
        .voting_end
        .plus_seconds(PARAMS.load(deps.storage)?.execution_delay);
    if env.block.time < from {
        return Err(ContractError::Timelocked { id, from });
    }
    proposal.status = Status::Executed;
    PROPOSALS.save(deps.storage, id, &proposal)?;
    let refund = release_deposit(deps, &proposal, false)?;
    // The actions run in one sub-call: if any fails, all of them roll back and the reply marks
    // the proposal Failed (as x/gov does), instead of the whole Execute reverting.
    let run = SubMsg::reply_on_error(
        WasmMsg::Execute {
            contract_addr: env.contract.address.to_string(),
            msg: to_json_binary(&ExecuteMsg::RunActions { proposal_id: id })?,
            funds: vec![],
        },
        id,
    );
    Ok(Response::new()
        .add_messages(refund)
        .add_submessage(run)
        .add_attribute("action", "execute")
        .add_attribute("proposal_id", id.to_string()))
}

pub fn run_actions(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    id: u64,
) -> Result<Response, ContractError> {
    if *sender != env.contract.address {
        return Err(ContractError::NotSelf);
    }
    let proposal = load_proposal(deps.as_ref(), id)?;
    let config = CONFIG.load(deps.storage)?;
    let msgs = actions::run(deps, env, &config, proposal.actions)?;
    Ok(Response::new()
        .add_messages(msgs)
        .add_attribute("action", "run_actions")
        .add_attribute("proposal_id", id.to_string()))
}

pub fn action_failed(deps: DepsMut, id: u64, error: String) -> Result<Response, ContractError> {
    let mut proposal = load_proposal(deps.as_ref(), id)?;
    proposal.status = Status::Failed;
    proposal.execution_error = Some(error.clone());
    PROPOSALS.save(deps.storage, id, &proposal)?;
    Ok(Response::new()
        .add_attribute("action", "execution_failed")
        .add_attribute("proposal_id", id.to_string())
        .add_attribute("error", error))
}

pub fn close(deps: DepsMut, env: &Env, id: u64) -> Result<Response, ContractError> {
    let mut proposal = load_proposal(deps.as_ref(), id)?;
    let outcome = ended_outcome(deps.as_ref(), env, &proposal)?;
    let vetoed = match outcome {
        Outcome::Passed => return Err(ContractError::Passed { id }),
        Outcome::Vetoed => true,
        Outcome::QuorumNotReached | Outcome::Rejected => false,
    };
    proposal.status = if vetoed {
        Status::Vetoed
    } else {
        Status::Rejected
    };
    PROPOSALS.save(deps.storage, id, &proposal)?;
    let msgs = release_deposit(deps, &proposal, vetoed)?;
    Ok(Response::new()
        .add_messages(msgs)
        .add_attribute("action", "close")
        .add_attribute("proposal_id", id.to_string())
        .add_attribute("outcome", format!("{outcome:?}"))
        .add_attribute("deposit", if vetoed { "burned" } else { "refunded" }))
}

/// Returns the deposit to the proposer, or burns it.
fn release_deposit(
    deps: DepsMut,
    p: &Proposal,
    burn: bool,
) -> Result<Vec<cosmwasm_std::CosmosMsg>, ContractError> {
    DEPOSITS_HELD.update(deps.storage, |d| -> StdResult<_> { Ok(d - p.deposit) })?;
    if p.deposit.is_zero() {
        return Ok(vec![]);
    }
    let asset = CONFIG.load(deps.storage)?.asset;
    Ok(vec![match burn {
        true => asset.burn_msg(p.deposit)?,
        false => asset.transfer_msg(&p.proposer, p.deposit)?,
    }])
}

pub fn apply_params(mut p: Params, u: ParamsUpdate) -> Result<Params, ContractError> {
    p.voting_period = u.voting_period.unwrap_or(p.voting_period);
    p.min_deposit = u.min_deposit.unwrap_or(p.min_deposit);
    p.quorum = u.quorum.unwrap_or(p.quorum);
    p.threshold = u.threshold.unwrap_or(p.threshold);
    p.veto_threshold = u.veto_threshold.unwrap_or(p.veto_threshold);
    p.max_actions = u.max_actions.unwrap_or(p.max_actions);
    p.execution_delay = u.execution_delay.unwrap_or(p.execution_delay);
    validate_params(&p)?;
    Ok(p)
}

pub fn validate_params(p: &Params) -> Result<(), ContractError> {
    let invalid = |name, reason: String| Err(ContractError::InvalidParam { name, reason });
    // An hour to a year: long enough to notice, short enough to ever end.
    if !(3_600..=365 * 24 * 3_600).contains(&p.voting_period) {
        return invalid(
            "voting_period",
            format!("must be 3600 to 31536000 seconds, got {}", p.voting_period),
        );
    }
    for (name, value) in [
        ("quorum", p.quorum),
        ("threshold", p.threshold),
        ("veto_threshold", p.veto_threshold),
    ] {
        if value.is_zero() || value > Decimal::one() {
            return invalid(name, format!("must be above 0 and at most 1, got {value}"));
        }
    }
    if !(MIN_EXECUTION_DELAY..=30 * 24 * 3_600).contains(&p.execution_delay) {
        return invalid(
            "execution_delay",
            format!(
                "must be {MIN_EXECUTION_DELAY} to 2592000 seconds, got {}",
                p.execution_delay
            ),
        );
    }
    if p.max_actions == 0 || p.max_actions > MAX_ACTIONS_CEILING {
        return invalid(
            "max_actions",
            format!("must be 1 to {MAX_ACTIONS_CEILING}, got {}", p.max_actions),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::to_json_string;
    use havn_staking::msg::QueryMsg;

    #[test]
    fn staking_queries_match_the_contracts_own() {
        assert_eq!(
            to_json_string(&StakingQuery::VotingPowerAtHeight {
                address: "a".into(),
                height: Some(5)
            })
            .unwrap(),
            to_json_string(&QueryMsg::VotingPowerAtHeight {
                address: "a".into(),
                height: Some(5)
            })
            .unwrap()
        );
        assert_eq!(
            to_json_string(&StakingQuery::TotalPowerAtHeight { height: Some(5) }).unwrap(),
            to_json_string(&QueryMsg::TotalPowerAtHeight { height: Some(5) }).unwrap()
        );
    }
}
