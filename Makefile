# Two entry points (README): `make repro` runs the study, `make test` runs the checks and tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: repro check pull test test-fast browser lint schema dvc-deps bench clean-venv

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## repro: set up .venv and rebuild the whole study with DVC (reports/report.html)
repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

## check: after `make repro`, compare this machine's results with the committed ones
## (verdicts, chosen cells, CV picks, means); fails only on a contradiction (docs/guarantees.md)
check: $(STAMP)
	$(BIN)/python -m noisereg.reproduction

## pull: set up .venv and fetch the committed results from the team's DVC remote (docs/sharing.md)
pull: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc pull

## test: set up .venv, run the lint checks, then the test suite on 2 workers
## (pytest-xdist; loadscope keeps each module's tests, and its built pipeline, on one worker)
test: $(STAMP) lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 2 --dist loadscope --durations=25

## browser: install Chromium for the report's browser checks (Debian/Ubuntu, as root)
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

## test-fast: lint and the tests not marked slow (a minute or two; for development)
test-fast: $(STAMP) lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 2 -m "not slow"

## lint: ruff (lint + format check) and mypy on the library
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## schema: regenerate params.schema.json from noisereg/params/ (commit it with the change)
schema: $(STAMP)
	$(BIN)/python -m noisereg.params.schema

## plots-template: rebuild .dvc/plots-offline.html, the page `dvc plots show` fills offline, from
## the npm packages pinned in tools/offline_plots_template.py (needs npm; commit the result)
.PHONY: plots-template
plots-template:
	$(PYTHON) tools/offline_plots_template.py

## dvc-deps: rewrite each dvc.yaml stage's library deps from its script's imports (commit it)
dvc-deps: $(STAMP)
	$(BIN)/python -m noisereg.dvc_deps

## bench: speed benchmarks (minutes; not part of the tests)
bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_engine.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_dask.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_pipeline.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_stages.py
	$(BIN)/python benchmarks/bench_startup.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_sharing.py

clean-venv:
	rm -rf $(VENV)
