# d76-alerting: `make run` starts everything, `make test` tests everything.
# Both install what is missing first (apt packages, .venv).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test processes: most tests wait on real timers, so two share the 2-core machines well.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install system venv run run-ha reload test test-unit lint format docs check-config bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

install: system venv ## install everything missing (apt packages, Alertmanager UI, .venv)

system: ## apt packages and the Alertmanager web UI, only what is missing
	@scripts/install-system.sh

venv: $(STAMP) ## the virtualenv with the project and its dev tools

$(STAMP): pyproject.toml
	@echo -e "\033[1m==> creating $(VENV) and installing d76-alerting (pip)\033[0m"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet --progress-bar off -e '.[receiver,dev]'
	@touch $@

run: install ## start the whole stack on 127.0.0.1 with the D75 simulator (Ctrl-C stops it)
	@$(PY) -m stack run

run-ha: install ## the same, highly available: two clustered Alertmanagers, receivers, dispatchers
	@$(PY) -m stack run --ha

reload: venv ## apply edited rules, alertmanager.yml, config/maintenance.yml and config/templates/ to the running stack
	@$(PY) -m stack reload

test: install lint ## lint, then every test against real Prometheus, Alertmanager and PostgreSQL
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-unit: venv ## the unit tests alone: seconds, no services
	@$(PY) -m pytest tests/unit -q

lint: venv ## ruff (lint and format check) and mypy
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy

format: venv ## reformat the code with ruff
	@$(PY) -m ruff format .
	@$(PY) -m ruff check --fix .

docs: venv ## regenerate docs/METRICS.md from the exporter and the rules
	@$(PY) scripts/metrics_doc.py

check-config: system venv ## promtool and amtool checks of the rules, the Alertmanager config and the maintenance windows; the receiver's settings and templates
	@promtool check config prometheus/prometheus.yml
	@promtool test rules prometheus/tests/*.yml
	@amtool check-config alertmanager/alertmanager.yml
	@$(PY) -m stack check
	@$(PY) -m receiver check

clean: ## remove the virtualenv and the local state (.d76: database, TSDB, logs)
	rm -rf $(VENV) .d76

# BENCH_ARGS: e.g. --smoke (every bench at its smallest sizes) or --only ingest,history
BENCH_ARGS ?=

bench: install ## run every benchmark to the end; one summary table, also in .d76/bench/*.json
	@command -v wrk >/dev/null || { echo "==> installing wrk (load generator)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q --no-install-recommends wrk >/dev/null 2>&1 \
		|| { $$SUDO apt-get update -q >/dev/null && \
		     $$SUDO apt-get install -y -q --no-install-recommends wrk >/dev/null; } \
		|| echo "==> wrk could not be installed: bench.ingest uses its Python load generator"; }
	@$(PY) -m bench $(BENCH_ARGS)
