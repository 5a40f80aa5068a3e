# Model sources benchmark (bench/sources/bench.ts, issue 14): for a ~100 MB model on the real test
# stores (MinIO, fake-gcs-server, the distribution registry) on loopback, our fetch pipeline's
# throughput against each store's own client (aws s3 cp, the AWS SDK, @google-cloud/storage, oras
# pull, curl), and the real server's cold vs warm start with the node cache agent. Writes
# bench/results/sources.{json,md,png}.
.PHONY: bench-sources bench-sources-check

bench-sources: build stores-build ## model download throughput vs the stores' own clients; cold vs warm start -> bench/results/sources.*
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps
	node dist/bench/sources/bench.js

# The harness's pure parts join bench-check (node:test on the compiled files).
bench-check: bench-sources-check

bench-sources-check: build
	node --test dist/bench/sources/
