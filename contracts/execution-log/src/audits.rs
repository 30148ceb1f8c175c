//! Audits (docs/verification.md, "Audits"): each node answers a fixed share of its jobs wrongly
//! on purpose, so that a validator signing re-executions it never ran is caught among honest nodes
//! too. A node commits the root of its audit tree before an epoch (`CommitAudit`); each of the
//! epoch's jobs it runs is then `Due` until, with the votes on chain, the node proves it an audit
//! or not (`ProveAudit`):
//! - not an audit: paid as usual when the window ends; a recorded job never proven is refunded;
//! - an audit of a recorded job: disputed, so re-executions decide it and every re-executed Valid
//!   on it is slashed; the node is neither paid nor slashed for it;
//! - a job proven invalid waits `audit_window` blocks for the node's proof before the node's
//!   fraud slash (the validators' slashes do not wait): an audit costs it nothing.

use cosmwasm_std::{Addr, CosmosMsg, DepsMut, Env, Event, HexBinary, Response, Storage};
use havn_staking::msg::JobSlash;
use havn_types::audit::{audit_threshold, is_audit, leaf_index, root_of};
use havn_types::sampling::epoch_of;
use havn_types::Verdict;

use crate::error::ContractError;
use crate::execute::{hash32, load_job};
use crate::finalize::check_ids;
use crate::msg::AuditProof;
use crate::record::{node_status, quorum_context, slash_msg};
use crate::seeds::commit_window;
use crate::state::{
    AuditState, Config, EpochInfo, Job, JobStatus, Params, AUDIT_ROOTS, CONFIG, EPOCHS, JOBS,
    PARAMS, VOTES,
};

pub fn commit(
    deps: DepsMut,
    env: &Env,
    sender: Addr,
    epoch: u64,
    root: HexBinary,
) -> Result<Response, ContractError> {
    hash32(&root, "root")?;
    let params = PARAMS.load(deps.storage)?;
    commit_window(env, &params, epoch)?;
    let config = CONFIG.load(deps.storage)?;
    let (nodes, ctx) = quorum_context(&deps, &config, &[sender.as_str()])?;
    if !node_status(&nodes, &ctx, sender.as_str()).active {
        return Err(ContractError::NotActiveNode {
            sender: sender.to_string(),
        });
    }
    if AUDIT_ROOTS.has(deps.storage, (epoch, &sender)) {
        return Err(ContractError::AuditAlreadyCommitted { epoch });
    }
    AUDIT_ROOTS.save(deps.storage, (epoch, &sender), &root)?;
    let mut info = EPOCHS.may_load(deps.storage, epoch)?.unwrap_or(EpochInfo {
        p_min_bps: params.p_min_bps,
        ..EpochInfo::default()
    });
    if info.auditors == 0 {
        info.audit_bps = params.audit_bps;
    }
    info.auditors += 1;
    EPOCHS.save(deps.storage, epoch, &info)?;
    Ok(Response::new()
        .add_attribute("action", "commit_audit")
        .add_attribute("epoch", epoch.to_string())
        .add_attribute("node", sender.as_str()))
}

/// The audit state a job's first claim starts with: `Due` when its node committed a tree for
/// the job's epoch; refused when another node did and this one did not (it would dodge audits).
pub fn on_claim(
    storage: &dyn Storage,
    params: &Params,
    job: &Job,
    node: &Addr,
) -> Result<AuditState, ContractError> {
    let epoch = epoch_of(job.requested_height, params.epoch_blocks);
    if AUDIT_ROOTS.has(storage, (epoch, node)) {
        return Ok(AuditState::Due);
    }
    match EPOCHS
        .may_load(storage, epoch)?
        .unwrap_or_default()
        .auditors
    {
        0 => Ok(AuditState::Exempt),
        _ => Err(ContractError::NoAuditRoot {
            node: node.to_string(),
            epoch,
        }),
    }
}

