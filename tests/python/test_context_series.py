"""The optional context series (README "Context series"): funding_oi_hourly and macro_minute are staged when
the lake holds them, checked by the rules that mean something there (positive prices, no NaN, continuity on
each market's own calendar), their faults found and their clean days left alone, the crypto verdicts
untouched, and a lake without them says nothing about them."""

from __future__ import annotations

import re
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakeqa import cli
from lakeqa.generate import generate_lake

from .context_fixtures import funding_hours, macro_bars, write, write_context
from .conftest import DbtProject
from .test_ge import _assert_ge_agrees_with_violations

DAY_BEFORE, DAY = "2024-08-08", "2024-08-09"  # a Thursday and a Friday: markets close for the weekend
RUN = ["run", "--from", DAY_BEFORE, "--to", DAY, "--skip", "docs", "--fail-on", "never"]
CONTEXT = ("funding_oi_hourly", "macro_minute")


def _at(table: pa.Table, hhmm: str) -> pa.Array:
    """The mask of the row whose ts is DAY hh:mm."""
    minutes = pc.strftime(table["ts"], format="%H:%M")
    return pc.equal(minutes, hhmm)


def _set(table: pa.Table, column: str, hhmm: str, value) -> pa.Table:
    i = table.schema.get_field_index(column)
    values = pc.if_else(_at(table, hhmm), pa.scalar(value, pa.float64()), table[column])
    return table.set_column(i, column, values)


def _drop(table: pa.Table, *hhmm: str) -> pa.Table:
    keep = pc.invert(pc.is_in(pc.strftime(table["ts"], format="%H:%M"), pa.array(hhmm)))
    return table.filter(keep)


def inject_faults(lake) -> set[tuple[str, str, str, str]]:
    """Faults in DAY's context series; returns the violations they must cause: (table, symbol, rule, HH:MM)."""
    btc = funding_hours("BTCUSDT", DAY)
    btc = _set(_set(_drop(btc, "05:00"), "funding_rate", "10:00", float("nan")), "open_interest", "15:00", -1.0)
    write(lake, "funding_oi_hourly", "BTCUSDT", btc, f"funding-{DAY}")
    eth = funding_hours("ETHUSDT", DAY)
    write(lake, "funding_oi_hourly", "ETHUSDT", eth.filter(_at(eth, "12:00")), f"funding-{DAY}-resent")

    spy = macro_bars("SPY", DAY)
    spy = _drop(spy, "15:00", "15:01", "15:02", "15:03", "15:04")
    spy = _set(_set(spy, "close", "17:00", 0.0), "low", "17:00", 0.0)
    write(lake, "macro_minute", "SPY", _set(spy, "high", "18:00", float("nan")), f"macro-{DAY}")
    es = macro_bars("ESF", DAY)
    below = pc.multiply(pc.min_element_wise(es["open"], es["close"]), 0.999)
    es = es.set_column(es.schema.get_field_index("high"), "high", pc.if_else(_at(es, "10:00"), below, es["high"]))
    write(lake, "macro_minute", "ESF", _drop(es, "03:00"), f"macro-{DAY}")
    fx = macro_bars("EURUSDX", DAY)
    write(lake, "macro_minute", "EURUSDX", fx.filter(_at(fx, "12:00")), f"macro-{DAY}-resent")
    return {
        ("funding_oi_hourly", "BTCUSDT", "R5_CONTINUITY", "05:00"),  # a missing hour
        ("funding_oi_hourly", "BTCUSDT", "R4_NO_NAN", "10:00"),
        ("funding_oi_hourly", "BTCUSDT", "NEG_VOLUME", "15:00"),  # negative open interest
        ("funding_oi_hourly", "ETHUSDT", "R5_CONTINUITY", "12:00"),  # an hour delivered twice
        ("macro_minute", "SPY", "R5_CONTINUITY", "15:00"),  # five session minutes without a bar
        ("macro_minute", "SPY", "R2_POSITIVE_PRICE", "17:00"),
        ("macro_minute", "SPY", "R4_NO_NAN", "18:00"),
        ("macro_minute", "ESF", "R5_CONTINUITY", "03:00"),  # a Globex night minute
        ("macro_minute", "ESF", "R1_OHLC_ORDER", "10:00"),
        ("macro_minute", "EURUSDX", "R5_CONTINUITY", "12:00"),  # a minute delivered twice
    }


def _context_violations(project: DbtProject) -> set[tuple[str, str, str, str]]:
    rows = project.query(
        "select source_table, symbol, rule, strftime(ts, '%H:%M'), date from violations"
        " where source_table in ('funding_oi_hourly', 'macro_minute')"
    )
    assert all(str(date) == DAY for *_, date in rows), rows  # the clean day before has none
    return {tuple(r[:4]) for r in rows}


def _verdicts(project: DbtProject) -> list[tuple]:
    return project.query("select symbol, ts, mode, verdict, score, reason from fusion order by all")


