# Cold start from zero on real pods (bench/coldstart/bench.ts, issue 15): a revision at zero pods to
# its first correct answer through the apex Service, split into its parts (decision, pod, sandbox,
# container, Node, model load and warm-up, probes, endpoints, kube-proxy, router). Root on Linux (a
# real node); elsewhere one line says it is skipped. Writes bench/results/coldstart.{json,md,png}.
# Included from bench/bench.mk.
.PHONY: bench-coldstart bench-coldstart-pods bench-coldstart-chart bench-coldstart-check

COLDSTART_CLUSTER_DIR := $(CURDIR)/.state/cluster-coldstart-bench
REAL_NODE_LOCK ?= /tmp/modelship-real-node.lock

bench-coldstart: ## first request from zero -> first answer on real pods, with its parts -> bench/results/coldstart.*
	@if [ "$$(id -u)" = 0 ] && [ "$$(uname -s)" = Linux ]; then \
	  $(MAKE) --no-print-directory bench-coldstart-pods; \
	else \
	  echo "bench-coldstart: skipped: real pods need root on Linux"; \
	fi

# The leftovers check runs under the lock too (as bench-rollback-pods).
bench-coldstart-pods: build cluster-build cluster-images image ## bench-coldstart without the root check
	flock $(REAL_NODE_LOCK) env MODELSHIP_CLUSTER_DIR=$(COLDSTART_CLUSTER_DIR) \
	  sh -c 'node dist/bench/coldstart/bench.js && $(CLUSTER_CLI) leftovers'
	$(MAKE) --no-print-directory bench-coldstart-chart

# matplotlib from the project's venv (make pydeps), as bench/server/chart.py.
bench-coldstart-chart: ## draw bench/results/coldstart.png from coldstart.json
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps
	$(PY) bench/coldstart/chart.py bench/results/coldstart.json bench/results/coldstart.png

# The harness's pure parts join bench-check (node:test on the compiled files).
bench-check: bench-coldstart-check

bench-coldstart-check: build
	node --test dist/bench/coldstart/
