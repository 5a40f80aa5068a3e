# Benchmarks: never timed assertions in tests; results are committed under bench/results/.
bench: build ## run the benchmarks and write bench/results/
	@echo "no benchmarks yet"
