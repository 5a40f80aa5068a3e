# Operator scale benchmark (bench/operator/bench.ts): 300 ModelDeployments on the local control plane.
# Included from bench/bench.mk. Reuses a running `make cluster-up` cluster, else starts and stops one.
.PHONY: bench-operator

bench-operator: build cluster-build ## 300 ModelDeployments to Ready: time, operator RSS, API requests → bench/results/operator.{json,md}
	node dist/bench/operator/bench.js
