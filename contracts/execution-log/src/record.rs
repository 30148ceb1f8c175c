//! `RecordExecution` and `Challenge`: the one place a job's result is judged. Every result in a
//! batch is judged on its own; a job that fails its checks leaves no trace and does not sink the
//! rest of the batch. The rules (docs/verification.md):
//! - the node's signed claim is checked against its staked key and fixed by the first record;
//! - a quorum of Invalid votes proves the result invalid;
//! - any Invalid vote, short of that, disputes the job: from then on only re-executed verdicts
//!   count, and a quorum of re-executed Valid overturns the challenge;
//! - a Valid quorum with no dissent is recorded and paid only after the challenge window.

use cosmwasm_std::{
    to_json_binary, Addr, CosmosMsg, DepsMut, Env, Event, Order, Response, StdResult, Storage,
    Uint128, WasmMsg,
};
use havn_staking::msg::{
    ExecuteMsg as StakingMsg, JobSlash, NodeStatus, QueryMsg as StakingQuery, QuorumContextResponse,
};
use havn_types::mesh::ResultClaim;
use havn_types::{Attestation, Ballot, Check, Decision, PayoutMsg, Settlement, Verdict};

use crate::error::ContractError;
use crate::execute::{hash32, load_job};
use crate::msg::JobResult;
use crate::state::{
    adjust_escrow, executions, AuditState, ClaimedResult, Config, Execution, Job, JobStatus,
    Params, Vote, CONFIG, DIRECT_ATTESTATIONS, JOBS, PARAMS, STATS, VOTES,
};

/// Most attestations one result may carry (the active set can hold at most 100 validators).
pub const MAX_ATTESTATIONS: usize = 100;

/// What judging one result did.
pub enum Outcome {
    /// Valid quorum, no dissent: paid after the window (at this height).
    Recorded { window_ends: u64 },
    /// Frozen until a re-execution quorum, or refunded at this height.
    Disputed { window_ends: u64 },
    /// Proven invalid: the caller's refund and the slashes; with the height from which
    /// `Finalize` slashes the node when its audit proof is due (it waits `audit_window`).
    Invalid(Vec<CosmosMsg>, Option<u64>),
    /// Paid now (a challenge overturned), with the challengers' slash if any.
    Paid(Box<Settlement>, Option<CosmosMsg>),
}