/// The node's fraud slash over a job, for when its audit proof is not (or no longer) pending.
pub fn node_slash(
    config: &Config,
    job: &Job,
    votes: &[crate::state::Vote],
) -> Result<CosmosMsg, ContractError> {
    let node = job.result.as_ref().map(|c| c.node.to_string());
    Ok(slash_msg(
        config,
        JobSlash {
            job_id: job.id,
            node,
            false_attesters: vec![],
            false_challengers: vec![],
            provers: votes
                .iter()
                .filter(|v| v.verdict == Verdict::Invalid)
                .map(|v| v.validator.to_string())
                .collect(),
            false_auditor: None,
        },
    )?)
}

pub fn prove(
    deps: DepsMut,
    env: &Env,
    sender: Addr,
    proofs: Vec<AuditProof>,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let ids: Vec<u64> = proofs.iter().map(|p| p.job_id).collect();
    check_ids(&params, &ids)?;
    let config = CONFIG.load(deps.storage)?;
    let mut response = Response::new().add_attribute("action", "prove_audit");
    for proof in proofs {
        let mut job = load_job(deps.as_ref(), proof.job_id)?;
        let id = job.id;
        let claim = job
            .result
            .clone()
            .ok_or(ContractError::NotRecorded { id })?;
        if claim.node != sender {
            return Err(ContractError::NotJobNode { id });
        }
        let not_due = |reason| ContractError::AuditNotDue {
            id,
            state: job.audit,
            reason,
        };
        match job.audit {
            AuditState::Due => {}
            AuditState::Exempt => {
                return Err(not_due(
                    "the node committed no audit tree for the job's epoch",
                ))
            }
            AuditState::Clear | AuditState::Audit => return Err(not_due("already proven")),
        }
        let height = env.block.height;
        match (job.status, job.window_ends) {
            (JobStatus::Recorded, Some(ends)) if height >= ends => {
                return Err(ContractError::WindowClosed { id, ends })
            }
            (JobStatus::Recorded | JobStatus::Disputed | JobStatus::Arbitration, _) => {}
            (JobStatus::Invalid, Some(ends)) if height < ends => {}
            (JobStatus::Invalid, _) => return Err(not_due("its audit window closed")),
            (status, _) => return Err(ContractError::AlreadySettled { id, status }),
        }
        let epoch = epoch_of(job.requested_height, params.epoch_blocks);
        let root = AUDIT_ROOTS
            .may_load(deps.storage, (epoch, &sender))?
            .ok_or_else(|| not_due("no audit tree on record for the job's epoch"))?;
        let leaf = hash32(&proof.leaf, "leaf")?;
        let path = proof
            .path
            .iter()
            .map(|h| hash32(h, "path"))
            .collect::<Result<Vec<_>, _>>()?;
        if root_of(&leaf, leaf_index(id), &path).map(HexBinary::from) != Some(root) {
            return Err(ContractError::BadAuditProof { id, epoch });
        }
        let rate = EPOCHS
            .may_load(deps.storage, epoch)?
            .unwrap_or_default()
            .audit_bps;
        let audit = is_audit(&leaf, id, audit_threshold(rate));
        let outcome = match (audit, job.status) {
            (false, JobStatus::Invalid) => {
                let votes = VOTES.may_load(deps.storage, id)?.unwrap_or_default();
                response = response.add_message(node_slash(&config, &job, &votes)?);
                job.window_ends = None;
                "clear_slashed"
            }
            (false, _) => "clear",
            (true, JobStatus::Recorded) => {
                job.status = JobStatus::Disputed;
                job.window_ends = Some(height + params.dispute_timeout);
                "audit_disputed"
            }
            (true, JobStatus::Invalid) => {
                job.window_ends = None;
                "audit_excused"
            }
            (true, _) => "audit",
        };
        job.audit = match audit {
            true => AuditState::Audit,
            false => AuditState::Clear,
        };
        JOBS.save(deps.storage, id, &job)?;
        let mut event = Event::new("havn_audit")
            .add_attribute("job_id", id.to_string())
            .add_attribute("outcome", outcome);
        if let Some(ends) = job.window_ends {
            event = event.add_attribute("window_ends", ends.to_string());
        }
        response = response.add_event(event);
    }
    Ok(response)
}