def _use(project: DbtProject, monkeypatch) -> None:
    for name, value in project.paths.env().items():
        monkeypatch.setenv(name, value)


@pytest.mark.e2e
def test_context_series_are_staged_checked_and_kept_out_of_the_verdicts(tmp_path, monkeypatch, capsys):
    plain, with_context = DbtProject(tmp_path / "plain"), DbtProject(tmp_path / "context")
    generate_lake(plain.lake, date=DAY, days=2, symbols=3, trades_per_day=20_000, progress=False)
    shutil.rmtree(with_context.lake)
    shutil.copytree(plain.lake, with_context.lake)

    # a lake without context series: nothing said about them, their marts there and empty
    _use(plain, monkeypatch)
    assert cli.main(RUN) == 0
    said = capsys.readouterr()
    # only dbt's progress lines name them (a model built, a test passed): no warning, no "not in lake"
    progress = re.compile(r"\d+ of \d+ (START|OK|PASS)\b")
    mentions = [line for line in (said.out + said.err).splitlines() if any(n in line for n in (*CONTEXT, "macro_calendars"))]
    assert mentions and [line for line in mentions if not progress.search(line)] == []
    assert plain.query("select count(*) from funding_oi_hourly union all select count(*) from macro_minute") == [(0,), (0,)]

    write_context(with_context.lake, [DAY_BEFORE, DAY])
    expected = inject_faults(with_context.lake)
    _use(with_context, monkeypatch)
    assert cli.main(RUN) == 0
    capsys.readouterr()
    # every fault found where it is; nothing on the clean series: the E-mini's daily halt (21:00-22:00 UTC in
    # summer), SPY's closed hours, UUP's quiet minutes (within its 300 s) and EURUSD's skipped ones (180 s)
    assert _context_violations(with_context) == expected
    # staged as delivered: BTCUSDT lost an hour, ETHUSDT has one twice; every macro bar of the lake's files
    counts = {(s, str(d)): n for s, d, n in with_context.query("select symbol, date, count(*) from funding_oi_hourly group by all")}
    assert counts == {("BTCUSDT", DAY_BEFORE): 24, ("BTCUSDT", DAY): 23, ("ETHUSDT", DAY_BEFORE): 24, ("ETHUSDT", DAY): 25}
    in_lake = sum(pq.ParquetFile(f).metadata.num_rows for f in (with_context.lake / "macro_minute").rglob("*.parquet"))
    assert with_context.query("select count(*) from macro_minute") == [(in_lake,)] and in_lake > 6_000
    # the crypto verdicts are the same as without the context series
    assert _verdicts(with_context) == _verdicts(plain)
    # GE's suites of the context tables flag what dbt's rules flag
    from lakeqa.ge.checkpoint import run_ge_checkpoint

    result = run_ge_checkpoint(with_context.paths.duckdb_path, DAY, with_context.paths.output_root, result_format="COMPLETE")
    assert result["absent_context"] == [] and {"funding_oi_hourly", "macro_minute"} <= set(result["rules"])
    _assert_ge_agrees_with_violations(with_context, result, DAY)


@pytest.mark.e2e
def test_each_market_is_judged_on_its_own_clock_in_winter(tmp_path, monkeypatch, capsys):
    """In January New York and Chicago are an hour further from UTC than in August: SPY trades 14:30-21:00
    UTC and the E-mini halts 22:00-23:00 UTC. A hole at 20:00 UTC is inside SPY's winter session (after its
    summer close), and the E-mini's winter halt is no gap: a calendar kept in UTC would get both wrong."""
    winter = "2024-01-11"  # a Thursday
    project = DbtProject(tmp_path)
    generate_lake(project.lake, date=winter, days=1, symbols=2, trades_per_day=5_000, progress=False)
    write_context(project.lake, [winter], symbols=("BTCUSDT",))
    spy = macro_bars("SPY", winter)
    write(project.lake, "macro_minute", "SPY", _drop(spy, "20:00", "20:01", "20:02"), f"macro-{winter}")
    es = pq.read_table(next((project.lake / "macro_minute" / "symbol=ESF").rglob("*.parquet")))
    assert pc.min(pc.strftime(es["ts"], format="%H:%M")).as_py() == "00:00" and es.num_rows == 23 * 60
    _use(project, monkeypatch)
    assert cli.main(["run", "--day", winter, "--skip", "docs", "--skip", "ge", "--fail-on", "never"]) == 0
    capsys.readouterr()
    rows = project.query(
        "select source_table, symbol, rule, strftime(ts, '%H:%M'), detail from violations"
        " where source_table in ('funding_oi_hourly', 'macro_minute')"
    )
    assert [r[:4] for r in rows] == [("macro_minute", "SPY", "R5_CONTINUITY", "20:00")]
    assert rows[0][4] == "3 missing minute(s) of the session from 20:00 to 20:02 UTC"
