"""Runs dbt through its Python entry point (dbtRunner), never through a shell string."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lakeqa.dbt_scheduling import critical_path_first
from lakeqa.dbt_templates import compiled_templates_kept
from lakeqa.settings import Paths


class DbtError(RuntimeError):
    """dbt could not finish; the message carries dbt's own error lines."""


@dataclass
class DbtOutcome:
    success: bool
    results: list  # dbt RunResult objects (node, status, message, ...)

    def statuses(self) -> dict[str, str]:
        return {r.node.name: str(r.status) for r in self.results}


@contextmanager
def temporary_environment(values: dict[str, str]):
    """os.environ with ``values`` set for the block, restored after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# The vars that say which window a run builds (macros/window/lakeqa_window.sql reads them).
WINDOW_VARS = ("day", "from", "to", "mode", "hourly_end")


def split_window_vars(dbt_vars: dict) -> tuple[dict, dict]:
    """(window vars, other vars) of ``dbt_vars``: the first go to run_dbt's ``window``, the rest to --vars."""
    window = {k: v for k, v in dbt_vars.items() if k in WINDOW_VARS}
    other = {k: v for k, v in dbt_vars.items() if k not in WINDOW_VARS}
    return window, other


def run_dbt(
    args: list[str],
    paths: Paths,
    *,
    quiet: bool = False,
    window: dict | None = None,
    callbacks: list[Callable] | None = None,
) -> DbtOutcome:
    """Invoke dbt with ``args`` (e.g. ["build", "--select", "tag:daily"]) in the project, with the lake,
    DuckDB file and output root of ``paths`` in the environment. ``window``: window vars (WINDOW_VARS),
    passed in env var LAKEQA_WINDOW rather than --vars, so that a new day does not make dbt parse the
    whole project again. ``callbacks``: dbt's event callbacks (called with each EventMsg, on dbt's threads).
    Of the nodes ready, dbt starts the one heading the longest chain first (lakeqa.dbt_scheduling), and
    its compiled Jinja templates are kept in its target folder for the next invocation (lakeqa.dbt_templates).
    Returns the outcome; raises DbtError when dbt itself fails to start (bad project,
    bad vars)."""
    import json

    full_args = [
        *args,
        "--project-dir",
        str(paths.project_dir),
        "--profiles-dir",
        str(paths.project_dir),
    ]
    if quiet:
        full_args = ["--quiet", *full_args]
    paths.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    environment = {**paths.env(), "LAKEQA_WINDOW": json.dumps(window or {}, sort_keys=True)}
    with temporary_environment(environment):
        try:
            with (
                _gc_frozen_once_loaded() as freeze_at_first_node,
                critical_path_first(),
                compiled_templates_kept(_target_folder(paths)),
            ):
                from dbt.cli.main import dbtRunner

                result = dbtRunner(callbacks=[freeze_at_first_node, *(callbacks or [])]).invoke(full_args)
        finally:
            # after unfreezing: its collection frees the DuckDB objects dbt left behind
            _release_duckdb()
    if result.exception is not None:
        raise DbtError(f"dbt {' '.join(args[:1])} failed: {result.exception}")
    results = list(getattr(result.result, "results", None) or [])
    return DbtOutcome(success=bool(result.success), results=results)


def _target_folder(paths: Paths) -> Path:
    """dbt's target folder: DBT_TARGET_PATH (relative: to the project, as dbt joins it), else the project's
    target/ (dbt_project.yml sets none)."""
    return Path(paths.project_dir) / (os.environ.get("DBT_TARGET_PATH") or "target")


@contextmanager
def _gc_frozen_once_loaded():
    """Python's cyclic garbage collector kept out of what dbt loads once per invocation. dbt holds its
    parsed project (manifest, macros, adapter) in a few hundred thousand objects for the whole run, and
    every full collection walked all of them again: 14 of them took 2.4-2.8 s of a 10 M-trade day's
    `lakeqa run` (10 took 0.54 s with this; all collections 3.5 s -> 0.95 s), holding the interpreter lock
    that dbt's threads and the Python models need (gc.callbacks timed, benchmarks/HISTORY.md). So the
    collector is off while dbt imports and loads the project (no garbage worth collecting: ~5.6 k
    objects; importing dbt 1.35-1.46 s -> 1.2 s), and at dbt's first node what is alive is frozen out of
    its reach (gc.freeze) and the collector turned on again: what the nodes create is collected as before.
    When dbt returns it is unfrozen, so that a later collection can free what the run no longer holds.
    Yields the dbt event callback that freezes at the first node."""
    import gc
    import threading

    lock, started = threading.Lock(), []
    was_enabled = gc.isenabled()

    def freeze_at_first_node(event) -> None:
        if started or event.info.name != "NodeStart":
            return
        with lock:
            if not started:
                gc.freeze()
                if was_enabled:
                    gc.enable()
                started.append(True)

    gc.disable()
    try:
        yield freeze_at_first_node
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB database open in the process after dbtRunner returns (a class-level
    environment), so the exports, GE and the report could not open the same file afterwards ("different
    configuration than existing connections"). Close it: the next invocation opens it again."""
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        close = getattr(env, "close", None)
        if close is not None:
            close()
    DuckDBConnectionManager.close_all_connections()
    gc.collect()
