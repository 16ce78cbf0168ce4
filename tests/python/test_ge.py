"""The rules as Great Expectations suites: built from the rule attachments the dbt build wrote (the yml's
data_tests), in agreement with dbt's tests and `violations` on the generated faulted day, silent on the
clean day, following a threshold var and a changed attachment exactly as dbt does, written as Data Docs."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from lakeqa.ge import (
    BUILDERS,
    GAPS_SUFFIX,
    GeSuiteError,
    build_suites,
    read_rule_set,
    rule_set_from_rows,
    run_ge_checkpoint,
)
from lakeqa.ge import command as ge_command
from lakeqa.ge.batches import Batches
from lakeqa.ge import checkpoint as checkpoint_module
from lakeqa.ge.context import _CompiledTemplates, _ConfigurationsOnce
from lakeqa.ge.sql import PATCHED_ATTRIBUTE, close_engines, duckdb_url, persisted_duckdb_connection
from lakeqa.settings import PROJECT_DIR, Paths, setting

from .conftest import DbtProject

FAULT_DAY = "2024-08-09"
CLEAN_DAY = "2024-08-08"

# ------------------------------------------------------------------------------- rule sets given as rows
# Test input shaped like the two tables dbt writes (rule_catalog, rule_attachments); the e2e tests below
# read the real ones.

RULES = {
    "r1_ohlc_order": ("R1_OHLC_ORDER", "critical", None, None),
    "r2_positive_price": ("R2_POSITIVE_PRICE", "critical", None, None),
    "r3_ask_ge_bid": ("R3_ASK_GE_BID", "major", None, None),
    "r4_no_nan": ("R4_NO_NAN", "critical", None, None),
    "r5_continuity": ("R5_CONTINUITY", "critical", "default_max_gap_s", 60.0),
    "r6_spread_sanity": ("R6_SPREAD_SANITY", "major", "rule_max_spread_bps", 500.0),
    "r7_kline_parity": ("R7_KLINE_PARITY", "minor", "compare_price_tolerance_bps", 0.0),
    "neg_volume": ("NEG_VOLUME", "major", None, None),
    "c1_trade_gap": ("C1_TRADE_GAP", "critical", "completeness.max_trade_gap_s", 900.0),
    "c2_quote_gap": ("C2_QUOTE_GAP", "major", "default_max_gap_s", 60.0),
    "c3_kline_witness": ("C3_KLINE_WITNESS", "critical", "completeness.kline_witness_max_minutes", 2.0),
    "c4_missing_dataset": ("C4_MISSING_DATASET", "major", "expected_lookback_days", 7.0),
    "c5_row_drop": ("C5_ROW_DROP", "critical", "completeness.max_row_drop", 0.5),
    "c6_null_share": ("C6_NULL_SHARE", "major", "completeness.max_null_share", 0.05),
    "c7_stale_book": ("C7_STALE_BOOK", "major", "completeness.max_stale_seconds", 0.0),
    "c8_clock_offset": ("C8_CLOCK_OFFSET", "critical", "completeness.clock_offset_min_share", 0.5),
    "c9_price_scale": ("C9_PRICE_SCALE", "critical", None, None),
    "c10_quarantined_file": ("C10_QUARANTINED_FILE", "critical", None, None),
}
COMPLETENESS = [test for test in RULES if test[0] == "c" and test[1].isdigit()]


def _catalog(*extra: dict) -> list[dict]:
    rows = [
        {
            "rule_id": rid,
            "test_name": test,
            "name": rid.title(),
            "severity": sev,
            "threshold_var": var,
            "threshold": thr,
            "description": f"what {rid} checks",
        }
        for test, (rid, sev, var, thr) in RULES.items()
    ]
    return rows + list(extra)


def _attached(
    test_name: str, table: str, threshold: float | None = None, test_id: str | None = None, **arguments
) -> dict:
    rule_id, _, _, default = RULES.get(test_name, (test_name.upper(), None, None, None))
    return {
        "rule_id": rule_id,
        "test_name": test_name,
        "table_name": table,
        "arguments": json.dumps(arguments, sort_keys=True),
        "threshold": threshold if threshold is not None else default,
        "test_id": test_id or f"test.lakeqa.{test_name}_{table}",
    }


BARS_1S = [
    _attached("r1_ohlc_order", "bars_1s"),
    _attached("r2_positive_price", "bars_1s"),
    _attached("r3_ask_ge_bid", "bars_1s"),
    _attached("r4_no_nan", "bars_1s"),
    _attached("r5_continuity", "bars_1s", gap_kind="activity", grain="second"),
    _attached("r6_spread_sanity", "bars_1s"),
    _attached("neg_volume", "bars_1s", volume_columns=["volume_base", "volume_quote"]),
]


def _suites(*attachment_rows: dict, catalog: list[dict] | None = None, table_columns=None):
    return build_suites(rule_set_from_rows(catalog or _catalog(), attachment_rows), table_columns)


def _expectations(plan) -> list[dict]:
    return [
        {"type": e.configuration.type, "rule_id": e.meta["rule_id"], **e.configuration.kwargs}
        for e in plan.expectations
    ]


def test_each_rule_test_becomes_ge_native_expectations_with_the_rule_in_meta():
    plans = _suites(*BARS_1S, _attached("r7_kline_parity", "compare_our_vs_kline_1m"))
    by_rule: dict[str, list[dict]] = {}
    for e in _expectations(plans["bars_1s"]):
        by_rule.setdefault(e["rule_id"], []).append(e)
    assert {(e["column_A"], e["column_B"]) for e in by_rule["R1_OHLC_ORDER"]} == {
        ("high", "open"),
        ("high", "close"),
        ("open", "low"),
        ("close", "low"),
    }
    assert all(e["or_equal"] and e["row_condition"] for e in by_rule["R1_OHLC_ORDER"])
    assert {
        (e["type"], e["column"], e["min_value"], e["strict_min"]) for e in by_rule["R2_POSITIVE_PRICE"]
    } == {("expect_column_values_to_be_between", c, 0, True) for c in ("open", "high", "low", "close")}
    (r3,) = by_rule["R3_ASK_GE_BID"]
    assert (r3["type"], r3["column_A"], r3["column_B"], r3["or_equal"], r3["ignore_row_if"]) == (
        "expect_column_pair_values_a_to_be_greater_than_b",
        "ask",
        "bid",
        True,
        "either_value_is_missing",
    )
    assert {(e["type"], e["column"]) for e in by_rule["R4_NO_NAN"]} == {
        ("expect_column_values_to_not_be_null", c) for c in ("open", "high", "low", "close")
    }
    (r5,) = by_rule["R5_CONTINUITY"]
    assert (r5["type"], r5["column_list"]) == ("expect_compound_columns_to_be_unique", ["symbol", "ts"])
    (r6,) = by_rule["R6_SPREAD_SANITY"]
    assert (r6["column"], r6["max_value"], r6["strict_max"]) == ("spread_bps", 500.0, True)
    assert [e["column"] for e in by_rule["NEG_VOLUME"]] == ["volume_base", "volume_quote"]
    (r7,) = _expectations(plans["compare_our_vs_kline_1m"])
    assert (r7["type"], r7["column"], r7["value_set"]) == (
        "expect_column_values_to_be_in_set",
        "is_match",
        [True],
    )

    catalog = {r["rule_id"]: r for r in _catalog()}
    tests = {(r["rule_id"], r["table_name"]): r["test_id"] for r in BARS_1S}
    for e in plans["bars_1s"].expectations + plans["bars_1s" + GAPS_SUFFIX].expectations:
        row = catalog[e.meta["rule_id"]]
        assert (e.meta["severity"], e.meta["description"]) == (row["severity"], row["description"])
        assert e.meta["dbt_test"] == tests[(row["rule_id"], "bars_1s")]
        assert e.description.startswith(f"{row['rule_id']} ({row['severity']})")


def test_completeness_rules_compare_limit_and_measured_value_on_their_own_checks():
    """C1-C9 share one builder: the dbt rule's measured_value > limit_value on the rows of its check_name,
    as GE's pair expectation limit_value >= measured_value with the row condition check_name == test name."""
    from great_expectations.expectations.row_conditions import Column

    plans = _suites(*[_attached(test, "completeness_checks") for test in COMPLETENESS])
    assert list(plans) == ["completeness_checks"]
    plan = plans["completeness_checks"]
    assert plan.batch.kind == "rows"
    assert plan.columns() == ["symbol", "ts", "limit_value", "measured_value", "check_name"]
    by_rule = {e.meta["rule_id"]: e for e in plan.expectations}
    assert list(by_rule) == [RULES[test][0] for test in COMPLETENESS]
    for test in COMPLETENESS:
        rule_id, severity, _, threshold = RULES[test]
        e = by_rule[rule_id]
        kwargs = e.configuration.kwargs
        assert (e.configuration.type, kwargs["column_A"], kwargs["column_B"], kwargs["or_equal"]) == (
            "expect_column_pair_values_a_to_be_greater_than_b",
            "limit_value",
            "measured_value",
            True,
        )
        assert kwargs["ignore_row_if"] == "either_value_is_missing"  # NULL > x is no violation in dbt
        assert kwargs["row_condition"] == (Column("check_name") == test).dict()
        assert (e.meta["threshold"], e.meta["dbt_test"]) == (
            threshold,
            f"test.lakeqa.{test}_completeness_checks",
        )
        assert e.description.startswith(f"{rule_id} ({severity}): {test}")
    # the threshold shown is the attachment's, as for every rule
    (e,) = _suites(_attached("c1_trade_gap", "completeness_checks", threshold=120.0))[
        "completeness_checks"
    ].expectations
    assert e.meta["threshold"] == 120.0 and any("= 120 in the build" in n for n in e.notes)
    with pytest.raises(GeSuiteError, match=r"C5_ROW_DROP .*argument\(s\) where are not known"):
        _suites(_attached("c5_row_drop", "completeness_checks", where="true"))
    with pytest.raises(GeSuiteError, match=r"C7_STALE_BOOK .*has no column\(s\) limit_value, measured_value"):
        _suites(
            _attached("c7_stale_book", "coverage"), table_columns={"coverage": {"symbol", "ts", "check_name"}}
        )


