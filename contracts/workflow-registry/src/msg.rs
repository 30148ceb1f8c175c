use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, HexBinary, Uint128};
use cw20::Cw20ReceiveMsg;
use havn_types::{Asset, AssetUnchecked, Split};

pub use crate::state::{
    ArtifactKind, Dependency, DependencyRef, DerivativeRules, Dispute, DisputeStatus, Flag,
    FlagReason, Metadata, OnMatch, Params, RegisteredAsset, Version, Workflow,
};

#[cw_serde]
pub struct InstantiateMsg {
    /// Governance: flags workflows and sets params. Any address works: the Havn governance
    /// contract, a cw3 multisig, a DAO DAO DAO.
    pub admin: String,
    /// $HAI for this deployment (a cw20 token or a bank denom): prices and deposits are in it.
    pub asset: AssetUnchecked,
    /// Receives publish deposits and the royalties of flagged upstream workflows.
    pub treasury: String,
    /// Omitted: the governance defaults.
    pub params: Option<Params>,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Publish a new workflow; the contract assigns its id (returned as the response data).
    /// Attach the publish deposit, if the params set one, as native funds.
    Publish(PublishMsg),
    /// Publish paying the deposit in a cw20 $HAI: the token's `Send` with `ReceiveMsg` inside.
    Receive(Cw20ReceiveMsg),
    /// Creator only: add a version (a new manifest content hash and the artifact hashes it uses,
    /// which the workflow's dependencies must credit where registered); earlier versions stay
    /// listed.
    NewVersion {
        id: u64,
        content_hash: String,
        #[serde(default)]
        artifacts: Vec<String>,
        /// The manifest's fingerprint, as for `Publish`: a version as close as the threshold to
        /// a workflow the dependencies do not declare is refused.
        #[serde(default)]
        fingerprint: Option<HexBinary>,
    },
    /// Anyone: register an external asset (a model, LoRA, prompt or dataset) by its content hash,
    /// owned by the sender and paid to `payee` (default: the sender). One hash, one owner. Every
    /// version published after it whose manifest uses it must credit it.
    RegisterAsset {
        kind: ArtifactKind,
        content_hash: String,
        payee: Option<String>,
    },
    /// Admin only: stop enforcing a registration (a stolen asset).
    FlagAsset {
        content_hash: String,
        reason: FlagReason,
        note: Option<String>,
    },
    /// Admin only: enforce a flagged registration again.
    UnflagAsset { content_hash: String },
    /// Creator only: set the price per run.
    UpdatePrice { id: u64, price: Uint128 },
    /// Creator only: replace the workflow's metadata (an empty one clears it).
    SetMetadata { id: u64, metadata: Metadata },
    /// Creator only: offer the workflow to a new creator, who must accept.
    TransferOwnership { id: u64, new_creator: String },
    /// The offered new creator takes the workflow, and from then on its creator share.
    AcceptOwnership { id: u64 },
    /// Creator only: withdraw a pending offer.
    CancelOwnershipTransfer { id: u64 },
    /// Admin only: mark a workflow as not runnable.
    Flag {
        id: u64,
        reason: FlagReason,
        note: Option<String>,
    },
    /// Admin only: make a flagged workflow runnable again.
    Unflag { id: u64 },
    /// Admin only: change some params; omitted fields keep their value.
    UpdateParams(ParamsUpdate),
    /// Admin only: the least node, validator and treasury shares a workflow's split may give
    /// (governance sends it as an `ExecuteContract` action; the default split must meet them).
    UpdateShareFloors(crate::state::ShareFloors),
    /// Anyone: bond `dispute_bond` (native funds, or through the cw20's `Send`) on a claim that
    /// workflow `copy` copies the older workflow `original` without declaring it. Governance
    /// decides; the evidence is the two versions' manifests, recorded now by their hashes.
    OpenDispute {
        copy: u64,
        original: u64,
        note: Option<String>,
    },
    /// The accused workflow's creator: answer a dispute with an equal bond (native or cw20).
    DefendDispute { id: u64 },
    /// Admin only: decide a dispute. Upheld: the copy's creator share goes to the original's
    /// creator from then on. Either way the winner gets its bond and the reward share of the
    /// loser's, the treasury the rest.
    ResolveDispute { id: u64, upheld: bool },
    /// Anyone: add fingerprinted versions to the index under the current band layout (after
    /// governance changes `band_rows`), after `start_after`, at most `limit` (default and most 50).
    Reindex {
        start_after: Option<(u64, u32)>,
        limit: Option<u32>,
    },
    /// Admin only: the derivative rules, whole (threshold, LSH bands, what a match does, dispute
    /// bonds), read from the next publish. Governance sends it as an `ExecuteContract` action (a
    /// typed action would push governance's wasm past the VM's 100 locals per function).
    UpdateDerivativeRules(DerivativeRules),
    /// Admin only: hand governance to another address or move the treasury.
    UpdateConfig {
        admin: Option<String>,
        treasury: Option<String>,
    },
}

