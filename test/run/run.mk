# `make run`: Modelship locally. Where the machine can run real pods (root on Linux), the chart is
# installed from the image `make image` built and the example is served by real pods on a real node
# (test/run/main.ts); elsewhere the operator runs as a process and kwok's fake pods are served by
# local processes (test/localpods, `make run-local`). It says which in its first line.
.PHONY: run run-pods

run: ## Modelship + examples/digits.yaml locally: real pods where the machine allows it (root on Linux), else local processes
	@if [ "$$(id -u)" = 0 ] && [ "$$(uname -s)" = Linux ]; then \
	  echo "run: real pods (root on Linux): containerd, kubelet, kube-proxy, CoreDNS, the chart from make image"; \
	  $(MAKE) --no-print-directory run-pods; \
	else \
	  echo "run: no real pods (needs root on Linux): the operator and the model servers run as local processes on kwok nodes"; \
	  $(MAKE) --no-print-directory run-local; \
	fi

run-pods: build cluster-build cluster-images image ## the real-pod mode of `make run` (root on Linux)
	flock $(REAL_NODE_LOCK) node dist/test/run/main.js
