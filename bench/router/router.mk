# Router benchmark: throughput and added latency against nginx doing the same 10/90 split, and
# rollback latency (file source; ConfigMap source when `make cluster-up` has run). Writes
# bench/results/router.{json,md}. nginx and wrk come from Debian and are installed when missing.
.PHONY: bench-router

bench-router: build ## router vs nginx throughput/latency and rollback latency -> bench/results/router.*
	@command -v nginx >/dev/null && command -v wrk >/dev/null || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light wrk; }
	node dist/bench/router/bench.js
