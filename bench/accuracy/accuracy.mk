# Live accuracy's cost in the router: CPU per request with monitoring.accuracy on vs off in the same
# router process (alternating rounds), and CPU per joined label. Bounded: ~20 s, loopback only.
# Writes bench/results/accuracy.{json,md}.
.PHONY: bench-accuracy

bench-accuracy: build ## router CPU per request with live accuracy on vs off -> bench/results/accuracy.*
	node dist/bench/accuracy/bench.js
