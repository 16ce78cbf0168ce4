"""The rules as Great Expectations suites: generated from the rule catalog, in agreement with dbt's
`violations` on the generated faulted day, silent on the clean day, and written as Data Docs."""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import duckdb
import pytest

from lakeqa.ge_suites import (
    BUILDERS,
    CATALOG_PATH,
    GAPS_SUFFIX,
    GeSuiteError,
    _CompiledTemplates,
    build_suites,
    load_catalog,
    register,
    run_ge_checkpoint,
)

FAULT_DAY = "2024-08-09"
CLEAN_DAY = "2024-08-08"


def _catalog_rows() -> list[dict]:
    with CATALOG_PATH.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write_catalog(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _expectations(plan) -> list[dict]:
    return [
        {"type": e.configuration.type, "rule_id": e.meta["rule_id"], **e.configuration.kwargs}
        for e in plan.expectations
    ]


# ------------------------------------------------------------------------------------ suites from the catalog


def test_suites_follow_the_catalog_applies_to():
    plans = build_suites()
    rows = _catalog_rows()
    expected: dict[str, set[str]] = {}
    for row in rows:
        for table in row["applies_to"].split():
            expected.setdefault(table, set()).add(row["rule_id"])
    got: dict[str, set[str]] = {}
    for plan in plans.values():
        got.setdefault(plan.table, set()).update(plan.rule_ids())
    assert got == expected
    # R5 gaps are validated on a derived batch, one companion suite per table R5 applies to
    r5_tables = next(r["applies_to"].split() for r in rows if r["rule_id"] == "R5_CONTINUITY")
    assert {n for n in plans if n.endswith(GAPS_SUFFIX)} == {t + GAPS_SUFFIX for t in r5_tables}
    assert set(BUILDERS) >= {r["rule_id"] for r in rows}


def test_expectations_are_ge_natives_with_the_catalog_in_meta():
    plans = build_suites()
    bars = _expectations(plans["bars_1s"])
    by_rule: dict[str, list[dict]] = {}
    for e in bars:
        by_rule.setdefault(e["rule_id"], []).append(e)
    assert {(e["column_A"], e["column_B"]) for e in by_rule["R1_OHLC_ORDER"]} == {
        ("high", "open"), ("high", "close"), ("open", "low"), ("close", "low")}
    assert all(e["or_equal"] and e["row_condition"] for e in by_rule["R1_OHLC_ORDER"])
    assert {(e["type"], e["column"], e["min_value"], e["strict_min"]) for e in by_rule["R2_POSITIVE_PRICE"]} == {
        ("expect_column_values_to_be_between", c, 0, True) for c in ("open", "high", "low", "close")}
    (r3,) = by_rule["R3_ASK_GE_BID"]
    assert (r3["type"], r3["column_A"], r3["column_B"], r3["or_equal"], r3["ignore_row_if"]) == (
        "expect_column_pair_values_a_to_be_greater_than_b", "ask", "bid", True, "either_value_is_missing")
    assert {(e["type"], e["column"]) for e in by_rule["R4_NO_NAN"]} == {
        ("expect_column_values_to_not_be_null", c) for c in ("open", "high", "low", "close")}
    (r5,) = by_rule["R5_CONTINUITY"]
    assert (r5["type"], r5["column_list"]) == ("expect_compound_columns_to_be_unique", ["symbol", "ts"])
    (r6,) = by_rule["R6_SPREAD_SANITY"]
    assert (r6["column"], r6["max_value"], r6["strict_max"]) == ("spread_bps", 500.0, True)
    assert {e["column"] for e in by_rule["NEG_VOLUME"]} == {"volume_base", "volume_quote"}
    assert {e["column"] for e in _expectations(plans["klines_1m"]) if e["rule_id"] == "NEG_VOLUME"} == {
        "volume", "quote_volume"}
    (r7,) = _expectations(plans["compare_our_vs_kline_1m"])
    assert (r7["type"], r7["column"], r7["value_set"]) == ("expect_column_values_to_be_in_set", "is_match", [True])

    catalog = {r["rule_id"]: r for r in _catalog_rows()}
    for plan in plans.values():
        for e in plan.expectations:
            row = catalog[e.meta["rule_id"]]
            assert (e.meta["severity"], e.meta["description"]) == (row["severity"], row["description"])
            assert e.description.startswith(f"{row['rule_id']} ({row['severity']})")


def test_a_catalog_without_r6_gives_suites_without_the_spread_expectation(tmp_path):
    rows = [r for r in _catalog_rows() if r["rule_id"] != "R6_SPREAD_SANITY"]
    plans = build_suites(_write_catalog(tmp_path / "catalog.csv", rows))
    assert {"bars_1s", "bars_1m"} <= set(plans)
    for plan in plans.values():
        assert "R6_SPREAD_SANITY" not in plan.rule_ids()
        assert all(e.configuration.kwargs.get("column") != "spread_bps" for e in plan.expectations)
    assert any(
        e.configuration.kwargs.get("column") == "spread_bps" for e in build_suites()["bars_1s"].expectations
    )


def test_a_rule_the_catalog_applies_only_to_klines_gives_only_a_klines_expectation(tmp_path):
    rows = [dict(r, applies_to="klines_1m") for r in _catalog_rows() if r["rule_id"] == "R4_NO_NAN"]
    plans = build_suites(_write_catalog(tmp_path / "catalog.csv", rows))
    assert list(plans) == ["klines_1m"]
    assert [e.configuration.kwargs["column"] for e in plans["klines_1m"].expectations] == [
        "open", "high", "low", "close"]


def test_a_catalog_rule_without_a_builder_raises(tmp_path):
    rows = _catalog_rows() + [dict(_catalog_rows()[0], rule_id="R8_MOON_PHASE", name="Moon phase")]
    with pytest.raises(GeSuiteError, match="R8_MOON_PHASE has no Great Expectations builder"):
        build_suites(_write_catalog(tmp_path / "catalog.csv", rows))


def test_a_rule_applied_where_its_builder_has_no_mapping_raises(tmp_path):
    rows = [dict(r, applies_to="klines_1m") for r in _catalog_rows() if r["rule_id"] == "R3_ASK_GE_BID"]
    with pytest.raises(GeSuiteError, match="R3_ASK_GE_BID applies to klines_1m"):
        build_suites(_write_catalog(tmp_path / "catalog.csv", rows))
    rows = [dict(r, applies_to="trades") for r in _catalog_rows() if r["rule_id"] == "R4_NO_NAN"]
    with pytest.raises(GeSuiteError, match="'trades', which has no GE batch"):
        build_suites(_write_catalog(tmp_path / "catalog.csv", rows))


def test_thresholds_come_from_the_catalog_and_dbt_vars_override_them():
    def spread_max(plans):
        (e,) = [e for e in plans["bars_1s"].expectations if e.meta["rule_id"] == "R6_SPREAD_SANITY"]
        return e.configuration.kwargs["max_value"], e.meta["threshold"]

    default = float(next(r["threshold_default"] for r in _catalog_rows() if r["rule_id"] == "R6_SPREAD_SANITY"))
    assert spread_max(build_suites()) == (default, default)
    assert spread_max(build_suites(vars={"rule_max_spread_bps": 250, "from": "2024-08-08"})) == (250, 250)
    assert build_suites(vars={"default_max_gap_s": 90})["bars_1s" + GAPS_SUFFIX].batch_params == {
        "default_max_gap_s": 90}
    with pytest.raises(GeSuiteError, match="rule_max_spread_bps must be a number"):
        build_suites(vars={"rule_max_spread_bps": "wide"})
    with pytest.raises(GeSuiteError, match="must be a positive number"):
        build_suites(vars={"rule_max_spread_bps": 0})


def test_load_catalog_names_the_problem(tmp_path):
    bad = tmp_path / "catalog.csv"
    bad.write_text("rule_id,name\nR1_OHLC_ORDER,OHLC order\n")
    with pytest.raises(GeSuiteError, match="lacks column"):
        load_catalog(bad)
    with pytest.raises(GeSuiteError, match="does not exist"):
        load_catalog(tmp_path / "missing.csv")


def test_ge_command_is_registered_with_its_defaults(monkeypatch):
    monkeypatch.delenv("DUCKDB_PATH", raising=False)
    monkeypatch.delenv("QA_OUTPUT_ROOT", raising=False)
    parser = argparse.ArgumentParser(prog="lakeqa")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ge", "--day", FAULT_DAY])
    assert (args.day, args.duckdb, args.output, args.result_format) == (FAULT_DAY, "lakeqa.duckdb", "output", "SUMMARY")
    assert callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["ge"])  # --day is required
    monkeypatch.setenv("DUCKDB_PATH", "/data/qa.duckdb")
    monkeypatch.setenv("QA_OUTPUT_ROOT", "/data/out")
    parser = argparse.ArgumentParser(prog="lakeqa")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ge", "--day", FAULT_DAY])
    assert (args.duckdb, args.output) == ("/data/qa.duckdb", "/data/out")


