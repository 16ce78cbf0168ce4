"""`JUMP`: a one-second return far outside the symbol's trailing return sigma, in a calm book.

An event is a bar with
  |return_1s| / sigma > k_sigma,   sigma = max(trailing-hour std of return_1s, one tick as a return),
where the trailing hour holds at least `min_obs` returns (the z-score detectors' var zscore.min_obs), and
only when the book is stable and the second is busy:
  spread_bp < spread_stable_bps (a bar without a fresh quote, spread NULL, is not excluded: the gate
  applies where the spread is known) and trade_count >= min_trade_count.

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

from lakeqa.detectors.features import (
    BASELINE_TRAILING_HOUR,
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


def jump_events(features: pd.DataFrame, params: JumpParams) -> pd.DataFrame:
    """The bars that are jump events, with `abs_z` and `sigma` added, sorted by (symbol, ts)."""
    features = sorted_features(features)
    r = features["return_1s"].to_numpy(dtype=float)
    n = features["return_1s_trailing_n"].to_numpy(dtype=float)
    std = features["return_1s_trailing_std"].to_numpy(dtype=float)
    tick = features["tick_bp"].to_numpy(dtype=float) / 1e4
    sigma = np.fmax(np.where(np.isfinite(std), std, 0.0), np.where(np.isfinite(tick), tick, 0.0))
    spread = features["spread_bp"].to_numpy(dtype=float)
    trades = features["trade_count"].to_numpy(dtype=float)
    scorable = np.isfinite(r) & (n >= params.min_obs) & (sigma > 0)
    with np.errstate(all="ignore"):
        abs_z = np.where(scorable, np.abs(r) / np.where(sigma > 0, sigma, 1.0), np.nan)
        calm_book = ~(spread >= params.spread_stable_bps)  # NULL/NaN spread: unknown, not excluded
        busy = trades >= params.min_trade_count
        is_event = scorable & (abs_z > params.k_sigma) & calm_book & busy
    events = features.loc[is_event].copy()
    events["abs_z"] = abs_z[is_event]
    events["sigma"] = sigma[is_event]
    return events.reset_index(drop=True)


def signed_z(row) -> float:
    """An event's return_1s / sigma, sign included (the detector thresholds its absolute value)."""
    return float(np.copysign(row["abs_z"], row["return_1s"]))


def anomalies(features: pd.DataFrame, params: JumpParams) -> pd.DataFrame:
    """The JUMP records (clustered) of the feature rows."""
    records = []
    for row in cluster_events(jump_events(features, params), params.cooldown_seconds).to_dict("records"):
        cluster = row["cluster"]
        lab = label_jump(
            abs_z=row["abs_z"],
            k_sigma=params.k_sigma,
            return_1s=row["return_1s"],
            sigma=row["sigma"],
            trade_count=row["trade_count"],
            spread_bp=row["spread_bp"],
            cluster=cluster,
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
                "baseline": BASELINE_TRAILING_HOUR,
                "exceeds_background": True,
            }
        )
    return anomaly_frame(records)
