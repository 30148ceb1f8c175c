//! A registry `Publish` costs the same SDK gas (within 2 %) however many workflows are registered
//! once the index is at its worst case: the derivative lookup reads at most 32 buckets of 8 and
//! compares at most 32 fingerprints. `make bench-publish-gas` prints the gas up to 10 000
//! workflows. Needs `make wasm`.

#[path = "../examples/publish_gas/scenario.rs"]
#[allow(dead_code)] // the bench's table helpers
mod scenario;

#[test]
fn publish_gas_stops_growing_once_the_buckets_are_full() {
    let path = format!(
        "{}/../../artifacts/workflow_registry.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut r = scenario::Registry::new(&std::fs::read(path).expect("run `make wasm`"));
    let empty = r.measure_banded(0);
    r.saturate();
    let full = r.measure_banded(1);
    // Near the base, full buckets cost more than empty ones: the reads are real.
    assert!(
        full.1 > empty.1 + 20_000,
        "crowded: {empty:?} empty, {full:?} full"
    );
    assert!(
        full.2 > empty.2 + 20_000,
        "copy: {empty:?} empty, {full:?} full"
    );
    let before = r.published;
    r.fill_to(before + 900);
    let grown = r.measure_banded(2);
    // Within 2 %: the lengths of ids and keys differ, and the wasm work of sorting and comparing
    // slots depends on their values (the bench sees ±1.2 % between rounds, both ways).
    for (what, f, g) in [
        ("unrelated", full.0, grown.0),
        ("crowded", full.1, grown.1),
        ("refused copy", full.2, grown.2),
    ] {
        assert!(
            (g as f64) < f as f64 * 1.02 && (g as f64) > f as f64 * 0.98,
            "{what}: {f} gas at {before} workflows, {g} at {}",
            r.published
        );
    }
}
