//! Undeclared derivatives: every version's fingerprint (a MinHash signature of its manifest,
//! `havn_types::fingerprint`) goes into an LSH index; a publish looks up a bounded number of
//! candidates in it and compares against each. A match at or above governance's threshold that
//! the new workflow does not declare (as a dependency, or an ancestor of one) is refused, or
//! published as a derivative of it, as the rules say. The registry cannot read manifests, so
//! nodes and validators recompute each fingerprint and refuse a false one, and anyone may bond a
//! dispute (`disputes.rs`).

use std::collections::BTreeMap;

use cosmwasm_std::{Deps, HexBinary, Order, StdResult, Storage};
use havn_types::fingerprint::{band_keys, decode, similarity, Signature, SLOTS};

use crate::error::ContractError;
use crate::msg::{DependencyMsg, DependencyTarget, PublishMsg, SimilarMatch};
use crate::state::{workflows, DependencyRef, DerivativeRules, OnMatch, BANDS, FINGERPRINTS};

/// Hard ceilings on the index params: one publish reads at most 128 buckets of 64 and 64
/// fingerprints, whatever governance sets.
pub const MAX_BUCKET_CAP: u32 = 64;
pub const MAX_CANDIDATES_LIMIT: u32 = 64;
/// Ancestors followed to find what a workflow declares (as the lineage query).
const MAX_ANCESTORS: usize = 64;
const MAX_ANCESTOR_DEPTH: u8 = 8;

// Never inlined: governance calls it too, and inlined into its action check the function would
// pass the VM's limit of 100 locals.
#[inline(never)]
pub fn validate_rules(r: &DerivativeRules) -> Result<(), String> {
    if r.threshold_bps > 10_000 {
        return Err(format!(
            "threshold_bps must be at most 10000, got {}",
            r.threshold_bps
        ));
    }
    if !matches!(r.band_rows, 1 | 2 | 4 | 8 | 16) {
        return Err(format!(
            "band_rows must be 1, 2, 4, 8 or 16, got {}",
            r.band_rows
        ));
    }
    if !(1..=MAX_BUCKET_CAP).contains(&r.bucket_cap) {
        return Err(format!(
            "bucket_cap must be 1..={MAX_BUCKET_CAP}, got {}",
            r.bucket_cap
        ));
    }
    if !(1..=MAX_CANDIDATES_LIMIT).contains(&r.max_candidates) {
        return Err(format!(
            "max_candidates must be 1..={MAX_CANDIDATES_LIMIT}, got {}",
            r.max_candidates
        ));
    }
    if let OnMatch::Derive { weight_bps } = r.on_match {
        if !(1..=10_000).contains(&weight_bps) {
            return Err(format!(
                "a derivative's weight must be 1..=10000 bps, got {weight_bps}"
            ));
        }
    }
    if r.dispute_bond.is_zero() {
        return Err("dispute_bond must be above 0: an unbonded claim costs nothing to spam".into());
    }
    if r.dispute_reward_bps > 10_000 {
        return Err(format!(
            "dispute_reward_bps must be at most 10000, got {}",
            r.dispute_reward_bps
        ));
    }
    Ok(())
}

/// A fingerprint as sent: 512 bytes. Required while detection is on: without one a copy would
/// simply not be compared.
pub fn parse(
    rules: &DerivativeRules,
    fingerprint: Option<&HexBinary>,
) -> Result<Option<Signature>, ContractError> {
    match fingerprint {
        Some(bytes) => decode(bytes)
            .map(Some)
            .ok_or(ContractError::InvalidFingerprint {
                len: bytes.len(),
                expected: SLOTS * 4,
            }),
        None if rules.threshold_bps == 0 => Ok(None),
        None => Err(ContractError::FingerprintRequired),
    }
}

