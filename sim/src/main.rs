//! `make sim`: Monte Carlo games over Havn's verification rules at the parameters we ship. Each
//! job is played with the real decision code: each validator's draw and the threshold the
//! governance floor `p_min` gives (`havn_types::sampling`), the escalation and verdict rules
//! (`havn_types::decide`), the fee split (`havn_types::apportion_fee`) and the default slash,
//! reward, pot and split params of the contracts. Every strategy is played on
//! the same jobs and draws as honest play (common random numbers), and its expected profit per job
//! is reported against honest play with a 95 % interval. Exits 1 if any cheat comes out ahead.
//!
//! `havn-sim [--jobs N] [--fee UHAI] [--margin FRACTION] [--seed N]`; docs/verification.md reads
//! the table.

use cosmwasm_std::Uint128;
use havn_types::sampling::{draw_threshold, drawn};
use havn_types::{apportion_fee, decide, Ballot, Check, Decision, Split, Verdict};

/// How one validator behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Validator {
    /// Structural checks always; re-executes when drawn or when a job is escalated.
    Honest,
    /// Signs Valid after the structural checks only, drawn or escalated or not (its revealed
    /// seed proves the drawn ones: `ReportLazy`).
    Lazy,
    /// Never re-executes: signs nothing for a job it is drawn for (or escalated), a structural
    /// Valid for the rest. Nothing to prove, but no pay for those jobs.
    Abstaining,
    /// Commits no seed, so its draws can never be checked, and signs structurally always.
    Uncommitted,
    /// Claims a re-executed Valid when drawn without running anything (the verifier's
    /// dilemma), and re-executes for real once a job is escalated (it knows a dispute when it
    /// sees one): caught when the job was a fake someone else proves, or one of its node's audits.
    Pretending,
    /// Re-executes when drawn (paid), never when a dispute asks it to: its structural vote
    /// stands (it does not count in the dispute).
    Ignoring,
    /// Signs a re-executed Valid for the node's fakes without running them.
    Colluding,
    /// Covers the node's fakes without a lie it can be slashed for: a structural Valid, and
    /// no re-execution when the job is escalated (its vote is missing from the dispute).
    Blocking,
    /// Signs a re-executed Invalid for every job, to freeze and grief.
    Griefing,
}

/// A strategy: what the node does, what each validator does, and whose profit is compared.
struct Strategy {
    name: &'static str,
    /// Probability the node fakes a job.
    fake: f64,
    /// Share of the jobs whose node colludes with the counted validators: it skips its audits
    /// on them (answers honestly, proves nothing; forfeiting the fee as an audit would).
    skipping_node: f64,
    validators: Vec<Validator>,
    /// Whose profit counts: the node, and/or these validators (indices).
    node_counts: bool,
    counted: Vec<usize>,
    /// Shown beside the row.
    note: &'static str,
}

/// The shipped parameters the games are played at.
struct Params {
    validators: usize,
    /// Each validator's draw threshold: `draw_threshold(p_min_bps, validators)`.
    threshold: u64,
    quorum_bps: u16,
    min_signers: u32,
    split: Split,
    node_stake: u128,
    validator_stake: u128,
    slash_fraud: f64,
    slash_false_attestation: f64,
    slash_false_challenge: f64,
    reporter_reward: f64,
    slash_lazy: f64,
    /// Probability a job is one of its node's audits (`audit_bps`).
    audit_rate: f64,
    /// Share of each job's validator pool that goes to the re-execution pot.
    pot_share: f64,
    fee: u128,
    /// The node's compute cost per job, as a fraction of its share of the fee (its margin is the
    /// rest); a validator's re-execution costs the same.
    cost_fraction: f64,
    /// Probability an honest result fails one validator's re-execution on the ladder.
    false_negative: f64,
}

