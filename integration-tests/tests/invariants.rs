//! Random sequences of everything users do (publish, request, record, challenge, vote in a
//! dispute, finalize, refund, claim, bond, unbond, report, propose, vote, execute) against the
//! wired deployment. After every step, valid
//! or refused, money is conserved: total $HAI only changes by burned veto deposits, every $HAI
//! is held by a known account or contract, and each contract holds exactly what it owes.
//!
//! `HAVN_INVARIANT_CASES` sets the number of sequences (default 128), `HAVN_INVARIANT_SEED` the
//! seed they are drawn from (default 0).

use cosmwasm_std::{Addr, Decimal, Uint128};
use cw_multi_test::Executor;
use havn_governance::msg::{Action, QueryMsg as GovQuery, TreasuryResponse, VoteOption};
use havn_integration_tests::REEXECUTED;
use havn_integration_tests::{hash, Suite, SuiteBuilder, ACCOUNTS, HAI, VALIDATORS};
use havn_staking::msg::ExecuteMsg as StakingMsg;
use havn_staking::state::Role;
use havn_types::sampling::seed_commitment;
use havn_types::{Check, Verdict};
use havn_workflow_registry::msg::{DependencyMsg, DependencyTarget, PublishMsg};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

const CREATORS: &[&str] = &["creator", "upstream-a", "upstream-b"];

/// Validator `v`'s sample seed for `epoch`.
fn seed(v: usize, epoch: u64) -> [u8; 32] {
    havn_types::sampling::epoch_secret(&[v as u8 + 1; 32], epoch)
}
const CALLERS: &[&str] = &["caller", "holder"];
const OPERATORS: &[&str] = &[
    "validator-0",
    "validator-1",
    "validator-2",
    "validator-3",
    "validator-4",
    "node",
    "node-2",
    "holder",
];

#[derive(Debug, Clone)]
enum Op {
    Publish {
        creator: usize,
        price: u64,
        dep: Option<usize>,
    },
    Request {
        caller: usize,
        workflow: usize,
        extra: u64,
    },
    Record {
        job: usize,
        signers: u8,
        valid: bool,
        other_node: bool,
        /// The lowest signer says the opposite, after re-executing.
        dissent: bool,
    },
    /// A validator posts a re-executed Invalid against the node's result itself.
    Challenge {
        job: usize,
        validator: usize,
    },
    /// Validators vote directly, after re-executing (settles disputes): one, or every one.
    ReexecutedVote {
        job: usize,
        validator: Option<usize>,
        valid: bool,
    },
    /// Finalizes the newest jobs, sometimes after waiting out the challenge window (1) or an
    /// arbitration's timeout (2).
    Finalize {
        job: usize,
        wait: u8,
    },
    /// Governance (the log's admin) decides a job, which only counts in arbitration.
    Arbitrate {
        job: usize,
        valid: bool,
    },
    AdvanceBlocks {
        blocks: u64,
    },
    Refund {
        job: usize,
    },
    Claim {
        who: usize,
    },
    ReleaseTreasury,
    Bond {
        who: usize,
        validator: bool,
        amount: u64,
    },
    Unbond {
        who: usize,
        validator: bool,
        amount: u64,
    },
    ClaimUnbonded {
        who: usize,
    },
    ReportDowntime {
        who: usize,
    },
    Propose {
        kind: u8,
        target: usize,
        amount: u64,
    },
    Vote {
        proposal: usize,
        voter: usize,
        option: u8,
    },
    /// Every validator votes the same way.
    VoteAll {
        proposal: usize,
        option: u8,
    },
    Finish {
        proposal: usize,
    },
    /// Every operator sends its liveness heartbeat.
    Heartbeats,
    /// Validators commit their sample seed for the next epoch and reveal the last two
    /// epochs' (all of them, or one that then hides its seeds).
    Seeds {
        only: Option<usize>,
    },
    /// A validator claims the pot's reward for a recent job; anyone reports it lazy, or its
    /// seed of two epochs ago unrevealed.
    ClaimPot {
        job: usize,
        validator: usize,
    },
    ReportLazy {
        job: usize,
        validator: usize,
    },
    ReportUnrevealed {
        validator: usize,
    },
    Advance {
        seconds: u64,
    },
    /// A node commits its audit tree for the next epoch, which starts (then results of the other
    /// node in that epoch are refused).
    CommitAudit {
        node: usize,
    },
    /// A recent job's node proves it audit or not, with the leaf and path of its tree.
    ProveAudit {
        job: usize,
    },
}

