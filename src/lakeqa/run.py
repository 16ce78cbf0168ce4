"""`lakeqa run`: the daily (or hourly) QA in one command — dbt build, exports, report — with progress,
a summary and an exit code a scheduler can act on."""

from __future__ import annotations

import argparse
import json
import sys
import time

from lakeqa import exports
from lakeqa.dbt_runner import run_dbt
from lakeqa.lake import LakeError
from lakeqa.settings import Paths
from lakeqa.window import days_between, resolve_day

EXAMPLE = """\
examples:
  lakeqa run --mode daily --day 2024-08-09
  lakeqa run --mode daily --day YESTERDAY --fail-on REVIEW
  lakeqa run --from 2024-08-08 --to 2024-08-10
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the QA for a day or a range: dbt build, exports, report",
        description="Build bars, rules, detectors and verdicts for a window of the lake, then write the files.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mode", choices=["daily"], default="daily")
    parser.add_argument("--day", default=None, help="YYYY-MM-DD, TODAY, YESTERDAY or LATEST (default LATEST)")
    parser.add_argument("--from", dest="from_day", default=None, help="first day of a range (inclusive)")
    parser.add_argument("--to", dest="to_day", default=None, help="last day of a range (inclusive)")
    parser.add_argument("--lake", default=None, help="lake root (default: env LAKE_ROOT or ./lake)")
    parser.add_argument("--duckdb", default=None, help="DuckDB file (default: env DUCKDB_PATH)")
    parser.add_argument("--output", default=None, help="output root (default: env QA_OUTPUT_ROOT)")
    parser.add_argument("--vars", default=None, help="extra dbt vars as JSON, e.g. '{\"enable_ai\": false}'")
    parser.set_defaults(func=_main)


def main(argv: list[str]) -> int:
    """`lakeqa run` from Python, e.g. run.main(["--day", "2024-08-09"])."""
    parser = argparse.ArgumentParser(prog="lakeqa run")
    sub = parser.add_subparsers()
    register(sub)
    args = parser.parse_args(["run", *argv])
    return args.func(args)


def window_vars(start: str, end: str) -> dict:
    return {"from": start, "to": end}


def _main(args) -> int:
    paths = Paths.from_env(args.lake, args.duckdb, args.output)
    if not paths.lake_root.is_dir():
        raise LakeError(f"lake root {paths.lake_root} does not exist (set LAKE_ROOT or --lake)")
    if args.from_day or args.to_day:
        start = resolve_day(args.from_day or args.to_day, paths.lake_root, name="--from")
        end = resolve_day(args.to_day or args.from_day, paths.lake_root, name="--to")
        if args.day:
            raise LakeError("give either --day or --from/--to, not both")
    else:
        start = end = resolve_day(args.day or "LATEST", paths.lake_root)
    days = days_between(start, end)
    dbt_vars = window_vars(start, end)
    if args.vars:
        try:
            extra = json.loads(args.vars)
        except json.JSONDecodeError as exc:
            raise LakeError(f"--vars is not JSON: {exc}") from exc
        if not isinstance(extra, dict):
            raise LakeError("--vars must be a JSON object")
        dbt_vars.update(extra)

    print(f"lakeqa run: {args.mode} {start}..{end} ({len(days)} day(s)); lake {paths.lake_root}", flush=True)
    t0 = time.monotonic()
    print("[1/2] dbt build --select tag:daily", flush=True)
    outcome = run_dbt(["build", "--select", "tag:daily", "--vars", json.dumps(dbt_vars)], paths)
    if not outcome.success:
        failed = [n for n, s in outcome.statuses().items() if s in ("error", "fail", "skipped")]
        print(f"lakeqa run: dbt build failed ({', '.join(failed[:10])}); no file was replaced", file=sys.stderr)
        return 3
    print("[2/2] exports", flush=True)
    for day in days:
        written = exports.export_day(paths.duckdb_path, day, paths.output_root)
        for kind, path in written.items():
            if path:
                print(f"  {day} {kind}: {path}")
    print(f"lakeqa run: done in {time.monotonic() - t0:.1f} s; DuckDB file {paths.duckdb_path}")
    return 0
