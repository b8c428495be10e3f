# The README's two set-up commands are `make run` and `make test`; both work on a fresh
# machine with only the Rust toolchain (everything else is installed here, idempotently).

CARGO ?= cargo
BIN := target/release/tidb-backup-webhook
NEXTEST := $(shell command -v cargo-nextest 2>/dev/null)

.PHONY: all build run test lint fmt unit crds check-examples bench clean

all: build

build:
	$(CARGO) build --release --locked

## run: the main job (until the admission server lands: check the shipped examples)
run: build
	$(BIN) check manifests/examples/*.yaml

## test: lints, then every test
test: test-deps lint unit

## test-deps: what the tests need besides Rust (MariaDB for the GC-lifetime tests), if missing
.PHONY: test-deps
test-deps:
	scripts/test-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

unit: test-deps
ifneq ($(NEXTEST),)
	$(CARGO) nextest run --locked --no-fail-fast
else
	$(CARGO) test --locked --no-fail-fast
endif
	$(CARGO) test --locked --doc

fmt:
	$(CARGO) fmt --all

## crds: regenerate manifests/crds from the types (a test fails when they drift)
crds:
	$(CARGO) run --locked --quiet -- crds --out-dir manifests/crds

## bench: criterion benchmarks of the rule core
bench:
	$(CARGO) bench --locked --bench rules

clean:
	$(CARGO) clean
