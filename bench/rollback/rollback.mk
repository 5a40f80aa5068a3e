# End-to-end rollback latency (bench/rollback/bench.ts): from the modelship.dev/action annotation to
# every new request on the stable revision, through the real operator, routes ConfigMap, router pods
# and model servers, on an isolated cluster it starts and stops itself. Included from bench/bench.mk.
# Two platforms, same trials: `bench-rollback` (kwok nodes, the operator and the pods as local
# processes) writes bench/results/rollback.{json,md}; `bench-rollback-real` (one real node, the
# chart's operator pods, the kubelet's pods; root on Linux, else one line says it is skipped) writes
# rollback-real.{json,md}, with the last kwok run side by side. Run the kwok one under
# `flock /tmp/modelship-bench.lock make bench-rollback` on a shared machine; the real one takes the
# real node's lock itself.
.PHONY: bench-rollback bench-rollback-real bench-rollback-pods bench-rollback-chart bench-rollback-check

ROLLBACK_CLUSTER_DIR := $(CURDIR)/.state/cluster-rollback-bench
ROLLBACK_REAL_CLUSTER_DIR := $(CURDIR)/.state/cluster-rollback-bench-real
# test/cluster/cluster.mk names it for every target that starts a real node (one per machine).
REAL_NODE_LOCK ?= /tmp/modelship-real-node.lock

bench-rollback: build cluster-build ## rollback action -> 100% of new requests on stable, p50/p99/max (kwok path) -> bench/results/rollback.*
	env MODELSHIP_CLUSTER_DIR=$(ROLLBACK_CLUSTER_DIR) node dist/bench/rollback/bench.js

# `make bench` runs the real-pod mode too, where the machine can run real pods, after the kwok path
# (rollback-real.md puts that run side by side).
bench: bench-rollback bench-rollback-real

bench-rollback-real: ## the same on real pods (root on Linux; elsewhere one line says it is skipped) -> bench/results/rollback-real.*
	@if [ "$$(id -u)" = 0 ] && [ "$$(uname -s)" = Linux ]; then \
	  $(MAKE) --no-print-directory bench-rollback-pods; \
	else \
	  echo "bench-rollback-real: skipped: real pods need root on Linux (bench-rollback measured the kwok path)"; \
	fi

# The leftovers check runs under the lock too: once it is released, the next holder's node would
# count as ours.
bench-rollback-pods: build cluster-build cluster-images image ## bench-rollback-real without the root check
	flock $(REAL_NODE_LOCK) env BENCH_NODE=real MODELSHIP_CLUSTER_DIR=$(ROLLBACK_REAL_CLUSTER_DIR) \
	  sh -c 'node dist/bench/rollback/bench.js && $(CLUSTER_CLI) leftovers'
	$(MAKE) --no-print-directory bench-rollback-chart

# matplotlib from the project's venv (make pydeps), as bench/server/chart.py.
bench-rollback-chart: ## draw bench/results/rollback-real.png: the kwok path and real pods side by side
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps
	$(PY) bench/rollback/chart.py bench/results/rollback.json bench/results/rollback-real.json bench/results/rollback-real.png

# The harness's pure parts join bench-check (node:test on the compiled files).
bench-check: bench-rollback-check

bench-rollback-check: build
	node --test dist/bench/rollback/
