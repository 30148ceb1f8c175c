use cosmwasm_std::{
    to_json_binary, Addr, Deps, DepsMut, Env, HexBinary, MessageInfo, Response, Uint128,
};
use havn_types::{
    compose_levels, royalty_stack, Asset, AssetError, Edge, EdgeTarget, PoolShare, Split,
};

use crate::error::ContractError;
use crate::msg::{DependencyTarget, ParamsUpdate, PublishMsg, PublishResponse};
use crate::state::{
    workflows, Config, Dependency, DependencyRef, Flag, FlagReason, Metadata, Params, Version,
    Workflow, BY_HASH, CONFIG, METADATA, NEXT_ID, PARAMS, ROYALTY_STACK, UPSTREAM_LEVELS, VERSIONS,
};
use crate::{assets, derivatives};

/// Hard ceilings on what governance may set, so no param can make publish or payout unbounded.
pub const MAX_DEPENDENCIES_LIMIT: u32 = 32;
pub const MAX_ROYALTY_DEPTH_LIMIT: u8 = 8;
pub const MAX_ROYALTY_PAYEES_LIMIT: u32 = 64;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_NOTE_CHARS: usize = 256;

/// Floors governance may not go under: a node and the validators are always paid something.
pub const HARD_MIN_NODE_BPS: u16 = 500;
pub const HARD_MIN_VALIDATOR_BPS: u16 = 100;

/// A split's node, validator and treasury parts against the governance floors.
pub fn check_floors(p: &Params, split: &Split) -> Result<(), ContractError> {
    let f = p.share_floors;
    for (part, bps, min) in [
        ("node", split.node, f.node),
        ("validator", split.validator, f.validator),
        ("treasury", split.treasury, f.treasury),
    ] {
        if bps < min {
            return Err(ContractError::ShareBelowFloor { part, bps, min });
        }
    }
    Ok(())
}

pub fn validate_params(p: &Params) -> Result<(), ContractError> {
    let invalid = |name, reason: String| Err(ContractError::InvalidParam { name, reason });
    if let Err(e) = p.default_split.validate() {
        return invalid("default_split", e.to_string());
    }
    let f = p.share_floors;
    if f.node < HARD_MIN_NODE_BPS || f.validator < HARD_MIN_VALIDATOR_BPS {
        return invalid(
            "share_floors",
            format!(
                "the node and validator floors may not go under {HARD_MIN_NODE_BPS} and {HARD_MIN_VALIDATOR_BPS} bps"
            ),
        );
    }
    if u32::from(f.node) + u32::from(f.validator) + u32::from(f.treasury) > 10_000 {
        return invalid(
            "share_floors",
            "the floors add up to more than 10000 bps".into(),
        );
    }
    if let Err(e) = check_floors(p, &p.default_split) {
        return invalid("default_split", e.to_string());
    }
    if !(1..=MAX_DEPENDENCIES_LIMIT).contains(&p.max_dependencies) {
        return invalid(
            "max_dependencies",
            format!(
                "must be 1..={MAX_DEPENDENCIES_LIMIT}, got {}",
                p.max_dependencies
            ),
        );
    }
    if !(1..=MAX_ROYALTY_DEPTH_LIMIT).contains(&p.max_royalty_depth) {
        return invalid(
            "max_royalty_depth",
            format!(
                "must be 1..={MAX_ROYALTY_DEPTH_LIMIT}, got {}",
                p.max_royalty_depth
            ),
        );
    }
    if !(1..=MAX_ROYALTY_PAYEES_LIMIT).contains(&p.max_royalty_payees) {
        return invalid(
            "max_royalty_payees",
            format!(
                "must be 1..={MAX_ROYALTY_PAYEES_LIMIT}, got {}",
                p.max_royalty_payees
            ),
        );
    }
    if p.min_upstream_bps > 10_000 {
        return invalid(
            "min_upstream_bps",
            format!("must be at most 10000, got {}", p.min_upstream_bps),
        );
    }
    if let Err(reason) = derivatives::validate_rules(&p.derivatives) {
        return invalid("derivatives", reason);
    }
    Ok(())
}

