"""Independent CPU-bound tasks shared between this process and spawned worker processes: the forests of
IsolationForest (``each``, the model's symbols shared out one by one, each loaded here and its forest
fitted here or on a worker; ``run``, tasks already built shared out and waited for at once) and GE's
checkpoint (``submit``, one task waited for later; lakeqa.ge.worker). ``offer`` lends a command's workers
to the dbt build it runs in its own process (`lakeqa run` lends GE's to IsolationForest).

Why processes: fitting an IsolationForest is mostly scikit-learn's Python work per tree (cloning the tree
estimator, validating its parameters, seeding its random state), which holds the interpreter lock, so
threads cannot spread the forests of a run's symbols over two cores; a second process can (the 13 forests
of a 10 M-trade day: benchmarks/HISTORY.md). The calling process works too: it takes the next task whenever
every worker is busy, so a worker that is still starting (importing scikit-learn takes ~2 s) costs nothing
but its start, and the tasks balance to within one task.

A task's result must not depend on where it runs: the functions given here are pure (same arguments, same
result, bit for bit), so the output is the same on one process or several. Workers are started with
"spawn" (a fresh interpreter: forking a process that holds DuckDB and dbt's threads is not safe) and shut
down by close(). A worker that cannot start or dies (e.g. killed for memory) is not fatal: its task runs
here and the remaining tasks too.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

log = logging.getLogger(__name__)

# each() feeds every worker from this many threads: while a worker computes one item, the next is already
# prepared here (a symbol's rows loaded, pickled) and queued there, so that the worker never waits between
# items (IsolationForest at 10 M trades: ~0.15 s of each ~1 s symbol, measured)
FEEDERS_PER_WORKER = 2


class Workers:
    """``processes - 1`` spawned worker processes, started at once (each imports ``warm_modules``, so that
    the ~2 s of its start overlap whatever the caller does before run), shut down by close() or on leaving
    a ``with`` block."""

    def __init__(self, processes: int, warm_modules: tuple[str, ...] = ()):
        self.count = max(0, processes - 1)
        self._pool = None
        if self.count:
            try:
                self._pool = ProcessPoolExecutor(max_workers=self.count, mp_context=multiprocessing.get_context("spawn"))
                if warm_modules:
                    for _ in range(self.count):
                        self._pool.submit(_import_modules, warm_modules)
            except (OSError, RuntimeError) as error:
                log.warning("worker processes unavailable (%s): every task runs here", error)
                self.count, self._pool = 0, None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, fn: Callable, *args) -> Callable[[], object]:
        """fn(*args) on a worker, started now; returns a function that waits for its result (or raises its
        error). Without a worker, or when the worker cannot take it or dies, fn(*args) runs here when its
        result is asked for. ``fn`` and ``args`` must pickle (``fn`` a module-level function)."""
        if self._pool is not None:
            try:
                future = self._pool.submit(fn, *args)
            except (BrokenProcessPool, OSError, RuntimeError) as error:
                log.warning("worker processes unavailable (%s): the task runs here", error)
            else:
                return lambda: _result(future, fn, args, threading.Event())
        return lambda: fn(*args)

    def run(self, fn: Callable, tasks: Sequence[tuple]) -> list:
        """[fn(*task) for task in tasks], in the order given, computed by this process and the workers, each
        taking the next task as soon as it is free (give the longest tasks first; see each). ``fn`` and the
        tasks must pickle (``fn`` a module-level function)."""
        return self.each(tasks, lambda task, remote: (remote or _here)(fn, *task))

    def each(self, items: Sequence, work: Callable) -> list:
        """[work(item, remote) for item in items], in the order given, handled by this thread and
        FEEDERS_PER_WORKER threads per worker, each taking the next item as soon as it is free (so a worker
        holds at most that many items; give the longest items first; the last ones are not queued behind
        a busy worker, see take). ``remote`` says where the item's heavy tasks go: None on this thread
        (compute them here), else a function ``remote(fn, *args)`` that computes fn(*args) on the thread's
        worker process and returns the result (here, when the worker cannot take it or has died). So the
        items are prepared and finished in this process, one per thread at a time (a caller that loads each
        item's rows holds at most one item's per thread), while their CPU-bound part runs on both cores.
        ``work`` must be safe to run on several threads at once; ``fn`` and its arguments must pickle."""
        items = list(items)
        if self._pool is None or len(items) < 2:
            return [work(item, None) for item in items]
        results: list = [None] * len(items)
        lock = threading.Lock()
        stopped = threading.Event()  # an item failed: no thread takes another
        on_workers = []  # the items the workers' threads handled
        claimed = 0  # items[:claimed] are taken
        sent = 0  # the items the workers' threads hold (being prepared, queued or computed there)

        def take(feeding: bool) -> int | None:
            """The next item for this thread (``feeding``: a worker's), or None: it stops. A feeding thread
            whose item would wait behind the workers' current ones does not take one of the last items
            (no more than every process could take when it is free): otherwise the model's process ran
            out of items while its last one still waited on a worker (IsolationForest, 10 M trades: the
            thin XRPETH waited ~0.4 s there behind a big symbol while this process was idle)."""
            nonlocal claimed, sent
            with lock:
                unclaimed = len(items) - claimed
                if stopped.is_set() or unclaimed == 0:
                    return None
                if feeding and sent >= self.count and unclaimed <= self.count + 1:
                    return None
                if feeding:
                    sent += 1
                claimed += 1
                return claimed - 1

        def handle(remote: Callable | None) -> None:
            nonlocal sent
            try:
                while (i := take(remote is not None)) is not None:
                    try:
                        results[i] = work(items[i], remote)
                    finally:
                        if remote is not None:
                            with lock:
                                sent -= 1
                    if remote is not None:
                        on_workers.append(i)
            except BaseException:
                stopped.set()
                raise

        def on_worker(fn: Callable, *args):
            return self.submit(fn, *args)()

        feeding = self.count * FEEDERS_PER_WORKER
        with ThreadPoolExecutor(max_workers=feeding, thread_name_prefix="lakeqa-worker-feed") as feeders:
            fed = [feeders.submit(handle, on_worker) for _ in range(feeding)]
            try:
                handle(None)
            finally:
                errors = [f.exception() for f in fed]  # waits for each feeder thread
        for error in errors:
            if error is not None:
                raise error
        log.info("%d items: %d handled here, %d with %d worker process(es)", len(items),
                 len(items) - len(on_workers), len(on_workers), self.count)  # fmt: skip
        return results


def _import_modules(names: tuple[str, ...]) -> None:
    for name in names:
        importlib.import_module(name)


# the workers a command offers to the dbt build it runs in its own process (offer, offered): `lakeqa run`
# offers GE's worker process, which is otherwise idle while IsolationForest fits (lakeqa.ge.worker)
_offered: Callable[[], Workers | None] | None = None


@contextlib.contextmanager
def offer(provider: Callable[[], Workers | None]):
    """While open, offered() returns provider() (called when a model asks, so a worker process that is
    not needed is not started): how `lakeqa run` lends its worker process to the build's Python models,
    which run in the same process. A plain `dbt build` offers none."""
    global _offered
    previous, _offered = _offered, provider
    try:
        yield
    finally:
        _offered = previous


def offered() -> Workers | None:
    """The workers the running command offers to the build (offer), or None."""
    return _offered() if _offered is not None else None


def _here(fn: Callable, *args):
    return fn(*args)


def _result(future: Future, fn: Callable, task: tuple, stopped: threading.Event):
    """A worker task's result; when the worker died (e.g. killed for memory), the task runs here. An
    exception the task itself raised is raised here, as it would be without workers."""
    try:
        return future.result()
    except BrokenProcessPool as error:
        if not stopped.is_set():
            log.warning("a worker process died (%s): its task and the remaining ones run here", error)
            stopped.set()
        return fn(*task)
