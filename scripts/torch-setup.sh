#!/usr/bin/env bash
# Installs LibTorch for the runtime: PyTorch 2.11.0 (the version tch 0.24 is built for, and the
# GPU machines' version) from PyPI into a venv under $HAVN_CACHE/torch, outside the clone.
# ~2.6 GB download and 4.6 GB on disk the first time (the default Linux wheel carries CUDA 13;
# the same libraries run on CPU-only machines); idempotent afterwards.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/torch-env.sh"
TORCH_VERSION=2.11.0

installed() {
    "$HAVN_TORCH_VENV/bin/python" -c "import torch, numpy; assert torch.__version__.split('+')[0] == '$TORCH_VERSION'" 2> /dev/null
}

if ! installed; then
    echo "installing torch $TORCH_VERSION into $HAVN_TORCH_VENV (2.6 GB download, the first time only)"
    python3 -m venv "$HAVN_TORCH_VENV"
    "$HAVN_TORCH_VENV/bin/pip" install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" numpy
    installed || { echo "torch $TORCH_VERSION did not install into $HAVN_TORCH_VENV" >&2; exit 1; }
fi
# A fixed path for LD_LIBRARY_PATH, whatever the venv's Python version.
lib=$("$HAVN_TORCH_VENV/bin/python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
ln -sfn "$lib" "$HAVN_TORCH_VENV/torch-lib"
echo "torch: $("$HAVN_TORCH_VENV/bin/python" -c 'import torch; print(torch.__version__)') in $HAVN_TORCH_VENV"
