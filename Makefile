# Modelship. `make run` runs it locally, `make test` runs every test; both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# onnxruntime-node's install script would otherwise fetch CUDA files from outside the npm registry.
export ONNXRUNTIME_NODE_INSTALL := skip

# Every recipe runs on the Node pinned in .node-version (fetched once if the system node is older).
include test/cluster/node.mk

STATE := .state
JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js
VENV := $(STATE)/venv
PY := $(VENV)/bin/python

.PHONY: help deps pydeps build typecheck lint format jest unit test-server e2e test run serve bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

# `npm install`, not `npm ci`: the registry here lacks some optional per-platform packages
# (@unrs/resolver-binding-android-*, pulled in by jest), so no lockfile can list them and `npm ci`
# refuses the lock. `npm install` still installs exactly the locked versions and leaves the lock as is.
node_modules/.modelship-installed: package.json package-lock.json
	npm install --no-audit --no-fund
	touch $@

deps: node_modules/.modelship-installed ## install npm dependencies from the lockfile

$(VENV)/.installed: test/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r test/requirements.txt
	touch $@

pydeps: $(VENV)/.installed ## install the Python tools (models, baselines, real clients) into .state/venv

build: deps ## compile TypeScript to dist/
	npx tsc -p tsconfig.json

typecheck: deps ## type-check everything
	npx tsc -p tsconfig.json --noEmit

# What prettier formats: the TypeScript and JavaScript sources (docs, manifests and JSON keep their own layout).
FORMATTED = 'common/**/*.ts' 'contract/**/*.ts' 'operator/**/*.ts' 'server-image/**/*.ts' 'test/**/*.ts' 'bench/**/*.ts' '*.js'

lint: deps ## formatting (prettier), eslint (lines of 120, the operator importing nothing of server-image/), no import cycles
	npx prettier --check --log-level warn $(FORMATTED)
	npx eslint .
	npx dpdm --no-tree --no-warning --no-progress --exit-code circular:1 $(FORMATTED)

format: deps ## rewrite the sources as prettier formats them
	npx prettier --write --log-level warn $(FORMATTED)

# One test file, or any jest pattern, on the compiled tree (processes under test run dist/):
#   make jest T=operator/src/rollout/plan.test.ts      make jest T='-t "rolls back"'
# Real-pod files (test/e2e-node, test/e2e-pods) run with `make e2e-node E2E_NODE_ARGS=<file>`.
jest: build cluster-build ## one test file: make jest T=<path> (T takes any jest arguments)
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps
	$(JEST) --runInBand $(T)

unit: build ## unit tests (pure functions, no processes)
	$(JEST) --selectProjects unit

test: models-check typecheck lint unit bench-check test-server e2e e2e-real ## every test: model digests, types, lint, unit, bench harness, server, e2e on a real control plane (kwok), e2e on real pods (root)

clean: ## remove build output and local state (not the control-plane binary cache)
	rm -rf dist $(STATE)

include server-image/server.mk
include server-image/image.mk
include test/cluster/cluster.mk
include bench/bench.mk
include examples/examples.mk
include test/localpods/localpods.mk
include test/run/run.mk
include test/kind/kind.mk
include charts/chart.mk