/// The deposit attached as native funds to a `Publish`.
pub fn native_deposit(
    config: &Config,
    params: &Params,
    info: &MessageInfo,
) -> Result<Uint128, ContractError> {
    if !info.funds.is_empty() {
        return Ok(config.asset.native_payment(info)?);
    }
    match &config.asset {
        Asset::Cw20(_) if !params.publish_deposit.is_zero() => Err(AssetError::PayWithCw20 {
            token: config.asset.to_string(),
        }
        .into()),
        _ => Ok(Uint128::zero()),
    }
}

/// The deposit paid through a cw20 `Send` from `token`.
pub fn cw20_deposit(
    config: &Config,
    params: &Params,
    token: &Addr,
    amount: Uint128,
) -> Result<Uint128, ContractError> {
    let paid = config.asset.cw20_payment(token, amount)?;
    if params.publish_deposit.is_zero() {
        return Err(ContractError::DepositNotRequired(params.publish_deposit));
    }
    Ok(paid)
}

fn validate_name(name: &str) -> Result<String, ContractError> {
    let chars = name.chars().count();
    let reason = if chars == 0 {
        "the name is empty".to_string()
    } else if chars > MAX_NAME_CHARS {
        format!("{chars} characters; the limit is {MAX_NAME_CHARS}")
    } else if name.chars().any(char::is_control) {
        "control characters are not allowed".to_string()
    } else if name.trim() != name {
        "leading or trailing whitespace is not allowed".to_string()
    } else {
        return Ok(name.to_string());
    };
    Err(ContractError::InvalidName { reason })
}

pub(crate) fn parse_hash(hash: &str) -> Result<HexBinary, ContractError> {
    match HexBinary::from_hex(hash) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(ContractError::InvalidContentHash {
            hash: hash.to_string(),
        }),
    }
}

/// Refuses a manifest hash that any workflow already registered: one manifest, one workflow.
fn ensure_hash_free(deps: Deps, hash: &HexBinary) -> Result<(), ContractError> {
    match BY_HASH.may_load(deps.storage, hash.as_slice())? {
        Some((id, version)) => Err(ContractError::ContentHashTaken {
            hash: hash.to_hex(),
            id,
            version,
        }),
        None => Ok(()),
    }
}

pub(crate) fn load_workflow(deps: Deps, id: u64) -> Result<Workflow, ContractError> {
    workflows()
        .may_load(deps.storage, id)?
        .ok_or(ContractError::UnknownWorkflow { id })
}

fn load_owned(deps: Deps, sender: &Addr, id: u64) -> Result<Workflow, ContractError> {
    let workflow = load_workflow(deps, id)?;
    match workflow.creator == *sender {
        true => Ok(workflow),
        false => Err(ContractError::NotCreator { id }),
    }
}

pub(crate) fn ensure_admin(deps: Deps, sender: &Addr) -> Result<(), ContractError> {
    match CONFIG.load(deps.storage)?.admin == *sender {
        true => Ok(()),
        false => Err(ContractError::NotAdmin),
    }
}

/// A dependency as the royalty composition needs it.
enum Resolved {
    Workflow {
        id: u64,
        split: Split,
        levels: Vec<Vec<PoolShare>>,
    },
    Artifact {
        payee: Addr,
    },
}

