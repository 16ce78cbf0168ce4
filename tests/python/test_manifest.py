"""The day manifest: every lake file of a day with its size, rows and SHA-256 (checked against the system's
own sha256sum), one aggregate checksum per symbol-day, the verdict, and an upstream rewrite noticed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import duckdb
import pyarrow.parquet as pq
import pytest

from lakeqa.generate import generate_lake
from lakeqa.lake import CONTRACT_VERSION
from lakeqa.manifest import manifest_path, write_manifest

DAY = "2024-08-09"


def strict(text: str):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    generate_lake(root, date=DAY, days=1, symbols=3, trades_per_day=5_000, progress=False)
    return root


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "qa.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table fusion (date date, symbol varchar, mode varchar, verdict varchar, score double,"
                " reason varchar)")
    con.execute(f"insert into fusion values ('{DAY}', 'BTCUSDT', 'daily', 'PASS', 1.0, 'pass'),"
                f" ('{DAY}', 'BTCUSDT', 'hourly', 'FAIL', 0.1, 'an hourly row, not the day''s')")
    con.close()
    return path


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="the system's sha256sum is not installed")
def test_every_file_is_listed_with_the_systems_sha256_rows_and_size(lake, db, tmp_path):
    path, changed = write_manifest(lake, db, tmp_path / "out", DAY)
    assert path == manifest_path(tmp_path / "out", DAY) and changed == []
    manifest = strict(path.read_text())
    on_disk = sorted(p.relative_to(lake).as_posix() for p in lake.glob(f"*/symbol=*/date={DAY}/*.parquet"))
    listed = sorted(f["path"] for s in manifest["symbols"].values() for f in s["files"])
    assert listed == on_disk and len(on_disk) >= 9  # 3 symbols x trades, quotes, klines
    out = subprocess.run(["sha256sum", *on_disk], cwd=lake, capture_output=True, text=True, check=True).stdout
    system = {name: digest for digest, name in (line.split(maxsplit=1) for line in out.splitlines())}
    for entry in manifest["symbols"].values():
        for f in entry["files"]:
            assert f["sha256"] == system[f["path"]]
            assert f["size_bytes"] == (lake / f["path"]).stat().st_size
            assert f["rows"] == pq.ParquetFile(lake / f["path"]).metadata.num_rows
        # the aggregate, recomputed by hand: sha256 of the sorted path:sha256 lines
        lines = "\n".join(sorted(f"{f['path']}:{f['sha256']}" for f in entry["files"]))
        assert entry["aggregate_sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    assert manifest["contract_version"] == CONTRACT_VERSION and manifest["date"] == DAY
    assert manifest["symbols"]["BTCUSDT"]["verdict"] == "PASS"  # the daily row, not the hourly one
    assert manifest["symbols"]["BTCUSDT"]["status"] == "judged"
    assert {s["status"] for name, s in manifest["symbols"].items() if name != "BTCUSDT"} == {"not judged"}
    assert oct(path.stat().st_mode & 0o044) != "0o0"


def test_a_rerun_on_the_same_lake_writes_the_same_bytes_and_replaces_the_day(lake, db, tmp_path):
    first, _ = write_manifest(lake, db, tmp_path / "out", DAY)
    before = first.read_bytes()
    again, changed = write_manifest(lake, db, tmp_path / "out", DAY)
    assert changed == [] and again.read_bytes() == before
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("select symbol, n_files, aggregate_sha256 from day_manifest order by symbol").fetchall()
    con.close()
    manifest = strict(before.decode())
    assert [(s, len(e["files"]), e["aggregate_sha256"]) for s, e in sorted(manifest["symbols"].items())] == rows


def test_a_rewritten_file_is_noticed_and_recorded(lake, db, tmp_path):
    write_manifest(lake, db, tmp_path / "out", DAY)
    victim = sorted(lake.glob(f"trades/symbol=ETHUSDT/date={DAY}/*.parquet"))[0]
    table = pq.read_table(victim)
    pq.write_table(table.slice(0, table.num_rows - 1), victim)  # an upstream rewrite: one trade fewer
    path, changed = write_manifest(lake, db, tmp_path / "out", DAY)
    rel = victim.relative_to(lake).as_posix()
    assert changed == [f"{rel} was rewritten since the last manifest"]
    manifest = strict(path.read_text())
    (entry,) = [f for f in manifest["symbols"]["ETHUSDT"]["files"] if f["path"] == rel]
    assert entry["rows"] == table.num_rows - 1
    con = duckdb.connect(str(db), read_only=True)
    recorded = con.execute("select symbol, changed_since_last_manifest from day_manifest"
                           " where changed_since_last_manifest <> '[]'").fetchall()
    con.close()
    assert recorded == [("ETHUSDT", json.dumps([changed[0]]))]


def test_a_truncated_file_is_described_with_unknown_rows(lake, db, tmp_path):
    # lakeqa run quarantines such a file (its symbol-day FAILs); the manifest still says what the lake held
    victim = sorted(lake.glob(f"quotes/symbol=BTCUSDT/date={DAY}/*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    path, _ = write_manifest(lake, db, tmp_path / "out", DAY)
    entry = next(f for f in json.loads(path.read_text())["symbols"]["BTCUSDT"]["files"]
                 if f["path"] == victim.relative_to(lake).as_posix())  # fmt: skip
    assert entry["rows"] is None and entry["size_bytes"] == 100
    assert entry["sha256"] == hashlib.sha256(victim.read_bytes()).hexdigest()
