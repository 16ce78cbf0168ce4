#!/usr/bin/env bash
# dbt Labs' dbt-project-evaluator over a scratch copy of this project; the project itself never vendors it
# (dbt hub packages cannot be installed here). Give it local checkouts of both packages:
#
#   EVALUATOR_SRC=~/src/dbt-project-evaluator DBT_UTILS_SRC=~/src/dbt-utils tests/project_evaluator/run.sh
#
# SCRATCH (default /tmp/lakeqa-evaluator) is replaced. Prints dbt's PASS/WARN summary and each warning's rows.
# README "What dbt-project-evaluator says" lists the counts and why each remaining warning stays.
set -euo pipefail
project=$(cd "$(dirname "$0")/../.." && pwd)
: "${EVALUATOR_SRC:?set EVALUATOR_SRC to a checkout of dbt-labs/dbt-project-evaluator}"
: "${DBT_UTILS_SRC:?set DBT_UTILS_SRC to a checkout of dbt-labs/dbt-utils (1.x)}"
scratch=${SCRATCH:-/tmp/lakeqa-evaluator}
dbt=${DBT:-$project/.venv/bin/dbt}
python=${PYTHON:-$(dirname "$dbt")/python}

rm -rf "$scratch"
mkdir -p "$scratch/_packages"
tar -C "$project" --exclude=./.git --exclude=./.venv --exclude=./target --exclude=./logs \
    --exclude=./dbt_packages --exclude=./lake --exclude=./output --exclude='*.duckdb' -cf - . |
    tar -C "$scratch" -xf -
cp -r "$EVALUATOR_SRC" "$scratch/_packages/dbt_project_evaluator"
cp -r "$DBT_UTILS_SRC" "$scratch/_packages/dbt_utils"
rm -rf "$scratch"/_packages/*/.git "$scratch"/_packages/*/integration_tests*
# the evaluator asks dbt hub for dbt_utils: point it at the local checkout instead
printf 'packages:\n  - local: %s\n' "$scratch/_packages/dbt_utils" > "$scratch/_packages/dbt_project_evaluator/packages.yml"
printf 'packages:\n  - local: %s\n' "$scratch/_packages/dbt_project_evaluator" > "$scratch/packages.yml"
# the evaluator's set-up for DuckDB: dbt's macros dispatch to it first
printf '\ndispatch:\n  - macro_namespace: dbt\n    search_order: ["dbt_project_evaluator", "dbt"]\n' >> "$scratch/dbt_project.yml"

export DUCKDB_PATH=$scratch/evaluator.duckdb DBT_TARGET_PATH=$scratch/target DBT_LOG_PATH=$scratch/logs
args=(--project-dir "$scratch" --profiles-dir "$scratch")
"$dbt" deps "${args[@]}" >/dev/null
# our grain test macro is a primary-key test too (the evaluator's documented var for custom PK tests)
pk_macros='[["dbt.test_unique", "dbt.test_not_null"], ["dbt_utils.test_unique_combination_of_columns"], ["lakeqa.test_lakeqa_unique_combination"]]'
"$dbt" build --select package:dbt_project_evaluator "${args[@]}" \
    --vars "{primary_key_test_macros: $pk_macros}" > "$scratch/evaluator.log" || true
grep -E ' (WARN|ERROR|FAIL) |Done\. PASS' "$scratch/evaluator.log" | grep -v START | sed 's/\x1b\[[0-9;]*m//g'

# the rows behind each warning
"$python" - "$DUCKDB_PATH" <<'PY'
import sys

import duckdb

con = duckdb.connect(sys.argv[1], read_only=True)
tables = [r[0] for r in con.sql(
    "select table_name from information_schema.tables where table_name like 'fct_%' order by 1").fetchall()]
for table in tables:
    rel = con.sql(f'select * from main."{table}"')
    rows = rel.fetchall()
    if table == "fct_test_coverage":
        print(f"\n{table}: " + ", ".join(f"{c}={v}" for c, v in zip(rel.columns, rows[0]) if c != "measured_at"))
    elif table == "fct_documentation_coverage":
        continue
    elif rows:
        print(f"\n{table} ({len(rows)}):")
        for row in rows:
            print("  " + " | ".join(str(v) for v in row))
PY
