"""`ZSCORE_<FEATURE>` detectors: a bar is flagged when its feature is more than `k` sigmas from the
symbol's trailing-hour mean (current bar excluded, statistics from `bar_features`), and the trailing
hour holds at least `min_obs` values.

Sigma floor. A feature that moves in ticks (a spread of one tick almost all the time, a VWAP drift of 0 in
one-trade seconds) has a tiny trailing standard deviation, and a plain z-score would fire on every
two-tick second. The sigma used is therefore max(trailing std, floor):

- spread_bp: floor = `tick_bp`, one price tick in basis points, estimated from the data as the smallest
  positive spread or |return| of the trailing hour (prices sit on a tick grid). A spread is flagged only
  when it is more than k ticks away from its trailing mean.
- vwap_drift_bp: floor = max(tick_bp, the trailing std of return_1s in bp). The drift of the close from
  the second's VWAP is a price move inside the second; most seconds hold one trade and a drift of exactly
  0, so the drift's own std is a poor scale for the few busy seconds: it is measured against the
  symbol's one-second price volatility (and never finer than a tick).
- log_volume: floor = setting zscore.sigma_floor_log_volume (dbt_project.yml: 0.35, i.e. ln 2 / 2): volume that stays
  within a factor exp(k * 0.35) ~ 5.8 of its trailing geometric mean never fires, whatever the lot size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lakeqa.detectors.features import (
    BASELINE_TRAILING_HOUR,
    ZSCORE_DETECTORS,
    anomaly_frame,
    features_json,
    sorted_features,
)
from lakeqa.detectors.labeler import label_zscore
from lakeqa.settings import project_default



@dataclass(frozen=True)
class ZScoreParams:
    # defaults: the settings zscore.* of dbt_project.yml
    k: float = field(default_factory=lambda: float(project_default("zscore.k")))
    min_obs: int = field(default_factory=lambda: int(project_default("zscore.min_obs")))
    window_s: int = field(default_factory=lambda: int(project_default("zscore.window_s")))
    sigma_floor_log_volume: float = field(
        default_factory=lambda: float(project_default("zscore.sigma_floor_log_volume"))
    )

    @classmethod
    def from_vars(cls, zscore: Mapping | None) -> ZScoreParams:
        """From the settings group `zscore` (k, min_obs, window_s, sigma_floor_log_volume); a key not given
        takes its dbt_project.yml default."""
        v = dict(zscore or {})

        def get(key):
            return v[key] if key in v else project_default(f"zscore.{key}")

        return cls(
            k=float(get("k")),
            min_obs=int(get("min_obs")),
            window_s=int(get("window_s")),
            sigma_floor_log_volume=float(get("sigma_floor_log_volume")),
        )


def sigma_floor(features: pd.DataFrame, feature: str, params: ZScoreParams) -> np.ndarray:
    """The per-row floor of the feature's sigma (0 where none is known)."""
    if feature in ("spread_bp", "vwap_drift_bp"):
        tick = features["tick_bp"].to_numpy(dtype=float)
        floor = np.where(np.isfinite(tick), tick, 0.0)
        if feature == "vwap_drift_bp":
            return_std_bp = features["return_1s_trailing_std"].to_numpy(dtype=float) * 1e4
            floor = np.fmax(floor, np.where(np.isfinite(return_std_bp), return_std_bp, 0.0))
        return floor
    if feature == "log_volume":
        return np.full(len(features), float(params.sigma_floor_log_volume))
    return np.zeros(len(features))


def zscores(features: pd.DataFrame, feature: str, params: ZScoreParams) -> tuple[np.ndarray, np.ndarray]:
    """-> (z, sigma) per row; z is NaN where the row cannot be scored (missing or non-finite value, fewer
    than min_obs trailing values, no positive sigma)."""
    x = features[feature].to_numpy(dtype=float)
    n = features[f"{feature}_trailing_n"].to_numpy(dtype=float)
    mean = features[f"{feature}_trailing_mean"].to_numpy(dtype=float)
    std = features[f"{feature}_trailing_std"].to_numpy(dtype=float)
    sigma = np.fmax(np.where(np.isfinite(std), std, 0.0), sigma_floor(features, feature, params))
    ok = np.isfinite(x) & np.isfinite(mean) & (n >= params.min_obs) & (sigma > 0)
    with np.errstate(all="ignore"):
        z = np.where(ok, (x - mean) / np.where(sigma > 0, sigma, 1.0), np.nan)
    return z, sigma


def detect(features: pd.DataFrame, params: ZScoreParams) -> pd.DataFrame:
    """Raw hits, one row per (bar, detector) with |z| > k: the bar's columns plus detector, feature, z,
    sigma, sorted by (symbol, ts, detector)."""
    features = sorted_features(features)
    hits = []
    for detector, feature in ZSCORE_DETECTORS.items():
        z, sigma = zscores(features, feature, params)
        with np.errstate(invalid="ignore"):
            mask = np.abs(z) > params.k
        if not mask.any():
            continue
        h = features.loc[mask].copy()
        h["detector"] = detector
        h["feature"] = feature
        h["z"] = z[mask]
        h["sigma"] = sigma[mask]
        hits.append(h)
    if not hits:
        return features.iloc[0:0].assign(detector=[], feature=[], z=[], sigma=[])
    out = pd.concat(hits, ignore_index=True)
    return out.sort_values(["symbol", "ts", "detector"], kind="mergesort").reset_index(drop=True)


def anomalies(features: pd.DataFrame, params: ZScoreParams) -> pd.DataFrame:
    """The `anomalies` records of the three z-score detectors."""
    hits = detect(features, params)
    records = []
    for row in hits.to_dict("records"):
        f = row["feature"]
        lab = label_zscore(
            row["detector"],
            z=row["z"],
            k=params.k,
            value=row[f],
            mean=row[f"{f}_trailing_mean"],
            sigma=row["sigma"],
            n=row[f"{f}_trailing_n"],
            std=row[f"{f}_trailing_std"],
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
                "score": abs(row["z"]),
                "features": features_json(row, z_score=row["z"]),
                "cluster": None,
                "baseline": BASELINE_TRAILING_HOUR,
                "exceeds_background": True,
            }
        )
    return anomaly_frame(records)
