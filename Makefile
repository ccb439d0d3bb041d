# Samverkan — every target sets itself up: a local uv, the workspace environment, then the job.
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
export UV_PROJECT_ENVIRONMENT := .venv
RUN := $(UV) run --frozen --all-packages

.PHONY: help setup demo test test-unit test-integration test-e2e lint format up clean \
	contracts contracts-check bench deploy-check test-faults

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: uv.lock pyproject.toml $(wildcard */pyproject.toml services/*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages --quiet
	@touch $@

setup: .venv/.synced  ## create .venv and install the workspace (uv, one lock file)

demo: setup  ## run a two-principal network and one referral end to end
	$(RUN) samverkan-dev demo

up: setup  ## keep a local two-principal network running (Ctrl-C stops it)
	$(RUN) samverkan-dev up

test: setup  ## unit, integration and end-to-end tests, on embedded Kafka and Postgres
	$(RUN) pytest -m "not faults"

test-unit: setup  ## only the fast tests with no broker or database
	$(RUN) pytest -m unit

test-integration: setup  ## one component at a time against real Kafka and Postgres
	$(RUN) pytest -m integration

test-e2e: setup  ## two principals, all services, over HTTP and Kafka
	$(RUN) pytest -m e2e

test-faults: setup  ## kill services, stop the broker, restart Postgres: nothing lost or doubled
	$(RUN) pytest -m faults tests/faults

lint: setup  ## ruff lint and format check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: setup  ## apply ruff's formatting and safe fixes
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

contracts: setup  ## regenerate contracts/asyncapi.yaml and contracts/schemas/ from the models
	$(RUN) python -m samverkan.contracts.generate

contracts-check: setup  ## fail when generated contracts are stale or a change is not backward compatible
	$(RUN) python -m samverkan.contracts.generate --check

bench: setup  ## benchmarks against raw baselines in the same run (results in bench/results/)
	$(RUN) python -m bench

deploy-check: setup  ## validate deploy/ statically: compose files and Kubernetes manifests
	$(RUN) python -m deploy.check

clean:  ## remove the environment and caches
	rm -rf .venv $(TOOLS) .pytest_cache .ruff_cache
