# Local pod runner (test/localpods): real inference-server processes for the pods kwok "runs".
# `make run-local`: control plane + operator + examples/digits.yaml, served on loopback, until Ctrl-C.
LOCALPODS_CLUSTER_DIR := $(or $(MODELSHIP_CLUSTER_DIR),$(STATE)/cluster)
KUBECTL := $(MODELSHIP_BIN_CACHE)/kubectl --kubeconfig $(LOCALPODS_CLUSTER_DIR)/kubeconfig
LOCALPODS_CRD := crds/modeldeployments.modelship.dev.yaml

.PHONY: run-local localpods

run-local: build cluster-build ## control plane + operator + digits example served on 127.0.0.1 (Ctrl-C stops all)
	@$(CLUSTER_CLI) status || $(CLUSTER_CLI) up
	$(KUBECTL) apply --server-side --field-manager=modelship-run-local -f $(LOCALPODS_CRD)
	$(KUBECTL) wait --for condition=established --timeout=60s crd/modeldeployments.modelship.dev
	$(KUBECTL) apply --server-side --field-manager=modelship-run-local -f examples/digits.yaml
	node dist/test/localpods/runLocal.js --mount /models=examples/models

localpods: build ## only the pod runner, against the running local cluster (Ctrl-C stops its processes)
	node dist/test/localpods/main.js --kubeconfig $(LOCALPODS_CLUSTER_DIR)/kubeconfig --mount /models=examples/models
