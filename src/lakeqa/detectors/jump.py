"""`JUMP`: a one-second return far outside the symbol's trailing return sigma, in a calm book.

An event is a bar with
  |return_1s| / sigma > threshold,   sigma = max(trailing-hour bipower sigma of return_1s, one tick),
threshold = max(k_sigma, the background learned from the symbol's earlier days: lakeqa.detectors.background),
where the trailing hour holds at least zscore.min_obs returns, and only when the book is stable and the
second is busy: spread_bp < jump.spread_stable_bps (a bar without a fresh quote, spread NULL, is not
excluded) and trade_count >= jump.min_trade_count.

The score and the gates of every bar (abs_z, sigma, scored = its gates passed) are computed in SQL, in the
view models/detectors/bar_scores.sql, where the formula lives once (its description in
models/detectors/_detectors__models.yml explains the bipower sigma and the gates). This module judges the
JUMP rows of bar_scores it is given, normally only those scored with abs_z above jump.k_sigma (the
threshold is never below it, so no other bar can be an event; clustering chains events only).

Clustering. Events of one symbol whose time is within `cooldown_seconds` (<=) of the previous event of the
current cluster join it (chained: 12:00:54, :55, :57 with cooldown 5 make one cluster; a gap of 6 s starts
a new one). A cluster of two or more events becomes one record: the FIRST event's bar, features and score,
plus `cluster = {count, start_ts, end_ts, max_abs_z}`. A lone event is a record without a cluster (NULL),
and `cooldown_seconds = 0` disables clustering (every event is its own record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lakeqa.detectors.background import BackgroundParams, Threshold, threshold_of, threshold_values
from lakeqa.detectors.features import (
    BASELINE_COLD_START,
    anomaly_frame,
    cluster_events,
    features_json,
    sorted_features,
    to_json,
)
from lakeqa.detectors.labeler import label_jump
from lakeqa.settings import project_default


@dataclass(frozen=True)
class JumpParams:
    # defaults: the settings jump.k_sigma and jump.cooldown_seconds of dbt_project.yml (the settings of the
    # score and its gates reach the SQL of bar_scores)
    k_sigma: float = field(default_factory=lambda: float(project_default("jump.k_sigma")))
    cooldown_seconds: float = field(default_factory=lambda: float(project_default("jump.cooldown_seconds")))

    @classmethod
    def from_vars(cls, jump: Mapping | None) -> JumpParams:
        """From the dbt vars `jump` (k_sigma, cooldown_seconds); a key not given takes its default."""
        j = dict(jump or {})

        def get(key):
            return j[key] if key in j else project_default(f"jump.{key}")

        return cls(k_sigma=float(get("k_sigma")), cooldown_seconds=float(get("cooldown_seconds")))


def jump_events(scores: pd.DataFrame, params: JumpParams, table: Mapping | None = None) -> pd.DataFrame:
    """The JUMP rows of `scores` (bar_scores: symbol, ts, detector, abs_z, z, sigma, scored and the bar's
    columns) that are events: scored (the gates passed) with abs_z above the day's threshold (`table`
    from background.thresholds, None: k_sigma everywhere), sorted by (symbol, ts)."""
    rows = sorted_features(scores[(scores["detector"] == "JUMP") & scores["scored"].astype(bool)])
    if rows.empty:
        return rows
    limit = np.full(len(rows), params.k_sigma) if table is None else threshold_values(rows, "JUMP", table)
    return rows.loc[rows["abs_z"].to_numpy(dtype=float) > limit].reset_index(drop=True)


def anomalies(scores: pd.DataFrame, params: JumpParams, table: Mapping | None = None,
              background: BackgroundParams | None = None) -> pd.DataFrame:  # fmt: skip
    """The JUMP records (clustered) of the JUMP rows of bar_scores (`jump_events`)."""
    background = background or BackgroundParams()
    records = []
    for row in cluster_events(jump_events(scores, params, table), params.cooldown_seconds).to_dict("records"):
        cluster = row["cluster"]
        threshold = (
            threshold_of(table, row["symbol"], row["ts"], "JUMP")
            if table is not None
            else Threshold(params.k_sigma, params.k_sigma, None, 0, BASELINE_COLD_START)
        )
        lab = label_jump(
            abs_z=row["abs_z"],
            k_sigma=threshold.value,
            return_1s=row["return_1s"],
            sigma=row["sigma"],
            trade_count=row["trade_count"],
            spread_bp=row["spread_bp"],
            cluster=cluster,
            threshold_note=threshold.describe(background.margin),
        )
        records.append(
            {
                "symbol": row["symbol"],
                "ts": row["ts"],
                "date": None,
                "detector": "JUMP",
                "label": lab.label,
                "rationale": lab.rationale,
                "confidence": lab.confidence,
                "score": row["abs_z"],
                # signed: the direction of the jump, return_1s / sigma (abs_z is its absolute value); the
                # first event's
                "features": features_json(row, z_score=row["z"]),
                "cluster": to_json(cluster) if cluster else None,
                "baseline": threshold.baseline,
                "exceeds_background": threshold.exceeds_background,
            }
        )
    return anomaly_frame(records)
