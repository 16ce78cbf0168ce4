"""The files of DESIGN.md's output contract, written from the DuckDB tables, one file per day, atomically.

- qa/schema/{date}_violations.jsonl
- qa/ai/{date}_anomalies.jsonl
- qa/fusion/{date}_fusion.parquet

Every file goes through lakeqa.atomic: written to a temporary name in its folder, renamed into place, with
ordinary permissions (0644 under umask 022), so a reader never sees a half-written file, a failed export
leaves the previous file as it was, and colleagues and dashboards can read it.

The JSON lines are strict JSON: NaN and infinities (a NaN trade price in a violation's `row_sample`, which
DuckDB's to_json writes as a bare ``NaN``) are written as null; the violation's `detail` text names the
value (``high nan``). Re-exporting the same rows gives the same bytes: rows in a total order, the fusion
`metadata` JSON with sorted keys, and no writer timestamps.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lakeqa import atomic

ISO_TS = "%Y-%m-%dT%H:%M:%SZ"


def violations_path(output_root: Path, day: str) -> Path:
    return Path(output_root) / "qa" / "schema" / f"{day}_violations.jsonl"


def anomalies_path(output_root: Path, day: str) -> Path:
    return Path(output_root) / "qa" / "ai" / f"{day}_anomalies.jsonl"


def mode_suffix(mode: str) -> str:
    """``""`` for daily files, ``"_hourly"`` for hourly ones: an hourly run never replaces a daily file (the
    fusion export here, the report)."""
    return "" if mode == "daily" else f"_{mode}"


def fusion_path(output_root: Path, day: str, mode: str = "daily") -> Path:
    return Path(output_root) / "qa" / "fusion" / f"{day}_fusion{mode_suffix(mode)}.parquet"


def _finite_or_none(value):
    """``value`` with every NaN or infinite float, at any depth, replaced by None (JSON null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(item) for item in value]
    return value


def strict_json(text: str, *, sort_keys: bool = False) -> str:
    """JSON text as strict JSON, compact: DuckDB's to_json writes non-finite doubles as the bare tokens
    NaN, Infinity and -Infinity, which are not JSON (a strict parser, jq or a browser rejects the line);
    they become null. A number too large for a double (1e999) parses as infinity and becomes null too.
    Key order is kept unless ``sort_keys`` (then the same object always gives the same text)."""
    obj = json.loads(text, parse_constant=lambda _token: None)
    return json.dumps(
        _finite_or_none(obj), allow_nan=False, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys
    )


def _write_json_lines(con: duckdb.DuckDBPyConnection, query: str, day: str, path: Path) -> Path:
    """``query`` selects one JSON text column, one object per row, for the day bound to its parameter."""
    lines = [strict_json(row[0]) + "\n" for row in con.execute(query, [day]).fetchall()]
    return atomic.write_text(path, "".join(lines))


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
        -- a total order (to the last column), so that the same rows always give the same file
        order by symbol, violations.ts, source_table, rule, detail, ts_end, row_sample
    """
    return _write_json_lines(con, query, day, violations_path(output_root, day))


def export_anomalies(con: duckdb.DuckDBPyConnection, day: str, output_root: Path) -> Path | None:
    if not _has_table(con, "anomalies"):
        return None
    # `cluster` is present on clustered records only (DESIGN.md), so it is merged in per row. `baseline` and
    # `exceeds_background` say whether a record is beyond the detector's clean-data background: without
    # them a reader of the file cannot tell the few records that matter from IsolationForest's share.
    query = f"""
        select cast(json_merge_patch(
            json_object(
                'symbol', symbol,
                'ts', strftime(ts, '{ISO_TS}'),
                'features', json(features),
                'detector', detector,
                'label', label,
                'rationale', rationale,
                'confidence', confidence,
                'baseline', baseline,
                'exceeds_background', exceeds_background
            ),
            case when cluster is not null then json_object('cluster', json(cluster)) else json('{{}}') end
        ) as varchar)
        from anomalies
        where date = cast(? as date)
        order by symbol, anomalies.ts, detector
    """
    return _write_json_lines(con, query, day, anomalies_path(output_root, day))


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
    table = deterministic_fusion_table(table)
    path = fusion_path(output_root, day, mode)
    return atomic.write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def deterministic_fusion_table(table: pa.Table) -> pa.Table:
    """The fusion rows as they must be written for a re-run of the day to give the same bytes.

    `metadata` is JSON text built in SQL, and the keys of its maps (``anomalies_by_detector``) come out
    in whatever order DuckDB's hash aggregate produced them, which varies from run to run: it is
    re-serialised with sorted keys (and NaN/infinity as null, like the JSON lines). The columns are
    made one chunk each, so the Parquet pages do not depend on how DuckDB batched the rows."""
    if "metadata" in table.column_names:
        index = table.column_names.index("metadata")
        field = table.schema.field(index)
        texts = [None if t is None else strict_json(t, sort_keys=True) for t in table["metadata"].to_pylist()]
        table = table.set_column(index, field, pa.array(texts, type=field.type))
    return table.combine_chunks()


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