def test_the_columns_come_from_the_attachment_arguments():
    """neg_volume checks the columns its yml arguments name, on whatever table it is attached to."""
    plans = _suites(
        _attached("neg_volume", "klines_1m", volume_columns=["volume", "quote_volume"]),
        _attached("neg_volume", "compare_our_vs_kline_1m", volume_columns=["our_volume"]),
    )
    assert [e["column"] for e in _expectations(plans["klines_1m"])] == ["volume", "quote_volume"]
    assert [e["column"] for e in _expectations(plans["compare_our_vs_kline_1m"])] == ["our_volume"]
    assert plans["compare_our_vs_kline_1m"].columns() == ["symbol", "ts", "our_volume"]
    # R4 checks a context series' own values where its yml names them, else the OHLC
    r4 = _suites(
        _attached("r4_no_nan", "funding_oi_hourly", value_columns=["funding_rate", "open_interest"]),
        _attached("r4_no_nan", "macro_minute"),
    )
    assert [e["column"] for e in _expectations(r4["funding_oi_hourly"])] == ["funding_rate", "open_interest"]
    assert [e["column"] for e in _expectations(r4["macro_minute"])] == ["open", "high", "low", "close"]


def test_r5_gap_suites_follow_gap_kind_and_grain():
    plans = _suites(
        _attached("r5_continuity", "bars_1s", gap_kind="activity", grain="second"),
        _attached("r5_continuity", "bars_1m", gap_kind="activity", grain="minute"),
        _attached("r5_continuity", "klines_1m", gap_kind="minutes", grain="minute"),
        _attached("r5_continuity", "funding_oi_hourly", gap_kind="hours", grain="minute"),
        _attached("r5_continuity", "macro_minute", gap_kind="session_minutes", grain="minute"),
    )
    gaps = {
        n: (p.table, p.batch.gap_kind, p.batch.grain) for n, p in plans.items() if n.endswith(GAPS_SUFFIX)
    }
    assert gaps == {
        "bars_1s__r5_gaps": ("bars_1s", "activity", "second"),
        "bars_1m__r5_gaps": ("bars_1m", "activity", "minute"),
        "klines_1m__r5_gaps": ("klines_1m", "minutes", "minute"),
        "funding_oi_hourly__r5_gaps": ("funding_oi_hourly", "hours", "minute"),
        "macro_minute__r5_gaps": ("macro_minute", "session_minutes", "minute"),
    }
    for name in gaps:
        # the dbt rule's condition on int_continuity_intervals, gap_s > max_gap_s, as its GE negation
        (e,) = _expectations(plans[name])
        assert (e["type"], e["column_A"], e["column_B"], e["or_equal"]) == (
            "expect_column_pair_values_a_to_be_greater_than_b",
            "max_gap_s",
            "gap_s",
            True,
        )
    with pytest.raises(GeSuiteError, match="attach r5_continuity once per table"):
        _suites(
            _attached("r5_continuity", "bars_1s", gap_kind="activity", grain="second"),
            _attached("r5_continuity", "bars_1s", test_id="test.other", gap_kind="minutes", grain="minute"),
        )


