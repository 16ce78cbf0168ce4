"""Quarantine: a lake file that cannot be read or breaks the lake contract fails only its own symbol-day.

Before the build, `lakeqa run` opens every Parquet file of the window's date partitions (and the day
before, which the quotes' staleness lookback reads): its footer and schema only, not its rows. A file
whose footer cannot be read (truncated, not Parquet), or that lacks a column of the contract
(lakeqa.lake.SCHEMAS) or holds one in another kind (a string `price`), is kept out:

- the build reads every other file (the lake macros leave the files named in env var LAKEQA_QUARANTINE
  out), so every other symbol is judged as usual;
- completeness_checks reports it as C10_QUARANTINED_FILE, critical, for each period of its symbol-day, the
  detail naming the file, the column and the reason, so that symbol-day's verdict is FAIL with that reason;
- ``qa/quarantine/{date}.json`` lists the day's quarantined files with their reasons (written atomically;
  removed when a re-run finds none).

The lake is never changed. With ``--strict`` a run stops instead, before anything is replaced (exit 1),
naming each file. A plain `dbt build` has no quarantine list: the lake macros' own schema check stops it.
Added columns are not a contract break: they warn, as before. A file whose footer and schema are sound but
whose pages are damaged is not seen here (that would mean reading every row twice); DuckDB's read then
fails the build (exit 3), naming the file.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakeqa import atomic
from lakeqa.lake import SCHEMAS, day_partition_files

ENV = "LAKEQA_QUARANTINE"


@dataclass(frozen=True)
class Quarantined:
    file: str
    dataset: str
    symbol: str
    date: str
    column: str | None
    reason: str

    def describe(self) -> str:
        return f"file {self.file}: {self.reason}"


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    return str(arrow_type)


def _compatible(found: pa.DataType, wanted: pa.DataType) -> bool:
    """The same rule as the lake macros' schema check: an integer column may hold a number column's values."""
    kind, want = _kind(found), _kind(wanted)
    return kind == want or (want == "number" and kind == "integer")


def check_file(path: Path, dataset: str) -> list[tuple[str | None, str]]:
    """(column, reason) for each way the file breaks the contract; empty when it is fine."""
    try:
        schema = pq.ParquetFile(path).schema_arrow
    except Exception as exc:  # noqa: BLE001 - any failure to open the footer means the file cannot be read
        return [(None, f"cannot be read as Parquet ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")]
    problems = []
    for field in SCHEMAS[dataset]:
        if field.name not in schema.names:
            problems.append((field.name, f"column '{field.name}' is missing"))
        elif not _compatible(schema.field(field.name).type, field.type):
            problems.append((field.name, f"column '{field.name}' is {schema.field(field.name).type}, the lake"
                                         f" contract wants {_kind(field.type)}"))  # fmt: skip
    return problems


def scan_days(days: list[str]) -> list[str]:
    """The window's days and the day before (the quotes' staleness lookback reads it)."""
    first = dt.date.fromisoformat(min(days))
    return sorted({(first - dt.timedelta(days=1)).isoformat(), *days})


def scan(lake_root: Path, days: list[str]) -> list[Quarantined]:
    """Every file of the days' partitions that breaks the contract (one entry per file, its first problem
    named in `column`, all of them in `reason`)."""
    found = []
    for day in scan_days(days):
        for dataset, symbol, path in day_partition_files(lake_root, day):
            problems = check_file(path, dataset)
            if problems:
                found.append(Quarantined(str(path), dataset, symbol, day, problems[0][0],
                                         "; ".join(reason for _, reason in problems)))  # fmt: skip
    return found


def env_value(entries: list[Quarantined]) -> str:
    """The JSON list the lake macros read from LAKEQA_QUARANTINE."""
    return json.dumps([asdict(e) for e in entries], sort_keys=True)


def write_lists(output_root: Path, days: list[str], entries: list[Quarantined]) -> list[Path]:
    """``qa/quarantine/{date}.json`` for each of `days` with quarantined files; an older list of a day that
    now has none is removed. Returns the files written."""
    written = []
    for day in days:
        path = Path(output_root) / "qa" / "quarantine" / f"{day}.json"
        todays = [asdict(e) for e in entries if e.date == day]
        if todays:
            atomic.write_text(path, json.dumps({"date": day, "files": todays}, indent=2, sort_keys=True) + "\n")
            written.append(path)
        else:
            path.unlink(missing_ok=True)
    return written
