"""`ZSCORE_<FEATURE>` detectors: a bar is flagged when its feature is more than the day's threshold
robust sigmas from the symbol's robust trailing-hour center, and the trailing hour holds at least
`min_obs` values.

Robust statistics (bar_features): the center is the median of the trailing 60 minutes' own means, the
scale the median of their standard deviations. One wild minute (a burst, or an event reported earlier)
moves neither, where it inflates a plain trailing mean and standard deviation for the whole next hour
and hides what follows.

Sigma floor. A feature that moves in ticks (a spread of one tick almost all the time, a VWAP drift of 0 in
one-trade seconds) has a tiny scale, and a plain z-score would fire on every two-tick second. The sigma
used is therefore max(robust scale, floor):

- spread_bp: floor = `tick_bp`, one price tick in basis points, estimated from the data as the smallest
  positive spread or |return| of the trailing hour (prices sit on a tick grid). A spread is flagged only
  when it is more than threshold ticks away from its trailing center.
- vwap_drift_bp: floor = max(tick_bp, the trailing bipower sigma of return_1s in bp). The drift of the
  close from the second's VWAP is a price move inside the second; most seconds hold one trade and a drift
  of exactly 0, so the drift's own scale is a poor one for the few busy seconds: it is measured against
  the symbol's one-second price volatility (and never finer than a tick).
- log_volume: floor = setting zscore.sigma_floor_log_volume (dbt_project.yml: 0.35, i.e. ln 2 / 2): volume
  that stays within a factor exp(k * 0.35) ~ 5.8 of its trailing center never fires, whatever the lot size.

Threshold: max(zscore.k, the background learned from the symbol's earlier days; lakeqa.detectors.background).
Records of one symbol and detector within jump.cooldown_seconds of each other are one record (cluster).
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
    # defaults: the settings zscore.* (and jump.cooldown_seconds) of dbt_project.yml
    k: float = field(default_factory=lambda: float(project_default("zscore.k")))
    min_obs: int = field(default_factory=lambda: int(project_default("zscore.min_obs")))
    window_s: int = field(default_factory=lambda: int(project_default("zscore.window_s")))
    sigma_floor_log_volume: float = field(
        default_factory=lambda: float(project_default("zscore.sigma_floor_log_volume"))
    )
    cooldown_seconds: float = field(default_factory=lambda: float(project_default("jump.cooldown_seconds")))

    @classmethod
    def from_vars(cls, zscore: Mapping | None, jump: Mapping | None = None) -> ZScoreParams:
        """From the settings group `zscore` (k, min_obs, window_s, sigma_floor_log_volume) and
        jump.cooldown_seconds (seed 000's clustering, applied to every detector); a key not given takes its
        dbt_project.yml default."""
        v, j = dict(zscore or {}), dict(jump or {})

        def get(key):
            return v[key] if key in v else project_default(f"zscore.{key}")

        return cls(
            k=float(get("k")),
            min_obs=int(get("min_obs")),
            window_s=int(get("window_s")),
            sigma_floor_log_volume=float(get("sigma_floor_log_volume")),
            cooldown_seconds=float(
                j["cooldown_seconds"] if "cooldown_seconds" in j else project_default("jump.cooldown_seconds")
            ),
        )


def sigma_floor(features: pd.DataFrame, feature: str, params: ZScoreParams) -> np.ndarray:
    """The per-row floor of the feature's sigma (0 where none is known)."""
    if feature in ("spread_bp", "vwap_drift_bp"):
        tick = features["tick_bp"].to_numpy(dtype=float)
        floor = np.where(np.isfinite(tick), tick, 0.0)
        if feature == "vwap_drift_bp":
            return_sigma_bp = features["return_1s_trailing_bipower_sigma"].to_numpy(dtype=float) * 1e4
            floor = np.fmax(floor, np.where(np.isfinite(return_sigma_bp), return_sigma_bp, 0.0))
        return floor
    if feature == "log_volume":
        return np.full(len(features), float(params.sigma_floor_log_volume))
    return np.zeros(len(features))


def zscores(features: pd.DataFrame, feature: str, params: ZScoreParams) -> tuple[np.ndarray, np.ndarray]:
    """-> (z, sigma) per row; z is NaN where the row cannot be scored (missing or non-finite value, fewer
    than min_obs trailing values, no positive sigma)."""
    x = features[feature].to_numpy(dtype=float)
    n = features[f"{feature}_trailing_n"].to_numpy(dtype=float)
    center = features[f"{feature}_trailing_center"].to_numpy(dtype=float)
    scale = features[f"{feature}_trailing_scale"].to_numpy(dtype=float)
    sigma = np.fmax(np.where(np.isfinite(scale), scale, 0.0), sigma_floor(features, feature, params))
    ok = np.isfinite(x) & np.isfinite(center) & (n >= params.min_obs) & (sigma > 0)
    with np.errstate(all="ignore"):
        z = np.where(ok, (x - center) / np.where(sigma > 0, sigma, 1.0), np.nan)
    return z, sigma


def scored(features: pd.DataFrame, params: ZScoreParams) -> pd.DataFrame:
    """Every bar each z-score detector scored: symbol, ts, detector, abs_z (the background's input)."""
    features = sorted_features(features)
    parts = []
    for detector, feature in ZSCORE_DETECTORS.items():
        z, _ = zscores(features, feature, params)
        ok = np.isfinite(z)
        parts.append(
            pd.DataFrame(
                {"symbol": features["symbol"].to_numpy()[ok], "ts": features["ts"].to_numpy()[ok],
                 "detector": detector, "abs_z": np.abs(z[ok])}
            )  # fmt: skip
        )
    return pd.concat(parts, ignore_index=True)


def detect(
    features: pd.DataFrame, params: ZScoreParams, table: Mapping | None = None
) -> pd.DataFrame:
    """Raw hits, one row per (bar, detector) with |z| above the day's threshold (`table` from
    background.thresholds; None: zscore.k everywhere): the bar's columns plus detector, feature, z, abs_z,
    sigma, threshold, sorted by (symbol, detector, ts)."""
    features = sorted_features(features)
    hits = []
    for detector, feature in ZSCORE_DETECTORS.items():
        z, sigma = zscores(features, feature, params)
        limit = np.full(len(features), params.k) if table is None else threshold_values(features, detector, table)
        with np.errstate(invalid="ignore"):
            mask = np.abs(z) > limit
        if not mask.any():
            continue
        h = features.loc[mask].copy()
        h["detector"] = detector
        h["feature"] = feature
        h["z"] = z[mask]
        h["abs_z"] = np.abs(z[mask])
        h["sigma"] = sigma[mask]
        hits.append(h)
    if not hits:
        return features.iloc[0:0].assign(detector=[], feature=[], z=[], abs_z=[], sigma=[])
    out = pd.concat(hits, ignore_index=True)
    return out.sort_values(["symbol", "detector", "ts"], kind="mergesort").reset_index(drop=True)


def anomalies(features: pd.DataFrame, params: ZScoreParams, table: Mapping | None = None,
              background: BackgroundParams | None = None) -> pd.DataFrame:  # fmt: skip
    """The `anomalies` records of the three z-score detectors (clustered within cooldown_seconds)."""
    background = background or BackgroundParams()
    hits = cluster_events(detect(features, params, table), params.cooldown_seconds)
    records = []
    for row in hits.to_dict("records"):
        f = row["feature"]
        threshold = (
            threshold_of(table, row["symbol"], row["ts"], row["detector"])
            if table is not None
            else Threshold(params.k, params.k, None, 0, BASELINE_COLD_START)
        )
        lab = label_zscore(
            row["detector"],
            z=row["z"],
            k=threshold.value,
            value=row[f],
            mean=row[f"{f}_trailing_center"],
            sigma=row["sigma"],
            n=row[f"{f}_trailing_n"],
            std=row[f"{f}_trailing_scale"],
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
                "score": abs(row["z"]),
                "features": features_json(row, z_score=row["z"]),
                "cluster": to_json(row["cluster"]) if row["cluster"] else None,
                "baseline": threshold.baseline,
                "exceeds_background": threshold.exceeds_background,
            }
        )
    return anomaly_frame(records)
