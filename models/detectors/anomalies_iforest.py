"""IFOREST records of the run's window: one IsolationForest per symbol and judged UTC day, trained on the
symbol's clean bars of the days before (iforest_baselines, iforest_training_bars), or a marked cold start.

The logic lives in lakeqa.detectors.iforest; this model only wires dbt to it. Fitted history models are
cached under <QA_OUTPUT_ROOT>/cache/iforest/ (lakeqa.detectors.iforest.ModelCache).
"""

import threading
from contextlib import nullcontext
from dataclasses import replace

import duckdb
import pandas as pd

from lakeqa import workers
from lakeqa.detectors import iforest
from lakeqa.settings import group_values, project_default
from lakeqa.detectors.features import BASELINE_HISTORY, as_bool, empty_anomalies, load_columns


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("bar_features")
    violations = dbt.ref("violations")
    baselines = dbt.ref("iforest_baselines")
    training_bars = dbt.ref("iforest_training_bars")

    iforest_vars = group_values("iforest", dbt.config.meta_get("iforest"), dbt.config.meta_get("iforest_override"))
    # var enable_ai and setting iforest.enabled, as the SQL side reads them (macros/detectors/lakeqa_iforest_runs.sql;
    # on the spark target this model is disabled)
    enabled = iforest_vars.get("enabled", project_default("iforest.enabled"))
    if not (as_bool(dbt.config.meta_get("enable_ai")) and as_bool(enabled)):
        return empty_anomalies()
    params = iforest.IForestParams.from_vars(iforest_vars)
    # the symbol-days the window judges (bar_features also holds the hour before the window, a lookback)
    baselines = baselines.project("symbol, date, baseline, training_dates").df()
    if baselines.empty:
        return empty_anomalies()
    symbols = sorted(baselines["symbol"].unique())
    # records within jump.cooldown_seconds of each other merge, as for every detector
    jump_vars = group_values("jump", dbt.config.meta_get("jump"), dbt.config.meta_get("jump_override"))
    cooldown = float(jump_vars.get("cooldown_seconds", project_default("jump.cooldown_seconds")))
    cache = iforest.ModelCache.from_environment()
    # each symbol-day is judged on its own rows alone, so one symbol's rows are loaded at a time per thread:
    # the model then holds one symbol's bars instead of the day's (a 10 M-trade day's 13 symbols:
    # IsolationForest's peak of memory ~375 MB -> ~95 MB above the process, the same records). A forest's
    # fit holds the interpreter lock, so a second core helps only from another process: the one `lakeqa
    # run` lends (GE's worker, idle until the build is done), else the processes of setting
    # iforest.processes for a big day. Then threads feeding the worker take symbols too, load their rows
    # here and have their forests fitted and scored there (Workers.each: two per worker, so that the next
    # symbol is ready when the worker is).
    loading = threading.Lock()  # the relations below share dbt's one DuckDB connection

    # the model shares the symbols out itself: judging one must not start processes of its own as well
    one_process = replace(params, processes=1)

    def judge(symbol, remote):
        return judged(one_process, bar_features, violations, baselines, training_bars, [symbol], cooldown, cache,
                      loading, remote)  # fmt: skip

    rows_of = dict(bar_features.aggregate("symbol, count(*)", "symbol").fetchall())
    n_rows = sum(rows_of.values())
    # the symbols with the most bars first: the processes then end on thin ones and finish together
    longest_first = sorted(symbols, key=lambda symbol: (-rows_of.get(symbol, 0), symbol))
    # a small window is judged here alone: a worker process still to start would only hold its symbols back
    lent = workers.offered() if n_rows >= iforest.PARALLEL_MIN_ROWS else None
    with (iforest.start_workers(params, n_rows) if lent is None else None) or nullcontext() as own:
        pool = lent or own
        judged_symbols = (pool.each(longest_first, judge) if pool is not None
                          else [judge(symbol, None) for symbol in longest_first])  # fmt: skip
    by_symbol = dict(zip(longest_first, judged_symbols, strict=True))
    parts = [by_symbol[symbol] for symbol in symbols]  # in the symbols' order, as judged one by one
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def of_symbols(relation, symbols):
    """`relation`'s rows of the given symbols (the values quoted as SQL constants, never pasted)."""
    return relation.filter(duckdb.ColumnExpression("symbol").isin(*map(duckdb.ConstantExpression, symbols)))


def judged(params, bar_features, violations, baselines, training_bars, symbols, cooldown, cache, loading, remote):
    """The IFOREST records of the window's symbol-days of `symbols` (the model's body: records merged within
    `cooldown` seconds, history models from `cache`, rows loaded while holding `loading`, forests fitted
    here or, with `remote`, on a worker process)."""
    baselines = baselines[baselines["symbol"].isin(symbols)]
    with loading:
        features = load_columns(of_symbols(bar_features, symbols), iforest.INPUT_COLUMNS)
        if features.empty:
            return empty_anomalies()
        # the critical violations of bars_1s rows in the window's time span, for cold-start fits on the day
        # itself (violations holds every day built)
        critical = of_symbols(violations, symbols).filter(
            "severity = 'critical' and source_table = 'bars_1s' "
            f"and ts >= timestamp '{features['ts'].min().isoformat(sep=' ')}' "
            f"and ts <= timestamp '{features['ts'].max().isoformat(sep=' ')}'"
        ).project("symbol, ts").df()
        # training rows exist only for the symbol-days with a history baseline (a cold start has none)
        with_history = sorted(baselines.loc[baselines["baseline"] == BASELINE_HISTORY, "symbol"].unique())
        training = (load_columns(of_symbols(training_bars, with_history), iforest.TRAINING_COLUMNS)
                    if with_history else None)  # fmt: skip
    return iforest.anomalies(features, critical, params, baselines, training, cache, cooldown, remote=remote)
