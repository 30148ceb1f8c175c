//! `make bench-publish-gas`: SDK gas of one registry `Publish` (the contract's part: instance,
//! VM, KV store, events) with 0 to 10 000 workflows already registered, their fingerprints
//! crowding one neighbourhood, at the shipped derivative rules. The derivative lookup reads at most
//! 32 buckets of 8 and compares at most 32 fingerprints, so the gas must not grow with the registry.
//! Needs `make wasm`.

#[path = "scenario.rs"]
mod scenario;

fn main() {
    let path = format!(
        "{}/../../artifacts/workflow_registry.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run `make wasm`)"));
    let started = std::time::Instant::now();
    // Realistic neighbours: fillers sharing features with the base, buckets filling as it grows.
    let mut r = scenario::Registry::new(&wasm);
    let mut rows = vec![];
    for (round, size) in [1u64, 100, 1_000, 10_000].into_iter().enumerate() {
        r.fill_to(size);
        rows.push((r.published, r.measure(round as u64)));
    }
    table(
        "neighbours sharing 0 to 12 of the base's 20 features",
        &rows,
    );
    // The worst case: every bucket near the base full before anything else is published.
    let mut r = scenario::Registry::new(&wasm);
    let mut rows = vec![(r.published, r.measure_banded(0))];
    r.saturate();
    rows.push((r.published, r.measure_banded(1)));
    for (round, size) in [1_000u64, 10_000].into_iter().enumerate() {
        r.fill_to(size);
        rows.push((r.published, r.measure_banded(2 + round as u64)));
    }
    table(
        "worst case: the base's 32 buckets full from the second row on",
        &rows,
    );
    println!(
        "({} + {} publishes in {:.1} s)",
        10_000,
        r.published,
        started.elapsed().as_secs_f64()
    );
}

fn table(title: &str, rows: &[(u64, (u64, u64, u64))]) {
    let base = rows[0].1;
    println!("registry Publish, SDK gas (contract part; a tx adds ~31 450 ante + 10 per tx byte)");
    println!("{title}; ratios against the first row");
    println!(
        "{:>10}  {:>10} {:>6}  {:>10} {:>6}  {:>12} {:>6}",
        "registered", "unrelated", "ratio", "crowded", "ratio", "copy refused", "ratio"
    );
    for (n, (a, b, c)) in rows {
        println!(
            "{:>10}  {:>10} {:>6.3}  {:>10} {:>6.3}  {:>12} {:>6.3}",
            n,
            a,
            *a as f64 / base.0 as f64,
            b,
            *b as f64 / base.1 as f64,
            c,
            *c as f64 / base.2 as f64
        );
    }
    println!();
}
