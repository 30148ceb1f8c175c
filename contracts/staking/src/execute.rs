use cosmwasm_std::{
    Addr, Decimal, Deps, DepsMut, Env, Order, Response, StdResult, Storage, Uint128,
};
use havn_types::keys::{possession_digest, PUBKEY_LEN};

use crate::error::ContractError;
use crate::msg::{KeyProof, ParamsUpdate};
use crate::state::{
    ActiveValidator, Claim, Operator, Params, Role, ACTIVE_SET, CLAIMS, CONFIG, KEY_HISTORY,
    KEY_OWNER, MAX_CLAIMS, OPERATORS, PARAMS, POWER, TOTALS, TOTAL_POWER, VALIDATORS,
    VALIDATOR_INDEX,
};

/// Hard ceiling on the active set: the execution log reads it whole for every batch.
pub const MAX_VALIDATORS_LIMIT: u32 = 100;

/// What no vote may go under: each slash keeps biting, so one proposal cannot disarm the network
/// (docs/staking.md). `(param, its floor)`.
fn slash_floors(p: &Params) -> [(&'static str, Decimal, Decimal); 6] {
    [
        ("slash_fraud", p.slash_fraud, Decimal::percent(1)),
        (
            "slash_double_sign",
            p.slash_double_sign,
            Decimal::percent(1),
        ),
        (
            "slash_false_attestation",
            p.slash_false_attestation,
            Decimal::percent(1),
        ),
        ("slash_unrevealed", p.slash_unrevealed, Decimal::percent(1)),
        (
            "slash_false_challenge",
            p.slash_false_challenge,
            Decimal::permille(1),
        ),
        ("slash_lazy", p.slash_lazy, Decimal::permille(1)),
    ]
}

/// The most of a slash that may go to whoever reports it: the rest always leaves the reporter's
/// reach, so a self-report is never a way to launder stake.
pub const MAX_REPORTER_REWARD: Decimal = Decimal::percent(50);

/// Stake must stay slashable at least this long after `Unbond`: longer than a fraud takes to
/// prove, arbitration included (docs/verification.md).
pub const MIN_UNBONDING_PERIOD: u64 = 7 * 24 * 3600;

pub fn validate_params(p: &Params) -> Result<(), ContractError> {
    let invalid = |name, reason: String| Err(ContractError::InvalidParam { name, reason });
    for (name, value, floor) in slash_floors(p) {
        if value < floor {
            return invalid(
                name,
                format!("may not go under {floor} (a hard floor), got {value}"),
            );
        }
    }
    if p.reporter_reward > MAX_REPORTER_REWARD {
        return invalid(
            "reporter_reward",
            format!(
                "may not exceed {MAX_REPORTER_REWARD}, got {}",
                p.reporter_reward
            ),
        );
    }
    if p.unbonding_period < MIN_UNBONDING_PERIOD {
        return invalid(
            "unbonding_period",
            format!(
                "must be at least {MIN_UNBONDING_PERIOD} seconds, or stake could leave before a slash lands"
            ),
        );
    }
    for (name, fraction) in [
        ("slash_fraud", p.slash_fraud),
        ("slash_double_sign", p.slash_double_sign),
        ("slash_downtime", p.slash_downtime),
        ("slash_collusion", p.slash_collusion),
        ("reporter_reward", p.reporter_reward),
        ("slash_false_attestation", p.slash_false_attestation),
        ("slash_false_challenge", p.slash_false_challenge),
        ("slash_lazy", p.slash_lazy),
        ("slash_unrevealed", p.slash_unrevealed),
    ] {
        if fraction > cosmwasm_std::Decimal::one() {
            return invalid(
                name,
                format!("a fraction must be at most 1, got {fraction}"),
            );
        }
    }
    if p.downtime_window < 2 {
        return invalid("downtime_window", "must be at least 2 seconds".into());
    }
    if !(1..=MAX_VALIDATORS_LIMIT).contains(&p.max_validators) {
        return invalid(
            "max_validators",
            format!(
                "must be 1..={MAX_VALIDATORS_LIMIT}, got {}",
                p.max_validators
            ),
        );
    }
    Ok(())
}

fn ensure_admin(deps: Deps, sender: &Addr) -> Result<(), ContractError> {
    match CONFIG.load(deps.storage)?.admin == *sender {
        true => Ok(()),
        false => Err(ContractError::NotAdmin),
    }
}

pub fn load_operator(storage: &dyn Storage, address: &Addr) -> Result<Operator, ContractError> {
    OPERATORS
        .may_load(storage, address)?
        .ok_or_else(|| ContractError::NotOperator {
            address: address.to_string(),
        })
}

/// Checks a key and its proof of possession for `operator`, and that no other operator holds it.
fn verify_key(deps: Deps, env: &Env, operator: &Addr, key: &KeyProof) -> Result<(), ContractError> {
    if key.pubkey.len() != PUBKEY_LEN || !matches!(key.pubkey[0], 0x02 | 0x03) {
        return Err(ContractError::InvalidKey {
            reason: format!(
                "expected a {PUBKEY_LEN}-byte compressed secp256k1 key, got {} bytes",
                key.pubkey.len()
            ),
        });
    }
    let digest = possession_digest(
        &env.block.chain_id,
        env.contract.address.as_str(),
        operator.as_str(),
    );
    match deps
        .api
        .secp256k1_verify(&digest, &key.signature, &key.pubkey)
    {
        Ok(true) => {}
        Ok(false) => return Err(ContractError::KeyNotProven),
        Err(e) => {
            return Err(ContractError::InvalidKey {
                reason: e.to_string(),
            })
        }
    }
    match KEY_OWNER.may_load(deps.storage, &key.pubkey)? {
        Some(owner) if owner != *operator => Err(ContractError::KeyTaken),
        _ => Ok(()),
    }
}

fn register_key(storage: &mut dyn Storage, operator: &Addr, pubkey: &[u8]) -> StdResult<()> {
    KEY_OWNER.save(storage, pubkey, operator)?;
    KEY_HISTORY.save(storage, (operator, pubkey), &())
}

/// Saves an operator and keeps everything derived from it in step: role totals, the validator
/// index and active set, and the voting-power snapshots. O(max_validators), never O(operators).
pub fn store_operator(
    storage: &mut dyn Storage,
    env: &Env,
    address: &Addr,
    old: Option<&Operator>,
    new: &Operator,
) -> Result<(), ContractError> {
    let params = PARAMS.load(storage)?;
    let mut totals = TOTALS.load(storage)?;
    let (old_node, old_validator) = old.map_or((Uint128::zero(), Uint128::zero()), |o| {
        (o.node, o.validator)
    });
    totals.node = totals.node.checked_sub(old_node)?.checked_add(new.node)?;
    totals.validator = totals
        .validator
        .checked_sub(old_validator)?
        .checked_add(new.validator)?;
    TOTALS.save(storage, &totals)?;

    // Remove the old entry whatever the params say now: whether it was indexed depends on the
    // minimum in force when it was written, and a leftover entry would count a validator twice.
    let old_entry = old.map(|o| o.validator.u128()).filter(|stake| *stake > 0);
    if let Some(stake) = old_entry {
        VALIDATOR_INDEX.remove(storage, (stake, address));
    }
    let indexed = new.active(Role::Validator, &params);
    if indexed {
        VALIDATOR_INDEX.save(storage, (new.validator.u128(), address), &new.pubkey)?;
    }
    if old_entry.is_some() || indexed {
        rebuild_active_set(storage, &params)?;
    }
    match new.validator.is_zero() {
        true => VALIDATORS.remove(storage, address),
        false => VALIDATORS.save(storage, address, &())?,
    }

    let (old_power, new_power) = (old_node + old_validator, new.node + new.validator);
    if old_power != new_power {
        POWER.save(storage, address, &new_power, env.block.height)?;
        let total = TOTAL_POWER.may_load(storage)?.unwrap_or_default();
        TOTAL_POWER.save(
            storage,
            &total.checked_sub(old_power)?.checked_add(new_power)?,
            env.block.height,
        )?;
    }
    OPERATORS.save(storage, address, new)?;
    Ok(())
}

/// The `max_validators` most staked index entries at or above the current minimum. The index is
/// sorted by stake, so entries left below a raised minimum are all at its tail.
fn rebuild_active_set(storage: &mut dyn Storage, params: &Params) -> StdResult<()> {
    let active = VALIDATOR_INDEX
        .range(storage, None, None, Order::Descending)
        .map(|item| {
            item.map(|((stake, operator), pubkey)| ActiveValidator {
                operator,
                pubkey,
                stake: Uint128::new(stake),
            })
        })
        .take_while(|v| {
            v.as_ref()
                .map_or(true, |v| v.stake >= params.min_stake_validator)
        })
        .take(params.max_validators as usize)
        .collect::<StdResult<Vec<_>>>()?;
    ACTIVE_SET.save(storage, &active)
}

pub fn bond(
    deps: DepsMut,
    env: &Env,
    operator: Addr,
    role: Role,
    key: Option<KeyProof>,
    amount: Uint128,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let old = OPERATORS.may_load(deps.storage, &operator)?;
    let mut new = match (&old, key) {
        (None, None) => return Err(ContractError::KeyRequired),
        (None, Some(key)) => {
            verify_key(deps.as_ref(), env, &operator, &key)?;
            register_key(deps.storage, &operator, &key.pubkey)?;
            Operator {
                pubkey: key.pubkey,
                node: Uint128::zero(),
                validator: Uint128::zero(),
                jailed_until: None,
                last_heartbeat: env.block.time,
            }
        }
        (Some(op), Some(key)) if key.pubkey != op.pubkey => {
            return Err(ContractError::UseRotateKey)
        }
        (Some(op), _) => op.clone(),
    };
    *new.stake_mut(role) = new.stake(role).checked_add(amount)?;
    let min = match role {
        Role::Node => params.min_stake_node,
        Role::Validator => params.min_stake_validator,
    };
    if new.stake(role) < min {
        return Err(ContractError::BelowMinimum {
            role,
            stake: new.stake(role),
            min,
        });
    }
    store_operator(deps.storage, env, &operator, old.as_ref(), &new)?;
    Ok(Response::new()
        .add_attribute("action", "bond")
        .add_attribute("operator", operator)
        .add_attribute("role", role_str(role))
        .add_attribute("amount", amount)
        .add_attribute("stake", new.stake(role)))
}

pub fn rotate_key(
    deps: DepsMut,
    env: &Env,
    operator: Addr,
    key: KeyProof,
) -> Result<Response, ContractError> {
    let old = load_operator(deps.storage, &operator)?;
    verify_key(deps.as_ref(), env, &operator, &key)?;
    register_key(deps.storage, &operator, &key.pubkey)?;
    let new = Operator {
        pubkey: key.pubkey,
        ..old.clone()
    };
    store_operator(deps.storage, env, &operator, Some(&old), &new)?;
    Ok(Response::new()
        .add_attribute("action", "rotate_key")
        .add_attribute("operator", operator))
}

pub fn unbond(
    deps: DepsMut,
    env: &Env,
    operator: Addr,
    role: Role,
    amount: Uint128,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let old = load_operator(deps.storage, &operator)?;
    if amount.is_zero() {
        return Err(ContractError::ZeroAmount);
    }
    let bonded = old.stake(role);
    if amount > bonded {
        return Err(ContractError::InsufficientStake {
            role,
            requested: amount,
            bonded,
        });
    }
    let mut claims = CLAIMS
        .may_load(deps.storage, &operator)?
        .unwrap_or_default();
    if claims.len() >= MAX_CLAIMS {
        return Err(ContractError::TooManyClaims { max: MAX_CLAIMS });
    }
    let release_at = env.block.time.plus_seconds(params.unbonding_period);
    claims.push(Claim {
        role,
        amount,
        release_at,
    });
    CLAIMS.save(deps.storage, &operator, &claims)?;
    TOTALS.update(deps.storage, |mut t| -> StdResult<_> {
        t.unbonding += amount;
        Ok(t)
    })?;
    let mut new = old.clone();
    *new.stake_mut(role) = bonded - amount;
    store_operator(deps.storage, env, &operator, Some(&old), &new)?;
    Ok(Response::new()
        .add_attribute("action", "unbond")
        .add_attribute("operator", operator)
        .add_attribute("role", role_str(role))
        .add_attribute("amount", amount)
        .add_attribute("release_at", release_at.to_string()))
}

pub fn claim(deps: DepsMut, env: &Env, operator: Addr) -> Result<Response, ContractError> {
    let claims = CLAIMS
        .may_load(deps.storage, &operator)?
        .unwrap_or_default();
    let (ready, pending): (Vec<Claim>, Vec<Claim>) = claims
        .into_iter()
        .partition(|c| c.release_at <= env.block.time);
    let amount: Uint128 = ready.iter().map(|c| c.amount).sum();
    if amount.is_zero() {
        return Err(ContractError::NothingToClaim);
    }
    CLAIMS.save(deps.storage, &operator, &pending)?;
    TOTALS.update(deps.storage, |mut t| -> StdResult<_> {
        t.unbonding -= amount;
        Ok(t)
    })?;
    let transfer = CONFIG
        .load(deps.storage)?
        .asset
        .transfer_msg(&operator, amount)?;
    Ok(Response::new()
        .add_message(transfer)
        .add_attribute("action", "claim")
        .add_attribute("operator", operator)
        .add_attribute("amount", amount))
}

pub fn heartbeat(deps: DepsMut, env: &Env, operator: Addr) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let mut op = load_operator(deps.storage, &operator)?;
    let next_at = op.last_heartbeat.plus_seconds(params.downtime_window / 2);
    if env.block.time < next_at {
        return Err(ContractError::HeartbeatTooSoon { next_at });
    }
    op.last_heartbeat = env.block.time;
    OPERATORS.save(deps.storage, &operator, &op)?;
    Ok(Response::new()
        .add_attribute("action", "heartbeat")
        .add_attribute("operator", operator))
}

