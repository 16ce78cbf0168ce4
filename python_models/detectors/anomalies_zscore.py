"""ZSCORE_SPREAD_BP, ZSCORE_LOG_VOLUME and ZSCORE_VWAP_DRIFT_BP records of the run's window.

The logic lives in lakeqa.detectors.zscore; this model only wires dbt to it.
"""

from lakeqa.detectors import zscore
from lakeqa.detectors.features import as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("int_bar_features")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    params = zscore.ZScoreParams.from_vars(dbt.config.meta_get("zscore"))
    return zscore.anomalies(bar_features.df(), params)
