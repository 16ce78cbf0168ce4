"""`lakeqa run`: the daily (or hourly) QA in one command.

First the lake's freshness (`dbt source freshness`: how old each dataset's newest row is), then one
`dbt build` for the window (both through dbt's Python entry point), then per day the day manifest, the Great
Expectations checkpoint (on a process of its own, lakeqa.ge.worker, beside the exports and the report that
follow it), the exports, the report, and finally dbt docs with the latest verdicts on the overview page.
Each step can also be run on its own: `lakeqa ge`, `lakeqa report`, `lakeqa run --skip ...`, or from Python
(`check_freshness`, `build`, `run_ge`, `export`, `run_report`, `run_docs` below).

Exit codes a scheduler can act on: 0 = done and no verdict at or beyond --fail-on; 1 = bad input or
arguments (nothing replaced); 3 = dbt build failed (nothing replaced for the failed models); 4 = a verdict
at or beyond --fail-on, or no data at all for any symbol in the window, or a stale lake: a dataset past
freshness.error_after_hours in a current window (unless --fail-on never); 5 = busy: another run held the
database for longer than --wait (the message names it); 6 = refused: a filesystem the run writes is used
beyond disk.refuse_used_pct (a warning from disk.warn_used_pct on).

Analysts connect to DUCKDB_PATH (read-only). The run never writes it: it builds in its own working file
beside it and, when the build succeeded, publishes it to DUCKDB_PATH by an atomic rename (lakeqa.snapshot),
so an open session neither blocks the run nor sees a day half replaced. One run at a time per database
(lakeqa.runlock).

Freshness is measured from now, so it is judged only when the window is current (its last day is today or
yesterday, UTC: TODAY, YESTERDAY, a LATEST that is one of them, hourly up to NOW). A backfill of an older
window skips the check (and dbt's start-up) and says so. A dataset past warn_after prints a WARNING only;
one with no files in the lake (a lake without quotes, the optional bars_1s) is "not in the lake", never
an error. The build and the verdicts run either way: the no-data verdicts are the per-symbol view.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import duckdb

from lakeqa import alerts, atomic, disk, exports, freshness, idproof, quarantine, runlock, runlog, snapshot, workers
from lakeqa.dbt_runner import run_dbt, split_window_vars, temporary_environment
from lakeqa.ge.worker import GeWorker
from lakeqa.lake import LakeError
from lakeqa.manifest import day_files, write_manifest
from lakeqa.settings import Paths, setting
from lakeqa.window import days_between, latest_lake_day, resolve_day

EXAMPLE = """\
examples:
  lakeqa run --mode daily --day 2024-08-09
  lakeqa run --mode daily --day YESTERDAY --fail-on REVIEW
  lakeqa run --from 2024-08-08 --to 2024-08-10
  lakeqa run --mode hourly                       # the last 90 minutes up to now
  lakeqa run --mode hourly --hourly-end "2024-08-09 13:30"