/// Messages carried inside a cw20 `Send`.
#[cw_serde]
// Deserialized once per call: boxing the publish would only change its JSON-facing type.
#[allow(clippy::large_enum_variant)]
pub enum ReceiveMsg {
    Publish(PublishMsg),
    OpenDispute {
        copy: u64,
        original: u64,
        note: Option<String>,
    },
    DefendDispute {
        id: u64,
    },
}

#[cw_serde]
pub struct PublishMsg {
    /// 1–64 printable characters.
    pub name: String,
    /// SHA-256 of the canonical manifest, 64 hex digits.
    pub content_hash: String,
    /// Price per run, in the deployment's asset.
    pub price: Uint128,
    /// Royalty split in bps, summing to 10000. Omitted: the governance default. A workflow with no
    /// dependencies has no upstream to pay, so its upstream share goes to its creator.
    pub split: Option<Split>,
    /// What this workflow builds on, each with a weight in bps (weights sum to 10000).
    #[serde(default)]
    pub dependencies: Vec<DependencyMsg>,
    /// For a declared derivative: the workflow it derives from. It must be one of the dependencies.
    pub parent: Option<u64>,
    /// The artifact hashes (64 hex digits: modules, LoRAs) the manifest uses, at most 64: every
    /// registered asset among them must be credited (declared to its payee, or used by a
    /// workflow dependency); nodes refuse jobs whose manifest uses another set.
    #[serde(default)]
    pub artifacts: Vec<String>,
    /// Description, tags, license and links (bounded); omitted: none.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// The manifest's fingerprint (`havn_workflow::fingerprint`, 512 bytes as hex); required
    /// while derivative detection is on. Nodes and validators recompute it and refuse jobs of a
    /// version whose recorded fingerprint is false.
    #[serde(default)]
    pub fingerprint: Option<HexBinary>,
}

#[cw_serde]
pub struct DependencyMsg {
    pub target: DependencyTarget,
    /// This dependency's share of the upstream pool, in bps.
    pub weight_bps: u16,
}

#[cw_serde]
pub enum DependencyTarget {
    /// Another registered workflow; its own royalties flow on from it.
    Workflow { id: u64 },
    /// An external artifact, paid to `payee`.
    Artifact {
        kind: ArtifactKind,
        content_hash: String,
        payee: String,
    },
}