impl Params {
    fn shipped(fee: u128, margin: f64) -> Self {
        let log = havn_execution_log::state::Params::default();
        let staking = havn_staking::state::Params::default();
        let payout = havn_payout::state::Params::default();
        let f = |d: cosmwasm_std::Decimal| d.to_string().parse::<f64>().expect("decimal");
        let validators = 4;
        Params {
            validators,
            threshold: draw_threshold(log.p_min_bps, validators as u32),
            quorum_bps: log.quorum_bps,
            min_signers: log.min_signers,
            split: Split::DEFAULT.without_upstream(),
            node_stake: staking.min_stake_node.u128(),
            validator_stake: staking.min_stake_validator.u128(),
            slash_fraud: f(staking.slash_fraud),
            slash_false_attestation: f(staking.slash_false_attestation),
            slash_false_challenge: f(staking.slash_false_challenge),
            reporter_reward: f(staking.reporter_reward),
            slash_lazy: f(staking.slash_lazy),
            audit_rate: f64::from(log.audit_bps) / 10_000.0,
            pot_share: f64::from(payout.reexecution_pot_bps) / 10_000.0,
            fee,
            cost_fraction: 1.0 - margin,
            // An assumption, not a measurement: honest cross-device runs sit 8-20x inside the
            // ladder's thresholds (docs/runtime.md); 1e-3 per re-execution is pessimistic.
            false_negative: 1e-3,
        }
    }

    fn node_share(&self) -> f64 {
        let shares = apportion_fee::<()>(Uint128::new(self.fee), &self.split, &[]).expect("split");
        shares.node.u128() as f64
    }

    fn cost(&self) -> f64 {
        self.cost_fraction * self.node_share()
    }

    /// Each validator's draw probability.
    fn rate(&self) -> f64 {
        self.threshold as f64 / 2f64.powi(64)
    }

    fn validator_pool(&self) -> f64 {
        let shares = apportion_fee::<()>(Uint128::new(self.fee), &self.split, &[]).expect("split");
        shares.validator.u128() as f64
    }

    /// What one proven re-execution earns from the pot in steady state: what each job puts in,
    /// over the re-executions claimed per job: the drawn ones (`n·r`) and, on the audits, every
    /// validator's (`n·q`). The pot pays a fixed share of itself per claim, so it settles where
    /// inflow and claims balance.
    fn pot_reward(&self) -> f64 {
        self.pot_share * self.validator_pool()
            / (self.validators as f64 * (self.rate() + self.audit_rate))
    }
}

/// What one job paid each party (node first, then validators), and what happened.
struct Played {
    profit: Vec<f64>,
    fake: bool,
    caught: bool,
    honest_slashed: bool,
}