# ----------------------------------------------------------------------------- against the generated lake

e2e = pytest.mark.e2e


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
def test_ge_and_dbt_flag_the_same_rows_on_the_faulted_day(faulted_lake_build, ge_runs):
    result = ge_runs[FAULT_DAY]
    assert result["errors"] == [] and result["warnings"] == []
    assert result["success"] is False
    violations: dict[tuple[str, str], set[tuple[str, str]]] = {}
    counts: dict[tuple[str, str], int] = {}
    for table, rule, symbol, ts, n in faulted_lake_build.query(
        "select source_table, rule, symbol, strftime(ts, '%Y-%m-%d %H:%M:%S'), count(*) over"
        " (partition by source_table, rule) from violations where date = ?",
        [FAULT_DAY],
    ):
        violations.setdefault((table, rule), set()).add((symbol, ts))
        counts[(table, rule)] = n
    catalog_pairs = {(t, r["rule_id"]) for r in _catalog_rows() for t in r["applies_to"].split()}
    assert set(violations) <= catalog_pairs
    fired = 0
    for table, rule in sorted(catalog_pairs):
        ge_rule = result["rules"][table][rule]
        flagged = {tuple(k) for k in ge_rule["flagged_keys"]}
        dbt_rows = violations.get((table, rule), set())
        assert counts.get((table, rule), 0) == len(dbt_rows), f"{table} {rule}: one violation per (symbol, ts)"
        assert ge_rule["flagged"] == counts.get((table, rule), 0), f"{table} {rule}: GE and dbt counts differ"
        assert flagged == dbt_rows, f"{table} {rule}: GE and dbt flag different rows"
        assert ge_rule["success"] == (not dbt_rows)
        if ge_rule["expectations"] == 1:
            (expectation,) = [
                e for s in result["suites"].values() if s["table"] == table
                for e in s["expectations"] if e["rule_id"] == rule
            ]
            assert expectation["unexpected_count"] == counts.get((table, rule), 0), f"{table} {rule}"
        fired += bool(dbt_rows)
    # the generator's faults make every rule fire somewhere: R1-R7 and NEG_VOLUME
    assert {rule for (_, rule), keys in violations.items() if keys} == {r["rule_id"] for r in _catalog_rows()}
    assert fired >= 8


