//! Copy disputes: anyone bonds a claim that a published workflow copies an older one it does not
//! declare (the index misses what a false fingerprint hides, and two creators can disagree about
//! a match). The accused workflow's creator may answer with an equal bond; governance (the admin)
//! decides. The winner gets its bond back and `dispute_reward_bps` of the loser's, the treasury
//! the rest; an upheld claim marks the copy (`copy_of`), so its creator share is paid to the
//! original's creator from then on.

use cosmwasm_std::{Addr, Deps, DepsMut, Env, Response, Uint128};

use crate::error::ContractError;
use crate::execute::{ensure_admin, load_workflow, validate_note};
use crate::state::{
    Config, Dispute, DisputeStatus, Params, Workflow, DISPUTES, NEXT_DISPUTE_ID, OPEN_DISPUTES,
    VERSIONS,
};

fn ancestors_include(deps: Deps, copy: &Workflow, original: u64) -> Result<bool, ContractError> {
    let direct = crate::derivatives::workflow_ids(&copy.dependencies);
    Ok(crate::derivatives::declared(deps, &direct)?.contains(&original))
}

fn load_dispute(deps: Deps, id: u64) -> Result<Dispute, ContractError> {
    DISPUTES
        .may_load(deps.storage, id)?
        .ok_or(ContractError::UnknownDispute { id })
}

/// `claimant` bonds `paid` that workflow `copy` copies the older workflow `original`.
#[allow(clippy::too_many_arguments)]
pub fn open(
    deps: DepsMut,
    env: &Env,
    params: &Params,
    claimant: Addr,
    copy: u64,
    original: u64,
    note: Option<String>,
    paid: Uint128,
) -> Result<Response, ContractError> {
    validate_note(&note)?;
    let bond = params.derivatives.dispute_bond;
    if paid != bond {
        return Err(ContractError::WrongBond {
            required: bond,
            paid,
        });
    }
    if copy == original {
        return Err(ContractError::SelfDispute { id: copy });
    }
    let accused = load_workflow(deps.as_ref(), copy)?;
    let source = load_workflow(deps.as_ref(), original)?;
    if source.id > accused.id {
        return Err(ContractError::OriginalIsNewer { copy, original });
    }
    if let Some(of) = accused.copy_of {
        return Err(ContractError::AlreadyACopy { id: copy, of });
    }
    if ancestors_include(deps.as_ref(), &accused, original)? {
        return Err(ContractError::AlreadyDeclared { copy, original });
    }
    if let Some(open) = OPEN_DISPUTES.may_load(deps.storage, copy)? {
        return Err(ContractError::DisputeOpen {
            id: copy,
            dispute: open,
        });
    }
    let id = NEXT_DISPUTE_ID.may_load(deps.storage)?.unwrap_or(1);
    let dispute = Dispute {
        id,
        claimant: claimant.clone(),
        copy,
        copy_version: accused.version,
        copy_hash: accused.content_hash,
        original,
        original_version: source.version,
        original_hash: VERSIONS
            .load(deps.storage, (original, source.version))?
            .content_hash,
        note,
        bond,
        defender: None,
        defender_bond: Uint128::zero(),
        opened_height: env.block.height,
        status: DisputeStatus::Open,
    };
    DISPUTES.save(deps.storage, id, &dispute)?;
    OPEN_DISPUTES.save(deps.storage, copy, &id)?;
    NEXT_DISPUTE_ID.save(deps.storage, &(id + 1))?;
    Ok(Response::new()
        .add_attribute("action", "open_dispute")
        .add_attribute("dispute_id", id.to_string())
        .add_attribute("copy", copy.to_string())
        .add_attribute("original", original.to_string())
        .add_attribute("claimant", claimant)
        .add_attribute("bond", bond))
}

/// The accused workflow's creator answers a dispute with a bond equal to the claimant's.
pub fn defend(
    deps: DepsMut,
    sender: Addr,
    id: u64,
    paid: Uint128,
) -> Result<Response, ContractError> {
    let mut dispute = load_dispute(deps.as_ref(), id)?;
    if dispute.status != DisputeStatus::Open {
        return Err(ContractError::DisputeClosed { id });
    }
    if load_workflow(deps.as_ref(), dispute.copy)?.creator != sender {
        return Err(ContractError::NotCreator { id: dispute.copy });
    }
    if dispute.defender.is_some() {
        return Err(ContractError::AlreadyDefended { id });
    }
    if paid != dispute.bond {
        return Err(ContractError::WrongBond {
            required: dispute.bond,
            paid,
        });
    }
    dispute.defender = Some(sender.clone());
    dispute.defender_bond = paid;
    DISPUTES.save(deps.storage, id, &dispute)?;
    Ok(Response::new()
        .add_attribute("action", "defend_dispute")
        .add_attribute("dispute_id", id.to_string())
        .add_attribute("defender", sender)
        .add_attribute("bond", paid))
}

/// Admin only: decides a dispute and pays out both bonds.
pub fn resolve(
    deps: DepsMut,
    sender: &Addr,
    config: &Config,
    params: &Params,
    id: u64,
    upheld: bool,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut dispute = load_dispute(deps.as_ref(), id)?;
    if dispute.status != DisputeStatus::Open {
        return Err(ContractError::DisputeClosed { id });
    }
    let mut copy = load_workflow(deps.as_ref(), dispute.copy)?;
    // The winner, its own bond, and the bond it wins a share of.
    let (winner, kept, lost) = match upheld {
        true => (
            dispute.claimant.clone(),
            dispute.bond,
            dispute.defender_bond,
        ),
        // An unanswered claim that fails still rewards the wrongly accused creator.
        false => (
            dispute.defender.clone().unwrap_or(copy.creator.clone()),
            dispute.defender_bond,
            dispute.bond,
        ),
    };
    let reward = lost.multiply_ratio(params.derivatives.dispute_reward_bps, 10_000u16);
    let to_treasury = lost - reward;
    let mut response = Response::new()
        .add_attribute("action", "resolve_dispute")
        .add_attribute("dispute_id", id.to_string())
        .add_attribute("upheld", upheld.to_string())
        .add_attribute("winner", winner.as_str())
        .add_attribute("paid_winner", kept + reward)
        .add_attribute("paid_treasury", to_treasury);
    if !(kept + reward).is_zero() {
        response = response.add_message(config.asset.transfer_msg(&winner, kept + reward)?);
    }
    if !to_treasury.is_zero() {
        response = response.add_message(config.asset.transfer_msg(&config.treasury, to_treasury)?);
    }
    if upheld {
        copy.copy_of = Some(dispute.original);
        crate::state::workflows().save(deps.storage, copy.id, &copy)?;
        response = response.add_attribute("copy_of", dispute.original.to_string());
    }
    dispute.status = match upheld {
        true => DisputeStatus::Upheld,
        false => DisputeStatus::Rejected,
    };
    DISPUTES.save(deps.storage, id, &dispute)?;
    OPEN_DISPUTES.remove(deps.storage, dispute.copy);
    Ok(response)
}