"""

STEPS = ("freshness", "build", "manifest", "ge", "exports", "report", "docs")
VERDICT_RANK = {"PASS": 0, "REVIEW": 1, "FAIL": 2}
OVERVIEW_DOC = Path("models") / "docs" / "_latest_verdicts.md"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="the QA for a day, a range or the last hour: dbt build, GE, exports, report, docs",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mode", choices=["daily", "hourly"], default="daily")
    parser.add_argument(
        "--day",
        default=None,
        help="YYYY-MM-DD, TODAY, YESTERDAY or LATEST (the newest day in the lake); default YESTERDAY, the"
        " last complete UTC day",
    )
    parser.add_argument("--from", dest="from_day", default=None, help="first day of a range (inclusive)")
    parser.add_argument("--to", dest="to_day", default=None, help="last day of a range (inclusive)")
    parser.add_argument("--hourly-end", default="NOW", help="hourly mode: window end, 'YYYY-MM-DD HH:MM' UTC or NOW")
    parser.add_argument(
        "--fail-on",
        choices=["FAIL", "REVIEW", "never"],
        default="FAIL",
        help="exit 4 when any verdict is at or beyond this (default FAIL)",
    )
    parser.add_argument("--skip", action="append", choices=STEPS, default=[], help="skip a step (repeatable)")
    # None: Paths.from_env decides (argument, else env var, else the project's default), as in every command
    parser.add_argument(
        "--lake", default=None, help="lake root (default: env LAKE_ROOT, else the project's lake/)"
    )
    parser.add_argument(
        "--duckdb", default=None, help="DuckDB file (default: env DUCKDB_PATH, else the project's lakeqa.duckdb)"
    )
    parser.add_argument(
        "--output", default=None, help="output root (default: env QA_OUTPUT_ROOT, else the project's output/)"
    )
    parser.add_argument("--vars", default=None, help="extra dbt vars as JSON, e.g. '{\"enable_ai\": false}'")
    parser.add_argument(
        "--wait",
        type=float,
        default=runlock.DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"wait this long for another run on the same database, then exit {runlock.EXIT_BUSY} (busy);"
        f" default {runlock.DEFAULT_WAIT_S:g}",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop the run (exit 1, nothing replaced) at a lake file that cannot be read or breaks the lake"
        " contract, instead of quarantining it (its symbol-day FAILs, the others are judged)",
    )
    parser.add_argument("--timings-json", default=None, help="write each step's wall time to this JSON file")
    parser.set_defaults(func=_main)


def main(argv: list[str]) -> int:
    """`lakeqa run` from Python, e.g. run.main(["--day", "2024-08-09"])."""
    parser = argparse.ArgumentParser(prog="lakeqa")
    register(parser.add_subparsers())
    args = parser.parse_args(["run", *argv])
    return args.func(args)


class Window:
    """What a run covers: its dbt vars and the UTC days whose files it writes."""

    def __init__(self, mode: str, days: list[str], dbt_vars: dict, label: str):
        self.mode, self.days, self.dbt_vars, self.label = mode, days, dbt_vars, label

    @classmethod
    def from_args(cls, args, lake_root: Path) -> Window:
        if args.mode == "hourly":
            if args.day or args.from_day or args.to_day:
                raise LakeError("hourly mode takes --hourly-end, not --day/--from/--to")
            end = _hourly_end(args.hourly_end)
            minutes = int(setting("hourly_window_min", _extra_vars(args.vars)))
            start = end - dt.timedelta(minutes=minutes)
            days = sorted({start.date().isoformat(), (end - dt.timedelta(microseconds=1)).date().isoformat()})
            dbt_vars = {"mode": "hourly", "hourly_end": end.strftime("%Y-%m-%d %H:%M")}
            return cls("hourly", days, dbt_vars, f"hourly {start:%Y-%m-%d %H:%M}..{end:%H:%M} UTC")
        if args.from_day or args.to_day:
            if args.day:
                raise LakeError("give either --day or --from/--to, not both")
            start = resolve_day(args.from_day or args.to_day, lake_root, name="--from")
            end = resolve_day(args.to_day or args.from_day, lake_root, name="--to")
        else:
            # a scheduler's run without --day judges the last complete UTC day, not today's first minutes
            start = end = resolve_day(args.day or "YESTERDAY", lake_root)
        days = days_between(start, end)
        label = f"daily {start}" if start == end else f"daily {start}..{end} ({len(days)} days)"
        return cls("daily", days, {"from": start, "to": end}, label)


def _hourly_end(text: str) -> dt.datetime:
    if text.strip().upper() == "NOW":
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
    try:
        return dt.datetime.strptime(text.strip().replace("T", " "), "%Y-%m-%d %H:%M")
    except ValueError as exc:
        raise LakeError(f"--hourly-end must be 'YYYY-MM-DD HH:MM' (UTC) or NOW, got {text!r}") from exc


def _extra_vars(text: str | None) -> dict:
    if not text:
        return {}
    try:
        extra = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LakeError(f"--vars is not JSON: {exc}") from exc
    if not isinstance(extra, dict):
        raise LakeError("--vars must be a JSON object")
    return extra


# The steps, each callable on its own ---------------------------------------------------------------


def check_freshness(paths: Paths, dbt_vars: dict) -> list[freshness.SourceFreshness]:
    """`dbt source freshness` of the lake's datasets that have files; prints one line per lake source and
    returns them (status pass / warn / error, or not in the lake)."""
    checks = freshness.check_freshness(paths, dbt_vars)
    for check in checks:
        print(f"      {check.line()}", flush=True)
    for check in checks:
        if check.status == "error":
            print(f"      FAIL: {check.stale_message()}", flush=True)
        elif check.status == "warn":
            print(f"      WARNING: {check.late_message()}", flush=True)
        elif check.status not in ("pass", freshness.NOT_IN_LAKE, freshness.NOT_DECLARED):
            # dbt could not read it (a file of the wrong schema, say): the build stops on the same file
            print(f"      WARNING: {check.source}: freshness not checked: {check.message}", flush=True)
    return checks


# what the daily build runs: every daily node but the grain tests tagged proven_by_construction, which hold
# by how their model is built and would each cost a full pass over it: the staging trades' and quotes'
# (symbol, id), proven when the lake is read or made so by the unit-tested dedupe (macros/lake/
# lakeqa_one_copy_per_id.sql; 17 s of the 10 M-trade day before the proof), bar_scores' (symbol, ts,
# detector), four selects of bar_features under fixed detector names (2.8 s), and those of bar_features'
# first two steps (bar_features_per_second: one row per bars_1s row; bar_features_per_minute: grouped by
# symbol and minute). Plain `dbt build` and `make test` still run them.
DAILY_SELECTION = ("--select", "tag:daily", "--exclude", "tag:proven_by_construction")


def build_command(dbt_vars: dict) -> str:
    """The shell command equivalent to build(), for people to read and re-run."""
    window, other = split_window_vars(dbt_vars)
    command = f"LAKEQA_WINDOW='{json.dumps(window, sort_keys=True)}' dbt build {' '.join(DAILY_SELECTION)}"
    return command + (f" --vars '{json.dumps(other, sort_keys=True)}'" if other else "")


def build(paths: Paths, dbt_vars: dict, callbacks: list | None = None) -> bool:
    # unit tests prove the SQL, not the data: they run in `make test` and plain `dbt build`, not every day
    window, other = split_window_vars(dbt_vars)
    args = ["build", *DAILY_SELECTION, "--exclude-resource-type", "unit_test"]
    if other:
        args += ["--vars", json.dumps(other, sort_keys=True)]
    outcome = run_dbt(args, paths, window=window, callbacks=callbacks)
    if not outcome.success:
        failed = [n for n, s in outcome.statuses().items() if s in ("error", "fail")]
        print(f"lakeqa run: dbt build failed: {', '.join(failed[:10]) or 'see the log above'}", file=sys.stderr)
    return outcome.success


def run_ge(paths: Paths, day: str) -> dict:
    """GE on a built day; its thresholds are the ones the build resolved (rule_attachments), so the run's
    --vars reach GE through the build and are not passed again."""
    from lakeqa.ge import run_ge_checkpoint

    return run_ge_checkpoint(paths.duckdb_path, day, paths.output_root)


def export(paths: Paths, day: str, mode: str = "daily") -> dict[str, Path | None]:
    return exports.export_day(paths.duckdb_path, day, paths.output_root, mode=mode)


def run_report(
    paths: Paths, day: str, mode: str = "daily", ge_index: Path | None = None, top_n: int | None = None
) -> dict:
    from lakeqa.report.render import write_report

    url = str(ge_index) if ge_index is not None else None
    return write_report(paths.duckdb_path, day, paths.output_root, top_n=top_n, ge_data_docs_url=url, mode=mode)


def run_docs(paths: Paths, window_vars: dict | None = None) -> bool:
    """Render the latest verdicts into the docs overview page, then `dbt docs generate` (compiling the
    models for the run's window, `window_vars`, or the lake's latest day)."""
    write_overview(paths)
    window, _ = split_window_vars(window_vars or {})
    return run_dbt(["docs", "generate"], paths, window=window).success


def write_overview(paths: Paths) -> Path:
    """The dbt docs overview page (`__overview__`), rendered from `fusion`: the latest day's verdicts."""
    con = duckdb.connect(str(paths.duckdb_path), read_only=True)
    try:
        rows = con.execute(
            """
            select cast(date as varchar), symbol, verdict, score, reason
            from fusion
            where mode = 'daily' and date = (select max(date) from fusion where mode = 'daily')
            order by case verdict when 'FAIL' then 0 when 'REVIEW' then 1 else 2 end, symbol
            """
        ).fetchall()
    finally:
        con.close()
    day = rows[0][0] if rows else "no run yet"
    lines = [
        "{% docs __overview__ %}",
        "# lakeqa",
        "",
        "QA of the market-data lake: bars from trades and quotes, reconciled with the exchange's klines, rules",
        "R1–R7 (see the `rule_catalog` model), anomaly detectors, and one verdict per symbol and day (`fusion`).",
        "",
        f"## Latest verdicts: {day}",
        "",
        "| symbol | verdict | score | reason |",
        "|---|---|---|---|",
    ]
    for _, symbol, verdict, score, reason in rows:
        lines.append(f"| {symbol} | **{verdict}** | {score:.3f} | {reason.replace('|', '/')} |")
    lines += [
        "",
        "Files of the day: `qa/schema/{date}_violations.jsonl`, `qa/ai/{date}_anomalies.jsonl`,",
        "`qa/fusion/{date}_fusion.parquet`, `reports/qa/{date}_qa_report.md` (and .html), GE Data Docs in",
        "`ge/data_docs/index.html` — all under QA_OUTPUT_ROOT. See the exposures for links.",
        "{% enddocs %}",
        "",
    ]
    return atomic.write_text(paths.project_dir / OVERVIEW_DOC, "\n".join(lines))


