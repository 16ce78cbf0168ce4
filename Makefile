# lakeqa: the two commands a user needs are `make demo` (set up and run the demo) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup spark-setup demo test test-postgres spark-check lint sqllint evaluate docs bench false-alarms clean

setup: $(INSTALLED)

GE_OFFLINE := great_expectations/offline

# Pinned dependencies (requirements.lock) into .venv/, the project itself editable; and, where npm is
# installed, the scripts and styles GE Data Docs would fetch from CDNs (great_expectations/offline, pinned
# by its package-lock.json), so that the Data Docs render without network (src/lakeqa/ge/offline.py).
$(INSTALLED): pyproject.toml requirements.lock $(GE_OFFLINE)/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	@if command -v npm >/dev/null 2>&1; then \
		cd $(GE_OFFLINE) && npm ci --omit=optional --silent; \
	else \
		echo "setup: npm not found: GE Data Docs will load their scripts and styles from public CDNs (apt-get install npm, then make setup)"; \
	fi
	touch $@

# Builds the demo lake (the shipped real sample + one generated day with faults) and runs the daily QA.
demo: setup
	$(BIN)/lakeqa demo

# Every test: lint, then pytest (Python modules, the CLI, and dbt builds end to end). Where Debian's
# postgresql is installed, pytest runs beside a throw-away Postgres cluster (tests/postgres/cluster.sh:
# a temp folder, a free port, stopped and removed after) for the export-db tests; without it they skip.
# Then, where Java is installed, spark-check (LAKEQA_REQUIRE_SPARK=1, as in CI, fails without it).
test: setup lint
	tests/postgres/cluster.sh run $(BIN)/pytest
	@if command -v java >/dev/null 2>&1 || [ -n "$$LAKEQA_REQUIRE_SPARK" ]; then \
		$(MAKE) --no-print-directory spark-check; \
	else \
		echo "test: no java: spark-check left out (apt-get install openjdk-17-jre-headless, then make spark-check)"; \
	fi

# The spark target's parts (README "Running on Spark"): pyspark and dbt-spark into .venv, pinned by
# requirements.lock; Java 17 from Debian where it is missing and we are root.
spark-setup: setup
	@if ! command -v java >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null; \
		else \
			echo "spark-setup: Spark needs Java 17: apt-get install openjdk-17-jre-headless" >&2; exit 1; \
		fi; \
	fi
	$(BIN)/pip install --quiet -c requirements.lock -e '.[spark]'

# The same models on Spark and on DuckDB, from a generated lake with faults and the shipped real sample,
# compared row by row (tests/spark/spark_check.py); SPARK_CHECK_ARGS="--work DIR" keeps the outputs.
spark-check: spark-setup
	$(BIN)/python tests/spark/spark_check.py $(SPARK_CHECK_ARGS)

# Only the export-db tests, against a throw-away Postgres cluster (apt-get install postgresql).
test-postgres: setup
	LAKEQA_REQUIRE_POSTGRES=1 tests/postgres/cluster.sh run $(BIN)/pytest tests/python/test_export_db.py

lint: setup sqllint
	$(BIN)/ruff check src tests benchmarks models

# sqlfluff (.sqlfluff: dbt templater, DuckDB dialect) over the dbt project's SQL. The dbt templater compiles
# every model, and staging lists the lake's files while compiling, so it runs on a lake imported from the
# shipped sample (data/sample/), with its own DuckDB file and dbt target, in a temp folder removed after.
# The dbt templater skips macro files ("because it is a macro"): a macro's SQL is parsed inside each model
# that expands it, but only a model's own text is checked for layout.
sqllint: setup
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(BIN)/lakeqa import data/sample/binance-ws --lake "$$tmp/lake" --quiet && \
	LAKE_ROOT="$$tmp/lake" DUCKDB_PATH="$$tmp/lint.duckdb" DBT_TARGET_PATH="$$tmp/target" \
	DBT_LOG_PATH="$$tmp/logs" $(BIN)/sqlfluff lint models macros analyses

# dbt Labs' dbt-project-evaluator over a scratch copy of the project (README "What dbt-project-evaluator
# says"); needs local checkouts: make evaluate EVALUATOR_SRC=... DBT_UTILS_SRC=...
evaluate: setup
	EVALUATOR_SRC=$(EVALUATOR_SRC) DBT_UTILS_SRC=$(DBT_UTILS_SRC) DBT=$(CURDIR)/$(BIN)/dbt \
	tests/project_evaluator/run.sh

# dbt docs for the demo database; then open http://localhost:8080
docs: setup
	$(BIN)/dbt docs generate && $(BIN)/dbt docs serve --port 8080

bench: setup
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# the detectors' records on clean generated days, cold start vs learned background (README "How the
# detectors decide")
false-alarms: setup
	$(BIN)/python benchmarks/false_alarms.py $(FALSE_ALARMS_ARGS)

clean:
	rm -rf target logs output lake lakeqa.duckdb lakeqa.work.duckdb lakeqa.duckdb.run.lock lakeqa.work.duckdb.published.json
