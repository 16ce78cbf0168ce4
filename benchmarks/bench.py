"""The lakeqa benchmark: how long a day of daily QA takes, how much memory it needs, and how it grows.

For each scenario it generates (or reuses) a lake with `lakeqa generate`, runs the full daily QA
(`lakeqa run`: dbt build of bars, rules, detectors and fusion; the GE checkpoint; exports; report) in a
child process, and measures, in the same run on the same files, a bare DuckDB scan that aggregates the
day's trades into 1-second bars — the floor the bars stage cannot beat. It prints a table per scenario
(each stage's wall time, rows in and out, rows per second, ratio to the floor) and the peak resident memory
of the whole run, and writes the same numbers as JSON (benchmarks/results/) for comparison between commits.

Beside lakeqa it runs the reference peer, ../shared/bench/pandas_sidecar.py (the pandas + scikit-learn sidecar a
team would write instead), on the same lake in the same run, the way its users would: in its own virtual
environment (<work>/peer-venv, created on first use) with the newest pandas, pyarrow, numpy and scikit-learn from
PyPI, upgraded when older than a day. Each pipeline runs --runs times, alternating; the table shows medians.

    python benchmarks/bench.py                       # 1 M trades/day, 13 symbols
    python benchmarks/bench.py --trades 1e6,3e6,1e7  # scaling in trades per day
    python benchmarks/bench.py --trades 1e6 --days 30 --compare-days 1   # a 30-day lake vs a 1-day lake
    python benchmarks/bench.py --hourly              # hourly mode against daily mode
    python benchmarks/bench.py --warm                # re-run the built day: the DuckDB file kept too
    python benchmarks/bench.py --cold-parse          # every timed run parses the whole project
    python benchmarks/bench.py --trades 1e7 --runs 3 # the issue's bar: median of three, side by side
    python benchmarks/bench.py --no-peer             # lakeqa and the floor only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
# generated lakes (reused between runs) and each run's files and JSON; --work moves both
LAKES = "lakes"
RESULTS = "results"
DAY = "2024-08-09"
SHARED = Path(os.environ.get("LAKEQA_SHARED", PROJECT_DIR.parent / "shared"))
PEER_SCRIPT = SHARED / "bench" / "pandas_sidecar.py"
PEER_VENV = "peer-venv"
PEER_PACKAGES = ("pandas", "pyarrow", "numpy", "scikit-learn")
PEER_REFRESH_S = 24 * 3600  # upgrade the peer's packages to the newest at most once a day

# dbt nodes by stage: a node belongs to the first stage one of whose names it equals or starts with + "_"
STAGES = {
    "bars": ("stg_lake_", "int_trades_aggregated_to_seconds", "int_quotes_last_per_second", "bars_1s", "bars_1m",
             "klines_1m", "compare_our_vs_kline_1m"),
    "rules": ("int_symbol_activity_seconds", "int_continuity_intervals", "rule_catalog", "rule_attachments",
              "violations", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "neg_volume",
              "relationships", "accepted_values", "not_null", "unique"),
    "features": ("bar_features_per_second", "bar_features_per_minute", "bar_features"),
    "zscore+jump": ("anomalies_zscore", "anomalies_jump"),
    "iforest": ("anomalies_iforest",),
    "anomalies+fusion": ("anomalies", "fusion"),
}


def stage_of(node: str) -> str:
    for stage, names in STAGES.items():
        if any(node == n or node.startswith(n + "_") for n in names):
            return stage
    return "dbt start-up and other"


def parse_count(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1e3, "m": 1e6}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def lake_for(work: Path, trades: int, days: int, symbols: int) -> Path:
    """Generate the lake once; later runs reuse it (the generator is deterministic)."""
    root = work / LAKES / f"t{trades}_d{days}_s{symbols}"
    marker = root / "_generator" / f"ground_truth_{DAY}.json"
    if marker.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    print(f"bench: generating {days} day(s) x {trades:,} trades, {symbols} symbols -> {root}", flush=True)
    t = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "lakeqa.cli", "generate", "--lake", str(root), "--date", DAY, "--days", str(days),
         "--trades-per-day", str(trades), "--symbols", str(symbols), "--quiet"],
        check=True,
    )
    print(f"bench: generated in {time.monotonic() - t:.1f} s", flush=True)
    return root


def day_files(root: Path, dataset: str, day: str = DAY) -> list[str]:
    return sorted(str(p) for p in root.glob(f"{dataset}/symbol=*/date={day}/*.parquet"))


def parquet_rows(files: list[str]) -> int:
    if not files:
        return 0
    return duckdb.sql(f"select sum(num_rows) from parquet_file_metadata({files!r})").fetchone()[0] or 0


def floor_query(files: list[str]) -> str:
    """The floor's SQL: the day's trades aggregated into 1 s bars, kept in an in-memory table.

    Kept, not counted: over `select count(*) from (...)` DuckDB's optimizer drops every aggregate the count
    does not need and measures only the grouping (a floor 3-4x too low)."""
    return f"""
        create or replace temp table floor_bars_1s as
        select symbol, date_trunc('second', ts) as second,
               arg_min(price, (ts, trade_id)) as open, arg_max(price, (ts, trade_id)) as close,
               max(price) as high, min(price) as low, sum(qty) as volume_base,
               sum(price * qty) as volume_quote, count(*) as trade_count
        from read_parquet({files!r}, hive_partitioning = true)
        group by all
    """


def bare_scan_seconds(files: list[str], runs: int = 3) -> float:
    """The floor: one DuckDB query aggregating the day's trades into 1 s bars, best of `runs`."""
    con = duckdb.connect()
    con.execute(f"set threads = {os.environ.get('DUCKDB_THREADS', '2')}")
    # the same default as profiles.yml
    con.execute(f"set memory_limit = '{os.environ.get('DUCKDB_MEMORY_LIMIT', '1GB')}'")
    con.execute("set preserve_insertion_order = false")
    best = float("inf")
    for _ in range(runs):
        t = time.monotonic()
        con.execute(floor_query(files))
        best = min(best, time.monotonic() - t)
    con.close()
    return best


