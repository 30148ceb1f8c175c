//! Every way stake is lost. Each slash takes a fraction of the role's bonded stake *and* of its
//! claims still unbonding (so unbonding does not dodge a slash), jails the operator (all but an
//! overturned challenge), pays the reporter (or the provers) its reward and sends the rest to the
//! treasury. Work per slash is bounded by
//! MAX_CLAIMS, never by the number of operators.

use cosmwasm_std::{
    Addr, CosmosMsg, Decimal, DepsMut, Env, Event, HexBinary, Response, StdResult, Uint128,
};
use havn_types::{contradicts, Attestation};

use crate::error::ContractError;
use crate::execute::{load_operator, role_str, store_operator};
use crate::msg::{DoubleSignEvidence, FalseAttestation, JobSlash, SignedVerdict};
use crate::state::{
    Role, CLAIMS, CONFIG, DOUBLE_SIGNS, FALSE_ATTESTATIONS, FRAUD_JOBS, KEY_HISTORY, OPERATORS,
    PARAMS, SLASHED_IN_JOB, TOTALS,
};

const BOTH_ROLES: [Role; 2] = [Role::Node, Role::Validator];

/// What one cut took from an operator.
struct Cut {
    slashed: Uint128,
    from_unbonding: Uint128,
    jailed_until: Option<cosmwasm_std::Timestamp>,
}

/// Takes `fraction` of `roles`' bonded stake and unbonding claims from `operator`, jailing it when
/// `jail`. The tokens stay in this contract until the caller pays them out.
fn cut(
    deps: &mut DepsMut,
    env: &Env,
    operator: &Addr,
    roles: &[Role],
    fraction: Decimal,
    jail: bool,
) -> Result<Cut, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let old = load_operator(deps.storage, operator)?;
    let mut new = old.clone();
    let mut from_bonded = Uint128::zero();
    for &role in roles {
        let cut = old.stake(role).mul_floor(fraction);
        *new.stake_mut(role) -= cut;
        from_bonded += cut;
    }
    let mut claims = CLAIMS.may_load(deps.storage, operator)?.unwrap_or_default();
    let mut from_unbonding = Uint128::zero();
    for claim in claims.iter_mut().filter(|c| roles.contains(&c.role)) {
        let cut = claim.amount.mul_floor(fraction);
        claim.amount -= cut;
        from_unbonding += cut;
    }
    claims.retain(|c| !c.amount.is_zero());
    CLAIMS.save(deps.storage, operator, &claims)?;
    TOTALS.update(deps.storage, |mut t| -> StdResult<_> {
        t.unbonding -= from_unbonding;
        Ok(t)
    })?;
    let jailed_until = jail.then(|| env.block.time.plus_seconds(params.jail_period));
    if jailed_until.is_some() {
        new.jailed_until = jailed_until;
    }
    store_operator(deps.storage, env, operator, Some(&old), &new)?;
    Ok(Cut {
        slashed: from_bonded + from_unbonding,
        from_unbonding,
        jailed_until,
    })
}

fn cut_event(reason: &str, operator: &Addr, roles: &[Role], cut: &Cut) -> Event {
    let mut event = Event::new("havn_slash")
        .add_attribute("reason", reason)
        .add_attribute("operator", operator.as_str())
        .add_attribute(
            "roles",
            roles
                .iter()
                .map(|r| role_str(*r))
                .collect::<Vec<_>>()
                .join(","),
        )
        .add_attribute("slashed", cut.slashed)
        .add_attribute("slashed_unbonding", cut.from_unbonding);
    if let Some(until) = cut.jailed_until {
        event = event.add_attribute("jailed_until", until.to_string());
    }
    event
}

/// Pays `reward` of `slashed` to `rewarded` in equal parts and the rest (with the rounding) to
/// the treasury.
fn pay_out(
    deps: &DepsMut,
    slashed: Uint128,
    rewarded: &[Addr],
) -> Result<Vec<CosmosMsg>, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let config = CONFIG.load(deps.storage)?;
    let mut msgs = Vec::new();
    let mut paid = Uint128::zero();
    if !rewarded.is_empty() {
        let each =
            slashed.mul_floor(params.reporter_reward) / Uint128::from(rewarded.len() as u128);
        if !each.is_zero() {
            for who in rewarded {
                msgs.push(config.asset.transfer_msg(who, each)?);
                paid += each;
            }
        }
    }
    let to_treasury = slashed - paid;
    if !to_treasury.is_zero() {
        msgs.push(config.asset.transfer_msg(&config.treasury, to_treasury)?);
    }
    Ok(msgs)
}