def test_a_catalog_rule_without_a_builder_raises():
    moon = {
        "rule_id": "R8_MOON_PHASE",
        "test_name": "r8_moon_phase",
        "name": "Moon phase",
        "severity": "minor",
        "threshold_var": None,
        "threshold": None,
        "description": "no trading at full moon",
    }
    # in the catalog, attached nowhere: still an error (the next build may attach it)
    with pytest.raises(
        GeSuiteError,
        match=r"R8_MOON_PHASE \(test r8_moon_phase\) is in the rule catalog but has"
        r" no Great Expectations builder.*test_r8_moon_phase\.sql",
    ):
        _suites(*BARS_1S, catalog=_catalog(moon))
    with pytest.raises(GeSuiteError, match=r"r8_moon_phase, attached to bars_1m\)"):
        _suites(*BARS_1S, _attached("r8_moon_phase", "bars_1m"), catalog=_catalog(moon))
    assert set(BUILDERS) == set(RULES)


def test_an_attachment_to_a_table_without_the_columns_it_needs_raises():
    klines = {"klines_1m": {"symbol", "ts", "open", "high", "low", "close", "volume", "quote_volume"}}
    assert set(_suites(_attached("r1_ohlc_order", "klines_1m"), table_columns=klines)) == {"klines_1m"}
    with pytest.raises(
        GeSuiteError,
        match=r"R3_ASK_GE_BID \(r3_ask_ge_bid\) attached to klines_1m .*"
        r"has no column\(s\) ask, bid.*remove it from klines_1m's data_tests",
    ):
        _suites(_attached("r3_ask_ge_bid", "klines_1m"), table_columns=klines)
    with pytest.raises(GeSuiteError, match="has no column.s. volume_base"):
        _suites(_attached("neg_volume", "klines_1m", volume_columns=["volume_base"]), table_columns=klines)
    with pytest.raises(
        GeSuiteError, match="R4_NO_NAN .* attached to trades .*: table trades is not in the DuckDB"
    ):
        _suites(_attached("r4_no_nan", "trades"), table_columns={"trades": None})


def test_bad_or_unknown_test_arguments_raise():
    with pytest.raises(GeSuiteError, match="NEG_VOLUME .*volume_columns must be a non-empty list"):
        _suites(_attached("neg_volume", "bars_1s"))
    with pytest.raises(GeSuiteError, match="NEG_VOLUME .*volume_columns must be a non-empty list"):
        _suites(_attached("neg_volume", "bars_1s", volume_columns="volume_base"))
    with pytest.raises(
        GeSuiteError, match="R5_CONTINUITY .*gap_kind must be one of activity, minutes, hours, session_minutes"
    ):
        _suites(_attached("r5_continuity", "bars_1s", gap_kind="weeks", grain="second"))
    # an argument GE would ignore while the dbt test applies it: refuse rather than disagree with dbt
    with pytest.raises(
        GeSuiteError, match=r"R1_OHLC_ORDER .*argument\(s\) where are not known to its GE builder"
    ):
        _suites(_attached("r1_ohlc_order", "bars_1s", where="symbol = 'BTCUSDT'"))


def test_the_threshold_is_the_attachment_threshold():
    def spread_max(plans, table="bars_1s"):
        (e,) = [e for e in plans[table].expectations if e.meta["rule_id"] == "R6_SPREAD_SANITY"]
        return e.configuration.kwargs["max_value"], e.meta["threshold"]

    # the catalog says 500, the attachment (as the build resolved var or argument) says 300: 300 it is
    plans = _suites(
        _attached("r6_spread_sanity", "bars_1s", threshold=300.0),
        _attached("r6_spread_sanity", "bars_1m", threshold=40.0, max_spread_bps=40),
    )
    assert spread_max(plans) == (300.0, 300.0)
    assert spread_max(plans, "bars_1m") == (40.0, 40.0)
    assert any("argument max_spread_bps" in n for e in plans["bars_1m"].expectations for n in e.notes)
    with pytest.raises(GeSuiteError, match="maximum spread .*must be a positive number, got 0.0"):
        _suites(_attached("r6_spread_sanity", "bars_1s", threshold=0.0))


def test_rule_tables_that_do_not_fit_name_the_problem(tmp_path):
    with pytest.raises(GeSuiteError, match="rule_catalog: row 1 lacks column.s. test_name"):
        rule_set_from_rows([{"rule_id": "R1_OHLC_ORDER"}], [])
    with pytest.raises(GeSuiteError, match="attaches rule R9_X .r9_x., which rule_catalog does not list"):
        rule_set_from_rows(_catalog(), [_attached("r9_x", "bars_1s")])
    with pytest.raises(GeSuiteError, match="arguments are not JSON"):
        rule_set_from_rows(_catalog(), [_attached("r4_no_nan", "bars_1s") | {"arguments": "{gap"}])
    with pytest.raises(GeSuiteError, match="rule_attachments is empty"):
        build_suites(rule_set_from_rows(_catalog(), []))
    path = tmp_path / "unbuilt.duckdb"
    duckdb.connect(str(path)).close()
    con = duckdb.connect(str(path), read_only=True)
    try:
        with pytest.raises(GeSuiteError, match="no rule_catalog table.*build the project first"):
            read_rule_set(con)
    finally:
        con.close()


def test_ge_command_resolves_its_paths_like_every_command(monkeypatch, tmp_path):
    parser = argparse.ArgumentParser(prog="lakeqa")
    ge_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ge", "--day", FAULT_DAY])
    # None: Paths.from_env decides (option, else env var, else the project's default), not the parser
    assert (args.day, args.duckdb, args.output, args.result_format) == (FAULT_DAY, None, None, "SUMMARY")
    with pytest.raises(SystemExit):
        parser.parse_args(["ge"])  # --day is required
    with pytest.raises(SystemExit):
        parser.parse_args(["ge", "--day", FAULT_DAY, "--vars", "{}"])  # thresholds come from the build

    calls = []

    def fake_checkpoint(duckdb_path, day, output_root, *, result_format):
        calls.append((duckdb_path, day, output_root, result_format))
        return {"attachments": "x", "suites": {}, "warnings": [], "errors": [], "data_docs_index": "i"}

    monkeypatch.setattr(ge_command, "run_ge_checkpoint", fake_checkpoint)
    monkeypatch.delenv("DUCKDB_PATH", raising=False)
    monkeypatch.delenv("QA_OUTPUT_ROOT", raising=False)
    assert args.func(args) == 0
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "env.duckdb"))
    monkeypatch.setenv("QA_OUTPUT_ROOT", str(tmp_path / "env_out"))
    args.func(args)
    args = parser.parse_args(["ge", "--day", FAULT_DAY, "--duckdb", str(tmp_path / "opt.duckdb")])
    args.func(args)
    assert calls == [
        (PROJECT_DIR.resolve() / "lakeqa.duckdb", FAULT_DAY, PROJECT_DIR.resolve() / "output", "SUMMARY"),
        (tmp_path / "env.duckdb", FAULT_DAY, tmp_path / "env_out", "SUMMARY"),
        (tmp_path / "opt.duckdb", FAULT_DAY, tmp_path / "env_out", "SUMMARY"),
    ]


