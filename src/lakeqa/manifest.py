"""The day manifest: what a processed day was made of, so that a verdict can be traced to the exact bytes.

For each symbol-day of a daily run: every lake file of the day's partitions (path relative to the lake
root, size, rows from the Parquet footer, SHA-256), an aggregate checksum (SHA-256 of the sorted
``path:sha256`` lines, one per file, joined by newlines), the lake contract version, and the QA status and
verdict from ``fusion``. Written as ``qa/manifest/{date}_manifest.json`` (atomically; the same lake and
verdicts give the same bytes) and as rows of the DuckDB table ``day_manifest`` (one per symbol-day, the
day replaced in one transaction).

A re-run compares the lake with the manifest it replaces and says which files were added, removed or
rewritten since (an upstream rewrite of a day already judged): the run then judges the day again, as it
always does, and the new manifest records the new bytes.

The lake is only read. Hashing reads every byte of the day's files once, in 4 MiB blocks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from lakeqa import atomic
from lakeqa.lake import CONTRACT_VERSION, SCHEMAS, day_partition_files, symbol_prefix

BLOCK = 4 << 20
TABLE = "day_manifest"


@dataclass(frozen=True)
class LakeFile:
    path: str  # relative to the lake root, with forward slashes
    dataset: str
    symbol: str
    size_bytes: int
    rows: int | None  # None: the footer cannot be read (the run quarantined the file)
    sha256: str


def manifest_path(output_root: Path, day: str) -> Path:
    return Path(output_root) / "qa" / "manifest" / f"{day}_manifest.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def aggregate_checksum(files: list[LakeFile]) -> str:
    """SHA-256 of the sorted ``path:sha256`` lines joined by newlines: `sha256sum`-checkable by hand."""
    lines = sorted(f"{f.path}:{f.sha256}" for f in files)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def day_files(lake_root: Path, day: str) -> list[LakeFile]:
    """Every Parquet file of the day's partitions of every dataset, in path order."""
    lake_root = Path(lake_root)
    found = []
    for dataset, symbol, path in day_partition_files(lake_root, day):
        try:
            rows = int(pq.ParquetFile(path).metadata.num_rows)
        except Exception:  # noqa: BLE001 - truncated or foreign: its size and hash still describe it
            rows = None
        found.append(
            LakeFile(
                path=path.relative_to(lake_root).as_posix(),
                dataset=dataset,
                symbol=symbol,
                size_bytes=path.stat().st_size,
                rows=rows,
                sha256=sha256_of(path),
            )
        )
    return sorted(found, key=lambda f: f.path)


def _verdicts(con: duckdb.DuckDBPyConnection, day: str) -> dict[str, dict]:
    try:
        rows = con.execute(
            "select symbol, verdict, score, reason from fusion where mode = 'daily' and date = cast(? as date)",
            [day],
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    return {symbol: {"verdict": verdict, "score": score, "reason": reason} for symbol, verdict, score, reason in rows}


def build_manifest(lake_root: Path, day: str, verdicts: dict[str, dict], files: list[LakeFile] | None = None) -> dict:
    """The day's manifest from its lake files (`files`: day_files(lake_root, day) if not given) and verdicts."""
    files = day_files(lake_root, day) if files is None else files
    symbols = sorted({f.symbol for f in files} | set(verdicts))
    per_symbol = {}
    for symbol in symbols:
        own = [f for f in files if f.symbol == symbol]
        judged = verdicts.get(symbol)
        per_symbol[symbol] = {
            # judged: fusion holds the symbol-day's verdict; not judged: files, but no verdict (not built)
            "status": "judged" if judged else "not judged",
            "verdict": judged["verdict"] if judged else None,
            "score": judged["score"] if judged else None,
            "reason": judged["reason"] if judged else None,
            "rows": {dataset: sum(f.rows or 0 for f in own if f.dataset == dataset) for dataset in SCHEMAS
                     if any(f.dataset == dataset for f in own)},
            "aggregate_sha256": aggregate_checksum(own),
            "files": [asdict(f) for f in own],
        }
    return {
        "date": day,
        "contract_version": CONTRACT_VERSION,
        "aggregate_sha256": aggregate_checksum(files),
        "files": len(files),
        "size_bytes": sum(f.size_bytes for f in files),
        "symbols": per_symbol,
    }


def changes_since(previous: dict | None, current: dict) -> list[str]:
    """What differs in the lake between two manifests of the same day, one sentence per file."""
    if not previous:
        return []

    def hashes(manifest: dict) -> dict[str, str]:
        return {f["path"]: f["sha256"] for s in manifest.get("symbols", {}).values() for f in s.get("files", [])}

    before, now = hashes(previous), hashes(current)
    lines = [f"{path} was rewritten since the last manifest" for path in sorted(before.keys() & now.keys())
             if before[path] != now[path]]
    lines += [f"{path} is new since the last manifest" for path in sorted(now.keys() - before.keys())]
    lines += [f"{path} is gone since the last manifest" for path in sorted(before.keys() - now.keys())]
    return lines


def _store(con: duckdb.DuckDBPyConnection, manifest: dict, changed: list[str]) -> None:
    con.execute(f"""
        create table if not exists {TABLE} (
            date date, symbol varchar, contract_version varchar, status varchar, verdict varchar,
            n_files integer, rows bigint, size_bytes bigint, aggregate_sha256 varchar,
            files varchar, changed_since_last_manifest varchar
        )""")
    rows = []
    for symbol, entry in manifest["symbols"].items():
        prefix = tuple(symbol_prefix(dataset, symbol) for dataset in SCHEMAS)
        rows.append((
            manifest["date"], symbol, manifest["contract_version"], entry["status"], entry["verdict"],
            len(entry["files"]), sum(entry["rows"].values()), sum(f["size_bytes"] for f in entry["files"]),
            entry["aggregate_sha256"], json.dumps(entry["files"], sort_keys=True),
            json.dumps([line for line in changed if line.startswith(prefix)]),
        ))
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {TABLE} where date = cast(? as date)", [manifest["date"]])
        if rows:
            con.executemany(f"insert into {TABLE} values (cast(? as date), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def write_manifest(lake_root: Path, duckdb_path: Path, output_root: Path, day: str,
                   files: list[LakeFile] | None = None) -> tuple[Path, list[str]]:
    """Write the day's manifest file and table; returns the file and the changes since the last manifest.
    `files`: the day's lake files if already hashed (day_files), e.g. while the build ran."""
    path = manifest_path(output_root, day)
    previous = None
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            previous = None  # an unreadable old manifest is replaced, not compared
    con = duckdb.connect(str(duckdb_path))
    try:
        manifest = build_manifest(lake_root, day, _verdicts(con, day), files)
        changed = changes_since(previous, manifest)
        _store(con, manifest, changed)
    finally:
        con.close()
    text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
    atomic.write_text(path, text)
    return path, changed
