# The LibTorch build and run environment; sourced, not run. `scripts/torch-setup.sh` makes the
# venv. Source this before running cargo by hand: `source scripts/torch-env.sh`.
HAVN_CACHE=${HAVN_CACHE:-$HOME/.cache/havn}
export HAVN_TORCH_VENV=${HAVN_TORCH_VENV:-$HAVN_CACHE/torch}
export VIRTUAL_ENV=$HAVN_TORCH_VENV
export LIBTORCH_USE_PYTORCH=1
case ":$PATH:" in *":$HAVN_TORCH_VENV/bin:"*) ;; *) export PATH=$HAVN_TORCH_VENV/bin:$PATH ;; esac
case ":${LD_LIBRARY_PATH:-}:" in *":$HAVN_TORCH_VENV/torch-lib:"*) ;; *) export LD_LIBRARY_PATH=$HAVN_TORCH_VENV/torch-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ;; esac
# Two cores here: OpenMP spinning on more threads than cores makes CPU runs several times slower.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
