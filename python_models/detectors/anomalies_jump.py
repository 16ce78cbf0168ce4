"""JUMP records of the run's window (clustered within jump.cooldown_seconds).

The logic lives in lakeqa.detectors.jump; this model only wires dbt to it.
"""

from lakeqa.detectors import jump
from lakeqa.detectors.features import as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("int_bar_features")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    params = jump.JumpParams.from_vars(dbt.config.meta_get("jump"), dbt.config.meta_get("zscore"))
    return jump.anomalies(bar_features.df(), params)