const NODES: [&str; 2] = ["node", "node-2"];

/// Node `n`'s audit tree for `epoch`, built once per test process (65 536 leaves each).
fn audit_tree(n: usize, epoch: u64) -> std::sync::Arc<havn_types::audit::AuditTree> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Trees = Mutex<HashMap<(usize, u64), Arc<havn_types::audit::AuditTree>>>;
    static TREES: OnceLock<Trees> = OnceLock::new();
    let trees = TREES.get_or_init(Default::default);
    let mut trees = trees.lock().expect("trees");
    trees
        .entry((n, epoch))
        .or_insert_with(|| {
            let secret = havn_types::sampling::epoch_secret(&[0x40 + n as u8; 32], epoch);
            Arc::new(havn_types::audit::AuditTree::new(&secret))
        })
        .clone()
}

fn op() -> impl Strategy<Value = Op> {
    let idx = 0usize..64;
    prop_oneof![
        2 => (0..CREATORS.len(), 0u64..200, proptest::option::of(idx.clone()))
            .prop_map(|(creator, price, dep)| Op::Publish { creator, price, dep }),
        4 => (0..CALLERS.len(), idx.clone(), 0u64..50)
            .prop_map(|(caller, workflow, extra)| Op::Request { caller, workflow, extra }),
        // Mostly all five sign; sometimes a random subset (often short of a quorum).
        6 => (0usize..4, prop_oneof![3 => Just(0x1fu8), 1 => any::<u8>()], proptest::bool::weighted(0.8), proptest::bool::weighted(0.2), proptest::bool::weighted(0.15))
            .prop_map(|(job, signers, valid, other_node, dissent)| Op::Record { job, signers, valid, other_node, dissent }),
        2 => (0usize..4, 0..VALIDATORS).prop_map(|(job, validator)| Op::Challenge { job, validator }),
        3 => (0usize..4, proptest::option::weighted(0.5, 0..VALIDATORS), proptest::bool::weighted(0.5))
            .prop_map(|(job, validator, valid)| Op::ReexecutedVote { job, validator, valid }),
        4 => (0usize..6, prop_oneof![2 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)])
            .prop_map(|(job, wait)| Op::Finalize { job, wait }),
        3 => prop_oneof![1 => 0u64..20, 2 => Just(150u64), 1 => Just(600u64), 2 => Just(100_800u64)]
            .prop_map(|blocks| Op::AdvanceBlocks { blocks }),
        2 => (0usize..6, any::<bool>()).prop_map(|(job, valid)| Op::Arbitrate { job, valid }),
        1 => idx.clone().prop_map(|job| Op::Refund { job }),
        3 => idx.clone().prop_map(|who| Op::Claim { who }),
        1 => Just(Op::ReleaseTreasury),
        2 => (0..OPERATORS.len(), any::<bool>(), 1u64..3_000)
            .prop_map(|(who, validator, amount)| Op::Bond { who, validator, amount }),
        1 => (0..OPERATORS.len(), any::<bool>(), 1u64..1_500)
            .prop_map(|(who, validator, amount)| Op::Unbond { who, validator, amount }),
        1 => (0..OPERATORS.len()).prop_map(|who| Op::ClaimUnbonded { who }),
        1 => (0..OPERATORS.len()).prop_map(|who| Op::ReportDowntime { who }),
        1 => (0u8..3, 0..OPERATORS.len(), 1u64..500)
            .prop_map(|(kind, target, amount)| Op::Propose { kind, target, amount }),
        // Votes and finishes go mostly to the newest proposals.
        3 => (0usize..3, 0..OPERATORS.len(), 0u8..4)
            .prop_map(|(proposal, voter, option)| Op::Vote { proposal, voter, option }),
        2 => (0usize..3, prop_oneof![3 => Just(0u8), 1 => 0u8..4])
            .prop_map(|(proposal, option)| Op::VoteAll { proposal, option }),
        2 => (0usize..3).prop_map(|proposal| Op::Finish { proposal }),
        2 => Just(Op::Heartbeats),
        2 => proptest::option::weighted(0.2, 0..VALIDATORS).prop_map(|only| Op::Seeds { only }),
        2 => (0usize..6, 0..VALIDATORS).prop_map(|(job, validator)| Op::ClaimPot { job, validator }),
        1 => (0usize..6, 0..VALIDATORS).prop_map(|(job, validator)| Op::ReportLazy { job, validator }),
        1 => (0..VALIDATORS).prop_map(|validator| Op::ReportUnrevealed { validator }),
        2 => prop_oneof![0u64..600, 3_000u64..5_000, Just(3 * 24 * 3600), Just(15 * 24 * 3600)]
            .prop_map(|seconds| Op::Advance { seconds }),
        1 => (0..NODES.len()).prop_map(|node| Op::CommitAudit { node }),
        3 => (0usize..6).prop_map(|job| Op::ProveAudit { job }),
    ]
}

