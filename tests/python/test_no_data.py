"""What did not arrive gets a verdict: a symbol the lake carried within expected_lookback_days FAILs "no data
since <day>", and a window with no data for any symbol is a FAIL exit, never a silent success."""

from __future__ import annotations

import shutil

import pytest

from lakeqa import cli
from lakeqa.generate import generate_lake

pytestmark = pytest.mark.e2e

LAST_DAY = "2024-08-12"


@pytest.fixture
def stale_symbol_lake(dbt_project):
    """Four days of three symbols; ETHUSDT's collector died after 2024-08-09: its last three days are gone."""
    generate_lake(dbt_project.lake, date=LAST_DAY, days=4, symbols=3, trades_per_day=4_000, progress=False)
    for dataset in ("trades", "quotes", "klines_1m"):
        for day in ("2024-08-10", "2024-08-11", LAST_DAY):
            shutil.rmtree(dbt_project.lake / dataset / "symbol=ETHUSDT" / f"date={day}", ignore_errors=True)
    return dbt_project


def _verdicts(project, day):
    rows = project.query("select symbol, verdict, reason from fusion where date = ? and mode = 'daily'", [day])
    return {symbol: (verdict, reason) for symbol, verdict, reason in rows}


def test_a_symbol_missing_for_days_fails_naming_since_when(stale_symbol_lake):
    project = stale_symbol_lake
    project.build({"day": LAST_DAY})
    verdicts = _verdicts(project, LAST_DAY)
    verdict, reason = verdicts["ETHUSDT"]
    assert verdict == "FAIL"
    assert reason.startswith("no data: ETHUSDT has no bars this day; no data since 2024-08-09"), reason
    assert {v for s, (v, _) in verdicts.items() if s != "ETHUSDT"} == {"PASS"}


def test_the_lookback_is_a_setting(stale_symbol_lake):
    project = stale_symbol_lake
    project.build({"day": LAST_DAY, "expected_lookback_days": 2})
    # 2024-08-09 is three days back: beyond a lookback of two, the symbol is no longer expected
    assert "ETHUSDT" not in _verdicts(project, LAST_DAY)


def test_an_hourly_run_on_a_stale_lake_fails_instead_of_exiting_0(dbt_project, monkeypatch, capsys):
    paths = dbt_project.paths
    for name, value in paths.env().items():
        monkeypatch.setenv(name, value)
    generate_lake(dbt_project.lake, date="2024-08-09", days=1, symbols=2, trades_per_day=3_000, progress=False)
    args = ["run", "--mode", "hourly", "--skip", "docs", "--skip", "report"]
    # three days after the lake's last data: every symbol it carried FAILs "no data"
    assert cli.main([*args, "--hourly-end", "2024-08-12 12:00"]) == 4
    out = capsys.readouterr().out
    assert "FAIL" in out and "no data: BTCUSDT has no bars in this hour (the lake held its trades on 2024-08-09)" in out
    # a month later nothing in the lake is recent enough to be expected: still a FAIL exit, saying why
    assert cli.main([*args, "--hourly-end", "2024-09-12 12:00"]) == 4
    err = capsys.readouterr().err
    assert "FAIL: no data for any symbol in the window" in err and "newest day is 2024-08-09" in err
    assert cli.main([*args, "--hourly-end", "2024-09-12 12:00", "--fail-on", "never"]) == 0