# The command ---------------------------------------------------------------------------------------


def _main(args) -> int:
    """One run at a time on a database (runlock); the steps work on the run's own file and publish it to
    DUCKDB_PATH for analysts when the build succeeded (snapshot)."""
    paths = Paths.from_env(args.lake, args.duckdb, args.output)
    if not paths.lake_root.is_dir():
        raise LakeError(f"lake root {paths.lake_root} does not exist (set LAKE_ROOT or --lake)")
    window = Window.from_args(args, paths.lake_root)
    extra = _extra_vars(args.vars)
    alert_settings = alerts.settings(extra)  # a bad alerts.* setting stops the run before anything is replaced
    with runlog.run_log(paths, int(setting("logs.keep_days", extra))):
        return _locked_run(args, paths, window, extra, alert_settings)


def _locked_run(args, paths: Paths, window: Window, extra: dict, alert_settings: dict) -> int:
    """The disk check, then the run under the lock on its working file, published when the build succeeded."""
    try:
        for warning in disk.check([paths.duckdb_path.parent, paths.output_root],
                                  float(setting("disk.warn_used_pct", extra)),
                                  float(setting("disk.refuse_used_pct", extra))):  # fmt: skip
            print(f"lakeqa run: WARNING: {warning}", file=sys.stderr, flush=True)
    except disk.DiskFull as exc:
        print(f"lakeqa run: refused: {exc}", file=sys.stderr)
        return disk.EXIT_NO_SPACE
    try:
        with runlock.run_lock(paths.duckdb_path, window.label, args.wait):
            working = replace(paths, duckdb_path=snapshot.prepare(paths.duckdb_path))
            conditions: list[alerts.Condition] = []
            code = _run_steps(args, working, window, extra, paths.duckdb_path, conditions)
            if code in (0, 4):  # a build that failed (3) leaves analysts the previous state
                snapshot.publish(working.duckdb_path, paths.duckdb_path)
                # after publishing: whoever follows an alert into DUCKDB_PATH finds the day it is about
                alerts.send(conditions, paths.output_root, alert_settings)
            return code
    except runlock.RunBusy as exc:
        print(f"lakeqa run: busy: {exc}", file=sys.stderr)
        return runlock.EXIT_BUSY


