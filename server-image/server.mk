# Inference server: tests that run real HTTP against a server process on real ONNX models.
# The venv (for the tritonclient.http and kserve client compatibility tests) is made under a lock: other targets may
# be creating it at the same moment. The oci:// tests build ModelCar images with podman: installed here (as root,
# only what is missing) as for `make image`, which a fresh machine reaches only later in `make test`.
test-server: build ## server tests (real HTTP, real ONNX models, the real tritonclient.http and kserve clients)
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps
	@server-image/image-tools.sh podman
	$(JEST) --selectProjects server
