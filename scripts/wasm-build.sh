#!/usr/bin/env bash
# Builds every contract to wasm, lowers it to the MVP feature set CosmWasm 2.x chains accept, and
# writes artifacts/<contract>.wasm and artifacts/checksums.txt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ -x "$WASM_OPT" ] || { echo "wasm-build: $WASM_OPT missing; run 'make tools'" >&2; exit 1; }

# Same bytes from any checkout: no absolute paths in panic locations.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=$ROOT=/havn --remap-path-prefix=$HOME/.cargo=/cargo"

mkdir -p "$ARTIFACTS/testing"
rm -f "$ARTIFACTS"/*.wasm "$ARTIFACTS"/checksums.txt "$ARTIFACTS"/testing/*.wasm
for dir in $(contract_dirs) $(test_contract_dirs); do
    package=$(package_name "$dir")
    crate=${package//-/_}
    # One contract per cargo call: building two at once would unify the `library` feature of one
    # into the other and strip its entry points.
    cargo build --quiet --locked --release --lib --target wasm32-unknown-unknown -p "$package"
    raw=$TARGET_DIR/wasm32-unknown-unknown/release/$crate.wasm
    # rustc >= 1.87 emits bulk-memory, sign-ext and trunc-sat ops even for target-cpu=mvp
    # (the precompiled std has them); CosmWasm 2.x refuses them, so lower them here.
    out=$ARTIFACTS/${crate#havn_}.wasm
    case $dir in */contracts/testing/*) out=$ARTIFACTS/testing/${crate#havn_}.wasm ;; esac
    "$WASM_OPT" -Os --llvm-memory-copy-fill-lowering --signext-lowering --llvm-nontrapping-fptoint-lowering \
        --strip-debug --strip-producers --strip-target-features "$raw" -o "$out"
    echo "built $out ($(stat -c %s "$raw") -> $(stat -c %s "$out") bytes)"
done
(cd "$ARTIFACTS" && sha256sum ./*.wasm testing/*.wasm | sed 's| \./| |' > checksums.txt)
cat "$ARTIFACTS/checksums.txt"