/// SplitMix64: a small, fast, seedable generator (the draws that matter are the protocol's own).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn play(p: &Params, s: &Strategy, secrets: &[[u8; 32]], job: u64, rng: &mut Rng) -> Played {
    let n = s.validators.len();
    let fake = rng.next() < s.fake;
    // The node's tree makes the job an audit; a node colluding with the counted validators
    // skips it (both drawn every time, so every strategy sees the same jobs).
    let (audit_drawn, skipping) = (rng.next() < p.audit_rate, rng.next() < s.skipping_node);
    let audit = audit_drawn && !skipping;
    let wrong = fake || audit;
    let cost = p.cost();
    // The claimed output: an honest one, or the fake's own bytes (the draw depends on it).
    let mut output = [0u8; 32];
    output[..8].copy_from_slice(&job.to_be_bytes());
    output[8] = u8::from(fake) | u8::from(audit) << 1;
    let drawn_now: Vec<bool> = (0..n)
        .map(|i| drawn(&secrets[i], job, &output, p.threshold))
        .collect();
    // Each validator's own answer to an honest re-execution (drawn the same for every strategy).
    let honest_rerun: Vec<Verdict> = (0..n)
        .map(|_| match rng.next() < p.false_negative {
            true => Verdict::Invalid,
            false => Verdict::Valid,
        })
        .collect();
    let rerun = |i: usize| match wrong {
        true => Verdict::Invalid,
        false => honest_rerun[i],
    };
    let mut reexecutions = vec![0u32; n];
    let reexecuted = Check::Reexecuted { rung: 1 };
    let vote =
        |i: usize, escalated: bool, reexecutions: &mut Vec<u32>| -> Option<(Verdict, Check)> {
            let asked = escalated || drawn_now[i];
            match s.validators[i] {
                Validator::Honest if asked => {
                    reexecutions[i] += 1;
                    Some((rerun(i), reexecuted))
                }
                Validator::Abstaining if asked => None,
                Validator::Ignoring if escalated => None,
                Validator::Ignoring if asked => {
                    reexecutions[i] += 1;
                    Some((rerun(i), reexecuted))
                }
                Validator::Honest
                | Validator::Lazy
                | Validator::Abstaining
                | Validator::Ignoring
                | Validator::Uncommitted => Some((Verdict::Valid, Check::Structural)),
                // The node tells its colluders which jobs are its audits; they cover only fakes.
                Validator::Colluding if fake && !audit => Some((Verdict::Valid, reexecuted)),
                Validator::Blocking if fake && !audit => Some((Verdict::Valid, Check::Structural)),
                Validator::Colluding | Validator::Blocking => {
                    reexecutions[i] += 1;
                    Some((rerun(i), reexecuted))
                }
                Validator::Griefing => Some((Verdict::Invalid, reexecuted)),
                Validator::Pretending if escalated => {
                    reexecutions[i] += 1;
                    Some((rerun(i), reexecuted))
                }
                Validator::Pretending if asked => Some((Verdict::Valid, reexecuted)),
                Validator::Pretending => Some((Verdict::Valid, Check::Structural)),
            }
        };
    let mut votes: Vec<Option<(Verdict, Check)>> =
        (0..n).map(|i| vote(i, false, &mut reexecutions)).collect();
    // Any Invalid escalates the job in the mesh; an audit is disputed on chain by the node's
    // proof once the votes are in, and escalated then.
    let escalated = audit || votes.iter().flatten().any(|v| v.0 == Verdict::Invalid);
    if escalated {
        // Every validator that answered structurally is asked to re-execute (an upgrade).
        for (i, v) in votes.iter_mut().enumerate() {
            if v.is_some_and(|v| v.1 == Check::Structural) {
                *v = vote(i, true, &mut reexecutions).or(*v);
            }
        }
    }
    let stake = Uint128::new(p.validator_stake);
    let ballots: Vec<Ballot> = votes
        .iter()
        .flatten()
        .map(|&(v, c)| (v, c, stake))
        .collect();
    let total = Uint128::new(p.validator_stake * n as u128);
    // A dispute that no re-execution quorum decides goes to governance's arbitration, which
    // re-runs the job: the sim assumes the $HAI vote is honest (docs/verification.md).
    let decision = match decide(&ballots, total, p.quorum_bps, p.min_signers, audit) {
        Decision::Disputed if wrong => Decision::Invalid,
        Decision::Disputed => Decision::Upheld,
        // A node that skipped its audit proves nothing: the job is refunded, nobody paid.
        Decision::Upheld | Decision::Valid { .. } if audit_drawn && skipping => Decision::Undecided,
        decision => decision,
    };

    let mut profit = vec![0.0; n + 1];
    if !fake {
        profit[0] -= cost;
    }
    for (i, r) in reexecutions.iter().enumerate() {
        profit[i + 1] -= cost * f64::from(*r);
    }
    let voted = |i: usize| votes[i];
    let (vs, ns) = (p.validator_stake as f64, p.node_stake as f64);
    // A drawn validator that signed a structural Valid is proven lazy once its seed is out.
    for i in 0..n {
        if drawn_now[i]
            && s.validators[i] != Validator::Uncommitted
            && voted(i) == Some((Verdict::Valid, Check::Structural))
        {
            profit[i + 1] -= p.slash_lazy * vs;
        }
    }
    // The pot pays each drawn re-execution, and each a dispute asked for, that agrees with the
    // verdict.
    let pot = |verdict: Verdict, profit: &mut Vec<f64>| {
        for i in 0..n {
            if (drawn_now[i] || escalated)
                && s.validators[i] != Validator::Uncommitted
                && voted(i).is_some_and(|v| v.0 == verdict && v.1.reexecuted())
            {
                profit[i + 1] += p.pot_reward();
            }
        }
    };
    match decision {
        Decision::Invalid => {
            // An audit costs its node nothing but the fee; a fake, the fraud slash.
            let node_slash = if audit { 0.0 } else { p.slash_fraud * ns };
            let mut pool = node_slash;
            profit[0] -= node_slash;
            for i in 0..n {
                if voted(i).is_some_and(|v| v.0 == Verdict::Valid && v.1.reexecuted()) {
                    profit[i + 1] -= p.slash_false_attestation * vs;
                    pool += p.slash_false_attestation * vs;
                }
            }
            let provers: Vec<usize> = (0..n)
                .filter(|&i| voted(i).is_some_and(|v| v.0 == Verdict::Invalid))
                .collect();
            for &i in &provers {
                profit[i + 1] += p.reporter_reward * pool / provers.len() as f64;
            }
            pot(Verdict::Invalid, &mut profit);
        }
        Decision::Upheld | Decision::Valid { .. } => {
            profit[0] += p.node_share();
            // The node proved an audit the re-executions upheld: its bond.
            if audit {
                profit[0] -= p.slash_false_challenge * ns;
            }

            // The signers' part of the pool, to those with a seed for the epoch.
            let paid: Vec<usize> = (0..n)
                .filter(|&i| {
                    voted(i).is_some_and(|v| v.0 == Verdict::Valid)
                        && s.validators[i] != Validator::Uncommitted
                })
                .collect();
            for &i in &paid {
                profit[i + 1] += (1.0 - p.pot_share) * p.validator_pool() / paid.len() as f64;
            }
            for i in 0..n {
                if voted(i).is_some_and(|v| v.0 == Verdict::Invalid) {
                    profit[i + 1] -= p.slash_false_challenge * vs;
                }
            }
            pot(Verdict::Valid, &mut profit);
        }
        // No quorum at all: the caller takes the fee back, nobody is slashed.
        Decision::Disputed | Decision::Undecided => {}
    }
    Played {
        profit,
        fake,
        caught: fake && decision == Decision::Invalid,
        honest_slashed: !fake && !audit && decision == Decision::Invalid,
    }
}