/// One slash with its reporter's reward: downtime, double-sign, governance.
fn slash(
    mut deps: DepsMut,
    env: &Env,
    operator: &Addr,
    roles: &[Role],
    fraction: Decimal,
    reporter: Option<&Addr>,
    reason: &str,
) -> Result<Response, ContractError> {
    let taken = cut(&mut deps, env, operator, roles, fraction, true)?;
    let reporters: Vec<Addr> = reporter.into_iter().cloned().collect();
    let msgs = pay_out(&deps, taken.slashed, &reporters)?;
    let mut response = Response::new()
        .add_attribute("action", "slash")
        .add_attribute("reason", reason)
        .add_attribute("operator", operator.as_str())
        .add_attribute("slashed", taken.slashed)
        .add_event(cut_event(reason, operator, roles, &taken))
        .add_messages(msgs);
    if let Some(reporter) = reporter {
        response = response.add_attribute("reporter", reporter.as_str());
    }
    Ok(response)
}

pub fn report_downtime(
    deps: DepsMut,
    env: &Env,
    reporter: Addr,
    operator: &str,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let operator = deps.api.addr_validate(operator)?;
    let op = load_operator(deps.storage, &operator)?;
    if op.jailed_until.is_some() {
        return Err(ContractError::AlreadyJailed);
    }
    if op.node.is_zero() && op.validator.is_zero() {
        return Err(ContractError::NothingToSlash);
    }
    if env.block.time <= op.last_heartbeat.plus_seconds(params.downtime_window) {
        return Err(ContractError::NotDown {
            last_heartbeat: op.last_heartbeat,
        });
    }
    slash(
        deps,
        env,
        &operator,
        &BOTH_ROLES,
        params.slash_downtime,
        Some(&reporter),
        "downtime",
    )
}

fn hash32(bytes: &HexBinary, what: &str) -> Result<[u8; 32], ContractError> {
    bytes
        .to_array()
        .map_err(|_| ContractError::InvalidEvidence {
            reason: format!("{what} must be 32 bytes"),
        })
}

pub fn double_sign(
    deps: DepsMut,
    env: &Env,
    reporter: Addr,
    evidence: DoubleSignEvidence,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let execution_log = CONFIG
        .load(deps.storage)?
        .execution_log
        .ok_or(ContractError::NoExecutionLog)?;
    let validator = deps.api.addr_validate(&evidence.validator)?;
    load_operator(deps.storage, &validator)?;
    if !KEY_HISTORY.has(deps.storage, (&validator, &evidence.pubkey)) {
        return Err(ContractError::UnknownKey);
    }
    let (first, second) = (&evidence.first, &evidence.second);
    // Another output, or verdicts that contradict (`havn_types::contradicts`).
    if first.output_hash == second.output_hash
        && !contradicts((first.verdict, first.check), (second.verdict, second.check))
    {
        return Err(ContractError::NotConflicting);
    }
    if DOUBLE_SIGNS.has(deps.storage, (&validator, evidence.job_id)) {
        return Err(ContractError::AlreadySlashed);
    }
    // Only a job the log holds, for the workflow, version and input it was requested with: a
    // router cannot make up a job to collect two signatures about.
    let job =
        logged_job(&deps, &execution_log, evidence.job_id).ok_or(ContractError::UnknownJob {
            id: evidence.job_id,
        })?;
    if job.workflow_id != evidence.workflow_id
        || job.version_hash != evidence.version_hash
        || job.input_hash != evidence.input_hash
    {
        return Err(ContractError::InvalidEvidence {
            reason: format!(
                "job {} on the execution log is another workflow, version or input",
                evidence.job_id
            ),
        });
    }
    let version_hash = hash32(&evidence.version_hash, "version_hash")?;
    let input_hash = hash32(&evidence.input_hash, "input_hash")?;
    for (which, signed) in [("first", first), ("second", second)] {
        let SignedVerdict {
            output_hash,
            verdict,
            check,
            signature,
        } = signed;
        let output_hash = hash32(output_hash, "output_hash")?;
        let digest = Attestation {
            chain_id: &env.block.chain_id,
            execution_log: execution_log.as_str(),
            job_id: evidence.job_id,
            workflow_id: evidence.workflow_id,
            version_hash: &version_hash,
            node: &evidence.node,
            input_hash: &input_hash,
            output_hash: &output_hash,
            verdict: *verdict,
            check: *check,
        }
        .digest();
        if !deps
            .api
            .secp256k1_verify(digest.as_bytes(), signature, &evidence.pubkey)
            .unwrap_or(false)
        {
            return Err(ContractError::InvalidEvidence {
                reason: format!("the {which} signature does not verify for this validator's key"),
            });
        }
    }
    DOUBLE_SIGNS.save(deps.storage, (&validator, evidence.job_id), &())?;
    slash(
        deps,
        env,
        &validator,
        &[Role::Validator],
        params.slash_double_sign,
        Some(&reporter),
        "double_sign",
    )
}

