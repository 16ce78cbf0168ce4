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


def test_of_the_nodes_ready_dbt_starts_the_one_heading_the_longest_chain_and_only_that_one():
    # dbt ranks ready nodes by depth, then name; inside critical_path_first by the longest chain after them
    import networkx as nx
    from dbt.graph.queue import GraphQueue

    from lakeqa.dbt_scheduling import critical_path_first, longest_chains

    def graph():
        # three roots at the same depth: by name dbt would start a_short, then m_middle, then z_long
        return nx.DiGraph([("z_long", "z2"), ("z2", "z3"), ("z3", "z4"), ("m_middle", "m2"), ("a_short", "m2")])

    assert longest_chains(graph())["z_long"] == 4 and longest_chains(graph())["a_short"] == 2

    def first_ready(queue) -> list[str]:
        return [queue.inner.get()[1] for _ in range(queue.inner.qsize())]

    dbt_own = GraphQueue._get_scores
    assert first_ready(GraphQueue(graph(), None, set())) == ["a_short", "m_middle", "z_long"]
    with critical_path_first():
        assert first_ready(GraphQueue(graph(), None, set())) == ["z_long", "a_short", "m_middle"]
    assert GraphQueue._get_scores is dbt_own, "dbt's ranking was not put back"
    assert first_ready(GraphQueue(graph(), None, set())) == ["a_short", "m_middle", "z_long"]


def test_a_node_is_handed_to_dbts_pool_only_when_one_of_its_threads_is_free():
    # dbt's run loop handed every ready node to the pool at once (first in, first out there), so the
    # ranking above decided nothing for a node that became ready later
    import threading
    from types import SimpleNamespace

    from lakeqa.dbt_scheduling import _when_a_thread_is_free

    handed, callbacks = [], []

    def handle(task, pool, callback):  # dbt's: take the best ready node and hand it to the pool
        handed.append(len(handed))
        callbacks.append(callback)

    handle_job_queue = _when_a_thread_is_free(handle)
    task = SimpleNamespace(config=SimpleNamespace(threads=2))
    handle_job_queue(task, None, lambda result: None)
    handle_job_queue(task, None, lambda result: None)
    third = threading.Thread(target=handle_job_queue, args=(task, None, lambda result: None))
    third.start()
    third.join(timeout=0.5)
    assert third.is_alive() and handed == [0, 1], "a third node was handed over while both threads ran"
    callbacks[0]("the first node's result")  # its thread is free again
    third.join(timeout=10)
    assert not third.is_alive() and handed == [0, 1, 2]
    # a subclass's handle_job_queue calling its parent's (both wrapped) waits for one thread, not two
    nested = _when_a_thread_is_free(_when_a_thread_is_free(handle))
    one_thread = SimpleNamespace(config=SimpleNamespace(threads=1))
    call = threading.Thread(target=nested, args=(one_thread, None, lambda result: None))
    call.start()
    call.join(timeout=10)
    assert not call.is_alive() and handed == [0, 1, 2, 3], "a nested handle_job_queue waited for itself"


def test_a_daily_build_starts_the_trades_and_quotes_aggregates_before_the_rule_catalog(faulted_lake_build):
    # the per-second aggregates head the longest chain (bars, features, IsolationForest, fusion); in dbt's
    # own order (depth, then name) the rule catalog's two models and their tests, two nodes long, ran first
    # and the aggregates waited behind them. Here (a plain `dbt build`, unit and grain tests included) the
    # aggregates still wait for their staging views' tests, and a thread free meanwhile takes whatever is
    # ready (a seed): only the catalog's place is certain.
    starts = faulted_lake_build.node_starts
    position = {unique_id: i for i, unique_id in enumerate(starts)}
    aggregates = [position[f"model.lakeqa.{name}"]
                  for name in ("int_trades_aggregated_to_seconds", "int_quotes_last_per_second")]  # fmt: skip
    catalog = [i for i, unique_id in enumerate(starts)
               if any(name in unique_id for name in (".rule_catalog", "_rule_catalog_", ".rule_attachments",
                                                      "_rule_attachments_"))]  # fmt: skip
    assert len(catalog) >= 4 and max(aggregates) < min(catalog), (
        f"the aggregates started {aggregates}, the rule catalog and its tests {catalog}: {starts[:12]}"
    )


def test_dbts_compiled_templates_are_kept_between_invocations_and_render_the_same(tmp_path):
    # dbt compiles every node's SQL and macro from source on each invocation (1.37 s of a daily run's CPU)
    from dbt_common.clients import jinja as dbt_jinja

    from lakeqa.dbt_templates import CACHE_FILE, compiled_templates_kept

    source = "{% for x in xs %}{{ x * 2 }}{% if not loop.last %}, {% endif %}{% endfor %} {{ name | upper }}"

    def render(text=source):
        return dbt_jinja.get_template(text, {}).render({"xs": [1, 2, 3], "name": "lake"})

    def render_native():  # dbt's native environment, a class of its own: a key of its own
        return dbt_jinja.get_template("{{ [1, 2] | length }}", {}, native=True).render({})

    expected, expected_native = render(), render_native()
    with compiled_templates_kept(tmp_path) as first:
        assert render() == expected and render() == expected
        assert render_native() == expected_native
    assert (first.compiled, first.reused) == (2, 1)
    assert "compile" not in dbt_jinja.MacroFuzzEnvironment.__dict__, "Jinja's compile was not put back"
    assert (tmp_path / CACHE_FILE).is_file()
    with compiled_templates_kept(tmp_path) as second:
        assert render() == expected
        assert render_native() == expected_native
        assert render(source + "!") == expected + "!"  # another source: compiled anew
    assert second.loaded == 2 and (second.reused, second.compiled) == (2, 1)
    # a file that cannot be read is compiled around and written again
    (tmp_path / CACHE_FILE).write_bytes(b"not marshal data")
    with compiled_templates_kept(tmp_path) as third:
        assert render() == expected
    assert (third.loaded, third.compiled) == (0, 1)
    with compiled_templates_kept(tmp_path) as fourth:
        assert render() == expected
    assert (fourth.loaded, fourth.reused, fourth.compiled) == (1, 1, 0)


def test_the_compiled_templates_go_where_dbt_writes_its_target(monkeypatch, tmp_path):
    from lakeqa.dbt_runner import _target_folder
    from lakeqa.settings import PROJECT_DIR, Paths

    paths = Paths(project_dir=PROJECT_DIR, lake_root=tmp_path, duckdb_path=tmp_path / "qa.duckdb",
                  output_root=tmp_path)  # fmt: skip
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    assert _target_folder(paths) == PROJECT_DIR / "target"
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    assert _target_folder(paths) == tmp_path / "target"
    monkeypatch.setenv("DBT_TARGET_PATH", "elsewhere")  # relative: to the project, as dbt joins it
    assert _target_folder(paths) == PROJECT_DIR / "elsewhere"