/// Mean and 95 % half-width of per-job paired differences.
fn interval(diffs: &[f64]) -> (f64, f64) {
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, 1.96 * (var / n).sqrt())
}

struct Row {
    name: &'static str,
    note: &'static str,
    mean: f64,
    half: f64,
    caught: Option<f64>,
}

impl Row {
    fn ahead(&self) -> bool {
        self.mean - self.half > 0.0
    }
}

fn honest(n: usize) -> Vec<Validator> {
    vec![Validator::Honest; n]
}

fn strategies(n: usize) -> Vec<Strategy> {
    let with = |i: usize, v: Validator| {
        let mut all = honest(n);
        all[i] = v;
        all
    };
    vec![
        Strategy {
            name: "fake every job",
            fake: 1.0,
            skipping_node: 0.0,
            validators: honest(n),
            node_counts: true,
            counted: vec![],
            note: "plausible bytes of the right size",
        },
        Strategy {
            name: "fake 10 % of jobs",
            fake: 0.1,
            skipping_node: 0.0,
            validators: honest(n),
            node_counts: true,
            counted: vec![],
            note: "",
        },
        Strategy {
            name: "fake, relaying its own batches",
            fake: 1.0,
            skipping_node: 0.0,
            validators: honest(n),
            node_counts: true,
            counted: vec![],
            note: "the reward goes to the provers, not the relayer",
        },
        Strategy {
            name: "fake, then cancel or unbond",
            fake: 1.0,
            skipping_node: 0.0,
            validators: honest(n),
            node_counts: true,
            counted: vec![],
            note: "refused: no cancel after a result; unbonding stake is slashed",
        },
        Strategy {
            name: "fake + 1 colluding validator",
            fake: 1.0,
            skipping_node: 0.0,
            validators: with(0, Validator::Colluding),
            node_counts: true,
            counted: vec![0],
            note: "node and colluder together",
        },
        Strategy {
            name: "fake + 2 colluding validators",
            fake: 1.0,
            skipping_node: 0.0,
            validators: {
                let mut v = with(0, Validator::Colluding);
                v[1] = Validator::Colluding;
                v
            },
            node_counts: true,
            counted: vec![0, 1],
            note:
                "half the stake blocks the validators' verdict; governance arbitrates the dispute",
        },
        Strategy {
            name: "fake + 2 validators blocking silently",
            fake: 1.0,
            skipping_node: 0.0,
            validators: {
                let mut v = with(0, Validator::Blocking);
                v[1] = Validator::Blocking;
                v
            },
            node_counts: true,
            counted: vec![0, 1],
            note: "structural Valid, then no re-execution: nothing to slash them for; the node is",
        },
        Strategy {
            name: "lazy validator",
            fake: 0.0,
            skipping_node: 0.0,
            validators: with(0, Validator::Lazy),
            node_counts: false,
            counted: vec![0],
            note: "signs structurally when drawn: its revealed seed proves it (slash_lazy)",
        },
        Strategy {
            name: "validator abstaining when drawn",
            fake: 0.0,
            skipping_node: 0.0,
            validators: with(0, Validator::Abstaining),
            node_counts: false,
            counted: vec![0],
            note: "nothing to prove, but it forgoes the pot's reward for the re-execution",
        },
        Strategy {
            name: "validator ignoring disputes",
            fake: 0.0,
            skipping_node: 0.0,
            validators: with(0, Validator::Ignoring),
            node_counts: false,
            counted: vec![0],
            note: "re-executes only when drawn: forgoes the pot's pay for the disputes' re-executions",
        },
        Strategy {
            name: "validator pretending to re-execute",
            fake: 0.0,
            skipping_node: 0.0,
            validators: with(0, Validator::Pretending),
            node_counts: false,
            counted: vec![0],
            note: "among honest nodes, their audits catch it (slash_false_attestation)",
        },
        Strategy {
            name: "pretending, 5 % of jobs faked",
            fake: 0.05,
            skipping_node: 0.0,
            validators: with(0, Validator::Pretending),
            node_counts: false,
            counted: vec![0],
            note: "each fake another validator proves slashes it (slash_false_attestation)",
        },
        Strategy {
            name: "pretending, its own node skipping audits",
            fake: 0.0,
            skipping_node: 0.25,
            validators: with(0, Validator::Pretending),
            node_counts: false,
            counted: vec![0],
            note: "a node serving 25 % of the jobs tells it its audits and skips them; the others' audits still catch it",
        },
        Strategy {
            name: "validator without a seed",
            fake: 0.0,
            skipping_node: 0.0,
            validators: with(0, Validator::Uncommitted),
            node_counts: false,
            counted: vec![0],
            note: "its draws cannot be checked, so it is paid nothing",
        },
        Strategy {
            name: "griefing challenger",
            fake: 0.0,
            skipping_node: 0.0,
            validators: with(0, Validator::Griefing),
            node_counts: false,
            counted: vec![0],
            note: "challenges honest jobs",
        },
    ]
}

