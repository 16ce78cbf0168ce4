"""``run_ge_checkpoint``: validate a built day with the suites generated from the build's rule
attachments, and update the Data Docs.

How: the DuckDB file is read (read-only) for the rule attachments, the tables' columns and each suite's
batch query (``lakeqa.ge.batches``), then closed; GE's SQL execution engine then validates every batch on
the file itself (a SQL data source, read-only URL, one query asset per suite; ``lakeqa.ge.sql`` tells the
one workaround GE 1.24.1 needs on DuckDB), so GE's metrics are aggregate queries DuckDB answers and no
row is copied into pandas. GE's connections are closed before returning, on error too. The data source's
connection string is stored in the context as ``${lakeqa_duckdb_url}`` and given at run time
(``open_context``'s ``runtime_environment``), so the DuckDB file's absolute path is not written there.

One Checkpoint per suite (``lakeqa_<suite>``: one validation definition), so each suite's time is its
own; all run with the same run id (run name = the day, run time = the day's 00:00 UTC), so re-running a
day replaces that day's results in Data Docs and leaves the other days alone. The Data Docs site is then
updated once for all of the day's results (``build_data_docs`` with their identifiers) rather than by an
``UpdateDataDocsAction`` per checkpoint, which would rebuild the index page (reading up to
DOCS_INDEX_LIMIT stored results) and copy the static assets once per suite.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from lakeqa.lake import CONTEXT_DATASETS
from lakeqa.ge.attachments import read_rule_set
from lakeqa.ge.batches import Batches, day_bounds
from lakeqa.ge.builders import KEY_COLUMNS, ROWS
from lakeqa.ge.context import (
    DATASOURCE_NAME,
    SITE_NAME,
    URL_VARIABLE,
    _CompiledTemplates,
    _ConfigurationsOnce,
    open_context,
    quiet_gx,
)
from lakeqa.ge.sql import close_engines, duckdb_url, persisted_duckdb_connection
from lakeqa.ge.errors import GeSuiteError
from lakeqa.ge.offline import make_offline
from lakeqa.ge.suites import build_suites
from lakeqa.ge.summary import jsonable, rules_summary, summarise

__all__ = ["RESULT_FORMATS", "run_ge_checkpoint"]

RESULT_FORMATS = ("BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE")


def _result_format(format_config: dict, rows: int) -> dict:
    """GE's result format for a batch of ``rows`` rows. On the SQL engine GE truncates even a COMPLETE
    ``unexpected_index_list`` at ``partial_unexpected_count`` (20 by default; "since SQL tables can be very
    large", great_expectations/expectations/metrics/map_metric_provider/map_condition_auxilliary_methods.py):
    with COMPLETE the limit is the batch's row count, so every unexpected row's (symbol, ts) is returned."""
    if format_config["result_format"] != "COMPLETE":
        return format_config
    return {**format_config, "partial_unexpected_count": max(rows, 20)}


def run_ge_checkpoint(duckdb_path, day: str, output_root, *, result_format: str = "SUMMARY") -> dict:
    """Validate the day's rows of every table a rule is attached to with its generated suite, and update
    the Data Docs.

    What is checked, where and with which threshold comes from the DuckDB file's ``rule_attachments`` and
    ``rule_catalog``, as the last dbt build wrote them: a threshold changed with ``dbt build --vars`` (or
    ``lakeqa run --vars``) is the one GE checks, so there are no vars to pass here. ``result_format``:
    GE's; with "COMPLETE" every unexpected row's (symbol, ts) is returned (and stored by GE), with
    "SUMMARY" (the default) at most 20 per expectation.

    Returns a JSON-able dict: ``day``, ``success`` (every suite passed and nothing raised), ``errors``
    (expectations GE could not evaluate), ``warnings`` (e.g. no rows at all for the day), ``data_docs_index``
    (``<output_root>/ge/data_docs/index.html``), ``ge_root``, ``attachments`` (where the rules were read),
    ``thresholds`` (``[table][rule_id]``, as the build resolved them), ``result_format``, ``absent_context``
    (the context series without a row that day, e.g. a lake without them: they get no suite), ``suites`` and
    ``rules``: ``suites[name]`` = ``{"table", "batch" ("rows" or "r5_gaps"), "rows", "success", "load_s"
    (writing and counting the batch query), "checkpoint_s" (GE validation), "expectations": [{"type", "kwargs", "rule_id",
    "severity", "success", "unexpected_count", "element_count", "unexpected_keys" (COMPLETE) or
    "partial_unexpected_keys"}]}``; ``rules[table][rule_id]`` = ``{"success", "expectations", "flagged",
    "flagged_keys"}`` where flagged is the number of distinct (symbol, ts) GE flagged across the rule's
    expectations, its gap suite included (COMPLETE only, else None).
    """
    import duckdb

    result_format = str(result_format).upper()
    if result_format not in RESULT_FORMATS:
        raise GeSuiteError(f"result_format must be one of {', '.join(RESULT_FORMATS)}, got {result_format!r}")
    complete = result_format == "COMPLETE"
    start, _ = day_bounds(day)
    duckdb_path = Path(duckdb_path)
    if not duckdb_path.is_file():
        raise GeSuiteError(f"DuckDB file {duckdb_path} does not exist; build the day first (lakeqa run)")
    ge_root = Path(output_root) / "ge"

    quiet_gx()
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    suites: dict[str, dict] = {}
    # read-only, and closed before GE opens the file (also on error)
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("set enable_progress_bar = false")
        rule_set = read_rule_set(con, source=f"{duckdb_path.name}: rule_attachments, rule_catalog")
        batches = Batches(con, day)
        tables = dict.fromkeys(a.table for a in rule_set.attachments)
        plans = build_suites(rule_set, batches.table_columns(tables))
        queries, load_s = {}, {}
        for name, plan in plans.items():
            t0 = time.perf_counter()
            queries[name] = batches.query(plan)
            load_s[name] = time.perf_counter() - t0
    finally:
        con.close()
    # a context series without a row that day (the lake holds none) gets no suite: absent without a word
    absent_context = sorted({
        plan.table for name, plan in plans.items()
        if plan.table in CONTEXT_DATASETS and plan.batch.kind == ROWS and queries[name].rows == 0
    })
    plans = {name: plan for name, plan in plans.items() if plan.table not in absent_context}

    context = open_context(ge_root, runtime_environment={URL_VARIABLE: duckdb_url(duckdb_path)})
    datasource = context.data_sources.add_or_update_sql(
        name=DATASOURCE_NAME, connection_string="${" + URL_VARIABLE + "}"
    )
    run_id = RunIdentifier(run_name=day, run_time=start.replace(tzinfo=dt.timezone.utc))
    format_config = {"result_format": result_format, "unexpected_index_column_names": list(KEY_COLUMNS)}
    to_render: list = []
    try:
        with _CompiledTemplates(), persisted_duckdb_connection():
            for name, plan in plans.items():
                asset = datasource.add_query_asset(name=name, query=queries[name].sql)
                batch_definition = asset.add_batch_definition_whole_table("day")
                suite = context.suites.add_or_update(plan.to_gx_suite())
                validation_definition = context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
                )
                checkpoint = context.checkpoints.add_or_update(
                    gx.Checkpoint(
                        name=f"lakeqa_{name}",
                        validation_definitions=[validation_definition],
                        # no UpdateDataDocsAction: it would rebuild the index and copy the static assets
                        # once per suite; the site is updated once for all of them below
                        actions=[],
                        result_format=_result_format(format_config, queries[name].rows),
                    )
                )
                t0 = time.perf_counter()
                with _ConfigurationsOnce():
                    result = checkpoint.run(run_id=run_id)
                checkpoint_s = time.perf_counter() - t0
                ((result_id, validation),) = result.run_results.items()
                to_render += [result_id, ExpectationSuiteIdentifier(name=suite.name)]
                summary = summarise(plan, validation, complete)
                summary.update(
                    rows=queries[name].rows, load_s=round(load_s[name], 3), checkpoint_s=round(checkpoint_s, 3)
                )
                suites[name] = summary
            # the day's result pages, the suites' pages and the index, in one pass
            context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=to_render)
            make_offline(ge_root / "data_docs")  # their scripts and styles from copies beside them
    finally:
        close_engines(datasource)

    errors = [
        f"{name}: {e['type']} ({e['rule_id']}): {e['exception']}"
        for name, s in suites.items()
        for e in s["expectations"]
        if e.get("exception")
    ]
    warnings = []
    if all(s["rows"] == 0 for s in suites.values()):
        warnings.append(f"no rows for {day} in any table of {duckdb_path.name}: is the day built?")
    thresholds: dict[str, dict[str, float]] = {}
    for a in rule_set.attachments:
        if a.threshold is not None:
            thresholds.setdefault(a.table, {})[a.rule.rule_id] = a.threshold
    return jsonable({
        "day": day,
        "success": all(s["success"] for s in suites.values()) and not errors,
        "errors": errors,
        "warnings": warnings,
        "data_docs_index": str(ge_root / "data_docs" / "index.html"),
        "ge_root": str(ge_root),
        "attachments": rule_set.source,
        "thresholds": thresholds,
        "result_format": result_format,
        "suites": suites,
        "absent_context": absent_context,
        "rules": rules_summary(suites, complete),
    })
