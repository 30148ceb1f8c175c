use std::collections::VecDeque;

use cosmwasm_std::{to_json_binary, Binary, Deps, Order, StdError, StdResult};
use cw_storage_plus::Bound;
use havn_types::Payee;

use crate::msg::{
    Ancestor, ConfigResponse, DisputesResponse, FingerprintResponse, HashOwnerResponse,
    LineageResponse, MetadataResponse, QueryMsg, RoyaltyShare, RoyaltyStackResponse,
    RunTermsResponse, SimilarResponse, SimilarTo, VersionsResponse, WorkflowsResponse,
};
use crate::state::{
    workflows, DependencyRef, Workflow, BY_HASH, CONFIG, DISPUTES, FINGERPRINTS, METADATA, NEXT_ID,
    PARAMS, ROYALTY_STACK, VERSIONS,
};
use crate::{assets, derivatives};
use cosmwasm_std::HexBinary;

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;
pub const MAX_LINEAGE_DEPTH: u8 = 8;

fn limit(requested: Option<u32>) -> usize {
    requested.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize
}

pub fn dispatch(deps: Deps, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => to_json_binary(&config(deps)?),
        QueryMsg::Params {} => to_json_binary(&PARAMS.load(deps.storage)?),
        QueryMsg::Workflow { id } => to_json_binary(&load(deps, id)?),
        QueryMsg::WorkflowByHash { content_hash } => to_json_binary(&by_hash(deps, &content_hash)?),
        QueryMsg::Workflows {
            start_after,
            limit: l,
        } => to_json_binary(&list(deps, start_after, l)?),
        QueryMsg::WorkflowsByCreator {
            creator,
            start_after,
            limit: l,
        } => to_json_binary(&by_creator(deps, &creator, start_after, l)?),
        QueryMsg::Versions {
            id,
            start_after,
            limit: l,
        } => to_json_binary(&versions(deps, id, start_after, l)?),
        QueryMsg::Lineage { id, depth } => to_json_binary(&lineage(deps, id, depth)?),
        QueryMsg::RoyaltyStack { id } => to_json_binary(&royalty_stack(deps, id)?),
        QueryMsg::RunTerms { id } => to_json_binary(&run_terms(deps, id)?),
        QueryMsg::Metadata { id } => to_json_binary(&metadata(deps, id)?),
        QueryMsg::Asset { content_hash } => to_json_binary(&assets::query(deps, &content_hash)?),
        QueryMsg::Assets {
            start_after,
            limit: l,
        } => to_json_binary(&assets::list(deps, start_after, limit(l))?),
        QueryMsg::Fingerprint { id, version } => to_json_binary(&fingerprint(deps, id, version)?),
        QueryMsg::Similar { to, limit: l } => to_json_binary(&similar(deps, to, l)?),
        QueryMsg::Dispute { id } => to_json_binary(
            &DISPUTES
                .may_load(deps.storage, id)?
                .ok_or_else(|| StdError::not_found(format!("dispute {id}")))?,
        ),
        QueryMsg::Disputes {
            start_after,
            limit: l,
        } => to_json_binary(&DisputesResponse {
            disputes: DISPUTES
                .range(
                    deps.storage,
                    start_after.map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(limit(l))
                .map(|item| item.map(|(_, d)| d))
                .collect::<StdResult<_>>()?,
        }),
    }
}

fn fingerprint(deps: Deps, id: u64, version: Option<u32>) -> StdResult<FingerprintResponse> {
    let w = load(deps, id)?;
    let version = version.unwrap_or(w.version);
    if !VERSIONS.has(deps.storage, (id, version)) {
        return Err(StdError::not_found(format!(
            "workflow {id} version {version}"
        )));
    }
    Ok(FingerprintResponse {
        id,
        version,
        fingerprint: FINGERPRINTS
            .may_load(deps.storage, (id, version))?
            .map(HexBinary::from),
    })
}

