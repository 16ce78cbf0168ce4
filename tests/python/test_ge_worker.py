"""GE's checkpoint on a process of its own (lakeqa.ge.worker), as `lakeqa run` uses it: started by the build's
events for its detectors, the same results as the checkpoint in-process, its errors raised where the run
waits for it."""

from __future__ import annotations

import logging
import multiprocessing
import subprocess
import sys
from types import SimpleNamespace

import pytest

from lakeqa.detectors import iforest
from lakeqa.ge import GeSuiteError, run_ge_checkpoint
from lakeqa.ge.worker import SPAWN_AT_NODES, START_AFTER_NODES, WARM_MODULES, GeWorker

DAY = "2024-08-09"


def dbt_event(name: str, node_name: str = "") -> SimpleNamespace:
    """The parts of a dbt EventMsg the worker's callback reads."""
    return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(node_info=SimpleNamespace(node_name=node_name)))


def outcome(result: dict) -> dict:
    """What a checkpoint found: per suite, its success and each expectation's type, success and counts."""
    return {
        name: (suite["success"], suite["rows"],
               [(e["type"], e["success"], e["unexpected_count"], e["element_count"]) for e in suite["expectations"]])
        for name, suite in result["suites"].items()
    }  # fmt: skip


def test_the_worker_imports_ge_without_collecting_and_freezes_what_it_imported():
    # in a fresh interpreter, as the spawned worker is: no collection while GE imports, the collector on
    # again after, and the imported objects out of its reach
    code = (
        "import gc\n"
        "from lakeqa.ge.worker import _import_ge\n"
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: runs.append(info['generation']) if phase == 'stop' else None)\n"
        "_import_ge()\n"
        "print(len(runs), gc.isenabled(), gc.get_freeze_count())\n"
    )
    collections, enabled, frozen = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert (collections, enabled) == ("0", "True")
    assert int(frozen) > 100_000


def test_the_worker_imports_ge_without_pyspark():
    # installed for the spark target, GE would import it (~0.2 s the run's checkpoint waits for); the
    # worker's SQL engine does not need it, and GE takes it as not installed
    code = (
        "import sys\n"
        "from lakeqa.ge.worker import _import_ge\n"
        "_import_ge()\n"
        "from great_expectations.compatibility import pyspark\n"
        "print(sys.modules['pyspark'] is None, bool(pyspark.pyspark))\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = ran.stdout.split()
    assert out == ["True", "False"]


def test_the_worker_starts_when_the_build_has_finished_its_nodes_and_not_before():
    # GE comes once IsolationForest, which the worker helps with until then, has finished
    assert START_AFTER_NODES == ("anomalies_iforest",)
    first, last = "anomalies_zscore", "anomalies_iforest"
    before = {p.pid for p in multiprocessing.active_children()}
    with GeWorker() as worker:
        on_event = worker.start_after_nodes((first, last))
        for event in (dbt_event("MainReportVersion"), dbt_event("NodeFinished", "bar_features"),
                      dbt_event("NodeStart", first), dbt_event("NodeStart", last), dbt_event("NodeFinished", first),
                      dbt_event("NodeFinished", first)):  # fmt: skip
            on_event(event)
        assert {p.pid for p in multiprocessing.active_children()} == before, "started before its nodes finished"
        on_event(dbt_event("NodeFinished", last))
        started = {p.pid for p in multiprocessing.active_children()} - before
        assert len(started) == 1, "no worker process (or more than one) once its nodes finished"
        on_event(dbt_event("NodeFinished", last))  # a second end changes nothing
        assert {p.pid for p in multiprocessing.active_children()} - before == started
    assert not started & {p.pid for p in multiprocessing.active_children()}, "the worker outlived close()"


GE_IMPORTED = "'great_expectations' in __import__('sys').modules"  # eval'd on the worker: a builtin pickles


def test_the_worker_process_starts_with_isolationforest_and_imports_its_module_not_ge():
    # started when the node it is lent to starts, so that its start and scikit-learn's import overlap the
    # model's own first second or so; GE still waits for START_AFTER_NODES
    assert SPAWN_AT_NODES == ("anomalies_iforest",) and WARM_MODULES == iforest.WORKER_IMPORTS
    before = {p.pid for p in multiprocessing.active_children()}
    with GeWorker() as worker:
        on_event = worker.spawn_at_nodes()
        for event in (dbt_event("NodeStart", "bar_features"), dbt_event("NodeFinished", "anomalies_iforest")):
            on_event(event)
        assert {p.pid for p in multiprocessing.active_children()} == before, "started by another node's event"
        on_event(dbt_event("NodeStart", "anomalies_iforest"))
        started = {p.pid for p in multiprocessing.active_children()} - before
        assert len(started) == 1, "no worker process (or more than one) when IsolationForest started"
        pool = worker.pool()
        modules = ("lakeqa.detectors.iforest", "sklearn.ensemble", "great_expectations")
        imported = f"[m in __import__('sys').modules for m in {modules!r}]"
        warm = pool.submit(eval, imported)()
        assert warm == [True, True, False], "the model's modules not warm, or GE imported"
        on_event(dbt_event("NodeStart", "anomalies_iforest"))  # a second start changes nothing
        assert worker.pool() is pool and {p.pid for p in multiprocessing.active_children()} - before == started


def test_the_lent_process_imports_ge_only_when_started():
    before = {p.pid for p in multiprocessing.active_children()}
    with GeWorker() as worker:
        pool = worker.pool()
        assert pool is worker.pool() and pool.count == 1, "one process, lent as often as asked for"
        assert pool.submit(eval, GE_IMPORTED)() is False, "GE imported beside the forests it was lent for"
        assert len({p.pid for p in multiprocessing.active_children()} - before) == 1
        worker.start()
        worker.start()  # once
        assert pool.submit(eval, GE_IMPORTED)() is True
        assert worker.pool() is pool and len({p.pid for p in multiprocessing.active_children()} - before) == 1


@pytest.mark.e2e
def test_the_worker_gives_the_checkpoints_result_and_raises_its_errors(faulted_lake_build, tmp_path, caplog):
    duckdb_path = faulted_lake_build.paths.duckdb_path
    here = run_ge_checkpoint(duckdb_path, DAY, tmp_path / "here")
    before = {p.pid for p in multiprocessing.active_children()}
    with GeWorker() as worker:
        there = worker.submit(duckdb_path, DAY, tmp_path / "there")()
        assert outcome(there) == outcome(here) and not there["success"], "the faulted day must fail its suites"
        assert there["data_docs_index"] == str(tmp_path / "there" / "ge" / "data_docs" / "index.html")
        assert (tmp_path / "there" / "ge" / "data_docs" / "index.html").is_file()
        with pytest.raises(GeSuiteError, match="does not exist"):
            worker.submit(tmp_path / "nope.duckdb", DAY, tmp_path / "there")()
        # a worker killed (e.g. for memory) is not fatal: the checkpoint runs in this process instead
        for process in multiprocessing.active_children():
            if process.pid not in before:
                process.kill()
                process.join()
        again = worker.submit(duckdb_path, DAY, tmp_path / "again")()
        assert outcome(again) == outcome(here)
        fallbacks = [r for r in caplog.records if r.name == "lakeqa.workers" and r.levelno == logging.WARNING]
        assert fallbacks, "the checkpoint did not run in this process"
