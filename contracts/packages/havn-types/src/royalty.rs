//! Royalty stacks: a workflow's upstream pool, flattened once at publish time.
//!
//! A workflow's dependencies share its upstream pool by weight (bps summing to 10 000). An external
//! artifact's payee keeps its part; an upstream workflow passes its part on through its own split:
//! `creator / (creator + upstream)` to its creator, the rest through *its* upstream pool, and so on,
//! at most `max_depth` levels deep. At the last level an upstream workflow's whole part goes to its
//! creator. A payee reached along several paths (a diamond) gets one merged entry.
//!
//! Walking the graph at every payout would cost gas proportional to the graph; instead each workflow
//! stores its pool as seen 1, 2, … `max_depth` levels deep ([`compose_levels`]), so publishing reads
//! only the direct dependencies, and payout reads one bounded list, the [`royalty_stack`].
//!
//! Precision: levels are fixed-point with [`POOL_UNITS`] = 10¹² per pool, so composing loses at most
//! one unit in 10¹² per entry; that dust goes to the dependency's own creator. The final stack is in
//! bps of the fee and sums to exactly the split's upstream bps by the largest-remainder method.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;
use thiserror::Error;

use crate::split::{Split, BPS_TOTAL};

/// One whole upstream pool in fixed point. A multiple of 10 000, so a weight in bps converts exactly.
pub const POOL_UNITS: u64 = 1_000_000_000_000;
const UNITS_PER_BPS: u64 = POOL_UNITS / BPS_TOTAL as u64;

#[derive(Error, Debug, PartialEq, Eq)]
pub enum RoyaltyError {
    #[error("dependency weights must add up to exactly 10000 bps, but they add up to {total}")]
    WeightsNotWhole { total: u32 },

    #[error("a dependency weight must be above 0 bps")]
    ZeroWeight,

    #[error("the royalty depth limit must be at least 1")]
    ZeroDepth,

    #[error("the royalty stack would have {count} payees; the limit is {max}: depend on fewer or flatter workflows")]
    TooManyPayees { count: usize, max: usize },

    #[error("upstream share is {upstream} bps but there is no dependency to pay it to")]
    EmptyPool { upstream: u16 },
}

/// Who a royalty is owed to. Royalties follow a workflow, not a wallet: an upstream workflow's share
/// is paid to whoever owns it when the job is requested.
#[cw_serde]
#[derive(Eq, PartialOrd, Ord)]
pub enum Payee {
    /// The current creator of this workflow.
    Workflow(u64),
    /// A fixed address (the payee of an external model, LoRA, prompt or dataset).
    Address(Addr),
}

/// A payee's part of one upstream pool, in [`POOL_UNITS`].
#[cw_serde]
#[derive(Eq)]
pub struct PoolShare {
    pub payee: Payee,
    pub units: u64,
}

/// A payee's part of a run's fee, in bps of the fee.
#[cw_serde]
#[derive(Eq)]
pub struct StackShare {
    pub payee: Payee,
    pub bps: u16,
}

/// A dependency edge, as the composition needs it.
#[derive(Debug, Clone, Copy)]
pub struct Edge<'a> {
    pub weight_bps: u16,
    pub target: EdgeTarget<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum EdgeTarget<'a> {
    /// An external artifact; its payee keeps the whole part.
    External { payee: &'a Addr },
    /// An upstream workflow, with its (effective) split and its own stored levels.
    Workflow {
        id: u64,
        split: &'a Split,
        levels: &'a [Vec<PoolShare>],
    },
}

/// The pool of a workflow with these dependencies, as seen 1..=`max_depth` levels deep.
///
/// Level `k` sums to exactly [`POOL_UNITS`]; it is empty for a workflow without dependencies.
/// An upstream workflow stored with fewer levels than needed contributes its deepest one.
pub fn compose_levels(
    edges: &[Edge],
    max_depth: u8,
    max_payees: usize,
) -> Result<Vec<Vec<PoolShare>>, RoyaltyError> {
    if edges.is_empty() {
        return Ok(vec![]);
    }
    if max_depth == 0 {
        return Err(RoyaltyError::ZeroDepth);
    }
    if edges.iter().any(|e| e.weight_bps == 0) {
        return Err(RoyaltyError::ZeroWeight);
    }
    let total: u32 = edges.iter().map(|e| u32::from(e.weight_bps)).sum();
    if total != BPS_TOTAL {
        return Err(RoyaltyError::WeightsNotWhole { total });
    }
    (1..=max_depth)
        .map(|depth| compose_level(edges, depth, max_payees))
        .collect()
}

