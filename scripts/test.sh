#!/usr/bin/env bash
# Runs every Rust test in the workspace (unit, property, multi-test) and ends with one total line.
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# HAVN_FEATURES (the Makefile's): the CLI with its local-network tooling, which the network tests run.
cargo test --locked --workspace --all-targets ${HAVN_FEATURES:---features havn-sdk/network} 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
