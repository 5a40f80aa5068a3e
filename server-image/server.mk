# Inference server: tests that run real HTTP against a server process on real ONNX models.
test-server: build ## server tests (real HTTP, real ONNX models)
	$(JEST) --selectProjects server