pub fn unjail(deps: DepsMut, env: &Env, operator: Addr) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let old = load_operator(deps.storage, &operator)?;
    let until = old.jailed_until.ok_or(ContractError::NotJailed)?;
    if env.block.time < until {
        return Err(ContractError::StillJailed { until });
    }
    let new = Operator {
        jailed_until: None,
        last_heartbeat: env.block.time,
        ..old.clone()
    };
    if !new.active(Role::Node, &params) && !new.active(Role::Validator, &params) {
        return Err(ContractError::BelowMinimumToUnjail);
    }
    store_operator(deps.storage, env, &operator, Some(&old), &new)?;
    Ok(Response::new()
        .add_attribute("action", "unjail")
        .add_attribute("operator", operator))
}

pub fn update_params(
    deps: DepsMut,
    sender: &Addr,
    update: ParamsUpdate,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut p = PARAMS.load(deps.storage)?;
    let ParamsUpdate {
        min_stake_node,
        min_stake_validator,
        unbonding_period,
        slash_fraud,
        slash_double_sign,
        slash_downtime,
        slash_collusion,
        reporter_reward,
        slash_false_attestation,
        slash_false_challenge,
        slash_lazy,
        slash_unrevealed,
        downtime_window,
        jail_period,
        max_validators,
    } = update;
    p.min_stake_node = min_stake_node.unwrap_or(p.min_stake_node);
    p.min_stake_validator = min_stake_validator.unwrap_or(p.min_stake_validator);
    p.unbonding_period = unbonding_period.unwrap_or(p.unbonding_period);
    p.slash_fraud = slash_fraud.unwrap_or(p.slash_fraud);
    p.slash_double_sign = slash_double_sign.unwrap_or(p.slash_double_sign);
    p.slash_downtime = slash_downtime.unwrap_or(p.slash_downtime);
    p.slash_collusion = slash_collusion.unwrap_or(p.slash_collusion);
    p.reporter_reward = reporter_reward.unwrap_or(p.reporter_reward);
    p.slash_false_attestation = slash_false_attestation.unwrap_or(p.slash_false_attestation);
    p.slash_false_challenge = slash_false_challenge.unwrap_or(p.slash_false_challenge);
    p.slash_lazy = slash_lazy.unwrap_or(p.slash_lazy);
    p.slash_unrevealed = slash_unrevealed.unwrap_or(p.slash_unrevealed);
    p.downtime_window = downtime_window.unwrap_or(p.downtime_window);
    p.jail_period = jail_period.unwrap_or(p.jail_period);
    p.max_validators = max_validators.unwrap_or(p.max_validators);
    validate_params(&p)?;
    PARAMS.save(deps.storage, &p)?;
    // A new minimum or set size applies to the active set at once.
    rebuild_active_set(deps.storage, &p)?;
    Ok(Response::new().add_attribute("action", "update_params"))
}

pub fn update_config(
    deps: DepsMut,
    sender: &Addr,
    admin: Option<String>,
    treasury: Option<String>,
    execution_log: Option<String>,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut config = CONFIG.load(deps.storage)?;
    if let Some(admin) = admin {
        config.admin = deps.api.addr_validate(&admin)?;
    }
    if let Some(treasury) = treasury {
        config.treasury = deps.api.addr_validate(&treasury)?;
    }
    if let Some(log) = execution_log {
        config.execution_log = Some(deps.api.addr_validate(&log)?);
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", "update_config"))
}

pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::Node => "node",
        Role::Validator => "validator",
    }
}