/// Publishes for `creator`, who paid `paid` as the deposit. `config` and `params` are loaded once
/// by the caller, which also needed them to read the deposit.
pub fn publish(
    deps: DepsMut,
    env: &Env,
    config: &Config,
    params: &Params,
    creator: Addr,
    msg: PublishMsg,
    paid: Uint128,
) -> Result<Response, ContractError> {
    let name = validate_name(&msg.name)?;
    let content_hash = parse_hash(&msg.content_hash)?;
    let artifacts = assets::parse_artifacts(&msg.artifacts)?;
    ensure_hash_free(deps.as_ref(), &content_hash)?;
    let rules = &params.derivatives;
    let sig = derivatives::parse(rules, msg.fingerprint.as_ref())?;
    let (msg, derived) = derivatives::screen(
        deps.as_ref(),
        rules,
        params.min_upstream_bps,
        params.default_split,
        sig.as_ref(),
        msg,
    )?;
    let id = NEXT_ID.load(deps.storage)?;
    let split = msg.split.unwrap_or(params.default_split);
    split.validate()?;
    check_floors(params, &split)?;
    if msg.dependencies.len() > params.max_dependencies as usize {
        return Err(ContractError::TooManyDependencies {
            count: msg.dependencies.len(),
            max: params.max_dependencies,
        });
    }

    // Dependencies must already exist and never change, so the graph is acyclic by construction:
    // the only cycle one could attempt is through the id being assigned now (or a later one).
    let mut dependencies = Vec::with_capacity(msg.dependencies.len());
    let mut resolved = Vec::with_capacity(msg.dependencies.len());
    // At most MAX_DEPENDENCIES_LIMIT entries: a linear scan is cheaper than a set, in gas and code.
    let (mut seen_ids, mut seen_hashes): (Vec<u64>, Vec<HexBinary>) = (Vec::new(), Vec::new());
    for dep in msg.dependencies {
        let target = match dep.target {
            DependencyTarget::Workflow { id: dep_id } => {
                if dep_id == id {
                    return Err(ContractError::SelfDependency { id });
                }
                if seen_ids.contains(&dep_id) {
                    return Err(ContractError::DuplicateDependency { id: dep_id });
                }
                seen_ids.push(dep_id);
                let workflow = load_workflow(deps.as_ref(), dep_id)?;
                if let Some(flag) = &workflow.flag {
                    return Err(ContractError::FlaggedDependency {
                        id: dep_id,
                        reason: flag.reason.clone(),
                    });
                }
                let levels = UPSTREAM_LEVELS
                    .may_load(deps.storage, dep_id)?
                    .unwrap_or_default();
                resolved.push(Resolved::Workflow {
                    id: dep_id,
                    split: workflow.split,
                    levels,
                });
                DependencyRef::Workflow { id: dep_id }
            }
            DependencyTarget::Artifact {
                kind,
                content_hash,
                payee,
            } => {
                let hash = parse_hash(&content_hash)?;
                if seen_hashes.contains(&hash) {
                    return Err(ContractError::DuplicateArtifact {
                        hash: hash.to_hex(),
                    });
                }
                seen_hashes.push(hash.clone());
                let payee = deps.api.addr_validate(&payee)?;
                resolved.push(Resolved::Artifact {
                    payee: payee.clone(),
                });
                DependencyRef::Artifact {
                    kind,
                    content_hash: hash,
                    payee,
                }
            }
        };
        dependencies.push(Dependency {
            target,
            weight_bps: dep.weight_bps,
        });
    }
    if let Some(parent) = msg.parent.filter(|p| !seen_ids.contains(p)) {
        return Err(ContractError::ParentNotADependency { parent });
    }
    let split = match dependencies.is_empty() {
        true => split.without_upstream(),
        false if split.upstream < params.min_upstream_bps => {
            return Err(ContractError::UpstreamTooLow {
                upstream: split.upstream,
                min: params.min_upstream_bps,
            })
        }
        false => split,
    };

    let edges: Vec<Edge> = dependencies
        .iter()
        .zip(&resolved)
        .map(|(dep, target)| Edge {
            weight_bps: dep.weight_bps,
            target: match target {
                Resolved::Workflow { id, split, levels } => EdgeTarget::Workflow {
                    id: *id,
                    split,
                    levels,
                },
                Resolved::Artifact { payee } => EdgeTarget::External { payee },
            },
        })
        .collect();
    let levels = compose_levels(
        &edges,
        params.max_royalty_depth,
        params.max_royalty_payees as usize,
    )?;
    let stack = royalty_stack(
        levels.last().map(Vec::as_slice).unwrap_or_default(),
        split.upstream,
    )?;

    assets::ensure_credited(deps.as_ref(), &artifacts, &dependencies)?;

    if paid != params.publish_deposit {
        return Err(ContractError::WrongDeposit {
            required: config.asset.amount(params.publish_deposit),
            paid: config.asset.amount(paid),
        });
    }

    let workflow = Workflow {
        id,
        name,
        creator,
        pending_creator: None,
        price: msg.price,
        split,
        dependencies,
        parent: msg.parent,
        version: 1,
        content_hash: content_hash.clone(),
        flag: None,
        copy_of: None,
        created_height: env.block.height,
        created_time: env.block.time,
    };
    workflows().save(deps.storage, id, &workflow)?;
    save_metadata(deps.storage, id, &msg.metadata.unwrap_or_default())?;
    VERSIONS.save(
        deps.storage,
        (id, 1),
        &Version {
            version: 1,
            content_hash: content_hash.clone(),
            height: env.block.height,
            time: env.block.time,
            artifacts,
        },
    )?;
    BY_HASH.save(deps.storage, content_hash.as_slice(), &(id, 1))?;
    if !levels.is_empty() {
        UPSTREAM_LEVELS.save(deps.storage, id, &levels)?;
    }
    if !stack.is_empty() {
        ROYALTY_STACK.save(deps.storage, id, &stack)?;
    }
    if let Some(sig) = &sig {
        derivatives::index(deps.storage, rules, id, 1, sig)?;
    }
    NEXT_ID.save(deps.storage, &(id + 1))?;

    let mut response = Response::new()
        .set_data(to_json_binary(&PublishResponse { id })?)
        .add_attribute("action", "publish")
        .add_attribute("workflow_id", id.to_string())
        .add_attribute("creator", workflow.creator.as_str())
        .add_attribute("content_hash", content_hash.to_hex())
        .add_attribute("upstream_bps", split.upstream.to_string())
        .add_attribute("royalty_payees", stack.len().to_string());
    if let Some((original, similarity_bps)) = derived {
        response = response
            .add_attribute("derived_from", original.to_string())
            .add_attribute("similarity_bps", similarity_bps.to_string());
    }
    if !paid.is_zero() {
        response = response
            .add_message(config.asset.transfer_msg(&config.treasury, paid)?)
            .add_attribute("deposit", config.asset.amount(paid));
    }
    Ok(response)
}

