"""How loud the detectors are on clean data: generate clean days of the realistic market (fat-tailed
returns in volatility bursts), build them in one `lakeqa run`, and print per detector the records per
symbol-day on cold-start days (no history yet) and on days judged against their learned background, and
IsolationForest's flagged share of bars.

    python benchmarks/false_alarms.py --days 7 --trades 1e6 --work /tmp/false-alarms
    make false-alarms FALSE_ALARMS_ARGS="--days 7 --trades 1e6"

The README's "How the detectors decide" quotes its table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[1]
LAST_DAY = "2024-08-10"
DETECTORS = ("ZSCORE_SPREAD_BP", "ZSCORE_LOG_VOLUME", "ZSCORE_VWAP_DRIFT_BP", "JUMP", "IFOREST")


def parse_count(text: str) -> int:
    return int(float(text))


def build(work: Path, days: int, trades: int, symbols: int) -> Path:
    """A clean lake of `days` days ending at LAST_DAY, built in one run; returns the DuckDB file."""
    from lakeqa.generate import generate_lake

    lake, run = work / "lake", work / "run"
    first = (date.fromisoformat(LAST_DAY) - timedelta(days=days - 1)).isoformat()
    print(f"generating {days} clean days of {trades:,} trades ({symbols} symbols) into {lake} ...", flush=True)
    generate_lake(lake, date=LAST_DAY, days=days, symbols=symbols, trades_per_day=trades, progress=False)
    env = dict(os.environ, LAKE_ROOT=str(lake), DUCKDB_PATH=str(run / "qa.duckdb"),
               QA_OUTPUT_ROOT=str(run / "output"), DBT_TARGET_PATH=str(run / "target"),
               DBT_LOG_PATH=str(run / "logs"))  # fmt: skip
    run.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "lakeqa.cli", "run", "--from", first, "--to", LAST_DAY, "--fail-on", "never",
           "--skip", "docs", "--skip", "ge", "--skip", "report"]  # fmt: skip
    print(f"building {first} .. {LAST_DAY} (log: {run / 'run.log'}) ...", flush=True)
    with open(run / "run.log", "w") as log:
        if subprocess.run(cmd, env=env, cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"false_alarms: lakeqa run failed, see {run / 'run.log'}")
    return run / "qa.duckdb"


def table(duckdb_path: Path) -> list[tuple]:
    """(detector, days kind, symbol-days, mean records per symbol-day, max, IFOREST share of bars)."""
    from lakeqa.settings import project_default

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        return con.execute(
            """
            with symbol_days as (
                select symbol, date, count(*) as bars,
                       -- a cold start: fewer earlier days than the detectors need to learn a background
                       row_number() over (partition by symbol order by date) - 1 < ? as cold
                from bars_1s group by symbol, date
            ),
            records as (
                select symbol, date, detector, count(*) as n from anomalies group by all
            ),
            grid as (
                select s.*, d.detector
                from symbol_days s cross join (select unnest(?) as detector) d
            )
            select detector, case when cold then 'cold start' else 'history' end as days,
                   count(*) as symbol_days,
                   round(avg(coalesce(n, 0)), 2) as mean_records, max(coalesce(n, 0)) as max_records,
                   round(sum(coalesce(n, 0)) / sum(bars), 5) as share_of_bars
            from grid left join records using (symbol, date, detector)
            group by all order by 2, 1
            """,
            [int(project_default("detectors.min_training_days")), list(DETECTORS)],
        ).fetchall()
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=7, help="clean days to generate and build (default 7)")
    p.add_argument("--trades", type=parse_count, default=1_000_000, help="trades per day (default 1e6)")
    p.add_argument("--symbols", type=int, default=13, help="how many of the generator's symbols (default 13)")
    p.add_argument("--work", type=Path, default=None, help="work folder (default: a temp folder)")
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="lakeqa-false-alarms-"))
    rows = table(build(work, args.days, args.trades, args.symbols))
    print(f"\nrecords per clean symbol-day, {args.trades:,} trades a day, {args.days} days:")
    header = ("detector", "days", "symbol-days", "mean", "max", "share of bars")
    widths = [22, 11, 12, 8, 6, 14]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