def _run_steps(args, paths: Paths, window: Window, extra: dict, analysts_db: Path, conditions: list) -> int:
    """The steps of the run on ``paths`` (the working database; ``analysts_db`` is where it is published),
    with ``extra``, the run's --vars; the verdicts for alerts.send are added to ``conditions``."""
    dbt_vars = {**window.dbt_vars, **extra}
    skip = set(args.skip)
    steps = [s for s in STEPS if s not in skip]
    print(f"lakeqa run: {window.label}; lake {paths.lake_root}", flush=True)

    if "freshness" in steps and not freshness.window_is_current(window.days):
        steps.remove("freshness")  # measured from now: it says nothing about a past window
        why = "the lake's age is measured from now"
        print(f"freshness: not judged for a past window ({window.label}; {why}): skipped", flush=True)

    # quarantine: files that cannot be read or break the contract are kept out of the build (or, --strict,
    # stop the run); the lake macros read the list from the environment
    kept_out = quarantine.scan(paths.lake_root, window.days)
    if kept_out and args.strict:
        for entry in kept_out:
            print(f"lakeqa run: {entry.describe()}", file=sys.stderr)
        raise LakeError(f"{len(kept_out)} lake file(s) cannot be read or break the lake contract (--strict:"
                        " nothing was replaced; without --strict each fails only its own symbol-day)")  # fmt: skip
    for entry in kept_out:
        print(f"lakeqa run: quarantined: {entry.describe()} (its symbol-day FAILs; the lake is untouched)",
              file=sys.stderr, flush=True)  # fmt: skip
    environment = {quarantine.ENV: quarantine.env_value(kept_out)}
    proof = None
    if "build" in steps:
        # which files hold each id once, read while dbt starts; staging then skips the hash dedupe proof
        proof = idproof.Proof(paths.output_root / "cache" / "unique_id_files.json", paths.lake_root,
                              quarantine.scan_days(window.days), {e.file for e in kept_out})  # fmt: skip
        environment[idproof.ENV] = str(proof.path)
    with temporary_environment(environment):
        return _build_and_judge(args, paths, window, analysts_db, conditions, steps, dbt_vars, kept_out, proof)


