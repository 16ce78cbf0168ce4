"""Staging reads the lake without the dedupe when no id occurs twice in its files, and deduplicates when a
record was captured twice (macros/lake/lakeqa_one_copy_per_id.sql); lakeqa run leaves out only the grain
tests that this read proves (run.DAILY_SELECTION)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest

from lakeqa.run import DAILY_SELECTION

pytestmark = pytest.mark.e2e

DAY = "2024-08-09"
STAGING = {"stg_lake__trades": ("trades", "trade_id"), "stg_lake__quotes": ("quotes", "update_id")}


def _build_staging(project) -> tuple[dict[str, str], str]:
    """-> (compiled SQL per staging model, what the build wrote to dbt's log). The build logs to a folder of
    its own: dbt rotates dbt.log at 10 MB, and the session's shared log grows past that (a read from where
    it ended before the build then found nothing; seen in make test)."""
    logs = Path(tempfile.mkdtemp(prefix="logs-", dir=project.paths.duckdb_path.parent))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DBT_LOG_PATH", str(logs))
        outcome = project.build({"day": DAY}, select=" ".join(STAGING))
    written = (logs / "dbt.log").read_text(errors="replace")
    return {r.node.name: r.node.compiled_code for r in outcome.results if r.node.name in STAGING}, written


def _rows_in(files: str | Path) -> int:
    return duckdb.sql(f"select count(*) from read_parquet('{files}')").fetchone()[0]


def _counts(project, model: str, id_column: str) -> tuple[int, int]:
    return project.query(
        f"select count(*), count(distinct (symbol, {id_column})) from {model}"
    )[0]


@pytest.fixture
def small_lake(dbt_project):
    from lakeqa.generate import generate_lake

    generate_lake(dbt_project.lake, date=DAY, symbols=2, trades_per_day=20_000, progress=False)
    return dbt_project


def test_a_lake_without_duplicates_is_read_as_it_is(small_lake):
    compiled, log = _build_staging(small_lake)
    # consecutive trade ids are proven unique by the files' statistics; book update ids have gaps and
    # take the hash aggregate
    assert "stg_lake__trades: trade_ids dense and apart in the 2 files' statistics" in log
    assert "stg_lake__quotes: no update_id twice in the 2 files" in log
    for model, (dataset, id_column) in STAGING.items():
        assert "duplicated_ids" not in compiled[model], f"{model} deduplicated a lake without duplicates"
        in_lake = _rows_in(f"{small_lake.lake}/{dataset}/*/date={DAY}/*.parquet")
        rows, distinct = _counts(small_lake, model, id_column)
        assert rows == distinct == in_lake


def test_a_file_captured_twice_is_deduplicated(small_lake):
    # an overlapping capture: the same file once more, under another name, in the same partition
    copied = {}
    for model, (dataset, id_column) in STAGING.items():
        partition = sorted((small_lake.lake / dataset).glob(f"symbol=*/date={DAY}"))[0]
        original = sorted(partition.glob("*.parquet"))[0]
        shutil.copy(original, partition / f"again-{original.name}")
        copied[model] = _rows_in(original)
    compiled, log = _build_staging(small_lake)
    assert "stg_lake__trades: " in log and "trade_ids captured more than once, deduplicated" in log
    for model, (dataset, id_column) in STAGING.items():
        assert "duplicated_ids" in compiled[model], f"{model} read a lake with duplicates without the dedupe"
        in_lake = _rows_in(f"{small_lake.lake}/{dataset}/*/date={DAY}/*.parquet")
        rows, distinct = _counts(small_lake, model, id_column)
        assert rows == distinct == in_lake - copied[model]


def test_files_listed_with_unique_ids_skip_the_hash_proof_only_when_their_ranges_are_apart(small_lake, monkeypatch):
    from lakeqa import idproof

    listed = small_lake.paths.output_root / "unique_id_files.json"
    listed.parent.mkdir(parents=True, exist_ok=True)

    def list_files():
        listed.write_text(json.dumps(idproof.files_with_unique_ids(small_lake.lake, [DAY])))

    monkeypatch.setenv(idproof.ENV, str(listed))
    # no list written (the proof failed to write it): the hash proof decides, nothing breaks
    _, log = _build_staging(small_lake)
    assert "stg_lake__quotes: no update_id twice in the 2 files" in log
    list_files()
    compiled, log = _build_staging(small_lake)
    # update ids have gaps: the statistics alone prove nothing, the list does
    assert "stg_lake__quotes: update_ids increasing within each of the 2 files and apart between them" in log
    assert "duplicated_ids" not in compiled["stg_lake__quotes"]
    rows, distinct = _counts(small_lake, "stg_lake__quotes", "update_id")
    assert rows == distinct == _rows_in(f"{small_lake.lake}/quotes/*/date={DAY}/*.parquet")

    # a file captured twice: each copy alone holds its ids once, but their ranges overlap
    partition = sorted((small_lake.lake / "quotes").glob(f"symbol=*/date={DAY}"))[0]
    original = sorted(partition.glob("*.parquet"))[0]
    shutil.copy(original, partition / f"again-{original.name}")
    list_files()
    assert str(partition / f"again-{original.name}") in json.loads(listed.read_text())
    compiled, log = _build_staging(small_lake)
    assert "update_ids captured more than once, deduplicated" in log
    assert "duplicated_ids" in compiled["stg_lake__quotes"]
    rows, distinct = _counts(small_lake, "stg_lake__quotes", "update_id")
    assert rows == distinct == _rows_in(f"{small_lake.lake}/quotes/*/date={DAY}/*.parquet") - _rows_in(original)


def test_lakeqa_run_leaves_out_only_the_grain_tests_true_by_construction(small_lake):
    assert DAILY_SELECTION == ("--select", "tag:daily", "--exclude", "tag:proven_by_construction")
    _build_staging(small_lake)
    manifest = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json").read_text())
    proven = {
        (node["attached_node"], tuple(node["test_metadata"]["kwargs"]["combination_of_columns"]))
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and "proven_by_construction" in node["tags"]
    }
    assert proven == {
        ("model.lakeqa.stg_lake__trades", ("symbol", "trade_id")),
        ("model.lakeqa.stg_lake__quotes", ("symbol", "update_id")),
        ("model.lakeqa.bar_scores", ("symbol", "ts", "detector")),
        # bar_features' first two steps: one row per bars_1s row, and a group by (symbol, minute_ts)
        ("model.lakeqa.bar_features_per_second", ("symbol", "ts")),
        ("model.lakeqa.bar_features_per_minute", ("symbol", "minute_ts")),
        # the per-second aggregates (a group by symbol and second) and their (symbol, ts) pairs, per stream
        ("model.lakeqa.int_trades_aggregated_to_seconds", ("symbol", "ts")),
        ("model.lakeqa.int_quotes_last_per_second", ("symbol", "ts")),
        ("model.lakeqa.int_symbol_activity_seconds", ("stream", "symbol", "ts")),
        # each moment once per kind: its last copy is the only one with a later next moment
        ("model.lakeqa.int_continuity_intervals", ("kind", "symbol", "ts")),
    }


def test_the_continuity_keeps_each_moment_once_when_the_lake_delivers_it_twice(small_lake):
    """int_continuity_intervals' grain test is left out of lakeqa run as true by construction: a second with
    trades and quotes is in its input once per stream, and a kline minute the exchange delivered twice is
    in the lake twice (klines are kept as delivered); each must come out once. The build runs the grain
    test too (project.build selects it) and fails if it does not hold."""
    partition = sorted((small_lake.lake / "klines_1m").glob(f"symbol=*/date={DAY}"))[0]
    original = sorted(partition.glob("*.parquet"))[0]
    shutil.copy(original, partition / f"again-{original.name}")
    # with the models whose R5 tests read the continuity (the build runs the tests of what it selects)
    small_lake.build({"day": DAY}, select="+int_continuity_intervals bars_1s bars_1m klines_1m")
    (rows, distinct, minutes), = small_lake.query(
        "select count(*), count(distinct (kind, symbol, ts)), count(*) filter (where kind = 'minutes') "
        "from int_continuity_intervals"
    )
    assert rows == distinct and minutes > 0
    # every kline minute but each symbol-day's last has a next one: the duplicated file changed nothing
    ((expected,),) = small_lake.query(
        "select count(*) - count(distinct (symbol, cast(ts as date))) from "
        "(select distinct symbol, ts from stg_lake__klines_1m)"
    )
    assert minutes == expected
    ((both,),) = small_lake.query(
        "select count(*) from (select symbol, ts from int_symbol_activity_seconds "
        "group by all having count(*) = 2)"
    )
    assert both > 0, "no second with both trades and quotes: the activity kind was not tested"
