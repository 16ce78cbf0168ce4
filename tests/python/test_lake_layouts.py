"""A capture lake laid out as <dataset>/SYMBOL/year=YYYY/month=MM/day=DD/ (seed 002's layout, LAKE_LAYOUT=
symbol_ymd) is read in place: the same partitions, the same schema checks and quarantine, and the same QA
results as the same files in the default <dataset>/symbol=S/date=D/ layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakeqa import cli, lake
from lakeqa.generate import generate_lake
from lakeqa.lake import LakeError

from .conftest import DbtProject

DAY = "2024-08-09"
RUN = ["run", "--from", "2024-08-08", "--to", DAY, "--skip", "docs", "--skip", "ge", "--fail-on", "never"]


def copy_as_symbol_ymd(hive: Path, ymd: Path) -> None:
    for dataset, symbol, day, folder in lake.day_partitions(hive, layout="hive"):
        year, month, dom = day.split("-")
        target = ymd / dataset / symbol / f"year={year}" / f"month={month}" / f"day={dom}"
        target.mkdir(parents=True)
        for path in folder.glob("*.parquet"):
            shutil.copy2(path, target / path.name)


def test_partitions_are_found_and_parsed_in_each_layout(tmp_path, monkeypatch):
    hive, ymd = tmp_path / "hive", tmp_path / "ymd"
    generate_lake(hive, date=DAY, days=2, symbols=2, trades_per_day=2_000, progress=False)
    copy_as_symbol_ymd(hive, ymd)
    assert lake.partition_glob("BTCUSDT", DAY, "symbol_ymd") == "BTCUSDT/year=2024/month=08/day=09"
    assert lake.parse_partition("BTCUSDT/year=2024/month=08/day=09", "symbol_ymd") == ("BTCUSDT", DAY)
    assert lake.parse_partition("BTCUSDT/year=2024/month=8/day=09", "symbol_ymd") is None
    assert lake.parse_partition("symbol=BTCUSDT/date=2024-08-09", "hive") == ("BTCUSDT", DAY)

    def relative(root, layout):
        return [(d, s, p.relative_to(root).parts[-1]) for d, s, p in lake.day_partition_files(root, DAY, layout)]

    assert relative(ymd, "symbol_ymd") == relative(hive, "hive") and relative(hive, "hive")
    monkeypatch.setenv("LAKE_LAYOUT", "symbol_ymd")
    from lakeqa.window import latest_lake_day

    assert latest_lake_day(ymd) == DAY
    assert lake.day_partition_files(hive, DAY) == []  # the layout named is the one read
    monkeypatch.setenv("LAKE_LAYOUT", "year/month")
    with pytest.raises(LakeError, match="LAKE_LAYOUT 'year/month' is not a lake layout; lakeqa reads hive, symbol_ymd"):
        lake.day_partitions(hive)


def retype_bid_price(path: Path) -> None:
    table = pq.ParquetFile(path).read()
    column = table.schema.get_field_index("bid_price")
    pq.write_table(table.set_column(column, "bid_price", pc.cast(table["bid_price"], pa.string())), path)


@pytest.mark.e2e
def test_the_seed_002_layout_gives_the_verdicts_of_the_default_layout(tmp_path, monkeypatch, capsys):
    default, captured = DbtProject(tmp_path / "default"), DbtProject(tmp_path / "captured")
    generate_lake(default.lake, date=DAY, days=2, trades_per_day=40_000, faults="all", progress=False)
    # one quotes file of the judged day retyped upstream: quarantined in both layouts, by name
    [bad] = sorted((default.lake / "quotes" / "symbol=SOLUSDT" / f"date={DAY}").glob("*.parquet"))
    retype_bid_price(bad)
    shutil.rmtree(captured.lake)
    copy_as_symbol_ymd(default.lake, captured.lake)
    results = {}
    for project, layout in ((default, "hive"), (captured, "symbol_ymd")):
        for name, value in project.paths.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("LAKE_LAYOUT", layout)
        assert cli.main(RUN) == 0
        assert "quarantined: file" in capsys.readouterr().err
        # every row as text (NaN equals NaN there), with the quarantined file's path in the default layout's
        # spelling: the only difference a reader may see is where the file lies
        results[layout] = {
            table: repr(project.query(f"select * from {table} order by all"))
            .replace(str(project.lake), "<lake>")
            .replace(f"quotes/SOLUSDT/year=2024/month=08/day=09/{bad.name}", f"quotes/symbol=SOLUSDT/date={DAY}/{bad.name}")
            for table in ("fusion", "violations", "anomalies", "bars_1s", "compare_our_vs_kline_1m",
                          "completeness_checks", "coverage")  # fmt: skip
        }
    for table, rows in results["hive"].items():
        assert f"<lake>/quotes/symbol=SOLUSDT/date={DAY}/{bad.name}" in results["hive"]["fusion"]
        assert rows == results["symbol_ymd"][table], table
    # the plain dbt build checks every file's schema in this layout too: the retyped file named, nothing built
    monkeypatch.setenv("LAKE_LAYOUT", "symbol_ymd")
    outcome = captured.build({"day": DAY}, expect_success=False)
    assert not outcome.success
    messages = " ".join(str(r.message) for r in outcome.results)
    ymd_bad = captured.lake / "quotes" / "SOLUSDT" / "year=2024" / "month=08" / "day=09" / bad.name
    assert f"file {ymd_bad}: column 'bid_price' is" in messages and "the lake contract wants number" in messages
