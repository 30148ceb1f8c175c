//! Every storage namespace of the registry, in one place.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, HexBinary, Timestamp, Uint128};
use cw_storage_plus::{IndexList, IndexedMap, Item, Map, MultiIndex};
use havn_types::{Asset, PoolShare, Split, StackShare};

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub asset: Asset,
    pub treasury: Addr,
}

/// Governance-set limits and defaults.
#[cw_serde]
pub struct Params {
    /// Split for workflows published without one.
    pub default_split: Split,
    /// Most dependencies one workflow may declare.
    pub max_dependencies: u32,
    /// How many levels deep royalties flow up the graph.
    pub max_royalty_depth: u8,
    /// Most payees in one royalty stack: bounds the gas of every payout.
    pub max_royalty_payees: u32,
    /// Paid on publish, to the treasury; 0 for none.
    pub publish_deposit: Uint128,
    /// Least upstream share a workflow with dependencies may give them.
    pub min_upstream_bps: u16,
    /// Least node, validator and treasury shares a workflow may set.
    #[serde(default)]
    pub share_floors: ShareFloors,
    /// How close a new workflow may come to an existing one it does not declare.
    #[serde(default)]
    pub derivatives: DerivativeRules,
}

/// What governance decides about copies (docs/workflow-registry.md, "Derivatives"): how similar
/// two fingerprints must be to count as copy and original, how the index finds candidates, what
/// an undeclared match does, and what a dispute costs. Applied from the next publish.
#[cw_serde]
#[derive(Copy)]
pub struct DerivativeRules {
    /// Similarity (bps) at or above which an undeclared existing workflow counts as the
    /// original of a new one; 0 turns detection off (and fingerprints optional).
    pub threshold_bps: u16,
    /// Slots per LSH band: 1, 2, 4, 8 or 16 (128 / rows bands). Fewer rows find less similar
    /// candidates and cost more bands per publish.
    pub band_rows: u8,
    /// Most workflows one band bucket keeps (the earliest to land there).
    pub bucket_cap: u32,
    /// Most candidates a publish compares, the ones sharing the most bands first.
    pub max_candidates: u32,
    pub on_match: OnMatch,
    /// What a claim that one workflow copies another bonds, and what its answer bonds.
    pub dispute_bond: Uint128,
    /// The loser's bond that goes to the winner (bps); the rest goes to the treasury.
    pub dispute_reward_bps: u16,
}

/// What an undeclared match does to a publish.
#[cw_serde]
#[derive(Copy)]
pub enum OnMatch {
    /// Refused, naming the match and its similarity.
    Refuse,
    /// Published as a derivative: the match becomes its parent and a dependency with this share
    /// of the upstream pool (the declared ones scale down to make room).
    Derive { weight_bps: u16 },
}

impl Default for DerivativeRules {
    /// 7 000 bps (`make bench-fingerprint`: every one-parameter copy, no unrelated workflow of the
    /// same shape), 32 bands of 4, buckets of 8, 32 candidates, refuse; disputes bond 100 $HAI and
    /// the winner takes half the loser's.
    fn default() -> Self {
        DerivativeRules {
            threshold_bps: 7_000,
            band_rows: 4,
            bucket_cap: 8,
            max_candidates: 32,
            on_match: OnMatch::Refuse,
            dispute_bond: Uint128::new(100_000_000),
            dispute_reward_bps: 5_000,
        }
    }
}

/// Least shares (bps) a workflow's split may give: a creator (with a node of its own) cannot
/// have GPUs or validators work for nothing.
#[cw_serde]
#[derive(Copy)]
pub struct ShareFloors {
    pub node: u16,
    /// The re-execution pot that pays the checks comes from this share (docs/verification.md).
    pub validator: u16,
    pub treasury: u16,
}

