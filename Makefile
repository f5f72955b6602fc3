# Entry points: `make up` (toolchain + local cluster + the demo project's global and site stacks) and `make test`.
# The demo is demo/ (its stack files); the stack files at the top are a team's own production ones, which
# `make` never deploys: run the fleet runner on them (README, "Going to production").
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

export PATH := $(ROOT)/.tools/bin:$(PATH)
export PULUMI_HOME ?= $(ROOT)/.tools/pulumi-home
export PULUMI_BACKEND_URL ?= file://$(ROOT)/.pulumi-state
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_IGNORE_AMBIENT_PLUGINS := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
export GOTOOLCHAIN := local
export KUBECONFIG_LOCAL := $(ROOT)/.cluster/kubeconfig

# The fleet runner (cmd/fleet) on the demo project: the global stack first, then the sites in parallel, the
# program built once; it finds the stacks from demo/Pulumi.*.yaml. FLEET_ARGS adds flags, e.g.
# FLEET_ARGS="--sites dfw1 --parallel 8".
FLEET := go run ./cmd/fleet
DEMO := -C demo --secrets-provider passphrase
FLEET_ARGS ?=

# The demo stacks' passphrase, set when `make up` creates them (no salt is committed); the demo targets and
# the tests that run the demo take it, nothing else does.
DEMO_TARGETS := up preview down test-fleet test-integration bench bench-preview bench-fleet
ifeq ($(origin PULUMI_CONFIG_PASSPHRASE_FILE),undefined)
$(DEMO_TARGETS): export PULUMI_CONFIG_PASSPHRASE ?= local-demo-only
endif

.PHONY: tools cluster-up cluster-down up down preview bench test test-fleet test-production test-fuzz test-unit test-config test-scripts test-mtls test-mtls-issued test-worker test-integration lint

tools:
	@bash scripts/tools.sh

cluster-up:
	@bash scripts/cluster.sh up

cluster-down:
	@bash scripts/cluster.sh down

$(ROOT)/.pulumi-state:
	@mkdir -p $@

# The sites read their secrets from the stand-in provider, which gets the global stack's issued certificates.
up: tools cluster-up | $(ROOT)/.pulumi-state
	$(FLEET) up $(DEMO) --sites '' $(FLEET_ARGS)
	@bash scripts/demo-secrets.sh
	$(FLEET) up $(DEMO) --no-global $(FLEET_ARGS)

preview: tools cluster-up | $(ROOT)/.pulumi-state
	$(FLEET) preview $(DEMO) $(FLEET_ARGS)

# Protected resources (CA, CNPG cluster, namespaces) stay: see the README, "Protected resources".
down: tools | $(ROOT)/.pulumi-state
	$(FLEET) destroy $(DEMO) $(FLEET_ARGS)

# Benchmarks, never timed tests: medians of alternating runs (BENCH_SITES, default "3 50 100 200"; BENCH_ROUNDS,
# default 5 for preview and mocks, 3 for the fleet). See "Speed: measured" in the README.
.PHONY: bench-preview bench-mocks bench-fleet
bench: tools
	@bash scripts/bench-preview.sh
	@bash scripts/bench-fleet.sh
	@bash scripts/bench-mocks.sh

bench-preview: tools
	@bash scripts/bench-preview.sh

bench-mocks:
	@bash scripts/bench-mocks.sh

# The fleet runner's preview of global + 20 sites (render mode) against a sequential pulumi preview loop.
bench-fleet: tools
	@bash scripts/bench-fleet.sh

test: lint test-unit test-config test-scripts test-mtls test-integration test-mtls-issued test-worker test-fleet test-production

# The config fuzz targets of the global and the site stack beyond their seeds (which test-unit runs):
# FUZZTIME each, default 30s (-fuzz takes one package at a time). Their instrumented build of the Pulumi and
# Kubernetes SDKs takes ~6 min cold on 2 cores, so they are not part of make test yet.
FUZZTIME ?= 30s
test-fuzz:
	go test -run '^$$' -fuzz FuzzConfig -fuzztime $(FUZZTIME) ./stacks/global
	go test -run '^$$' -fuzz FuzzConfig -fuzztime $(FUZZTIME) ./stacks/site

test-unit:
	go test ./components/... ./stacks/... ./internal/... ./cmd/... ./bench/... . ./tests/workflows/...

test-config:
	python3 -m unittest discover -s assets/tests -v

