"""`ZSCORE_<FEATURE>` detectors: a bar is flagged when its feature is more than the day's threshold
robust sigmas from the symbol's robust trailing-hour center, and the trailing hour holds at least
`zscore.min_obs` values.

The score of every bar (z, |z|, the sigma after its floor, whether the bar is scored) is computed in SQL,
in the view models/detectors/bar_scores.sql, where the formula lives once (its description in
models/detectors/_detectors__models.yml explains the robust statistics and the sigma floors). This module
judges the candidates it is given: rows of bar_scores of the z-score detectors, normally only those with
|z| above zscore.k (the threshold is never below k, so no other bar can be a record).

Threshold: max(zscore.k, the background learned from the symbol's earlier days; lakeqa.detectors.background).
Records of one symbol and detector within jump.cooldown_seconds of each other are one record (cluster).
Clustering chains events above the threshold only, so candidates prefiltered at k give the same records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lakeqa.detectors.background import BackgroundParams, Threshold, threshold_of, threshold_values
from lakeqa.detectors.features import (
    BASELINE_COLD_START,
    ZSCORE_DETECTORS,
    anomaly_frame,
    cluster_events,
    features_json,
    sorted_features,
    to_json,
)
from lakeqa.detectors.labeler import label_zscore
from lakeqa.settings import project_default



@dataclass(frozen=True)
class ZScoreParams:
    # defaults: the settings zscore.k and jump.cooldown_seconds of dbt_project.yml (the settings of the
    # score itself, zscore.min_obs and zscore.sigma_floor_log_volume, reach the SQL of bar_scores)
    k: float = field(default_factory=lambda: float(project_default("zscore.k")))
    cooldown_seconds: float = field(default_factory=lambda: float(project_default("jump.cooldown_seconds")))

    @classmethod
    def from_vars(cls, zscore: Mapping | None, jump: Mapping | None = None) -> ZScoreParams:
        """From the settings group `zscore` (k) and jump.cooldown_seconds (seed 000's clustering, applied
        to every detector); a key not given takes its dbt_project.yml default."""
        v, j = dict(zscore or {}), dict(jump or {})
        return cls(
            k=float(v["k"] if "k" in v else project_default("zscore.k")),
            cooldown_seconds=float(
                j["cooldown_seconds"] if "cooldown_seconds" in j else project_default("jump.cooldown_seconds")
            ),
        )


def detect(scores: pd.DataFrame, params: ZScoreParams, table: Mapping | None = None) -> pd.DataFrame:
    """Raw hits: the rows of `scores` (bar_scores rows of the z-score detectors: symbol, ts, detector,
    feature, feature_value, trailing_n, trailing_center, trailing_scale, sigma, z, abs_z, scored and the bar's
    columns) that are scored and have |z| above the day's threshold (`table` from background.thresholds;
    None: zscore.k everywhere), sorted by (symbol, detector, ts)."""
    scores = sorted_features(scores[scores["detector"].isin(list(ZSCORE_DETECTORS))])
    hits = []
    for detector in ZSCORE_DETECTORS:
        rows = scores[(scores["detector"] == detector) & scores["scored"].astype(bool)].reset_index(drop=True)
        if rows.empty:
            continue
        limit = np.full(len(rows), params.k) if table is None else threshold_values(rows, detector, table)
        hits.append(rows.loc[rows["abs_z"].to_numpy(dtype=float) > limit])
    if not hits:
        return scores.iloc[0:0]
    out = pd.concat(hits, ignore_index=True)
    return out.sort_values(["symbol", "detector", "ts"], kind="mergesort").reset_index(drop=True)


def anomalies(scores: pd.DataFrame, params: ZScoreParams, table: Mapping | None = None,
              background: BackgroundParams | None = None) -> pd.DataFrame:  # fmt: skip
    """The `anomalies` records of the three z-score detectors (clustered within cooldown_seconds) from
    their bar_scores rows (`detect`)."""
    background = background or BackgroundParams()
    hits = cluster_events(detect(scores, params, table), params.cooldown_seconds)
    records = []
    for row in hits.to_dict("records"):
        threshold = (
            threshold_of(table, row["symbol"], row["ts"], row["detector"])
            if table is not None
            else Threshold(params.k, params.k, None, 0, BASELINE_COLD_START)
        )
        lab = label_zscore(
            row["detector"],
            z=row["z"],
            k=threshold.value,
            value=row["feature_value"],
            mean=row["trailing_center"],
            sigma=row["sigma"],
            n=row["trailing_n"],
            std=row["trailing_scale"],
            threshold_note=threshold.describe(background.margin),
            cluster=row["cluster"],
        )
        records.append(
            {
                "symbol": row["symbol"],
                "ts": row["ts"],
                "date": None,
                "detector": row["detector"],
                "label": lab.label,
                "rationale": lab.rationale,
                "confidence": lab.confidence,
                "score": row["abs_z"],
                "features": features_json(row, z_score=row["z"]),
                "cluster": to_json(row["cluster"]) if row["cluster"] else None,
                "baseline": threshold.baseline,
                "exceeds_background": threshold.exceeds_background,
            }
        )
    return anomaly_frame(records)
