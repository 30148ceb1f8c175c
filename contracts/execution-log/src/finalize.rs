//! `Finalize`: anyone, for many jobs at once. A recorded job whose challenge window passed is
//! paid; a disputed job whose dispute timed out goes to governance's arbitration (a third of the
//! stake could block a re-execution quorum; docs/verification.md); an arbitration that timed out
//! goes back to its caller, and nobody is slashed (nothing was proved). A recorded job whose node
//! never proved its audit is refunded instead of paid; a job proven invalid whose node's audit
//! proof did not come within `audit_window` costs the node its fraud slash. Other ids are skipped
//! with their reason, so one stale id never sinks a batch.

use cosmwasm_std::{CosmosMsg, DepsMut, Env, Event, Response, Storage, Uint128};

use crate::audits::node_slash;
use crate::error::ContractError;
use crate::execute::load_job;
use crate::record::{distribute, pay};
use crate::state::{
    adjust_escrow, AuditState, Config, Job, JobStatus, CONFIG, JOBS, PARAMS, VOTES,
};

/// A list of job ids for one message: 1 to twice `max_batch`.
pub fn check_ids(params: &crate::state::Params, job_ids: &[u64]) -> Result<(), ContractError> {
    let max = params.max_batch * 2;
    match job_ids.is_empty() || job_ids.len() > max as usize {
        true => Err(ContractError::BadBatchSize {
            count: job_ids.len(),
            max,
        }),
        false => Ok(()),
    }
}

/// The job's fee back to its caller, nothing paid: `Refunded`.
fn refund(
    storage: &mut dyn Storage,
    config: &Config,
    job: &mut Job,
) -> Result<CosmosMsg, ContractError> {
    job.status = JobStatus::Refunded;
    job.window_ends = None;
    JOBS.save(storage, job.id, job)?;
    adjust_escrow(storage, job.fee, false)?;
    Ok(config.asset.transfer_msg(&job.caller, job.fee)?)
}

pub fn finalize(
    mut deps: DepsMut,
    env: &Env,
    job_ids: Vec<u64>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let params = PARAMS.load(deps.storage)?;
    check_ids(&params, &job_ids)?;
    let mut response = Response::new().add_attribute("action", "finalize");
    let (mut settlements, mut fees) = (Vec::new(), Uint128::zero());
    let (mut paid, mut refunded, mut arbitration, mut skipped) = (0u32, 0u32, 0u32, 0u32);
    let mut slashed = 0u32;
    for id in job_ids {
        let event = Event::new("havn_finalize").add_attribute("job_id", id.to_string());
        let mut job = match load_job(deps.as_ref(), id) {
            Ok(job) => job,
            Err(e) => {
                skipped += 1;
                response = response.add_event(
                    event
                        .add_attribute("outcome", "skipped")
                        .add_attribute("reason", e.to_string()),
                );
                continue;
            }
        };
        let ends = job.window_ends.unwrap_or(u64::MAX);
        let event = match (job.status, job.result.clone()) {
            // The node never proved whether it was an audit: not paid, the caller refunded.
            (JobStatus::Recorded, Some(_))
                if env.block.height >= ends && job.audit == AuditState::Due =>
            {
                response = response.add_message(refund(deps.storage, &config, &mut job)?);
                refunded += 1;
                event
                    .add_attribute("outcome", "unproven")
                    .add_attribute("amount", job.fee)
            }
            // Proven invalid, and the node's audit proof did not come in time: its fraud slash.
            (JobStatus::Invalid, Some(_))
                if env.block.height >= ends && job.audit == AuditState::Due =>
            {
                let votes = VOTES.may_load(deps.storage, id)?.unwrap_or_default();
                response = response.add_message(node_slash(&config, &job, &votes)?);
                job.window_ends = None;
                JOBS.save(deps.storage, id, &job)?;
                slashed += 1;
                event.add_attribute("outcome", "slashed")
            }
            (JobStatus::Recorded, Some(claim)) if env.block.height >= ends => {
                let votes = VOTES.may_load(deps.storage, id)?.unwrap_or_default();
                let settlement = pay(deps.branch(), env, &params, &mut job, claim, votes)?;
                fees += settlement.fee;
                settlements.push(settlement);
                paid += 1;
                event.add_attribute("outcome", "valid")
            }
            (JobStatus::Disputed, _) if env.block.height >= ends => {
                let ends = env.block.height + params.arbitration_timeout;
                job.status = JobStatus::Arbitration;
                job.window_ends = Some(ends);
                JOBS.save(deps.storage, id, &job)?;
                arbitration += 1;
                event
                    .add_attribute("outcome", "arbitration")
                    .add_attribute("window_ends", ends.to_string())
            }
            (JobStatus::Arbitration, _) if env.block.height >= ends => {
                response = response.add_message(refund(deps.storage, &config, &mut job)?);
                refunded += 1;
                event
                    .add_attribute("outcome", "refunded")
                    .add_attribute("amount", job.fee)
            }
            (status, _) => {
                skipped += 1;
                let reason = match status {
                    JobStatus::Invalid if job.window_ends.is_some() => ContractError::WindowOpen {
                        id,
                        window: "audit",
                        ends,
                    }
                    .to_string(),
                    JobStatus::Recorded | JobStatus::Disputed | JobStatus::Arbitration => {
                        let window = match status {
                            JobStatus::Recorded => "challenge",
                            JobStatus::Disputed => "dispute",
                            _ => "arbitration",
                        };
                        ContractError::WindowOpen { id, window, ends }.to_string()
                    }
                    JobStatus::Pending => ContractError::NotRecorded { id }.to_string(),
                    status => ContractError::AlreadySettled { id, status }.to_string(),
                };
                event
                    .add_attribute("outcome", "skipped")
                    .add_attribute("reason", reason)
            }
        };
        response = response.add_event(event);
    }
    if let Some(msg) = distribute(&config, settlements, fees)? {
        response = response.add_message(msg);
    }
    Ok(response
        .add_attribute("valid", paid.to_string())
        .add_attribute("refunded", refunded.to_string())
        .add_attribute("arbitration", arbitration.to_string())
        .add_attribute("slashed", slashed.to_string())
        .add_attribute("skipped", skipped.to_string())
        .add_attribute("fees_to_payout", fees))
}
