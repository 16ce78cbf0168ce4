"""The lake's freshness is part of `lakeqa run`: a current run on a lake whose collector stopped days ago FAILs
"the lake is stale"; a backfill of a past day is not judged on it; a dataset the lake does not hold is "not in
the lake", never an error; the thresholds are settings (freshness.*) that --vars overrides like the others."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from lakeqa import cli, freshness
from lakeqa.generate import generate_lake

pytestmark = pytest.mark.e2e

SYMBOLS = "BTCUSDT,XRPETH"
QUICK = ["--skip", "ge", "--skip", "docs", "--skip", "report"]


def utc_day(days_ago: int) -> str:
    return (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days_ago)).isoformat()


def make_lake(project, newest_days_ago: int, days: int = 1, quotes: bool = True) -> str:
    newest = utc_day(newest_days_ago)
    generate_lake(project.lake, date=newest, days=days, symbols=SYMBOLS, trades_per_day=20_000, quotes=quotes,
                  progress=False)  # fmt: skip
    return newest


def lines_of(out: str, source: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith(source + " ")]


def verdict_exit_code(project, days: list[str]) -> int:
    rows = project.query(
        "select count(*) from fusion where mode = 'daily' and verdict = 'FAIL'"
        " and list_contains(?, cast(date as varchar))",
        [days],
    )
    return 4 if rows[0][0] else 0


def test_a_lake_holding_yesterday_is_fresh(run_env, capsys):
    project = run_env
    make_lake(project, 1)
    code = cli.main(["run", "--day", "YESTERDAY", *QUICK])
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    [trades] = lines_of(out, "trades")
    assert trades.endswith(": pass (warn after 36 h, error after 60 h)"), trades
    assert f"newest row {utc_day(1)} 23:59" in trades
    assert "is stale" not in out + err and "WARNING" not in out
    assert out.index("dbt source freshness") < out.index("dbt build"), "freshness comes before the build"
    # the exit code is the verdicts' alone (the small generated day has R5 gaps: FAIL verdicts are fine here)
    assert code == verdict_exit_code(project, [utc_day(1)])


def test_an_hourly_run_on_a_lake_stale_for_days_fails_naming_the_source(run_env, capsys):
    project = run_env
    newest = make_lake(project, 5)
    assert cli.main(["run", "--mode", "hourly", *QUICK]) == 4
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    [trades] = lines_of(out, "trades")
    assert ": error (warn after 36 h, error after 60 h)" in trades and f"newest row {newest} 23:59" in trades
    stale = [
        line for line in (out + err).splitlines() if "FAIL: the lake is stale: trades newest row" in line
    ]
    assert stale and f"{newest} 23:59" in stale[0] and "error_after 60 h" in stale[0], out + err
    assert "d " in stale[0].split("(")[1], f"the age is in days: {stale[0]}"
    # the build and the verdicts still ran: the per-symbol view of the same outage
    assert "dbt build" in out and "verdicts:" in out and "no data: BTCUSDT" in out
    # --fail-on never: said, not failed
    assert cli.main(["run", "--mode", "hourly", "--fail-on", "never", *QUICK]) == 0
    assert "FAIL: the lake is stale: trades" in capsys.readouterr().err


def test_a_backfill_of_a_past_day_does_not_judge_freshness(run_env, capsys):
    project = run_env
    newest = make_lake(project, 5)
    code = cli.main(["run", "--day", newest, *QUICK])
    out = capsys.readouterr().out
    assert "freshness: not judged for a past window" in out
    assert "dbt source freshness" not in out and "is stale" not in out
    assert code == verdict_exit_code(project, [newest])
    # --day LATEST, the newest day in the lake: here the same past day
    assert cli.main(["run", "--day", "LATEST", "--skip", "build", *QUICK, "--skip", "exports", "--skip", "manifest"]) == code
    assert "freshness: not judged for a past window" in capsys.readouterr().out


def test_the_thresholds_are_settings_vars_override(run_env, capsys):
    project = run_env
    make_lake(project, 5)
    # through the runner: nested and flat overrides, as for every grouped setting (nested wins)
    default = {c.source: c for c in freshness.check_freshness(project.paths)}
    assert default["trades"].status == "error" and default["trades"].error_after_h == 60
    wider = {
        c.source: c
        for c in freshness.check_freshness(project.paths, {"freshness": {"error_after_hours": 500}})
    }
    assert (wider["trades"].status, wider["trades"].warn_after_h, wider["trades"].error_after_h) == (
        "warn",
        36,
        500,
    )
    both = {
        "freshness.warn_after_hours": 400,
        "freshness.error_after_hours": 450,
        "freshness": {"warn_after_hours": 300},
    }
    fresh = {c.source: c for c in freshness.check_freshness(project.paths, both)}
    assert (fresh["trades"].status, fresh["trades"].warn_after_h, fresh["trades"].error_after_h) == (
        "pass",
        300,
        450,
    )
    assert freshness.thresholds(both) == (300, 450), "lakeqa.settings resolves what dbt rendered"
    # an unknown key of the group is an error, not ignored
    with pytest.raises(ValueError, match="freshness.error_after"):
        freshness.check_freshness(project.paths, {"freshness": {"error_after": 1}})


def test_a_vars_override_makes_yesterdays_lake_stale(run_env, capsys):
    if dt.datetime.now(dt.timezone.utc).hour == 0:
        pytest.skip(
            "yesterday's newest row may be less than the 1 h threshold old in the first hour of the day"
        )
    project = run_env
    make_lake(project, 1)
    code = cli.main(["run", "--day", "YESTERDAY", *QUICK, "--vars", '{"freshness.error_after_hours": 1}'])
    captured = capsys.readouterr()
    [trades] = lines_of(captured.out, "trades")
    assert ": error (warn after 36 h, error after 1 h)" in trades
    assert "FAIL: the lake is stale: trades" in captured.err and "error_after 1 h" in captured.err
    assert code == 4


def test_a_lake_without_quotes_reports_them_not_in_the_lake(run_env, capsys):
    project = run_env
    make_lake(project, 1, quotes=False)
    shutil.rmtree(project.lake / "quotes", ignore_errors=True)
    code = cli.main(["run", "--day", "YESTERDAY", *QUICK])
    captured = capsys.readouterr()
    assert lines_of(captured.out, "quotes") == ["quotes     not in the lake (no files): not checked"]
    assert lines_of(captured.out, "bars_1s") == ["bars_1s    not in the lake (no files): not checked"]
    assert lines_of(captured.out, "trades")[0].endswith("pass (warn after 36 h, error after 60 h)")
    assert "is stale" not in captured.out + captured.err and "freshness not checked" not in captured.out
    assert code == verdict_exit_code(project, [utc_day(1)])
