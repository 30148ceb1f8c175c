use cosmwasm_std::{
    to_json_binary, Addr, Deps, DepsMut, Env, HexBinary, Response, StdResult, Uint128,
};
use havn_types::{Check, RoyaltyPayee, Verdict};
use havn_workflow_registry::msg::{QueryMsg as RegistryQuery, RunTermsResponse};

use crate::error::ContractError;
use crate::msg::{ParamsUpdate, RequestJobResponse};
use crate::record::{decide, quorum_context, upgrades};
use crate::state::{
    adjust_escrow, DirectAttestation, Job, JobStatus, Params, Vote, CONFIG, DIRECT_ATTESTATIONS,
    JOBS, NEXT_JOB_ID, PARAMS, VOTES,
};

/// The lowest re-execution floor governance may set: 1 % of jobs.
pub const MIN_P_MIN_BPS: u16 = 100;

/// The audit rate's hard bounds: at least 0.5 % of jobs, at most 10 % (each audit is a job its
/// caller gets back, refunded).
pub const MIN_AUDIT_BPS: u16 = 50;
pub const MAX_AUDIT_BPS: u16 = 1_000;

/// Hard ceiling on a batch, whatever governance sets: bounds the gas of one `RecordExecution`.
pub const MAX_BATCH_LIMIT: u32 = 50;

pub fn validate_params(p: &Params) -> Result<(), ContractError> {
    let invalid = |name, reason: String| Err(ContractError::InvalidParam { name, reason });
    if p.job_timeout == 0 {
        return invalid("job_timeout", "must be above 0".into());
    }
    // Below a majority, two disjoint quorums could accept conflicting results.
    if !(5_001..=10_000).contains(&p.quorum_bps) {
        return invalid(
            "quorum_bps",
            format!(
                "must be 5001..=10000 (more than half), got {}",
                p.quorum_bps
            ),
        );
    }
    if p.min_signers == 0 {
        return invalid("min_signers", "must be at least 1".into());
    }
    if p.challenge_window == 0 {
        return invalid(
            "challenge_window",
            "must be at least 1 block, or a fraud could be paid before anyone can prove it".into(),
        );
    }
    if p.dispute_timeout == 0 {
        return invalid("dispute_timeout", "must be at least 1 block".into());
    }
    if !(MIN_P_MIN_BPS..=10_000).contains(&p.p_min_bps) {
        return invalid(
            "p_min_bps",
            format!(
                "must be {MIN_P_MIN_BPS}..=10000 (a floor governance cannot remove), got {}",
                p.p_min_bps
            ),
        );
    }
    if !(MIN_AUDIT_BPS..=MAX_AUDIT_BPS).contains(&p.audit_bps) {
        return invalid(
            "audit_bps",
            format!(
                "must be {MIN_AUDIT_BPS}..={MAX_AUDIT_BPS} (without audits a validator can sign \
                 re-executions it never ran), got {}",
                p.audit_bps
            ),
        );
    }
    if p.audit_window == 0 {
        return invalid("audit_window", "must be at least 1 block".into());
    }
    if p.epoch_blocks == 0 {
        return invalid("epoch_blocks", "must be at least 1 block".into());
    }
    if p.arbitration_timeout == 0 {
        return invalid("arbitration_timeout", "must be at least 1 block".into());
    }
    if !(1..=MAX_BATCH_LIMIT).contains(&p.max_batch) {
        return invalid(
            "max_batch",
            format!("must be 1..={MAX_BATCH_LIMIT}, got {}", p.max_batch),
        );
    }
    Ok(())
}

pub fn hash32(hash: &HexBinary, what: &'static str) -> Result<[u8; 32], ContractError> {
    hash.to_array().map_err(|_| ContractError::InvalidHash {
        what,
        len: hash.len(),
    })
}

fn ensure_admin(deps: Deps, sender: &Addr) -> Result<(), ContractError> {
    match CONFIG.load(deps.storage)?.admin == *sender {
        true => Ok(()),
        false => Err(ContractError::NotAdmin),
    }
}

pub fn load_job(deps: Deps, id: u64) -> Result<Job, ContractError> {
    JOBS.may_load(deps.storage, id)?
        .ok_or(ContractError::UnknownJob { id })
}

/// A job that can still take attestations: pending and before its deadline.
pub fn open_job(deps: Deps, env: &Env, id: u64) -> Result<Job, ContractError> {
    let job = load_job(deps, id)?;
    if job.status != JobStatus::Pending {
        return Err(ContractError::AlreadySettled {
            id,
            status: job.status,
        });
    }
    if env.block.time > job.deadline {
        return Err(ContractError::Expired {
            id,
            deadline: job.deadline,
        });
    }
    Ok(job)
}