def _sql_validation(db: Path, query: str):
    """GE's SQL data source (ephemeral context) validating R4/R1-like expectations on a query of db."""
    import great_expectations as gx
    from great_expectations import expectations as gxe

    context = gx.get_context(mode="ephemeral")
    datasource = context.data_sources.add_sql(name="t", connection_string=duckdb_url(db))
    try:
        batch = datasource.add_query_asset(name="q", query=query).add_batch_definition_whole_table("all")
        suite = gx.ExpectationSuite(
            name="s",
            expectations=[
                gxe.ExpectColumnValuesToNotBeNull(column="close"),
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="high", column_B="low", or_equal=True, ignore_row_if="either_value_is_missing"
                ),
            ],
        )
        result = gx.ValidationDefinition(name="v", data=batch, suite=context.suites.add(suite)).run(
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["symbol", "ts"]}
        )
        out = {}
        for r in result.results:
            info = r.exception_info or {}
            # GE reports a failed metric as {metric id: {"exception_message": ...}}
            raised = [info] if info.get("raised_exception") else [v for v in info.values() if isinstance(v, dict)]
            messages = {e["exception_message"] for e in raised if e.get("raised_exception")}
            out[r.expectation_config.type] = (
                "; ".join(sorted(messages))
                if messages
                else sorted(e["symbol"] for e in r.result["unexpected_index_list"])
            )
        return out
    finally:
        close_engines(datasource)


def test_ge_sql_on_duckdb_needs_the_persisted_connection_and_reads_nan_as_null(tmp_path):
    """GE 1.24.1 fetches a query's rows after its connection rolled back, which drops a DuckDB result
    (lakeqa.ge.sql): without the patch every metric fails with GE's IndexError. When this test fails
    because GE got it right without the patch, GE fixed #10738/#11579: drop persisted_duckdb_connection."""
    import great_expectations.execution_engine.sqlalchemy_execution_engine as engine_module

    db = tmp_path / "tiny.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table bars (symbol varchar, ts timestamp, high double, low double, close double)")
    con.execute(
        "insert into bars values ('ok', '2024-08-09 00:00:01', 2, 1, 1.5), ('bad', '2024-08-09 00:00:02', 1, 2, 1.5),"
        " ('nan', '2024-08-09 00:00:03', 'nan', 'nan', 'nan'), ('null', '2024-08-09 00:00:04', 2, 1, null)"
    )
    con.close()
    original = getattr(engine_module, PATCHED_ATTRIBUTE)
    assert "sqlite" in original and "duckdb" not in original  # GE's line the patch extends
    raw = "select symbol, ts, high, low, close from bars"
    unpatched = _sql_validation(db, raw)
    assert set(unpatched.values()) == {"list index out of range"}, "GE fixed it? drop the patch"
    with persisted_duckdb_connection():
        assert "duckdb" in getattr(engine_module, PATCHED_ATTRIBUTE)
        # NaN is not NULL in DuckDB, and ranks above every number: high NaN >= low NaN passes
        assert _sql_validation(db, raw) == {
            "expect_column_values_to_not_be_null": ["null"],
            "expect_column_pair_values_a_to_be_greater_than_b": ["bad"],
        }
        # the batch query selects a float NaN as NULL, as the rules (and GE's pandas engine) count it
        nan_as_null = "select symbol, ts, " + ", ".join(
            f"nullif({c}, 'nan'::double) as {c}" for c in ("high", "low", "close")
        ) + " from bars"
        assert _sql_validation(db, nan_as_null) == {
            "expect_column_values_to_not_be_null": ["nan", "null"],
            "expect_column_pair_values_a_to_be_greater_than_b": ["bad"],
        }
    assert getattr(engine_module, PATCHED_ATTRIBUTE) is original
    duckdb.connect(str(db)).close()  # GE's connections are closed: a writer can open the file


# ----------------------------------------------------------------------------- against the generated lake

e2e = pytest.mark.e2e


def _rule_set_and_plans(duckdb_path: Path, day: str = FAULT_DAY):
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        rule_set = read_rule_set(con)
        tables = {a.table for a in rule_set.attachments}
        return rule_set, build_suites(rule_set, Batches(con, day).table_columns(tables))
    finally:
        con.close()


def _violations(project: DbtProject, day: str) -> tuple[dict, dict]:
    """(table, rule) -> the (symbol, ts) of violations' rows that day, and their row count."""
    keys: dict[tuple[str, str], set[tuple[str, str]]] = {}
    counts: dict[tuple[str, str], int] = {}
    for table, rule, symbol, ts in project.query(
        "select source_table, rule, symbol, strftime(ts, '%Y-%m-%d %H:%M:%S') from violations where date = ?",
        [day],
    ):
        keys.setdefault((table, rule), set()).add((symbol, ts))
        counts[(table, rule)] = counts.get((table, rule), 0) + 1
    return keys, counts


def _attached_pairs(project: DbtProject) -> set[tuple[str, str]]:
    return set(project.query("select table_name, rule_id from rule_attachments"))


def _assert_ge_agrees_with_violations(project: DbtProject, result: dict, day: str) -> dict:
    """GE's flagged (symbol, ts) per table and rule equal violations', for every attachment of the build.
    A rule with one expectation is compared row for row (GE's unexpected rows = violations' rows: on
    completeness_checks, whose grain has a subject, one (symbol, ts) may be several checks, e.g. C4's
    missing trades, quotes and klines of a symbol); a rule with several expectations, each flagging the
    (symbol, ts) again, has one violation per (symbol, ts)."""
    violations, counts = _violations(project, day)
    # a context series the lake does not hold that day has no suite (README "Context series")
    pairs = {(t, r) for t, r in _attached_pairs(project) if t not in result["absent_context"]}
    assert set(violations) <= pairs
    assert {(t, r) for t, rules in result["rules"].items() for r in rules} == pairs
    for table, rule in sorted(pairs):
        ge_rule = result["rules"][table][rule]
        dbt_rows = violations.get((table, rule), set())
        if ge_rule["expectations"] == 1:
            (expectation,) = _rule_expectations(result, table, rule)
            assert expectation["unexpected_count"] == counts.get((table, rule), 0), (
                f"{table} {rule}: row counts"
            )
        else:
            assert counts.get((table, rule), 0) == len(dbt_rows), (
                f"{table} {rule}: one violation per (symbol, ts)"
            )
        assert {tuple(k) for k in ge_rule["flagged_keys"]} == dbt_rows, f"{table} {rule}: GE and dbt differ"
        assert ge_rule["success"] == (not dbt_rows), f"{table} {rule}"
    return violations


def _rule_expectations(result: dict, table: str, rule: str) -> list[dict]:
    """A rule's expectations on one table in a checkpoint result, its gap suite included."""
    return [
        e
        for s in result["suites"].values()
        if s["table"] == table
        for e in s["expectations"]
        if e["rule_id"] == rule
    ]


