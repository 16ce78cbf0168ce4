"""Quarantine (seed 004): a corrupt or drifted lake file fails only its own symbol-day, named with its file
and column; every other symbol is judged as on a clean lake; the lake is untouched; --strict stops instead."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakeqa import cli, quarantine
from lakeqa.generate import generate_lake

pytestmark = pytest.mark.e2e

RUN = ["run", "--day", "2024-08-09", "--skip", "docs", "--skip", "ge", "--fail-on", "never"]


def lake_digest(lake: Path) -> dict[str, str]:
    return {str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(lake.rglob("*.parquet"))}


def verdicts(project) -> dict[str, tuple[str, str]]:
    rows = project.query("select symbol, verdict, reason from fusion where date = '2024-08-09' and mode = 'daily'")
    return {symbol: (verdict, reason) for symbol, verdict, reason in rows}


@pytest.fixture
def lake_env(run_env):
    generate_lake(run_env.lake, date="2024-08-09", days=2, trades_per_day=30_000, progress=False)
    return run_env


def one_file(lake: Path, dataset: str, symbol: str) -> Path:
    (path,) = sorted((lake / dataset / f"symbol={symbol}" / "date=2024-08-09").glob("*.parquet"))
    return path


def test_a_bad_file_fails_only_its_symbol_day_and_strict_stops(lake_env, capsys):
    project = lake_env
    lake, root, db = project.lake, project.paths.output_root, project.paths.duckdb_path
    assert cli.main(RUN) == 0
    clean = verdicts(project)
    assert len(clean) == 13

    # one truncated trades file, one quotes file whose bid_price became text
    truncated = one_file(lake, "trades", "BNBUSDT")
    original_trades = truncated.read_bytes()
    truncated.write_bytes(original_trades[: len(original_trades) // 2])
    drifted = one_file(lake, "quotes", "SOLUSDT")
    original_quotes = drifted.read_bytes()
    table = pq.read_table(drifted)
    column = table.schema.get_field_index("bid_price")
    pq.write_table(table.set_column(column, "bid_price", pc.cast(table["bid_price"], pa.string())), drifted)
    lake_before = lake_digest(lake)
    published = db.read_bytes()

    # --strict: the run stops before anything is replaced, naming both files and the column
    capsys.readouterr()
    assert cli.main([*RUN, "--strict"]) == 1
    err = capsys.readouterr().err
    assert str(truncated) in err and "cannot be read as Parquet" in err, err
    assert str(drifted) in err and "column 'bid_price' is string, the lake contract wants number" in err, err
    assert db.read_bytes() == published and not (root / "qa" / "quarantine").exists()

    # by default: both quarantined, every symbol judged
    assert cli.main(RUN) == 0
    err = capsys.readouterr().err
    assert f"quarantined: file {truncated}" in err and f"quarantined: file {drifted}" in err
    judged = verdicts(project)
    assert set(judged) == set(clean)
    for symbol, path, words in (("BNBUSDT", truncated, "cannot be read as Parquet"),
                                ("SOLUSDT", drifted, "column 'bid_price' is string")):  # fmt: skip
        verdict, reason = judged[symbol]
        assert verdict == "FAIL" and reason.startswith("C10_QUARANTINED_FILE"), reason
        assert str(path) in reason and words in reason, reason
    assert {s: v for s, v in judged.items() if s not in ("BNBUSDT", "SOLUSDT")} == {
        s: v for s, v in clean.items() if s not in ("BNBUSDT", "SOLUSDT")}, "the other symbols were judged differently"
    listed = json.loads((root / "qa" / "quarantine" / "2024-08-09.json").read_text())
    by_file = {entry["file"]: entry for entry in listed["files"]}
    assert set(by_file) == {str(truncated), str(drifted)}
    assert by_file[str(drifted)]["column"] == "bid_price" and by_file[str(drifted)]["symbol"] == "SOLUSDT"
    assert by_file[str(truncated)]["column"] is None and "cannot be read" in by_file[str(truncated)]["reason"]
    assert lake_digest(lake) == lake_before, "the run changed the lake"
    # the manifest still describes the unreadable file (size and hash; rows unknown)
    manifest = json.loads((root / "qa" / "manifest" / "2024-08-09_manifest.json").read_text())
    rows = {f["path"]: f["rows"] for f in manifest["symbols"]["BNBUSDT"]["files"]}
    assert rows[str(truncated.relative_to(lake))] is None

    # the files mended upstream: the day judged as before, the quarantine list gone
    truncated.write_bytes(original_trades)
    drifted.write_bytes(original_quotes)
    assert cli.main(RUN) == 0
    assert verdicts(project) == clean
    assert not (root / "qa" / "quarantine" / "2024-08-09.json").exists()


def test_the_scan_reads_footers_only_and_accepts_added_columns(tmp_path):
    lake = tmp_path / "lake"
    generate_lake(lake, date="2024-08-09", trades_per_day=5_000, progress=False)
    assert quarantine.scan(lake, ["2024-08-09"]) == []
    path = one_file(lake, "trades", "BTCUSDT")
    table = pq.read_table(path)
    pq.write_table(table.append_column("venue", pa.array(["binance"] * table.num_rows)), path)
    assert quarantine.scan(lake, ["2024-08-09"]) == [], "an added column is a warning, not a quarantine"
    pq.write_table(table.drop_columns(["qty"]), path)
    (found,) = quarantine.scan(lake, ["2024-08-09"])
    assert (found.symbol, found.dataset, found.column, found.reason) == ("BTCUSDT", "trades", "qty", "column 'qty' is missing")
