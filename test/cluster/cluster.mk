# Local control plane (kube-apiserver, etcd, controller-manager, scheduler, kwok), built from Go modules.
# Binaries are cached outside the repo, keyed by version (see test/cluster/README.md).
MODELSHIP_BIN_CACHE ?= $(HOME)/.cache/modelship/bin
export MODELSHIP_BIN_CACHE
CLUSTER_CLI := node dist/test/cluster/cli.js

.PHONY: cluster-build cluster-up cluster-down cluster-status cluster-gateway-api

cluster-build: ## build (or reuse) etcd, kube-*, kubectl, kwok, helm, kubeconform into $(MODELSHIP_BIN_CACHE)
	test/cluster/build-binaries.sh

cluster-up: build cluster-build ## start the local control plane; KUBECONFIG=.state/cluster/kubeconfig
	$(CLUSTER_CLI) up

cluster-down: $(if $(wildcard dist/test/cluster/cli.js),,build) ## stop the local control plane (logs stay in .state/cluster/logs)
	$(CLUSTER_CLI) down

cluster-status: $(if $(wildcard dist/test/cluster/cli.js),,build) ## is the local control plane up and healthy?
	$(CLUSTER_CLI) status

cluster-gateway-api: $(if $(wildcard dist/test/cluster/cli.js),,build) ## install the pinned Gateway API CRDs (standard channel) into the running local cluster
	$(CLUSTER_CLI) gateway-api

e2e: build cluster-build ## e2e tests against the local control plane
	$(JEST) --selectProjects e2e --runInBand
