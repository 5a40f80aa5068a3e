# Example models and `make run`.
run: build ## run Modelship locally and serve the example model
	@echo "not yet"