impl Default for ShareFloors {
    /// Node 15 %, validators the default split's own 5 %, treasury 2 %.
    fn default() -> Self {
        ShareFloors {
            node: 1_500,
            validator: 500,
            treasury: 200,
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            default_split: Split::DEFAULT,
            max_dependencies: 8,
            max_royalty_depth: 4,
            max_royalty_payees: 32,
            publish_deposit: Uint128::zero(),
            min_upstream_bps: 500,
            share_floors: ShareFloors::default(),
            derivatives: DerivativeRules::default(),
        }
    }
}

#[cw_serde]
pub enum ArtifactKind {
    Model,
    Lora,
    Prompt,
    Dataset,
}

impl ArtifactKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ArtifactKind::Model => "model",
            ArtifactKind::Lora => "lora",
            ArtifactKind::Prompt => "prompt",
            ArtifactKind::Dataset => "dataset",
        }
    }
}

/// An external asset, registered by its owner: manifests that use it must credit `payee`.
#[cw_serde]
pub struct RegisteredAsset {
    pub kind: ArtifactKind,
    pub content_hash: HexBinary,
    pub owner: Addr,
    pub payee: Addr,
    /// Registered at this height; binds versions published from then on.
    pub height: u64,
    /// Set by governance (a stolen asset, say): no longer enforced.
    pub flag: Option<Flag>,
}

#[cw_serde]
pub enum DependencyRef {
    Workflow {
        id: u64,
    },
    Artifact {
        kind: ArtifactKind,
        content_hash: HexBinary,
        payee: Addr,
    },
}

#[cw_serde]
pub struct Dependency {
    pub target: DependencyRef,
    pub weight_bps: u16,
}

#[cw_serde]
pub enum FlagReason {
    Spam,
    Stolen,
    Other,
}

impl FlagReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            FlagReason::Spam => "spam",
            FlagReason::Stolen => "stolen",
            FlagReason::Other => "other",
        }
    }
}

#[cw_serde]
pub struct Flag {
    pub reason: FlagReason,
    pub note: Option<String>,
    pub height: u64,
}

#[cw_serde]
pub struct Workflow {
    pub id: u64,
    pub name: String,
    /// The current owner; receives the creator share.
    pub creator: Addr,
    /// Offered the workflow, not yet accepted.
    pub pending_creator: Option<Addr>,
    pub price: Uint128,
    /// The split in force (a workflow without dependencies has its upstream share in `creator`).
    pub split: Split,
    /// Fixed at publish: a different set of dependencies is a different workflow.
    pub dependencies: Vec<Dependency>,
    pub parent: Option<u64>,
    /// The newest version (versions count from 1) and its manifest hash.
    pub version: u32,
    pub content_hash: HexBinary,
    pub flag: Option<Flag>,
    /// Set when governance upheld a dispute that this workflow copies that one: its creator
    /// share is paid to that workflow's creator from then on.
    #[serde(default)]
    pub copy_of: Option<u64>,
    pub created_height: u64,
    pub created_time: Timestamp,
}

impl Workflow {
    pub fn runnable(&self) -> bool {
        self.flag.is_none()
    }
}

#[cw_serde]
pub struct Version {
    pub version: u32,
    pub content_hash: HexBinary,
    pub height: u64,
    pub time: Timestamp,
    /// The artifact hashes (modules, LoRAs) its manifest uses, sorted: nodes and validators
    /// refuse a job whose manifest uses any other set.
    #[serde(default)]
    pub artifacts: Vec<HexBinary>,
}

pub const CONFIG: Item<Config> = Item::new("config");
pub const PARAMS: Item<Params> = Item::new("params");
pub const NEXT_ID: Item<u64> = Item::new("next_id");

pub struct WorkflowIndexes<'a> {
    pub creator: MultiIndex<'a, Addr, Workflow, u64>,
}

