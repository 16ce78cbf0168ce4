"""IsolationForest trained on history, end to end through dbt (e2e): a first day is a marked cold start and later
days learn from the clean days before; a clean day with history flags about `contamination`; the training rows
have bar_features' own values; records are byte-identical whether a day is built alone, in a range or in a fresh
database; cached models are reused and changed history is fitted again; damaging one symbol changes that
symbol's records only, and its damaged day is flagged far more than its clean day.

Three generated days of three symbols, built once as a range (lake A) and shared: B rebuilds them in a fresh
database, C copies A and damages one symbol."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from lakeqa.dbt_runner import run_dbt
from lakeqa.detectors.features import FEATURES
from lakeqa.detectors.iforest import CACHE_SUFFIX
from lakeqa.generate import generate_lake

from .conftest import DbtProject

pytestmark = pytest.mark.e2e

DAYS = ("2024-08-07", "2024-08-08", "2024-08-09")
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
DAMAGED = "ETHUSDT"  # loses trades on the middle day and trades abnormally on the last
RETOUCHED = "SOLUSDT"  # its middle day's book is nudged: still clean history, but other history
UNTOUCHED = "BTCUSDT"
TRADES_PER_DAY = 60_000
CONTAMINATION = 0.005
HOURLY_END = f"{DAYS[-1]} 12:00"  # an hourly window: the default 90 minutes up to it


def run(project: DbtProject, vars: dict) -> None:
    """`dbt build` of the fusion and everything upstream (seeds, lake to bars, violations, detectors): what a
    day's QA computes, without the tests."""
    outcome = run_dbt(["build", "--select", "+fusion", "--exclude-resource-type", "test", "unit_test", "--vars", json.dumps(vars)],
                      project.paths, quiet=True)
    bad = {n: s for n, s in outcome.statuses().items() if s != "success"}
    assert outcome.success and not bad, bad


def iforest_records(project: DbtProject, day: str, symbol: str | None = None) -> list[tuple]:
    """Every IFOREST row of one day (and symbol), every column as text, in a fixed order."""
    return project.query(
        "select cast(a as varchar) from anomalies a where detector = 'IFOREST' and date = ?"
        " and (symbol = ? or ? is null) order by symbol, ts",
        [day, symbol, symbol],
    )


def cache_files(project: DbtProject) -> dict[str, tuple[int, int]]:
    """The model cache's files: path -> (mtime_ns, inode)."""
    folder = project.paths.output_root / "cache" / "iforest"
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.rglob(f"*{CACHE_SUFFIX}")}


@pytest.fixture(scope="module")
def lake_a(tmp_path_factory, _dbt_private_paths) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("iforest_a"))
    generate_lake(project.lake, date=DAYS[-1], days=len(DAYS), symbols=SYMBOLS, trades_per_day=TRADES_PER_DAY,
                  progress=False)
    run(project, {"from": DAYS[0], "to": DAYS[-1]})
    project.cache_after_build = cache_files(project)
    return project


@pytest.fixture(scope="module")
def lake_b(lake_a, tmp_path_factory) -> DbtProject:
    """A's lake in a fresh database with a fresh cache: the first two days as a range, then the last day alone
    and an hourly run inside it, both with A's model cache (so their models are the ones A fitted)."""
    project = DbtProject(tmp_path_factory.mktemp("iforest_b"))
    project.paths = dataclasses.replace(project.paths, lake_root=lake_a.paths.lake_root)
    run(project, {"from": DAYS[0], "to": DAYS[1]})
    project.own_cache = cache_files(project)
    project.paths = dataclasses.replace(project.paths, output_root=lake_a.paths.output_root)
    run(project, {"day": DAYS[-1]})
    run(project, {"mode": "hourly", "hourly_end": HOURLY_END})
    return project


def rewrite_parquet(folder: Path, select: str) -> None:
    """Replace each Parquet file of a lake partition by `select` over it (`{file}` is the file)."""
    for file in sorted(folder.glob("*.parquet")):
        tmp = file.with_suffix(".tmp")
        duckdb.sql(f"copy ({select.format(file=file)}) to '{tmp}' (format parquet)")
        tmp.replace(file)


