"""The files of DESIGN.md's output contract, written from the DuckDB tables, one file per day, atomically.

- qa/schema/{date}_violations.jsonl
- qa/ai/{date}_anomalies.jsonl
- qa/fusion/{date}_fusion.parquet

Each file is written to a temporary name in its folder and renamed into place, so a reader never sees a
half-written file and a failed export leaves the previous file as it was.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

ISO_TS = "%Y-%m-%dT%H:%M:%SZ"


def _atomic_copy(con: duckdb.DuckDBPyConnection, query: str, params: list, path: Path, fmt: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        options = "format parquet, compression zstd" if fmt == "parquet" else "format json"
        # COPY cannot take parameters, so the filtered rows go through a temp view first.
        con.execute(f"create or replace temp view lakeqa_export as {query}", params)
        con.execute(f"copy (select * from lakeqa_export) to '{_escape(tmp)}' ({options})")
        os.replace(tmp, path)
        return path
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _escape(text: str) -> str:
    return str(text).replace("'", "''")


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [name]
        ).fetchone()[0]
    )


def export_violations(con: duckdb.DuckDBPyConnection, day: str, output_root: Path) -> Path | None:
    if not _has_table(con, "violations"):
        return None
    query = f"""
        select
            symbol,
            strftime(ts, '{ISO_TS}') as ts,
            rule,
            severity,
            detail,
            json(row_sample) as row_sample,
            source_table,
            strftime(ts_end, '{ISO_TS}') as ts_end
        from violations
        where date = cast(? as date)
        order by symbol, violations.ts, source_table, rule, detail
    """
    return _atomic_copy(con, query, [day], output_root / "qa" / "schema" / f"{day}_violations.jsonl", "json")


def export_anomalies(con: duckdb.DuckDBPyConnection, day: str, output_root: Path) -> Path | None:
    if not _has_table(con, "anomalies"):
        return None
    # `cluster` is only present on clustered records (DuckDB's JSON writer drops NULL keys? it does not,
    # so unclustered rows are written without the key by building the object per row).
    query = f"""
        select json_merge_patch(
            json_object(
                'symbol', symbol,
                'ts', strftime(ts, '{ISO_TS}'),
                'features', json(features),
                'detector', detector,
                'label', label,
                'rationale', rationale,
                'confidence', confidence
            ),
            case when cluster is not null then json_object('cluster', json(cluster)) else json('{{}}') end
        ) as record
        from anomalies
        where date = cast(? as date)
        order by symbol, anomalies.ts, detector
    """
    path = output_root / "qa" / "ai" / f"{day}_anomalies.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = con.execute(query, [day]).fetchall()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for (record,) in rows:
                fh.write(record + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def export_fusion(con: duckdb.DuckDBPyConnection, day: str, output_root: Path) -> Path | None:
    if not _has_table(con, "fusion"):
        return None
    query = """
        select * exclude (date)
        from fusion
        where date = cast(? as date)
        order by fusion.ts, symbol
    """
    return _atomic_copy(con, query, [day], output_root / "qa" / "fusion" / f"{day}_fusion.parquet", "parquet")


def export_day(duckdb_path: Path, day: str, output_root: Path) -> dict[str, Path | None]:
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        return {
            "violations": export_violations(con, day, output_root),
            "anomalies": export_anomalies(con, day, output_root),
            "fusion": export_fusion(con, day, output_root),
        }
    finally:
        con.close()