class TreeMemory:
    """Samples the resident memory of a process and all its descendants, summed, every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        """Stop sampling; the peak of the sum, in kB."""
        self._stop.set()
        self._thread.join()
        return self.peak_kb

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(pid) for pid in _tree(self.pid)))
            self._stop.wait(self.interval)


def _tree(root: int) -> list[int]:
    """root and its descendants, from /proc/<pid>/stat (field 4 is the parent's pid)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed_child(cmd: list[str], log_path: Path, env: dict | None = None, cwd: Path | None = None
                ) -> tuple[float, int, int]:
    """Run cmd with its output in log_path: wall seconds, exit code and peak memory in kB of the process and
    every child it starts, summed; the kernel's own peak of the largest one is a lower bound in case a peak
    fell between two samples."""
    t = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeMemory(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        tree_peak_kb = sampler.stop()
    return time.monotonic() - t, os.waitstatus_to_exitcode(status), max(tree_peak_kb, usage.ru_maxrss)


def wall_share_of_nodes(results: list[dict]) -> dict[str, float]:
    """Each dbt node's share of the build's wall time: dbt runs nodes on several threads, so their own
    execution times overlap and sum to more than the time that passed. Every instant is split equally
    among the nodes running then, so the shares sum to the wall time some node was running."""
    spans = []
    for r in results:
        uid = r["unique_id"]
        name = uid.split(".")[2] if uid.startswith("test.") else uid.split(".")[-1]
        times = [(t["started_at"], t["completed_at"]) for t in r.get("timing") or [] if t.get("started_at")]
        if not times:
            continue
        start = min(dt.datetime.fromisoformat(a.replace("Z", "+00:00")) for a, _ in times).timestamp()
        end = max(dt.datetime.fromisoformat(b.replace("Z", "+00:00")) for _, b in times).timestamp()
        spans.append((name, start, end))
    edges = sorted({t for _, a, b in spans for t in (a, b)})
    shares: dict[str, float] = {name: 0.0 for name, _, _ in spans}
    for left, right in zip(edges, edges[1:], strict=False):
        running = [name for name, a, b in spans if a <= left and b >= right]
        for name in running:
            shares[name] += (right - left) / len(running)
    return shares


# what run_qa keeps of an earlier run in its folder
KEEP_NOTHING = "nothing"  # a fresh folder: dbt parses the whole project (~4 s; a kept parse loads in ~0.8 s)
KEEP_PARSE = "parse"  # dbt's target/ (partial_parse.msgpack): a scheduled job's start-up; new DuckDB file and outputs
KEEP_ALL = "all"  # the DuckDB file and outputs too: the run replaces the day it built


def run_qa(root: Path, run_dir: Path, extra: list[str], keep: str = KEEP_NOTHING) -> dict:
    """`lakeqa run` in a child process; wall time, peak RSS and each step's and dbt node's time.
    `keep`: what of an earlier run in run_dir stays (KEEP_NOTHING, KEEP_PARSE, KEEP_ALL)."""
    if keep != KEEP_ALL and run_dir.exists():
        for entry in run_dir.iterdir():
            if keep == KEEP_PARSE and entry.name == "target":
                continue
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        LAKE_ROOT=str(root),
        DUCKDB_PATH=str(run_dir / "qa.duckdb"),
        QA_OUTPUT_ROOT=str(run_dir / "output"),
        DBT_TARGET_PATH=str(run_dir / "target"),
        DBT_LOG_PATH=str(run_dir / "logs"),
    )
    cmd = [sys.executable, "-m", "lakeqa.cli", "run", "--skip", "docs", "--fail-on", "never",
           "--timings-json", str(run_dir / "timings.json"), *extra]
    wall, exit_code, peak_kb = timed_child(cmd, run_dir / "run.log", env=env, cwd=PROJECT_DIR)
    if exit_code != 0:
        raise SystemExit(f"bench: lakeqa run failed, see {run_dir / 'run.log'}")
    steps = json.loads((run_dir / "timings.json").read_text())
    results = json.loads((run_dir / "target" / "run_results.json").read_text())
    nodes = wall_share_of_nodes(results["results"])
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "steps": steps, "nodes": nodes,
            "duckdb": str(run_dir / "qa.duckdb"), "parse": dbt_parse(run_dir / "logs" / "dbt.log")}