@pytest.fixture(scope="module")
def lake_c(lake_a, tmp_path_factory) -> DbtProject:
    """A copy of A (lake, database, cache) in which DAMAGED loses a tenth of its trades on the middle day (lost
    data: its kline parity breaks, so that day no longer trains a forest) and trades twenty times the volume at
    three times the spread from 06:00 to 18:00 on the last day, and RETOUCHED's bids sit 1 bp lower for an hour
    of the middle day; both days rebuilt as a range."""
    tmp = tmp_path_factory.mktemp("iforest_c")
    project = DbtProject(tmp)
    shutil.rmtree(project.lake)
    shutil.copytree(lake_a.paths.lake_root, project.lake)
    shutil.copy2(lake_a.paths.duckdb_path, project.paths.duckdb_path)
    shutil.copytree(lake_a.paths.output_root, project.paths.output_root)
    trades = project.lake / "trades" / f"symbol={DAMAGED}"
    quotes = project.lake / "quotes" / f"symbol={DAMAGED}"
    rewrite_parquet(trades / f"date={DAYS[1]}",
                    "select * from read_parquet('{file}', hive_partitioning = false) where hash(trade_id) % 10 <> 0")
    busy = f"ts >= timestamp '{DAYS[2]} 06:00:00' and ts < timestamp '{DAYS[2]} 18:00:00'"
    rewrite_parquet(trades / f"date={DAYS[2]}",
                    "select * replace (case when " + busy + " then qty * 20 else qty end as qty,"
                    " case when " + busy + " then quote_qty * 20 else quote_qty end as quote_qty)"
                    " from read_parquet('{file}', hive_partitioning = false)")
    rewrite_parquet(quotes / f"date={DAYS[2]}",
                    "select * replace (case when " + busy + " then ask_price + 2 * (ask_price - bid_price)"
                    " else ask_price end as ask_price) from read_parquet('{file}', hive_partitioning = false)")
    rewrite_parquet(project.lake / "quotes" / f"symbol={RETOUCHED}" / f"date={DAYS[1]}",
                    "select * replace (case when ts >= timestamp '" + DAYS[1] + " 10:00:00' and ts < timestamp '"
                    + DAYS[1] + " 11:00:00' then bid_price * (1 - 1e-4) else bid_price end as bid_price)"
                    " from read_parquet('{file}', hive_partitioning = false)")
    project.cache_before = cache_files(project)
    run(project, {"from": DAYS[1], "to": DAYS[2]})
    project.cache_after = cache_files(project)
    return project


def test_the_first_day_is_a_cold_start_and_later_days_learn_from_history(lake_a):
    baselines = dict(lake_a.query("select strftime(date, '%Y-%m-%d'), list_sort(list_distinct(list(baseline)))"
                                  " from iforest_baselines group by all"))
    assert baselines == {DAYS[0]: ["cold_start"], DAYS[1]: ["history"], DAYS[2]: ["history"]}
    records = dict(lake_a.query("select strftime(date, '%Y-%m-%d'), list_sort(list_distinct(list(baseline)))"
                                " from anomalies where detector = 'IFOREST' group by all"))
    assert records == {DAYS[0]: ["cold_start"], DAYS[1]: ["history"], DAYS[2]: ["history"]}
    # the last day learns from both days before it
    assert lake_a.query("select distinct list_transform(training_dates, d -> strftime(d, '%Y-%m-%d'))"
                        " from iforest_baselines where date = ?", [DAYS[2]]) == [(list(DAYS[:2]),)]
    fusion = {(s, str(d)): (reason, json.loads(m)["iforest_baseline"])
              for s, d, reason, m in lake_a.query("select symbol, date, reason, metadata from fusion")}
    for symbol in SYMBOLS:
        reason, baseline = fusion[(symbol, DAYS[0])]
        assert baseline == "cold_start"
        assert "nor to train IsolationForest on: a cold start fitted on the day itself" in reason, reason
        reason, baseline = fusion[(symbol, DAYS[2])]
        assert baseline == "history" and "cold start" not in reason, reason


def test_a_clean_day_with_history_flags_about_contamination(lake_a, record_property):
    # the last day, trained on two days: with one day of history a generated day's own mix (its spreads and
    # drifts differ from the day before by some percent) can flag up to twice the contamination
    for day in DAYS[2:]:
        for symbol, bars, flagged, beyond in lake_a.query(
            "select b.symbol, count(*), (select count(*) from anomalies a where a.detector = 'IFOREST'"
            " and a.symbol = b.symbol and a.date = b.date), (select count(*) from anomalies a where"
            " a.detector = 'IFOREST' and a.symbol = b.symbol and a.date = b.date and a.exceeds_background)"
            " from bars_1s b where b.date = ? group by b.symbol, b.date order by 1",
            [day],
        ):
            record_property(f"iforest_{symbol}_{day}", f"{flagged} of {bars} bars, {beyond} beyond the background")
            assert 0.2 * CONTAMINATION * bars <= flagged <= 1.5 * CONTAMINATION * bars + 5, (symbol, day, flagged, bars)
            assert beyond <= 10, (symbol, day, beyond)


