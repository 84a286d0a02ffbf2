# make serve: create .venv, install, serve the demo catalog on http://127.0.0.1:8000
# make test:  the whole suite (lint + tests); what CI runs
# make test-fast: lint + every test not marked slow (no real browser, no benchmark run): the inner loop
# make bench: the benchmark suite (docs/benchmarks.md)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# one stamp per set of extras: serving installs only what serving needs
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: serve test test-fast lint bench system-deps clean

$(VENV)/bin/python:
	@echo "creating the environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "installing brain-transformer (serving dependencies only)"
	$(BIN)/pip install -q -e .
	touch $(SERVE_STAMP)

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "installing brain-transformer with the test and benchmark tools"
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $(DEV_STAMP) $(SERVE_STAMP)

system-deps:
	./scripts/system-deps.sh --all

serve: $(SERVE_STAMP)
	./scripts/system-deps.sh
	@echo "generating the demo datasets and serving them: open http://127.0.0.1:8000/"
	$(BIN)/transformer serve --demo

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

test: $(DEV_STAMP) system-deps lint
	$(BIN)/pytest

test-fast: $(DEV_STAMP) lint
	$(BIN)/pytest -m "not slow"

# the benchmark suite (not a test): writes docs/benchmarks.md; SHAPE=z,y,x to change the volume
SHAPE ?= 256,2048,2048
bench: $(DEV_STAMP) system-deps
	$(BIN)/python -m bench --shape $(SHAPE)

clean:
	rm -rf $(VENV) .pytest_cache
