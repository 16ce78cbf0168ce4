"""IFOREST records of the run's window: IsolationForest fitted per UTC day on bars free of critical violations.

The logic lives in lakeqa.detectors.iforest; this model only wires dbt to it.
"""

import pandas as pd

from lakeqa.detectors import iforest
from lakeqa.settings import group_values
from lakeqa.detectors.features import as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("bar_features")
    violations = dbt.ref("violations")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    params = iforest.IForestParams.from_vars(group_values("iforest", dbt.config.meta_get("iforest"), dbt.config.meta_get("iforest_override")))
    features = bar_features.project(", ".join(f'"{c}"' for c in iforest.INPUT_COLUMNS)).df()
    if features.empty:
        return empty_anomalies()
    # the critical violations of bars_1s rows in the window's time span (violations holds every day built)
    critical = violations.filter(
        "severity = 'critical' and source_table = 'bars_1s' "
        f"and ts >= timestamp '{features['ts'].min().isoformat(sep=' ')}' "
        f"and ts <= timestamp '{features['ts'].max().isoformat(sep=' ')}'"
    ).project("symbol, ts").df()
    # one forest per UTC day, so that a day's records are the same whether it is built alone or in a range
    days = features["ts"].dt.floor("D")
    frames = [iforest.anomalies(day_rows, critical, params) for _, day_rows in features.groupby(days, sort=True)]
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else empty_anomalies()
