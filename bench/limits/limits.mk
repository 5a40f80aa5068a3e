# Response size limit benchmark (bench/limits/bench.ts): peak RSS of one serving process answering
# one large request at the limit, just past it and for the issue's 31 MiB case, with the limit out
# of reach (baseline) and at its default. Writes bench/results/limits.{json,md}.
.PHONY: bench-limits

bench-limits: build ## peak server RSS at and past MODELSHIP_MAX_RESPONSE_SIZE, vs no limit -> bench/results/limits.*
	node dist/bench/limits/bench.js