fn compose_level(
    edges: &[Edge],
    depth: u8,
    max_payees: usize,
) -> Result<Vec<PoolShare>, RoyaltyError> {
    // Sorted by payee. A Vec, not a BTreeMap: pools are small, and on-chain code size matters.
    let mut pool: Vec<PoolShare> = Vec::new();
    let mut credit = |payee: Payee, units: u64| match pool.binary_search_by(|s| s.payee.cmp(&payee))
    {
        Ok(i) => pool[i].units += units,
        Err(i) => pool.insert(i, PoolShare { payee, units }),
    };
    for edge in edges {
        let part = u64::from(edge.weight_bps) * UNITS_PER_BPS;
        match edge.target {
            EdgeTarget::External { payee } => credit(Payee::Address(payee.clone()), part),
            EdgeTarget::Workflow { id, split, levels } => {
                // Level k of this workflow passes through level k-1 of the dependency.
                let upstream_level = match depth {
                    1 => None,
                    _ if split.upstream == 0 => None,
                    _ => levels
                        .get(usize::from(depth) - 2)
                        .or(levels.last())
                        .filter(|l| !l.is_empty()),
                };
                let Some(upstream_level) = upstream_level else {
                    credit(Payee::Workflow(id), part);
                    continue;
                };
                let (creator, upstream) = (u128::from(split.creator), u128::from(split.upstream));
                let to_upstream = u128::from(part) * upstream / (creator + upstream);
                let mut passed_on = 0u64;
                for share in upstream_level {
                    // The dependency's level sums to POOL_UNITS, so this never exceeds `to_upstream`.
                    let units =
                        (to_upstream * u128::from(share.units) / u128::from(POOL_UNITS)) as u64;
                    credit(share.payee.clone(), units);
                    passed_on += units;
                }
                // The creator's part, plus the rounding dust of passing the rest on.
                credit(Payee::Workflow(id), part - passed_on);
            }
        }
    }
    pool.retain(|s| s.units > 0);
    if pool.len() > max_payees {
        return Err(RoyaltyError::TooManyPayees {
            count: pool.len(),
            max: max_payees,
        });
    }
    Ok(pool)
}

