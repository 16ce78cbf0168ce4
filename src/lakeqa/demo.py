"""`lakeqa demo`: a demo lake from the real sample the project ships plus one generated day with every
kind of fault, then the daily QA over all of it."""

from __future__ import annotations

import argparse

from lakeqa.settings import PROJECT_DIR, Paths

SAMPLE_DIR = PROJECT_DIR / "data" / "sample" / "binance-ws"
# The real sample covers 2024-08-08 23:58 .. 2024-08-09 00:02 UTC; the generated day follows it.
GENERATED_DAY = "2024-08-10"
FIRST_DAY = "2024-08-08"

EXAMPLE = """\
example:
  lakeqa demo                       # lake in ./lake, DuckDB in ./lakeqa.duckdb, files in ./output
  LAKE_ROOT=/tmp/lake lakeqa demo --trades-per-day 1e6
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="build the demo lake (real sample + a generated day with faults) and run the QA on it",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trades-per-day", default="300000", help="size of the generated day (default 300000)")
    parser.set_defaults(func=_main)


def _main(args) -> int:
    from lakeqa import run
    from lakeqa.generate import generate_lake
    from lakeqa.importers.api import import_paths

    paths = Paths.from_env()
    paths.lake_root.mkdir(parents=True, exist_ok=True)
    print(f"demo: importing the real sample {SAMPLE_DIR} into {paths.lake_root}", flush=True)
    report = import_paths([SAMPLE_DIR], paths.lake_root, progress=False)
    print(f"demo: {len(report.files)} capture file(s) imported", flush=True)
    print(f"demo: generating {GENERATED_DAY} (13 symbols, {args.trades_per_day} trades, every fault)", flush=True)
    generate_lake(
        paths.lake_root,
        date=GENERATED_DAY,
        trades_per_day=args.trades_per_day,
        faults="all",
        progress=False,
    )
    # the generated day has injected faults, so FAIL verdicts are expected: the demo itself succeeds
    return run.main(["--from", FIRST_DAY, "--to", GENERATED_DAY, "--fail-on", "never"])
