//! `RecordExecution`: the one place a job becomes proven. Every result in a batch is judged on
//! its own; a job that fails its checks leaves no trace and does not sink the rest of the batch.

use cosmwasm_std::{
    to_json_binary, Addr, DepsMut, Env, Event, Order, Response, StdResult, Uint128, WasmMsg,
};
use havn_staking::msg::{
    ExecuteMsg as StakingMsg, QueryMsg as StakingQuery, QuorumContextResponse,
};
use havn_staking::state::ActiveValidator;
use havn_types::{quorum_reached, Attestation, PayoutMsg, Settlement, Verdict};

use crate::error::ContractError;
use crate::execute::{hash32, open_job};
use crate::msg::JobResult;
use crate::state::{
    adjust_escrow, executions, Config, Execution, JobStatus, Params, CONFIG, DIRECT_ATTESTATIONS,
    JOBS, PARAMS, STATS,
};

/// Most attestations one result may carry (the active set can hold at most 100 validators).
pub const MAX_ATTESTATIONS: usize = 100;

enum Outcome {
    Valid(Settlement),
    /// The caller's refund and the node's fraud slash.
    Invalid(Vec<cosmwasm_std::CosmosMsg>),
}

pub fn record_execution(
    mut deps: DepsMut,
    env: &Env,
    relayer: &Addr,
    results: Vec<JobResult>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let params = PARAMS.load(deps.storage)?;
    if results.is_empty() || results.len() > params.max_batch as usize {
        return Err(ContractError::BadBatchSize {
            count: results.len(),
            max: params.max_batch,
        });
    }
    // One staking query for the whole batch: the active set (keys, stakes) and the nodes' status.
    let mut nodes: Vec<Addr> = results
        .iter()
        .filter_map(|r| deps.api.addr_validate(&r.node).ok())
        .collect();
    nodes.sort();
    nodes.dedup();
    let ctx: QuorumContextResponse = deps.querier.query_wasm_smart(
        &config.staking,
        &StakingQuery::QuorumContext {
            nodes: nodes.iter().map(Addr::to_string).collect(),
        },
    )?;
    let active_nodes: Vec<&Addr> = nodes
        .iter()
        .zip(&ctx.nodes_active)
        .filter(|(_, active)| **active)
        .map(|(n, _)| n)
        .collect();

    let mut response = Response::new().add_attribute("action", "record_execution");
    let (mut settlements, mut fees) = (Vec::new(), Uint128::zero());
    let mut counts = [0u32; 4]; // valid, invalid, no quorum, rejected
    for result in results {
        let job_id = result.job_id;
        let event = Event::new("havn_job").add_attribute("job_id", job_id.to_string());
        let event = match settle(
            deps.branch(),
            env,
            &config,
            &params,
            &ctx,
            &active_nodes,
            relayer,
            result,
        ) {
            Ok(Outcome::Valid(settlement)) => {
                counts[0] += 1;
                fees += settlement.fee;
                let event = event
                    .add_attribute("outcome", "valid")
                    .add_attribute("signers", settlement.validators.len().to_string());
                settlements.push(settlement);
                event
            }
            Ok(Outcome::Invalid(msgs)) => {
                counts[1] += 1;
                response = response.add_messages(msgs);
                event.add_attribute("outcome", "invalid")
            }
            Err(e @ ContractError::NoQuorum { .. }) => {
                counts[2] += 1;
                event
                    .add_attribute("outcome", "no_quorum")
                    .add_attribute("reason", e.to_string())
            }
            Err(e) => {
                counts[3] += 1;
                event
                    .add_attribute("outcome", "rejected")
                    .add_attribute("reason", e.to_string())
            }
        };
        response = response.add_event(event);
    }
    if !settlements.is_empty() {
        // One payout call per batch, not per job: every contract call costs ~60k gas on wasmd.
        let distribute = to_json_binary(&PayoutMsg::Distribute { settlements })?;
        response = response.add_message(config.asset.send_to_contract_msg(
            &config.payout,
            fees,
            distribute,
        )?);
    }
    Ok(response
        .add_attribute("valid", counts[0].to_string())
        .add_attribute("invalid", counts[1].to_string())
        .add_attribute("no_quorum", counts[2].to_string())
        .add_attribute("rejected", counts[3].to_string())
        .add_attribute("fees_to_payout", fees))
}