def _rule_test_statuses(outcome) -> dict[tuple[str, str], str]:
    """(rule test name, table it is attached to) -> status, from dbt's run results."""
    out = {}
    for r in outcome.results:
        meta = getattr(r.node, "test_metadata", None)
        if meta is not None and meta.name in BUILDERS:
            out[(meta.name, r.node.attached_node.split(".")[-1])] = str(r.status)
    return out


@pytest.fixture(scope="module")
def ge_runs(faulted_lake_build, tmp_path_factory):
    """GE on the faulted and on the clean day of the shared generated lake, into one output root."""
    output_root = tmp_path_factory.mktemp("ge_output")
    duckdb_path = faulted_lake_build.paths.duckdb_path
    return {
        "output_root": output_root,
        FAULT_DAY: run_ge_checkpoint(duckdb_path, FAULT_DAY, output_root, result_format="COMPLETE"),
        CLEAN_DAY: run_ge_checkpoint(duckdb_path, CLEAN_DAY, output_root, result_format="COMPLETE"),
    }


@e2e
def test_suites_follow_the_rule_attachments_table(faulted_lake_build):
    rows = faulted_lake_build.query(
        "select table_name, rule_id, test_name, arguments, test_id from rule_attachments"
    )
    rule_set, plans = _rule_set_and_plans(faulted_lake_build.paths.duckdb_path)
    expected: dict[str, set[str]] = {}
    for table, rule_id, _, _, _ in rows:
        expected.setdefault(table, set()).add(rule_id)
    got: dict[str, set[str]] = {}
    for plan in plans.values():
        got.setdefault(plan.table, set()).update(plan.rule_ids())
    assert got == expected
    # R5 gaps: one companion suite per R5 attachment, reading the attachment's gap kind
    assert {n: (p.batch.gap_kind, p.batch.grain) for n, p in plans.items() if n.endswith(GAPS_SUFFIX)} == {
        table + GAPS_SUFFIX: (json.loads(args)["gap_kind"], json.loads(args)["grain"])
        for table, _, test, args, _ in rows
        if test == "r5_continuity"
    }
    for table, _, test, args, _ in rows:
        if test == "neg_volume":
            assert [
                e.configuration.kwargs["column"]
                for e in plans[table].expectations
                if e.meta["rule_id"] == "NEG_VOLUME"
            ] == json.loads(args)["volume_columns"]
    # every expectation names the dbt test it mirrors, and every dbt rule test has expectations
    assert {e.meta["dbt_test"] for p in plans.values() for e in p.expectations} == {r[4] for r in rows}
    assert {r.test_name for r in rule_set.rules} <= set(BUILDERS)


@e2e
def test_ge_and_dbt_flag_the_same_rows_on_the_faulted_day(faulted_lake_build, ge_runs):
    result = ge_runs[FAULT_DAY]
    assert result["errors"] == [] and result["warnings"] == []
    assert result["success"] is False
    violations = _assert_ge_agrees_with_violations(faulted_lake_build, result, FAULT_DAY)
    # the generator's rule faults make every rule fire somewhere: R1-R7 and NEG_VOLUME (the completeness
    # rules C1-C9 have their own lake: test_ge_and_dbt_flag_the_same_completeness_checks)
    completeness = {RULES[test][0] for test in COMPLETENESS}
    catalog = {r for (r,) in faulted_lake_build.query("select rule_id from rule_catalog")}
    assert completeness <= catalog
    assert {rule for (_, rule), keys in violations.items() if keys} - completeness == catalog - completeness
    assert len(violations) >= 8


@e2e
def test_every_suite_succeeds_on_the_clean_day(ge_runs):
    result = ge_runs[CLEAN_DAY]
    assert result["errors"] == [] and result["warnings"] == []
    failed = {
        name: [
            (e["rule_id"], e["type"], e["unexpected_count"]) for e in s["expectations"] if not e["success"]
        ]
        for name, s in result["suites"].items()
        if not s["success"]
    }
    assert failed == {}
    assert result["success"] is True
    assert all(s["rows"] > 0 for s in result["suites"].values())


@e2e
def test_result_lists_each_expectation_with_its_rule(faulted_lake_build, ge_runs):
    result = ge_runs[FAULT_DAY]
    _, plans = _rule_set_and_plans(faulted_lake_build.paths.duckdb_path)
    # the generated lake holds no context series: their tables get no suite
    assert result["absent_context"] == ["funding_oi_hourly", "macro_minute"]
    assert list(result["suites"]) == [n for n, p in plans.items() if p.table not in result["absent_context"]]
    for name, suite in result["suites"].items():
        # GE orders results its own way (table-level expectations first, then by column)
        assert sorted(e["rule_id"] for e in suite["expectations"]) == sorted(
            e.meta["rule_id"] for e in plans[name].expectations
        )
        for e in suite["expectations"]:
            assert e["type"].startswith("expect_") and isinstance(e["kwargs"], dict)
            assert isinstance(e["unexpected_count"], int)
        assert suite["load_s"] >= 0 and suite["checkpoint_s"] > 0
    default = float(setting("rule_max_spread_bps"))  # the shared build passes no threshold var
    r6 = next(e for e in result["suites"]["bars_1s"]["expectations"] if e["rule_id"] == "R6_SPREAD_SANITY")
    assert r6["kwargs"]["column"] == "spread_bps" and r6["kwargs"]["max_value"] == default
    assert result["thresholds"]["bars_1s"]["R6_SPREAD_SANITY"] == default


@e2e
def test_data_docs_site_is_written_and_names_each_suite(ge_runs):
    output_root = ge_runs["output_root"]
    index = output_root / "ge" / "data_docs" / "index.html"
    assert ge_runs[FAULT_DAY]["data_docs_index"] == str(index)
    html = index.read_text()
    for name in ge_runs[FAULT_DAY]["suites"]:
        assert re.search(rf"\b{re.escape(name)}\b", html), f"suite {name} not on the Data Docs index"
        assert (output_root / "ge" / "data_docs" / "expectations" / f"{name}.html").is_file()
        for day in (FAULT_DAY, CLEAN_DAY):
            assert list((output_root / "ge" / "data_docs" / "validations" / name / day).rglob("*.html")), (
                name,
                day,
            )
    page = (output_root / "ge" / "data_docs" / "expectations" / "bars_1s.html").read_text()
    assert "R6_SPREAD_SANITY (major)" in page  # the rule id and severity from the catalog, shown by GE
    config = (output_root / "ge" / "gx" / "great_expectations.yml").read_text()
    assert str(output_root) not in config and "analytics_enabled: false" in config
    # without it GE parses uncommitted/config_variables.yml again on every lookup of a context variable
    assert re.search(r"^config_variables_file_path:\s*$", config, re.M), "the config variables file is back"