pub fn request_job(
    deps: DepsMut,
    env: &Env,
    caller: Addr,
    workflow_id: u64,
    input_hash: HexBinary,
    fee: Uint128,
) -> Result<Response, ContractError> {
    hash32(&input_hash, "input_hash")?;
    let config = CONFIG.load(deps.storage)?;
    let params = PARAMS.load(deps.storage)?;
    // The one registry query of a job's life: its terms are snapshotted here.
    let terms: RunTermsResponse = deps
        .querier
        .query_wasm_smart(
            &config.registry,
            &RegistryQuery::RunTerms { id: workflow_id },
        )
        .map_err(|_| ContractError::UnknownWorkflow { id: workflow_id })?;
    if !terms.runnable {
        return Err(ContractError::NotRunnable { id: workflow_id });
    }
    if fee < terms.price {
        return Err(ContractError::FeeBelowPrice {
            fee: config.asset.amount(fee),
            price: config.asset.amount(terms.price),
        });
    }
    let id = NEXT_JOB_ID.load(deps.storage)?;
    NEXT_JOB_ID.save(deps.storage, &(id + 1))?;
    let job = Job {
        id,
        workflow_id,
        version: terms.version,
        version_hash: terms.content_hash,
        caller,
        input_hash,
        fee,
        creator: terms.creator,
        split: terms.split,
        royalty_stack: terms
            .royalty_stack
            .into_iter()
            .map(|s| RoyaltyPayee {
                payee: s.payee,
                bps: s.bps,
            })
            .collect(),
        requested_height: env.block.height,
        deadline: env.block.time.plus_seconds(params.job_timeout),
        status: JobStatus::Pending,
        result: None,
        window_ends: None,
        audit: Default::default(),
    };
    JOBS.save(deps.storage, id, &job)?;
    adjust_escrow(deps.storage, job.fee, true)?;
    Ok(Response::new()
        .set_data(to_json_binary(&RequestJobResponse { job_id: id })?)
        .add_attribute("action", "request_job")
        .add_attribute("job_id", id.to_string())
        .add_attribute("workflow_id", workflow_id.to_string())
        .add_attribute("version", job.version.to_string())
        .add_attribute("caller", job.caller.as_str())
        .add_attribute("fee", fee)
        .add_attribute("deadline", job.deadline.to_string()))
}

/// A validator's own vote, authenticated by its transaction. On a pending job it is stored for a
/// later `RecordExecution` (the node's claim is not on chain yet); on a recorded or disputed job
/// it counts at once, so a validator needs no router to dispute or to settle a dispute.
#[allow(clippy::too_many_arguments)]
pub fn attest(
    mut deps: DepsMut,
    env: &Env,
    validator: Addr,
    job_id: u64,
    node: &str,
    output_hash: HexBinary,
    verdict: Verdict,
    check: Check,
) -> Result<Response, ContractError> {
    let job = load_job(deps.as_ref(), job_id)?;
    hash32(&output_hash, "output_hash")?;
    let node = deps.api.addr_validate(node)?;
    let config = CONFIG.load(deps.storage)?;
    let (_, ctx) = quorum_context(&deps, &config, &[])?;
    // Only active validators may vote, which also bounds the votes per job.
    let Some(active) = ctx.validators.iter().find(|v| v.operator == validator) else {
        return Err(ContractError::NotActiveValidator {
            sender: validator.to_string(),
        });
    };
    let response = Response::new()
        .add_attribute("action", "attest")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("validator", validator.as_str());
    match job.status {
        JobStatus::Pending => {
            open_job(deps.as_ref(), env, job_id)?;
            if DIRECT_ATTESTATIONS.has(deps.storage, (job_id, &validator)) {
                return Err(ContractError::AlreadyAttested {
                    id: job_id,
                    validator: validator.to_string(),
                });
            }
            DIRECT_ATTESTATIONS.save(
                deps.storage,
                (job_id, &validator),
                &DirectAttestation {
                    node,
                    output_hash,
                    verdict,
                    check,
                },
            )?;
            Ok(response.add_attribute("outcome", "stored"))
        }
        JobStatus::Recorded | JobStatus::Disputed | JobStatus::Arbitration => {
            let claim = job
                .result
                .clone()
                .ok_or(ContractError::UnknownJob { id: job_id })?;
            if claim.node != node || claim.output_hash != output_hash {
                return Err(ContractError::ResultMismatch { id: job_id });
            }
            let ends = job.window_ends.unwrap_or_default();
            if job.status == JobStatus::Recorded && env.block.height >= ends {
                return Err(ContractError::WindowClosed { id: job_id, ends });
            }
            let mut votes = VOTES.may_load(deps.storage, job_id)?.unwrap_or_default();
            let vote = Vote {
                validator: validator.clone(),
                verdict,
                check,
                stake: active.stake,
            };
            match votes.iter().position(|v| v.validator == validator) {
                Some(i) if upgrades(&votes[i], check) => votes[i] = vote,
                Some(_) => {
                    return Err(ContractError::AlreadyAttested {
                        id: job_id,
                        validator: validator.to_string(),
                    })
                }
                None => votes.push(vote),
            }
            let params = PARAMS.load(deps.storage)?;
            let mut job = job;
            let outcome = decide(
                deps.branch(),
                env,
                &config,
                &params,
                &ctx,
                &mut job,
                claim,
                true,
                votes,
            )?;
            outcome.respond(response, &config)
        }
        status => Err(ContractError::AlreadySettled { id: job_id, status }),
    }
}