fn similar(deps: Deps, to: SimilarTo, l: Option<u32>) -> StdResult<SimilarResponse> {
    let rules = PARAMS.load(deps.storage)?.derivatives;
    let (sig, exclude) = match to {
        SimilarTo::Workflow { id } => {
            let w = load(deps, id)?;
            let bytes = FINGERPRINTS
                .may_load(deps.storage, (id, w.version))?
                .ok_or_else(|| {
                    StdError::not_found(format!(
                        "a fingerprint of workflow {id} version {}",
                        w.version
                    ))
                })?;
            (bytes, Some(id))
        }
        SimilarTo::Fingerprint { fingerprint } => (fingerprint.to_vec(), None),
    };
    let sig = havn_types::fingerprint::decode(&sig).ok_or_else(|| {
        StdError::generic_err(format!(
            "a fingerprint is {} bytes; got {}",
            havn_types::fingerprint::SLOTS * 4,
            sig.len()
        ))
    })?;
    Ok(SimilarResponse {
        threshold_bps: rules.threshold_bps,
        matches: derivatives::similar(deps, &rules, &sig, exclude, limit(l))?,
    })
}

fn metadata(deps: Deps, id: u64) -> StdResult<MetadataResponse> {
    load(deps, id)?;
    Ok(MetadataResponse {
        id,
        metadata: METADATA.may_load(deps.storage, id)?.unwrap_or_default(),
    })
}

fn load(deps: Deps, id: u64) -> StdResult<Workflow> {
    workflows()
        .may_load(deps.storage, id)?
        .ok_or_else(|| StdError::not_found(format!("workflow {id}")))
}

fn config(deps: Deps) -> StdResult<ConfigResponse> {
    let c = CONFIG.load(deps.storage)?;
    Ok(ConfigResponse {
        admin: c.admin,
        asset: c.asset,
        treasury: c.treasury,
        next_id: NEXT_ID.load(deps.storage)?,
    })
}

fn by_hash(deps: Deps, content_hash: &str) -> StdResult<HashOwnerResponse> {
    let hash = cosmwasm_std::HexBinary::from_hex(content_hash)?;
    let (id, version) = BY_HASH
        .may_load(deps.storage, hash.as_slice())?
        .ok_or_else(|| StdError::not_found(format!("manifest {content_hash}")))?;
    let artifacts = VERSIONS.load(deps.storage, (id, version))?.artifacts;
    Ok(HashOwnerResponse {
        id,
        version,
        artifacts,
        fingerprint: FINGERPRINTS
            .may_load(deps.storage, (id, version))?
            .map(HexBinary::from),
    })
}

fn list(deps: Deps, start_after: Option<u64>, l: Option<u32>) -> StdResult<WorkflowsResponse> {
    let workflows = workflows()
        .range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(limit(l))
        .map(|item| item.map(|(_, w)| w))
        .collect::<StdResult<_>>()?;
    Ok(WorkflowsResponse { workflows })
}

fn by_creator(
    deps: Deps,
    creator: &str,
    start_after: Option<u64>,
    l: Option<u32>,
) -> StdResult<WorkflowsResponse> {
    let creator = deps.api.addr_validate(creator)?;
    let workflows = workflows()
        .idx
        .creator
        .prefix(creator)
        .range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(limit(l))
        .map(|item| item.map(|(_, w)| w))
        .collect::<StdResult<_>>()?;
    Ok(WorkflowsResponse { workflows })
}

fn versions(
    deps: Deps,
    id: u64,
    start_after: Option<u32>,
    l: Option<u32>,
) -> StdResult<VersionsResponse> {
    load(deps, id)?;
    let versions = VERSIONS
        .prefix(id)
        .range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(limit(l))
        .map(|item| item.map(|(_, v)| v))
        .collect::<StdResult<_>>()?;
    Ok(VersionsResponse { versions })
}