def dbt_parse(log: Path) -> str:
    """How dbt parsed the project in the run whose log is `log`: 'partial' (from target/partial_parse.msgpack)
    or 'full'."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return "partial" if "Partial parsing enabled" in text else "full"


def peer_python(work: Path) -> tuple[Path, dict[str, str]]:
    """The reference peer's own interpreter: a virtual environment with the newest PEER_PACKAGES, created on
    first use and upgraded when its last upgrade is more than PEER_REFRESH_S old; and the versions it holds."""
    venv = work / PEER_VENV
    python, marker = venv / "bin" / "python", venv / ".upgraded"
    if not python.exists():
        print(f"bench: creating the reference peer's virtual environment {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    if not marker.exists() or time.time() - marker.stat().st_mtime > PEER_REFRESH_S:
        print(f"bench: installing the newest {', '.join(PEER_PACKAGES)} for the reference peer", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip", *PEER_PACKAGES],
                       check=True)
        marker.touch()
    versions = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, json, sys; "
         "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))", *PEER_PACKAGES],
        check=True, capture_output=True, text=True).stdout
    return python, json.loads(versions)


def run_peer(python: Path, root: Path, run_dir: Path) -> dict:
    """The reference sidecar on the same day in a child process: wall time, its processes' summed peak
    memory (sampled as for lakeqa) and the JSON it prints as its last line."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    cmd = [str(python), str(PEER_SCRIPT), "--lake", str(root), "--day", DAY, "--out", str(run_dir / "out")]
    wall, exit_code, peak_kb = timed_child(cmd, run_dir / "run.log")
    lines = (run_dir / "run.log").read_text().strip().splitlines()
    if exit_code != 0 or not lines:
        raise SystemExit(f"bench: the reference peer failed, see {run_dir / 'run.log'}")
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "timings_s": json.loads(lines[-1]).get("timings_s", {})}


def stage_rows(duckdb_path: str, day: str) -> dict[str, int]:
    con = duckdb.connect(duckdb_path, read_only=True)
    out = {}
    for table in ("bars_1s", "violations", "anomalies", "fusion"):
        try:
            out[table] = con.execute(f"select count(*) from {table} where date = ?", [day]).fetchone()[0]
        except duckdb.Error:
            out[table] = 0
    con.close()
    return out


