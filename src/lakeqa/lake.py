"""The lake contract: dataset schemas, partition paths and atomic, idempotent partition writes.

Everything that writes the lake (importers, the generator) goes through `write_partitions`, so that the
layout of ../shared/DESIGN.md is defined once: ``<root>/<dataset>/symbol=S/date=YYYY-MM-DD/<name>.parquet``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakeqa import atomic

# Naive microsecond timestamps holding UTC wall time: DuckDB reads them as TIMESTAMP (not TIMESTAMPTZ),
# so no session time zone can shift them.
TS = pa.timestamp("us")

# The version of the lake contract below (datasets, columns, types, partitioning); day manifests record it.
# Raise it whenever SCHEMAS or the layout change.
CONTRACT_VERSION = "2"  # 2: the context datasets funding_oi_hourly and macro_minute

SCHEMAS: dict[str, pa.Schema] = {
    "trades": pa.schema(
        [
            ("trade_id", pa.int64()),
            ("price", pa.float64()),
            ("qty", pa.float64()),
            ("quote_qty", pa.float64()),
            ("ts", TS),
            ("is_buyer_maker", pa.bool_()),
        ]
    ),
    "quotes": pa.schema(
        [
            ("update_id", pa.int64()),
            ("bid_price", pa.float64()),
            ("bid_qty", pa.float64()),
            ("ask_price", pa.float64()),
            ("ask_qty", pa.float64()),
            ("ts", TS),
        ]
    ),
    "klines_1m": pa.schema(
        [
            ("open_time", TS),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("volume", pa.float64()),
            ("quote_volume", pa.float64()),
            ("trade_count", pa.int64()),
            ("taker_buy_base", pa.float64()),
            ("taker_buy_quote", pa.float64()),
        ]
    ),
    "bars_1s": pa.schema(
        [
            ("ts", TS),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("volume_base", pa.float64()),
            ("volume_quote", pa.float64()),
            ("trade_count", pa.int64()),
            ("vwap", pa.float64()),
            ("bid", pa.float64()),
            ("ask", pa.float64()),
            ("spread", pa.float64()),
            ("spread_bps", pa.float64()),
        ]
    ),
    # Context datasets (optional; README "Context series"): staged and checked when the lake has them, never
    # part of a crypto symbol's verdict. Funding rate (a signed fraction) and open interest (base units) per
    # perpetual symbol and UTC hour.
    "funding_oi_hourly": pa.schema(
        [
            ("ts", TS),
            ("funding_rate", pa.float64()),
            ("open_interest", pa.float64()),
        ]
    ),
    # Minute bars of a market beside crypto (SPY, UUP, ES=F, EURUSD=X); the symbol folder holds the ticker
    # in letters and digits (ESF, EURUSDX); volume is NULL where the market has none (FX).
    "macro_minute": pa.schema(
        [
            ("ts", TS),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("volume", pa.float64()),
        ]
    ),
}

# The context datasets: read and checked where present, absent without a word, and judged apart from the
# crypto symbols' verdicts (the Jinja side is lakeqa_context_datasets()).
CONTEXT_DATASETS = ("funding_oi_hourly", "macro_minute")

# The column that decides which date partition a row lands in (exchange time, UTC).
TIME_COLUMN = {"trades": "ts", "quotes": "ts", "klines_1m": "open_time", "bars_1s": "ts", "funding_oi_hourly": "ts",
               "macro_minute": "ts"}

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,120}$")


class LakeError(ValueError):
    """A problem with data going into, or found in, the lake; the message names the file and column."""


def check_symbol(symbol: str) -> str:
    """Normalise a symbol to Binance's form (BTCUSDT) and refuse anything that could escape a path."""
    norm = symbol.replace("/", "").replace("-", "").replace("_", "").upper()
    if not _SYMBOL_RE.match(norm):
        raise LakeError(f"symbol {symbol!r} is not a Binance symbol (letters and digits only, e.g. BTCUSDT)")
    return norm


def partition_dir(root: Path | str, dataset: str, symbol: str, date: str) -> Path:
    if dataset not in SCHEMAS:
        raise LakeError(f"unknown dataset {dataset!r}; expected one of {sorted(SCHEMAS)}")
    return Path(root) / dataset / f"symbol={check_symbol(symbol)}" / f"date={date}"


# The layouts the QA reads (env var LAKE_LAYOUT, like LAKE_ROOT a property of the lake; the Jinja side is
# macros/lake/lakeqa_lake_layout.sql). lakeqa import and generate write the first; the second is a capture
# lake's (seed 002), read in place:
#   hive        <dataset>/symbol=S/date=YYYY-MM-DD/*.parquet
#   symbol_ymd  <dataset>/S/year=YYYY/month=MM/day=DD/*.parquet
LAYOUTS = ("hive", "symbol_ymd")
_YMD_RE = re.compile(r"^year=(\d{4})/month=(\d{2})/day=(\d{2})$")
_HIVE_RE = re.compile(r"^symbol=([^/]+)/date=(\d{4}-\d{2}-\d{2})$")


