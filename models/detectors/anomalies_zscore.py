"""ZSCORE_SPREAD_BP, ZSCORE_LOG_VOLUME and ZSCORE_VWAP_DRIFT_BP records of the run's window.

The scores come from the view bar_scores (SQL); this model reads only the candidates, the scored bars with
|z| above zscore.k (a threshold max(k, learned bound) is never below k, so no other bar can be a record),
and lakeqa.detectors.zscore judges them against the learned thresholds (lakeqa.detectors.background),
clusters and labels them.
"""

from lakeqa.detectors import background, zscore
from lakeqa.settings import group_values
from lakeqa.detectors.features import ZSCORE_DETECTORS, as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_scores = dbt.ref("bar_scores")
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
    detectors = ", ".join(f"'{d}'" for d in ZSCORE_DETECTORS)
    candidates = bar_scores.filter(f"detector in ({detectors}) and scored and abs_z > k").df()
    # the days a symbol may learn from: the same eligible days IsolationForest trains on
    eligible = training_days.filter("is_training_eligible").project("symbol, date").df()
    table = background.thresholds(
        history.df(), candidates.assign(date=candidates["ts"].dt.floor("D")),
        {detector: params.k for detector in ZSCORE_DETECTORS}, learned, eligible,
    )  # fmt: skip
    return zscore.anomalies(candidates, params, table, learned)