/// Plays `strategy` and honest play on the same jobs; the counted parties' profit difference.
fn compare(p: &Params, s: &Strategy, jobs: u64, seed: u64) -> Row {
    let secrets: Vec<[u8; 32]> = (0..s.validators.len())
        .map(|i| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(seed ^ (i as u64 + 1)).to_le_bytes());
            k
        })
        .collect();
    // A validator's strategy is compared with an honest validator among the same nodes.
    let baseline = Strategy {
        name: "honest",
        fake: if s.node_counts { 0.0 } else { s.fake },
        skipping_node: s.skipping_node,
        validators: honest(s.validators.len()),
        node_counts: s.node_counts,
        counted: s.counted.clone(),
        note: "",
    };
    let (mut cheat_rng, mut honest_rng) = (Rng(seed), Rng(seed));
    let (mut diffs, mut fakes, mut caught) = (Vec::new(), 0u64, 0u64);
    for job in 1..=jobs {
        let a = play(p, s, &secrets, job, &mut cheat_rng);
        let b = play(p, &baseline, &secrets, job, &mut honest_rng);
        let counted = |x: &Played| {
            let node = if s.node_counts { x.profit[0] } else { 0.0 };
            node + s.counted.iter().map(|&i| x.profit[i + 1]).sum::<f64>()
        };
        diffs.push(counted(&a) - counted(&b));
        fakes += u64::from(a.fake);
        caught += u64::from(a.caught);
    }
    let (mean, half) = interval(&diffs);
    Row {
        name: s.name,
        note: s.note,
        mean,
        half,
        caught: (fakes > 0).then(|| caught as f64 / fakes as f64),
    }
}

