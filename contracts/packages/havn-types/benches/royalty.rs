//! Publish-time royalty flattening vs. the baseline it replaces, walking the dependency graph.
//!
//! `cargo bench -p havn-types --bench royalty` prints, per graph shape: how many workflow records
//! each approach reads (what costs gas on-chain: ~1000 SDK gas + 3 per byte each) and the native
//! time per publish, with the baseline/ours ratio. Both run in this process on the same graphs, and
//! their stacks are checked to agree within 1 bps.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cosmwasm_std::Addr;
use havn_types::{
    compose_levels, royalty_stack, Edge, EdgeTarget, Payee, PoolShare, Split, POOL_UNITS,
};

const DEPTH: u8 = 4;

struct Node {
    split: Split,
    /// (dependency index, weight in bps)
    deps: Vec<(usize, u16)>,
    levels: Vec<Vec<PoolShare>>,
}

/// Layers of `width` workflows; each depends on every workflow of the layer below; the bottom
/// layer depends on one external model each. Returns the graph and the top layer's indices.
fn lattice(width: usize, layers: usize, models: &[Addr]) -> (Vec<Node>, Vec<usize>) {
    let split = Split {
        creator: 4_000,
        upstream: 3_000,
        node: 2_000,
        validator: 500,
        treasury: 500,
    };
    let mut nodes: Vec<Node> = Vec::new();
    let mut below: Vec<usize> = Vec::new();
    for layer in 0..layers {
        let mut this = Vec::new();
        for model in models.iter().take(width) {
            let deps = weights(below.len())
                .into_iter()
                .zip(&below)
                .map(|(wt, &i)| (i, wt))
                .collect::<Vec<_>>();
            let edges: Vec<Edge> = if layer == 0 {
                vec![Edge {
                    weight_bps: 10_000,
                    target: EdgeTarget::External { payee: model },
                }]
            } else {
                deps.iter()
                    .map(|&(i, wt)| Edge {
                        weight_bps: wt,
                        target: EdgeTarget::Workflow {
                            id: i as u64,
                            split: &nodes[i].split,
                            levels: &nodes[i].levels,
                        },
                    })
                    .collect()
            };
            let levels = compose_levels(&edges, DEPTH, 64).unwrap();
            this.push(nodes.len());
            nodes.push(Node {
                split,
                deps,
                levels,
            });
        }
        below = this;
    }
    (nodes, below)
}

fn weights(n: usize) -> Vec<u16> {
    let mut w = vec![(10_000 / n.max(1)) as u16; n];
    if let Some(first) = w.first_mut() {
        *first += (10_000 - 10_000 / n.max(1) * n) as u16;
    }
    w
}

/// Ours: compose from the direct dependencies' stored levels (one read each).
fn publish_from_levels(nodes: &[Node], top: &[usize], reads: &mut usize) -> Vec<(Payee, u16)> {
    let edges: Vec<Edge> = weights(top.len())
        .into_iter()
        .zip(top)
        .map(|(wt, &i)| {
            *reads += 1;
            Edge {
                weight_bps: wt,
                target: EdgeTarget::Workflow {
                    id: i as u64,
                    split: &nodes[i].split,
                    levels: &nodes[i].levels,
                },
            }
        })
        .collect();
    let levels = compose_levels(&edges, DEPTH, 64).unwrap();
    royalty_stack(levels.last().unwrap(), 3_000)
        .unwrap()
        .into_iter()
        .map(|s| (s.payee, s.bps))
        .collect()
}

/// Baseline: walk the graph from the new workflow, reading every workflow on every path.
fn publish_by_walking(
    nodes: &[Node],
    top: &[usize],
    models: &[Addr],
    reads: &mut usize,
) -> BTreeMap<Payee, u128> {
    fn walk(
        nodes: &[Node],
        i: usize,
        part: u128,
        depth: u8,
        models: &[Addr],
        out: &mut BTreeMap<Payee, u128>,
        reads: &mut usize,
    ) {
        *reads += 1;
        let node = &nodes[i];
        let (c, u) = (
            u128::from(node.split.creator),
            u128::from(node.split.upstream),
        );
        if depth == 1 {
            *out.entry(Payee::Workflow(i as u64)).or_default() += part;
            return;
        }
        let to_upstream = part * u / (c + u);
        *out.entry(Payee::Workflow(i as u64)).or_default() += part - to_upstream;
        if node.deps.is_empty() {
            *out.entry(Payee::Address(models[i % models.len()].clone()))
                .or_default() += to_upstream;
        }
        for &(d, wt) in &node.deps {
            walk(
                nodes,
                d,
                to_upstream * u128::from(wt) / 10_000,
                depth - 1,
                models,
                out,
                reads,
            );
        }
    }
    let mut out = BTreeMap::new();
    for (wt, &i) in weights(top.len()).into_iter().zip(top) {
        walk(
            nodes,
            i,
            u128::from(POOL_UNITS) * u128::from(wt) / 10_000,
            DEPTH,
            models,
            &mut out,
            reads,
        );
    }
    out
}

fn time<T>(mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < Duration::from_millis(300) || runs < 10 {
        black_box(f());
        runs += 1;
    }
    start.elapsed() / runs
}

fn main() {
    let models: Vec<Addr> = (0..8)
        .map(|i| Addr::unchecked(format!("model-{i}")))
        .collect();
    println!("royalty flattening at publish, depth cap {DEPTH} (ours: stored levels; baseline: graph walk)");
    println!(
        "{:<24} {:>10} {:>10} {:>12} {:>12} {:>8} {:>8}",
        "graph", "reads/ours", "reads/walk", "ours", "walk", "reads×", "time×"
    );
    for (width, layers) in [(1, 8), (2, 4), (4, 4), (8, 4)] {
        let (nodes, top) = lattice(width, layers, &models);
        let (mut ours_reads, mut walk_reads) = (0, 0);
        let ours = publish_from_levels(&nodes, &top, &mut ours_reads);
        let walked = publish_by_walking(&nodes, &top, &models, &mut walk_reads);
        // Same answer: the walk's exact shares, in bps of a 3000-bps upstream pool, within 1 bps.
        for (payee, bps) in &ours {
            let exact =
                walked.get(payee).copied().unwrap_or(0) as f64 * 3_000.0 / POOL_UNITS as f64;
            assert!(
                (f64::from(*bps) - exact).abs() < 1.0 + 1e-6,
                "{payee:?}: {bps} vs {exact}"
            );
        }
        let t_ours = time(|| publish_from_levels(&nodes, &top, &mut 0));
        let t_walk = time(|| publish_by_walking(&nodes, &top, &models, &mut 0));
        println!(
            "{:<24} {:>10} {:>10} {:>10.1}µs {:>10.1}µs {:>8.1} {:>8.1}",
            format!("{width} wide × {layers} deep"),
            ours_reads,
            walk_reads,
            t_ours.as_secs_f64() * 1e6,
            t_walk.as_secs_f64() * 1e6,
            walk_reads as f64 / ours_reads as f64,
            t_walk.as_secs_f64() / t_ours.as_secs_f64()
        );
    }
}
