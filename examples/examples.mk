# Example models and `make serve` (the inference server alone on the digits example, no Kubernetes):
# it prints curls once ready; Ctrl-C stops it. `make run` (the whole stack) is test/run/run.mk's.
RUN_PORT ?= 8080
RUN_METRICS_PORT ?= 9090
RUN_URL := http://127.0.0.1:$(RUN_PORT)
serve: build ## the inference server alone on the digits example (no Kubernetes), with curls to try
	@sha=$$(awk '$$2 == "digits.onnx" {print $$1}' examples/models/SHA256SUMS); \
	( until curl -sf $(RUN_URL)/v2/health/ready >/dev/null 2>&1; do sleep 0.3; done; \
	  printf '\nReady. Predict a handwritten 3 (KServe V1, then Open Inference Protocol V2):\n'; \
	  printf '  curl -s -d @examples/models/samples/digit-3.v1.json $(RUN_URL)/v1/models/digits:predict\n'; \
	  printf '  curl -s -d @examples/models/samples/digit-3.v2.json $(RUN_URL)/v2/models/digits/infer\n'; \
	  printf 'Metrics: curl -s http://127.0.0.1:$(RUN_METRICS_PORT)/metrics    Stop: Ctrl-C\n\n' ) & \
	exec env MODELSHIP_MODEL_URI=examples/models/digits.onnx MODELSHIP_SHA256=$$sha \
	  MODELSHIP_HOST=127.0.0.1 MODELSHIP_PORT=$(RUN_PORT) MODELSHIP_METRICS_PORT=$(RUN_METRICS_PORT) \
	  MODELSHIP_CACHE_DIR=$(STATE)/cache MODELSHIP_TERMINATION_LOG=$(STATE)/termination-log \
	  node dist/server-image/src/main.js

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