pub fn new_version(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    id: u64,
    content_hash: &str,
    artifacts: &[String],
    fingerprint: Option<&HexBinary>,
) -> Result<Response, ContractError> {
    let mut workflow = load_owned(deps.as_ref(), sender, id)?;
    let hash = parse_hash(content_hash)?;
    ensure_hash_free(deps.as_ref(), &hash)?;
    let rules = PARAMS.load(deps.storage)?.derivatives;
    let sig = derivatives::parse(&rules, fingerprint)?;
    if let Some(sig) = &sig {
        let direct = derivatives::workflow_ids(&workflow.dependencies);
        if let Some((candidate, version, similarity_bps)) =
            derivatives::undeclared_match(deps.as_ref(), &rules, sig, Some(id), &direct)?
        {
            return Err(ContractError::VersionMatches {
                candidate,
                version,
                similarity_bps,
                threshold_bps: rules.threshold_bps,
            });
        }
    }
    // Its dependencies are fixed: a version using a registered asset they do not credit is a
    // new workflow.
    let artifacts = assets::parse_artifacts(artifacts)?;
    assets::ensure_credited(deps.as_ref(), &artifacts, &workflow.dependencies)?;
    workflow.version += 1;
    workflow.content_hash = hash.clone();
    let version = Version {
        version: workflow.version,
        content_hash: hash.clone(),
        height: env.block.height,
        time: env.block.time,
        artifacts,
    };
    VERSIONS.save(deps.storage, (id, workflow.version), &version)?;
    BY_HASH.save(deps.storage, hash.as_slice(), &(id, workflow.version))?;
    if let Some(sig) = &sig {
        derivatives::index(deps.storage, &rules, id, workflow.version, sig)?;
    }
    workflows().save(deps.storage, id, &workflow)?;
    Ok(Response::new()
        .add_attribute("action", "new_version")
        .add_attribute("workflow_id", id.to_string())
        .add_attribute("version", workflow.version.to_string())
        .add_attribute("content_hash", hash.to_hex()))
}

