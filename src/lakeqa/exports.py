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
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

ISO_TS = "%Y-%m-%dT%H:%M:%SZ"


def write_atomically(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` for a temp file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
        return path
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_json_lines(con: duckdb.DuckDBPyConnection, query: str, day: str, path: Path) -> Path:
    """``query`` selects one JSON text column, one object per row, for the day bound to its parameter."""
    lines = [row[0] for row in con.execute(query, [day]).fetchall()]

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")

    return write_atomically(path, write)


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute("select count(*) from information_schema.tables where table_name = ?", [name]).fetchone()[0]
    )


def export_violations(con: duckdb.DuckDBPyConnection, day: str, output_root: Path) -> Path | None:
    if not _has_table(con, "violations"):
        return None
    query = f"""
        select cast(to_json({{
            'symbol': symbol,
            'ts': strftime(ts, '{ISO_TS}'),
            'rule': rule,
            'severity': severity,
            'detail': detail,
            'row_sample': json(row_sample),
            'source_table': source_table,
            'ts_end': strftime(ts_end, '{ISO_TS}')
        }}) as varchar)
        from violations
        where date = cast(? as date)
        order by symbol, violations.ts, source_table, rule, detail
    """
    return _write_json_lines(con, query, day, output_root / "qa" / "schema" / f"{day}_violations.jsonl")


def export_anomalies(con: duckdb.DuckDBPyConnection, day: str, output_root: Path) -> Path | None:
    if not _has_table(con, "anomalies"):
        return None
    # `cluster` is present on clustered records only (DESIGN.md), so it is merged in per row.
    query = f"""
        select cast(json_merge_patch(
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
        ) as varchar)
        from anomalies
        where date = cast(? as date)
        order by symbol, anomalies.ts, detector
    """
    return _write_json_lines(con, query, day, output_root / "qa" / "ai" / f"{day}_anomalies.jsonl")


def export_fusion(
    con: duckdb.DuckDBPyConnection, day: str, output_root: Path, mode: str = "daily"
) -> Path | None:
    """Daily verdicts to {date}_fusion.parquet; hourly ones to {date}_fusion_hourly.parquet."""
    if not _has_table(con, "fusion"):
        return None
    table = con.execute(
        "select * exclude (date) from fusion where date = cast(? as date) and mode = ? order by fusion.ts, symbol",
        [day, mode],
    ).fetch_arrow_table()
    suffix = "" if mode == "daily" else f"_{mode}"
    path = output_root / "qa" / "fusion" / f"{day}_fusion{suffix}.parquet"
    return write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def export_day(duckdb_path: Path, day: str, output_root: Path, mode: str = "daily") -> dict[str, Path | None]:
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        return {
            "violations": export_violations(con, day, output_root),
            "anomalies": export_anomalies(con, day, output_root),
            "fusion": export_fusion(con, day, output_root, mode),
        }
    finally:
        con.close()