/// What the sequence has created so far.
#[derive(Default)]
struct World {
    workflows: Vec<(u64, u128)>,
    jobs: Vec<(u64, &'static str)>,
    proposals: Vec<u64>,
    /// (validator, epoch) seeds committed and kept hidden.
    hidden: Vec<(usize, u64)>,
    burned: u128,
    /// Steps that went through, by kind: shows the sequences exercise more than refusals.
    done: std::collections::BTreeMap<&'static str, usize>,
}

/// (job, outcome) from the attribute `key` of the log's own (wasm) event.
fn attributes(res: &cw_multi_test::AppResponse, key: &str, job: u64) -> Vec<(u64, String)> {
    res.events
        .iter()
        .filter(|e| e.ty == "wasm")
        .flat_map(|e| &e.attributes)
        .filter(|a| a.key == key)
        .map(|a| (job, a.value.clone()))
        .take(1)
        .collect()
}

/// (job, outcome) from each event of type `ty`.
fn attributes_of(res: &cw_multi_test::AppResponse, ty: &str) -> Vec<(u64, String)> {
    havn_testing::outcomes_of(res, ty)
        .into_iter()
        .map(|(id, outcome, _)| (id, outcome))
        .collect()
}

impl World {
    /// Tallies what judging did to each job.
    fn outcomes(&mut self, outcomes: &[(u64, String)]) {
        for (_, outcome) in outcomes {
            let kind = match outcome.as_str() {
                "recorded" => "job recorded",
                "disputed" => "job disputed",
                "arbitration" => "job in arbitration",
                "valid" => "job valid",
                "invalid" => "job invalid",
                "stored" => "vote stored",
                "clear" | "clear_slashed" => "audit clear",
                "audit" | "audit_disputed" | "audit_excused" => "audit",
                _ => "job not settled",
            };
            *self.done.entry(kind).or_default() += 1;
        }
    }

    fn count<T, E>(&mut self, kind: &'static str, r: Result<T, E>) -> Option<T> {
        let ok = r.ok();
        if ok.is_some() {
            *self.done.entry(kind).or_default() += 1;
        }
        ok
    }
}

fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()])
}

/// The `i`-th newest.
fn recent<T: Copy>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[items.len() - 1 - i % items.len()])
}

const OPTIONS: [VoteOption; 4] = [
    VoteOption::Yes,
    VoteOption::No,
    VoteOption::Abstain,
    VoteOption::NoWithVeto,
];

fn everyone() -> Vec<String> {
    (0..VALIDATORS)
        .map(|i| format!("validator-{i}"))
        .chain(ACCOUNTS.iter().map(|s| s.to_string()))
        .collect()
}

