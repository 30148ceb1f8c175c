# Shared settings for the build scripts; sourced, not run.
# Tools live in a cache outside the clone, so fresh clones and CI reuse them.
HAVN_CACHE=${HAVN_CACHE:-$HOME/.cache/havn}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
ARTIFACTS=$ROOT/artifacts

BINARYEN_VERSION=132.0.0
COSMWASM_CHECK_VERSION=2.3.5
WASM_OPT=${WASM_OPT:-$HAVN_CACHE/binaryen-${BINARYEN_VERSION%%.*}/node_modules/.bin/wasm-opt}
COSMWASM_CHECK=${COSMWASM_CHECK:-$HAVN_CACHE/cosmwasm-check-$COSMWASM_CHECK_VERSION/bin/cosmwasm-check}

# What a wasmvm 2.x chain offers. Checking against this set proves we need nothing newer.
CAPABILITIES=iterator,staking,stargate,cosmwasm_1_1,cosmwasm_1_2,cosmwasm_1_3,cosmwasm_1_4,cosmwasm_2_0
# Size budget per contract, in bytes (docs/wasm-pipeline.md: wasmd refuses over 800 KiB; size costs
# upload gas once, 3 per byte, and nothing per call).
MAX_WASM_BYTES=520000

# Deployable contracts: crates directly under contracts/ (contracts/packages/* are libraries).
contract_dirs() {
    for manifest in "$ROOT"/contracts/*/Cargo.toml; do
        dirname "$manifest"
    done
}

# Test contracts (contracts/testing/*): built and checked like the others into artifacts/testing/,
# never deployed, no schema.
test_contract_dirs() {
    for manifest in "$ROOT"/contracts/testing/*/Cargo.toml; do
        dirname "$manifest"
    done
}

package_name() {
    sed -n 's/^name *= *"\(.*\)"/\1/p' "$1/Cargo.toml" | head -n 1
}
