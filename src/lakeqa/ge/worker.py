"""GE's checkpoint on a process of its own, started while the build still runs.

Why a process: importing great_expectations is ~3 s of pure Python and validating a 10 M-trade day ~3 s
more, mostly GE's own Python per expectation. In the build's process both hold the interpreter lock that
dbt's nodes and scikit-learn's forests need too, so they stretched the build by about as long as they took.
On a process of their own they use the other core, and the checkpoint runs beside the run's exports and
report instead of before them.

When: the process starts when the build's IsolationForest node starts (``spawn_at_nodes``; `lakeqa run`
lends it to the model through lakeqa.workers.offer, and a big day's forests are fitted on both processes,
one symbol at a time each), importing the model's module and scikit-learn at once, or else at GE's turn.
Started with the node rather than when the model asks for it: the worker's start and import (~1.7 s) then
overlap the model's own first second or so (loading the first symbols, which it sends here as soon as the
worker takes them; it imports scikit-learn itself at its first fit). GE is imported once IsolationForest
has finished (``START_AFTER_NODES``; a build that never gets there, a selection without it, imports it
when it submits): importing it while the forests were fitted held ~270 MB beside them and took the core they
now share (10 M-trade day: IsolationForest ~10.5 s -> ~8.5 s, the run ~2-3 s shorter, the import now
hidden in the build's last nodes). The checkpoint reads the DuckDB file read-only once the build has
closed it (DuckDB lets several processes read a file nobody writes); the run waits for the worker
before it publishes the file, and a run that stops early shuts it down.

The same function as in-process (``run_ge_checkpoint``), with the same arguments: the results, files and
errors are the same; an exception raised in the worker is raised again where the run waits for it. A
worker that cannot start or dies (e.g. killed for memory) is not fatal: the checkpoint then runs in the
run's own process, as before the worker existed.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from lakeqa.workers import Workers

# the build nodes whose end has the worker import GE: IsolationForest, whose forests it shares until then
START_AFTER_NODES = ("anomalies_iforest",)
# the build nodes whose start starts the worker, importing what they will send it (WARM_MODULES)
SPAWN_AT_NODES = ("anomalies_iforest",)
WARM_MODULES = ("lakeqa.detectors.iforest", "sklearn.ensemble")  # lakeqa.detectors.iforest.WORKER_IMPORTS


def _import_ge() -> None:
    """The worker's first task: GE imported (quietly) before the first checkpoint is asked for.

    Python's garbage collector is off while GE imports and what it imported is then frozen out of its
    reach (gc.freeze): an import creates ~500 k objects and no garbage worth collecting, and the
    collections during it walked them again and again (the import 2.9-3.1 s -> 2.3-2.7 s alone), as did
    the checkpoint's full collection after it (0.18 s).

    pyspark is kept out: GE imports it when it is installed (for this project's spark target), but the
    worker validates through GE's SQL engine alone, and the run's checkpoint waits for this import (10 M-trade
    day: the import 1.7 s from IsolationForest's end, ~0.9 s past the build's; pyspark 0.23 of its 2.0 s)."""
    import gc

    # GE's compatibility module treats a pyspark that raises ImportError as not installed
    sys.modules.setdefault("pyspark", None)
    gc.disable()
    try:
        from lakeqa.ge.context import quiet_gx

        quiet_gx()
        import great_expectations  # noqa: F401

        import lakeqa.ge.checkpoint  # noqa: F401
    finally:
        gc.enable()
    gc.freeze()


def _checkpoint(duckdb_path: str, day: str, output_root: str) -> dict:
    from lakeqa.ge.checkpoint import run_ge_checkpoint

    return run_ge_checkpoint(Path(duckdb_path), day, Path(output_root))


class GeWorker:
    """One spawned process (lakeqa.workers.Workers) that imports GE when started and runs checkpoints when
    asked; close() (or leaving a ``with`` block) shuts it down."""

    def __init__(self) -> None:
        self._workers: Workers | None = None
        self._importing = False
        self._lock = threading.Lock()

    def __enter__(self) -> GeWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the process (once, see pool) and have it import GE (once)."""
        with self._lock:
            self._spawn()
            if not self._importing:
                self._importing = True
                self._workers.submit(_import_ge)

    def _spawn(self, warm_modules: tuple[str, ...] = ()) -> None:
        if self._workers is None:
            self._workers = Workers(2, warm_modules=warm_modules)  # this process and one worker

    def pool(self) -> Workers:
        """The worker process, started now if it was not: `lakeqa run` lends it to the build's
        IsolationForest (lakeqa.workers.offer), whose forests it fits beside this process's. GE's import
        waits for start() (START_AFTER_NODES: IsolationForest finished), so that the worker does not hold
        GE (~270 MB) beside the forests."""
        with self._lock:
            self._spawn()
            return self._workers

    def spawn_at_nodes(
        self, node_names: tuple[str, ...] = SPAWN_AT_NODES, warm_modules: tuple[str, ...] = WARM_MODULES
    ) -> Callable:
        """A dbt event callback that starts the worker process, importing ``warm_modules``, when the build
        starts a node of ``node_names`` (the worker is lent to it: see pool). GE is not imported then."""
        waiting = set(node_names)

        def on_event(event) -> None:
            if event.info.name == "NodeStart" and event.data.node_info.node_name in waiting:
                with self._lock:
                    self._spawn(warm_modules)

        return on_event

    def start_after_nodes(self, node_names: tuple[str, ...] = START_AFTER_NODES) -> Callable:
        """A dbt event callback that starts the worker and its import of GE when the build has finished
        every node of ``node_names`` (whatever their status: GE's checkpoint does not read them)."""
        waiting = set(node_names)

        def on_event(event) -> None:
            if event.info.name == "NodeFinished" and event.data.node_info.node_name in waiting:
                waiting.discard(event.data.node_info.node_name)
                if not waiting:
                    self.start()

        return on_event

    def submit(self, duckdb_path: Path, day: str, output_root: Path) -> Callable[[], dict]:
        """run_ge_checkpoint(duckdb_path, day, output_root) on the worker. Returns a function that waits for
        and returns the checkpoint's result (or raises its error); where the worker cannot take it or has
        died, the checkpoint runs in this process then (Workers.submit)."""
        self.start()
        return self._workers.submit(_checkpoint, str(duckdb_path), day, str(output_root))

    def close(self) -> None:
        with self._lock:
            workers, self._workers, self._importing = self._workers, None, False
        if workers is not None:
            workers.close()
