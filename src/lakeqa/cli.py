"""The `lakeqa` command line. Each command lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import atexit
import os
import sys

from lakeqa.dbt_runner import DbtError
from lakeqa.lake import LakeError

# (module, attribute) pairs: each module exposes register(subparsers) that adds one sub-command whose
# parser sets `func` to a callable taking the parsed args and returning an exit code.
COMMAND_MODULES = [
    "lakeqa.importers.command",
    "lakeqa.generate",
    "lakeqa.run",
    "lakeqa.demo",
    "lakeqa.ge.command",
    "lakeqa.report.command",
    "lakeqa.prune",
    "lakeqa.slices",
    "lakeqa.export_db.command",
    "lakeqa.compact",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakeqa",
        description="QA sidecar for a crypto market-data lake (dbt + DuckDB).",
        epilog="Run `lakeqa <command> --help` for each command's options and an example.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LakeError as exc:
        print(f"lakeqa {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except DbtError as exc:
        print(f"lakeqa {args.command}: error: {exc}", file=sys.stderr)
        return 3


def entry_point() -> None:
    """The `lakeqa` command (and `python -m lakeqa.cli`): main(), then the process's exit handlers, then leave
    at once. A normal exit would next free the interpreter object by object: after a 10 M-trade run (~4 000
    modules, DuckDB, pandas, scikit-learn) that took 1.4 s of the run's wall time for nothing a later reader
    sees. Everything main() writes is complete when it returns (outputs are renamed into place, the published
    database flushed to disk), the exit handlers flush the log files, and the streams are flushed here.
    An exception leaves the ordinary way, with its traceback."""
    code = main()
    atexit._run_exitfuncs()  # what a normal exit runs first; atexit has no public way to run them early
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
