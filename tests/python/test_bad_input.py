"""Bad input in the lake: NULL prices, an empty day, drifted schemas, the hard gate for critical rules."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeqa import lake
from lakeqa.dbt_runner import DbtError, run_dbt

pytestmark = pytest.mark.e2e


def _trades(prices: list[float | None], start: dt.datetime) -> pa.Table:
    n = len(prices)
    return pa.table(
        {
            "trade_id": list(range(1, n + 1)),
            "price": pa.array(prices, pa.float64()),
            "qty": [1.0] * n,
            "quote_qty": pa.array([None] * n, pa.float64()),
            "ts": pa.array([start + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us")),
            "is_buyer_maker": [i % 2 == 0 for i in range(n)],
        }
    )


def test_null_price_is_a_no_nan_violation_and_the_gate_can_stop_the_build(dbt_project):
    lake.write_partitions(
        dbt_project.lake, "trades", "BTCUSDT", _trades([100.0, None, 101.0], dt.datetime(2024, 8, 9, 12)), "t"
    )
    dbt_project.build({"day": "2024-08-09"})
    rows = dbt_project.query("select source_table, rule, severity from violations order by all")
    # one price of three is null: a NaN in the bars (R4) and a null share of 33 % > 5 % (C6)
    assert rows == [
        ("bars_1m", "R4_NO_NAN", "critical"),
        ("bars_1s", "R4_NO_NAN", "critical"),
        ("completeness_checks", "C6_NULL_SHARE", "major"),
    ]
    assert dbt_project.query("select verdict from fusion") == [("FAIL",)]

    # a team that wants a hard gate: critical rule tests become errors
    outcome = run_dbt(
        ["build", "--select", "tag:daily", "--vars", '{"day": "2024-08-09", "rules_critical_as_error": true}'],
        dbt_project.paths,
        quiet=True,
    )
    assert not outcome.success
    assert outcome.statuses()["r4_no_nan_bars_1s_"] == "fail"


def test_an_empty_day_builds_without_rows(dbt_project):
    lake.write_partitions(
        dbt_project.lake, "trades", "BTCUSDT", _trades([100.0, 101.0], dt.datetime(2024, 8, 9, 12)), "t"
    )
    dbt_project.build({"day": "2024-08-07"})
    for table in ("bars_1s", "bars_1m", "violations", "anomalies", "fusion"):
        assert dbt_project.query(f"select count(*) from {table}") == [(0,)], table


def test_a_retyped_column_stops_the_run_naming_file_and_column(dbt_project):
    lake.write_partitions(
        dbt_project.lake, "trades", "BTCUSDT", _trades([100.0, 101.0], dt.datetime(2024, 8, 9, 12)), "good"
    )
    dbt_project.build({"day": "2024-08-09"})
    before = dbt_project.query("select count(*) from bars_1s")
    bad = _trades([100.0], dt.datetime(2024, 8, 9, 13)).set_column(1, "price", pa.array(["100.0"]))
    path = dbt_project.lake / "trades" / "symbol=ETHUSDT" / "date=2024-08-09" / "drifted.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(bad, path)
    try:
        outcome = run_dbt(["build", "--select", "tag:daily", "--vars", '{"day": "2024-08-09"}'], dbt_project.paths)
        message = " ".join(str(r.message) for r in outcome.results)
        assert not outcome.success
    except DbtError as exc:
        message = str(exc)
    assert "drifted.parquet" in message and "'price'" in message
    assert dbt_project.query("select count(*) from bars_1s") == before, "a day was half-replaced"
