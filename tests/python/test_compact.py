"""`lakeqa compact`: a capture's many small files per partition become one, verified by rows and checksums,
with its .meta.json; an interrupted compaction leaves the old files (or is finished by the next); a file of
another schema keeps its partition as it is; the QA's results on the compacted lake equal those before."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeqa import cli, compact
from lakeqa.generate import generate_lake
from lakeqa.lake import SCHEMAS

from .conftest import DbtProject

DAY = "2024-08-09"


def rotate_like_a_capture(lake: Path, pieces: int = 7) -> dict[Path, pa.Table]:
    """Split every partition's file into `pieces` files of consecutive rows, named as a capture rotating its
    file names them; returns each partition's rows as they were."""
    before = {}
    for dataset in SCHEMAS:
        for partition in sorted((lake / dataset).glob(f"symbol=*/date={DAY}")):
            [path] = list(partition.glob("*.parquet"))
            table = read(path)
            before[partition] = table
            path.unlink()
            step = -(-table.num_rows // pieces)
            for i in range(pieces):
                part = table.slice(i * step, step)
                if part.num_rows:
                    pq.write_table(part, partition / f"capture-{i:04d}.parquet")
    return before


@pytest.fixture
def rotated_lake(tmp_path) -> tuple[Path, dict[Path, pa.Table]]:
    lake = tmp_path / "lake"
    generate_lake(lake, date=DAY, symbols=3, trades_per_day=20_000, faults=None, progress=False)
    return lake, rotate_like_a_capture(lake)


def read(path: Path) -> pa.Table:
    """A file's own columns (pq.read_table would add the partition's symbol and date from the path)."""
    return pq.ParquetFile(path).read()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_partition_becomes_one_verified_file_with_its_meta(rotated_lake, capsys):
    lake, before = rotated_lake
    sources = {p: {f.name: sha256(f) for f in p.glob("*.parquet")} for p in before}
    assert cli.main(["compact", "--lake", str(lake), "--day", DAY]) == 0
    out = capsys.readouterr().out
    assert f"compacted {len(before)} of {len(before)} partition(s) of {DAY}, {len(before) * 7} file(s) into" in out
    for partition, table in before.items():
        [path] = list(partition.glob("*.parquet"))
        assert path.name.startswith("compacted-")
        assert read(path).equals(table)  # the same rows in the same order, types and all
        meta = json.loads((partition / (path.name + ".meta.json")).read_text())
        assert meta["rows"] == table.num_rows and meta["sha256"] == sha256(path)
        assert meta["content_sha256"] == compact.content_sha256(table)
        assert {s["name"]: s["sha256"] for s in meta["sources"]} == sources[partition]
        assert sum(s["rows"] for s in meta["sources"]) == table.num_rows
        assert not [p for p in partition.iterdir() if p.name.startswith(".")]  # no temp file left
    # again: nothing to do, nothing rewritten
    files = {p: (p.stat().st_mtime_ns, sha256(p)) for p in lake.rglob("*.parquet")}
    assert cli.main(["compact", "--lake", str(lake), "--day", DAY]) == 0
    assert "one file already" in capsys.readouterr().out
    assert {p: (p.stat().st_mtime_ns, sha256(p)) for p in lake.rglob("*.parquet")} == files


def test_the_content_checksum_ignores_how_rows_are_split():
    table = pa.table({"a": list(range(1000)), "b": [float(i) / 3 for i in range(1000)]})
    split = pa.concat_tables([table.slice(0, 10), table.slice(10, 500), table.slice(510)])
    assert compact.content_sha256(split) == compact.content_sha256(table)
    assert compact.content_sha256(table.slice(1)) != compact.content_sha256(table)


def test_one_symbol_and_a_dry_run(rotated_lake, capsys):
    lake, before = rotated_lake
    assert cli.main(["compact", "--lake", str(lake), "--day", DAY, "--symbol", "BTCUSDT", "--dry-run"]) == 0
    assert "would compact" in capsys.readouterr().out
    assert all(len(list(p.glob("*.parquet"))) == 7 for p in before)
    assert cli.main(["compact", "--lake", str(lake), "--day", DAY, "--symbol", "btcusdt"]) == 0
    for partition in before:
        expected = 1 if "symbol=BTCUSDT" in str(partition) else 7
        assert len(list(partition.glob("*.parquet"))) == expected, partition
    assert cli.main(["compact", "--lake", str(lake), "--day", "2024-08-11"]) == 1
    assert "has no partition of 2024-08-11" in capsys.readouterr().err


def test_an_interrupted_compaction_leaves_the_old_files(rotated_lake, monkeypatch):
    lake, before = rotated_lake
    partition = next(iter(before))
    files = {f.name: sha256(f) for f in partition.glob("*.parquet")}

    def killed(path, write):
        raise KeyboardInterrupt  # the process stopped while writing the compacted file

    monkeypatch.setattr(compact.atomic, "write_atomically", killed)
    with pytest.raises(KeyboardInterrupt):
        compact.compact_partition(lake, partition, partition.parent.parent.name)
    assert {f.name: sha256(f) for f in partition.glob("*.parquet")} == files
    monkeypatch.undo()
    # the next compaction removes the meta.json whose file never came, and compacts
    outcome = compact.compact_partition(lake, partition, partition.parent.parent.name)
    assert "stopped before its file was written" in outcome.note
    assert [p.name for p in partition.glob("*.meta.json")] == [outcome.output + ".meta.json"]
    assert read(partition / outcome.output).equals(before[partition])


def test_a_compaction_stopped_among_its_deletes_is_finished_by_the_next(rotated_lake, monkeypatch):
    lake, before = rotated_lake
    partition = next(iter(before))
    real_unlink, calls = Path.unlink, []

    def unlink(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        compact.compact_partition(lake, partition, partition.parent.parent.name)
    monkeypatch.undo()
    assert len(list(partition.glob("*.parquet"))) == 1 + 5  # the compacted file and five sources left
    outcome = compact.compact_partition(lake, partition, partition.parent.parent.name)
    assert "finished an interrupted compaction: 5 source file(s) removed" in outcome.note
    [path] = list(partition.glob("*.parquet"))
    assert read(path).equals(before[partition])


def test_a_file_of_another_schema_keeps_its_partition_as_it_is(rotated_lake, capsys):
    lake, before = rotated_lake
    bad_partition = lake / "trades" / "symbol=ETHUSDT" / f"date={DAY}"
    bad = bad_partition / "capture-0003.parquet"
    table = read(bad)
    pq.write_table(table.set_column(1, "price", table.column("price").cast(pa.string())), bad)
    files = sorted(p.name for p in bad_partition.glob("*.parquet"))
    assert cli.main(["compact", "--lake", str(lake), "--day", DAY]) == 1
    out, err = capsys.readouterr()
    assert "trades/symbol=ETHUSDT/date=2024-08-09" in out and "capture-0003.parquet: price is string, not double" in out
    assert "1 partition(s) left as they are" in err
    assert sorted(p.name for p in bad_partition.glob("*.parquet")) == files
    others = [p for p in before if p != bad_partition]
    assert all(len(list(p.glob("*.parquet"))) == 1 for p in others)


@pytest.mark.e2e
def test_the_qa_on_the_compacted_lake_equals_the_qa_before(tmp_path):
    first = DbtProject(tmp_path / "before")
    generate_lake(first.lake, date=DAY, trades_per_day=60_000, faults="all", progress=False)
    rotate_like_a_capture(first.lake, pieces=12)
    first.build({"day": DAY})
    second = DbtProject(tmp_path / "after")
    second.lake.rmdir()
    first.lake.rename(second.lake)
    assert cli.main(["compact", "--lake", str(second.lake), "--day", DAY]) == 0
    assert all(len(list(p.glob("*.parquet"))) == 1 for p in second.lake.glob(f"*/symbol=*/date={DAY}"))
    second.build({"day": DAY})
    for table in ("fusion", "violations", "anomalies", "bars_1s", "compare_our_vs_kline_1m", "completeness_checks"):
        query = f"select * exclude (metadata) from {table} order by all" if table == "fusion" else (
            f"select * from {table} order by all")  # fmt: skip
        ours, theirs = first.query(query), second.query(query)
        assert ours and repr(ours) == repr(theirs), table  # repr: NaN prices equal as text, not by ===
    assert first.query("select metadata from fusion order by all") == second.query("select metadata from fusion order by all")
