"""Rules against a generated lake with known, injected faults: every fault found, nothing else flagged."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

FAULT_DAY = "2024-08-09"
CLEAN_DAY = "2024-08-08"


def _ts(text: str) -> str:
    return text.replace("T", " ")[:19]


def test_every_injected_fault_is_a_violation_and_nothing_else(faulted_lake_build):
    project = faulted_lake_build
    expected = {
        (fault["symbol"], e["table"], e["rule"], _ts(e["ts"]))
        for fault in project.ground_truth["faults"]
        for e in fault["expect"]
    }
    assert expected, "the generator injected no rule faults"
    found = {
        (symbol, table, rule, ts)
        for symbol, table, rule, ts in project.query(
            "select symbol, source_table, rule, strftime(ts, '%Y-%m-%d %H:%M:%S') from violations"
            " where date = ?",
            [FAULT_DAY],
        )
    }
    assert found - expected == set(), "violations not explained by an injected fault"
    assert expected - found == set(), "injected faults the rules missed"


def test_severity_comes_from_the_rule_catalog(faulted_lake_build):
    wrong = faulted_lake_build.query(
        "select v.rule, v.severity, c.severity from violations v join rule_catalog c on v.rule = c.rule_id"
        " where v.severity != c.severity"
    )
    assert wrong == []
    severities = dict(faulted_lake_build.query("select distinct rule, severity from violations"))
    assert severities["R4_NO_NAN"] == "critical"
    assert severities["R3_ASK_GE_BID"] == "major"
    assert severities["R7_KLINE_PARITY"] == "minor"


def test_clean_generated_day_has_no_violations(faulted_lake_build):
    # includes the thin symbol XRPETH, which goes minutes without a trade while its quotes move
    assert faulted_lake_build.query("select count(*) from violations where date = ?", [CLEAN_DAY]) == [(0,)]
    quiet = faulted_lake_build.query(
        """
        select max(gap_s) from (
            select epoch(ts - lag(ts) over (order by ts)) as gap_s
            from bars_1s where symbol = 'XRPETH' and date = ?
        )
        """,
        [CLEAN_DAY],
    )[0][0]
    assert quiet > 120, "the thin symbol should have minutes without trades"


def test_duplicate_trades_are_deduplicated_not_reported(faulted_lake_build):
    project = faulted_lake_build
    fault = next(f for f in project.ground_truth["faults"] if f["kind"] == "DUPLICATE_TRADES")
    symbol = fault["symbol"]
    assert project.query("select count(*) from violations where symbol = ?", [symbol]) == [(0,)]
    rows_in_lake, distinct_in_lake = project.query(
        f"""
        select count(*), count(distinct trade_id)
        from read_parquet('{project.lake}/trades/symbol={symbol}/date={FAULT_DAY}/*.parquet')
        """
    )[0]
    assert rows_in_lake > distinct_in_lake
    in_bars = project.query(
        "select sum(trade_count) from bars_1s where symbol = ? and date = ?", [symbol, FAULT_DAY]
    )[0][0]
    assert in_bars == distinct_in_lake


def test_dropped_trades_show_as_a_mismatched_minute(faulted_lake_build):
    project = faulted_lake_build
    fault = next(f for f in project.ground_truth["faults"] if f["kind"] == "DROPPED_TRADES")
    rows = project.query(
        "select presence, is_match, trade_count_diff from compare_our_vs_kline_1m where symbol = ? and ts = ?",
        [fault["symbol"], _ts(fault["minute"])],
    )
    assert len(rows) == 1
    presence, is_match, trade_count_diff = rows[0]
    assert presence == "both" and is_match is False and trade_count_diff < 0
    others = project.query(
        "select count(*) from compare_our_vs_kline_1m where symbol = ? and date = ? and not is_match",
        [fault["symbol"], FAULT_DAY],
    )
    assert others == [(1,)]


def test_rule_tests_warn_and_store_failures(faulted_lake_build):
    """The dbt tests of the rules ran as warnings (the build went on) and stored their failing rows."""
    stored = faulted_lake_build.query(
        "select table_name from information_schema.tables where table_schema like '%dbt_test__audit'"
    )
    names = {name for (name,) in stored}
    assert any(name.startswith("r4_no_nan_bars_1s") for name in names)
    n_failures = faulted_lake_build.query(
        "select count(*) from " + next(
            f'"{row[0]}"."{row[1]}"'
            for row in faulted_lake_build.query(
                "select table_schema, table_name from information_schema.tables"
                " where table_name like 'r4_no_nan_bars_1s%'"
            )
        )
    )[0][0]
    assert n_failures == 1
