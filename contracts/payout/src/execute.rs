use std::collections::BTreeMap;

use cosmwasm_std::{Addr, Deps, DepsMut, Event, Response, StdResult, Uint128};
use havn_types::{apportion_fee, divide_pool, Settlement, BPS_TOTAL};

use crate::error::ContractError;
use crate::msg::ParamsUpdate;
use crate::state::{
    Params, ValidatorShares, WorkflowEarnings, ACCOUNTS, CONFIG, MAX_ROYALTY_PAYEES_CEILING,
    MAX_SETTLEMENTS_CEILING, MAX_SIGNERS_CEILING, PAID, PARAMS, TOTALS, WORKFLOWS,
};

/// Credits a batch of settled jobs. Everything is summed in memory first, so each recipient and
/// each workflow costs one storage write per batch, however many jobs name them.
pub fn distribute(
    deps: DepsMut,
    sender: &Addr,
    attached: Uint128,
    settlements: Vec<Settlement>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.execution_log.as_ref() != Some(sender) {
        return Err(ContractError::NotExecutionLog {
            sender: sender.to_string(),
        });
    }
    let params = PARAMS.load(deps.storage)?;
    if settlements.is_empty() || settlements.len() > params.max_settlements as usize {
        return Err(ContractError::BadBatchSize {
            count: settlements.len(),
            max: params.max_settlements,
        });
    }
    let expected: Uint128 = settlements.iter().map(|s| s.fee).sum();
    if attached != expected {
        return Err(ContractError::FeeMismatch { attached, expected });
    }

    let mut credits: BTreeMap<Addr, Uint128> = BTreeMap::new();
    let mut to_pot = Uint128::zero();
    let mut workflows: BTreeMap<u64, WorkflowEarnings> = BTreeMap::new();
    let mut events = Vec::with_capacity(settlements.len());
    for s in settlements {
        if PAID.has(deps.storage, s.job_id) {
            return Err(ContractError::AlreadyPaid { job_id: s.job_id });
        }
        PAID.save(deps.storage, s.job_id, &())?;
        events.push(credit_job(
            &params,
            &config.treasury,
            &s,
            &mut credits,
            &mut workflows,
            &mut to_pot,
        )?);
    }

    let mut total = Uint128::zero();
    for (address, amount) in &credits {
        if amount.is_zero() {
            continue;
        }
        total += *amount;
        ACCOUNTS.update(deps.storage, address, |a| -> StdResult<_> {
            let mut a = a.unwrap_or_default();
            a.claimable += *amount;
            a.earned += *amount;
            Ok(a)
        })?;
    }
    for (id, delta) in &workflows {
        WORKFLOWS.update(deps.storage, *id, |w| -> StdResult<_> {
            let mut w = w.unwrap_or_default();
            w.runs += delta.runs;
            w.total_fees += delta.total_fees;
            w.creator += delta.creator;
            w.upstream += delta.upstream;
            w.node += delta.node;
            w.validators += delta.validators;
            w.treasury += delta.treasury;
            Ok(w)
        })?;
    }
    let jobs = events.len() as u64;
    TOTALS.update(deps.storage, |mut t| -> StdResult<_> {
        t.distributed += total;
        t.jobs_paid += jobs;
        t.pot += to_pot;
        Ok(t)
    })?;
    Ok(Response::new()
        .add_events(events)
        .add_attribute("action", "distribute")
        .add_attribute("jobs", jobs.to_string())
        .add_attribute("amount", total)
        .add_attribute("to_pot", to_pot)
        .add_attribute("recipients", credits.len().to_string()))
}

