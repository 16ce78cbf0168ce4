"""JUMP records of the run's window (clustered within jump.cooldown_seconds).

The logic lives in lakeqa.detectors.jump (thresholds: lakeqa.detectors.background); this model only wires
dbt to it.
"""

from lakeqa.detectors import background, jump
from lakeqa.settings import group_values
from lakeqa.detectors.features import SCORE_INPUT_COLUMNS, load_columns, as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("bar_features")
    history = dbt.ref("detector_background")
    training_days = dbt.ref("iforest_training_days")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    zscore_vars = group_values("zscore", dbt.config.meta_get("zscore"), dbt.config.meta_get("zscore_override"))
    jump_vars = group_values("jump", dbt.config.meta_get("jump"), dbt.config.meta_get("jump_override"))
    params = jump.JumpParams.from_vars(jump_vars, zscore_vars)
    learned = background.BackgroundParams.from_vars(
        group_values("detectors", dbt.config.meta_get("detectors"), dbt.config.meta_get("detectors_override"))
    )
    features = load_columns(bar_features, SCORE_INPUT_COLUMNS)
    # the days a symbol may learn from: the same eligible days IsolationForest trains on
    eligible = training_days.filter("is_training_eligible").project("symbol, date").df()
    table = background.thresholds(
        history.df(), features.assign(date=features["ts"].dt.floor("D")), {"JUMP": params.k_sigma}, learned,
        eligible,
    )  # fmt: skip
    return jump.anomalies(features, params, table, learned)