fn apply(s: &mut Suite, w: &mut World, op: &Op) {
    // Refusals are part of the game: only the invariants after each step must hold.
    match *op {
        Op::Publish {
            creator,
            price,
            dep,
        } => {
            let name = format!("wf-{}", w.workflows.len());
            let dependencies = dep
                .and_then(|d| pick(&w.workflows, d))
                .map(|(id, _)| DependencyMsg {
                    target: DependencyTarget::Workflow { id },
                    weight_bps: 10_000,
                })
                .into_iter()
                .collect();
            let price = u128::from(price) * HAI / 10;
            let msg = PublishMsg {
                name: name.clone(),
                content_hash: hash(&name).to_hex(),
                price: Uint128::new(price),
                split: None,
                dependencies,
                parent: None,
                artifacts: vec![],
                metadata: None,
                fingerprint: Some(havn_types::fingerprint::placeholder(&hash(&name).to_hex())),
            };
            if let Some(id) = w.count("publish", s.publish(CREATORS[creator], msg)) {
                w.workflows.push((id, price));
            }
        }
        Op::Request {
            caller,
            workflow,
            extra,
        } => {
            if let Some((id, price)) = pick(&w.workflows, workflow) {
                let fee = (price + u128::from(extra)).max(1);
                let input = format!("input {}", w.jobs.len());
                if let Some(job) = w.count("request", s.request(CALLERS[caller], id, fee, &input)) {
                    w.jobs.push((job, CALLERS[caller]));
                }
            }
        }
        Op::Record {
            job,
            signers,
            valid,
            other_node,
            dissent,
        } => {
            if let Some((job, _)) = recent(&w.jobs, job) {
                let (verdict, check) = if valid {
                    (Verdict::Valid, Check::Structural)
                } else {
                    (Verdict::Invalid, REEXECUTED)
                };
                let opposite = match verdict {
                    Verdict::Valid => Verdict::Invalid,
                    Verdict::Invalid => Verdict::Valid,
                };
                let votes: Vec<(usize, Verdict, Check)> = (0..VALIDATORS)
                    .filter(|i| signers & (1 << i) != 0)
                    .enumerate()
                    .map(|(n, i)| match dissent && n == 0 {
                        true => (i, opposite, REEXECUTED),
                        false => (i, verdict, check),
                    })
                    .collect();
                let node = if other_node { "node-2" } else { "node" };
                let result = s.result_votes(job, node, "output", &votes);
                if let Some(res) = w.count("record", s.record(vec![result])) {
                    w.outcomes(&havn_integration_tests::outcomes(&res));
                }
            }
        }
        Op::Challenge { job, validator } => {
            if let Some((job, _)) = recent(&w.jobs, job) {
                let result = s.result_votes(
                    job,
                    "node",
                    "output",
                    &[(validator, Verdict::Invalid, REEXECUTED)],
                );
                if let Some(res) = w.count("challenge", s.challenge("relayer", result)) {
                    w.outcomes(&attributes(&res, "outcome", job));
                }
            }
        }
        Op::ReexecutedVote {
            job,
            validator,
            valid,
        } => {
            if let Some((job, _)) = recent(&w.jobs, job) {
                let verdict = if valid {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                };
                let log = s.log.clone();
                let msg = havn_execution_log::msg::ExecuteMsg::Attest {
                    job_id: job,
                    node: s.addr("node").to_string(),
                    output_hash: hash("output"),
                    verdict,
                    check: REEXECUTED,
                };
                let voters: Vec<usize> = match validator {
                    Some(v) => vec![v],
                    None => (0..VALIDATORS).collect(),
                };
                for v in voters {
                    let voter = format!("validator-{v}");
                    let res = s.execute(&voter, &log, &msg, &[]);
                    if let Some(res) = w.count("reexecuted vote", res) {
                        w.outcomes(&attributes(&res, "outcome", job));
                    }
                }
            }
        }
        Op::Finalize { job, wait } => {
            match wait {
                1 => s.pass_window(),
                2 => s.advance_blocks(
                    havn_execution_log::state::Params::default().arbitration_timeout,
                ),
                _ => {}
            }
            let ids: Vec<u64> = (0..=job)
                .filter_map(|j| recent(&w.jobs, j))
                .map(|(id, _)| id)
                .collect();
            if !ids.is_empty() {
                if let Some(res) = w.count("finalize", s.finalize(&ids)) {
                    for (_, outcome, _) in havn_testing::outcomes_of(&res, "wasm-havn_finalize") {
                        match outcome.as_str() {
                            "valid" => *w.done.entry("job finalized").or_default() += 1,
                            "arbitration" => {
                                *w.done.entry("dispute to arbitration").or_default() += 1
                            }
                            "refunded" => *w.done.entry("arbitration timed out").or_default() += 1,
                            _ => {}
                        }
                    }
                }
            }
        }
        Op::Arbitrate { job, valid } => {
            if let Some((job, _)) = recent(&w.jobs, job) {
                let verdict = if valid {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                };
                let msg = havn_execution_log::msg::ExecuteMsg::Arbitrate {
                    job_id: job,
                    verdict,
                };
                let (gov, log) = (s.governance.clone(), s.log.clone());
                let res = s.app.execute_contract(gov, log, &msg, &[]);
                if let Some(res) = w.count("arbitrate", res) {
                    w.outcomes(&attributes(&res, "outcome", job));
                }
            }
        }
        Op::CommitAudit { node } => {
            let log = s.log.clone();
            let now: havn_execution_log::msg::EpochResponse = s.query(
                &log,
                &havn_execution_log::msg::QueryMsg::Epoch { epoch: None },
            );
            let epoch = now.current + 1;
            let root = audit_tree(node, epoch).root().to_vec().into();
            let commit = havn_execution_log::msg::ExecuteMsg::CommitAudit { epoch, root };
            w.count(
                "audit committed",
                s.execute(NODES[node], &log, &commit, &[]),
            );
            // The epoch starts, so the jobs requested next are the node's to prove.
            let params: havn_execution_log::state::Params =
                s.query(&log, &havn_execution_log::msg::QueryMsg::Params {});
            let height = s.app.block_info().height;
            s.advance_blocks((epoch * params.epoch_blocks).saturating_sub(height));
        }
        Op::ProveAudit { job } => {
            if let Some((id, _)) = recent(&w.jobs, job) {
                let log = s.log.clone();
                let job: havn_execution_log::state::Job =
                    s.query(&log, &havn_execution_log::msg::QueryMsg::Job { id });
                let params: havn_execution_log::state::Params =
                    s.query(&log, &havn_execution_log::msg::QueryMsg::Params {});
                let node = job
                    .result
                    .as_ref()
                    .and_then(|r| NODES.iter().position(|n| s.addr(n) == r.node))
                    .unwrap_or(0);
                let epoch =
                    havn_types::sampling::epoch_of(job.requested_height, params.epoch_blocks);
                let (leaf, path) = audit_tree(node, epoch).proof(id);
                let proofs = vec![havn_execution_log::msg::AuditProof {
                    job_id: id,
                    leaf: leaf.to_vec().into(),
                    path: path.iter().map(|h| h.to_vec().into()).collect(),
                }];
                let prove = havn_execution_log::msg::ExecuteMsg::ProveAudit { proofs };
                if let Some(res) =
                    w.count("audit proven", s.execute(NODES[node], &log, &prove, &[]))
                {
                    w.outcomes(&attributes_of(&res, "wasm-havn_audit"));
                }
            }
        }
        Op::Seeds { only } => {
            let log = s.log.clone();
            let now: havn_execution_log::msg::EpochResponse = s.query(
                &log,
                &havn_execution_log::msg::QueryMsg::Epoch { epoch: None },
            );
            let voters: Vec<usize> = match only {
                Some(v) => vec![v],
                None => (0..VALIDATORS).collect(),
            };
            for v in voters {
                let voter = format!("validator-{v}");
                let commit = havn_execution_log::msg::ExecuteMsg::CommitSeed {
                    epoch: now.current + 1,
                    commitment: seed_commitment(&seed(v, now.current + 1)).to_vec().into(),
                };
                if w.count("seed committed", s.execute(&voter, &log, &commit, &[]))
                    .is_some()
                    && only.is_some()
                {
                    w.hidden.push((v, now.current + 1));
                }
                // One validator alone keeps its seeds hidden (for `ReportUnrevealed`).
                if only.is_none() {
                    for epoch in now.current.saturating_sub(2)..now.current {
                        let reveal = havn_execution_log::msg::ExecuteMsg::RevealSeed {
                            epoch,
                            secret: seed(v, epoch).to_vec().into(),
                        };
                        w.count("seed revealed", s.execute(&voter, &log, &reveal, &[]));
                    }
                }
            }
        }
        Op::ClaimPot { job, validator } => {
            if let Some((job, _)) = recent(&w.jobs, job) {
                let msg =
                    havn_execution_log::msg::ExecuteMsg::ClaimReexecutions { job_ids: vec![job] };
                let log = s.log.clone();
                if let Some(res) = w.count(
                    "pot claim",
                    s.execute(&format!("validator-{validator}"), &log, &msg, &[]),
                ) {
                    if attributes(&res, "claimed", job)
                        .iter()
                        .any(|(_, n)| n == "1")
                    {
                        *w.done.entry("re-execution paid").or_default() += 1;
                    }
                }
            }
        }
        Op::ReportLazy { job, validator } => {
            if let Some((job, _)) = recent(&w.jobs, job) {
                let msg = havn_execution_log::msg::ExecuteMsg::ReportLazy {
                    job_id: job,
                    validator: s.validator(validator).to_string(),
                };
                let log = s.log.clone();
                w.count("lazy report", s.execute("relayer", &log, &msg, &[]));
            }
        }
        Op::ReportUnrevealed { validator } => {
            if let Some((v, epoch)) = pick(&w.hidden, validator) {
                let log = s.log.clone();
                let msg = havn_execution_log::msg::ExecuteMsg::ReportUnrevealed {
                    epoch,
                    validator: s.validator(v).to_string(),
                };
                w.count("unrevealed report", s.execute("relayer", &log, &msg, &[]));
            }
        }
        Op::AdvanceBlocks { blocks } => s.advance_blocks(blocks),
        Op::Refund { job } => {
            if let Some((job, caller)) = pick(&w.jobs, job) {
                let log = s.log.clone();
                let msg = havn_execution_log::msg::ExecuteMsg::Refund { job_id: job };
                w.count("refund", s.execute(caller, &log, &msg, &[]));
            }
        }
        Op::Claim { who } => {
            let names = everyone();
            w.count("claim", s.claim(&names[who % names.len()]));
        }
        Op::ReleaseTreasury => {
            let payout = s.payout.clone();
            w.count(
                "release treasury",
                s.execute(
                    "relayer",
                    &payout,
                    &havn_payout::msg::ExecuteMsg::ReleaseTreasury {},
                    &[],
                ),
            );
        }
        Op::Bond {
            who,
            validator,
            amount,
        } => {
            let role = if validator {
                Role::Validator
            } else {
                Role::Node
            };
            w.count(
                "bond",
                s.bond(OPERATORS[who], role, u128::from(amount) * HAI),
            );
        }
        Op::Unbond {
            who,
            validator,
            amount,
        } => {
            let role = if validator {
                Role::Validator
            } else {
                Role::Node
            };
            let staking = s.staking.clone();
            let msg = StakingMsg::Unbond {
                role,
                amount: Uint128::new(u128::from(amount) * HAI),
            };
            w.count("unbond", s.execute(OPERATORS[who], &staking, &msg, &[]));
        }
        Op::ClaimUnbonded { who } => {
            let staking = s.staking.clone();
            w.count(
                "claim unbonded",
                s.execute(OPERATORS[who], &staking, &StakingMsg::Claim {}, &[]),
            );
        }
        Op::ReportDowntime { who } => {
            let staking = s.staking.clone();
            let msg = StakingMsg::ReportDowntime {
                operator: s.addr(OPERATORS[who]).to_string(),
            };
            w.count("downtime slash", s.execute("relayer", &staking, &msg, &[]));
        }
        Op::Propose {
            kind,
            target,
            amount,
        } => {
            let action = match kind {
                0 => Action::SlashOperator {
                    operator: s.addr(OPERATORS[target]).to_string(),
                    role: None,
                    reason: "collusion".into(),
                    fraction: Some(Decimal::percent(30)),
                },
                1 => Action::SpendTreasury {
                    recipient: s.addr("creator").to_string(),
                    amount: Uint128::new(u128::from(amount) * HAI / 100),
                },
                _ => Action::UpdatePayoutParams(havn_payout::msg::ParamsUpdate {
                    validator_shares: Some(havn_payout::state::ValidatorShares::StakeWeighted),
                    ..Default::default()
                }),
            };
            if let Some(id) = w.count("propose", s.propose("holder", vec![action])) {
                w.proposals.push(id);
            }
        }
        Op::Vote {
            proposal,
            voter,
            option,
        } => {
            if let Some(id) = recent(&w.proposals, proposal) {
                let option = OPTIONS[usize::from(option)];
                w.count("vote", s.vote(OPERATORS[voter], id, option));
            }
        }
        Op::Finish { proposal } => {
            if let Some(id) = recent(&w.proposals, proposal) {
                let executed = s.execute_proposal(id);
                if w.count("proposal executed", executed).is_none() {
                    if let Some(res) = w.count("proposal closed", s.close_proposal(id)) {
                        let burned = res
                            .events
                            .iter()
                            .flat_map(|e| &e.attributes)
                            .any(|a| a.key == "deposit" && a.value == "burned");
                        if burned {
                            w.burned += s.proposal(id).proposal.deposit.u128();
                        }
                    }
                }
            }
        }
        Op::VoteAll { proposal, option } => {
            if let Some(id) = recent(&w.proposals, proposal) {
                for v in &OPERATORS[..VALIDATORS] {
                    w.count("vote", s.vote(v, id, OPTIONS[usize::from(option)]));
                }
            }
        }
        Op::Heartbeats => {
            let staking = s.staking.clone();
            for who in OPERATORS {
                w.count(
                    "heartbeat",
                    s.execute(who, &staking, &StakingMsg::Heartbeat {}, &[]),
                );
            }
        }
        Op::Advance { seconds } => s.advance(seconds),
    }
}

