"""The largest |z| of each z-score detector and of JUMP per symbol and UTC day of the run's window, over
the bars each detector scored, bars with a violation of bars_1s left out: the background the thresholds
of later days are learned from (mart detector_background keeps them; lakeqa.detectors.background).
"""

import pandas as pd

from lakeqa.detectors import background, jump, zscore
from lakeqa.settings import group_values
from lakeqa.detectors.features import SCORE_INPUT_COLUMNS, load_columns, as_bool


def model(dbt, session):
    dbt.config(materialized="table")
    bar_features = dbt.ref("bar_features")
    violations = dbt.ref("violations")

    if not as_bool(dbt.config.meta_get("enable_ai")):
        return background.day_extremes(pd.DataFrame(columns=["symbol", "ts", "detector", "abs_z"]))
    zscore_vars = group_values("zscore", dbt.config.meta_get("zscore"), dbt.config.meta_get("zscore_override"))
    jump_vars = group_values("jump", dbt.config.meta_get("jump"), dbt.config.meta_get("jump_override"))
    features = load_columns(bar_features, SCORE_INPUT_COLUMNS)
    scored = pd.concat(
        [
            zscore.scored(features, zscore.ZScoreParams.from_vars(zscore_vars, jump_vars)),
            jump.scored(features, jump.JumpParams.from_vars(jump_vars, zscore_vars)),
        ],
        ignore_index=True,
    )
    if features.empty:
        return background.day_extremes(scored)
    start = features["ts"].min().isoformat(sep=" ")
    end = features["ts"].max().isoformat(sep=" ")
    flagged = violations.filter(
        f"source_table = 'bars_1s' and ts >= timestamp '{start}' and ts <= timestamp '{end}'"
    ).project("symbol, ts").df()
    return background.day_extremes(scored, flagged)
