# `make kind`: Modelship on a kind cluster for users with Docker (test/kind/kind.sh). Docker and kind
# are checked before anything is built, so a machine without them fails in one line, at once.
.PHONY: kind

kind: ## kind cluster "modelship" + the image + the chart + examples/digits.yaml (needs Docker)
	test/kind/kind.sh check
	$(MAKE) --no-print-directory build cluster-build image
	test/kind/kind.sh up $(IMAGE) $(MODELSHIP_BIN_CACHE)/helm $(MODELSHIP_BIN_CACHE)/kubectl