/// The part of the execution log's `Job` query read here (the log depends on this crate, so its
/// types cannot be used; `integration-tests` runs the two contracts together).
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum LogQuery {
    Job { id: u64 },
}

#[derive(serde::Deserialize)]
struct LoggedJob {
    workflow_id: u64,
    version_hash: HexBinary,
    input_hash: HexBinary,
    status: String,
    result: Option<LoggedResult>,
}

#[derive(serde::Deserialize)]
struct LoggedResult {
    node: Addr,
    output_hash: HexBinary,
}

/// Job `id` as the execution log holds it; `None` when it has no such job.
fn logged_job(deps: &DepsMut, execution_log: &Addr, id: u64) -> Option<LoggedJob> {
    deps.querier
        .query_wasm_smart(execution_log, &LogQuery::Job { id })
        .ok()
}

/// `ReportFalseAttestation`: the validator signed that it re-executed the very output the log
/// proved invalid. The log slashes the re-executed Valid votes it counted; this catches the
/// ones it never saw (a proof by challenges that landed first, a vote held back).
pub fn false_attestation(
    deps: DepsMut,
    env: &Env,
    reporter: Addr,
    evidence: FalseAttestation,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let execution_log = CONFIG
        .load(deps.storage)?
        .execution_log
        .ok_or(ContractError::NoExecutionLog)?;
    let validator = deps.api.addr_validate(&evidence.validator)?;
    load_operator(deps.storage, &validator)?;
    if !KEY_HISTORY.has(deps.storage, (&validator, &evidence.pubkey)) {
        return Err(ContractError::UnknownKey);
    }
    if !evidence.check.reexecuted() {
        return Err(ContractError::InvalidEvidence {
            reason:
                "a structural Valid claims no re-execution (a drawn one is the log's ReportLazy)"
                    .into(),
        });
    }
    if FALSE_ATTESTATIONS.has(deps.storage, (&validator, evidence.job_id)) {
        return Err(ContractError::AlreadySlashed);
    }
    let not_invalid = || ContractError::NotProvenInvalid {
        id: evidence.job_id,
    };
    let job = logged_job(&deps, &execution_log, evidence.job_id).ok_or_else(not_invalid)?;
    let result = match (job.status.as_str(), job.result) {
        ("invalid", Some(result)) => result,
        _ => return Err(not_invalid()),
    };
    let digest = Attestation {
        chain_id: &env.block.chain_id,
        execution_log: execution_log.as_str(),
        job_id: evidence.job_id,
        workflow_id: job.workflow_id,
        version_hash: &hash32(&job.version_hash, "version_hash")?,
        node: result.node.as_str(),
        input_hash: &hash32(&job.input_hash, "input_hash")?,
        output_hash: &hash32(&result.output_hash, "output_hash")?,
        verdict: havn_types::Verdict::Valid,
        check: evidence.check,
    }
    .digest();
    if !deps
        .api
        .secp256k1_verify(digest.as_bytes(), &evidence.signature, &evidence.pubkey)
        .unwrap_or(false)
    {
        return Err(ContractError::InvalidEvidence {
            reason: "the signature is not this validator's re-executed Valid for the job's proven-invalid result".into(),
        });
    }
    FALSE_ATTESTATIONS.save(deps.storage, (&validator, evidence.job_id), &())?;
    slash(
        deps,
        env,
        &validator,
        &[Role::Validator],
        params.slash_false_attestation,
        Some(&reporter),
        "false_attestation",
    )
}