def _build_and_judge(args, paths, window, analysts_db, conditions, steps, dbt_vars, kept_out, proof) -> int:
    """The steps from freshness to the summary, with the quarantine list and the id proof (idproof.Proof,
    None without a build) in the environment."""
    t_start = time.monotonic()
    callbacks = [proof.wait_at_first_node()] if proof is not None else []
    if window.mode != "daily":  # GE and the manifest describe whole days
        steps = [s for s in steps if s not in ("ge", "manifest")]
    # GE runs on a process of its own (lakeqa.ge.worker), started with the build's IsolationForest node
    ge_worker = GeWorker() if "ge" in steps else None
    if ge_worker is not None and "build" in steps:
        callbacks += [ge_worker.spawn_at_nodes(), ge_worker.start_after_nodes()]
    with contextlib.ExitStack() as running:
        if ge_worker is not None:
            running.enter_context(ge_worker)
            # and lent to the build's IsolationForest, which shares its forests out between the two
            # processes (models/detectors/anomalies_iforest.py)
            running.enter_context(workers.offer(ge_worker.pool))
        # the day manifest's lake files are hashed on a thread while the build runs: hashing releases the
        # interpreter lock, and the lake is only read (a 10 M-trade day's 331 MB: 0.34 s that no longer
        # follow the build)
        hashing = running.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="manifest-hashes"))
        hashed = {day: hashing.submit(day_files, paths.lake_root, day) for day in window.days} if "manifest" in steps else {}
        return _steps(args, paths, window, analysts_db, conditions, steps, dbt_vars, kept_out, callbacks,
                      ge_worker, hashed, t_start)  # fmt: skip


