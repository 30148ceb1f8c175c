# Havn: `make test` runs every check; `make demo` is the main job (see README).
SHELL := /bin/bash
export HAVN_CACHE ?= $(HOME)/.cache/havn

.PHONY: demo test tools fmt-check clippy unit wasm check gas bench-mesh schema schema-check fmt clean

## The main job: build and check every contract, then run one workflow end to end: published,
## requested on chain, run by the real mesh (router, node, validators over gRPC), attested,
## recorded, split and claimed. The contracts run on cw-multi-test until the development chain lands.
demo: tools wasm check
	cargo run --locked -q -p havn-demo

## Every check CI runs: format, lints, schema drift, wasm build + VM check, then all tests.
test: tools fmt-check clippy schema-check wasm check unit

tools:
	@scripts/install-tools.sh

fmt-check:
	cargo fmt --all -- --check

fmt:
	cargo fmt --all

clippy:
	cargo clippy --locked --workspace --all-targets -- -D warnings

unit:
	@scripts/test.sh

wasm:
	@scripts/wasm-build.sh

check:
	@scripts/wasm-check.sh

## VM gas of the hot paths, from the lowered artifacts (first build of cosmwasm-vm: ~13 minutes).
gas: wasm
	CARGO_TARGET_DIR=$(HAVN_CACHE)/vm-gas-target cargo run --release --manifest-path tools/vm-gas/Cargo.toml

## The mesh benchmark: jobs/s and p50/p99 through router → node → validators vs tonic unary.
bench-mesh:
	cargo run --locked --profile native -p havn-mesh-bench -- --jobs 4096

schema:
	@scripts/schema.sh

schema-check:
	@scripts/schema.sh --check

clean:
	cargo clean
	rm -rf artifacts
