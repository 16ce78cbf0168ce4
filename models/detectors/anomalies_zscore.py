"""ZSCORE_SPREAD_BP, ZSCORE_LOG_VOLUME and ZSCORE_VWAP_DRIFT_BP records of the run's window.

The logic lives in lakeqa.detectors.zscore; this model only wires dbt to it.
"""

from lakeqa.detectors import zscore
from lakeqa.settings import group_values
from lakeqa.detectors.features import as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("bar_features")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    params = zscore.ZScoreParams.from_vars(group_values("zscore", dbt.config.meta_get("zscore"), dbt.config.meta_get("zscore_override")))
    return zscore.anomalies(bar_features.df(), params)