def _steps(args, paths, window, analysts_db, conditions, steps, dbt_vars, kept_out, callbacks, ge_worker,
           hashed, t_start) -> int:
    """_build_and_judge's steps, with GE's worker (None: GE is skipped), dbt's event `callbacks` and the day
    manifests' lake files being hashed (`hashed`: day -> Future of manifest.day_files)."""
    timings: dict[str, float] = {}
    stale: list[freshness.SourceFreshness] = []

    def step(n: int, title: str) -> float:
        print(f"\n[{n}/{len(steps)}] {title}", flush=True)
        return time.monotonic()

    def done(name: str, t: float) -> None:
        timings[name] = time.monotonic() - t
        print(f"      done in {timings[name]:.1f} s", flush=True)

    n = 0
    if "freshness" in steps:
        n += 1
        t = step(n, freshness.freshness_command(paths, dbt_vars))
        stale = [c for c in check_freshness(paths, dbt_vars) if c.status == "error"]
        done("freshness", t)

    if "build" in steps:
        n += 1
        t = step(n, build_command(dbt_vars))
        if not build(paths, dbt_vars, callbacks):
            return 3
        done("build", t)
        for path in quarantine.write_lists(paths.output_root, window.days, kept_out):
            print(f"      quarantine list: {path}", flush=True)

    # the manifest first: it writes its table into the DuckDB file, which GE's process then reads beside
    # the exports and the report (DuckDB lets processes read a file together only while none writes it)
    manifests: dict[str, Path] = {}
    if "manifest" in steps:
        n += 1
        t = step(n, "day manifest (every lake file's size, rows and SHA-256)")
        for day in window.days:
            manifests[day], changed = write_manifest(paths.lake_root, paths.duckdb_path, paths.output_root, day,
                                                     hashed[day].result())  # fmt: skip
            if changed:
                print(f"      {day}: {len(changed)} lake file(s) changed since the last manifest; the day is"
                      " judged again on the new bytes:", flush=True)
                for line in changed[:20]:
                    print(f"        {line}", flush=True)
        done("manifest", t)

    ge_index: dict[str, Path] = {}
    ge_results: dict[str, Callable[[], dict]] = {}
    if ge_worker is not None:
        n += 1
        t_ge = step(n, "Great Expectations checkpoint and Data Docs (on its own process, beside the steps below)")
        from lakeqa.report.render import GE_DATA_DOCS

        for day in window.days:
            ge_results[day] = ge_worker.submit(paths.duckdb_path, day, paths.output_root)
            ge_index[day] = paths.output_root / GE_DATA_DOCS  # where the checkpoint writes the site
        print("      started; its results follow the steps below", flush=True)

    written: dict[str, dict] = {}
    if "exports" in steps:
        n += 1
        t = step(n, "exports (violations, anomalies, fusion)")
        for day in window.days:
            written[day] = export(paths, day, window.mode)
        done("exports", t)

    reports: dict[str, dict] = {}
    if "report" in steps:
        n += 1
        t = step(n, "daily report (markdown and HTML)")
        for day in window.days:
            top_n = int(setting("reporting.anomalies_top_n", dbt_vars))
            reports[day] = run_report(paths, day, window.mode, ge_index.get(day), top_n)
        done("report", t)

    if ge_results:
        print("\nGreat Expectations checkpoint and Data Docs", flush=True)
        for day, wait in ge_results.items():
            result = wait()
            failed = [name for name, suite in result["suites"].items() if not suite["success"]]
            print(f"      {day}: {len(result['suites'])} suites, {len(failed)} with unexpected rows", flush=True)
        done("ge", t_ge)

    if "docs" in steps:
        n += 1
        t = step(n, "dbt docs generate (overview page with the latest verdicts)")
        if not run_docs(paths, dbt_vars):
            print("lakeqa run: dbt docs generate failed (the QA outputs above are complete)", file=sys.stderr)
        done("docs", t)

    if args.timings_json:
        timings["total"] = time.monotonic() - t_start
        atomic.write_text(Path(args.timings_json), json.dumps(timings, indent=2))

    verdicts = _verdicts(paths, window)
    conditions.extend(
        alerts.Condition(window.mode, ts[:10], symbol, verdict, reason,
                         str((reports.get(ts[:10]) or {}).get("html_path") or "") or None)
        for ts, symbol, verdict, _, reason in verdicts
    )  # fmt: skip
    _print_summary(paths, analysts_db, window, verdicts, written, manifests, reports, ge_index,
                   time.monotonic() - t_start)  # fmt: skip
    failed = False
    for check in stale:
        # the lake's collector stopped: a FAIL of the run whatever the verdicts of the data it still has
        print(f"lakeqa run: FAIL: {check.stale_message()}", file=sys.stderr)
        failed = True
    if not verdicts:
        # no verdict at all: nothing arrived for any symbol in the window (a collector dead for longer than
        # expected_lookback_days, a lake never filled): that is a FAIL, not a silent success
        newest = _newest_lake_day(paths.lake_root)
        print(f"lakeqa run: FAIL: no data for any symbol in the window ({window.label}); the lake's newest day"
              f" is {newest}", file=sys.stderr)
        failed = True
    if failed:
        return 0 if args.fail_on == "never" else 4
    return _exit_code(verdicts, args.fail_on)