def lake_layout(layout: str | None = None) -> str:
    """The layout given, else env LAKE_LAYOUT, else hive; LakeError for one lakeqa does not know."""
    chosen = (layout or os.environ.get("LAKE_LAYOUT") or "hive").strip()
    if chosen not in LAYOUTS:
        raise LakeError(f"LAKE_LAYOUT {chosen!r} is not a lake layout; lakeqa reads {', '.join(LAYOUTS)}")
    return chosen


def partition_glob(symbol: str = "*", day: str = "*", layout: str | None = None) -> str:
    """The glob of partition folders under a dataset's folder: one symbol or '*', one day or '*'."""
    if lake_layout(layout) == "hive":
        return f"symbol={symbol}/date={day}"
    year, month, dom = ("*", "*", "*") if day == "*" else day.split("-")
    return f"{symbol}/year={year}/month={month}/day={dom}"


def parse_partition(relative: str, layout: str | None = None) -> tuple[str, str] | None:
    """(symbol, YYYY-MM-DD) of a partition folder given relative to its dataset's folder, or None."""
    if lake_layout(layout) == "hive":
        found = _HIVE_RE.match(relative)
        return (found.group(1), found.group(2)) if found else None
    symbol, _, rest = relative.partition("/")
    found = _YMD_RE.match(rest)
    return (symbol, "-".join(found.groups())) if found and symbol else None


def symbol_prefix(dataset: str, symbol: str, layout: str | None = None) -> str:
    """The start of the paths (relative to the lake root) of a dataset's files of one symbol."""
    return f"{dataset}/{partition_glob(symbol, layout=layout).split('/')[0]}/"


def day_partitions(root: Path | str, day: str = "*", symbol: str = "*", layout: str | None = None) -> list[tuple[str, str, str, Path]]:
    """(dataset, symbol, day, folder) of the lake's partitions of a day (or every day), every dataset."""
    found = []
    for dataset in SCHEMAS:
        base = Path(root) / dataset
        for folder in sorted(base.glob(partition_glob(symbol, day, layout))):
            parsed = parse_partition(folder.relative_to(base).as_posix(), layout) if folder.is_dir() else None
            if parsed:
                found.append((dataset, parsed[0], parsed[1], folder))
    return found


def day_partition_files(root: Path | str, day: str, layout: str | None = None) -> list[tuple[str, str, Path]]:
    """(dataset, symbol, path) of every Parquet file in the day's partitions of every dataset, in path order
    within each dataset."""
    found = []
    for dataset, symbol, _, folder in day_partitions(root, day, layout=layout):
        found += [(dataset, symbol, path) for path in sorted(folder.glob("*.parquet"))]
    return found


def conform(dataset: str, table: pa.Table) -> pa.Table:
    """Cast a table to the dataset's schema (column order and types), UTC microsecond timestamps."""
    schema = SCHEMAS[dataset]
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise LakeError(f"{dataset}: missing column(s) {missing}")
    cols = []
    for field in schema:
        col = table.column(field.name)
        if pa.types.is_timestamp(col.type) and col.type.tz is not None:
            # aware -> UTC wall time, then drop the zone (arrow stores aware timestamps as UTC already)
            col = col.cast(pa.timestamp(col.type.unit))
        cols.append(col.cast(field.type))
    return pa.Table.from_arrays(cols, schema=schema)


def write_atomic_parquet(table: pa.Table, path: Path) -> bool:
    """Write ``table`` to ``path`` atomically (lakeqa.atomic: temp file, rename, ordinary permissions, so
    other users and tools can read the lake). Returns False, and leaves the file untouched (its mtime
    too), when the file already holds exactly these bytes: an import run again changes nothing."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    # as unsigned bytes: an Arrow buffer exposes signed chars ("b"), unequal to bytes >= 0x80 of the file
    data = memoryview(sink.getvalue()).cast("B")
    path = Path(path)
    if path.is_file() and path.stat().st_size == data.nbytes and path.read_bytes() == data:
        return False
    atomic.write_atomically(path, lambda tmp: Path(tmp).write_bytes(data))
    return True


def write_partitions(root: Path | str, dataset: str, symbol: str, table: pa.Table, name: str) -> list[Path]:
    """Split ``table`` by UTC date of its time column and write one file per date partition.

    ``name`` identifies the source (e.g. the imported file's stem): writing the same source again
    replaces the same files with the same bytes, so imports are idempotent.
    Returns the paths that changed.
    """
    if not _NAME_RE.match(name):
        raise LakeError(f"partition file name {name!r} may only hold letters, digits, '.', '_' and '-'")
    table = conform(dataset, table)
    if table.num_rows == 0:
        return []
    tcol = TIME_COLUMN[dataset]
    if table.column(tcol).null_count:
        raise LakeError(f"{dataset} {name}: {table.column(tcol).null_count} row(s) without a time in '{tcol}'")
    days = table.column(tcol).cast(pa.date32())  # the UTC day of each row
    changed = []
    for day in sorted(pc.unique(days).to_pylist()):
        part = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        part = part.sort_by([(tcol, "ascending"), (part.column_names[0], "ascending")])
        path = partition_dir(root, dataset, symbol, day.isoformat()) / f"{name}.parquet"
        if write_atomic_parquet(part, path):
            changed.append(path)
    return changed