fn check(s: &Suite, w: &World, initial: u128, step: usize) -> Result<(), TestCaseError> {
    let at = |what: &str| format!("after step {step}: {what}");
    prop_assert_eq!(s.supply(), initial - w.burned, "{}", at("supply"));

    // Every $HAI is somewhere we know of.
    let contracts = [&s.registry, &s.staking, &s.payout, &s.log, &s.governance];
    let people: u128 = everyone().iter().map(|n| s.balance_of(n)).sum();
    let held: u128 = contracts.iter().map(|c| s.balance(c)).sum();
    prop_assert_eq!(people + held, s.supply(), "{}", at("holders"));

    // Each contract holds exactly what it owes.
    prop_assert_eq!(
        s.balance(&s.registry),
        0,
        "{}",
        at("registry keeps no deposits")
    );
    prop_assert_eq!(s.balance(&s.log), s.escrowed(), "{}", at("log = escrow"));
    let t = s.staking_totals();
    prop_assert_eq!(
        s.balance(&s.staking),
        (t.node + t.validator + t.unbonding).u128(),
        "{}",
        at("staking = bonded + unbonding")
    );
    let owed = s.payout_totals().owed.u128();
    prop_assert_eq!(s.balance(&s.payout), owed, "{}", at("payout = owed"));
    let claimable: u128 = everyone()
        .iter()
        .map(|n| s.addr(n))
        .chain([s.governance.clone()])
        .map(|a: Addr| s.earnings(&a).claimable.u128())
        .sum();
    let pot = s.payout_totals().pot.u128();
    prop_assert_eq!(
        claimable + pot,
        owed,
        "{}",
        at("payout owes exactly the claimable balances and the re-execution pot")
    );
    let treasury: TreasuryResponse = s.query(&s.governance, &GovQuery::Treasury {});
    prop_assert!(
        treasury.balance >= treasury.deposits_held,
        "{}",
        at("governance holds every open deposit")
    );
    Ok(())
}

