# Havn: `make test` runs every check; `make demo` is the main job (see README).
SHELL := /bin/bash
export HAVN_CACHE ?= $(HOME)/.cache/havn

# LibTorch for the runtime (scripts/torch-setup.sh installs it; scripts/torch-env.sh is the same
# environment for running cargo by hand).
export HAVN_TORCH_VENV ?= $(HAVN_CACHE)/torch
export VIRTUAL_ENV := $(HAVN_TORCH_VENV)
export LIBTORCH_USE_PYTORCH := 1
export PATH := $(HAVN_TORCH_VENV)/bin:$(PATH)
export LD_LIBRARY_PATH := $(HAVN_TORCH_VENV)/torch-lib$(if $(LD_LIBRARY_PATH),:$(LD_LIBRARY_PATH))
export OMP_NUM_THREADS ?= 1
MODELS := models/build/index.json

.PHONY: havnd js py fidelity demo test tools torch models fmt-check clippy unit fuzz wasm check gas sim bench-fingerprint bench-publish-gas bench-mesh load-mesh bench-runtime gpu-check-pack schema schema-check fmt clean

## The main job: build and check every contract, then run the whole network as processes (devnet,
## router, node, 4 validators) and one workflow end to end: published, requested on chain, run on
## LibTorch, attested, recorded, split and claimed. `havn network up` (no --demo) keeps it running.
## `make demo CHAIN=havnd` runs the same on havnd, the CometBFT + x/wasm chain (chain/havnd).
DAEMONS := -p havn-devnet -p havn-router -p havn-node -p havn-validator -p havn-sdk
# The `havn` a creator installs has no local-network tooling (no wasm VM, no LibTorch); the demo
# and the tests build it with that tooling.
export HAVN_FEATURES := --features havn-sdk/network
CHAIN ?= devnet
# One build of all five (a `cargo run -p havn-sdk` after it would resolve features anew and rebuild).
demo: tools wasm check models $(if $(filter havnd,$(CHAIN)),havnd)
	cargo build --locked -q $(HAVN_FEATURES) $(DAEMONS)
	"$${CARGO_TARGET_DIR:-target}/debug/havn" network up --demo --chain $(CHAIN)

## havnd, Havn's real chain (Go; cached under $(HAVN_CACHE)/havnd by its sources).
havnd:
	@scripts/havnd-build.sh

## The devnet's fidelity table: SDK gas of each hot path on the devnet and on havnd, side by side
## (fails when they differ by more than 10 %; docs/devnet.md).
fidelity: wasm havnd
	cargo test --locked -q -p havn-chain --test havn_gas -- --nocapture

## cosmjs, the JavaScript client the havnd network test drives (npm; sdk/tests/js).
js:
	npm ci --prefix sdk/tests/js --no-audit --no-fund --loglevel=error

## cosmpy, the independent Python client mesh/chain/tests/cosmpy.rs drives against both chains
## (a virtualenv under $(HAVN_CACHE)/cosmpy, keyed by its pinned requirements).
py:
	@scripts/cosmpy-setup.sh

## Every check CI runs: format, lints, schema drift, wasm build + VM check, then all tests.
test: tools fmt-check clippy schema-check wasm check models havnd js py unit sim fuzz

tools: torch
	@scripts/install-tools.sh

torch:
	@scripts/torch-setup.sh

## The example workflows: tiny random-weight TorchScript modules, a LoRA, the pretrained
## all-MiniLM-L6-v2 traced from its PyPI package, and their manifests (seconds).
models: torch $(MODELS)

$(MODELS): models/make_models.py models/make_minilm.py models/requirements.txt
	python models/make_models.py models/build

fmt-check:
	cargo fmt --all -- --check

fmt:
	cargo fmt --all

clippy:
	cargo clippy --locked --workspace --all-targets $(HAVN_FEATURES) -- -D warnings

unit:
	@scripts/test.sh

wasm:
	@scripts/wasm-build.sh

check:
	@scripts/wasm-check.sh

## VM gas of the hot paths, from the lowered artifacts (first build of cosmwasm-vm: ~13 minutes).
gas: wasm
	CARGO_TARGET_DIR=$(HAVN_CACHE)/vm-gas-target cargo run --release --manifest-path tools/vm-gas/Cargo.toml

## The economic simulator: every cheating strategy against honest play at the shipped params
## (docs/verification.md); exits 1 while any comes out ahead.
sim:
	cargo run --locked --profile native -q -p havn-sim

## The mesh benchmark: jobs/s and p50/p99 through router → node → validators vs tonic unary.
## Fingerprints over a generated corpus: how often copies reach the threshold and unrelated
## workflows do not (mesh/workflow/benches/fingerprint_corpus.rs).
bench-fingerprint:
	cargo bench --locked -q -p havn-workflow --bench fingerprint_corpus

## SDK gas of a registry Publish with 1 to 10,000 workflows registered, realistic neighbours and
## the index's worst case (mesh/devnet/examples/publish_gas): flat once the buckets are full.
bench-publish-gas: wasm
	cargo run --locked -q -p havn-devnet --example publish_gas

bench-mesh:
	cargo run --locked --profile native -p havn-mesh-bench -- --jobs 4096

## Every fuzz target (fuzz/) for FUZZ_SECONDS each (30 in `make test`; longer by hand:
## FUZZ_SECONDS=3600 make fuzz). Needs a nightly toolchain and cargo-fuzz (installed if missing).
fuzz:
	@scripts/fuzz.sh

## The router's load test: 100,000 jobs through one router; memory bounded, 0 lost.
load-mesh:
	cargo run --locked --profile native -p havn-mesh-bench -- --load 100000

## The LibTorch runtime on this machine's CPU vs its Python twin (PyTorch itself), rounds
## alternating, with module time and runtime overhead per job (the GPU check's timing, on CPU).
bench-runtime: gpu-check-pack
	DEVICE=cpu ROUNDS=2 JOBS=$${JOBS:-30} bash target/gpu-check/gpu-check.sh timing

## Builds the GPU check bundle (target/gpu-check) to run on a GPU machine: see scripts/gpu-check.sh.
gpu-check-pack: torch
	scripts/gpu-check.sh pack

schema:
	@scripts/schema.sh

schema-check:
	@scripts/schema.sh --check

clean:
	cargo clean
	rm -rf artifacts models/build
