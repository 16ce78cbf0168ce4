"""ZSCORE_SPREAD_BP, ZSCORE_LOG_VOLUME and ZSCORE_VWAP_DRIFT_BP records of the run's window.

The logic lives in lakeqa.detectors.zscore (thresholds: lakeqa.detectors.background); this model only
wires dbt to it.
"""

from lakeqa.detectors import background, zscore
from lakeqa.settings import group_values
from lakeqa.detectors.features import SCORE_INPUT_COLUMNS, load_columns, ZSCORE_DETECTORS, as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("bar_features")
    history = dbt.ref("detector_background")
    training_days = dbt.ref("iforest_training_days")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    zscore_vars = group_values("zscore", dbt.config.meta_get("zscore"), dbt.config.meta_get("zscore_override"))
    jump_vars = group_values("jump", dbt.config.meta_get("jump"), dbt.config.meta_get("jump_override"))
    params = zscore.ZScoreParams.from_vars(zscore_vars, jump_vars)
    learned = background.BackgroundParams.from_vars(
        group_values("detectors", dbt.config.meta_get("detectors"), dbt.config.meta_get("detectors_override"))
    )
    features = load_columns(bar_features, SCORE_INPUT_COLUMNS)
    # the days a symbol may learn from: the same eligible days IsolationForest trains on
    eligible = training_days.filter("is_training_eligible").project("symbol, date").df()
    table = background.thresholds(
        history.df(), features.assign(date=features["ts"].dt.floor("D")),
        {detector: params.k for detector in ZSCORE_DETECTORS}, learned, eligible,
    )  # fmt: skip
    return zscore.anomalies(features, params, table, learned)