/// The most similar indexed versions to `sig`, most similar first (ties: lower id), leaving out
/// `exclude`. Reads the signature's `128 / band_rows` buckets (each at most `bucket_cap` long) and
/// then the fingerprints of at most `max_candidates` of the workflows found, those sharing the
/// most bands first: bounded, whatever the registry's size.
pub fn candidates(
    storage: &dyn Storage,
    rules: &DerivativeRules,
    sig: &[u32],
    exclude: Option<u64>,
) -> StdResult<Vec<(u64, u32, u16)>> {
    // id → (bands shared, the version found)
    let mut found: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    for key in band_keys(sig, rules.band_rows as usize) {
        for entry in BANDS
            .prefix(key)
            .range(storage, None, None, Order::Ascending)
            .take(rules.bucket_cap as usize)
        {
            let (id, version) = entry?;
            if Some(id) != exclude {
                let e = found.entry(id).or_insert((0, version));
                e.0 += 1;
            }
        }
    }
    let mut ranked: Vec<(u64, (u32, u32))> = found.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    ranked.truncate(rules.max_candidates as usize);
    let mut out = Vec::with_capacity(ranked.len());
    for (id, (_, version)) in ranked {
        if let Some(bytes) = FINGERPRINTS.may_load(storage, (id, version))? {
            out.push((
                id,
                version,
                similarity(sig, &decode(&bytes).unwrap_or_default()),
            ));
        }
    }
    out.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// Stores a version's fingerprint and adds it to each of its buckets that has room (the earliest
/// workflows keep their place: a later flood cannot push an original out).
pub fn index(
    storage: &mut dyn Storage,
    rules: &DerivativeRules,
    id: u64,
    version: u32,
    sig: &[u32],
) -> StdResult<()> {
    FINGERPRINTS.save(
        storage,
        (id, version),
        &havn_types::fingerprint::encode(sig),
    )?;
    for key in band_keys(sig, rules.band_rows as usize) {
        let mut room = rules.bucket_cap as usize;
        let mut present = false;
        for entry in BANDS
            .prefix(key)
            .keys(storage, None, None, Order::Ascending)
            .take(rules.bucket_cap as usize)
        {
            present |= entry? == id;
            room -= 1;
        }
        if present || room > 0 {
            BANDS.save(storage, (key, id), &version)?;
        }
    }
    Ok(())
}

/// The workflow ids among a stored workflow's dependencies.
pub(crate) fn workflow_ids(dependencies: &[crate::state::Dependency]) -> Vec<u64> {
    dependencies
        .iter()
        .filter_map(|d| match d.target {
            DependencyRef::Workflow { id } => Some(id),
            DependencyRef::Artifact { .. } => None,
        })
        .collect()
}

/// The workflows `deps` names and all their ancestors (bounded like the lineage query): what a
/// new workflow declares it builds on.
pub(crate) fn declared(deps: Deps, direct: &[u64]) -> StdResult<Vec<u64>> {
    let mut seen: Vec<u64> = direct.to_vec();
    let mut frontier = direct.to_vec();
    for _ in 1..MAX_ANCESTOR_DEPTH {
        let mut next = vec![];
        for id in frontier {
            let Some(w) = workflows().may_load(deps.storage, id)? else {
                continue;
            };
            for d in w.dependencies {
                if let DependencyRef::Workflow { id } = d.target {
                    if !seen.contains(&id) && seen.len() < MAX_ANCESTORS {
                        seen.push(id);
                        next.push(id);
                    }
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(seen)
}

/// The closest undeclared match at or above the threshold, if any. `own` is the workflow's own
/// id (a new version may resemble its earlier ones).
pub fn undeclared_match(
    deps: Deps,
    rules: &DerivativeRules,
    sig: &[u32],
    own: Option<u64>,
    declared_deps: &[u64],
) -> StdResult<Option<(u64, u32, u16)>> {
    if rules.threshold_bps == 0 {
        return Ok(None);
    }
    let over: Vec<_> = candidates(deps.storage, rules, sig, own)?
        .into_iter()
        .filter(|c| c.2 >= rules.threshold_bps)
        .collect();
    if over.is_empty() {
        return Ok(None);
    }
    let declared = declared(deps, declared_deps)?;
    Ok(over.into_iter().find(|c| !declared.contains(&c.0)))
}

/// What a publish becomes under the rules: unchanged without an undeclared match; refused with
/// one under `Refuse`; under `Derive`, the match added as parent and dependency, the declared
/// weights scaled down to make room and the upstream share raised to the floor from the creator's.
pub fn screen(
    deps: Deps,
    rules: &DerivativeRules,
    min_upstream_bps: u16,
    default_split: havn_types::Split,
    sig: Option<&Signature>,
    mut msg: PublishMsg,
) -> Result<(PublishMsg, Option<(u64, u16)>), ContractError> {
    let Some(sig) = sig else {
        return Ok((msg, None));
    };
    let direct: Vec<u64> = msg
        .dependencies
        .iter()
        .filter_map(|d| match d.target {
            DependencyTarget::Workflow { id } => Some(id),
            DependencyTarget::Artifact { .. } => None,
        })
        .collect();
    let Some((candidate, version, similarity_bps)) =
        undeclared_match(deps, rules, sig, None, &direct)?
    else {
        return Ok((msg, None));
    };
    let OnMatch::Derive { weight_bps } = rules.on_match else {
        return Err(ContractError::UndeclaredDerivative {
            candidate,
            version,
            similarity_bps,
            threshold_bps: rules.threshold_bps,
        });
    };
    let weight = match msg.dependencies.is_empty() {
        true => 10_000,
        false => {
            let keep = 10_000 - u32::from(weight_bps);
            for d in &mut msg.dependencies {
                d.weight_bps = (u32::from(d.weight_bps) * keep / 10_000) as u16;
            }
            10_000 - msg.dependencies.iter().map(|d| d.weight_bps).sum::<u16>()
        }
    };
    msg.dependencies.push(DependencyMsg {
        target: DependencyTarget::Workflow { id: candidate },
        weight_bps: weight,
    });
    msg.parent = msg.parent.or(Some(candidate));
    let mut split = msg.split.unwrap_or(default_split);
    if split.upstream < min_upstream_bps {
        let lift = (min_upstream_bps - split.upstream).min(split.creator);
        split.creator -= lift;
        split.upstream += lift;
    }
    msg.split = Some(split);
    Ok((msg, Some((candidate, similarity_bps))))
}

/// The `Similar` query: indexed workflows closest to `sig`, at most `limit`, with names.
pub fn similar(
    deps: Deps,
    rules: &DerivativeRules,
    sig: &[u32],
    exclude: Option<u64>,
    limit: usize,
) -> StdResult<Vec<SimilarMatch>> {
    let mut out = vec![];
    for (id, version, similarity_bps) in candidates(deps.storage, rules, sig, exclude)?
        .into_iter()
        .take(limit)
    {
        let w = workflows().load(deps.storage, id)?;
        out.push(SimilarMatch {
            id,
            version,
            name: w.name,
            creator: w.creator,
            similarity_bps,
            over_threshold: rules.threshold_bps > 0 && similarity_bps >= rules.threshold_bps,
        });
    }
    Ok(out)
}

/// Most versions one `Reindex` call adds.
pub const MAX_REINDEX: u32 = 50;

/// Anyone: adds already-fingerprinted versions to the index under the current band layout (after
/// governance changed `band_rows`, the earlier versions sit in buckets of the old one), in
/// (id, version) order after `start_after`, at most `limit` (≤ 50). Returns the last one done.
pub fn reindex(
    storage: &mut dyn Storage,
    rules: &DerivativeRules,
    start_after: Option<(u64, u32)>,
    limit: u32,
) -> StdResult<Option<(u64, u32)>> {
    let start = start_after.map(cw_storage_plus::Bound::exclusive);
    let batch: Vec<((u64, u32), Vec<u8>)> = FINGERPRINTS
        .range(storage, start, None, Order::Ascending)
        .take(limit.clamp(1, MAX_REINDEX) as usize)
        .collect::<StdResult<_>>()?;
    let last = batch.last().map(|(k, _)| *k);
    for ((id, version), bytes) in batch {
        if let Some(sig) = decode(&bytes) {
            index(storage, rules, id, version, &sig)?;
        }
    }
    Ok(last)
}