impl Outcome {
    /// A one-job message's response (`Challenge`, `Attest`): the outcome, its window, and the
    /// refund, slashes or payout it sends.
    pub fn respond(self, response: Response, config: &Config) -> Result<Response, ContractError> {
        let response = response.add_attribute("outcome", self.name());
        Ok(match self {
            Outcome::Recorded { window_ends } | Outcome::Disputed { window_ends } => {
                response.add_attribute("window_ends", window_ends.to_string())
            }
            Outcome::Invalid(msgs, audit_ends) => response
                .add_messages(msgs)
                .add_attributes(audit_ends.map(|h| ("window_ends", h.to_string()))),
            Outcome::Paid(settlement, slash) => {
                let fee = settlement.fee;
                response.add_messages(slash).add_messages(distribute(
                    config,
                    vec![*settlement],
                    fee,
                )?)
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Recorded { .. } => "recorded",
            Outcome::Disputed { .. } => "disputed",
            Outcome::Invalid(..) => "invalid",
            Outcome::Paid(..) => "valid",
        }
    }
}

/// One staking query for a batch: the active set (keys, stakes) and each node's status.
pub fn quorum_context(
    deps: &DepsMut,
    config: &Config,
    nodes: &[&str],
) -> Result<(Vec<Addr>, QuorumContextResponse), ContractError> {
    let mut nodes: Vec<Addr> = nodes
        .iter()
        .filter_map(|n| deps.api.addr_validate(n).ok())
        .collect();
    nodes.sort();
    nodes.dedup();
    let ctx: QuorumContextResponse = deps.querier.query_wasm_smart(
        &config.staking,
        &StakingQuery::QuorumContext {
            nodes: nodes.iter().map(Addr::to_string).collect(),
        },
    )?;
    Ok((nodes, ctx))
}

pub fn record_execution(
    mut deps: DepsMut,
    env: &Env,
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
    let node_names: Vec<&str> = results.iter().map(|r| r.node.as_str()).collect();
    let (nodes, ctx) = quorum_context(&deps, &config, &node_names)?;

    let mut response = Response::new().add_attribute("action", "record_execution");
    let (mut settlements, mut fees) = (Vec::new(), Uint128::zero());
    let mut counts = std::collections::BTreeMap::<&str, u32>::new();
    for result in results {
        let event = Event::new("havn_job").add_attribute("job_id", result.job_id.to_string());
        let status = node_status(&nodes, &ctx, &result.node);
        let event = match judge(deps.branch(), env, &config, &params, &ctx, &status, result) {
            Ok(outcome) => {
                *counts.entry(outcome.name()).or_default() += 1;
                let event = event.add_attribute("outcome", outcome.name());
                match outcome {
                    Outcome::Recorded { window_ends } | Outcome::Disputed { window_ends } => {
                        event.add_attribute("window_ends", window_ends.to_string())
                    }
                    Outcome::Invalid(msgs, audit_ends) => {
                        response = response.add_messages(msgs);
                        event.add_attributes(audit_ends.map(|h| ("window_ends", h.to_string())))
                    }
                    Outcome::Paid(settlement, slash) => {
                        fees += settlement.fee;
                        response = response.add_messages(slash);
                        settlements.push(*settlement);
                        event
                    }
                }
            }
            Err(e) => {
                let outcome = match e {
                    ContractError::NoQuorum { .. } => "no_quorum",
                    _ => "rejected",
                };
                *counts.entry(outcome).or_default() += 1;
                event
                    .add_attribute("outcome", outcome)
                    .add_attribute("reason", e.to_string())
            }
        };
        response = response.add_event(event);
    }
    if let Some(msg) = distribute(&config, settlements, fees)? {
        response = response.add_message(msg);
    }
    for outcome in [
        "recorded",
        "disputed",
        "valid",
        "invalid",
        "no_quorum",
        "rejected",
    ] {
        let n = counts.get(outcome).copied().unwrap_or(0);
        response = response.add_attribute(outcome, n.to_string());
    }
    Ok(response.add_attribute("fees_to_payout", fees))
}

/// `Challenge`: one result whose only attestation is a signed Invalid. Unlike a batch, a
/// challenge that does not count fails the transaction with its reason.
pub fn challenge(
    mut deps: DepsMut,
    env: &Env,
    result: JobResult,
) -> Result<Response, ContractError> {
    if result.attestations.len() != 1 || result.attestations[0].verdict != Verdict::Invalid {
        return Err(ContractError::NotAChallenge);
    }
    let config = CONFIG.load(deps.storage)?;
    let params = PARAMS.load(deps.storage)?;
    let (nodes, ctx) = quorum_context(&deps, &config, &[result.node.as_str()])?;
    let status = node_status(&nodes, &ctx, &result.node);
    let job_id = result.job_id;
    // A challenge whose one vote did not count (a bad signature, an inactive signer) says so.
    let outcome = judge(deps.branch(), env, &config, &params, &ctx, &status, result).map_err(
        |e| match e {
            ContractError::NoQuorum { .. } => ContractError::NoNewVotes { id: job_id },
            e => e,
        },
    )?;
    // A counted Invalid never leaves a job recorded: the challenge's own vote did not count (the
    // direct Valid attestations of a pending job did); the error undoes it all.
    if let Outcome::Recorded { .. } = outcome {
        return Err(ContractError::NoNewVotes { id: job_id });
    }
    let response = Response::new()
        .add_attribute("action", "challenge")
        .add_attribute("job_id", job_id.to_string());
    outcome.respond(response, &config)
}

pub fn node_status(nodes: &[Addr], ctx: &QuorumContextResponse, node: &str) -> NodeStatus {
    nodes
        .iter()
        .position(|n| n.as_str() == node)
        .and_then(|i| ctx.nodes.get(i).cloned())
        .unwrap_or(NodeStatus {
            active: false,
            pubkey: None,
        })
}

/// Payout's `Distribute` for what a transaction paid: one call, however many jobs (every
/// contract call costs ~60k gas on wasmd).
pub fn distribute(
    config: &Config,
    settlements: Vec<Settlement>,
    fees: Uint128,
) -> Result<Option<CosmosMsg>, ContractError> {
    if settlements.is_empty() {
        return Ok(None);
    }
    let msg = to_json_binary(&PayoutMsg::Distribute { settlements })?;
    Ok(Some(config.asset.send_to_contract_msg(
        &config.payout,
        fees,
        msg,
    )?))
}

/// Judges one result. All checks come before any write, so an error leaves no state behind.
fn judge(
    deps: DepsMut,
    env: &Env,
    config: &Config,
    params: &Params,
    ctx: &QuorumContextResponse,
    node: &NodeStatus,
    result: JobResult,
) -> Result<Outcome, ContractError> {
    let mut job = load_job(deps.as_ref(), result.job_id)?;
    let node_addr = deps.api.addr_validate(&result.node)?;
    let output_hash = hash32(&result.output_hash, "output_hash")?;
    if result.attestations.len() > MAX_ATTESTATIONS {
        return Err(ContractError::BadBatchSize {
            count: result.attestations.len(),
            max: MAX_ATTESTATIONS as u32,
        });
    }
    let disputes = result
        .attestations
        .iter()
        .any(|a| a.verdict == Verdict::Invalid);
    match job.status {
        // A pending job past its deadline can still be challenged (a router that sat on the
        // Invalid verdicts must not save the node), but no longer recorded Valid.
        JobStatus::Pending if env.block.time > job.deadline && !disputes => {
            return Err(ContractError::Expired {
                id: job.id,
                deadline: job.deadline,
            })
        }
        JobStatus::Pending | JobStatus::Disputed | JobStatus::Arbitration => {}
        JobStatus::Recorded => {
            let ends = job.window_ends.unwrap_or_default();
            if env.block.height >= ends {
                return Err(ContractError::WindowClosed { id: job.id, ends });
            }
        }
        status => {
            return Err(ContractError::AlreadySettled { id: job.id, status });
        }
    }
    let claim = match &job.result {
        Some(claimed) => {
            if claimed.node != node_addr || claimed.output_hash != result.output_hash {
                return Err(ContractError::ResultMismatch { id: job.id });
            }
            claimed.clone()
        }
        None => {
            let claim = ClaimedResult {
                node: node_addr.clone(),
                output_hash: result.output_hash.clone(),
                attempt: result.claim.attempt,
                executor: result.claim.executor,
                device: result.claim.device,
                signature: result.claim.signature,
            };
            verify_claim(&deps, job.id, &claim, &output_hash, node)?;
            job.audit = crate::audits::on_claim(deps.storage, params, &job, &node_addr)?;
            claim
        }
    };

    // The same bytes the validators signed: this chain, this contract, this job, this verdict.
    let version_hash = hash32(&job.version_hash, "version_hash")?;
    let input_hash = hash32(&job.input_hash, "input_hash")?;
    let mut votes = VOTES.may_load(deps.storage, job.id)?.unwrap_or_default();
    let mut counted = 0;
    // A signer counts once, however many entries or signature encodings (a high-S twin verifies
    // too) it appears with, except that a structural vote may be replaced once by a re-executed
    // one (how a dispute gathers re-executions); unknown and jailed validators are not in the
    // active set at all.
    for attestation in &result.attestations {
        let Some(validator) = ctx
            .validators
            .iter()
            .find(|v| v.operator.as_str() == attestation.validator)
        else {
            continue;
        };
        let previous = votes.iter().position(|v| v.validator == validator.operator);
        if previous.is_some_and(|i| !upgrades(&votes[i], attestation.check)) {
            continue;
        }
        let digest = Attestation {
            chain_id: &env.block.chain_id,
            execution_log: env.contract.address.as_str(),
            job_id: job.id,
            workflow_id: job.workflow_id,
            version_hash: &version_hash,
            node: node_addr.as_str(),
            input_hash: &input_hash,
            output_hash: &output_hash,
            verdict: attestation.verdict,
            check: attestation.check,
        }
        .digest();
        if deps
            .api
            .secp256k1_verify(digest.as_bytes(), &attestation.signature, &validator.pubkey)
            .unwrap_or(false)
        {
            let vote = Vote {
                validator: validator.operator.clone(),
                verdict: attestation.verdict,
                check: attestation.check,
                stake: validator.stake,
            };
            match previous {
                Some(i) => votes[i] = vote,
                None => votes.push(vote),
            }
            counted += 1;
        }
    }
    if job.status == JobStatus::Pending {
        for item in
            DIRECT_ATTESTATIONS
                .prefix(job.id)
                .range(deps.storage, None, None, Order::Ascending)
        {
            let (validator, direct) = item?;
            if direct.node != node_addr
                || direct.output_hash != result.output_hash
                || votes.iter().any(|v| v.validator == validator)
            {
                continue;
            }
            if let Some(v) = ctx.validators.iter().find(|v| v.operator == validator) {
                votes.push(Vote {
                    validator,
                    verdict: direct.verdict,
                    check: direct.check,
                    stake: v.stake,
                });
            }
        }
    } else if counted == 0 {
        return Err(ContractError::NoNewVotes { id: job.id });
    }
    decide(
        deps,
        env,
        config,
        params,
        ctx,
        &mut job,
        claim,
        node.active,
        votes,
    )
}

/// Whether a validator's new vote with `check` may replace `previous`: a structural vote
/// upgraded to a re-execution.
pub fn upgrades(previous: &Vote, check: Check) -> bool {
    previous.check == Check::Structural && check.reexecuted()
}

fn verify_claim(
    deps: &DepsMut,
    job_id: u64,
    claim: &ClaimedResult,
    output_hash: &[u8; 32],
    node: &NodeStatus,
) -> Result<(), ContractError> {
    let Some(pubkey) = &node.pubkey else {
        return Err(ContractError::UnknownNode {
            node: claim.node.to_string(),
        });
    };
    let digest = ResultClaim {
        job_id,
        attempt: claim.attempt,
        output_hash,
        executor: &claim.executor,
        device: &claim.device,
    }
    .digest();
    match deps
        .api
        .secp256k1_verify(&digest, &claim.signature, pubkey)
        .unwrap_or(false)
    {
        true => Ok(()),
        false => Err(ContractError::BadClaim {
            node: claim.node.to_string(),
        }),
    }
}

/// Applies the rules (`havn_types::decide`) to a job's votes (old and new) and writes the
/// outcome.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    deps: DepsMut,
    env: &Env,
    config: &Config,
    params: &Params,
    ctx: &QuorumContextResponse,
    job: &mut Job,
    claim: ClaimedResult,
    node_active: bool,
    votes: Vec<Vote>,
) -> Result<Outcome, ContractError> {
    let ballots: Vec<Ballot> = votes
        .iter()
        .map(|v| (v.verdict, v.check, v.stake))
        .collect();
    let disputed = matches!(job.status, JobStatus::Disputed | JobStatus::Arbitration);
    match havn_types::decide(
        &ballots,
        ctx.total_stake,
        params.quorum_bps,
        params.min_signers,
        disputed,
    ) {
        Decision::Invalid => resolve_invalid(deps, env, config, job, claim, votes),
        Decision::Upheld => resolve_overturned(deps, env, config, job, claim, votes),
        Decision::Disputed => {
            if !disputed {
                job.status = JobStatus::Disputed;
                job.window_ends = Some(env.block.height + params.dispute_timeout);
            }
            save_open(deps.storage, job, claim, votes)
                .map(|ends| Outcome::Disputed { window_ends: ends })
        }
        // More Valid signers on a recorded job: they are paid with the others.
        _ if job.status == JobStatus::Recorded => save_open(deps.storage, job, claim, votes)
            .map(|ends| Outcome::Recorded { window_ends: ends }),
        Decision::Valid { .. } if node_active => {
            job.status = JobStatus::Recorded;
            job.window_ends = Some(env.block.height + params.challenge_window);
            save_open(deps.storage, job, claim, votes)
                .map(|ends| Outcome::Recorded { window_ends: ends })
        }
        Decision::Valid { .. } => Err(ContractError::NodeNotActive {
            node: claim.node.to_string(),
        }),
        Decision::Undecided => {
            let (signed, signers) = votes
                .iter()
                .filter(|v| v.verdict == Verdict::Valid)
                .fold((Uint128::zero(), 0), |(s, n), v| (s + v.stake, n + 1));
            Err(ContractError::NoQuorum {
                signers,
                signed,
                total: ctx.total_stake,
            })
        }
    }
}

fn save_open(
    storage: &mut dyn Storage,
    job: &mut Job,
    claim: ClaimedResult,
    votes: Vec<Vote>,
) -> Result<u64, ContractError> {
    job.result = Some(claim);
    JOBS.save(storage, job.id, job)?;
    VOTES.save(storage, job.id, &votes)?;
    Ok(job.window_ends.unwrap_or_default())
}

fn voters(votes: &[Vote], filter: impl Fn(&Vote) -> bool) -> Vec<String> {
    votes
        .iter()
        .filter(|v| filter(v))
        .map(|v| v.validator.to_string())
        .collect()
}

pub fn slash_msg(config: &Config, slash: JobSlash) -> StdResult<CosmosMsg> {
    Ok(WasmMsg::Execute {
        contract_addr: config.staking.to_string(),
        msg: to_json_binary(&StakingMsg::SlashJob(slash))?,
        funds: vec![],
    }
    .into())
}

/// Proven invalid: the caller gets the fee back; the node (whatever its status now) and every
/// validator that signed a re-executed Valid are slashed; the Invalid voters share the reward.
/// The node is not slashed for one of its audits, and while its audit proof is due its slash
/// waits `audit_window` blocks (`Finalize` then sends it); the validators' never wait.
pub fn resolve_invalid(
    deps: DepsMut,
    env: &Env,
    config: &Config,
    job: &mut Job,
    claim: ClaimedResult,
    votes: Vec<Vote>,
) -> Result<Outcome, ContractError> {
    job.window_ends = None;
    let node = match job.audit {
        AuditState::Exempt | AuditState::Clear => Some(claim.node.to_string()),
        AuditState::Audit => None,
        AuditState::Due => {
            let params = PARAMS.load(deps.storage)?;
            job.window_ends = Some(env.block.height + params.audit_window);
            None
        }
    };
    let slash = JobSlash {
        job_id: job.id,
        node,
        false_attesters: voters(&votes, |v| {
            v.verdict == Verdict::Valid && v.check.reexecuted()
        }),
        false_challengers: vec![],
        provers: voters(&votes, |v| v.verdict == Verdict::Invalid),
        false_auditor: None,
    };
    job.status = JobStatus::Invalid;
    save_open(deps.storage, job, claim, votes)?;
    adjust_escrow(deps.storage, job.fee, false)?;
    let mut msgs = vec![config.asset.transfer_msg(&job.caller, job.fee)?];
    if slash.node.is_some() || !slash.false_attesters.is_empty() {
        msgs.push(slash_msg(config, slash)?);
    }
    Ok(Outcome::Invalid(msgs, job.window_ends))
}

/// A re-execution quorum upheld the result: it is paid at once and the challengers lose their
/// bond.
pub fn resolve_overturned(
    deps: DepsMut,
    env: &Env,
    config: &Config,
    job: &mut Job,
    claim: ClaimedResult,
    votes: Vec<Vote>,
) -> Result<Outcome, ContractError> {
    let challengers = voters(&votes, |v| v.verdict == Verdict::Invalid);
    // A node that proved the job an audit while its output was right did not audit.
    let false_auditor = (job.audit == AuditState::Audit).then(|| claim.node.to_string());
    let slash = match challengers.is_empty() && false_auditor.is_none() {
        true => None,
        false => Some(slash_msg(
            config,
            JobSlash {
                job_id: job.id,
                node: None,
                false_attesters: vec![],
                false_challengers: challengers,
                provers: vec![],
                false_auditor,
            },
        )?),
    };
    let params = PARAMS.load(deps.storage)?;
    let settlement = pay(deps, env, &params, job, claim, votes)?;
    Ok(Outcome::Paid(Box::new(settlement), slash))
}

/// Marks a job Valid and returns what payout needs; the Valid voters are its validators.
pub fn pay(
    deps: DepsMut,
    env: &Env,
    params: &Params,
    job: &mut Job,
    claim: ClaimedResult,
    votes: Vec<Vote>,
) -> Result<Settlement, ContractError> {
    let signers: Vec<&Vote> = votes
        .iter()
        .filter(|v| v.verdict == Verdict::Valid)
        .collect();
    let paid =
        crate::seeds::paid_voters(deps.storage, params, job.requested_height, signers.clone())?;
    job.status = JobStatus::Valid;
    job.window_ends = None;
    let execution = Execution {
        job_id: job.id,
        workflow_id: job.workflow_id,
        version: job.version,
        caller: job.caller.clone(),
        node: claim.node.clone(),
        output_hash: claim.output_hash.clone(),
        signers: signers.iter().map(|v| v.validator.clone()).collect(),
        fee: job.fee,
        height: env.block.height,
        time: env.block.time,
    };
    let settlement = Settlement {
        job_id: job.id,
        workflow_id: job.workflow_id,
        fee: job.fee,
        split: job.split,
        creator: job.creator.clone(),
        royalty_stack: job.royalty_stack.clone(),
        node: claim.node.clone(),
        validators: paid
            .iter()
            .map(|v| (v.validator.clone(), v.stake))
            .collect(),
    };
    save_open(deps.storage, job, claim, votes)?;
    adjust_escrow(deps.storage, job.fee, false)?;
    executions().save(deps.storage, job.id, &execution)?;
    STATS.update(deps.storage, job.workflow_id, |s| -> StdResult<_> {
        let mut s = s.unwrap_or_default();
        s.runs += 1;
        s.total_fees += job.fee;
        Ok(s)
    })?;
    Ok(settlement)
}
