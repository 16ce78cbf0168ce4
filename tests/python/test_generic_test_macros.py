"""The generic test macros (macros/tests/: lakeqa_unique_combination, the grain; lakeqa_not_null, a model's
not-null columns) proved on their own, dbt-utils' integration-test way: a tiny dbt project with seeds of good
and bad rows, the macros attached to each, and the failing rows each must return."""

from __future__ import annotations

import json
import shutil
import textwrap

import duckdb
import pytest

from lakeqa.settings import PROJECT_DIR

MACROS = [
    PROJECT_DIR / "macros" / "tests" / "test_lakeqa_unique_combination.sql",
    PROJECT_DIR / "macros" / "tests" / "test_lakeqa_not_null.sql",
    # lakeqa_quote, with which lakeqa_not_null names a column in its failing rows
    PROJECT_DIR / "macros" / "lake" / "lakeqa_read_lake.sql",
]

SEEDS = {
    # (symbol, ts) identifies a row: a symbol's second once
    "rows_unique": "symbol,ts,price\nBTCUSDT,2024-08-09 00:00:00,1\nBTCUSDT,2024-08-09 00:00:01,2\n"
                   "ETHUSDT,2024-08-09 00:00:00,3\n",
    # BTCUSDT 00:00:00 three times, ETHUSDT 00:00:00 twice
    "rows_duplicated": "symbol,ts,price\nBTCUSDT,2024-08-09 00:00:00,1\nBTCUSDT,2024-08-09 00:00:00,2\n"
                       "BTCUSDT,2024-08-09 00:00:00,3\nETHUSDT,2024-08-09 00:00:00,4\nETHUSDT,2024-08-09 00:00:00,5\n"
                       "ETHUSDT,2024-08-09 00:00:01,6\n",
    # a NULL symbol (once) and a NULL ts (once) are no key
    "rows_with_null_key": "symbol,ts,price\nBTCUSDT,2024-08-09 00:00:00,1\n,2024-08-09 00:00:01,2\n"
                          "ETHUSDT,,3\n",
    # price NULL three times, ts once (in the same row as one of them)
    "rows_with_nulls": "symbol,ts,price\nBTCUSDT,2024-08-09 00:00:00,\nBTCUSDT,,\nETHUSDT,2024-08-09 00:00:00,\n"
                       "ETHUSDT,2024-08-09 00:00:01,4\n",
}

SCHEMA = """
version: 2
seeds:
  - name: rows_unique
    data_tests:
      - lakeqa_unique_combination:
          arguments: {combination_of_columns: [symbol, ts]}
  - name: rows_duplicated
    data_tests:
      - lakeqa_unique_combination:
          arguments: {combination_of_columns: [symbol, ts]}
      # one column is a key too
      - lakeqa_unique_combination:
          arguments: {combination_of_columns: [price]}
  - name: rows_with_null_key
    data_tests:
      - lakeqa_unique_combination:
          arguments: {combination_of_columns: [symbol, ts]}
      # symbol and ts hold one NULL each, price none
      - lakeqa_not_null:
          arguments: {columns: [symbol, ts, price]}
      - lakeqa_not_null:
          arguments: {columns: [price]}
  - name: rows_with_nulls
    data_tests:
      - lakeqa_not_null:
          arguments: {columns: [symbol, ts, price]}
"""

BAD_ARGUMENTS = """
version: 2
seeds:
  - name: rows_unique
    data_tests:
      - lakeqa_unique_combination:
          arguments: {combination_of_columns: []}
"""

BAD_NOT_NULL_ARGUMENTS = """
version: 2
seeds:
  - name: rows_unique
    data_tests:
      - lakeqa_not_null:
          arguments: {columns: symbol}
"""