#[test]
fn money_is_conserved_under_random_sequences() {
    let cases: u32 = std::env::var("HAVN_INVARIANT_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(128);
    // A fixed seed: the same sequences every run, so the check below that they reach every
    // path (some, like an overturned dispute, are rare) never flakes. HAVN_INVARIANT_SEED
    // explores others.
    let seed: u64 = std::env::var("HAVN_INVARIANT_SEED")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let steps = std::cell::Cell::new(0usize);
    let done = std::cell::RefCell::new(std::collections::BTreeMap::<&str, usize>::new());
    let strategy = (any::<bool>(), proptest::collection::vec(op(), 1..90));
    runner
        .run(&strategy, |(native, ops)| {
            let builder =
                SuiteBuilder::new().governance_params(|p| p.min_deposit = Uint128::new(10 * HAI));
            let mut s = if native {
                builder.native().build()
            } else {
                builder.build()
            };
            let mut w = World::default();
            let initial = s.supply();
            check(&s, &w, initial, 0)?;
            for (i, op) in ops.iter().enumerate() {
                apply(&mut s, &mut w, op);
                check(&s, &w, initial, i + 1)?;
            }
            steps.set(steps.get() + ops.len());
            for (kind, n) in w.done {
                *done.borrow_mut().entry(kind).or_default() += n;
            }
            Ok(())
        })
        .unwrap();
    println!(
        "invariants held over {cases} random sequences, {} operations in all",
        steps.get()
    );
    println!("steps that went through: {:?}", done.borrow());
    // The sequences must reach every path that moves money, not only refusals.
    for kind in [
        "job recorded",
        "job disputed",
        "job finalized",
        "dispute to arbitration",
        "seed committed",
        "seed revealed",
        "audit committed",
        "audit clear",
        "unrevealed report",
        "arbitration timed out",
        "job valid",
        "job invalid",
        "claim",
        "refund",
        "bond",
        "unbond",
        "proposal executed",
    ] {
        assert!(
            done.borrow().get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in {cases} sequences"
        );
    }
}
