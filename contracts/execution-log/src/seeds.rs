//! Provable draws (docs/verification.md, "Provable draws"). Each active validator commits
//! `sha256(secret)` for an epoch before it starts and reveals the secret after it ends; then
//! anyone can recompute its draws (`havn_types::sampling`). A validator drawn for a job that
//! signed a structural Valid for it anyway is reported lazy and slashed; one that never reveals
//! hides its draws and is slashed harder. Only validators with a seed for the job's epoch are paid
//! for it (`paid_voters`), so skipping the commitment does not dodge any of this.

use cosmwasm_std::{
    to_json_binary, Addr, Deps, DepsMut, Env, Event, HexBinary, Response, StdResult, Storage,
    WasmMsg,
};
use havn_staking::msg::ExecuteMsg as StakingMsg;
use havn_types::sampling::{draw_threshold, drawn, epoch_of, seed_commitment};
use havn_types::{Check, Verdict};

use crate::error::ContractError;
use crate::execute::{hash32, load_job};
use crate::msg::EpochResponse;
use crate::record::quorum_context;
use crate::state::{
    AuditState, EpochInfo, JobStatus, Params, Seed, Vote, CONFIG, EPOCHS, LAZY_REPORTED, PARAMS,
    REEXECUTIONS_PAID, SEEDS, VOTES,
};

/// Payout's `PayReexecutions`, serialized as its `ExecuteMsg` is (the integration tests run it
/// against the real contract).
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum PayoutCall<'a> {
    PayReexecutions { validator: &'a str, count: u32 },
}

/// Seeds may be committed this many epochs ahead.
pub const COMMIT_AHEAD: u64 = 2;

pub fn current_epoch(env: &Env, params: &Params) -> u64 {
    epoch_of(env.block.height, params.epoch_blocks)
}

/// The draw threshold every validator with a seed for `epoch` draws with.
pub fn threshold(storage: &dyn Storage, epoch: u64) -> StdResult<u64> {
    let info = EPOCHS.may_load(storage, epoch)?.unwrap_or_default();
    Ok(draw_threshold(info.p_min_bps, info.committed))
}

/// Seeds and audit trees are committed for one of the next `COMMIT_AHEAD` epochs.
pub fn commit_window(env: &Env, params: &Params, epoch: u64) -> Result<(), ContractError> {
    let current = current_epoch(env, params);
    if epoch <= current || epoch > current + COMMIT_AHEAD {
        return Err(ContractError::BadEpoch {
            epoch,
            reason: format!(
                "commitments are for the next {COMMIT_AHEAD} epochs, {} to {}",
                current + 1,
                current + COMMIT_AHEAD
            ),
        });
    }
    Ok(())
}

pub fn commit(
    deps: DepsMut,
    env: &Env,
    sender: Addr,
    epoch: u64,
    commitment: HexBinary,
) -> Result<Response, ContractError> {
    hash32(&commitment, "commitment")?;
    let params = PARAMS.load(deps.storage)?;
    commit_window(env, &params, epoch)?;
    let config = CONFIG.load(deps.storage)?;
    let (_, ctx) = quorum_context(&deps, &config, &[])?;
    if !ctx.validators.iter().any(|v| v.operator == sender) {
        return Err(ContractError::NotActiveValidator {
            sender: sender.to_string(),
        });
    }
    if SEEDS.has(deps.storage, (epoch, &sender)) {
        return Err(ContractError::AlreadyCommitted { epoch });
    }
    SEEDS.save(
        deps.storage,
        (epoch, &sender),
        &Seed {
            commitment,
            secret: None,
            reported: false,
        },
    )?;
    let mut info = EPOCHS.may_load(deps.storage, epoch)?.unwrap_or(EpochInfo {
        p_min_bps: params.p_min_bps,
        ..EpochInfo::default()
    });
    info.committed += 1;
    EPOCHS.save(deps.storage, epoch, &info)?;
    Ok(Response::new()
        .add_attribute("action", "commit_seed")
        .add_attribute("epoch", epoch.to_string())
        .add_attribute("validator", sender.as_str()))
}

pub fn reveal(
    deps: DepsMut,
    env: &Env,
    sender: Addr,
    epoch: u64,
    secret: HexBinary,
) -> Result<Response, ContractError> {
    let bytes = hash32(&secret, "secret")?;
    let params = PARAMS.load(deps.storage)?;
    let current = current_epoch(env, &params);
    if epoch >= current {
        return Err(ContractError::BadEpoch {
            epoch,
            reason: format!("a seed is revealed once its epoch is over (now epoch {current})"),
        });
    }
    let mut seed = SEEDS
        .may_load(deps.storage, (epoch, &sender))?
        .ok_or_else(|| ContractError::NoSeed {
            epoch,
            validator: sender.to_string(),
        })?;
    if seed.secret.is_some() {
        return Err(ContractError::AlreadyRevealed { epoch });
    }
    if seed_commitment(&bytes).as_slice() != seed.commitment.as_slice() {
        return Err(ContractError::BadReveal { epoch });
    }
    seed.secret = Some(secret);
    SEEDS.save(deps.storage, (epoch, &sender), &seed)?;
    Ok(Response::new()
        .add_attribute("action", "reveal_seed")
        .add_attribute("epoch", epoch.to_string())
        .add_attribute("validator", sender.as_str()))
}

