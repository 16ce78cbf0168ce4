"""`lakeqa demo`: a demo lake from the real sample the project ships plus five generated days (four clean
ones, then one with rule faults and completeness faults side by side), then the daily QA over all of it."""

from __future__ import annotations

import argparse

from lakeqa.settings import PROJECT_DIR, Paths

SAMPLE_DIR = PROJECT_DIR / "data" / "sample" / "binance-ws"
# The real sample covers 2024-08-08 23:58 .. 2024-08-09 00:02 UTC; the generated days follow it: clean days
# of history (the detectors learn a symbol's background from three of them, detectors.min_training_days,
# so the last clean day is judged against its history as the faulted day is), then the faulted day.
HISTORY_DAY = "2024-08-10"
HISTORY_DAYS = 4
GENERATED_DAY = "2024-08-14"
FIRST_DAY = "2024-08-08"
# One fault per symbol on the faulted day: rule faults on their default symbols, completeness faults
# (data that never arrived) on the others; XRPETH, the thin symbol, stays clean.
DEMO_FAULTS = [
    "PRICE_JUMP", "VOLUME_SPIKE", "NAN_PRICE", "CROSSED_QUOTE", "WIDE_SPREAD", "GAP", "KLINE_MISSING_MINUTE",
    "OUTAGE", "TRADE_STREAM_DEATH", "FROZEN_BOOK", "NO_QUOTES", "TRADE_LOSS",
]  # fmt: skip
DEMO_FAULT_SYMBOLS = {
    "OUTAGE": "SOLUSDT", "TRADE_STREAM_DEATH": "DOGEUSDT", "FROZEN_BOOK": "LINKUSDT", "NO_QUOTES": "LTCUSDT",
    "TRADE_LOSS": "AVAXUSDT",
}  # fmt: skip

EXAMPLE = """\
example:
  lakeqa demo                       # lake in ./lake, DuckDB in ./lakeqa.duckdb, files in ./output
  LAKE_ROOT=/tmp/lake lakeqa demo --trades-per-day 1e6
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="build the demo lake (real sample + generated clean days and a day with faults) and run the QA on it",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trades-per-day", default="300000", help="size of each generated day (default 300000)")
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
    print(
        f"demo: generating {HISTORY_DAYS} clean days from {HISTORY_DAY} and {GENERATED_DAY} (13 symbols,"
        f" {args.trades_per_day} trades a day,"
        f" faults: {', '.join(DEMO_FAULTS)})",
        flush=True,
    )
    generate_lake(
        paths.lake_root,
        date=GENERATED_DAY,
        days=HISTORY_DAYS + 1,
        trades_per_day=args.trades_per_day,
        faults=DEMO_FAULTS,
        fault_symbols=DEMO_FAULT_SYMBOLS,
        progress=False,
    )
    # the generated day has injected faults, so FAIL verdicts are expected: the demo itself succeeds
    return run.main(["--from", FIRST_DAY, "--to", GENERATED_DAY, "--fail-on", "never"])
