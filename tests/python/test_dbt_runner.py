"""lakeqa.dbt_runner: how lakeqa invokes dbt in its own process."""

from __future__ import annotations

import gc

from lakeqa.dbt_runner import run_dbt


def test_dbt_runs_with_what_it_loaded_out_of_the_garbage_collectors_reach(dbt_project):
    # dbt's parsed project is a few hundred thousand objects that every full collection walked again
    # (benchmarks/HISTORY.md); run_dbt freezes them away from the collector for the invocation only
    at_nodes, before_nodes = [], []

    def record(event) -> None:
        if event.info.name in ("NodeStart", "NodeFinished"):
            at_nodes.append((gc.get_freeze_count(), gc.isenabled()))
        elif not at_nodes:
            before_nodes.append(gc.isenabled())

    assert gc.get_freeze_count() == 0
    outcome = run_dbt(
        ["seed", "--select", "macro_calendars"], dbt_project.paths, quiet=True, callbacks=[record]
    )
    assert outcome.success
    assert before_nodes and not any(before_nodes), "the collector ran while dbt loaded the project"
    assert at_nodes and all(frozen > 0 and enabled for frozen, enabled in at_nodes), (
        "dbt's nodes ran with nothing frozen, or without the collector"
    )
    assert gc.get_freeze_count() == 0, "the objects stay frozen after dbt returned"
    assert gc.isenabled()
