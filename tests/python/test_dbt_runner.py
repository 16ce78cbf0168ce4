"""lakeqa.dbt_runner: how lakeqa invokes dbt in its own process."""

from __future__ import annotations

import gc

from lakeqa.dbt_runner import run_dbt


def test_dbt_runs_with_what_it_loaded_out_of_the_garbage_collectors_reach(dbt_project):
    # dbt's parsed project is a few hundred thousand objects that every full collection walked again
    # (README "Benchmarks"); run_dbt freezes them away from the collector for the invocation only
    at_nodes = []

    def record(event) -> None:
        if event.info.name in ("NodeStart", "NodeFinished"):
            at_nodes.append(gc.get_freeze_count())

    assert gc.get_freeze_count() == 0
    outcome = run_dbt(
        ["seed", "--select", "macro_calendars"], dbt_project.paths, quiet=True, callbacks=[record]
    )
    assert outcome.success
    assert at_nodes and min(at_nodes) > 0, "dbt's nodes ran with nothing frozen"
    assert gc.get_freeze_count() == 0, "the objects stay frozen after dbt returned"
