"""JUMP records of the run's window (clustered within jump.cooldown_seconds).

The logic lives in lakeqa.detectors.jump; this model only wires dbt to it.
"""

from lakeqa.detectors import jump
from lakeqa.settings import group_values
from lakeqa.detectors.features import as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("bar_features")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    params = jump.JumpParams.from_vars(group_values("jump", dbt.config.meta_get("jump"), dbt.config.meta_get("jump_override")), group_values("zscore", dbt.config.meta_get("zscore"), dbt.config.meta_get("zscore_override")))
    return jump.anomalies(bar_features.df(), params)
