#!/usr/bin/env bash
# Builds every contract to wasm, lowers it to the MVP feature set CosmWasm 2.x chains accept, and
# writes artifacts/<contract>.wasm and artifacts/checksums.txt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ -x "$WASM_OPT" ] || { echo "wasm-build: $WASM_OPT missing; run 'make tools'" >&2; exit 1; }

# Same bytes from any checkout: no absolute paths in panic locations.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=$ROOT=/havn --remap-path-prefix=$HOME/.cargo=/cargo"

OPT_FLAGS="-Os --llvm-memory-copy-fill-lowering --signext-lowering --llvm-nontrapping-fptoint-lowering --strip-debug --strip-producers --strip-target-features"
OPT_CACHE=${HAVN_CACHE:-$HOME/.cache/havn}/wasm-opt
mkdir -p "$ARTIFACTS/testing" "$OPT_CACHE"
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
    # wasm-opt takes ~14 s a module here: its output is cached by the input's hash, the flags and
    # the wasm-opt version, so an unchanged contract costs only cargo's no-op.
    key=$( (sha256sum < "$raw"; echo "$OPT_FLAGS"; "$WASM_OPT" --version) | sha256sum | cut -c1-64)
    cached=$OPT_CACHE/$key.wasm
    if [ ! -f "$cached" ]; then
        # shellcheck disable=SC2086
        "$WASM_OPT" $OPT_FLAGS "$raw" -o "$cached.tmp" && mv "$cached.tmp" "$cached"
    fi
    cp "$cached" "$out"
    echo "built $out ($(stat -c %s "$raw") -> $(stat -c %s "$out") bytes)"
done
(cd "$ARTIFACTS" && sha256sum ./*.wasm testing/*.wasm | sed 's| \./| |' > checksums.txt)
cat "$ARTIFACTS/checksums.txt"