/// Breadth first over workflow dependencies, so each ancestor is reported at its shortest depth.
fn lineage(deps: Deps, id: u64, depth: Option<u8>) -> StdResult<LineageResponse> {
    let root = load(deps, id)?;
    let max_depth = depth.unwrap_or(MAX_LINEAGE_DEPTH).min(MAX_LINEAGE_DEPTH);
    let workflow_deps = |w: &Workflow| -> Vec<u64> {
        w.dependencies
            .iter()
            .filter_map(|d| match d.target {
                DependencyRef::Workflow { id } => Some(id),
                DependencyRef::Artifact { .. } => None,
            })
            .collect()
    };
    let mut queue: VecDeque<(u64, u8)> = match max_depth {
        0 => VecDeque::new(),
        _ => workflow_deps(&root)
            .into_iter()
            .map(|dep| (dep, 1))
            .collect(),
    };
    let mut seen = vec![id];
    let (mut ancestors, mut truncated) = (Vec::new(), false);
    while let Some((ancestor_id, at)) = queue.pop_front() {
        if seen.contains(&ancestor_id) {
            continue;
        }
        seen.push(ancestor_id);
        if ancestors.len() == MAX_LIMIT as usize {
            truncated = true;
            break;
        }
        let w = load(deps, ancestor_id)?;
        if at < max_depth {
            queue.extend(workflow_deps(&w).into_iter().map(|dep| (dep, at + 1)));
        }
        ancestors.push(Ancestor {
            id: w.id,
            flagged: w.flag.is_some(),
            name: w.name,
            creator: w.creator,
            depth: at,
            parent: w.parent,
        });
    }
    let artifacts = root
        .dependencies
        .into_iter()
        .filter(|d| matches!(d.target, DependencyRef::Artifact { .. }))
        .collect();
    Ok(LineageResponse {
        id,
        ancestors,
        artifacts,
        truncated,
    })
}

/// The stored stack with each upstream workflow resolved to its creator now. A flagged upstream
/// workflow earns nothing while flagged: its share goes to the treasury. One entry per address.
fn resolve_stack(deps: Deps, id: u64) -> StdResult<Vec<RoyaltyShare>> {
    let treasury = CONFIG.load(deps.storage)?.treasury;
    // Sorted by address; small (bounded by max_royalty_payees), so a Vec beats a map.
    let mut by_payee: Vec<RoyaltyShare> = Vec::new();
    for share in ROYALTY_STACK
        .may_load(deps.storage, id)?
        .unwrap_or_default()
    {
        let payee = match share.payee {
            Payee::Address(addr) => addr,
            Payee::Workflow(upstream) => match load(deps, upstream)? {
                w if w.flag.is_some() => treasury.clone(),
                w => w.creator,
            },
        };
        match by_payee.binary_search_by(|s| s.payee.cmp(&payee)) {
            Ok(i) => by_payee[i].bps += share.bps,
            Err(i) => by_payee.insert(
                i,
                RoyaltyShare {
                    payee,
                    bps: share.bps,
                },
            ),
        }
    }
    Ok(by_payee)
}

fn royalty_stack(deps: Deps, id: u64) -> StdResult<RoyaltyStackResponse> {
    let workflow = load(deps, id)?;
    Ok(RoyaltyStackResponse {
        id,
        upstream_bps: workflow.split.upstream,
        shares: resolve_stack(deps, id)?,
    })
}

fn run_terms(deps: Deps, id: u64) -> StdResult<RunTermsResponse> {
    let w = load(deps, id)?;
    Ok(RunTermsResponse {
        id,
        runnable: w.runnable(),
        royalty_stack: resolve_stack(deps, id)?,
        flag: w.flag,
        version: w.version,
        content_hash: w.content_hash,
        // An upheld copy dispute redirects the creator share to the original's creator.
        creator: match w.copy_of {
            Some(original) => load(deps, original)?.creator,
            None => w.creator,
        },
        price: w.price,
        split: w.split,
    })
}
