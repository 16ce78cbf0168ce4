# lakeqa: the two commands a user needs are `make demo` (set up and run the demo) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup demo test lint docs bench clean

setup: $(INSTALLED)

# Pinned dependencies (requirements.lock) into .venv/, the project itself editable.
$(INSTALLED): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

# Builds the demo lake (the shipped real sample + one generated day with faults) and runs the daily QA.
demo: setup
	$(BIN)/lakeqa demo

# Every test: lint, then pytest (Python modules, the CLI, and dbt builds end to end).
test: setup lint
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks models

# dbt docs for the demo database; then open http://localhost:8080
docs: setup
	$(BIN)/dbt docs generate && $(BIN)/dbt docs serve --port 8080

bench: setup
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf target logs output lake lakeqa.duckdb
