#!/usr/bin/env bash
# Installs cosmpy, the independent Python client mesh/chain/tests/cosmpy.rs drives against both
# chains, in a virtualenv under $HAVN_CACHE keyed by its pinned requirements (~25 s cold), and
# links it next to the cargo binaries, where the test looks for it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
requirements=$ROOT/mesh/chain/tests/cosmpy/requirements.txt
key=$(sha256sum "$requirements" | cut -c1-16)
venv=$HAVN_CACHE/cosmpy/$key
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
    echo "installing cosmpy $key"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$venv/.complete"
fi
mkdir -p "$TARGET_DIR/debug"
ln -sfn "$venv" "$TARGET_DIR/debug/cosmpy"
echo "cosmpy: $TARGET_DIR/debug/cosmpy -> $venv"
