# Entry points: `make up` (toolchain + local cluster + global and demo site stacks) and `make test`.
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
# The local demo's state passphrase; set your own (or PULUMI_CONFIG_PASSPHRASE_FILE) for anything real.
ifeq ($(origin PULUMI_CONFIG_PASSPHRASE_FILE),undefined)
export PULUMI_CONFIG_PASSPHRASE ?= local-demo-only
endif

GLOBAL_STACK := global
DEMO_SITES := $(patsubst Pulumi.site-%.yaml,site-%,$(filter-out Pulumi.site-example.yaml,$(wildcard Pulumi.site-*.yaml)))

.PHONY: tools cluster-up cluster-down up down preview bench test test-unit test-config test-scripts test-mtls test-mtls-issued test-worker test-integration lint

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
	@bash scripts/stack.sh up $(GLOBAL_STACK)
	@bash scripts/demo-secrets.sh
	@bash scripts/stack.sh up $(DEMO_SITES)

preview: tools | $(ROOT)/.pulumi-state
	@bash scripts/stack.sh preview $(GLOBAL_STACK) $(DEMO_SITES)

down: tools | $(ROOT)/.pulumi-state
	@bash scripts/stack.sh destroy $(DEMO_SITES) $(GLOBAL_STACK)

bench: tools
	@bash scripts/bench-preview.sh $(BENCH_SITES) $(BENCH_ROUNDS)

test: lint test-unit test-config test-scripts test-mtls test-integration test-mtls-issued test-worker

test-unit:
	go test ./components/... ./stacks/... ./internal/... .

test-config:
	python3 -m unittest discover -s assets/tests -v

# scripts/*.sh against fake pulumi, go, npm, kubectl and etcd commands: no network, build or cluster.
test-scripts:
	go test -count=1 ./tests/scripts/...

test-mtls:
	@bash scripts/mtls-deps.sh
	cd tests/mtls && go test -count=1 -v -skip TestCeleryWorker ./...

# The real servers again, with the certificates the local cluster's cert-manager issued in test-integration.
ISSUED_PKI := $(ROOT)/.cluster/issued-pki
test-mtls-issued:
	@test -d $(ISSUED_PKI) || { echo "test-mtls-issued: no $(ISSUED_PKI); make test-integration writes it"; exit 1; }
	@bash scripts/mtls-deps.sh
	cd tests/mtls && NAUTOBOT_ISSUED_PKI_DIR=$(ISSUED_PKI) go test -count=1 -v \
	  -run 'TestCertificatesHaveTheShapeTheStackDeclares|TestEveryUsageIsOneCertManagerKnows|TestRedisAsTheChartRunsIt|TestPostgres17|TestRedis$$' ./...

# A real Celery worker (Debian's celery, kombu, redis-py, Django and psycopg2 on PostgreSQL 17's libpq), run as
# the real chart renders the site pod, with the site secret the local cluster's cert-manager issued and External
# Secrets copied (test-integration exports it), against PostgreSQL 17, Redis and the SNI gateway.
test-worker:
	@test -d $(ISSUED_PKI)/sites/dfw1 || { echo "test-worker: no $(ISSUED_PKI)/sites/dfw1; make test-integration writes it"; exit 1; }
	@bash scripts/mtls-deps.sh
	cd tests/mtls && NAUTOBOT_ISSUED_PKI_DIR=$(ISSUED_PKI) NAUTOBOT_SITE_CLIENT_SECRET_DIR=$(ISSUED_PKI)/sites/dfw1 \
	  go test -count=1 -v -run TestCeleryWorker ./...

test-integration: tools
	@bash scripts/cluster.sh binaries
	go test -count=1 -timeout 40m -v ./tests/integration/...

# Every shell script in the tree, committed or not yet: *.sh, and any file whose first line is a sh or bash
# shebang. The loop ends in an `if`, so a last file that is no script does not fail it.
SHELL_SCRIPTS := git ls-files -co --exclude-standard | while IFS= read -r f; do \
	  first=; [ -f "$$f" ] && { IFS= read -r first <"$$f" || true; }; \
	  if [[ $$f == *.sh || $$first =~ ^\#!.*[/[:space:]](ba|da|k)?sh([[:space:]]|$$) ]]; then echo "$$f"; fi; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	go vet ./...
	cd tests/mtls && go vet ./...
	@command -v shellcheck >/dev/null || { echo 'lint: shellcheck is missing (apt-get install shellcheck)'; exit 1; }
	@files=$$($(SHELL_SCRIPTS)); echo shellcheck -x $$files; shellcheck -x $$files