def _small_db(src: Path, path: Path, bars_where: str, attached: str, intervals: bool = True) -> Path:
    """A DuckDB file with a slice of the shared build's bars_1s, its rule tables limited to `attached`
    (a predicate on rule_attachments) and its R5 intervals (or none)."""
    con = duckdb.connect(str(path))
    try:
        con.execute(f"attach '{src}' as src (read_only)")
        con.execute(f"create table bars_1s as select * from src.bars_1s where {bars_where}")
        con.execute("create table rule_catalog as select * from src.rule_catalog")
        con.execute(f"create table rule_attachments as select * from src.rule_attachments where {attached}")
        con.execute(
            "create table int_continuity_intervals as select * from src.int_continuity_intervals where "
            + (bars_where.replace("date =", "cast(ts as date) =") if intervals else "false")
        )
        con.execute("detach src")
    finally:
        con.close()
    return path


@e2e
def test_re_running_a_day_replaces_it_and_ge_reads_the_threshold_the_table_holds(
    faulted_lake_build, tmp_path
):
    """R6 alone on a slice of the build, so that the re-runs stay quick."""
    db = _small_db(
        faulted_lake_build.paths.duckdb_path,
        tmp_path / "small.duckdb",
        f"date = '{FAULT_DAY}' and symbol = 'ADAUSDT'",
        "table_name = 'bars_1s' and test_name = 'r6_spread_sanity'",
    )
    output_root = tmp_path / "out"
    strict = run_ge_checkpoint(db, FAULT_DAY, output_root)
    assert list(strict["suites"]) == ["bars_1s"] and strict["success"] is False
    (e,) = strict["suites"]["bars_1s"]["expectations"]
    assert e["unexpected_count"] == 1 and e["partial_unexpected_keys"][0][0] == "ADAUSDT"
    con = duckdb.connect(str(db))
    con.execute("update rule_attachments set threshold = 5000")  # what a build with a wider var writes
    con.close()
    lenient = run_ge_checkpoint(db, FAULT_DAY, output_root)
    assert lenient["success"] is True and lenient["thresholds"] == {"bars_1s": {"R6_SPREAD_SANITY": 5000}}
    pages = list((output_root / "ge" / "data_docs" / "validations" / "bars_1s").rglob("*.html"))
    assert len(pages) == 1, "a re-run of a day replaces its page"
    duckdb.connect(str(db)).close()  # opened read-only and closed: a writer can open it now


@e2e
def test_a_day_outside_the_intervals_window_is_a_clear_error(faulted_lake_build, tmp_path):
    """int_continuity_intervals holds the last build's window only: GE refuses to call such a day gap-free."""
    db = _small_db(
        faulted_lake_build.paths.duckdb_path,
        tmp_path / "small.duckdb",
        f"date = '{FAULT_DAY}' and symbol = 'BTCUSDT'",
        "table_name = 'bars_1s' and test_name = 'r5_continuity'",
        intervals=False,
    )
    with pytest.raises(
        GeSuiteError,
        match="int_continuity_intervals has no rows of kind 'activity' for 2024-08-09"
        " although bars_1s has.*rebuild the day",
    ):
        run_ge_checkpoint(db, FAULT_DAY, tmp_path / "out")
    duckdb.connect(str(db)).close()  # closed on error too
    with pytest.raises(GeSuiteError, match="does not exist"):
        run_ge_checkpoint(tmp_path / "nope.duckdb", FAULT_DAY, tmp_path / "out")


def _project(tmp: Path, lake: Path, project_dir: Path = PROJECT_DIR) -> DbtProject:
    """A fresh DuckDB file and output root on an existing lake (the shared generated one: read only)."""
    project = DbtProject(tmp)
    project.paths = Paths(
        project_dir=project_dir, lake_root=lake, duckdb_path=tmp / "qa.duckdb", output_root=tmp / "output"
    )
    return project


@e2e
def test_a_threshold_var_changes_the_dbt_test_violations_and_ge_alike(faulted_lake_build, tmp_path):
    """The injected wide spread (lakeqa.generator.faults.WIDE_BPS, 800 bps) breaks the default 500; built
    with rule_max_spread_bps 20000 it is within the threshold for dbt's test, `violations` and GE alike,
    with no threshold handed to GE: it reads the one the build resolved."""
    threshold = 20000
    default_keys, _ = _violations(faulted_lake_build, FAULT_DAY)
    assert default_keys[("bars_1s", "R6_SPREAD_SANITY")], "the default build flags the wide spread"

    project = _project(tmp_path, faulted_lake_build.lake)
    outcome = project.build({"from": FAULT_DAY, "to": FAULT_DAY, "rule_max_spread_bps": threshold})
    assert project.query("select max(spread_bps) < ? from bars_1s", [threshold]) == [(True,)]
    statuses = _rule_test_statuses(outcome)
    assert statuses[("r6_spread_sanity", "bars_1s")] == "pass"  # 'warn' in the default build
    assert statuses[("r6_spread_sanity", "bars_1m")] == "pass"
    assert statuses[("r3_ask_ge_bid", "bars_1s")] == "warn"  # the other faults are still there
    assert project.query('select count(*) from "main_dbt_test__audit"."r6_spread_sanity_bars_1s_"') == [(0,)]
    assert project.query("select count(*) from violations where rule = 'R6_SPREAD_SANITY'") == [(0,)]
    r6_attachments = "select table_name, threshold from rule_attachments where rule_id = 'R6_SPREAD_SANITY'"
    assert set(project.query(r6_attachments)) == {("bars_1s", threshold), ("bars_1m", threshold)}

    result = run_ge_checkpoint(
        project.paths.duckdb_path, FAULT_DAY, tmp_path / "ge", result_format="COMPLETE"
    )
    for table in ("bars_1s", "bars_1m"):
        assert result["rules"][table]["R6_SPREAD_SANITY"] == {
            "success": True,
            "expectations": 1,
            "flagged": 0,
            "flagged_keys": [],
        }
        r6 = next(e for e in result["suites"][table]["expectations"] if e["rule_id"] == "R6_SPREAD_SANITY")
        assert r6["kwargs"]["max_value"] == threshold
    _assert_ge_agrees_with_violations(project, result, FAULT_DAY)


def _copy_project(dest: Path) -> Path:
    """The repository without its virtualenv, build outputs, lakes and DuckDB files."""
    top_level = {
        ".venv",
        ".git",
        "target",
        "logs",
        "lake",
        "output",
        "dbt_packages",
    }  # models/staging/lake stays
    anywhere = shutil.ignore_patterns(
        "*.duckdb", "*.duckdb.wal", "__pycache__", ".pytest_cache", ".ruff_cache"
    )

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(anywhere(folder, names))
        if Path(folder) == PROJECT_DIR:
            skipped |= top_level & set(names)
        if Path(folder) == PROJECT_DIR / "benchmarks":
            skipped |= {"lakes", "results"} & set(names)
        return skipped

    shutil.copytree(PROJECT_DIR, dest, ignore=ignore)
    return dest


def _edit(path: Path, old: str, new: str, after: str) -> None:
    """Replace the first `old` that follows `after` in the file (one model's block of the yml)."""
    text = path.read_text()
    start = text.index(after)
    at = text.index(old, start)
    path.write_text(text[:at] + new + text[at + len(old) :])