/// One job's fee, divided with the shared split math, into the batch's running sums.
fn credit_job(
    params: &Params,
    treasury: &Addr,
    s: &Settlement,
    credits: &mut BTreeMap<Addr, Uint128>,
    workflows: &mut BTreeMap<u64, WorkflowEarnings>,
    to_pot: &mut Uint128,
) -> Result<Event, ContractError> {
    let too_long = |what, count: usize, max: u32| ContractError::ListTooLong {
        job_id: s.job_id,
        what,
        count,
        max,
    };
    if s.royalty_stack.len() > params.max_royalty_payees as usize {
        return Err(too_long(
            "royalty payees",
            s.royalty_stack.len(),
            params.max_royalty_payees,
        ));
    }
    if s.validators.len() > params.max_signers as usize {
        return Err(too_long(
            "validators",
            s.validators.len(),
            params.max_signers,
        ));
    }
    let stack: Vec<(&Addr, u16)> = s.royalty_stack.iter().map(|r| (&r.payee, r.bps)).collect();
    let shares = apportion_fee(s.fee, &s.split, &stack).map_err(|source| ContractError::Split {
        job_id: s.job_id,
        source,
    })?;
    let weights: Vec<Uint128> = match params.validator_shares {
        ValidatorShares::Equal => vec![Uint128::one(); s.validators.len()],
        ValidatorShares::StakeWeighted => s.validators.iter().map(|(_, stake)| *stake).collect(),
    };
    // Part of the pool waits in the pot for the drawn re-executions; no signers (or no stake)
    // leaves the rest to the treasury.
    let pot = shares
        .validator
        .multiply_ratio(params.reexecution_pot_bps, BPS_TOTAL);
    *to_pot += pot;
    let (validator_shares, left) = divide_pool(shares.validator - pot, &weights);

    let mut credit = |who: &Addr, amount: Uint128| {
        *credits.entry(who.clone()).or_default() += amount;
    };
    credit(&s.creator, shares.creator);
    for (payee, amount) in &shares.upstream {
        credit(payee, *amount);
    }
    credit(&s.node, shares.node);
    for ((validator, _), amount) in s.validators.iter().zip(&validator_shares) {
        credit(validator, *amount);
    }
    let treasury_amount = shares.treasury + left;
    credit(treasury, treasury_amount);

    let upstream: Uint128 = shares.upstream.iter().map(|(_, a)| *a).sum();
    let validators = shares.validator - left;
    let w = workflows.entry(s.workflow_id).or_default();
    w.runs += 1;
    w.total_fees += s.fee;
    w.creator += shares.creator;
    w.upstream += upstream;
    w.node += shares.node;
    w.validators += validators;
    w.treasury += treasury_amount;

    Ok(Event::new("havn_payout")
        .add_attribute("job_id", s.job_id.to_string())
        .add_attribute("workflow_id", s.workflow_id.to_string())
        .add_attribute("fee", s.fee)
        .add_attribute("creator", shares.creator)
        .add_attribute("upstream", upstream)
        .add_attribute("node", shares.node)
        .add_attribute("validators", validators)
        .add_attribute("to_pot", pot)
        .add_attribute("treasury", treasury_amount))
}

/// The execution log proved `count` re-executions `validator` was drawn for: each takes
/// `pot_payout_bps` of what the pot holds then (so the pot never runs dry, and what a
/// re-execution earns follows what jobs put in: docs/verification.md).
pub fn pay_reexecutions(
    deps: DepsMut,
    sender: &Addr,
    validator: &str,
    count: u32,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.execution_log.as_ref() != Some(sender) {
        return Err(ContractError::NotExecutionLog {
            sender: sender.to_string(),
        });
    }
    if count == 0 || count > MAX_SETTLEMENTS_CEILING {
        return Err(ContractError::BadBatchSize {
            count: count as usize,
            max: MAX_SETTLEMENTS_CEILING,
        });
    }
    let validator = deps.api.addr_validate(validator)?;
    let params = PARAMS.load(deps.storage)?;
    let mut totals = TOTALS.load(deps.storage)?;
    let mut paid = Uint128::zero();
    for _ in 0..count {
        let each = totals.pot.multiply_ratio(params.pot_payout_bps, BPS_TOTAL);
        totals.pot -= each;
        paid += each;
    }
    totals.distributed += paid;
    TOTALS.save(deps.storage, &totals)?;
    if !paid.is_zero() {
        ACCOUNTS.update(deps.storage, &validator, |a| -> StdResult<_> {
            let mut a = a.unwrap_or_default();
            a.claimable += paid;
            a.earned += paid;
            Ok(a)
        })?;
    }
    Ok(Response::new()
        .add_attribute("action", "pay_reexecutions")
        .add_attribute("validator", validator.as_str())
        .add_attribute("count", count.to_string())
        .add_attribute("amount", paid)
        .add_attribute("pot", totals.pot))
}

