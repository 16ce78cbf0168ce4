"""`lakeqa export-db`: the marts of a day or a range of days into Postgres or SQLite, verified.

For each table (bars_1s, bars_1m, klines_1m, compare_our_vs_kline_1m, violations, anomalies, fusion, or
those named by --tables): the target table is created where missing, with the mart's columns, its primary
key where the mart's grain always holds (source.py), and the indexes idx_{table}_symbol_ts and
idx_{table}_date; then the window's rows are deleted and the published DuckDB file's rows of the window
copied in, in one transaction per table, so that a reader sees the old rows or the new, and re-running
changes nothing. Then every table's rows per day are counted on both sides and printed
("source N / target N ✓"): a difference exits 4. The DuckDB file is opened read-only.

The URL comes from --url or the environment (LAKEQA_EXPORT_URL); Postgres also takes what libpq reads
(PGPASSWORD, PGHOST, ~/.pgpass). A password is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lakeqa.export_db.source import DEFAULT_TABLES, ExportError, day_counts, read_tables
from lakeqa.settings import Paths
from lakeqa.window import days_between, resolve_day

URL_ENV = "LAKEQA_EXPORT_URL"
EXIT_ERROR = 1  # bad arguments, no connection, a table refused: nothing of that table replaced
EXIT_MISMATCH = 4  # exported, but a count differs: look at the target (a trigger, a concurrent writer)

EXAMPLE = """examples:
  lakeqa export-db --url postgresql://qa@db.internal:5432/market --day 2024-08-09
  PGPASSWORD=... lakeqa export-db --url postgresql://qa@db.internal/market --from 2024-08-01 --to 2024-08-09
  lakeqa export-db --url sqlite:///qa.sqlite --day 2024-08-09 --tables fusion violations
"""


def open_target(url: str):
    if url.startswith(("postgresql://", "postgres://")):
        from lakeqa.export_db.postgres import PostgresTarget

        return PostgresTarget(url)
    if url.startswith("sqlite:"):
        from lakeqa.export_db.sqlite import SQLiteTarget

        return SQLiteTarget(url)
    scheme = url.split(":", 1)[0] if ":" in url else url[:12]
    raise ExportError(f"--url must start with postgresql:// or sqlite:///, not {scheme!r}")


@dataclass(frozen=True)
class Count:
    table: str
    day: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        return self.source == self.target


def _check_window_has_rows(con: duckdb.DuckDBPyConnection, tables, days: list[str]) -> None:
    """A window the DuckDB file holds nothing of is refused: exporting it would only delete the target's rows."""
    if any(day_counts(con, t, days[0], days[-1]) for t in tables):
        return
    first, last, n = con.execute("select min(date), max(date), count(distinct date) from fusion").fetchone()
    held = f"it holds {n} day(s), {first} to {last}" if n else "it holds no verdicts yet (lakeqa run)"
    raise ExportError(f"the DuckDB file has no rows of {', '.join(t.name for t in tables)} from {days[0]} to "
                      f"{days[-1]}; {held}")  # fmt: skip


def export(duckdb_path: Path, url: str, days: list[str], tables: list[str] | None = None, out=print) -> list[Count]:
    """Export the window and return the verification counts (one per table and day)."""
    duckdb_path = Path(duckdb_path)
    if not duckdb_path.is_file():
        raise ExportError(f"DuckDB file {duckdb_path} does not exist; build a day first (lakeqa run)")
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        specs = read_tables(con, list(tables or DEFAULT_TABLES))
        _check_window_has_rows(con, specs, days)
        # opened once the source is known good: a refused export creates no SQLite file, no table
        target = open_target(url)
    except BaseException:
        con.close()
        raise
    try:
        span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
        out(f"lakeqa export-db: {len(specs)} table(s), {span} -> {target.label}")
        for spec in specs:
            started = time.monotonic()
            copied = target.replace_window(con, spec, days)
            key = f"primary key ({', '.join(spec.key)})" if spec.key else "no primary key (grain may repeat)"
            out(f"  {spec.name}: window replaced, {copied:,} row(s), {key}, {time.monotonic() - started:.1f} s")
        counts = []
        for spec in specs:
            source, copied = day_counts(con, spec, days[0], days[-1]), target.day_counts(spec, days[0], days[-1])
            counts += [Count(spec.name, day, source.get(day, 0), copied.get(day, 0)) for day in days]
    finally:
        con.close()
        target.close()
    width = max(len(c.table) for c in counts)
    out("verified (rows per table and day):")
    for c in counts:
        mark = "✓" if c.matches else "✗ MISMATCH"
        out(f"  {c.table:<{width}}  {c.day}  source {c.source:,} / target {c.target:,} {mark}")
    return counts


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-db",
        help="copy the marts of a window into Postgres or SQLite, replacing that window, and verify the counts",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=None,
                        help=f"postgresql://user@host:port/db or sqlite:///path.db (default: env {URL_ENV})")  # fmt: skip
    window = parser.add_mutually_exclusive_group(required=True)
    window.add_argument("--day", metavar="YYYY-MM-DD", help="one UTC day (or YESTERDAY, TODAY)")
    window.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day of a range (with --to)")
    parser.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day of the range, included")
    parser.add_argument("--tables", nargs="+", metavar="TABLE", default=None,
                        help=f"the marts to export (default: {' '.join(DEFAULT_TABLES)})")  # fmt: skip
    parser.add_argument("--duckdb", default=None, help="DuckDB file (default: env DUCKDB_PATH)")
    parser.set_defaults(func=_main)


def _window(args) -> list[str]:
    if args.day:
        if args.end:
            raise ExportError("--to goes with --from, not with --day")
        return [resolve_day(args.day)]
    if not args.end:
        raise ExportError("--from needs --to (the last day, included)")
    return days_between(resolve_day(args.start, name="--from"), resolve_day(args.end, name="--to"))


def _main(args) -> int:
    url = args.url or os.environ.get(URL_ENV)
    try:
        if not url:
            raise ExportError(f"no target: give --url or set {URL_ENV}")
        counts = export(Paths.from_env(duckdb_path=args.duckdb).duckdb_path, url, _window(args), args.tables)
    except ExportError as error:
        print(f"lakeqa export-db: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    wrong = [c for c in counts if not c.matches]
    if wrong:
        listed = "; ".join(f"{c.table} {c.day} (source {c.source}, target {c.target})" for c in wrong[:5])
        print(f"lakeqa export-db: error: {len(wrong)} of {len(counts)} count(s) differ: {listed}", file=sys.stderr)
        return EXIT_MISMATCH
    print(f"lakeqa export-db: {len(counts)} count(s) match")
    return 0
