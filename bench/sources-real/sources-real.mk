# Model sources on real pods (bench/sources-real/bench.ts): apply -> Ready of a ~100 MB model from
# s3://, gs:// and oci://, the first pod on the node (the node cache downloads it) against a second
# pod and a rollback target (the node has it), each split into its parts. Root on Linux (a real
# node); elsewhere one line says it is skipped. Writes bench/results/sources-real.{json,md}.
# Included from bench/bench.mk.
.PHONY: bench-sources-real bench-sources-real-pods

SOURCES_REAL_CLUSTER_DIR := $(CURDIR)/.state/cluster-sources-bench-real

bench-sources-real: ## apply -> Ready on real pods, cold vs warm node cache, per source -> bench/results/sources-real.*
	@if [ "$$(id -u)" = 0 ] && [ "$$(uname -s)" = Linux ]; then \
	  $(MAKE) --no-print-directory bench-sources-real-pods; \
	else \
	  echo "bench-sources-real: skipped: real pods need root on Linux"; \
	fi

# The leftovers check runs under the lock too (as bench-rollback-pods).
bench-sources-real-pods: build cluster-build cluster-images image pydeps
	flock $(REAL_NODE_LOCK) env MODELSHIP_CLUSTER_DIR=$(SOURCES_REAL_CLUSTER_DIR) \
	  sh -c 'node dist/bench/sources-real/bench.js && $(CLUSTER_CLI) leftovers'