@e2e
def test_attaching_a_rule_in_the_yml_is_all_it_takes(faulted_lake_build, tmp_path, monkeypatch):
    """In a copy of the project: r3_ask_ge_bid no longer on bars_1m, neg_volume newly on
    compare_our_vs_kline_1m (our_volume, kline_volume: the injected negative trade makes our minute's volume
    negative). dbt's tests, `violations` and the GE suites all follow the yml and nothing else. The same
    build takes rule_max_spread_bps 25, below the spreads of the busiest seconds and minutes, the converse of
    the test above: R6 now fires on bars_1m too, for dbt and GE alike (one build instead of two: ~30 s each)."""
    project_dir = _copy_project(tmp_path / "project")
    models = project_dir / "models" / "marts" / "bars" / "_bars__models.yml"
    _edit(models, "      - r3_ask_ge_bid\n", "", after="  - name: bars_1m\n")
    _edit(
        models,
        "      - r7_kline_parity\n",
        "      - r7_kline_parity\n      - neg_volume:\n          arguments:\n"
        "            volume_columns: [our_volume, kline_volume]\n",
        after="  - name: compare_our_vs_kline_1m\n",
    )
    # the copy's own target/: the shared one holds the partial parse of the real project
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    project = _project(tmp_path / "run", faulted_lake_build.lake, project_dir)
    outcome = project.build({"from": FAULT_DAY, "to": FAULT_DAY, "rule_max_spread_bps": 25})

    statuses = _rule_test_statuses(outcome)
    assert ("r3_ask_ge_bid", "bars_1m") not in statuses and statuses[("r3_ask_ge_bid", "bars_1s")] == "warn"
    assert statuses[("neg_volume", "compare_our_vs_kline_1m")] == "warn"
    assert statuses[("r6_spread_sanity", "bars_1m")] == "warn"  # 'pass' at the default 500
    assert set(statuses) == set(project.query("select test_name, table_name from rule_attachments"))
    sources = dict(
        project.query(
            "select rule, list(distinct source_table order by source_table) from violations group by rule"
        )
    )
    assert sources["R3_ASK_GE_BID"] == ["bars_1s"]
    assert "compare_our_vs_kline_1m" in sources["NEG_VOLUME"]
    assert sources["R6_SPREAD_SANITY"] == ["bars_1m", "bars_1s"]

    result = run_ge_checkpoint(
        project.paths.duckdb_path, FAULT_DAY, tmp_path / "ge", result_format="COMPLETE"
    )
    assert "R3_ASK_GE_BID" not in result["rules"]["bars_1m"]
    compare = [
        e for e in result["suites"]["compare_our_vs_kline_1m"]["expectations"] if e["rule_id"] == "NEG_VOLUME"
    ]
    assert sorted(e["kwargs"]["column"] for e in compare) == ["kline_volume", "our_volume"]
    assert result["rules"]["compare_our_vs_kline_1m"]["NEG_VOLUME"]["flagged"] == 1
    assert result["rules"]["bars_1m"]["R6_SPREAD_SANITY"]["flagged"] > 0
    _assert_ge_agrees_with_violations(project, result, FAULT_DAY)


def test_data_docs_templates_are_compiled_once_and_render_the_same():
    """GE makes a new jinja Environment for every Data Docs page, so each page compiles its templates
    again; _CompiledTemplates shares jinja's bytecode cache between them while a checkpoint runs."""
    from great_expectations.render.view.view import DefaultJinjaView

    block = {"content_block_type": "text", "text": ["R1 high >= open"], "styling": {"classes": ["col-12"]}}

    def render_with_fresh_view() -> tuple[str, object]:
        view = DefaultJinjaView()
        html = view.env.get_template("text.j2").render(
            content_block=block, content_block_id="b", section_id="s"
        )
        return html, view.env.bytecode_cache

    plain, cache = render_with_fresh_view()
    assert cache is None, "GE's views have no template cache of their own"
    _CompiledTemplates.store.clear()
    before = _CompiledTemplates.compilations
    with _CompiledTemplates():
        first, first_cache = render_with_fresh_view()
        compiled = _CompiledTemplates.compilations
        second, second_cache = render_with_fresh_view()
    assert first_cache is second_cache is not None
    assert compiled - before >= 2, "rendering text.j2 (which includes a header template) compiled nothing"
    assert _CompiledTemplates.compilations == compiled, "the second view compiled its templates again"
    assert plain == first == second
    assert DefaultJinjaView().env.bytecode_cache is None, "GE's view was not put back"


def _same_run_parts(result: dict) -> dict:
    """A checkpoint's result without what differs between two runs of the same day: timings, output paths."""
    result = json.loads(json.dumps(result))
    for suite in result["suites"].values():
        suite.pop("load_s"), suite.pop("checkpoint_s")
    result.pop("data_docs_index"), result.pop("ge_root")
    return result


@e2e
def test_each_expectation_configuration_is_built_once_while_validating_and_the_results_are_the_same(
    faulted_lake_build, ge_runs, tmp_path, monkeypatch
):
    """GE builds an expectation's configuration anew on every read, many times per expectation while it
    validates; _ConfigurationsOnce keeps the first build while a checkpoint runs. Without it, the faulted
    day's results (every unexpected row: COMPLETE) are the same."""
    import great_expectations as gx

    expectation = gx.expectations.ExpectColumnValuesToNotBeNull(column="close")
    rebuilt = expectation.configuration is not expectation.configuration
    assert rebuilt, "GE keeps it now: drop _ConfigurationsOnce"
    before = _ConfigurationsOnce.builds
    with _ConfigurationsOnce():
        kept = expectation.configuration
        assert expectation.configuration is kept and kept.kwargs == {"column": "close"}
    assert _ConfigurationsOnce.builds == before + 1
    assert expectation.configuration is not expectation.configuration, "GE's property was not put back"

    duckdb_path = faulted_lake_build.paths.duckdb_path
    before = _ConfigurationsOnce.builds
    kept = run_ge_checkpoint(duckdb_path, FAULT_DAY, tmp_path / "kept", result_format="COMPLETE")
    built_once = _ConfigurationsOnce.builds - before
    # without it: GE's own property, its builds counted
    from great_expectations.expectations.expectation import Expectation

    build = Expectation.__dict__["configuration"]
    plain_builds = []

    def counted(expectation):
        plain_builds.append(1)
        return build.fget(expectation)

    monkeypatch.setattr(Expectation, "configuration", property(counted))
    monkeypatch.setattr(checkpoint_module, "_ConfigurationsOnce", contextlib.nullcontext)
    plain = run_ge_checkpoint(duckdb_path, FAULT_DAY, tmp_path / "plain", result_format="COMPLETE")
    # GE makes new expectation objects from the suite's as it validates, each built once here: 939 builds
    # for this day's 63 expectations, against 10 402 without
    assert 0 < 5 * built_once < len(plain_builds), (built_once, len(plain_builds))
    assert kept["success"] is False and any(s["rows"] for s in kept["suites"].values())
    assert _same_run_parts(kept) == _same_run_parts(plain) == _same_run_parts(ge_runs[FAULT_DAY])