def _project(root, schema: str) -> list[str]:
    """Writes the fixture project under ``root``: -> the dbt arguments that point at it."""
    (root / "macros").mkdir()
    for macro in MACROS:
        shutil.copy(macro, root / "macros" / macro.name)
    (root / "seeds").mkdir()
    for name, rows in SEEDS.items():
        (root / "seeds" / f"{name}.csv").write_text(rows)
    (root / "seeds" / "_seeds.yml").write_text(textwrap.dedent(schema))
    # named lakeqa: the macro dispatches in the lakeqa namespace
    (root / "dbt_project.yml").write_text(
        "name: lakeqa\nversion: '0.1.0'\nconfig-version: 2\nprofile: fixture\n"
        "seeds:\n  lakeqa:\n    +column_types: {symbol: varchar, ts: timestamp, price: double}\n"
        "data_tests:\n  lakeqa:\n    +store_failures: true\n"
    )
    (root / "profiles.yml").write_text(
        "fixture:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: '{root / 'fixture.duckdb'}'\n      threads: 1\n"
    )
    return ["--project-dir", str(root), "--profiles-dir", str(root), "--target-path", str(root / "target"),
            "--log-path", str(root / "logs")]


def _invoke(args: list[str]):
    from dbt.cli.main import dbtRunner

    from lakeqa.dbt_runner import _release_duckdb

    try:
        return dbtRunner().invoke(["--quiet", *args])
    finally:
        _release_duckdb()


@pytest.fixture(scope="module")
def fixture_project(tmp_path_factory):
    """Builds the fixture project once: -> (run results by test name, DuckDB path)."""
    root = tmp_path_factory.mktemp("grain_fixture")
    args = _project(root, SCHEMA)
    _invoke(["build", *args])
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[2]: r for r in results}, root / "fixture.duckdb"


def _result(results: dict, prefix: str) -> dict:
    matches = [r for name, r in results.items() if name.startswith(prefix)]
    assert len(matches) == 1, (prefix, sorted(results))
    return matches[0]


def _failing_rows(db, result) -> list[tuple]:
    relation = result["relation_name"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(con.execute(f"select * from {relation}").fetchall(), key=str)
    finally:
        con.close()


def test_a_unique_key_passes(fixture_project):
    results, _ = fixture_project
    assert _result(results, "lakeqa_unique_combination_rows_unique_symbol__ts")["status"] == "pass"


def test_each_duplicated_combination_is_one_failing_row_with_its_count(fixture_project):
    results, db = fixture_project
    result = _result(results, "lakeqa_unique_combination_rows_duplicated_symbol__ts")
    assert result["status"] == "fail" and result["failures"] == 2
    rows = _failing_rows(db, result)
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [
        ("BTCUSDT", "2024-08-09 00:00:00", 3),
        ("ETHUSDT", "2024-08-09 00:00:00", 2),
    ]
    assert _result(results, "lakeqa_unique_combination_rows_duplicated_price")["status"] == "pass"


def test_a_null_in_any_key_column_fails(fixture_project):
    results, db = fixture_project
    result = _result(results, "lakeqa_unique_combination_rows_with_null_key_symbol__ts")
    assert result["status"] == "fail" and result["failures"] == 2
    rows = _failing_rows(db, result)
    assert {(r[0], r[1] is None, r[2]) for r in rows} == {(None, False, 1), ("ETHUSDT", True, 1)}


@pytest.mark.parametrize(
    "schema, message",
    [
        # an empty column list
        (BAD_ARGUMENTS, "combination_of_columns must be a non-empty list"),
        # a column name instead of a list
        (BAD_NOT_NULL_ARGUMENTS, "lakeqa_not_null on"),
    ],
    ids=["unique_combination_empty_list", "not_null_a_name_not_a_list"],
)
def test_a_bad_column_argument_stops_dbt_at_parse_time_with_a_message(tmp_path, schema, message):
    outcome = _invoke(["parse", *_project(tmp_path, schema)])
    assert not outcome.success
    assert message in str(outcome.exception)
    assert "columns must be a non-empty list" in str(outcome.exception)


def test_not_null_columns_pass_in_one_test(fixture_project):
    results, _ = fixture_project
    assert _result(results, "lakeqa_not_null_rows_with_null_key_price")["status"] == "pass"


def test_each_column_with_nulls_is_one_failing_row_and_the_failures_count_the_nulls(fixture_project):
    results, db = fixture_project
    result = _result(results, "lakeqa_not_null_rows_with_nulls_symbol__ts__price")
    assert result["status"] == "fail" and result["failures"] == 4
    assert _failing_rows(db, result) == [("price", 3), ("ts", 1)]
    result = _result(results, "lakeqa_not_null_rows_with_null_key_symbol__ts__price")
    assert result["status"] == "fail" and result["failures"] == 2
    assert _failing_rows(db, result) == [("symbol", 1), ("ts", 1)]
