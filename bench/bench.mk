# Benchmarks: never timed assertions in tests; results are committed under bench/results/.
# `bench` runs every benchmark. This file owns bench-server; any other benchmark lives in
# bench/<name>/<name>.mk, defines `bench-<name>`, and is picked up here without editing this file.
.PHONY: bench bench-server bench-tools bench-check

BENCH_FRAGMENTS := $(wildcard bench/*/*.mk)
include $(BENCH_FRAGMENTS)

bench: bench-server $(patsubst bench/%/,bench-%,$(dir $(BENCH_FRAGMENTS))) ## run every benchmark and write bench/results/

bench-tools: ## install the load generator (wrk) and the Python venv the baselines run in
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	command -v taskset >/dev/null || (apt-get update && apt-get install -y util-linux)
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps

bench-server: build bench-tools ## our server vs Flask+gunicorn vs a node:http echo -> bench/results/server.{json,md,png}
	node dist/bench/server/run.js

bench-check: build ## the benchmark harness's own tests (pure parts; node:test on the compiled files)
	node --test dist/bench/server/
