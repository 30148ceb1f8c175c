//! External assets (models, LoRAs, prompts, datasets) registered by their owners, and the rule
//! that makes their royalties unskippable: a workflow version records the artifact hashes its
//! manifest uses, and every registered one among them must be credited in its royalty stack
//! (nodes and validators check that the manifest really uses exactly that set).

use cosmwasm_std::{Addr, Deps, DepsMut, Env, HexBinary, Order, Response, StdResult};
use cw_storage_plus::Bound;

use crate::error::ContractError;
use crate::execute::{ensure_admin, parse_hash, validate_note};
use crate::msg::AssetsResponse;
use crate::state::{
    workflows, ArtifactKind, Dependency, DependencyRef, Flag, FlagReason, RegisteredAsset, ASSETS,
    VERSIONS,
};

/// Most artifact hashes one version may record (a manifest names its modules and LoRAs).
pub const MAX_ARTIFACTS: usize = 64;

/// Anyone: registers an asset by its content hash, owned by the sender and paid to `payee`
/// (default: the sender). One hash, one owner: the first registration stands. It binds the
/// versions published after it, never earlier ones (registering someone's model later cannot
/// stop the workflows already built on it).
pub fn register(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    kind: ArtifactKind,
    content_hash: &str,
    payee: Option<String>,
) -> Result<Response, ContractError> {
    let hash = parse_hash(content_hash)?;
    if let Some(asset) = ASSETS.may_load(deps.storage, hash.as_slice())? {
        return Err(ContractError::AssetTaken {
            hash: hash.to_hex(),
            owner: asset.owner.to_string(),
        });
    }
    let payee = match payee {
        Some(p) => deps.api.addr_validate(&p)?,
        None => sender.clone(),
    };
    let asset = RegisteredAsset {
        kind,
        content_hash: hash.clone(),
        owner: sender.clone(),
        payee: payee.clone(),
        height: env.block.height,
        flag: None,
    };
    ASSETS.save(deps.storage, hash.as_slice(), &asset)?;
    Ok(Response::new()
        .add_attribute("action", "register_asset")
        .add_attribute("content_hash", hash.to_hex())
        .add_attribute("owner", sender)
        .add_attribute("payee", payee))
}

/// Admin only: marks a registration as not to be enforced (a stolen model, say).
pub fn flag(
    deps: DepsMut,
    env: &Env,
    sender: &Addr,
    content_hash: &str,
    reason: FlagReason,
    note: Option<String>,
) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut asset = load(deps.as_ref(), content_hash)?;
    if asset.flag.is_some() {
        return Err(ContractError::AssetAlreadyFlagged {
            hash: asset.content_hash.to_hex(),
        });
    }
    validate_note(&note)?;
    let reason_attr = reason.as_str();
    asset.flag = Some(Flag {
        reason,
        note,
        height: env.block.height,
    });
    ASSETS.save(deps.storage, asset.content_hash.as_slice(), &asset)?;
    Ok(Response::new()
        .add_attribute("action", "flag_asset")
        .add_attribute("content_hash", asset.content_hash.to_hex())
        .add_attribute("reason", reason_attr))
}

/// Admin only: enforces a flagged registration again.
pub fn unflag(deps: DepsMut, sender: &Addr, content_hash: &str) -> Result<Response, ContractError> {
    ensure_admin(deps.as_ref(), sender)?;
    let mut asset = load(deps.as_ref(), content_hash)?;
    if asset.flag.take().is_none() {
        return Err(ContractError::AssetNotFlagged {
            hash: asset.content_hash.to_hex(),
        });
    }
    ASSETS.save(deps.storage, asset.content_hash.as_slice(), &asset)?;
    Ok(Response::new()
        .add_attribute("action", "unflag_asset")
        .add_attribute("content_hash", asset.content_hash.to_hex()))
}

fn load(deps: Deps, content_hash: &str) -> Result<RegisteredAsset, ContractError> {
    let hash = parse_hash(content_hash)?;
    ASSETS
        .may_load(deps.storage, hash.as_slice())?
        .ok_or(ContractError::UnknownAsset {
            hash: hash.to_hex(),
        })
}

/// A version's artifact set: 64-hex hashes, sorted and without repeats, at most `MAX_ARTIFACTS`.
pub fn parse_artifacts(artifacts: &[String]) -> Result<Vec<HexBinary>, ContractError> {
    if artifacts.len() > MAX_ARTIFACTS {
        return Err(ContractError::TooManyArtifacts {
            count: artifacts.len(),
            max: MAX_ARTIFACTS,
        });
    }
    let mut out = artifacts
        .iter()
        .map(|a| parse_hash(a))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Every registered (unflagged) asset among `artifacts` is credited by `dependencies`: declared
/// to its payee, or used by a workflow dependency whose newest version records it (that
/// workflow's own stack pays it). And no dependency credits a registered asset to anyone else.
pub fn ensure_credited(
    deps: Deps,
    artifacts: &[HexBinary],
    dependencies: &[Dependency],
) -> Result<(), ContractError> {
    for dep in dependencies {
        if let DependencyRef::Artifact {
            content_hash,
            payee,
            ..
        } = &dep.target
        {
            if let Some(asset) = enforced(deps, content_hash)? {
                if asset.payee != *payee {
                    return Err(ContractError::AssetPayeeMismatch {
                        hash: content_hash.to_hex(),
                        payee: asset.payee.to_string(),
                    });
                }
            }
        }
    }
    let mut upstream: Vec<HexBinary> = vec![];
    for dep in dependencies {
        if let DependencyRef::Workflow { id } = dep.target {
            let version = workflows().load(deps.storage, id)?.version;
            upstream.extend(VERSIONS.load(deps.storage, (id, version))?.artifacts);
        }
    }
    for hash in artifacts {
        let Some(asset) = enforced(deps, hash)? else {
            continue;
        };
        let declared = dependencies.iter().any(|d| {
            matches!(&d.target, DependencyRef::Artifact { content_hash, .. } if content_hash == hash)
        });
        if !declared && !upstream.contains(hash) {
            return Err(ContractError::UncreditedAsset {
                hash: hash.to_hex(),
                kind: asset.kind.as_str(),
                payee: asset.payee.to_string(),
            });
        }
    }
    Ok(())
}

fn enforced(deps: Deps, hash: &HexBinary) -> StdResult<Option<RegisteredAsset>> {
    Ok(ASSETS
        .may_load(deps.storage, hash.as_slice())?
        .filter(|a| a.flag.is_none()))
}

pub fn query(deps: Deps, content_hash: &str) -> StdResult<RegisteredAsset> {
    load(deps, content_hash).map_err(|e| cosmwasm_std::StdError::not_found(e.to_string()))
}

pub fn list(deps: Deps, start_after: Option<String>, limit: usize) -> StdResult<AssetsResponse> {
    let start = start_after.map(|h| HexBinary::from_hex(&h)).transpose()?;
    let assets = ASSETS
        .range(
            deps.storage,
            start.as_ref().map(|h| Bound::exclusive(h.as_slice())),
            None,
            Order::Ascending,
        )
        .take(limit)
        .map(|r| r.map(|(_, a)| a))
        .collect::<StdResult<_>>()?;
    Ok(AssetsResponse { assets })
}
