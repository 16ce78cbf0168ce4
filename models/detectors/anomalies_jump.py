"""JUMP records of the run's window (clustered within jump.cooldown_seconds).

The logic lives in lakeqa.detectors.jump (thresholds: lakeqa.detectors.background); this model only wires
dbt to it.
"""

from lakeqa.detectors import background, jump
from lakeqa.settings import group_values
from lakeqa.detectors.features import as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("bar_features")
    history = dbt.ref("detector_background")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    zscore_vars = group_values("zscore", dbt.config.meta_get("zscore"), dbt.config.meta_get("zscore_override"))
    jump_vars = group_values("jump", dbt.config.meta_get("jump"), dbt.config.meta_get("jump_override"))
    params = jump.JumpParams.from_vars(jump_vars, zscore_vars)
    learned = background.BackgroundParams.from_vars(
        group_values("detectors", dbt.config.meta_get("detectors"), dbt.config.meta_get("detectors_override"))
    )
    features = bar_features.df()
    table = background.thresholds(
        history.df(), features.assign(date=features["ts"].dt.floor("D")), {"JUMP": params.k_sigma}, learned
    )
    return jump.anomalies(features, params, table, learned)
