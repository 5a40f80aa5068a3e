# Local control plane (kube-apiserver, etcd, controller-manager, scheduler, kwok), built from Go modules.
# Binaries are cached outside the repo, keyed by version (see test/cluster/README.md).
MODELSHIP_BIN_CACHE ?= $(HOME)/.cache/modelship/bin
export MODELSHIP_BIN_CACHE
CLUSTER_CLI := node dist/test/cluster/cli.js

.PHONY: cluster-build cluster-up cluster-down cluster-status cluster-gateway-api cluster-leftovers e2e-node e2e-real

# NODE=kwok (default: fake nodes), real (a real node: root on Linux), auto (real when possible).
NODE ?= kwok
# One real node per machine (fixed link names): every target that starts one holds this lock.
REAL_NODE_LOCK := /tmp/modelship-real-node.lock

# Two checkouts building at once would run apt twice (one fails on dpkg's lock) and every Go build
# twice on the same cache: the second waits and then finds the binaries cached.
CLUSTER_BUILD_LOCK := /tmp/modelship-cluster-build.lock

# The model stores' tests (test/stores) run these: the registry, oras, fake-gcs-server, MinIO.
STORE_BINARIES := registry oras fake-gcs-server minio

.PHONY: stores-build
stores-build: ## build (or reuse) the test stores (registry, oras, fake-gcs-server, MinIO) into $(MODELSHIP_BIN_CACHE)
	flock $(CLUSTER_BUILD_LOCK) test/cluster/build-binaries.sh $(STORE_BINARIES)

# The server tests include test/stores (the jest `server` project). e2e and e2e-real build them through cluster-build.
test-server: stores-build

cluster-build: ## apt packages of the real node (as root, when missing); build (or reuse) etcd, kube-*, kubectl, kubelet, kube-proxy, agnhost, kwok, helm, kubeconform, coredns, registry, Prometheus, the test stores into $(MODELSHIP_BIN_CACHE)
	flock $(CLUSTER_BUILD_LOCK) sh -c 'test/cluster/node-packages.sh && test/cluster/build-binaries.sh'

.PHONY: cluster-images
cluster-images: cluster-build ## build (or reuse) the real node's images (pause, agnhost, coredns) as OCI archives in $(MODELSHIP_BIN_CACHE)/images
	flock $(CLUSTER_BUILD_LOCK) test/cluster/images.sh

cluster-up: build cluster-build $(if $(filter kwok,$(NODE)),,cluster-images) ## start the local control plane (NODE=kwok|real|auto); KUBECONFIG=.state/cluster/kubeconfig
	$(CLUSTER_CLI) up --node=$(NODE)

cluster-down: $(if $(wildcard dist/test/cluster/cli.js),,build) ## stop the local control plane (logs stay in .state/cluster/logs)
	$(CLUSTER_CLI) down

cluster-status: $(if $(wildcard dist/test/cluster/cli.js),,build) ## is the local control plane up and healthy?
	$(CLUSTER_CLI) status

cluster-gateway-api: $(if $(wildcard dist/test/cluster/cli.js),,build) ## install the pinned Gateway API CRDs (standard channel) into the running local cluster
	$(CLUSTER_CLI) gateway-api

e2e: build cluster-build ## e2e tests against the local control plane
	$(JEST) --selectProjects e2e --runInBand

cluster-leftovers: $(if $(wildcard dist/test/cluster/cli.js),,build) ## list what a real node left on this machine (exit 1 if anything)
	$(CLUSTER_CLI) leftovers

# Real node in .state/cluster-node (never the e2e project's .state/cluster); its globalTeardown fails on leftovers.
# test/e2e-pods installs the chart from the image `make image` built. With E2E_KUBECONFIG=<file> only
# that product suite runs, against that cluster (kind after `make kind`; the image must be there).
# E2E_NODE_ARGS: extra jest arguments to run a part, e.g. E2E_NODE_ARGS="--testPathPatterns rollouts -t auth".
E2E_NODE_ARGS ?=
ifdef E2E_KUBECONFIG
e2e-node: build cluster-build
	$(JEST) --selectProjects e2e-node --runInBand $(E2E_NODE_ARGS) test/e2e-pods
else
e2e-node: build cluster-build cluster-images image ## e2e tests on a real node (containerd, kubelet, kube-proxy, CoreDNS; root on Linux); E2E_KUBECONFIG=<file>: the product suite on that cluster
	flock $(REAL_NODE_LOCK) sh -c '$(JEST) --selectProjects e2e-node --runInBand $(E2E_NODE_ARGS) && \
	  MODELSHIP_CLUSTER_DIR=$(CURDIR)/.state/cluster-node $(CLUSTER_CLI) leftovers'
endif

e2e-real: ## e2e-node where the machine allows real pods (root on Linux); elsewhere one line says it is skipped
	@if [ "$$(id -u)" = 0 ] && [ "$$(uname -s)" = Linux ]; then \
	  $(MAKE) --no-print-directory e2e-node; \
	else \
	  echo "e2e-real: skipped: real pods need root on Linux (the kwok e2e suite ran)"; \
	fi