/// Judges one result. All checks come before any write, so an error leaves no state behind.
#[allow(clippy::too_many_arguments)]
fn settle(
    deps: DepsMut,
    env: &Env,
    config: &Config,
    params: &Params,
    ctx: &QuorumContextResponse,
    active_nodes: &[&Addr],
    relayer: &Addr,
    result: JobResult,
) -> Result<Outcome, ContractError> {
    let mut job = open_job(deps.as_ref(), env, result.job_id)?;
    let node = deps.api.addr_validate(&result.node)?;
    if !active_nodes.contains(&&node) {
        return Err(ContractError::NodeNotActive {
            node: node.to_string(),
        });
    }
    if result.attestations.len() > MAX_ATTESTATIONS {
        return Err(ContractError::BadBatchSize {
            count: result.attestations.len(),
            max: MAX_ATTESTATIONS as u32,
        });
    }
    let output_hash = hash32(&result.output_hash, "output_hash")?;
    // The same bytes the validators signed: this chain, this contract, this job.
    let digest = Attestation {
        chain_id: &env.block.chain_id,
        execution_log: env.contract.address.as_str(),
        job_id: job.id,
        workflow_id: job.workflow_id,
        version_hash: &hash32(&job.version_hash, "version_hash")?,
        node: node.as_str(),
        input_hash: &hash32(&job.input_hash, "input_hash")?,
        output_hash: &output_hash,
        verdict: result.verdict,
    }
    .digest();

    // A signer counts once, however many entries or signature encodings (a high-S twin verifies
    // too) it appears with; unknown and jailed validators are not in the active set at all.
    let mut signers: Vec<&ActiveValidator> = Vec::new();
    for attestation in &result.attestations {
        let Some(validator) = ctx
            .validators
            .iter()
            .find(|v| v.operator.as_str() == attestation.validator)
        else {
            continue;
        };
        if signers.iter().any(|s| s.operator == validator.operator) {
            continue;
        }
        if deps
            .api
            .secp256k1_verify(digest.as_bytes(), &attestation.signature, &validator.pubkey)
            .unwrap_or(false)
        {
            signers.push(validator);
        }
    }
    for item in DIRECT_ATTESTATIONS
        .prefix(job.id)
        .range(deps.storage, None, None, Order::Ascending)
    {
        let (validator, direct) = item?;
        if direct.node != node
            || direct.output_hash != result.output_hash
            || direct.verdict != result.verdict
            || signers.iter().any(|s| s.operator == validator)
        {
            continue;
        }
        if let Some(v) = ctx.validators.iter().find(|v| v.operator == validator) {
            signers.push(v);
        }
    }
    let signed: Uint128 = signers.iter().map(|v| v.stake).sum();
    if !quorum_reached(signed, ctx.total_stake, params.quorum_bps)
        || signers.len() < params.min_signers as usize
    {
        return Err(ContractError::NoQuorum {
            signers: signers.len(),
            signed,
            total: ctx.total_stake,
        });
    }

    match result.verdict {
        Verdict::Valid => {
            job.status = JobStatus::Valid;
            JOBS.save(deps.storage, job.id, &job)?;
            adjust_escrow(deps.storage, job.fee, false)?;
            let execution = Execution {
                job_id: job.id,
                workflow_id: job.workflow_id,
                version: job.version,
                caller: job.caller.clone(),
                node: node.clone(),
                output_hash: result.output_hash,
                signers: signers.iter().map(|v| v.operator.clone()).collect(),
                fee: job.fee,
                height: env.block.height,
                time: env.block.time,
            };
            executions().save(deps.storage, job.id, &execution)?;
            STATS.update(deps.storage, job.workflow_id, |s| -> StdResult<_> {
                let mut s = s.unwrap_or_default();
                s.runs += 1;
                s.total_fees += job.fee;
                Ok(s)
            })?;
            Ok(Outcome::Valid(Settlement {
                job_id: job.id,
                workflow_id: job.workflow_id,
                fee: job.fee,
                split: job.split,
                creator: job.creator,
                royalty_stack: job.royalty_stack,
                node,
                validators: signers
                    .iter()
                    .map(|v| (v.operator.clone(), v.stake))
                    .collect(),
            }))
        }
        Verdict::Invalid => {
            job.status = JobStatus::Invalid;
            JOBS.save(deps.storage, job.id, &job)?;
            adjust_escrow(deps.storage, job.fee, false)?;
            let refund = config.asset.transfer_msg(&job.caller, job.fee)?;
            let slash = WasmMsg::Execute {
                contract_addr: config.staking.to_string(),
                msg: to_json_binary(&StakingMsg::SlashFraud {
                    node: node.to_string(),
                    job_id: job.id,
                    reporter: relayer.to_string(),
                })?,
                funds: vec![],
            };
            Ok(Outcome::Invalid(vec![refund, slash.into()]))
        }
    }
}
