"""`lakeqa slice`: one symbol-day of a mart, as a CSV, Parquet or JSON-lines file, written atomically.

For an analyst or a ticket: the rows of one table for one symbol and UTC day, from the DuckDB file the
run publishes (opened read-only, so it never waits on a run). The marts are the project's models under
models/marts/ that have a symbol-day grain (a `symbol` and a `date` column). Rows come in a total order
(`order by all`), so the same slice gives the same bytes. JSON lines are strict JSON: a NaN becomes null.
An unknown table, symbol or day is a clear error naming what exists, and nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lakeqa import atomic
from lakeqa.exports import strict_json
from lakeqa.settings import PROJECT_DIR, Paths

FORMATS = ("csv", "parquet", "json")

EXAMPLE = """example:
  lakeqa slice --table bars_1s --symbol BTCUSDT --day 2024-08-09 --format parquet --out btc.parquet
"""


class SliceError(ValueError):
    """A slice that cannot be cut: the message says what exists instead."""


def mart_names(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The project's marts: the models under models/marts/."""
    return sorted(p.stem for p in (Path(project_dir) / "models" / "marts").rglob("*.sql"))


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [name for (name,) in con.execute(
        "select column_name from information_schema.columns where table_schema = 'main' and table_name = ?"
        " order by ordinal_position", [table]).fetchall()]  # fmt: skip


def _check(con: duckdb.DuckDBPyConnection, table: str, symbol: str, day: str, marts: list[str]) -> str:
    """The table's quoted name, once the table, the day and the symbol are known to hold rows."""
    sliceable = [m for m in marts if {"symbol", "date"} <= set(_columns(con, m))]
    if table not in sliceable:
        built = f"the marts with a symbol-day grain are: {', '.join(sliceable)}" if sliceable else (
            "the database holds no mart yet (build a day first: lakeqa run)")  # fmt: skip
        raise SliceError(f"unknown table {table!r}; {built}")
    quoted = '"' + table.replace('"', '""') + '"'
    day_rows = con.execute(f"select count(*) from {quoted} where date = cast(? as date)", [day]).fetchone()[0]
    if not day_rows:
        first, last, n = con.execute(f"select min(date), max(date), count(distinct date) from {quoted}").fetchone()
        held = f"it holds {n} day(s), {first} to {last}" if n else "it holds no rows"
        raise SliceError(f"{table} has no rows on {day}; {held}")
    rows = con.execute(f"select count(*) from {quoted} where date = cast(? as date) and symbol = ?",
                       [day, symbol]).fetchone()[0]  # fmt: skip
    if not rows:
        symbols = [s for (s,) in con.execute(
            f"select distinct symbol from {quoted} where date = cast(? as date) order by 1", [day]).fetchall()]  # fmt: skip
        raise SliceError(f"{table} has no rows for symbol {symbol!r} on {day}; its symbols that day: "
                         f"{', '.join(str(s) for s in symbols)}")  # fmt: skip
    return quoted


def write_slice(duckdb_path: Path, table: str, symbol: str, day: str, fmt: str, out: Path,
                marts: list[str] | None = None) -> int:
    """Write the slice to `out` (atomically) and return its row count; SliceError when it cannot be cut."""
    if fmt not in FORMATS:
        raise SliceError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        day = dt.date.fromisoformat(day).isoformat()
    except (TypeError, ValueError) as error:
        raise SliceError(f"--day {day!r} is not a UTC day (YYYY-MM-DD)") from error
    duckdb_path = Path(duckdb_path)
    if not duckdb_path.is_file():
        raise SliceError(f"DuckDB file {duckdb_path} does not exist; build a day first (lakeqa run)")
    out = Path(out)
    if not out.parent.is_dir():
        raise SliceError(f"--out {out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise SliceError(f"--out {out} is a folder; name the file to write")
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        quoted = _check(con, table, symbol, day, mart_names() if marts is None else marts)
        rows = f"select * from {quoted} where date = cast(? as date) and symbol = ? order by all"
        if fmt == "json":
            lines = [strict_json(text) + "\n" for (text,) in con.execute(
                f"select cast(to_json(r) as varchar) from ({rows}) r", [day, symbol]).fetchall()]  # fmt: skip
            atomic.write_text(out, "".join(lines))
            return len(lines)
        data = con.execute(rows, [day, symbol]).fetch_arrow_table()
    finally:
        con.close()
    if fmt == "parquet":
        atomic.write_atomically(out, lambda tmp: pq.write_table(data, tmp))
    else:
        atomic.write_atomically(out, lambda tmp: pacsv.write_csv(data, tmp))
    return data.num_rows


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "slice",
        help="one symbol-day of a mart as CSV, Parquet or JSON lines",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--table", required=True, help="a mart: bars_1s, bars_1m, violations, fusion, ...")
    parser.add_argument("--symbol", required=True, help="e.g. BTCUSDT")
    parser.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the UTC day")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    parser.add_argument("--out", required=True, type=Path, help="the file to write (replaced atomically)")
    parser.add_argument("--duckdb", default=None, help="DuckDB file (default: env DUCKDB_PATH)")
    parser.set_defaults(func=_main)


def _main(args) -> int:
    paths = Paths.from_env(duckdb_path=args.duckdb)
    try:
        n = write_slice(paths.duckdb_path, args.table, args.symbol, args.day, args.fmt, args.out)
    except SliceError as error:
        print(f"lakeqa slice: error: {error}", file=sys.stderr)
        return 1
    print(f"lakeqa slice: {n} row(s) of {args.table} for {args.symbol} on {args.day} -> {args.out}")
    return 0