pub fn update_price(
    deps: DepsMut,
    sender: &Addr,
    id: u64,
    price: Uint128,
) -> Result<Response, ContractError> {
    let mut workflow = load_owned(deps.as_ref(), sender, id)?;
    workflow.price = price;
    workflows().save(deps.storage, id, &workflow)?;
    Ok(Response::new()
        .add_attribute("action", "update_price")
        .add_attribute("workflow_id", id.to_string())
        .add_attribute("price", price))
}

/// Creator only: the workflow's metadata, replaced whole (an empty one is removed).
pub fn set_metadata(
    deps: DepsMut,
    sender: &Addr,
    id: u64,
    metadata: Metadata,
) -> Result<Response, ContractError> {
    load_owned(deps.as_ref(), sender, id)?;
    save_metadata(deps.storage, id, &metadata)?;
    Ok(Response::new()
        .add_attribute("action", "set_metadata")
        .add_attribute("workflow_id", id.to_string()))
}

fn save_metadata(
    storage: &mut dyn cosmwasm_std::Storage,
    id: u64,
    metadata: &Metadata,
) -> Result<(), ContractError> {
    metadata
        .validate()
        .map_err(|reason| ContractError::InvalidMetadata { reason })?;
    if metadata.is_empty() {
        METADATA.remove(storage, id);
    } else {
        METADATA.save(storage, id, metadata)?;
    }
    Ok(())
}

pub fn transfer_ownership(
    deps: DepsMut,
    sender: &Addr,
    id: u64,
    new_creator: &str,
) -> Result<Response, ContractError> {
    let mut workflow = load_owned(deps.as_ref(), sender, id)?;
    let new_creator = deps.api.addr_validate(new_creator)?;
    if new_creator == workflow.creator {
        return Err(ContractError::AlreadyCreator { id });
    }
    workflow.pending_creator = Some(new_creator.clone());
    workflows().save(deps.storage, id, &workflow)?;
    Ok(Response::new()
        .add_attribute("action", "transfer_ownership")
        .add_attribute("workflow_id", id.to_string())
        .add_attribute("pending_creator", new_creator))
}

pub fn accept_ownership(deps: DepsMut, sender: &Addr, id: u64) -> Result<Response, ContractError> {
    let mut workflow = load_workflow(deps.as_ref(), id)?;
    if workflow.pending_creator.as_ref() != Some(sender) {
        return Err(ContractError::NotPendingCreator { id });
    }
    let previous = std::mem::replace(&mut workflow.creator, sender.clone());
    workflow.pending_creator = None;
    workflows().save(deps.storage, id, &workflow)?;
    Ok(Response::new()
        .add_attribute("action", "accept_ownership")
        .add_attribute("workflow_id", id.to_string())
        .add_attribute("previous_creator", previous)
        .add_attribute("creator", sender.as_str()))
}

pub fn cancel_ownership_transfer(
    deps: DepsMut,
    sender: &Addr,
    id: u64,
) -> Result<Response, ContractError> {
    let mut workflow = load_owned(deps.as_ref(), sender, id)?;
    if workflow.pending_creator.take().is_none() {
        return Err(ContractError::NoPendingTransfer { id });
    }
    workflows().save(deps.storage, id, &workflow)?;
    Ok(Response::new()
        .add_attribute("action", "cancel_ownership_transfer")
        .add_attribute("workflow_id", id.to_string()))
}