def scenario(work: Path, trades: int, days: int, symbols: int, mode: str = "daily", keep: str = KEEP_PARSE,
             runs: int = 1, peer: tuple[Path, dict[str, str]] | None = None) -> dict:
    root = lake_for(work, trades, days, symbols)
    trade_files = day_files(root, "trades")
    n_trades, n_quotes = parquet_rows(trade_files), parquet_rows(day_files(root, "quotes"))
    name = f"t{trades}_d{days}_s{symbols}_{mode}" + ("_warm" if keep == KEEP_ALL else "")
    extra = ["--day", DAY] if mode == "daily" else ["--mode", "hourly", "--hourly-end", f"{DAY} 23:59"]
    print(f"bench: {name}: running the QA ({n_trades:,} trades, {n_quotes:,} quotes)", flush=True)
    if keep != KEEP_NOTHING:
        # a scheduled job's steady state: the project was parsed by the run before (dbt's target/ is kept,
        # issue #15: "partial parse kept"), so an untimed run first; each timed run then starts from a new
        # DuckDB file and output folder (KEEP_PARSE), or replaces the day it built (--warm, KEEP_ALL)
        print(f"bench: {name}: warm-up run (not timed: dbt parses the project)", flush=True)
        run_qa(root, work / RESULTS / name, extra)
    # alternate the two pipelines so that neither profits alone from a quiet moment of the machine
    qa_runs, peer_runs = [], []
    for i in range(runs):
        if runs > 1:
            print(f"bench: {name}: run {i + 1} of {runs}", flush=True)
        qa_runs.append(run_qa(root, work / RESULTS / name, extra, keep=keep))
        if peer is not None and mode == "daily":
            peer_runs.append(run_peer(peer[0], root, work / RESULTS / f"{name}_peer"))
    # the stages shown are those of the run whose wall time is the median
    qa = sorted(qa_runs, key=lambda r: r["wall_s"])[(len(qa_runs) - 1) // 2]
    floor = bare_scan_seconds(trade_files)
    rows = stage_rows(qa["duckdb"], DAY)

    stage_times = dict.fromkeys(STAGES, 0.0)
    for node, seconds in qa["nodes"].items():
        stage = stage_of(node)
        stage_times[stage] = stage_times.get(stage, 0.0) + seconds
    dbt_total = qa["steps"].get("build", 0.0)
    stage_times["dbt start-up and other"] = max(0.0, dbt_total - sum(stage_times.values()))
    for step in ("ge", "exports", "manifest", "report"):
        if step in qa["steps"]:
            stage_times[{"ge": "great expectations"}.get(step, step)] = qa["steps"][step]
    rows_in = n_trades + n_quotes
    rows_out = {"bars": rows["bars_1s"], "rules": rows["violations"], "zscore+jump": rows["anomalies"],
                "iforest": rows["anomalies"], "anomalies+fusion": rows["fusion"]}
    wall = statistics.median(r["wall_s"] for r in qa_runs)
    reference = None
    if peer_runs:
        reference = {"wall_s": statistics.median(r["wall_s"] for r in peer_runs),
                     "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in peer_runs),
                     "wall_s_runs": [r["wall_s"] for r in peer_runs],
                     "peak_rss_mb_runs": [r["peak_rss_mb"] for r in peer_runs], "versions": peer[1],
                     "timings_s": peer_runs[-1]["timings_s"]}
    return {
        "scenario": name, "trades": n_trades, "quotes": n_quotes, "days_in_lake": days, "mode": mode,
        "runs": runs, "wall_s": wall, "wall_s_runs": [r["wall_s"] for r in qa_runs],
        "dbt_parse": sorted({r["parse"] for r in qa_runs}),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in qa_runs),
        "peak_rss_mb_runs": [r["peak_rss_mb"] for r in qa_runs], "floor_s": floor,
        "peer": reference, "x_peer": reference and wall / reference["wall_s"],
        "stages": {k: {"seconds": v, "rows_in": rows_in, "rows_out": rows_out.get(k),
                       "rows_per_s": rows_in / v if v else None, "x_floor": v / floor if floor else None}
                   for k, v in stage_times.items()},
    }