impl IndexList<Workflow> for WorkflowIndexes<'_> {
    fn get_indexes(
        &'_ self,
    ) -> Box<dyn Iterator<Item = &'_ dyn cw_storage_plus::Index<Workflow>> + '_> {
        let v: Vec<&dyn cw_storage_plus::Index<Workflow>> = vec![&self.creator];
        Box::new(v.into_iter())
    }
}

const WORKFLOWS_NAMESPACE: &str = "workflows";
const WORKFLOWS_BY_CREATOR_NAMESPACE: &str = "workflows__creator";

pub fn workflows<'a>() -> IndexedMap<u64, Workflow, WorkflowIndexes<'a>> {
    IndexedMap::new(
        WORKFLOWS_NAMESPACE,
        WorkflowIndexes {
            creator: MultiIndex::new(
                |_pk, w: &Workflow| w.creator.clone(),
                WORKFLOWS_NAMESPACE,
                WORKFLOWS_BY_CREATOR_NAMESPACE,
            ),
        },
    )
}

/// (workflow id, version) → version.
pub const VERSIONS: Map<(u64, u32), Version> = Map::new("versions");
/// Manifest hash → (workflow id, version): one manifest, one workflow.
pub const BY_HASH: Map<&[u8], (u64, u32)> = Map::new("by_hash");
/// A workflow's upstream pool as seen 1..=depth levels deep (see havn_types::royalty).
pub const UPSTREAM_LEVELS: Map<u64, Vec<Vec<PoolShare>>> = Map::new("upstream_levels");
/// The deepest level in bps of the fee: what payout reads.
pub const ROYALTY_STACK: Map<u64, Vec<StackShare>> = Map::new("royalty_stack");
/// (workflow id, version) → its fingerprint (`havn_types::fingerprint::encode`, 512 bytes).
pub const FINGERPRINTS: Map<(u64, u32), Vec<u8>> = Map::new("fingerprints");
/// (LSH band key, workflow id) → the version that landed in the bucket: the derivative index.
/// Band keys hash the band's position and slots, so layouts of other row counts never collide.
pub const BANDS: Map<(u64, u64), u32> = Map::new("bands");
/// Copy disputes by id, and the next id.
pub const DISPUTES: Map<u64, Dispute> = Map::new("disputes");
pub const NEXT_DISPUTE_ID: Item<u64> = Item::new("next_dispute_id");
/// Workflow id → its open dispute: one at a time per accused workflow.
pub const OPEN_DISPUTES: Map<u64, u64> = Map::new("open_disputes");

#[cw_serde]
#[derive(Copy)]
pub enum DisputeStatus {
    Open,
    /// Governance found a copy: the claimant won.
    Upheld,
    /// Governance found no copy: the accused won.
    Rejected,
}

/// A bonded claim that `copy` copies `original` without declaring it. The evidence is the two
/// manifests, named by the versions' content hashes recorded when it was opened.
#[cw_serde]
pub struct Dispute {
    pub id: u64,
    pub claimant: Addr,
    pub copy: u64,
    pub copy_version: u32,
    pub copy_hash: HexBinary,
    pub original: u64,
    pub original_version: u32,
    pub original_hash: HexBinary,
    /// The claimant's similarity figure or a pointer to more (≤ 256 characters).
    pub note: Option<String>,
    pub bond: Uint128,
    /// The accused workflow's creator, once they answer with a bond of their own.
    pub defender: Option<Addr>,
    pub defender_bond: Uint128,
    pub opened_height: u64,
    pub status: DisputeStatus,
}

/// Registered assets by content hash.
pub const ASSETS: Map<&[u8], RegisteredAsset> = Map::new("assets");
/// What a creator says about a workflow (absent: nothing said).
pub const METADATA: Map<u64, Metadata> = Map::new("metadata");

/// Bounds on [`Metadata`], so a workflow's record stays small in gas and storage.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 32;
pub const MAX_LICENSE_CHARS: usize = 64;
pub const MAX_LINKS: usize = 5;
pub const MAX_LINK_CHARS: usize = 200;