def test_the_training_rows_have_bar_features_own_values(lake_a):
    """bar_features of A holds every day (the range's window): the training rows of the last day, taken from
    bars_1s by iforest_training_bars, must carry exactly the same four features."""
    same = " and ".join(f"t.{f} is not distinct from f.{f}" for f in FEATURES)
    total, matching, with_return = lake_a.query(
        f"select count(*), count(*) filter (where {same}), count(t.return_1s) from iforest_training_bars t"
        " inner join bar_features f using (symbol, ts) where t.judged_date = ?",
        [DAYS[2]],
    )[0]
    n_training = lake_a.query("select count(*) from iforest_training_bars where judged_date = ?", [DAYS[2]])[0][0]
    assert total == n_training > 10_000 and matching == total and with_return > 0.9 * total


def test_records_are_byte_identical_in_a_fresh_database_alone_or_in_a_range(lake_a, lake_b):
    for day in DAYS:
        a = iforest_records(lake_a, day)
        assert len(a) > 0 and iforest_records(lake_b, day) == a, day


def test_an_hourly_run_judges_with_the_days_model(lake_a, lake_b):
    window = "ts >= timestamp '" + DAYS[-1] + " 10:30:00' and ts < timestamp '" + DAYS[-1] + " 12:00:00'"
    records = f"select cast(a as varchar) from anomalies a where detector = 'IFOREST' and {window} order by symbol, ts"
    assert lake_b.query(records) == lake_a.query(records) and len(lake_a.query(records)) > 0
    assert lake_b.query(f"select distinct baseline from anomalies where detector = 'IFOREST' and {window}") == [
        ("history",)]


def test_a_second_run_of_a_day_reuses_its_cached_models(lake_a, lake_b):
    # B's own cache holds the models of its range's second day: one per symbol (the first day is a cold start)
    assert len(lake_b.own_cache) == len(SYMBOLS)
    # B's last day alone and its hourly run used A's cache: they loaded A's models and wrote nothing
    assert cache_files(lake_a) == lake_a.cache_after_build
    assert len(lake_a.cache_after_build) == 2 * len(SYMBOLS)


def test_damage_to_other_symbols_leaves_a_symbols_records_alone(lake_a, lake_c):
    def every_record(project: DbtProject, day: str) -> list[tuple]:
        # every detector's records of the untouched symbol, and the background its thresholds learn from
        return project.query(
            "select cast(a as varchar) from anomalies a where date = ? and symbol = ? order by detector, ts",
            [day, UNTOUCHED],
        ) + project.query(
            "select cast(b as varchar) from detector_background b where date = ? and symbol = ? order by detector",
            [day, UNTOUCHED],
        )

    for day in DAYS[1:]:
        assert every_record(lake_c, day) == every_record(lake_a, day), day
        assert iforest_records(lake_c, day, UNTOUCHED) == iforest_records(lake_a, day, UNTOUCHED), day
        assert len(iforest_records(lake_a, day, UNTOUCHED)) > 0
    for symbol in (DAMAGED, RETOUCHED):
        assert iforest_records(lake_c, DAYS[2], symbol) != iforest_records(lake_a, DAYS[2], symbol), symbol


def test_a_damaged_day_after_clean_history_is_flagged_far_more(lake_a, lake_c, record_property):
    # the middle day lost data: it no longer trains the last day's forest, which learns from the first day alone
    eligible = lake_c.query("select is_training_eligible from iforest_training_days"
                            " where symbol = ? and judged_date = ? and date = ?", [DAMAGED, DAYS[2], DAYS[1]])
    assert eligible == [(False,)]
    assert lake_c.query("select baseline, list_transform(training_dates, d -> strftime(d, '%Y-%m-%d'))"
                        " from iforest_baselines where symbol = ? and date = ?",
                        [DAMAGED, DAYS[2]]) == [("history", [DAYS[0]])]
    clean = len(iforest_records(lake_a, DAYS[2], DAMAGED))
    damaged = len(iforest_records(lake_c, DAYS[2], DAMAGED))
    record_property("iforest_damaged_vs_clean", f"{damaged} vs {clean}")
    assert damaged > 3 * clean > 0, (damaged, clean)


def test_changed_history_is_fitted_again_and_unchanged_history_reused(lake_a, lake_c):
    before, after = lake_c.cache_before, lake_c.cache_after
    new = sorted(set(after) - set(before))
    # one new model: RETOUCHED's last day, trained on the same two days, whose rows changed. DAMAGED's last day
    # now learns from the first day alone: the very rows of its middle day's model, which it reuses
    assert len(new) == 1 and new[0].startswith(f"{RETOUCHED}/{DAYS[0]}_{DAYS[1]}_"), new
    # every other model was read, not written again
    assert {k: v for k, v in after.items() if k in before} == before
    # the training span only: what follows it ("; cluster of ...") belongs to each day's own records
    spans = ("select distinct regexp_extract(rationale, 'forest trained on [^;]*') from anomalies"
             " where detector = 'IFOREST' and symbol = ? and date = ?")
    assert lake_c.query(spans, [DAMAGED, DAYS[2]]) == lake_a.query(spans, [DAMAGED, DAYS[1]])
