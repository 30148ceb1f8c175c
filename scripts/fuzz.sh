#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS each (30 by default, as in
# `make test`; longer by hand: FUZZ_SECONDS=3600 make fuzz), from its seeds in fuzz/seeds, and prints one line per
# target: executions, corpus size, and crashes. Installs cargo-fuzz (pinned) and a nightly
# toolchain when the machine lacks them. Exits non-zero on the first crash, with libFuzzer's
# reproducer in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
HAVN_CACHE=${HAVN_CACHE:-$HOME/.cache/havn}
CARGO_FUZZ_VERSION=0.13.1
SECONDS_EACH=${FUZZ_SECONDS:-30}
export PATH=$HAVN_CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION/bin:$PATH
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install --locked --quiet "cargo-fuzz@=$CARGO_FUZZ_VERSION" --root "$HAVN_CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION"
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
# Its own target dir: nightly with coverage instrumentation shares nothing with stable builds.
# One per checkout: two clones' path crates in one dir were seen to mix (mismatched types).
export CARGO_TARGET_DIR=$HAVN_CACHE/fuzz-target-$(pwd | sha256sum | cut -c1-12)
# No sanitizer: the targets look for panics (the code under test has no unsafe of its own), and
# without ASan each run is faster and the build lighter.
cargo +nightly fuzz build --fuzz-dir fuzz -s none
for target in $(cargo +nightly fuzz list --fuzz-dir fuzz); do
    corpus=$(mktemp -d)
    log=$(mktemp)
    status=0
    cargo +nightly fuzz run --fuzz-dir fuzz -s none "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 > "$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    echo "fuzz $target: ${runs:-0} executions in ${SECONDS_EACH} s, corpus $(ls "$corpus" | wc -l) inputs, $( [ "$status" = 0 ] && echo "0 crashes" || echo "CRASHED")"
    if [ "$status" != 0 ]; then
        tail -40 "$log"
        exit 1
    fi
    rm -rf "$corpus" "$log"
done
