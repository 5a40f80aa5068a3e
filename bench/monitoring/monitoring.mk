# The monitoring picture (issue 16): the monitoring e2e (test/e2e/monitoring.test.ts: a real
# Prometheus scraping the operator, the router and the model servers through a promoted and a
# rolled-back canary) run with MODELSHIP_DASHBOARD_DATA writes every dashboard query's range data,
# and render.py draws the dashboard's panels from it on the dashboard's own grid.
.PHONY: bench-monitoring

MONITORING_DATA := $(CURDIR)/$(STATE)/monitoring/dashboard.json

bench-monitoring: build cluster-build ## the Grafana dashboard drawn from a real run -> bench/results/dashboard.png
	flock /tmp/modelship-venv.lock $(MAKE) --no-print-directory pydeps
	MODELSHIP_DASHBOARD_DATA=$(MONITORING_DATA) flock /tmp/modelship-e2e.lock $(JEST) --selectProjects e2e --runInBand --testPathPatterns 'test/e2e/monitoring\.test'
	$(PY) bench/monitoring/render.py charts/modelship/dashboards/modelship.json $(MONITORING_DATA) bench/results/dashboard.png
