"""Completeness: data that never arrived is named, with its UTC range and size, and decides the verdict.

Generated lakes of two clean days of history and one damaged day with every completeness fault kind
(collector outage, dead trade stream, missing klines, frozen book, no quotes, 85 % of trades lost, a clock
one hour late, prices x100 from 16:00), with and without the exchange's klines: every fault gives the
violations its ground truth names, overlapping its time range, the verdict it must get and a reason that
names it; the clean history and the untouched symbols stay PASS, the thin symbol included.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from .conftest import DbtProject

pytestmark = pytest.mark.e2e

DAYS = ["2024-08-07", "2024-08-08", "2024-08-09"]
FAULT_DAY = DAYS[-1]
# rules that report an interval: a violation must overlap the fault's range
INTERVAL_RULES = {"C1_TRADE_GAP", "C2_QUOTE_GAP", "C3_KLINE_WITNESS", "C7_STALE_BOOK", "C9_PRICE_SCALE"}


def _build(tmp_path_factory, name: str, klines: bool) -> DbtProject:
    from lakeqa.generate import generate_lake

    project = DbtProject(tmp_path_factory.mktemp(name))
    report = generate_lake(
        project.lake, date=FAULT_DAY, days=len(DAYS), trades_per_day=100_000, faults="completeness",
        klines=klines, progress=False,
    )  # fmt: skip
    project.ground_truth = report.ground_truth
    project.build({"from": DAYS[0], "to": DAYS[-1]})
    return project


@pytest.fixture(scope="session")
def with_klines(tmp_path_factory, _dbt_private_paths):
    return _build(tmp_path_factory, "completeness_klines", klines=True)


@pytest.fixture(scope="session")
def without_klines(tmp_path_factory, _dbt_private_paths):
    return _build(tmp_path_factory, "completeness_no_klines", klines=False)


@pytest.fixture(params=["with_klines", "without_klines"])
def lake(request):
    return request.getfixturevalue(request.param)


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", ""))


def _verdicts(project: DbtProject, day: str) -> dict[str, tuple[str, str]]:
    rows = project.query("select symbol, verdict, reason from fusion where mode = 'daily' and date = ?", [day])
    return {symbol: (verdict, reason) for symbol, verdict, reason in rows}


def test_every_completeness_fault_is_named_with_its_range(lake):
    faults = lake.ground_truth["faults"]
    assert {f["kind"] for f in faults} >= {
        "OUTAGE", "TRADE_STREAM_DEATH", "FROZEN_BOOK", "NO_QUOTES", "TRADE_LOSS", "CLOCK_OFFSET", "PRICE_SCALE",
    }  # fmt: skip
    for fault in faults:
        rows = lake.query(
            "select rule, ts, coalesce(ts_end, ts), detail from violations where symbol = ? and date = ?",
            [fault["symbol"], FAULT_DAY],
        )
        rules = {r[0] for r in rows}
        missing = set(fault["expect_rules"]) - rules
        assert not missing, f"{fault['kind']} on {fault['symbol']}: no {missing} among {sorted(rules)}"
        start, end = _ts(fault["completeness"]["start"]), _ts(fault["completeness"]["end"])
        for rule in set(fault["expect_rules"]) & INTERVAL_RULES:
            overlapping = [r for r in rows if r[0] == rule and r[1] < end and r[2] > start]
            assert overlapping, f"{fault['kind']}: no {rule} violation overlaps {start}..{end}: {rows}"


def test_each_fault_gets_its_verdict_and_a_reason_that_names_it(lake):
    verdicts = _verdicts(lake, FAULT_DAY)
    for fault in lake.ground_truth["faults"]:
        verdict, reason = verdicts[fault["symbol"]]
        assert verdict == fault["expect_verdict"], f"{fault['kind']}: {verdict} ({reason})"
        assert any(rule in reason for rule in fault["expect_rules"]), f"{fault['kind']}: {reason}"
        assert "score" not in reason.split(":")[0], f"a bare score is no reason: {reason}"
        if fault["kind"] == "OUTAGE":
            hour = fault["completeness"]["start"][11:13]
            # "no trades 09:59:59–24:00 UTC (14 h)": where, until when, how long
            assert "24:00 UTC" in reason and " h" in reason, reason
            assert hour in reason or f"{int(hour) - 1:02d}:59" in reason, reason


def test_the_outage_reason_says_what_the_exchange_reports_there(with_klines):
    fault = next(f for f in with_klines.ground_truth["faults"] if f["kind"] == "OUTAGE")
    verdict, reason = _verdicts(with_klines, FAULT_DAY)[fault["symbol"]]
    assert verdict == "FAIL"
    assert "the exchange's klines report" in reason and "trades there" in reason, reason


def test_clean_history_and_untouched_symbols_pass(lake):
    for day in DAYS[:-1]:
        assert lake.query("select count(*) from violations where date = ?", [day]) == [(0,)], day
        verdicts = _verdicts(lake, day)
        assert {v for v, _ in verdicts.values()} == {"PASS"}, (day, verdicts)
        assert "XRPETH" in verdicts, "the thin symbol is judged too"
    faulted = {f["symbol"] for f in lake.ground_truth["faults"]}
    on_fault_day = _verdicts(lake, FAULT_DAY)
    untouched = {s: v for s, v in on_fault_day.items() if s not in faulted}
    assert untouched and {v for v, _ in untouched.values()} == {"PASS"}, untouched


def test_first_day_of_the_lake_says_it_has_no_history(lake):
    verdict, reason = _verdicts(lake, DAYS[0])["BTCUSDT"]
    assert verdict == "PASS" and "no history" in reason, reason
    # nothing to compare with: neither missing datasets nor row drops are judged on it
    assert lake.query(
        "select count(*) from completeness_checks where date = ? and check_name in ('c4_missing_dataset', 'c5_row_drop')",
        [DAYS[0]],
    ) == [(0,)]


def test_coverage_shows_what_arrived_against_history(with_klines):
    cover = {
        (symbol, dataset): (n_rows, hist_median, longest, start, end)
        for symbol, dataset, n_rows, hist_median, longest, start, end in with_klines.query(
            "select symbol, dataset, n_rows, hist_median_rows, longest_silence_s, longest_silence_start,"
            " longest_silence_end from coverage where mode = 'daily' and date = ?",
            [FAULT_DAY],
        )
    }
    faults = {f["kind"]: f for f in with_klines.ground_truth["faults"]}
    outage = faults["OUTAGE"]
    n_rows, hist_median, longest, start, end = cover[(outage["symbol"], "trades")]
    assert end == _ts(outage["completeness"]["end"]) and longest >= (end - _ts(outage["completeness"]["start"])).seconds
    assert 0 < n_rows < hist_median
    # a dataset the symbol had on the days before is a row with nothing in it
    assert cover[(faults["MISSING_KLINES"]["symbol"], "klines_1m")][0] == 0
    assert cover[(faults["NO_QUOTES"]["symbol"], "quotes")][0] == 0
    loss = cover[(faults["TRADE_LOSS"]["symbol"], "trades")]
    assert 0.10 < loss[0] / loss[1] < 0.20


def test_a_dead_trade_stream_is_not_hidden_by_a_live_book(lake):
    fault = next(f for f in lake.ground_truth["faults"] if f["kind"] == "TRADE_STREAM_DEATH")
    rows = lake.query(
        "select rule, ts, ts_end from violations where symbol = ? and date = ? and rule like 'C%'",
        [fault["symbol"], FAULT_DAY],
    )
    gaps = [r for r in rows if r[0] == "C1_TRADE_GAP"]
    assert len(gaps) == 1, rows
    length = (gaps[0][2] - gaps[0][1]).total_seconds()
    assert 90 * 60 <= length < 91 * 60, gaps
    # the book kept moving: no quote-stream violation for this symbol
    assert not [r for r in rows if r[0] in ("C2_QUOTE_GAP", "C7_STALE_BOOK")], rows


def test_a_column_with_more_than_five_percent_nulls_is_a_violation(tmp_path, _dbt_private_paths):
    from lakeqa.generate import generate_lake

    project = DbtProject(tmp_path)
    generate_lake(project.lake, date="2024-08-09", days=2, symbols="BTCUSDT,XRPETH", trades_per_day=50_000,
                  progress=False)  # fmt: skip
    # a loader that wrote NULL bids for one update in eight on the second day, in a lake of its own
    folder = project.lake / "quotes" / "symbol=BTCUSDT" / "date=2024-08-09"
    for path in sorted(folder.glob("*.parquet")):
        con = duckdb.connect()
        con.execute(
            f"copy (select * replace (case when update_id % 8 = 0 then null else bid_price end as bid_price)"
            f" from read_parquet('{path}')) to '{path}.tmp' (format parquet)"
        )
        con.close()
        path.with_name(path.name + ".tmp").replace(path)
    project.build({"from": "2024-08-08", "to": "2024-08-09"})
    rows = project.query("select symbol, detail from violations where rule = 'C6_NULL_SHARE'")
    assert len(rows) == 1 and rows[0][0] == "BTCUSDT", rows
    assert "quotes.bid_price" in rows[0][1] and "12." in rows[0][1], rows
    verdict, reason = _verdicts(project, "2024-08-09")["BTCUSDT"]
    assert verdict in ("REVIEW", "FAIL") and "C6_NULL_SHARE" in reason, reason