# scripts/*.sh against fake pulumi, go, npm, kubectl and etcd commands: no network, build or cluster.
test-scripts:
	go test -count=1 ./tests/scripts/...

# egctl translates the stack's gateway objects for the SNI router the mTLS tests start.
EGCTL := $(ROOT)/.tools/bin/egctl
test-mtls:
	@bash scripts/mtls-deps.sh
	@bash scripts/cluster.sh egctl
	cd tests/mtls && NAUTOBOT_EGCTL=$(EGCTL) go test -count=1 -v -skip TestCeleryWorker ./...

# The real servers again, with the certificates the local cluster's cert-manager issued in test-integration.
ISSUED_PKI := $(ROOT)/.cluster/issued-pki
test-mtls-issued:
	@test -d $(ISSUED_PKI) || { echo "test-mtls-issued: no $(ISSUED_PKI); make test-integration writes it"; exit 1; }
	@bash scripts/mtls-deps.sh
	@bash scripts/cluster.sh egctl
	cd tests/mtls && NAUTOBOT_EGCTL=$(EGCTL) NAUTOBOT_ISSUED_PKI_DIR=$(ISSUED_PKI) go test -count=1 -v \
	  -run 'TestCertificatesHaveTheShapeTheStackDeclares|TestEveryUsageIsOneCertManagerKnows|TestRedisAsTheChartRunsIt|TestPostgres17|TestRedis$$|TestServerNames|TestRoleMapping' ./...

# A real Celery worker (Debian's celery, kombu, redis-py, Django and psycopg2 on PostgreSQL 17's libpq), run as
# the real chart renders the site pod, with the site secret the local cluster's cert-manager issued and External
# Secrets copied (test-integration exports it), against PostgreSQL 17, Redis and the SNI gateway.
test-worker:
	@test -d $(ISSUED_PKI)/sites/dfw1 || { echo "test-worker: no $(ISSUED_PKI)/sites/dfw1; make test-integration writes it"; exit 1; }
	@bash scripts/mtls-deps.sh
	@bash scripts/cluster.sh egctl
	cd tests/mtls && NAUTOBOT_EGCTL=$(EGCTL) NAUTOBOT_ISSUED_PKI_DIR=$(ISSUED_PKI) NAUTOBOT_SITE_CLIENT_SECRET_DIR=$(ISSUED_PKI)/sites/dfw1 \
	  go test -count=1 -v -run TestCeleryWorker ./...

# The fleet runner on the demo stacks against a local cluster of its own: up, a no-change preview, then the
# README's State safety cases with real runs (kills, live locks, an interrupt, an outage), destroy.
test-fleet: tools
	@bash scripts/cluster.sh binaries
	@bash scripts/test-fleet.sh

# The README's "Going to production", its marked steps run verbatim on a copy of the repository against a local
# cluster of its own, with a second file backend, fully qualified names and a passphrase of global's own.
test-production: tools
	@bash scripts/cluster.sh binaries
	@bash scripts/test-production.sh

test-integration: tools
	@bash scripts/cluster.sh binaries
	go test -count=1 -timeout 40m -v ./tests/integration/...

# Every shell script in the tree, committed or not yet (a deleted one is not): *.sh, and any file whose first line is a sh or bash
# shebang. The loop ends in an `if`, so a last file that is no script does not fail it.
SHELL_SCRIPTS := git ls-files -co --exclude-standard | while IFS= read -r f; do \
	  [ -f "$$f" ] || continue; first=; IFS= read -r first <"$$f" || true; \
	  if [[ $$f == *.sh || $$first =~ ^\#!.*[/[:space:]](ba|da|k)?sh([[:space:]]|$$) ]]; then echo "$$f"; fi; \
	done

# No stack file in git carries a secrets provider's state: the demo's salt is written when `make up` creates the
# stacks (the working copy then differs from git; the index must not), the production files have none.
lint:
	@! git grep --cached -n -E '^(encryptionsalt|encryptedkey|secretsprovider):' -- 'Pulumi.*.yaml' 'demo/Pulumi.*.yaml' || { echo 'lint: a committed stack file carries secrets provider state (above); keep it out of git'; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	go vet ./...
	cd tests/mtls && go vet ./...
	@command -v shellcheck >/dev/null || { echo 'lint: shellcheck is missing (apt-get install shellcheck)'; exit 1; }
	@files=$$($(SHELL_SCRIPTS)); echo shellcheck -x $$files; shellcheck -x $$files
