"""`lakeqa prune --keep-days N`: retention. Removes what the QA wrote about days older than the last N UTC
days: their rows in every DuckDB table with a `date` column, their output files (qa/, reports/, the day
manifests: every file named `YYYY-MM-DD_...`, the model cache aside) and their Great Expectations results (GE's validation store
and the Data Docs pages, whose index is rebuilt). The lake is never touched.

All or nothing: the files are first moved aside into a folder under the output root, then the rows are
deleted in one DuckDB transaction on the run's working file, which is published to DUCKDB_PATH as a run
publishes (lakeqa.snapshot); only then are the moved files deleted. An error on the way moves the files
back and publishes nothing. It takes the run lock, so it never runs beside a QA run. --dry-run lists what
would go and changes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lakeqa import runlock, snapshot
from lakeqa.lake import LakeError
from lakeqa.settings import Paths

EXAMPLE = """\
examples:
  lakeqa prune --keep-days 30 --dry-run      # what would go
  lakeqa prune --keep-days 30                # keep the last 30 UTC days (today included)
"""

DATED_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})_")  # qa/*/2024-08-09_violations.jsonl, reports/qa/...
GE_DATED_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # GE results: <suite>/<YYYY-MM-DD>/<run time>/...
GE_RESULT_ROOTS = (Path("ge") / "gx" / "uncommitted" / "validations", Path("ge") / "data_docs" / "validations")
# not outputs: the IsolationForest model cache keeps its own few files per symbol (ModelCache), and a pruned
# model would only be fitted again when a kept day is re-run
NOT_PRUNED = (Path("cache"),)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "prune",
        help="retention: remove the QA's rows, files and GE results of days older than --keep-days",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--keep-days", type=int, required=True, metavar="N",
                        help="keep the last N UTC days, today included (N >= 1)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed; change nothing")
    parser.add_argument("--today", default=None, metavar="YYYY-MM-DD",
                        help="count the days back from this UTC day instead of today (for backfilled lakes)")  # fmt: skip
    parser.add_argument("--duckdb", default=None, help="DuckDB file (default: env DUCKDB_PATH)")
    parser.add_argument("--output", default=None, help="output root (default: env QA_OUTPUT_ROOT)")
    parser.add_argument("--wait", type=float, default=runlock.DEFAULT_WAIT_S, metavar="SECONDS",
                        help=f"wait this long for a run on the same database, then exit {runlock.EXIT_BUSY}")  # fmt: skip
    parser.set_defaults(func=_main)


@dataclass
class Plan:
    """What a prune removes: rows per table, and paths relative to the output root."""

    cutoff: str  # the first day kept
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    ge_dirs: list[Path] = field(default_factory=list)

    def empty(self) -> bool:
        return not (any(self.rows.values()) or self.files or self.ge_dirs)


def _dated_tables(con) -> list[str]:
    return [name for (name,) in con.execute(
        """
        select table_name from information_schema.columns c
        join information_schema.tables t using (table_catalog, table_schema, table_name)
        where c.column_name = 'date' and t.table_type = 'BASE TABLE' and t.table_schema = 'main'
        order by 1
        """
    ).fetchall()]  # fmt: skip


def plan(duckdb_path: Path, output_root: Path, cutoff: str) -> Plan:
    """What removing every day before `cutoff` (YYYY-MM-DD) would remove."""
    found = Plan(cutoff)
    if duckdb_path.exists():
        con = duckdb.connect(str(duckdb_path), read_only=True)
        try:
            for table in _dated_tables(con):
                n = con.execute(f'select count(*) from "{table}" where date < cast(? as date)', [cutoff]).fetchone()[0]
                if n:
                    found.rows[table] = n
        finally:
            con.close()
    if output_root.is_dir():
        ge_roots = [output_root / r for r in GE_RESULT_ROOTS]
        for folder, dirs, files in os.walk(output_root):
            here = Path(folder)
            if here.relative_to(output_root) in NOT_PRUNED or here.name.startswith(".prune-"):
                dirs[:] = []
                continue
            if any(here == r or r in here.parents for r in ge_roots):
                if here.parent in ge_roots:  # <root>/<suite>/: its children are the days
                    for name in sorted(dirs):
                        if GE_DATED_DIR.match(name) and name < cutoff:
                            found.ge_dirs.append((here / name).relative_to(output_root))
                    dirs[:] = []
                continue
            for name in sorted(files):
                match = DATED_NAME.match(name)
                if match and match.group(1) < cutoff:
                    found.files.append((here / name).relative_to(output_root))
    return found


def apply(plan_: Plan, paths: Paths) -> None:
    """Remove what `plan_` lists, all or nothing (see the module's docstring)."""
    root = paths.output_root
    aside = root / f".prune-{os.getpid()}"
    moved: list[Path] = []
    try:
        for rel in [*plan_.files, *plan_.ge_dirs]:
            target = aside / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(root / rel, target)
            moved.append(rel)
        if any(plan_.rows.values()):
            working = snapshot.prepare(paths.duckdb_path)
            con = duckdb.connect(str(working))
            try:
                con.execute("begin transaction")
                for table in plan_.rows:
                    con.execute(f'delete from "{table}" where date < cast(? as date)', [plan_.cutoff])
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
            finally:
                con.close()
            snapshot.publish(working, paths.duckdb_path)
    except BaseException:
        snapshot.discard(paths.duckdb_path)  # rows deleted in the working file but not published: undone
        for rel in reversed(moved):
            os.replace(aside / rel, root / rel)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)
    if plan_.ge_dirs:
        _rebuild_data_docs(root)


def _rebuild_data_docs(output_root: Path) -> None:
    """GE's Data Docs index lists the validation results it finds: rebuilt so that it links no pruned page."""
    from lakeqa.ge.context import SITE_NAME, open_context, quiet_gx
    from lakeqa.ge.offline import make_offline

    quiet_gx()
    context = open_context(output_root / "ge")
    context.build_data_docs(site_names=[SITE_NAME])
    make_offline(output_root / "ge" / "data_docs")


def _main(args) -> int:
    if args.keep_days < 1:
        raise LakeError(f"--keep-days must be at least 1, got {args.keep_days}")
    try:
        today = dt.date.fromisoformat(args.today) if args.today else dt.datetime.now(dt.timezone.utc).date()
    except ValueError as exc:
        raise LakeError(f"--today must be YYYY-MM-DD, got {args.today!r}") from exc
    cutoff = (today - dt.timedelta(days=args.keep_days - 1)).isoformat()
    paths = Paths.from_env(None, args.duckdb, args.output)
    try:
        with runlock.run_lock(paths.duckdb_path, f"prune before {cutoff}", args.wait):
            found = plan(paths.duckdb_path, paths.output_root, cutoff)
            verb = "would remove" if args.dry_run else "removing"
            print(f"lakeqa prune: keeping {cutoff}..{today} ({args.keep_days} days); {verb}:")
            for table, n in found.rows.items():
                print(f"  {n:>12,} rows  {table}")
            for rel in found.files:
                print(f"  file  {rel}")
            for rel in found.ge_dirs:
                print(f"  GE    {rel}/")
            if found.empty():
                print("  nothing: every day kept")
                return 0
            if not args.dry_run:
                apply(found, paths)
                print(f"lakeqa prune: removed {sum(found.rows.values()):,} rows, {len(found.files)} files and"
                      f" {len(found.ge_dirs)} GE result folders")  # fmt: skip
            return 0
    except runlock.RunBusy as exc:
        print(f"lakeqa prune: busy: {exc}", file=sys.stderr)
        return runlock.EXIT_BUSY
