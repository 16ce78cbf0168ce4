"""Which ready node dbt starts next, while lakeqa invokes dbt: the one with the longest chain after it.

dbt 1.11 ranks the nodes that are ready by their depth in the graph, then by name (``GraphQueue._get_scores``),
and its run loop hands every ready node to its thread pool at once (``handle_job_queue``), which runs them
first in, first out: the ranking only orders nodes that became ready together, and a node that becomes
ready later waits behind everything handed over before it. In a daily build the heaviest work, the
trades' and the quotes' per-second aggregates at the head of the longest chain (bars, features,
IsolationForest, fusion), waited behind the rule catalog, the other staging views, the seeds and their
tests, which sort first by name: they started 1.2-2.6 s after the first node while the build's first
second used ~1.1 of the two cores.

Inside ``critical_path_first()`` dbt hands a node to its pool only when one of the pool's threads is free,
and the ready node handed over is the one with the most nodes on the longest path after it in the build's
graph (tests included; dbt's own depth, then the name, break ties). Which nodes run, and what each does,
is unchanged: only the order among ready nodes. The patch holds for the block and is put back after; a
dbt without the methods it wraps runs in its own order (tests/python/test_dbt_runner.py fails then).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

# the task classes whose run loop hands nodes to the pool (dbt.task.*: BuildTask and RunTask override it)
_TASK_CLASSES = (
    ("dbt.task.runnable", "GraphRunnableTask"),
    ("dbt.task.run", "RunTask"),
    ("dbt.task.build", "BuildTask"),
)

_lock = threading.Lock()
_blocks = 0  # critical_path_first blocks open (nested, or on several threads): the last one puts dbt back
_originals: list = []  # (owner, name, original) of what is patched
_handing = threading.local()  # waited: this thread is inside a wrapped handle_job_queue


def longest_chains(graph) -> dict:
    """node -> the number of nodes on the longest path that starts at it in ``graph`` (a networkx DiGraph
    without cycles), itself included."""
    import networkx as nx

    chain: dict = {}
    for node in reversed(list(nx.topological_sort(graph))):
        chain[node] = 1 + max((chain[child] for child in graph.successors(node)), default=0)
    return chain


@contextmanager
def critical_path_first():
    """dbt's invocations inside the block start, of the nodes ready, the one heading the longest chain,
    and hand a node to the thread pool only when a thread is free (see the module's docstring)."""
    global _blocks
    with _lock:
        if _blocks == 0:
            _originals[:] = _patch()
        _blocks += 1
    try:
        yield
    finally:
        with _lock:
            _blocks -= 1
            if _blocks == 0:
                for owner, name, original in reversed(_originals):
                    setattr(owner, name, original)
                _originals.clear()


def _patch() -> list:
    """Wrap dbt's ranking and its run loops; returns [(owner, name, original)] to put back."""
    import importlib

    originals = []
    try:
        from dbt.graph.queue import GraphQueue
    except ImportError:
        return originals
    dbt_scores = GraphQueue.__dict__.get("_get_scores")
    if dbt_scores is None:
        return originals

    def scores(queue, graph):
        depth = dbt_scores(queue, graph)
        chain = longest_chains(graph)
        # lower first: the longest chain, then dbt's own (depth; the name follows in the queue's tuple)
        return {node: (-chain[node], level) for node, level in depth.items()}

    originals.append((GraphQueue, "_get_scores", dbt_scores))
    GraphQueue._get_scores = scores
    for module_name, class_name in _TASK_CLASSES:
        task_class = getattr(importlib.import_module(module_name), class_name, None)
        handle = task_class.__dict__.get("handle_job_queue") if task_class is not None else None
        if handle is not None:
            originals.append((task_class, "handle_job_queue", handle))
            task_class.handle_job_queue = _when_a_thread_is_free(handle)
    return originals


def _when_a_thread_is_free(handle):
    """``handle`` (a task's handle_job_queue: take the best ready node, hand it to the pool) called only
    once one of the task's threads is free; the node's callback frees it again. A handle_job_queue that
    calls another one (a subclass's calling its parent's) waits once. dbt's run loop calls it from one
    thread, the node callbacks come from the pool's."""

    def handle_job_queue(task, pool, callback):
        if getattr(_handing, "waited", False):
            return handle(task, pool, callback)
        free = task.__dict__.get("_lakeqa_free_threads")
        if free is None:
            threads = getattr(getattr(task, "config", None), "threads", None) or 1
            free = task.__dict__["_lakeqa_free_threads"] = threading.Semaphore(max(1, int(threads)))
        free.acquire()

        def freeing(result):
            try:
                return callback(result)
            finally:
                free.release()

        _handing.waited = True
        try:
            return handle(task, pool, freeing)
        except BaseException:
            free.release()  # dbt raised before handing the node over (its errors are raised from here)
            raise
        finally:
            _handing.waited = False

    handle_job_queue.__wrapped__ = handle
    return handle_job_queue
