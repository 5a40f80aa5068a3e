# Benchmarks: never timed assertions in tests; results are committed under bench/results/.
# `bench` runs every benchmark; each area adds its own `bench-<area>` target as a prerequisite.
.PHONY: bench bench-server bench-tools bench-check

bench: bench-server ## run the benchmarks and write bench/results/

bench-tools: ## install the load generator (wrk) and the Python venv the baselines run in
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	command -v taskset >/dev/null || (apt-get update && apt-get install -y util-linux)
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps

bench-server: build bench-tools ## our server vs Flask+gunicorn vs a node:http echo -> bench/results/server.{json,md,png}
	node dist/bench/server/run.js

bench-check: build ## the benchmark harness's own tests (pure parts; node:test on the compiled files)
	node --test dist/bench/server/