/// A workflow's description for people: set at publish or later by its creator, bounded.
#[cw_serde]
#[derive(Default)]
pub struct Metadata {
    /// Free text, at most 1000 characters.
    #[serde(default)]
    pub description: String,
    /// At most 10, each 1–32 of `a-z`, `0-9` and `-`, no repeats.
    #[serde(default)]
    pub tags: Vec<String>,
    /// An SPDX identifier or a short name, at most 64 printable characters.
    #[serde(default)]
    pub license: Option<String>,
    /// At most 5 `https://` or `ipfs://` links, each at most 200 characters.
    #[serde(default)]
    pub links: Vec<String>,
}

impl Metadata {
    pub fn is_empty(&self) -> bool {
        self == &Metadata::default()
    }

    /// Whether it is within the bounds; the reason names the field when not. The CLI checks a
    /// workflow file with this before sending anything.
    pub fn validate(&self) -> Result<(), String> {
        let chars = self.description.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(format!(
                "description: {chars} characters; the limit is {MAX_DESCRIPTION_CHARS}"
            ));
        }
        if self
            .description
            .chars()
            .any(|c| c.is_control() && c != '\n')
        {
            return Err("description: control characters other than newlines".into());
        }
        if self.tags.len() > MAX_TAGS {
            return Err(format!("{} tags; the limit is {MAX_TAGS}", self.tags.len()));
        }
        for (i, tag) in self.tags.iter().enumerate() {
            let ok = (1..=MAX_TAG_CHARS).contains(&tag.len())
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(format!("tag {tag:?}: 1-{MAX_TAG_CHARS} of a-z, 0-9 and -"));
            }
            if self.tags[..i].contains(tag) {
                return Err(format!("tag {tag:?} is listed twice"));
            }
        }
        if let Some(license) = &self.license {
            let ok = (1..=MAX_LICENSE_CHARS).contains(&license.chars().count())
                && license.chars().all(|c| !c.is_control())
                && license.trim() == license;
            if !ok {
                return Err(format!(
                    "license {license:?}: 1-{MAX_LICENSE_CHARS} printable characters, no surrounding spaces"
                ));
            }
        }
        if self.links.len() > MAX_LINKS {
            return Err(format!(
                "{} links; the limit is {MAX_LINKS}",
                self.links.len()
            ));
        }
        for link in &self.links {
            let scheme = link.starts_with("https://") || link.starts_with("ipfs://");
            let ok = scheme
                && link.len() <= MAX_LINK_CHARS
                && link.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(format!(
                    "link {link:?}: an https:// or ipfs:// address of at most {MAX_LINK_CHARS} characters, no spaces"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two namespaces with one name would silently share storage.
    #[test]
    fn namespaces_are_unique() {
        // Consts are fresh temporaries on each use, so own the bytes.
        let names: Vec<Vec<u8>> = vec![
            CONFIG.as_slice().to_vec(),
            PARAMS.as_slice().to_vec(),
            NEXT_ID.as_slice().to_vec(),
            WORKFLOWS_NAMESPACE.as_bytes().to_vec(),
            WORKFLOWS_BY_CREATOR_NAMESPACE.as_bytes().to_vec(),
            VERSIONS.namespace_bytes().to_vec(),
            BY_HASH.namespace_bytes().to_vec(),
            UPSTREAM_LEVELS.namespace_bytes().to_vec(),
            ROYALTY_STACK.namespace_bytes().to_vec(),
            ASSETS.namespace_bytes().to_vec(),
            METADATA.namespace_bytes().to_vec(),
            FINGERPRINTS.namespace_bytes().to_vec(),
            BANDS.namespace_bytes().to_vec(),
            DISPUTES.namespace_bytes().to_vec(),
            NEXT_DISPUTE_ID.as_slice().to_vec(),
            OPEN_DISPUTES.namespace_bytes().to_vec(),
        ];
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