def print_table(result: dict) -> None:
    print(f"\n== {result['scenario']}: {result['trades']:,} trades + {result['quotes']:,} quotes, "
          f"{result['days_in_lake']} day(s) in the lake, mode {result['mode']}")
    print(f"{'stage':<24} {'seconds':>8} {'rows in':>12} {'rows out':>10} {'rows/s':>12} {'x floor':>8}")
    for stage, s in result["stages"].items():
        rows_out = "" if s["rows_out"] is None else f"{s['rows_out']:,}"
        rps = "" if not s["rows_per_s"] else f"{s['rows_per_s']:,.0f}"
        print(f"{stage:<24} {s['seconds']:>8.2f} {s['rows_in']:>12,} {rows_out:>10} {rps:>12} {s['x_floor']:>8.1f}")
    print(f"{'full run (wall)':<24} {result['wall_s']:>8.2f} {'':>12} {'':>10} "
          f"{(result['trades'] + result['quotes']) / result['wall_s']:>12,.0f} {result['wall_s'] / result['floor_s']:>8.1f}")
    print(f"{'bare DuckDB scan (floor)':<24} {result['floor_s']:>8.2f}")
    if {"great expectations", "exports", "report"} <= set(result["stages"]):
        # lakeqa.ge.worker: the checkpoint runs on its own process while this one writes the exports and report
        print("(great expectations runs on its own process beside the exports and the report: its row is from its start to its results)")
    peer = result.get("peer")
    if peer:
        print(f"{'reference pandas sidecar':<24} {peer['wall_s']:>8.2f} {'':>12} {'':>10} "
              f"{(result['trades'] + result['quotes']) / peer['wall_s']:>12,.0f} {peer['wall_s'] / result['floor_s']:>8.1f}")
    runs = f" (median of {result['runs']} runs)" if result.get("runs", 1) > 1 else ""
    each = ("; each run: " + ", ".join(f"{mb:,.0f}" for mb in result["peak_rss_mb_runs"])
            if result.get("runs", 1) > 1 else "")
    print(f"peak resident memory of the run{runs}: {result['peak_rss_mb']:,.0f} MB{each}")
    print(f"dbt's parse in the timed runs: {', '.join(result['dbt_parse'])}")
    if peer:
        versions = ", ".join(f"{k} {v}" for k, v in peer["versions"].items())
        print(f"reference pandas sidecar ({versions}): peak {peer['peak_rss_mb']:,.0f} MB")
        print(f"lakeqa / reference wall time: {result['x_peer']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", default="1e6", help="trades per day, comma-separated for scaling (1e6,3e6,1e7)")
    parser.add_argument("--days", type=int, default=1, help="days in the lake (the run builds the last one)")
    parser.add_argument("--compare-days", type=int, default=None, help="also run on a lake of this many days")
    parser.add_argument("--symbols", type=int, default=13)
    parser.add_argument("--hourly", action="store_true", help="also run hourly mode on the same lake")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--warm", action="store_const", dest="keep", const=KEEP_ALL, default=KEEP_PARSE,
                       help="time a re-run of the built day (its DuckDB file and outputs kept, not only dbt's parse)")
    start.add_argument("--cold-parse", action="store_const", dest="keep", const=KEEP_NOTHING,
                       help="no warm-up run: every timed run starts from a fresh folder and parses the whole project")
    parser.add_argument("--runs", type=int, default=1, help="runs of each pipeline per scenario; medians shown")
    parser.add_argument("--no-peer", action="store_true", help="do not run the reference pandas sidecar")
    parser.add_argument("--json", default=None, help="where to write the JSON (default <work>/results/bench.json)")
    parser.add_argument("--work", default=str(BENCH_DIR), help="folder for lakes/ and results/ (default benchmarks/)")
    args = parser.parse_args(argv)

    work = Path(args.work).resolve()
    (work / RESULTS).mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "duckdb": duckdb.__version__,
               "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}
    peer = None
    if args.no_peer:
        print("bench: the reference pandas sidecar is not run (--no-peer)")
    elif not PEER_SCRIPT.exists():
        print(f"bench: the reference pandas sidecar is not run: {PEER_SCRIPT} is absent (../shared is not beside "
              "the checkout; LAKEQA_SHARED names another place)")
    else:
        peer = peer_python(work)
    results = []
    for trades in [parse_count(t) for t in args.trades.split(",")]:
        for days in [args.days] + ([args.compare_days] if args.compare_days else []):
            results.append(scenario(work, trades, days, args.symbols, keep=args.keep, runs=args.runs, peer=peer))
            print_table(results[-1])
        if args.hourly:
            results.append(scenario(work, trades, args.days, args.symbols, mode="hourly", keep=args.keep,
                                   runs=args.runs))
            print_table(results[-1])
    out = Path(args.json) if args.json else work / RESULTS / "bench.json"
    out.write_text(json.dumps({"machine": machine, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                               "results": results}, indent=2))
    print(f"\nmachine: {machine}\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
