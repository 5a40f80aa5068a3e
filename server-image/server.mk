# Inference server: tests that run real HTTP against a server process on real ONNX models.
# The venv (for the tritonclient.http compatibility test) is made under a lock: other targets may
# be creating it at the same moment.
test-server: build ## server tests (real HTTP, real ONNX models, the real tritonclient.http)
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps
	$(JEST) --selectProjects server
