"""`make spark-check`'s comparison (tests/spark/spark_check.py: compare_tables) finds every kind of difference
between an engine's mart and its DuckDB twin, and none where they agree. The Spark builds themselves run in
`make spark-check` (CI runs it), not here: they need Java and take minutes."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import duckdb
import pytest

SPEC = importlib.util.spec_from_file_location(
    "spark_check", Path(__file__).resolve().parents[1] / "spark" / "spark_check.py")
spark_check = importlib.util.module_from_spec(SPEC)
sys.modules["spark_check"] = spark_check  # dataclasses look their module up
SPEC.loader.exec_module(spark_check)

CHECK = spark_check.TableCheck("bars_1s", ("symbol", "ts"), ("open", "trade_count", "bid"), ("volume_base",))


def _tables(rows_duck, rows_spark):
    con = duckdb.connect()
    for name, rows in (("d_bars", rows_duck), ("s_bars", rows_spark)):
        con.execute(f"create table {name} (symbol varchar, ts timestamp, open double, trade_count bigint, "
                    "bid double, volume_base double)")
        con.executemany(f"insert into {name} values (?, ?, ?, ?, ?, ?)", rows)
    return con


BASE = [
    ("BTCUSDT", "2024-08-09 00:00:00", 60000.5, 3, 60000.0, 0.123),
    ("BTCUSDT", "2024-08-09 00:00:01", math.nan, 1, None, 1234567.891),
    ("ETHUSDT", "2024-08-09 00:00:00", 2500.25, 2, 2500.0, 0.0),
]


def _compare(rows_spark):
    con = _tables(BASE, rows_spark)
    return spark_check.compare_tables(con, CHECK, "d_bars", "s_bars")


def test_equal_tables_agree_nan_and_null_included():
    assert _compare(list(BASE)) == (3, 3, [])


def test_sum_within_the_stated_tolerance_agrees():
    rows = list(BASE)
    rows[1] = rows[1][:5] + (1234567.891 * (1 + 2e-16),)
    assert _compare(rows)[2] == []


@pytest.mark.parametrize("column, value", [(2, 60000.25), (3, 4), (4, None), (5, 0.124)])
def test_a_changed_value_is_named(column, value):
    rows = list(BASE)
    rows[0] = rows[0][:column] + (value,) + rows[0][column + 1:]
    _, _, problems = _compare(rows)
    assert len(problems) == 1
    assert "BTCUSDT" in problems[0] and "00:00:00" in problems[0]
    name = ("open", "trade_count", "bid", "volume_base")[column - 2]
    assert f"'{name}'" in problems[0]


def test_a_nan_against_a_number_differs():
    rows = list(BASE)
    rows[1] = rows[1][:2] + (60001.0,) + rows[1][3:]
    assert "'open'" in _compare(rows)[2][0]


def test_rows_on_one_side_only_are_named():
    _, _, problems = _compare(BASE[:2] + [("ETHUSDT", "2024-08-09 00:00:05", 1.0, 1, 1.0, 1.0)])
    assert any("only on DuckDB" in p and "00:00:00" in p and "ETHUSDT" in p for p in problems)
    assert any("only on Spark" in p and "00:00:05" in p for p in problems)


def test_a_duplicated_row_on_one_side_differs():
    n_duck, n_spark, problems = _compare(BASE + [BASE[0]])
    assert (n_duck, n_spark) == (3, 4)
    assert any("only on Spark" in p for p in problems)


def test_no_seed_value_holds_a_single_quote():
    """dbt-spark's seed writes each value into an INSERT between single quotes without escaping them (the
    class of bug of dbt-labs/dbt-spark#572): one apostrophe in a seed breaks `dbt seed` on the spark target."""
    seeds = Path(__file__).resolve().parents[2] / "seeds"
    quoted = [f"{path.name}:{n}" for path in sorted(seeds.glob("*.csv"))
              for n, line in enumerate(path.read_text().splitlines(), 1) if "'" in line]
    assert quoted == []


def test_json_columns_compare_as_json_values():
    check = spark_check.TableCheck("anomalies", ("symbol",), (), (), ("features",))
    con = duckdb.connect()
    con.execute("create table d (symbol varchar, features varchar)")
    con.execute("create table s (symbol varchar, features varchar)")
    con.execute("""insert into d values ('A', '{"return_1s": -8.01834e-05, "trade_count": 12}'),
                                        ('B', '{"z_score": 8.381115}'), ('C', null)""")
    # Spark's to_json: no spaces, Java's spelling of small numbers
    con.execute("""insert into s values ('A', '{"return_1s":-8.01834E-5,"trade_count":12}'),
                                        ('B', '{"z_score":8.381116}'), ('C', null)""")
    _, _, problems = spark_check.compare_tables(con, check, "d", "s")
    assert len(problems) == 1 and "symbol=B" in problems[0]
