"""JUMP records of the run's window (clustered within jump.cooldown_seconds).

The scores and gates come from the view bar_scores (SQL); this model reads only the candidates, the bars
whose gates passed with abs_z above jump.k_sigma (a threshold max(k_sigma, learned bound) is never below
it, so no other bar can be an event), and lakeqa.detectors.jump judges them against the learned
thresholds (lakeqa.detectors.background), clusters and labels them.
"""

from lakeqa.detectors import background, jump
from lakeqa.settings import group_values
from lakeqa.detectors.features import as_bool, empty_anomalies


def model(dbt, session):
    dbt.config(materialized="table")
    bar_scores = dbt.ref("bar_scores")
    history = dbt.ref("detector_background")
    training_days = dbt.ref("iforest_training_days")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return empty_anomalies()
    jump_vars = group_values("jump", dbt.config.meta_get("jump"), dbt.config.meta_get("jump_override"))
    params = jump.JumpParams.from_vars(jump_vars)
    learned = background.BackgroundParams.from_vars(
        group_values("detectors", dbt.config.meta_get("detectors"), dbt.config.meta_get("detectors_override"))
    )
    candidates = bar_scores.filter("detector = 'JUMP' and scored and abs_z > k").df()
    # the days a symbol may learn from: the same eligible days IsolationForest trains on
    eligible = training_days.filter("is_training_eligible").project("symbol, date").df()
    table = background.thresholds(
        history.df(), candidates.assign(date=candidates["ts"].dt.floor("D")), {"JUMP": params.k_sigma}, learned,
        eligible,
    )  # fmt: skip
    return jump.anomalies(candidates, params, table, learned)
