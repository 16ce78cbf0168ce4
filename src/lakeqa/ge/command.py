"""``lakeqa ge``: validate a built day with the Great Expectations suites generated from the build's rule
attachments, and update the Data Docs.

Its paths resolve like every command's (``lakeqa.settings.Paths.from_env``): the option, else the
environment variable (DUCKDB_PATH, QA_OUTPUT_ROOT), else the project's default; so the options default to
None here. There is no ``--vars``: the thresholds are the ones the build resolved (rule_attachments).
"""

from __future__ import annotations

import argparse
import json
import sys

from lakeqa.ge.checkpoint import RESULT_FORMATS, run_ge_checkpoint
from lakeqa.settings import Paths

__all__ = ["register"]

EXAMPLE = """\
examples:
  lakeqa ge --day 2024-08-09
  lakeqa ge --day 2024-08-09 --duckdb lakeqa.duckdb --output output --json

The day must have been built (lakeqa run --day ...) into the DuckDB file first; the rules, the tables they
apply to and their thresholds are the ones that build wrote (rule_attachments): to check another
threshold, build with it (lakeqa run --day D --vars '{"rule_max_spread_bps": 300}'). Data Docs are written
to <output>/ge/data_docs/index.html; GE's own files (suites, results, checkpoints) to <output>/ge/gx/.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ge",
        help="validate a built day with the Great Expectations suites generated from the rule attachments",
        description=(
            "Generate one Great Expectations suite per table a rule is attached to (the DuckDB file's"
            " rule_attachments, as the dbt build wrote them), validate the day's rows read from the DuckDB"
            " file, and update the GE Data Docs."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--day", required=True, help="the day to validate, YYYY-MM-DD (UTC)")
    parser.add_argument(
        "--duckdb",
        default=None,
        help="DuckDB file (default: env DUCKDB_PATH, else the project's lakeqa.duckdb)",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="output root; Data Docs go to <output>/ge/data_docs (default: env QA_OUTPUT_ROOT, else the"
        " project's output/)",
    )
    parser.add_argument(
        "--result-format", default="SUMMARY", choices=RESULT_FORMATS,
        help="GE result format (COMPLETE lists every unexpected row; default SUMMARY)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_main)


def _main(args) -> int:
    from lakeqa.window import resolve_day

    day = resolve_day(args.day)
    paths = Paths.from_env(duckdb_path=args.duckdb, output_root=args.output)
    result = run_ge_checkpoint(paths.duckdb_path, day, paths.output_root, result_format=args.result_format)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(f"lakeqa ge: {day}, rules from {result['attachments']}")
        for name, suite in result["suites"].items():
            failed = sorted({e["rule_id"] for e in suite["expectations"] if not e["success"]})
            verdict = "ok" if suite["success"] else "FAILED " + ", ".join(failed)
            print(
                f"  {name:<30} {suite['rows']:>10,} rows  {len(suite['expectations']):>2} expectations"
                f"  {suite['load_s'] + suite['checkpoint_s']:6.2f} s  {verdict}"
            )
        print(f"Data Docs: {result['data_docs_index']}")
    for warning in result["warnings"]:
        print(f"lakeqa ge: warning: {warning}", file=sys.stderr)
    for error in result["errors"]:
        print(f"lakeqa ge: error: {error}", file=sys.stderr)
    return 1 if result["errors"] or result["warnings"] else 0
