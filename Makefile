# The README's two set-up commands are `make run` and `make test`; both work on a fresh
# machine with the Rust and Go toolchains (everything else is installed or built here,
# idempotently).

CARGO ?= cargo
BIN := target/release/tidb-backup-webhook
IMAGE ?= tidb-backup-webhook:0.1.0
CHART := charts/tidb-backup-webhook
NEXTEST := $(shell command -v cargo-nextest 2>/dev/null)

.PHONY: all build run test lint fmt unit e2e crds manifests certs image bench fuzz clean

all: build

build:
	$(CARGO) build --release --locked

## run: the main job: the webhook on loopback with a self-signed certificate, no cluster
## needed (static IAM configuration for the guide's test1/demo1 cluster)
run: build
	@echo "Webhook on https://localhost:8443 (admin on http://127.0.0.1:8080). Try, from another terminal:"
	@echo "  curl --cacert certs/dev-ca.crt -H 'Content-Type: application/json' --data @manifests/examples/review-backup-create.json https://localhost:8443/mutate"
	$(BIN) serve --no-kube --self-signed --ca-out certs/dev-ca.crt --listen 127.0.0.1:8443 --admin-listen 127.0.0.1:8080 \
	  --iam-role test1/demo1=arn:aws:iam::123456789012:role/user

## test: lints, then every test (the end-to-end suite included)
test: test-deps lint unit

## test-deps: what the tests need besides Rust, if missing: MariaDB for the GC-lifetime
## tests, kubernetes-validate, and the Go tools, each built the same way from its module
## under tools/ into .tools/bin (once per change of its go.mod/go.sum): helm, promtool,
## and the end-to-end tests' etcd, kube-apiserver, kube-controller-manager and kubectl
.PHONY: test-deps
test-deps:
	scripts/test-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# nextest runs each test in a process of its own, which would start one control plane
# per end-to-end test: the e2e binary runs under cargo test, its harness starting one.
unit: test-deps
ifneq ($(NEXTEST),)
	$(CARGO) nextest run --locked --no-fail-fast -E 'not binary(e2e)'
	$(CARGO) test --locked --test e2e
	$(CARGO) test --locked --doc
else
	$(CARGO) test --locked --no-fail-fast
endif

## e2e: the end-to-end tests alone (a real apiserver, etcd and controller manager)
e2e: test-deps
	$(CARGO) test --locked --test e2e

fmt:
	$(CARGO) fmt --all

## crds: regenerate manifests/crds from the types, and the chart's copy (a test fails
## when they drift)
crds:
	$(CARGO) run --locked --quiet -- crds --out-dir manifests/crds
	cp manifests/crds/backups.pingcap.com.yaml manifests/crds/backupschedules.pingcap.com.yaml $(CHART)/files/crds/

## manifests: regenerate manifests/webhook/webhook-configurations.yaml, the PrometheusRule
## from manifests/monitoring/alerts.yaml, and the chart's copies of the webhook
## configurations, the rules and the dashboard (a test fails on drift)
manifests:
	$(CARGO) run --locked --quiet -- manifests > manifests/webhook/webhook-configurations.yaml
	{ printf '%s\n' '# Generated from alerts.yaml by `make manifests`; do not edit by hand.' \
	    'apiVersion: monitoring.coreos.com/v1' 'kind: PrometheusRule' 'metadata:' \
	    '  name: tidb-backup-webhook' '  namespace: tidb-admin' 'spec:'; \
	  sed -n '/^groups:/,$$p' manifests/monitoring/alerts.yaml | sed -e 's/^/  /' -e 's/^ *$$//'; \
	} > manifests/monitoring/prometheusrule.yaml
	cp manifests/webhook/webhook-configurations.yaml manifests/monitoring/alerts.yaml \
	  manifests/monitoring/dashboard.json $(CHART)/files/

## image: the container image (needs a Docker engine)
image:
	docker build -t $(IMAGE) .

## certs: a CA and serving certificate for the in-cluster Service, under certs/
## (used by manifests/overlays/self-signed)
certs: build
	$(BIN) certs --out certs --dns tidb-backup-webhook --dns tidb-backup-webhook.tidb-admin --dns tidb-backup-webhook.tidb-admin.svc

## bench: criterion benchmarks (rule core, admission handler), instructions per review
## under callgrind (skipped without valgrind), then the HTTPS load test side by side with
## a minimal server that parses the same review, the floor (installs oha into .tools/ on
## first use). Neither callgrind nor the load test is part of `make test`.
bench:
	$(CARGO) bench --locked --bench rules --bench admission
	$(CARGO) bench --locked --bench instructions
	scripts/bench-load.sh

## fuzz: the seeded corpus fuzzing of check and the webhook, longer than in make test
## (FUZZ_CASES, default 100000; FUZZ_SEED, default 1)
.PHONY: fuzz
fuzz:
	FUZZ_CASES=$${FUZZ_CASES:-100000} FUZZ_SEED=$${FUZZ_SEED:-1} $(CARGO) test --locked --release --test admission fuzz_corpus -- --nocapture

clean:
	$(CARGO) clean