fn slash_lazy(
    deps: Deps,
    validator: &Addr,
    reporter: &Addr,
    job_id: Option<u64>,
    epoch: u64,
) -> Result<WasmMsg, ContractError> {
    Ok(WasmMsg::Execute {
        contract_addr: CONFIG.load(deps.storage)?.staking.to_string(),
        msg: to_json_binary(&StakingMsg::SlashLazy {
            validator: validator.to_string(),
            reporter: reporter.to_string(),
            job_id,
            epoch,
        })?,
        funds: vec![],
    })
}

/// Anyone: a validator that was drawn for a job (by its revealed seed) and signed a structural
/// Valid for it. The reporter takes staking's reporter reward.
pub fn report_lazy(
    deps: DepsMut,
    reporter: Addr,
    job_id: u64,
    validator: String,
) -> Result<Response, ContractError> {
    let validator = deps.api.addr_validate(&validator)?;
    let job = load_job(deps.as_ref(), job_id)?;
    let not_lazy = |reason: &str| ContractError::NotLazy {
        id: job_id,
        validator: validator.to_string(),
        reason: reason.to_string(),
    };
    let claim = job
        .result
        .clone()
        .ok_or_else(|| not_lazy("no result on record"))?;
    let votes = VOTES.may_load(deps.storage, job_id)?.unwrap_or_default();
    let vote = votes
        .iter()
        .find(|v| v.validator == validator)
        .ok_or_else(|| not_lazy("it did not vote on it"))?;
    if vote.verdict != Verdict::Valid || vote.check != Check::Structural {
        return Err(not_lazy("its vote is not a structural Valid"));
    }
    if LAZY_REPORTED.has(deps.storage, (job_id, &validator)) {
        return Err(ContractError::AlreadyReported);
    }
    let params = PARAMS.load(deps.storage)?;
    let epoch = epoch_of(job.requested_height, params.epoch_blocks);
    let seed = SEEDS
        .may_load(deps.storage, (epoch, &validator))?
        .ok_or_else(|| not_lazy("it committed no seed for the job's epoch"))?;
    let secret = seed.secret.ok_or(ContractError::SeedNotRevealed {
        epoch,
        validator: validator.to_string(),
    })?;
    let secret = hash32(&secret, "secret")?;
    let output = hash32(&claim.output_hash, "output_hash")?;
    if !drawn(&secret, job_id, &output, threshold(deps.storage, epoch)?) {
        return Err(ContractError::NotDrawn {
            id: job_id,
            validator: validator.to_string(),
        });
    }
    LAZY_REPORTED.save(deps.storage, (job_id, &validator), &())?;
    let slash = slash_lazy(deps.as_ref(), &validator, &reporter, Some(job_id), epoch)?;
    Ok(Response::new()
        .add_message(slash)
        .add_attribute("action", "report_lazy")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("validator", validator.as_str()))
}

/// Anyone: a validator that committed a seed for `epoch` and did not reveal it by the end of the
/// next epoch (it would hide every draw of the epoch).
pub fn report_unrevealed(
    deps: DepsMut,
    env: &Env,
    reporter: Addr,
    epoch: u64,
    validator: String,
) -> Result<Response, ContractError> {
    let validator = deps.api.addr_validate(&validator)?;
    let params = PARAMS.load(deps.storage)?;
    let current = current_epoch(env, &params);
    let mut seed = SEEDS
        .may_load(deps.storage, (epoch, &validator))?
        .ok_or_else(|| ContractError::NoSeed {
            epoch,
            validator: validator.to_string(),
        })?;
    if seed.secret.is_some() {
        return Err(ContractError::AlreadyRevealed { epoch });
    }
    if current <= epoch + 1 {
        return Err(ContractError::BadEpoch {
            epoch,
            reason: format!(
                "its seed may be revealed until epoch {} ends (now epoch {current})",
                epoch + 1
            ),
        });
    }
    if seed.reported {
        return Err(ContractError::AlreadyReported);
    }
    seed.reported = true;
    SEEDS.save(deps.storage, (epoch, &validator), &seed)?;
    let slash = slash_lazy(deps.as_ref(), &validator, &reporter, None, epoch)?;
    Ok(Response::new()
        .add_message(slash)
        .add_attribute("action", "report_unrevealed")
        .add_attribute("epoch", epoch.to_string())
        .add_attribute("validator", validator.as_str()))
}

