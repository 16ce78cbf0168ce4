"""`lakeqa report`: write the QA report of one day from the DuckDB database."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path

from lakeqa.report.context import MODES
from lakeqa.report.render import ReportError, write_report
from lakeqa.settings import Paths, SettingsError, setting

DESCRIPTION = """\
Write the QA report of one day from the DuckDB database: reports/qa/{day}_qa_report.md and its
self-contained HTML twin (inline SVG charts, opens offline) under the output root; in hourly mode
{day}_qa_report_hourly.md and .html, beside the daily ones. Summary, fusion verdict per symbol (worst
first), violations by rule, anomalies by detector (clusters expanded; those beyond the detectors'
clean-data background apart from the expected background), the top-N symbols by anomalies beyond the
background and the first events per symbol, every time in UTC and Europe/London. Both files are written atomically: a
failed run leaves the previous report as it was."""

EPILOG = """\
examples:
  # after `lakeqa run --day 2024-08-09 --skip report`
  lakeqa report --day 2024-08-09

  # another database and output root, top 5 symbols, linking GE Data Docs
  lakeqa report --day YESTERDAY --duckdb /data/lakeqa.duckdb --output /data/qa --top-n 5 \\
      --ge-data-docs /data/ge/data_docs/index.html

  # the top-N from the run's dbt vars, as `lakeqa run --vars` would
  lakeqa report --day 2024-08-09 --vars '{"reporting.anomalies_top_n": 3}'"""


def _cli_day(text: str) -> str:
    today = dt.datetime.now(dt.UTC).date()
    special = {"TODAY": today, "YESTERDAY": today - dt.timedelta(days=1)}
    if text.upper() in special:
        return special[text.upper()].isoformat()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad day {text!r}: expected YYYY-MM-DD, TODAY or YESTERDAY"
        ) from None


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="write the QA report (Markdown and HTML with charts) of one day",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--day",
        required=True,
        type=_cli_day,
        metavar="YYYY-MM-DD",
        help="the UTC day to report (also TODAY or YESTERDAY, in UTC)",
    )
    parser.add_argument(
        "--duckdb",
        default=None,
        metavar="PATH",
        help="DuckDB database, opened read-only (default: $DUCKDB_PATH, else <project>/lakeqa.duckdb)",
    )
    parser.add_argument(
        "--output",
        default=None,
        metavar="DIR",
        help="output root; the report goes to DIR/reports/qa/ (default: $QA_OUTPUT_ROOT, else <project>/output)",
    )
    parser.add_argument(
        "--top-n",
        type=_non_negative,
        default=None,
        metavar="N",
        help="how many symbols the top-by-anomalies table lists (default: the setting "
        "reporting.anomalies_top_n, from --vars or dbt_project.yml)",
    )
    parser.add_argument(
        "--vars",
        default=None,
        metavar="JSON",
        help="the run's dbt vars as JSON, e.g. '{\"reporting.anomalies_top_n\": 3}'",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="daily",
        help="which fusion rows to report: daily (default) or hourly",
    )
    parser.add_argument(
        "--ge-data-docs",
        default=None,
        metavar="PATH_OR_URL",
        help="Great Expectations Data Docs to link, a path or URL (default: DIR/ge/data_docs/index.html "
        "when it exists)",
    )
    parser.set_defaults(func=run)
    return parser


def _top_n(args: argparse.Namespace) -> int:
    """--top-n, else the setting reporting.anomalies_top_n with --vars applied."""
    if args.top_n is not None:
        return args.top_n
    overrides = None
    if args.vars:
        try:
            overrides = json.loads(args.vars)
        except json.JSONDecodeError as exc:
            raise ReportError(f"--vars is not JSON: {exc}") from exc
        if not isinstance(overrides, dict):
            raise ReportError("--vars must be a JSON object")
    try:
        value = setting("reporting.anomalies_top_n", overrides)
    except SettingsError as exc:
        raise ReportError(str(exc)) from exc
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportError(f"reporting.anomalies_top_n must be a whole number >= 0, got {value!r}")
    return value


def run(args: argparse.Namespace) -> int:
    paths = Paths.from_env(duckdb_path=args.duckdb, output_root=args.output)
    ge = args.ge_data_docs
    if ge is not None and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", ge):
        ge = str(Path(ge).resolve())  # a path on the command line is relative to the current directory
    try:
        result = write_report(
            paths.duckdb_path,
            args.day,
            paths.output_root,
            top_n=_top_n(args),
            ge_data_docs_url=ge,
            mode=args.mode,
        )
    except ReportError as exc:
        print(f"lakeqa report: error: {exc}", file=sys.stderr)
        return 1
    s = result["summary"]
    v = s["violations"]
    verdicts = ", ".join(f"{k} {n}" for k, n in s["verdicts"].items()) or "no fusion rows"
    print(f"QA report for {result['date']} ({result['mode']}):")
    print(f"  {result['md_path']}")
    print(f"  {result['html_path']}")
    print(
        f"  {s['symbols']} symbols; violations {v['total']} (critical {v.get('critical', 0)}, "
        f"major {v.get('major', 0)}, minor {v.get('minor', 0)}); anomalies beyond the background "
        f"{s['anomalies_beyond_background']}, background records {s['background_records']} "
        f"({s['anomalies_expanded']} anomalies from {s['anomaly_records']} records in all); "
        f"verdicts: {verdicts}"
    )
    if s["tables_missing"]:
        print(f"  missing tables: {', '.join(s['tables_missing'])}")
    return 0
