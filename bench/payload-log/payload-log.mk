# Payload logging benchmark (bench/payload-log/bench.ts, issue 16): router throughput to a real
# model server with logging off vs 100 % to a real sink process, alternating arms, and a check that
# no event was lost. Writes bench/results/payload-log.{json,md}. Included from bench/bench.mk.
.PHONY: bench-payload-log

bench-payload-log: build ## router throughput with payload logging off vs 100 % to a real sink -> bench/results/payload-log.*
	node dist/bench/payload-log/bench.js