@e2e
def test_every_suite_succeeds_on_the_clean_day(ge_runs):
    result = ge_runs[CLEAN_DAY]
    assert result["errors"] == [] and result["warnings"] == []
    failed = {
        name: [(e["rule_id"], e["type"], e["unexpected_count"]) for e in s["expectations"] if not e["success"]]
        for name, s in result["suites"].items() if not s["success"]
    }
    assert failed == {}
    assert result["success"] is True
    assert all(s["rows"] > 0 for s in result["suites"].values())


@e2e
def test_result_lists_each_expectation_with_its_rule(ge_runs):
    result = ge_runs[FAULT_DAY]
    plans = build_suites()
    assert list(result["suites"]) == list(plans)
    for name, suite in result["suites"].items():
        # GE orders results its own way (table-level expectations first, then by column)
        assert sorted(e["rule_id"] for e in suite["expectations"]) == sorted(
            e.meta["rule_id"] for e in plans[name].expectations)
        for e in suite["expectations"]:
            assert e["type"].startswith("expect_") and isinstance(e["kwargs"], dict)
            assert isinstance(e["unexpected_count"], int)
        assert suite["load_s"] >= 0 and suite["checkpoint_s"] > 0
    r6 = next(e for e in result["suites"]["bars_1s"]["expectations"] if e["rule_id"] == "R6_SPREAD_SANITY")
    assert r6["kwargs"]["column"] == "spread_bps" and r6["kwargs"]["max_value"] == 500
    assert result["thresholds"]["R6_SPREAD_SANITY"] == 500


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
            assert list((output_root / "ge" / "data_docs" / "validations" / name / day).rglob("*.html")), (name, day)
    page = (output_root / "ge" / "data_docs" / "expectations" / "bars_1s.html").read_text()
    assert "R6_SPREAD_SANITY (major)" in page  # the rule id and severity from the catalog, shown by GE
    config = (output_root / "ge" / "gx" / "great_expectations.yml").read_text()
    assert str(output_root) not in config and "analytics_enabled: false" in config
    # without it GE parses uncommitted/config_variables.yml again on every lookup of a context variable
    assert re.search(r"^config_variables_file_path:\s*$", config, re.M), "the config variables file is back"


