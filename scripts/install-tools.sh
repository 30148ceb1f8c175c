#!/usr/bin/env bash
# Installs what a fresh machine lacks for the wasm pipeline, into $HAVN_CACHE (idempotent).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mkdir -p "$HAVN_CACHE"

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
for component in rustfmt clippy; do
    rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done

# binaryen from npm: the first wasm-opt with the lowering passes CosmWasm 2.x needs (Debian's is 108).
if ! "$WASM_OPT" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    echo "installing binaryen $BINARYEN_VERSION (wasm-opt) into $HAVN_CACHE"
    prefix=$(dirname "$(dirname "$(dirname "$WASM_OPT")")")
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION"
fi

# cosmwasm-check, pinned: 2.3.6+ needs rustc 1.96. A cold build takes 10-30 minutes on 2 cores.
if ! "$COSMWASM_CHECK" --version 2>/dev/null | grep -q "$COSMWASM_CHECK_VERSION"; then
    echo "installing cosmwasm-check $COSMWASM_CHECK_VERSION into $HAVN_CACHE (slow the first time)"
    cargo install --locked --quiet "cosmwasm-check@=$COSMWASM_CHECK_VERSION" --root "$HAVN_CACHE/cosmwasm-check-$COSMWASM_CHECK_VERSION"
fi

echo "tools: $("$WASM_OPT" --version), $("$COSMWASM_CHECK" --version)"
