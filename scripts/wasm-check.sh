#!/usr/bin/env bash
# Checks every artifact the way a chain would: the CosmWasm 2.x VM's own static checks against a
# wasmvm 2.x capability set, our opcode scan and size budget, and the recorded checksums.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ -x "$COSMWASM_CHECK" ] || { echo "wasm-check: $COSMWASM_CHECK missing; run 'make tools'" >&2; exit 1; }
shopt -s nullglob
wasms=("$ARTIFACTS"/*.wasm)
[ ${#wasms[@]} -gt 0 ] || { echo "wasm-check: no artifacts; run 'make wasm'" >&2; exit 1; }
[ ${#wasms[@]} -eq "$(contract_dirs | wc -l)" ] || { echo "wasm-check: artifacts/ does not match contracts/; run 'make wasm'" >&2; exit 1; }

(cd "$ARTIFACTS" && sha256sum --check --quiet checksums.txt)
"$COSMWASM_CHECK" --available-capabilities "$CAPABILITIES" "${wasms[@]}" "$ARTIFACTS"/testing/*.wasm
cargo run --quiet --locked -p wasm-audit -- --max-bytes "$MAX_WASM_BYTES" "${wasms[@]}"