/// Why one re-execution cannot be claimed, or `Ok` when it can.
fn claimable(deps: Deps, params: &Params, validator: &Addr, id: u64) -> Result<(), String> {
    let job = load_job(deps, id).map_err(|e| e.to_string())?;
    let verdict = match job.status {
        JobStatus::Valid => Verdict::Valid,
        JobStatus::Invalid => Verdict::Invalid,
        status => return Err(format!("job {id} is {status:?}, not decided")),
    };
    let votes = VOTES
        .may_load(deps.storage, id)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let vote = votes
        .iter()
        .find(|v| v.validator == *validator)
        .ok_or("no vote of this validator")?;
    if !vote.check.reexecuted() || vote.verdict != verdict {
        return Err("not a re-execution that agrees with the verdict".into());
    }
    if REEXECUTIONS_PAID.has(deps.storage, (id, validator)) {
        return Err("already paid".into());
    }
    let epoch = epoch_of(job.requested_height, params.epoch_blocks);
    let secret = SEEDS
        .may_load(deps.storage, (epoch, validator))
        .map_err(|e| e.to_string())?
        .and_then(|s| s.secret)
        .ok_or(format!("no revealed seed for epoch {epoch}"))?;
    let secret = hash32(&secret, "secret").map_err(|e| e.to_string())?;
    let output = job
        .result
        .as_ref()
        .and_then(|r| r.output_hash.to_array().ok())
        .ok_or("no result on record")?;
    // A dispute (any Invalid vote, or the node's audit) asks every validator to re-execute:
    // those re-executions are paid like drawn ones, or ignoring escalations would pay.
    let disputed =
        job.audit == AuditState::Audit || votes.iter().any(|v| v.verdict == Verdict::Invalid);
    let threshold = threshold(deps.storage, epoch).map_err(|e| e.to_string())?;
    match disputed || drawn(&secret, id, &output, threshold) {
        true => Ok(()),
        false => Err("not drawn, and the job was not disputed".into()),
    }
}

pub fn claim_reexecutions(
    deps: DepsMut,
    sender: Addr,
    job_ids: Vec<u64>,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    crate::finalize::check_ids(&params, &job_ids)?;
    let mut response = Response::new()
        .add_attribute("action", "claim_reexecutions")
        .add_attribute("validator", sender.as_str());
    let mut count = 0u32;
    for id in job_ids {
        let event = Event::new("havn_reexecution").add_attribute("job_id", id.to_string());
        let event = match claimable(deps.as_ref(), &params, &sender, id) {
            Ok(()) => {
                REEXECUTIONS_PAID.save(deps.storage, (id, &sender), &())?;
                count += 1;
                event.add_attribute("outcome", "claimed")
            }
            Err(reason) => event
                .add_attribute("outcome", "skipped")
                .add_attribute("reason", reason),
        };
        response = response.add_event(event);
    }
    if count > 0 {
        let payout = CONFIG.load(deps.storage)?.payout;
        response = response.add_message(WasmMsg::Execute {
            contract_addr: payout.to_string(),
            msg: to_json_binary(&PayoutCall::PayReexecutions {
                validator: sender.as_str(),
                count,
            })?,
            funds: vec![],
        });
    }
    Ok(response.add_attribute("claimed", count.to_string()))
}

/// The voters a job's validator pool goes to: those with a seed for its epoch (they can be held
/// to their draws). When nobody committed for the epoch (a new network) every voter is.
pub fn paid_voters<'a>(
    storage: &dyn Storage,
    params: &Params,
    requested_height: u64,
    voters: Vec<&'a Vote>,
) -> StdResult<Vec<&'a Vote>> {
    let epoch = epoch_of(requested_height, params.epoch_blocks);
    if EPOCHS
        .may_load(storage, epoch)?
        .unwrap_or_default()
        .committed
        == 0
    {
        return Ok(voters);
    }
    Ok(voters
        .into_iter()
        .filter(|v| SEEDS.has(storage, (epoch, &v.validator)))
        .collect())
}

pub fn query_epoch(deps: Deps, env: &Env, epoch: Option<u64>) -> StdResult<EpochResponse> {
    let params = PARAMS.load(deps.storage)?;
    let epoch = epoch.unwrap_or_else(|| current_epoch(env, &params));
    let info = EPOCHS.may_load(deps.storage, epoch)?.unwrap_or_default();
    let blocks = params.epoch_blocks.max(1);
    Ok(EpochResponse {
        epoch,
        current: current_epoch(env, &params),
        start_height: epoch.saturating_mul(blocks),
        end_height: epoch.saturating_add(1).saturating_mul(blocks),
        committed: info.committed,
        p_min_bps: info.p_min_bps,
        threshold: draw_threshold(info.p_min_bps, info.committed).into(),
        auditors: info.auditors,
        audit_bps: info.audit_bps,
    })
}
