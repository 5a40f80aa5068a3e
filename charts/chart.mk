# Helm chart targets. The chart's CRD is a copy of crds/ (the single source); chart-crd refreshes
# it and the e2e suite (test/e2e/helm.test.ts) fails if they differ.
HELM ?= $(MODELSHIP_BIN_CACHE)/helm
.PHONY: chart-crd chart-lint

chart-crd: ## copy crds/ into the Helm chart
	cp crds/modeldeployments.modelship.dev.yaml charts/modelship/crds/

chart-lint: chart-crd cluster-build ## helm lint --strict (kubeconform runs in the e2e suite against the cluster's schemas)
	$(HELM) lint --strict charts/modelship