def _small_db(src: Path, path: Path, bars_where: str, activity: bool = True) -> Path:
    """A DuckDB file with a slice of the shared build's bars_1s (and its activity, or none)."""
    con = duckdb.connect(str(path))
    try:
        con.execute(f"attach '{src}' as src (read_only)")
        con.execute(f"create table bars_1s as select * from src.bars_1s where {bars_where}")
        con.execute("create table symbol_settings as select * from src.symbol_settings")
        con.execute(
            "create table int_symbol_activity_seconds as select symbol, ts from src.bars_1s where "
            + (bars_where if activity else "false")
        )
        con.execute("detach src")
    finally:
        con.close()
    return path


@e2e
def test_re_running_a_day_replaces_it_and_vars_change_the_threshold(faulted_lake_build, tmp_path):
    """A one-rule catalog (R6 on bars_1s) on a slice of the build, so that the re-runs stay quick."""
    db = _small_db(faulted_lake_build.paths.duckdb_path, tmp_path / "small.duckdb",
                   f"date = '{FAULT_DAY}' and symbol = 'ADAUSDT'")
    rows = [dict(r, applies_to="bars_1s") for r in _catalog_rows() if r["rule_id"] == "R6_SPREAD_SANITY"]
    catalog = _write_catalog(tmp_path / "catalog.csv", rows)
    output_root = tmp_path / "out"
    strict = run_ge_checkpoint(db, FAULT_DAY, output_root, catalog=catalog)
    assert list(strict["suites"]) == ["bars_1s"] and strict["success"] is False
    (e,) = strict["suites"]["bars_1s"]["expectations"]
    assert e["unexpected_count"] == 1 and e["partial_unexpected_keys"][0][0] == "ADAUSDT"
    lenient = run_ge_checkpoint(db, FAULT_DAY, output_root, catalog=catalog, vars={"rule_max_spread_bps": 5000})
    assert lenient["success"] is True and lenient["thresholds"] == {"R6_SPREAD_SANITY": 5000}
    pages = list((output_root / "ge" / "data_docs" / "validations" / "bars_1s").rglob("*.html"))
    assert len(pages) == 1, "a re-run of a day replaces its page"
    duckdb.connect(str(db)).close()  # opened read-only and closed: a writer can open it now


@e2e
def test_a_day_outside_the_activity_view_window_is_a_clear_error(faulted_lake_build, tmp_path):
    """int_symbol_activity_seconds only covers the last build's window: GE refuses to call such a day clean."""
    db = _small_db(faulted_lake_build.paths.duckdb_path, tmp_path / "small.duckdb",
                   f"date = '{FAULT_DAY}' and symbol = 'BTCUSDT'", activity=False)
    rows = [dict(r, applies_to="bars_1s") for r in _catalog_rows() if r["rule_id"] == "R5_CONTINUITY"]
    catalog = _write_catalog(tmp_path / "catalog.csv", rows)
    with pytest.raises(GeSuiteError, match="int_symbol_activity_seconds has no rows for 2024-08-09"):
        run_ge_checkpoint(db, FAULT_DAY, tmp_path / "out", catalog=catalog)
    duckdb.connect(str(db)).close()  # closed on error too
    with pytest.raises(GeSuiteError, match="does not exist"):
        run_ge_checkpoint(tmp_path / "nope.duckdb", FAULT_DAY, tmp_path / "out")


def test_data_docs_templates_are_compiled_once_and_render_the_same():
    """GE makes a new jinja Environment for every Data Docs page, so each page compiles its templates
    again; _CompiledTemplates shares jinja's bytecode cache between them while a checkpoint runs."""
    from great_expectations.render.view.view import DefaultJinjaView

    block = {"content_block_type": "text", "text": ["R1 high >= open"], "styling": {"classes": ["col-12"]}}

    def render_with_fresh_view() -> tuple[str, object]:
        view = DefaultJinjaView()
        html = view.env.get_template("text.j2").render(content_block=block, content_block_id="b", section_id="s")
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
