# End-to-end rollback latency (bench/rollback/bench.ts): from the modelship.dev/action annotation to
# every new request on the stable revision, through the real operator, routes ConfigMap, router pods
# and model servers (local pod runner) on an isolated control plane it starts and stops itself.
# Included from bench/bench.mk. Writes bench/results/rollback.{json,md}. Run it under
# `flock /tmp/modelship-bench.lock make bench-rollback` on a shared machine.
.PHONY: bench-rollback bench-rollback-check

ROLLBACK_CLUSTER_DIR := $(CURDIR)/.state/cluster-rollback-bench

bench-rollback: build cluster-build ## rollback action -> 100% of new requests on stable, p50/p99/max -> bench/results/rollback.*
	env MODELSHIP_CLUSTER_DIR=$(ROLLBACK_CLUSTER_DIR) node dist/bench/rollback/bench.js

# The harness's pure parts join bench-check (node:test on the compiled files).
bench-check: bench-rollback-check

bench-rollback-check: build
	node --test dist/bench/rollback/