/// Honest play's own risk: how often an honest node is slashed.
fn honest_false_slash(p: &Params, jobs: u64, seed: u64) -> (f64, f64) {
    let s = Strategy {
        name: "honest",
        fake: 0.0,
        skipping_node: 0.0,
        validators: honest(p.validators),
        node_counts: true,
        counted: vec![],
        note: "",
    };
    let secrets: Vec<[u8; 32]> = (0..p.validators).map(|i| [i as u8 + 1; 32]).collect();
    let mut rng = Rng(seed);
    let slashed = (1..=jobs)
        .filter(|&job| play(p, &s, &secrets, job, &mut rng).honest_slashed)
        .count();
    // Analytic: a slash needs an Invalid quorum (3 of 4) of wrong re-executions.
    let e = p.false_negative;
    let analytic = 4.0 * e.powi(3) * (1.0 - e) + e.powi(4);
    (slashed as f64 / jobs as f64, analytic)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("havn-sim [--jobs N] [--fee UHAI] [--margin FRACTION] [--seed N]\n\nPlays each cheating strategy against honest play at the shipped params and exits 1 if one comes out ahead.");
        return std::process::ExitCode::SUCCESS;
    }
    let parse = |name: &str, default: &str| arg(&args, name).unwrap_or_else(|| default.into());
    let (jobs, fee, margin, seed) = match (
        parse("--jobs", "100000").parse::<u64>(),
        parse("--fee", "10000").parse::<u128>(),
        parse("--margin", "0.5").parse::<f64>(),
        parse("--seed", "1").parse::<u64>(),
    ) {
        (Ok(j), Ok(f), Ok(m), Ok(s)) if j > 1 && (0.0..=1.0).contains(&m) => (j, f, m, s),
        _ => {
            eprintln!("havn-sim: --jobs N (> 1), --fee UHAI, --margin 0..1, --seed N");
            return std::process::ExitCode::from(2);
        }
    };
    let p = Params::shipped(fee, margin);
    let model = 1.0 - (1.0 - p.rate()).powi(p.validators as i32);
    println!(
        "{} validators, each drawn with r = {:.4} (p_min {} %), fee {} uhai (node share {}, compute cost {:.0}, pot reward per drawn re-execution {:.0}), node stake {} uhai, {jobs} jobs per strategy\n",
        p.validators,
        p.rate(),
        havn_execution_log::state::Params::default().p_min_bps / 100,
        p.fee,
        p.node_share(),
        p.cost(),
        p.pot_reward(),
        p.node_stake
    );
    println!(
        "| strategy | profit per job vs honest (uhai, 95 %) | fakes caught | verdict | note |"
    );
    println!("|---|---:|---:|---|---|");
    let mut ahead = vec![];
    for s in strategies(p.validators) {
        let row = compare(&p, &s, jobs, seed);
        let verdict = if row.ahead() { "AHEAD" } else { "loses" };
        if row.ahead() {
            ahead.push(row.name);
        }
        println!(
            "| {} | {:+.1} ± {:.1} | {} | {verdict} | {} |",
            row.name,
            row.mean,
            row.half,
            row.caught
                .map_or("–".into(), |c| format!("{:.2} %", 100.0 * c)),
            row.note
        );
    }
    let (observed, analytic) = honest_false_slash(&p, jobs, seed);
    let (s_n, f, s) = (p.node_share(), p.slash_fraud, p.node_stake as f64);
    // Faking pays once the compute saved exceeds p·(node share + slash): c = (1 − margin)·share.
    let break_even_share = model * f * s / (p.cost_fraction - model);
    println!(
        "\nP(a fake is caught), model 1 − (1 − r)^n: {:.2} %",
        100.0 * model
    );
    println!(
        "honest node slashed per job: {observed:.2e} observed, {analytic:.1e} analytic (re-execution false-negative {:.0e}, an Invalid quorum of them needed)",
        p.false_negative
    );
    if p.cost_fraction > model {
        println!(
            "faking pays only for jobs whose node share exceeds {:.0} uhai (fee ≈ {:.0} uhai) at this stake and margin; today {s_n} uhai",
            break_even_share,
            break_even_share * 10_000.0 / f64::from(p.split.node)
        );
    }
    // Pretending saves a drawn validator the re-execution c; one of the node's audits (rate q)
    // costs it f·S_v: it pays only while c > q·f·S_v / (1 − q).
    let (q, fa) = (p.audit_rate, p.slash_false_attestation);
    let pretend_break_even = q * fa * p.validator_stake as f64 / (1.0 - q);
    println!(
        "pretending to re-execute pays only for jobs whose re-execution costs more than {pretend_break_even:.0} uhai (audits {:.1} %, slash_false_attestation {:.0} %, validator stake {}); today {:.0} uhai",
        100.0 * q,
        100.0 * fa,
        p.validator_stake,
        p.cost()
    );
    match ahead.is_empty() {
        true => std::process::ExitCode::SUCCESS,
        false => {
            eprintln!("havn-sim: ahead of honest play: {}", ahead.join(", "));
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str) -> Row {
        let p = Params::shipped(10_000, 0.5);
        let s = strategies(p.validators)
            .into_iter()
            .find(|s| s.name == name)
            .unwrap();
        compare(&p, &s, 4_000, 7)
    }

    /// Every attack loses at the shipped defaults; the fraction caught matches the floor p_min.
    #[test]
    fn faking_and_its_dodges_lose_at_the_shipped_defaults() {
        for name in [
            "fake every job",
            "fake 10 % of jobs",
            "fake, relaying its own batches",
            "fake, then cancel or unbond",
            "fake + 1 colluding validator",
            "fake + 2 colluding validators",
            "fake + 2 validators blocking silently",
            "griefing challenger",
            "lazy validator",
            "validator abstaining when drawn",
            "validator ignoring disputes",
            "validator without a seed",
        ] {
            let r = row(name);
            assert!(
                !r.ahead() && r.mean < 0.0,
                "{name}: {} ± {}",
                r.mean,
                r.half
            );
        }
        let caught = row("fake every job").caught.unwrap();
        let model = f64::from(havn_execution_log::state::Params::default().p_min_bps) / 10_000.0;
        // 4000 jobs: binomial sd 0.6 %; 3.29 sd.
        assert!(
            (caught - model).abs() < 0.02,
            "caught {caught}, model {model}"
        );
    }

    /// The verifier's dilemma: without audits a validator that signs re-executions it never ran
    /// comes out ahead among honest nodes; the nodes' audits turn it into a loss.
    #[test]
    fn audits_make_pretending_to_reexecute_lose() {
        let s = strategies(4)
            .into_iter()
            .find(|s| s.name == "validator pretending to re-execute")
            .unwrap();
        let mut p = Params::shipped(10_000, 0.5);
        p.audit_rate = 0.0;
        let without = compare(&p, &s, 40_000, 11);
        assert!(without.ahead(), "{} ± {}", without.mean, without.half);
        // A slash comes once in ~1 800 jobs: enough jobs that the interval means something.
        for name in [
            "validator pretending to re-execute",
            "pretending, 5 % of jobs faked",
            "pretending, its own node skipping audits",
        ] {
            let p = Params::shipped(10_000, 0.5);
            let s = strategies(4).into_iter().find(|s| s.name == name).unwrap();
            let r = compare(&p, &s, 40_000, 11);
            assert!(
                !r.ahead() && r.mean < 0.0,
                "{name}: {} ± {}",
                r.mean,
                r.half
            );
        }
    }

    #[test]
    fn an_honest_node_is_almost_never_slashed() {
        let p = Params::shipped(10_000, 0.5);
        let (observed, analytic) = honest_false_slash(&p, 4_000, 3);
        assert!(analytic <= 1e-6, "{analytic}");
        assert_eq!(observed, 0.0);
    }
}