def _verdicts(paths: Paths, window: Window) -> list[tuple]:
    con = duckdb.connect(str(paths.duckdb_path), read_only=True)
    try:
        placeholders = ", ".join("cast(? as date)" for _ in window.days)
        return con.execute(
            f"""
            select strftime(ts, '%Y-%m-%d %H:%M'), symbol, verdict, score, reason
            from fusion
            where mode = ? and date in ({placeholders})
            order by ts, case verdict when 'FAIL' then 0 when 'REVIEW' then 1 else 2 end, symbol
            """,
            [window.mode, *window.days],
        ).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def _print_summary(paths, analysts_db, window, verdicts, written, manifests, reports, ge_index, elapsed) -> None:
    print(f"\nlakeqa run: {window.label} done in {elapsed:.1f} s", flush=True)
    if verdicts:
        print("\nverdicts:")
        for ts, symbol, verdict, score, reason in verdicts:
            print(f"  {ts}  {symbol:<10} {verdict:<6} {score:6.3f}  {reason}")
        counts = {v: sum(1 for row in verdicts if row[2] == v) for v in VERDICT_RANK}
        print("  " + ", ".join(f"{v} {c}" for v, c in counts.items()))
    print("\nwhere to look:")
    print(f"  DuckDB tables  {analysts_db}  (read-only: select * from fusion / violations / anomalies / bars_1m)")
    for day in window.days:
        for kind, path in (written.get(day) or {}).items():
            if path:
                print(f"  {kind:<13} {path}")
        if day in manifests:
            print(f"  manifest      {manifests[day]}")
        report = reports.get(day)
        if report:
            print(f"  report        {report['md_path']}  and  {report['html_path']}")
        if day in ge_index:
            print(f"  GE Data Docs  {ge_index[day]}")
    print(f"  dbt docs      .venv/bin/dbt docs serve  (from {paths.project_dir})")


def _newest_lake_day(lake_root: Path) -> str:
    try:
        return latest_lake_day(lake_root)
    except LakeError:
        return "none (the lake has no date partitions)"


def _exit_code(verdicts: list[tuple], fail_on: str) -> int:
    if fail_on == "never" or not verdicts:
        return 0
    worst = max(VERDICT_RANK[row[2]] for row in verdicts)
    return 4 if worst >= VERDICT_RANK[fail_on] else 0