/// Params to change; every omitted field keeps its value.
#[cw_serde]
#[derive(Default)]
pub struct ParamsUpdate {
    pub default_split: Option<Split>,
    pub max_dependencies: Option<u32>,
    pub max_royalty_depth: Option<u8>,
    pub max_royalty_payees: Option<u32>,
    pub publish_deposit: Option<Uint128>,
    pub min_upstream_bps: Option<u16>,
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(Params)]
    Params {},
    #[returns(Workflow)]
    Workflow { id: u64 },
    /// Which workflow and version a manifest hash belongs to.
    #[returns(HashOwnerResponse)]
    WorkflowByHash { content_hash: String },
    /// All workflows by id, paginated (default 10, at most 30).
    #[returns(WorkflowsResponse)]
    Workflows {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// One creator's workflows by id, paginated (default 10, at most 30).
    #[returns(WorkflowsResponse)]
    WorkflowsByCreator {
        creator: String,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// A workflow's versions, oldest first, paginated (default 10, at most 30).
    #[returns(VersionsResponse)]
    Versions {
        id: u64,
        start_after: Option<u32>,
        limit: Option<u32>,
    },
    /// The workflows this one builds on, breadth first, up to `depth` levels (default and most: 8),
    /// at most 30 of them.
    #[returns(LineageResponse)]
    Lineage { id: u64, depth: Option<u8> },
    /// Who the upstream pool pays, resolved to addresses now.
    #[returns(RoyaltyStackResponse)]
    RoyaltyStack { id: u64 },
    /// Everything needed to price and settle a run in one query: whether it is runnable, the
    /// version, price, split and resolved royalty stack.
    #[returns(RunTermsResponse)]
    RunTerms { id: u64 },
    /// A registered asset by content hash.
    #[returns(RegisteredAsset)]
    Asset { content_hash: String },
    /// Registered assets by content hash, paginated (default 10, at most 30).
    #[returns(AssetsResponse)]
    Assets {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// What the creator says about the workflow (empty when nothing).
    #[returns(MetadataResponse)]
    Metadata { id: u64 },
    /// A version's recorded fingerprint (omitted version: the newest).
    #[returns(FingerprintResponse)]
    Fingerprint { id: u64, version: Option<u32> },
    /// The indexed workflows closest to a workflow or to a fingerprint, most similar first (the
    /// same bounded lookup a publish makes; default 10, at most 30).
    #[returns(SimilarResponse)]
    Similar { to: SimilarTo, limit: Option<u32> },
    #[returns(Dispute)]
    Dispute { id: u64 },
    /// Disputes by id, paginated (default 10, at most 30).
    #[returns(DisputesResponse)]
    Disputes {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
}

#[cw_serde]
pub enum SimilarTo {
    /// A workflow's newest version (itself left out).
    Workflow { id: u64 },
    /// A fingerprint not published yet (what `havn publish` shows before sending).
    Fingerprint { fingerprint: HexBinary },
}

#[cw_serde]
pub struct FingerprintResponse {
    pub id: u64,
    pub version: u32,
    /// Absent for versions published while detection was off without one.
    pub fingerprint: Option<HexBinary>,
}

#[cw_serde]
pub struct SimilarMatch {
    pub id: u64,
    pub version: u32,
    pub name: String,
    pub creator: Addr,
    pub similarity_bps: u16,
    /// At or above governance's threshold: a publish not declaring it would be caught.
    pub over_threshold: bool,
}

#[cw_serde]
pub struct SimilarResponse {
    pub threshold_bps: u16,
    pub matches: Vec<SimilarMatch>,
}

#[cw_serde]
pub struct DisputesResponse {
    pub disputes: Vec<Dispute>,
}

#[cw_serde]
pub struct MetadataResponse {
    pub id: u64,
    pub metadata: Metadata,
}

#[cw_serde]
pub struct ConfigResponse {
    pub admin: Addr,
    pub asset: Asset,
    pub treasury: Addr,
    pub next_id: u64,
}

#[cw_serde]
pub struct PublishResponse {
    pub id: u64,
}

#[cw_serde]
pub struct HashOwnerResponse {
    pub id: u64,
    pub version: u32,
    /// The artifact hashes the version's manifest uses, as published.
    pub artifacts: Vec<HexBinary>,
    /// The version's recorded fingerprint: nodes and validators refuse a manifest whose own
    /// differs.
    #[serde(default)]
    pub fingerprint: Option<HexBinary>,
}

#[cw_serde]
pub struct AssetsResponse {
    pub assets: Vec<RegisteredAsset>,
}

#[cw_serde]
pub struct WorkflowsResponse {
    pub workflows: Vec<Workflow>,
}

#[cw_serde]
pub struct VersionsResponse {
    pub versions: Vec<Version>,
}

#[cw_serde]
pub struct Ancestor {
    pub id: u64,
    pub name: String,
    pub creator: Addr,
    /// Fewest dependency hops from the queried workflow (1 = a direct dependency).
    pub depth: u8,
    /// The workflow this one declared as its parent, if it is a declared derivative.
    pub parent: Option<u64>,
    pub flagged: bool,
}

#[cw_serde]
pub struct LineageResponse {
    pub id: u64,
    pub ancestors: Vec<Ancestor>,
    /// External artifacts the workflow itself depends on.
    pub artifacts: Vec<Dependency>,
    /// True if more ancestors exist than were returned.
    pub truncated: bool,
}

#[cw_serde]
pub struct RoyaltyShare {
    pub payee: Addr,
    /// Share of each run's fee, in bps.
    pub bps: u16,
}

#[cw_serde]
pub struct RoyaltyStackResponse {
    pub id: u64,
    /// The split's upstream share; the shares below add up to it exactly.
    pub upstream_bps: u16,
    /// One entry per address, sorted by address.
    pub shares: Vec<RoyaltyShare>,
}

#[cw_serde]
pub struct RunTermsResponse {
    pub id: u64,
    pub runnable: bool,
    pub flag: Option<Flag>,
    pub version: u32,
    pub content_hash: HexBinary,
    pub creator: Addr,
    pub price: Uint128,
    pub split: Split,
    pub royalty_stack: Vec<RoyaltyShare>,
}