# ------------------------------------------------------------------------- the completeness rules C1-C9

COMPLETENESS_DAYS = ("2024-08-07", "2024-08-08", "2024-08-09")  # history, then the faulted last day
COMPLETENESS_DAY = COMPLETENESS_DAYS[-1]


@pytest.fixture(scope="module")
def completeness_build(tmp_path_factory, _dbt_private_paths):
    """Three generated days of five symbols with completeness faults on the last: an outage (BTCUSDT), a
    dead trade stream (ETHUSDT), a frozen book (SOLUSDT), no quotes at all (XRPUSDT); XRPETH trades rarely.
    Built in one range run (the two days before are the history C4/C5 need), GE run on the last day."""
    from lakeqa.generate import generate_lake

    project = DbtProject(tmp_path_factory.mktemp("completeness"))
    generate_lake(
        project.lake,
        date=COMPLETENESS_DAY,
        days=len(COMPLETENESS_DAYS),
        symbols="BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT,XRPETH",
        trades_per_day=100_000,
        faults="OUTAGE,TRADE_STREAM_DEATH,FROZEN_BOOK,NO_QUOTES",
        progress=False,
    )
    project.build({"from": COMPLETENESS_DAYS[0], "to": COMPLETENESS_DAY})
    project.ge_output = project.paths.output_root
    project.ge = run_ge_checkpoint(
        project.paths.duckdb_path, COMPLETENESS_DAY, project.ge_output, result_format="COMPLETE"
    )
    return project


def _completeness_violations(project: DbtProject, day: str) -> dict[str, list[tuple[str, str]]]:
    """rule -> the (symbol, ts) of each `violations` row of a completeness rule that day (one per check)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for rule, symbol, ts in project.query(
        "select rule, symbol, strftime(ts, '%Y-%m-%d %H:%M:%S') from violations"
        " where source_table = 'completeness_checks' and date = ? order by all",
        [day],
    ):
        out.setdefault(rule, []).append((symbol, ts))
    return out


@e2e
def test_ge_and_dbt_flag_the_same_completeness_checks(completeness_build):
    project, result = completeness_build, completeness_build.ge
    assert result["errors"] == [] and result["warnings"] == [] and result["success"] is False
    rule_ids = {RULES[test][0] for test in COMPLETENESS}
    attached = {r for t, r in _attached_pairs(project) if t == "completeness_checks"}
    assert attached == rule_ids
    ge_rules = result["rules"]["completeness_checks"]
    assert set(ge_rules) == rule_ids
    violations = _completeness_violations(project, COMPLETENESS_DAY)
    assert set(violations) <= rule_ids
    expectations = {e["rule_id"]: e for e in result["suites"]["completeness_checks"]["expectations"]}
    for rule in sorted(rule_ids):
        dbt_rows = violations.get(rule, [])
        assert {tuple(k) for k in ge_rules[rule]["flagged_keys"]} == set(dbt_rows), (
            f"{rule}: GE and dbt differ"
        )
        assert ge_rules[rule]["success"] == (not dbt_rows), rule
        # row for row: each check over its limit is one violations row and one unexpected GE row
        assert expectations[rule]["unexpected_count"] == len(dbt_rows), rule
    # the injected faults: an outage and a dead trade stream, a frozen book, a day without quotes
    assert {"C1_TRADE_GAP", "C2_QUOTE_GAP", "C4_MISSING_DATASET", "C7_STALE_BOOK"} <= set(violations)
    assert ("XRPUSDT", f"{COMPLETENESS_DAY} 00:00:00") in violations["C4_MISSING_DATASET"]
    assert {s for s, _ in violations["C1_TRADE_GAP"]} >= {"BTCUSDT", "ETHUSDT"}
    assert {s for s, _ in violations["C7_STALE_BOOK"]} == {"SOLUSDT"}
    # each expectation validated only its own check's rows of the day
    counts = dict(
        project.query(
            "select check_name, count(*) from completeness_checks where date = ? and mode = 'daily' group by 1",
            [COMPLETENESS_DAY],
        )
    )
    for test in COMPLETENESS:
        assert expectations[RULES[test][0]]["element_count"] == counts.get(test, 0), test
    # the other rules on the same build agree too
    _assert_ge_agrees_with_violations(project, result, COMPLETENESS_DAY)


@e2e
def test_completeness_data_docs_render(completeness_build):
    docs = completeness_build.ge_output / "ge" / "data_docs"
    assert completeness_build.ge["data_docs_index"] == str(docs / "index.html")
    assert re.search(r"\bcompleteness_checks\b", (docs / "index.html").read_text())
    page = (docs / "expectations" / "completeness_checks.html").read_text()
    for test in COMPLETENESS:
        rule_id, severity, _, _ = RULES[test]
        assert f"{rule_id} ({severity})" in page, rule_id
    (validation,) = list((docs / "validations" / "completeness_checks" / COMPLETENESS_DAY).rglob("*.html"))
    html = validation.read_text()
    assert "C4_MISSING_DATASET (major)" in html and "XRPUSDT" in html


@e2e
def test_ge_validates_only_the_daily_rows_of_a_table_with_a_mode_column(completeness_build, tmp_path):
    """completeness_checks holds daily and hourly rows side by side; a day's GE run, like a daily dbt run,
    judges the daily ones. Hourly copies of the day's checks, all over their limit, change nothing."""
    db = tmp_path / "modes.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute(f"attach '{completeness_build.paths.duckdb_path}' as src (read_only)")
        con.execute("create table completeness_checks as select * from src.completeness_checks")
        con.execute("create table rule_catalog as select * from src.rule_catalog")
        con.execute(
            "create table rule_attachments as select * from src.rule_attachments"
            " where table_name = 'completeness_checks'"
        )
        con.execute("detach src")
        con.execute(
            "insert into completeness_checks select * replace ('hourly' as mode,"
            " limit_value + 1 as measured_value, true as is_violation) from completeness_checks"
            " where mode = 'daily'"
        )
    finally:
        con.close()
    result = run_ge_checkpoint(db, COMPLETENESS_DAY, tmp_path / "out", result_format="COMPLETE")
    daily = _completeness_violations(completeness_build, COMPLETENESS_DAY)
    assert (
        result["suites"]["completeness_checks"]["rows"]
        == completeness_build.query(
            "select count(*) from completeness_checks where date = ? and mode = 'daily'", [COMPLETENESS_DAY]
        )[0][0]
    )
    for rule, ge_rule in result["rules"]["completeness_checks"].items():
        assert {tuple(k) for k in ge_rule["flagged_keys"]} == set(daily.get(rule, [])), rule
