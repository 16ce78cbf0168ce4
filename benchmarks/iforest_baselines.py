"""How many IFOREST records a clean symbol-day gets, by what the forest learns from (the issue's "measure both").

Reads a DuckDB file built over a range of days (so that bar_features holds every judged day and
iforest_training_bars the history of each), and for every symbol-day with a history baseline counts the bars
flagged by:

- per_symbol_history   one forest per symbol, trained on its own clean history (what anomalies_iforest does)
- pooled_history       one forest per day on every symbol's history, each standardised with its own mean/std,
                       the threshold from the pooled training scores (the alternative)
- per_symbol_same_day  one forest per symbol fitted on the judged day itself (the cold-start fallback)
- pooled_same_day      one forest per day on every symbol's judged day (what IFOREST did before)

    python benchmarks/iforest_baselines.py --duckdb lakeqa.duckdb [--skip SYMBOL,...]

Prints one row per symbol-day and a summary per method (mean records per symbol-day, their share of the bars,
and the spread across symbols). --skip leaves out symbol-days known to be damaged (e.g. injected faults).
"""

from __future__ import annotations

import argparse
import sys

import duckdb
import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from lakeqa.detectors import iforest
from lakeqa.detectors.features import sorted_features


def pooled_counts(parts: dict[str, tuple[pd.DataFrame, pd.DataFrame]], params: iforest.IForestParams) -> dict:
    """symbol -> flagged judged rows, for one forest over every symbol's `fit` rows (each standardised with
    its own mean/std), thresholded at the pooled training scores' quantile. parts: symbol -> (fit, judged)."""
    fit_x, judged_x = {}, {}
    for symbol, (fit, judged) in parts.items():
        raw = iforest.raw_features(fit)
        mean, std = iforest.reference_stats(raw)
        fit_x[symbol] = iforest.standardise(raw, mean, std)
        judged_x[symbol] = iforest.standardise(iforest.raw_features(judged), mean, std)
    X = np.concatenate(list(fit_x.values()))
    if len(X) > params.fit_sample_size:
        rng = np.random.default_rng(params.random_state)
        X = X[np.sort(rng.choice(len(X), size=params.fit_sample_size, replace=False))]
    forest = IsolationForest(n_estimators=params.n_estimators, contamination="auto",
                             random_state=params.random_state).fit(X)
    model = iforest.ForestModel(np.zeros(4), np.ones(4), forest, np.inf, np.inf, len(X), "pooled")
    threshold = iforest.threshold_from(iforest.score(model, X, params), params.contamination)
    return {symbol: int((iforest.score(model, x, params) > threshold).sum()) for symbol, x in judged_x.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duckdb", required=True)
    parser.add_argument("--skip", default="", help="comma-separated SYMBOL or SYMBOL@YYYY-MM-DD to leave out")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    params = iforest.IForestParams()
    con = duckdb.connect(args.duckdb, read_only=True)
    baselines = con.sql("select symbol, date, baseline, training_dates from iforest_baselines"
                        " where baseline = 'history' order by date, symbol").df()
    rows = []
    for day, day_baselines in baselines.groupby("date", sort=True):
        day_text = pd.Timestamp(day).strftime("%Y-%m-%d")
        symbols = [s for s in day_baselines["symbol"] if s not in skip and f"{s}@{day_text}" not in skip]
        features = sorted_features(con.execute(
            f"select {', '.join(iforest.INPUT_COLUMNS)} from bar_features where date = ?", [day_text]).df())
        training = con.execute(f"select {', '.join(iforest.TRAINING_COLUMNS)} from iforest_training_bars"
                               " where judged_date = ? order by symbol, ts", [day_text]).df()
        critical = con.execute("select symbol, ts from violations where severity = 'critical'"
                               " and source_table = 'bars_1s' and cast(ts as date) = ?", [day_text]).df()
        history_parts, same_day_parts = {}, {}
        for symbol in symbols:
            judged = features[features["symbol"] == symbol].reset_index(drop=True)
            history = training[training["symbol"] == symbol].reset_index(drop=True)
            own_day = iforest.cold_start_rows(judged, critical).reset_index(drop=True)
            history_parts[symbol] = (history, judged)
            same_day_parts[symbol] = (own_day, judged)
            counts = {}
            for method, fit_rows in (("per_symbol_history", history), ("per_symbol_same_day", own_day)):
                model = iforest.fit_model(fit_rows, params)
                x = iforest.standardise(iforest.raw_features(judged), model.mean, model.std)
                counts[method] = int((iforest.score(model, x, params) > model.threshold).sum())
            rows.append({"date": day_text, "symbol": symbol, "bars": len(judged), **counts})
        for method, parts in (("pooled_history", history_parts), ("pooled_same_day", same_day_parts)):
            for symbol, n in pooled_counts(parts, params).items():
                next(r for r in rows if r["date"] == day_text and r["symbol"] == symbol)[method] = n
    table = pd.DataFrame(rows)
    if table.empty:
        print("no symbol-day with a history baseline", file=sys.stderr)
        return 1
    methods = ["per_symbol_history", "pooled_history", "per_symbol_same_day", "pooled_same_day"]
    table = table[["date", "symbol", "bars", *methods]]
    print(table.to_string(index=False))
    print()
    print(f"{len(table)} clean symbol-days; contamination {params.contamination}: "
          f"{params.contamination * table['bars'].mean():.1f} records expected per symbol-day on average")
    for method in methods:
        share = table[method] / table["bars"]
        print(f"{method:22s} mean {table[method].mean():7.1f} records per symbol-day, share of bars "
              f"{share.mean():.4%} (min {share.min():.4%}, max {share.max():.4%}), "
              f"over 1.5 x contamination on {(share > 1.5 * params.contamination).sum()} symbol-days")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
