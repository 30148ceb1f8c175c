#!/usr/bin/env bash
# Builds havnd (chain/havnd, Go) once per source: the binary and Go's module and build caches
# live in $HAVN_CACHE, keyed by go.mod, go.sum and the .go files; the binary is linked next to
# the cargo binaries, where `havn network up --chain havnd` looks for it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
src=$ROOT/chain/havnd
key=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)
bin=$HAVN_CACHE/havnd/$key/havnd
export GOMODCACHE=$HAVN_CACHE/go/mod GOCACHE=$HAVN_CACHE/go/build GOFLAGS=-mod=readonly
if [ ! -x "$bin" ]; then
    command -v go > /dev/null || { echo "havnd needs Go (1.23+): install it first" >&2; exit 1; }
    echo "building havnd $key with $(go version | cut -d' ' -f3) (cold: modules ~1.5 min, build ~5 min on 2 cores)"
    start=$SECONDS
    (cd "$src" && go mod download && go build -trimpath -o "$bin.tmp" .)
    mv "$bin.tmp" "$bin"
    echo "havnd built in $((SECONDS - start)) s"
fi
# wasmvm's libwasmvm.so is linked by an rpath into the module cache: check it resolves.
if ldd "$bin" | grep -q "libwasmvm.*not found"; then
    echo "havnd: libwasmvm not found in $GOMODCACHE; delete $bin and rebuild" >&2
    exit 1
fi
mkdir -p "$TARGET_DIR/debug"
ln -sf "$bin" "$TARGET_DIR/debug/havnd"
echo "havnd: $TARGET_DIR/debug/havnd -> $bin"
