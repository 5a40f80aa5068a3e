# Drift detection benchmark: router throughput with drift on vs off (same run), false alarms over
# 10,000 digits test-set requests, and detection latency on shifted inputs. Writes
# bench/results/drift.{json,md}. wrk comes from Debian and is installed when missing.
.PHONY: bench-drift

bench-drift: build ## drift on/off router throughput, false alarms, detection latency -> bench/results/drift.*
	@command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk; }
	node dist/bench/drift/bench.js