/// Sends `address` its whole claimable balance.
pub fn claim(deps: DepsMut, address: Addr) -> Result<Response, ContractError> {
    let mut account = ACCOUNTS
        .may_load(deps.storage, &address)?
        .unwrap_or_default();
    let amount = account.claimable;
    if amount.is_zero() {
        return Err(ContractError::NothingToClaim {
            address: address.to_string(),
        });
    }
    account.claimable = Uint128::zero();
    account.claimed += amount;
    ACCOUNTS.save(deps.storage, &address, &account)?;
    TOTALS.update(deps.storage, |mut t| -> StdResult<_> {
        t.claimed += amount;
        Ok(t)
    })?;
    let transfer = CONFIG
        .load(deps.storage)?
        .asset
        .transfer_msg(&address, amount)?;
    Ok(Response::new()
        .add_message(transfer)
        .add_attribute("action", "claim")
        .add_attribute("recipient", address)
        .add_attribute("amount", amount))
}

pub fn validate_params(p: &Params) -> Result<(), ContractError> {
    let check = |name, value: u32, max: u32| {
        if value == 0 || value > max {
            return Err(ContractError::InvalidParam {
                name,
                reason: format!("must be 1 to {max}, got {value}"),
            });
        }
        Ok(())
    };
    check(
        "max_royalty_payees",
        p.max_royalty_payees,
        MAX_ROYALTY_PAYEES_CEILING,
    )?;
    check("max_signers", p.max_signers, MAX_SIGNERS_CEILING)?;
    check(
        "max_settlements",
        p.max_settlements,
        MAX_SETTLEMENTS_CEILING,
    )?;
    if p.reexecution_pot_bps > 10_000 {
        return Err(ContractError::InvalidParam {
            name: "reexecution_pot_bps",
            reason: format!("must be 0 to 10000, got {}", p.reexecution_pot_bps),
        });
    }
    check("pot_payout_bps", p.pot_payout_bps.into(), 10_000)
}

fn ensure_admin(deps: Deps, sender: &Addr) -> Result<(), ContractError> {
    match CONFIG.load(deps.storage)?.admin == *sender {
        true => Ok(()),
        false => Err(ContractError::NotAdmin),
    }
}

pub fn update_params(
    deps: DepsMut,
    sender: &Addr,
    update: ParamsUpdate,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut p = PARAMS.load(deps.storage)?;
    p.validator_shares = update.validator_shares.unwrap_or(p.validator_shares);
    p.max_royalty_payees = update.max_royalty_payees.unwrap_or(p.max_royalty_payees);
    p.max_signers = update.max_signers.unwrap_or(p.max_signers);
    p.max_settlements = update.max_settlements.unwrap_or(p.max_settlements);
    p.reexecution_pot_bps = update.reexecution_pot_bps.unwrap_or(p.reexecution_pot_bps);
    p.pot_payout_bps = update.pot_payout_bps.unwrap_or(p.pot_payout_bps);
    validate_params(&p)?;
    PARAMS.save(deps.storage, &p)?;
    Ok(Response::new().add_attribute("action", "update_params"))
}

pub fn update_config(
    deps: DepsMut,
    sender: &Addr,
    admin: Option<String>,
    execution_log: Option<String>,
    treasury: Option<String>,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut c = CONFIG.load(deps.storage)?;
    if let Some(admin) = admin {
        c.admin = deps.api.addr_validate(&admin)?;
    }
    if let Some(log) = execution_log {
        c.execution_log = Some(deps.api.addr_validate(&log)?);
    }
    if let Some(treasury) = treasury {
        // The old treasury keeps what it was already credited; it claims that as anyone would.
        c.treasury = deps.api.addr_validate(&treasury)?;
    }
    CONFIG.save(deps.storage, &c)?;
    Ok(Response::new().add_attribute("action", "update_config"))
}
