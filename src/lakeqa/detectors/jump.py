"""`JUMP`: a one-second return far outside the symbol's trailing return sigma, in a calm book.

An event is a bar with
  |return_1s| / sigma > threshold,   sigma = max(trailing-hour bipower sigma of return_1s, one tick),
threshold = max(k_sigma, the background learned from the symbol's earlier days: lakeqa.detectors.background),
where the trailing hour holds at least `min_obs` returns (the z-score detectors' var zscore.min_obs), and
only when the book is stable and the second is busy:
  spread_bp < spread_stable_bps (a bar without a fresh quote, spread NULL, is not excluded: the gate
  applies where the spread is known) and trade_count >= min_trade_count.

The bipower sigma, sqrt(pi/2 x mean |r_t| |r_t-1|) over the trailing hour (bar_features), estimates the
returns' diffusive variance: a jump enters two of its terms, each a jump times an ordinary return, where
it enters the variance squared and would hide every jump of the next hour (Barndorff-Nielsen & Shephard
2004; Lee & Mykland 2008 test returns against it).

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
    # defaults: the settings jump.* (and zscore.min_obs) of dbt_project.yml
    k_sigma: float = field(default_factory=lambda: float(project_default("jump.k_sigma")))
    spread_stable_bps: float = field(default_factory=lambda: float(project_default("jump.spread_stable_bps")))
    cooldown_seconds: float = field(default_factory=lambda: float(project_default("jump.cooldown_seconds")))
    min_trade_count: int = field(default_factory=lambda: int(project_default("jump.min_trade_count")))
    min_obs: int = field(default_factory=lambda: int(project_default("zscore.min_obs")))

    @classmethod
    def from_vars(cls, jump: Mapping | None, zscore: Mapping | None = None) -> JumpParams:
        """From the dbt vars `jump` (k_sigma, spread_stable_bps, cooldown_seconds, min_trade_count) and
        `zscore` (min_obs)."""
        j, z = dict(jump or {}), dict(zscore or {})

        def get(key):
            return j[key] if key in j else project_default(f"jump.{key}")

        return cls(
            k_sigma=float(get("k_sigma")),
            spread_stable_bps=float(get("spread_stable_bps")),
            cooldown_seconds=float(get("cooldown_seconds")),
            min_trade_count=int(get("min_trade_count")),
            min_obs=int(z["min_obs"] if "min_obs" in z else project_default("zscore.min_obs")),
        )


def jump_scores(features: pd.DataFrame, params: JumpParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (abs_z, sigma, gated) per row of `features` (sorted as given): abs_z = |return_1s| / sigma with
    sigma = max(trailing bipower sigma, one tick as a return), NaN where not scorable; `gated`: scorable
    and the seed's gates hold (a calm book, a busy second)."""
    r = features["return_1s"].to_numpy(dtype=float)
    n = features["return_1s_trailing_n"].to_numpy(dtype=float)
    bipower = features["return_1s_trailing_bipower_sigma"].to_numpy(dtype=float)
    tick = features["tick_bp"].to_numpy(dtype=float) / 1e4
    sigma = np.fmax(np.where(np.isfinite(bipower), bipower, 0.0), np.where(np.isfinite(tick), tick, 0.0))
    spread = features["spread_bp"].to_numpy(dtype=float)
    trades = features["trade_count"].to_numpy(dtype=float)
    scorable = np.isfinite(r) & (n >= params.min_obs) & (sigma > 0)
    with np.errstate(all="ignore"):
        abs_z = np.where(scorable, np.abs(r) / np.where(sigma > 0, sigma, 1.0), np.nan)
        calm_book = ~(spread >= params.spread_stable_bps)  # NULL/NaN spread: unknown, not excluded
        busy = trades >= params.min_trade_count
    return abs_z, sigma, scorable & calm_book & busy


def scored(features: pd.DataFrame, params: JumpParams) -> pd.DataFrame:
    """Every bar JUMP scored (its gates passed): symbol, ts, detector, abs_z (the background's input)."""
    features = sorted_features(features)
    abs_z, _, gated = jump_scores(features, params)
    return pd.DataFrame(
        {"symbol": features["symbol"].to_numpy()[gated], "ts": features["ts"].to_numpy()[gated],
         "detector": "JUMP", "abs_z": abs_z[gated]}
    )  # fmt: skip


def jump_events(features: pd.DataFrame, params: JumpParams, table: Mapping | None = None) -> pd.DataFrame:
    """The bars that are jump events (|z| above the day's threshold: `table` from background.thresholds,
    None: k_sigma everywhere), with `abs_z` and `sigma` added, sorted by (symbol, ts)."""
    features = sorted_features(features)
    abs_z, sigma, gated = jump_scores(features, params)
    limit = np.full(len(features), params.k_sigma) if table is None else threshold_values(features, "JUMP", table)
    with np.errstate(invalid="ignore"):
        is_event = gated & (abs_z > limit)
    events = features.loc[is_event].copy()
    events["abs_z"] = abs_z[is_event]
    events["sigma"] = sigma[is_event]
    return events.reset_index(drop=True)


def signed_z(row) -> float:
    """An event's return_1s / sigma, sign included (the detector thresholds its absolute value)."""
    return float(np.copysign(row["abs_z"], row["return_1s"]))


def anomalies(features: pd.DataFrame, params: JumpParams, table: Mapping | None = None,
              background: BackgroundParams | None = None) -> pd.DataFrame:  # fmt: skip
    """The JUMP records (clustered) of the feature rows."""
    background = background or BackgroundParams()
    records = []
    for row in cluster_events(jump_events(features, params, table), params.cooldown_seconds).to_dict("records"):
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
                # signed: the direction of the jump (abs_z is |return_1s| / sigma); the first event's
                "features": features_json(row, z_score=signed_z(row)),
                "cluster": to_json(cluster) if cluster else None,
                "baseline": threshold.baseline,
                "exceeds_background": threshold.exceeds_background,
            }
        )
    return anomaly_frame(records)