/// The execution log's verdict on a proven-invalid or overturned job: the node's fraud slash,
/// the validators that signed a re-executed Valid for it, and the challengers a re-execution
/// quorum overturned, all at once. The provers (the validators whose Invalid stood) share the
/// reporter reward of the node's and the false attesters' slashes; the rest goes to the treasury.
/// Once per job. An operator with nothing left to slash is skipped, never an error: the log's
/// verdict must land whatever the slashed do to their stake.
pub fn slash_job(
    mut deps: DepsMut,
    env: &Env,
    sender: &Addr,
    job: JobSlash,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    if CONFIG.load(deps.storage)?.execution_log.as_ref() != Some(sender) {
        return Err(ContractError::NotExecutionLog);
    }
    // Each operator loses stake over one job once; the log may slash a job in two steps (the
    // validators at the verdict, the node once its audit proof was due).
    if FRAUD_JOBS.has(deps.storage, job.job_id) {
        return Err(ContractError::AlreadySlashed);
    }
    let validate = |list: &[String]| -> StdResult<Vec<Addr>> {
        list.iter().map(|a| deps.api.addr_validate(a)).collect()
    };
    let provers = validate(&job.provers)?;
    let mut targets: Vec<(Addr, Role, Decimal, bool, &str)> = Vec::new();
    if let Some(node) = &job.node {
        let node = deps.api.addr_validate(node)?;
        targets.push((node, Role::Node, params.slash_fraud, true, "fraud"));
    }
    for v in validate(&job.false_attesters)? {
        FALSE_ATTESTATIONS.save(deps.storage, (&v, job.job_id), &())?;
        targets.push((
            v,
            Role::Validator,
            params.slash_false_attestation,
            true,
            "false_attestation",
        ));
    }
    for v in validate(&job.false_challengers)? {
        targets.push((
            v,
            Role::Validator,
            params.slash_false_challenge,
            false,
            "false_challenge",
        ));
    }
    if let Some(node) = &job.false_auditor {
        let node = deps.api.addr_validate(node)?;
        targets.push((
            node,
            Role::Node,
            params.slash_false_challenge,
            false,
            "false_audit",
        ));
    }
    let fresh: Vec<_> = targets
        .into_iter()
        .filter(|t| !SLASHED_IN_JOB.has(deps.storage, (job.job_id, &t.0)))
        .collect();
    if fresh.is_empty() {
        return Err(ContractError::AlreadySlashed);
    }
    for t in &fresh {
        SLASHED_IN_JOB.save(deps.storage, (job.job_id, &t.0), &())?;
    }
    let targets = fresh;
    let mut response = Response::new()
        .add_attribute("action", "slash_job")
        .add_attribute("job_id", job.job_id.to_string());
    let (mut rewarded_pool, mut unrewarded) = (Uint128::zero(), Uint128::zero());
    for (operator, role, fraction, jail, reason) in targets {
        if OPERATORS.may_load(deps.storage, &operator)?.is_none() {
            continue;
        }
        let taken = cut(&mut deps, env, &operator, &[role], fraction, jail)?;
        response = response.add_event(
            cut_event(reason, &operator, &[role], &taken)
                .add_attribute("job_id", job.job_id.to_string()),
        );
        match reason {
            "false_challenge" | "false_audit" => unrewarded += taken.slashed,
            _ => rewarded_pool += taken.slashed,
        }
    }
    let mut msgs = pay_out(&deps, rewarded_pool, &provers)?;
    if !unrewarded.is_zero() {
        msgs.extend(pay_out(&deps, unrewarded, &[])?);
    }
    Ok(response
        .add_attribute("slashed", rewarded_pool + unrewarded)
        .add_messages(msgs))
}

/// The execution log proved a validator lazy (or hiding its seed). Like every slash, an operator
/// with nothing bonded left is skipped, never an error.
pub fn slash_lazy(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    validator: &str,
    reporter: &str,
    job_id: Option<u64>,
    epoch: u64,
) -> Result<Response, ContractError> {
    if CONFIG.load(deps.storage)?.execution_log.as_ref() != Some(sender) {
        return Err(ContractError::NotExecutionLog);
    }
    let params = PARAMS.load(deps.storage)?;
    let (validator, reporter) = (
        deps.api.addr_validate(validator)?,
        deps.api.addr_validate(reporter)?,
    );
    if OPERATORS.may_load(deps.storage, &validator)?.is_none() {
        return Ok(Response::new().add_attribute("action", "slash_lazy_skipped"));
    }
    let (fraction, reason) = match job_id {
        Some(_) => (params.slash_lazy, "lazy"),
        None => (params.slash_unrevealed, "unrevealed_seed"),
    };
    let response = slash(
        deps,
        env,
        &validator,
        &[Role::Validator],
        fraction,
        Some(&reporter),
        reason,
    )?;
    Ok(response
        .add_attribute("epoch", epoch.to_string())
        .add_attribute("job_id", job_id.map_or(String::new(), |j| j.to_string())))
}

pub fn by_governance(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    operator: &str,
    role: Option<Role>,
    reason: String,
    fraction: Option<Decimal>,
) -> Result<Response, ContractError> {
    if CONFIG.load(deps.storage)?.admin != *sender {
        return Err(ContractError::NotAdmin);
    }
    let fraction = fraction.unwrap_or(PARAMS.load(deps.storage)?.slash_collusion);
    if fraction > Decimal::one() {
        return Err(ContractError::InvalidParam {
            name: "fraction",
            reason: format!("a fraction must be at most 1, got {fraction}"),
        });
    }
    if reason.is_empty() || reason.len() > 256 {
        return Err(ContractError::InvalidParam {
            name: "reason",
            reason: "give a reason of 1-256 characters".into(),
        });
    }
    let operator = deps.api.addr_validate(operator)?;
    let roles: &[Role] = match &role {
        Some(role) => std::slice::from_ref(role),
        None => &BOTH_ROLES,
    };
    slash(deps, env, &operator, roles, fraction, None, &reason)
}