pub fn refund(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    job_id: u64,
) -> Result<Response, ContractError> {
    let mut job = load_job(deps.as_ref(), job_id)?;
    if job.caller != *sender {
        return Err(ContractError::NotCaller { id: job_id });
    }
    if job.status != JobStatus::Pending {
        return Err(ContractError::AlreadySettled {
            id: job_id,
            status: job.status,
        });
    }
    if env.block.time <= job.deadline {
        return Err(ContractError::NotExpired {
            id: job_id,
            deadline: job.deadline,
        });
    }
    job.status = JobStatus::Refunded;
    JOBS.save(deps.storage, job_id, &job)?;
    adjust_escrow(deps.storage, job.fee, false)?;
    let transfer = CONFIG
        .load(deps.storage)?
        .asset
        .transfer_msg(&job.caller, job.fee)?;
    Ok(Response::new()
        .add_message(transfer)
        .add_attribute("action", "refund")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("amount", job.fee))
}

/// Governance (the admin) decides a job in arbitration: `Invalid` refunds the caller and
/// slashes the node and every re-executed Valid signer; `Valid` pays the job and the Invalid
/// voters lose their bond. The same outcomes a re-execution quorum would have had.
pub fn arbitrate(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    job_id: u64,
    verdict: Verdict,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut job = load_job(deps.as_ref(), job_id)?;
    let claim = match (job.status, job.result.clone()) {
        (JobStatus::Arbitration, Some(claim)) => claim,
        (status, _) => return Err(ContractError::NotInArbitration { id: job_id, status }),
    };
    let votes = VOTES.may_load(deps.storage, job_id)?.unwrap_or_default();
    let config = CONFIG.load(deps.storage)?;
    let outcome = match verdict {
        Verdict::Invalid => {
            crate::record::resolve_invalid(deps, env, &config, &mut job, claim, votes)?
        }
        Verdict::Valid => {
            crate::record::resolve_overturned(deps, env, &config, &mut job, claim, votes)?
        }
    };
    let response = Response::new()
        .add_attribute("action", "arbitrate")
        .add_attribute("job_id", job_id.to_string());
    outcome.respond(response, &config)
}

pub fn update_params(
    deps: DepsMut,
    sender: &Addr,
    update: ParamsUpdate,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut p = PARAMS.load(deps.storage)?;
    p.job_timeout = update.job_timeout.unwrap_or(p.job_timeout);
    p.quorum_bps = update.quorum_bps.unwrap_or(p.quorum_bps);
    p.min_signers = update.min_signers.unwrap_or(p.min_signers);
    p.max_batch = update.max_batch.unwrap_or(p.max_batch);
    p.challenge_window = update.challenge_window.unwrap_or(p.challenge_window);
    p.dispute_timeout = update.dispute_timeout.unwrap_or(p.dispute_timeout);
    p.p_min_bps = update.p_min_bps.unwrap_or(p.p_min_bps);
    p.epoch_blocks = update.epoch_blocks.unwrap_or(p.epoch_blocks);
    p.arbitration_timeout = update.arbitration_timeout.unwrap_or(p.arbitration_timeout);
    p.audit_bps = update.audit_bps.unwrap_or(p.audit_bps);
    p.audit_window = update.audit_window.unwrap_or(p.audit_window);
    validate_params(&p)?;
    PARAMS.save(deps.storage, &p)?;
    Ok(Response::new().add_attribute("action", "update_params"))
}

pub fn update_config(
    deps: DepsMut,
    sender: &Addr,
    admin: Option<String>,
    payout: Option<String>,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    CONFIG.update(deps.storage, |mut c| -> StdResult<_> {
        if let Some(admin) = admin {
            c.admin = deps.api.addr_validate(&admin)?;
        }
        if let Some(payout) = payout {
            c.payout = deps.api.addr_validate(&payout)?;
        }
        Ok(c)
    })?;
    Ok(Response::new().add_attribute("action", "update_config"))
}