/// The royalty stack for a workflow whose split gives `upstream_bps` to its upstream pool, from the
/// pool's deepest level: payee → bps of the fee, summing to exactly `upstream_bps`.
///
/// Each payee gets `floor(upstream_bps × units / POOL_UNITS)`; the bps left over go one each to the
/// payees with the largest remainders (ties to the lower payee). Payees whose share rounds to zero
/// are left out.
pub fn royalty_stack(
    level: &[PoolShare],
    upstream_bps: u16,
) -> Result<Vec<StackShare>, RoyaltyError> {
    if upstream_bps == 0 {
        return Ok(vec![]);
    }
    let total: u128 = level.iter().map(|s| u128::from(s.units)).sum();
    if total == 0 {
        return Err(RoyaltyError::EmptyPool {
            upstream: upstream_bps,
        });
    }
    let exact = |s: &PoolShare| u128::from(upstream_bps) * u128::from(s.units);
    let mut bps: Vec<u16> = level.iter().map(|s| (exact(s) / total) as u16).collect();
    let given: u32 = bps.iter().map(|&b| u32::from(b)).sum();
    let mut left = u32::from(upstream_bps) - given;
    // Largest remainder first; equal remainders keep the level's payee order.
    let mut by_remainder: Vec<usize> = (0..level.len()).collect();
    by_remainder.sort_unstable_by_key(|&i| (std::cmp::Reverse(exact(&level[i]) % total), i));
    for &i in by_remainder.iter().cycle() {
        if left == 0 {
            break;
        }
        bps[i] += 1;
        left -= 1;
    }
    Ok(level
        .iter()
        .zip(bps)
        .filter(|(_, bps)| *bps > 0)
        .map(|(s, bps)| StackShare {
            payee: s.payee.clone(),
            bps,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn addr(name: &str) -> Addr {
        Addr::unchecked(name)
    }

    fn stack_of(levels: &[Vec<PoolShare>], upstream: u16) -> BTreeMap<Payee, u16> {
        royalty_stack(levels.last().map(Vec::as_slice).unwrap_or(&[]), upstream)
            .unwrap()
            .into_iter()
            .map(|s| (s.payee, s.bps))
            .collect()
    }

    #[test]
    fn external_payees_share_by_weight() {
        let (a, b) = (addr("a"), addr("b"));
        let edges = [
            Edge {
                weight_bps: 7_500,
                target: EdgeTarget::External { payee: &a },
            },
            Edge {
                weight_bps: 2_500,
                target: EdgeTarget::External { payee: &b },
            },
        ];
        let levels = compose_levels(&edges, 3, 32).unwrap();
        assert_eq!(levels.len(), 3);
        let stack = stack_of(&levels, 2_000);
        assert_eq!(stack[&Payee::Address(a)], 1_500);
        assert_eq!(stack[&Payee::Address(b)], 500);
    }

    #[test]
    fn diamond_pays_the_shared_ancestor_once() {
        // base <- left, base <- right, {left, right} <- top. Every split 50 % creator / 50 % upstream.
        let half = Split {
            creator: 5_000,
            upstream: 5_000,
            node: 0,
            validator: 0,
            treasury: 0,
        };
        let base_creator = addr("base-model-author");
        let base = compose_levels(
            &[Edge {
                weight_bps: 10_000,
                target: EdgeTarget::External {
                    payee: &base_creator,
                },
            }],
            4,
            32,
        )
        .unwrap();
        let via_base = |id| Edge {
            weight_bps: 10_000,
            target: EdgeTarget::Workflow {
                id,
                split: &half,
                levels: &base,
            },
        };
        let left = compose_levels(&[via_base(1)], 4, 32).unwrap();
        let right = compose_levels(&[via_base(1)], 4, 32).unwrap();
        let top = compose_levels(
            &[
                Edge {
                    weight_bps: 5_000,
                    target: EdgeTarget::Workflow {
                        id: 2,
                        split: &half,
                        levels: &left,
                    },
                },
                Edge {
                    weight_bps: 5_000,
                    target: EdgeTarget::Workflow {
                        id: 3,
                        split: &half,
                        levels: &right,
                    },
                },
            ],
            4,
            32,
        )
        .unwrap();
        let stack = stack_of(&top, 4_000);
        // left and right each keep half of their 2000 bps; workflow 1 is reached twice and merged.
        assert_eq!(stack[&Payee::Workflow(2)], 1_000);
        assert_eq!(stack[&Payee::Workflow(3)], 1_000);
        assert_eq!(stack[&Payee::Workflow(1)], 1_000);
        assert_eq!(stack[&Payee::Address(base_creator)], 1_000);
        assert_eq!(stack.len(), 4);
    }

    #[test]
    fn depth_cap_stops_at_the_last_level() {
        // a chain 1 <- 2 <- 3 <- 4, each passing all of its pool upstream except 1 % to its creator.
        let split = Split {
            creator: 100,
            upstream: 9_900,
            node: 0,
            validator: 0,
            treasury: 0,
        };
        let root = addr("root-artifact");
        let mut levels = compose_levels(
            &[Edge {
                weight_bps: 10_000,
                target: EdgeTarget::External { payee: &root },
            }],
            2,
            32,
        )
        .unwrap();
        for id in 1..=3 {
            levels = compose_levels(
                &[Edge {
                    weight_bps: 10_000,
                    target: EdgeTarget::Workflow {
                        id,
                        split: &split,
                        levels: &levels,
                    },
                }],
                2,
                32,
            )
            .unwrap();
        }
        let stack = stack_of(&levels, 10_000);
        // Two levels deep from workflow 4: workflows 3 and 2. Workflow 1 and the root are beyond the cap.
        assert_eq!(
            stack.keys().cloned().collect::<Vec<_>>(),
            vec![Payee::Workflow(2), Payee::Workflow(3)]
        );
        assert_eq!(stack[&Payee::Workflow(3)], 100);
        assert_eq!(stack[&Payee::Workflow(2)], 9_900);
    }

    #[test]
    fn rejects_bad_weights_and_limits() {
        let a = addr("a");
        let one = |w| {
            [Edge {
                weight_bps: w,
                target: EdgeTarget::External { payee: &a },
            }]
        };
        assert_eq!(
            compose_levels(&one(9_999), 2, 32),
            Err(RoyaltyError::WeightsNotWhole { total: 9_999 })
        );
        assert_eq!(
            compose_levels(&one(0), 2, 32),
            Err(RoyaltyError::ZeroWeight)
        );
        assert_eq!(
            compose_levels(&one(10_000), 0, 32),
            Err(RoyaltyError::ZeroDepth)
        );
        let payees: Vec<Addr> = (0..5).map(|i| addr(&format!("p{i}"))).collect();
        let many: Vec<Edge> = payees
            .iter()
            .map(|p| Edge {
                weight_bps: 2_000,
                target: EdgeTarget::External { payee: p },
            })
            .collect();
        assert_eq!(
            compose_levels(&many, 1, 4),
            Err(RoyaltyError::TooManyPayees { count: 5, max: 4 })
        );
        assert_eq!(
            royalty_stack(&[], 100),
            Err(RoyaltyError::EmptyPool { upstream: 100 })
        );
    }

    #[test]
    fn largest_remainder_breaks_ties_by_payee_order() {
        // Three equal payees over 100 bps: 33 each and one left over, to the first.
        let level: Vec<PoolShare> = ["a", "b", "c"]
            .iter()
            .map(|n| PoolShare {
                payee: Payee::Address(addr(n)),
                units: POOL_UNITS / 3,
            })
            .collect();
        let stack = royalty_stack(&level, 100).unwrap();
        assert_eq!(
            stack.iter().map(|s| s.bps).collect::<Vec<_>>(),
            vec![34, 33, 33]
        );
    }

    // ---- property tests over random dependency graphs ----

    #[derive(Debug, Clone)]
    enum TestDep {
        Workflow(usize),
        External(u8),
    }

    #[derive(Debug, Clone)]
    struct Node {
        split: Split,
        deps: Vec<(TestDep, u16)>,
    }

    /// Weights that add up to exactly 10 000.
    fn whole(raw: &[u16]) -> Vec<u16> {
        let total: u32 = raw.iter().map(|&w| u32::from(w)).sum();
        let mut out: Vec<u16> = raw
            .iter()
            .map(|&w| (u32::from(w) * 10_000 / total) as u16)
            .collect();
        let given: u32 = out.iter().map(|&w| u32::from(w)).sum();
        out[0] += (10_000 - given) as u16;
        out
    }

    /// A random DAG: node i depends only on nodes before it and on a small shared set of external
    /// payees, so diamonds and repeated payees are common.
    fn graph() -> impl Strategy<Value = Vec<Node>> {
        proptest::collection::vec(
            (
                0u16..=10_000,
                0u16..=10_000,
                proptest::collection::vec(
                    (
                        any::<proptest::sample::Index>(),
                        0u8..4,
                        any::<bool>(),
                        1u16..100,
                    ),
                    0..5,
                ),
            ),
            1..10,
        )
        .prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (creator, upstream, deps))| {
                    let mut seen = std::collections::BTreeSet::new();
                    let deps: Vec<(TestDep, u16)> = deps
                        .into_iter()
                        .filter_map(|(idx, ext, is_wf, w)| {
                            match (is_wf && i > 0, idx.index(i.max(1))) {
                                (true, j) if seen.insert(j) => Some((TestDep::Workflow(j), w)),
                                (true, _) => None,
                                (false, _) => Some((TestDep::External(ext), w)),
                            }
                        })
                        .collect();
                    let creator = creator.min(10_000 - upstream.min(10_000));
                    let upstream = upstream.min(10_000 - creator);
                    let split = Split {
                        creator,
                        upstream,
                        node: 10_000 - creator - upstream,
                        validator: 0,
                        treasury: 0,
                    };
                    let split = if deps.is_empty() {
                        split.without_upstream()
                    } else {
                        split
                    };
                    let weights = if deps.is_empty() {
                        vec![]
                    } else {
                        whole(&deps.iter().map(|d| d.1).collect::<Vec<_>>())
                    };
                    Node {
                        split,
                        deps: deps
                            .into_iter()
                            .zip(weights)
                            .map(|((d, _), w)| (d, w))
                            .collect(),
                    }
                })
                .collect()
        })
    }

    fn external(i: u8) -> Addr {
        addr(&format!("artifact-payee-{i}"))
    }

    /// The exact pool of `node` seen `depth` levels deep, by walking the whole graph in floating point.
    fn reference(graph: &[Node], node: usize, depth: u8) -> BTreeMap<Payee, f64> {
        let mut out = BTreeMap::new();
        for (dep, w) in &graph[node].deps {
            let part = f64::from(*w) / 10_000.0;
            match dep {
                TestDep::External(p) => {
                    *out.entry(Payee::Address(external(*p))).or_default() += part
                }
                TestDep::Workflow(d) => {
                    let s = graph[*d].split;
                    if depth == 1 || s.upstream == 0 {
                        *out.entry(Payee::Workflow(*d as u64)).or_default() += part;
                        continue;
                    }
                    let (c, u) = (f64::from(s.creator), f64::from(s.upstream));
                    *out.entry(Payee::Workflow(*d as u64)).or_default() += part * c / (c + u);
                    for (p, f) in reference(graph, *d, depth - 1) {
                        *out.entry(p).or_default() += part * u / (c + u) * f;
                    }
                }
            }
        }
        out
    }

    /// Composes every node in publish order, as the registry does, with stored levels only.
    fn publish_all(graph: &[Node], max_depth: u8) -> Vec<Vec<Vec<PoolShare>>> {
        let externals: Vec<Addr> = (0..4).map(external).collect();
        let mut stored: Vec<Vec<Vec<PoolShare>>> = Vec::new();
        for node in graph {
            let edges: Vec<Edge> = node
                .deps
                .iter()
                .map(|(dep, w)| Edge {
                    weight_bps: *w,
                    target: match dep {
                        TestDep::External(p) => EdgeTarget::External {
                            payee: &externals[usize::from(*p)],
                        },
                        TestDep::Workflow(d) => EdgeTarget::Workflow {
                            id: *d as u64,
                            split: &graph[*d].split,
                            levels: &stored[*d],
                        },
                    },
                })
                .collect();
            let levels = compose_levels(&edges, max_depth, usize::MAX).unwrap();
            stored.push(levels);
        }
        stored
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_level_is_the_whole_pool(graph in graph(), max_depth in 1u8..6) {
            for (node, levels) in graph.iter().zip(publish_all(&graph, max_depth)) {
                prop_assert_eq!(levels.len(), if node.deps.is_empty() { 0 } else { usize::from(max_depth) });
                for level in &levels {
                    prop_assert_eq!(level.iter().map(|s| s.units).sum::<u64>(), POOL_UNITS);
                }
            }
        }

        #[test]
        fn stack_sums_to_upstream_exactly_and_stays_within_one_bps_of_exact(graph in graph(), max_depth in 1u8..6) {
            for (i, levels) in publish_all(&graph, max_depth).iter().enumerate() {
                let upstream = graph[i].split.upstream;
                let stack = royalty_stack(levels.last().map(Vec::as_slice).unwrap_or(&[]), upstream).unwrap();
                // No unit lost to rounding.
                prop_assert_eq!(stack.iter().map(|s| u32::from(s.bps)).sum::<u32>(), u32::from(upstream));
                // Diamonds merge: each payee appears once.
                let payees: std::collections::BTreeSet<_> = stack.iter().map(|s| &s.payee).collect();
                prop_assert_eq!(payees.len(), stack.len());
                let exact = reference(&graph, i, max_depth);
                for share in &stack {
                    // The depth cap holds: only payees reachable within max_depth get anything.
                    let fraction = exact.get(&share.payee).copied();
                    prop_assert!(fraction.is_some(), "{:?} is beyond depth {}", share.payee, max_depth);
                    let want = f64::from(upstream) * fraction.unwrap();
                    prop_assert!((f64::from(share.bps) - want).abs() < 1.0 + 1e-6, "{:?}: {} bps, exact {}", share.payee, share.bps, want);
                }
                // And nobody owed a whole bps or more is left out.
                for (payee, fraction) in exact {
                    if f64::from(upstream) * fraction >= 1.0 + 1e-6 {
                        prop_assert!(payees.contains(&payee), "{:?} owed {} bps is missing", payee, f64::from(upstream) * fraction);
                    }
                }
            }
        }
    }
}
