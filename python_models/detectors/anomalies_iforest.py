"""IFOREST records of the run's window: IsolationForest fitted on bars free of critical violations.

The logic lives in lakeqa.detectors.iforest; this model only wires dbt to it.
"""

from lakeqa.detectors import iforest
from lakeqa.detectors.features import as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("int_bar_features")
    violations = dbt.ref("violations")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    params = iforest.IForestParams.from_vars(dbt.config.meta_get("iforest"))
    features = bar_features.df()
    if features.empty:
        return empty_anomalies()
    # the critical violations of bars_1s rows in the window's time span (violations holds every day built)
    critical = violations.filter(
        "severity = 'critical' and source_table = 'bars_1s' "
        f"and ts >= timestamp '{features['ts'].min().isoformat(sep=' ')}' "
        f"and ts <= timestamp '{features['ts'].max().isoformat(sep=' ')}'"
    ).project("symbol, ts")
    return iforest.anomalies(features, critical.df(), params)
