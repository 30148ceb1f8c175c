#!/usr/bin/env bash
# Regenerates every contract's JSON schema; with --check, fails if the committed schema drifted.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
for dir in $(contract_dirs); do
    name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1)
    (cd "$dir" && cargo run --quiet --locked --bin "$name-schema" > /dev/null)
done
if [ "${1:-}" = "--check" ]; then
    drift=$(git -C "$ROOT" status --porcelain -- ':(glob)contracts/*/schema/**')
    if [ -n "$drift" ]; then
        echo "schema drift: the committed JSON schema does not match the messages; run 'make schema' and commit:" >&2
        echo "$drift" >&2
        git -C "$ROOT" --no-pager diff --stat -- ':(glob)contracts/*/schema/**' >&2
        exit 1
    fi
    echo "schemas up to date"
fi