pub fn flag(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    id: u64,
    reason: FlagReason,
    note: Option<String>,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut workflow = load_workflow(deps.as_ref(), id)?;
    if workflow.flag.is_some() {
        return Err(ContractError::AlreadyFlagged { id });
    }
    validate_note(&note)?;
    let reason_attr = reason.as_str();
    workflow.flag = Some(Flag {
        reason,
        note,
        height: env.block.height,
    });
    workflows().save(deps.storage, id, &workflow)?;
    Ok(Response::new()
        .add_attribute("action", "flag")
        .add_attribute("workflow_id", id.to_string())
        .add_attribute("reason", reason_attr))
}

/// A flag's note: at most `MAX_NOTE_CHARS`.
pub(crate) fn validate_note(note: &Option<String>) -> Result<(), ContractError> {
    match note.as_ref().map(|n| n.chars().count()) {
        Some(len) if len > MAX_NOTE_CHARS => Err(ContractError::NoteTooLong {
            len,
            max: MAX_NOTE_CHARS,
        }),
        _ => Ok(()),
    }
}

pub fn unflag(deps: DepsMut, sender: &Addr, id: u64) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut workflow = load_workflow(deps.as_ref(), id)?;
    if workflow.flag.take().is_none() {
        return Err(ContractError::NotFlagged { id });
    }
    workflows().save(deps.storage, id, &workflow)?;
    Ok(Response::new()
        .add_attribute("action", "unflag")
        .add_attribute("workflow_id", id.to_string()))
}

pub fn update_params(
    deps: DepsMut,
    sender: &Addr,
    update: ParamsUpdate,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut p = PARAMS.load(deps.storage)?;
    let ParamsUpdate {
        default_split,
        max_dependencies,
        max_royalty_depth,
        max_royalty_payees,
        publish_deposit,
        min_upstream_bps,
    } = update;
    p.default_split = default_split.unwrap_or(p.default_split);
    p.max_dependencies = max_dependencies.unwrap_or(p.max_dependencies);
    p.max_royalty_depth = max_royalty_depth.unwrap_or(p.max_royalty_depth);
    p.max_royalty_payees = max_royalty_payees.unwrap_or(p.max_royalty_payees);
    p.publish_deposit = publish_deposit.unwrap_or(p.publish_deposit);
    p.min_upstream_bps = min_upstream_bps.unwrap_or(p.min_upstream_bps);
    validate_params(&p)?;
    PARAMS.save(deps.storage, &p)?;
    Ok(Response::new().add_attribute("action", "update_params"))
}

pub fn update_derivative_rules(
    deps: DepsMut,
    sender: &Addr,
    rules: crate::state::DerivativeRules,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut p = PARAMS.load(deps.storage)?;
    p.derivatives = rules;
    validate_params(&p)?;
    PARAMS.save(deps.storage, &p)?;
    Ok(Response::new()
        .add_attribute("action", "update_derivative_rules")
        .add_attribute("threshold_bps", rules.threshold_bps.to_string()))
}

pub fn update_share_floors(
    deps: DepsMut,
    sender: &Addr,
    floors: crate::state::ShareFloors,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut p = PARAMS.load(deps.storage)?;
    p.share_floors = floors;
    validate_params(&p)?;
    PARAMS.save(deps.storage, &p)?;
    Ok(Response::new().add_attribute("action", "update_share_floors"))
}

pub fn update_config(
    deps: DepsMut,
    sender: &Addr,
    admin: Option<String>,
    treasury: Option<String>,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut config = CONFIG.load(deps.storage)?;
    if let Some(admin) = admin {
        config.admin = deps.api.addr_validate(&admin)?;
    }
    if let Some(treasury) = treasury {
        config.treasury = deps.api.addr_validate(&treasury)?;
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_attribute("admin", config.admin)
        .add_attribute("treasury", config.treasury))
}
