//! Every way stake is lost. Each slash takes a fraction of the role's bonded stake *and* of its
//! claims still unbonding (so unbonding does not dodge a slash), jails the operator, pays the
//! reporter its reward and sends the rest to the treasury. Work per slash is bounded by
//! MAX_CLAIMS, never by the number of operators.

use cosmwasm_std::{Addr, Decimal, DepsMut, Env, HexBinary, Response, StdResult, Uint128};
use havn_types::Attestation;

use crate::error::ContractError;
use crate::execute::{load_operator, role_str, store_operator};
use crate::msg::{DoubleSignEvidence, SignedVerdict};
use crate::state::{Role, CLAIMS, CONFIG, DOUBLE_SIGNS, FRAUD_JOBS, KEY_HISTORY, PARAMS, TOTALS};

const BOTH_ROLES: [Role; 2] = [Role::Node, Role::Validator];

fn slash(
    deps: DepsMut,
    env: &Env,
    operator: &Addr,
    roles: &[Role],
    fraction: Decimal,
    reporter: Option<&Addr>,
    reason: &str,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let config = CONFIG.load(deps.storage)?;
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
    let jailed_until = env.block.time.plus_seconds(params.jail_period);
    new.jailed_until = Some(jailed_until);
    store_operator(deps.storage, env, operator, Some(&old), &new)?;

    let slashed = from_bonded + from_unbonding;
    let reward = reporter.map_or(Uint128::zero(), |_| {
        slashed.mul_floor(params.reporter_reward)
    });
    let to_treasury = slashed - reward;
    let mut response = Response::new()
        .add_attribute("action", "slash")
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
        .add_attribute("slashed", slashed)
        .add_attribute("slashed_unbonding", from_unbonding)
        .add_attribute("reporter_reward", reward)
        .add_attribute("jailed_until", jailed_until.to_string());
    if let Some(reporter) = reporter.filter(|_| !reward.is_zero()) {
        response = response
            .add_message(config.asset.transfer_msg(reporter, reward)?)
            .add_attribute("reporter", reporter.as_str());
    }
    if !to_treasury.is_zero() {
        response = response.add_message(config.asset.transfer_msg(&config.treasury, to_treasury)?);
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
    if first.output_hash == second.output_hash && first.verdict == second.verdict {
        return Err(ContractError::NotConflicting);
    }
    if DOUBLE_SIGNS.has(deps.storage, (&validator, evidence.job_id)) {
        return Err(ContractError::AlreadySlashed);
    }
    let version_hash = hash32(&evidence.version_hash, "version_hash")?;
    let input_hash = hash32(&evidence.input_hash, "input_hash")?;
    for (which, signed) in [("first", first), ("second", second)] {
        let SignedVerdict {
            output_hash,
            verdict,
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

pub fn fraud(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    node: &str,
    job_id: u64,
    reporter: &str,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    if CONFIG.load(deps.storage)?.execution_log.as_ref() != Some(sender) {
        return Err(ContractError::NotExecutionLog);
    }
    if FRAUD_JOBS.has(deps.storage, job_id) {
        return Err(ContractError::AlreadySlashed);
    }
    FRAUD_JOBS.save(deps.storage, job_id, &())?;
    let node = deps.api.addr_validate(node)?;
    let reporter = deps.api.addr_validate(reporter)?;
    slash(
        deps,
        env,
        &node,
        &[Role::Node],
        params.slash_fraud,
        Some(&reporter),
        "fraud",
    )
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
