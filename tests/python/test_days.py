"""Day-incremental builds: a run replaces exactly its window; days, ranges and bad vars."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakeqa.dbt_runner import DbtError, run_dbt
from lakeqa.generate import generate_lake

pytestmark = pytest.mark.e2e

TABLES = ["bars_1s", "bars_1m", "klines_1m", "compare_our_vs_kline_1m", "violations"]


def _fingerprints(project, day: str) -> dict[str, tuple]:
    """Row count and md5 of every row (in a fixed order) of each table for one day."""
    out = {}
    for table in TABLES:
        out[table] = project.query(
            f"select count(*), md5(coalesce(string_agg(cast(t as varchar), chr(10) order by cast(t as varchar)), ''))"
            f" from {table} t where date = ?",
            [day],
        )[0]
    return out


@pytest.fixture
def two_day_lake(dbt_project):
    generate_lake(dbt_project.lake, date="2024-08-09", days=2, trades_per_day=40_000, progress=False)
    return dbt_project


def test_rebuilding_a_day_is_identical_and_leaves_other_days_untouched(two_day_lake):
    project = two_day_lake
    project.build({"day": "2024-08-08"})
    day1 = _fingerprints(project, "2024-08-08")
    assert day1["bars_1s"][0] > 1000

    project.build({"day": "2024-08-09"})
    assert _fingerprints(project, "2024-08-08") == day1, "building day 2 changed day 1"
    day2 = _fingerprints(project, "2024-08-09")
    assert day2["bars_1s"][0] > 1000

    project.build({"day": "2024-08-08"})
    assert _fingerprints(project, "2024-08-08") == day1, "rebuilding day 1 is not identical"
    assert _fingerprints(project, "2024-08-09") == day2, "rebuilding day 1 changed day 2"


def test_a_range_builds_every_day_in_one_run_like_single_days(two_day_lake):
    project = two_day_lake
    project.build({"from": "2024-08-08", "to": "2024-08-09"})
    ranged = {day: _fingerprints(project, day) for day in ("2024-08-08", "2024-08-09")}
    project.paths.duckdb_path.unlink()
    project.build({"day": "2024-08-08"})
    project.build({"day": "2024-08-09"})
    single = {day: _fingerprints(project, day) for day in ("2024-08-08", "2024-08-09")}
    assert ranged == single


def _full_parses() -> int:
    """How often dbt has said, in its log (DBT_LOG_PATH), that it parses the whole project again."""
    log = Path(os.environ["DBT_LOG_PATH"]) / "dbt.log"
    return log.read_text(errors="replace").count("Unable to do partial parsing") if log.exists() else 0


def test_the_window_from_env_var_lakeqa_window_keeps_dbts_parse_and_vars_win(two_day_lake, tmp_path, monkeypatch):
    project = two_day_lake
    # a log of this test's own: dbt rotates dbt.log at 10 MB, and the session's grows past that
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    build = ["build", "--select", "tag:daily", "--exclude-resource-type", "unit_test"]
    assert run_dbt(build, project.paths, quiet=True, window={"day": "2024-08-08"}).success
    assert project.query("select distinct cast(date as varchar) from bars_1s") == [("2024-08-08",)]

    # the next day through the env var: the same dbt vars, so dbt reuses its saved parse
    before = _full_parses()
    assert run_dbt(build, project.paths, quiet=True, window={"day": "2024-08-09"}).success
    assert _full_parses() == before, "a new day in LAKEQA_WINDOW made dbt parse the whole project again"
    days = project.query("select cast(date as varchar), count(*) from bars_1s group by all order by 1")
    assert [d for d, _ in days] == ["2024-08-08", "2024-08-09"] and all(n > 1000 for _, n in days)

    # --vars wins over the env var
    project.paths.duckdb_path.unlink()
    outcome = run_dbt([*build, "--vars", '{"day": "2024-08-09"}'], project.paths, quiet=True,
                      window={"day": "2024-08-08"})
    assert outcome.success
    assert project.query("select distinct cast(date as varchar) from bars_1s") == [("2024-08-09",)]


def test_a_bad_lakeqa_window_is_refused_with_its_name(two_day_lake):
    project = two_day_lake
    for window in ({"day": "2024-08-09'; drop table x; --"}, {"mode": "weekly"}):
        try:
            outcome = run_dbt(["build", "--select", "tag:daily"], project.paths, quiet=True, window=window)
        except DbtError as exc:
            assert "lakeqa: var" in str(exc)
        else:
            assert not outcome.success
    assert not project.paths.duckdb_path.exists() or not project.query(
        "select count(*) from information_schema.tables where table_name = 'bars_1s'"
    )[0][0]


def test_latest_is_the_default_day(two_day_lake):
    project = two_day_lake
    project.build()
    days = project.query("select distinct cast(date as varchar) from bars_1s")
    assert days == [("2024-08-09",)]


@pytest.mark.parametrize(
    "bad_vars",
    [{"day": "2024-13-01"}, {"day": "yesterday'; drop table bars_1s; --"}, {"from": "2024-08-09", "to": "2024-08-08"}],
)
def test_bad_day_vars_are_refused_before_anything_is_replaced(two_day_lake, bad_vars):
    project = two_day_lake
    project.build({"day": "2024-08-08"})
    before = _fingerprints(project, "2024-08-08")
    try:
        outcome = run_dbt(["build", "--select", "tag:daily", "--vars", str(bad_vars)], project.paths, quiet=True)
    except DbtError as exc:  # refused while dbt parses the project
        assert "lakeqa: var" in str(exc)
    else:
        assert not outcome.success
    assert _fingerprints(project, "2024-08-08") == before


def test_a_lake_without_quotes_or_klines_still_builds(dbt_project):
    generate_lake(
        dbt_project.lake, date="2024-08-09", trades_per_day=20_000, quotes=False, klines=False, progress=False
    )
    dbt_project.build({"day": "2024-08-09"})
    n_bars, n_with_book = dbt_project.query("select count(*), count(bid) from bars_1s")[0]
    assert n_bars > 0 and n_with_book == 0
    assert dbt_project.query("select count(*) from klines_1m") == [(0,)]
    # nothing to reconcile against: no kline-parity violations, and no R3/R6 without a book; only R5, since
    # without quotes a stretch without trades over the threshold is a gap (20k trades a day are thin)
    assert dbt_project.query("select distinct presence from compare_our_vs_kline_1m") == [("no_exchange_klines",)]
    assert dbt_project.query("select distinct rule from violations") in ([], [("R5_CONTINUITY",)])
