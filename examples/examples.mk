# Example models and `make run`.
run: build ## run Modelship locally and serve the example model
	@echo "not yet"

# The ONNX models (examples/models/README.md). `models` rebuilds them byte-identically from
# build_models.py and checks each one in onnxruntime-node; `models-check` only verifies digests.
MODEL_DIRS := examples/models test/fixtures/models

.PHONY: models models-check
models: ## rebuild every ONNX model (deterministic) and check each runs in onnxruntime-node
	test -d node_modules/onnxruntime-node || $(MAKE) --no-print-directory deps
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps
	$(PY) examples/models/build_models.py
	node examples/models/verify_node.js

models-check: ## verify the committed .onnx files against their SHA256SUMS (no Python needed)
	@for dir in $(MODEL_DIRS); do \
	  (cd $$dir && sha256sum --check --strict --quiet SHA256SUMS) || { echo "models-check: $$dir does not match its SHA256SUMS" >&2; exit 1; }; \
	  for f in $$dir/*.onnx; do \
	    grep -q "  $${f##*/}$$" $$dir/SHA256SUMS || { echo "models-check: $$f is not listed in $$dir/SHA256SUMS" >&2; exit 1; }; \
	  done; \
	done
	@echo "models-check: every model matches its SHA256SUMS"
