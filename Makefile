# make serve: create .venv, install, serve the demo catalog on http://127.0.0.1:8000
# make test:  the whole suite (lint + tests); what CI runs
# make test-fast: lint + every test not marked slow (no real browser, no benchmark run): the inner loop
# make bench: the benchmark suite (docs/benchmarks.md)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-fast lint bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $(STAMP)

system-deps:
	./scripts/system-deps.sh --all

serve: $(STAMP)
	./scripts/system-deps.sh
	$(BIN)/transformer serve --demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) system-deps lint
	$(BIN)/pytest

test-fast: $(STAMP) lint
	$(BIN)/pytest -m "not slow"

# the benchmark suite (not a test): writes docs/benchmarks.md; SHAPE=z,y,x to change the volume
SHAPE ?= 256,2048,2048
bench: $(STAMP) system-deps
	$(BIN)/python -m bench --shape $(SHAPE)

clean:
	rm -rf $(VENV) .pytest_cache
