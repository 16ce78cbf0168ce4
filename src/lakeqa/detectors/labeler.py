"""The `rules` labeler: for every detector record a label, a rationale a person can read (with the
numbers), and a confidence in [0, 1] that rises monotonically with the record's score.

Confidence formulas (0.5 exactly at a detector's threshold, approaching 1 as the evidence grows):

- z-score and JUMP records (score = |z|, threshold k):  confidence = |z| / (|z| + k)
  e.g. k = 5: |z| = 5 -> 0.5, 10 -> 0.667, 20 -> 0.8, 45 -> 0.9.
- IFOREST records (score s = the isolation anomaly score in (0, 1], higher is more isolated; threshold t =
  the score at the contamination quantile):  confidence = clip(0.5 + 0.5 * (s - t) / (1 - t), 0, 1)
  i.e. linear from 0.5 at the threshold to 1 at the maximum possible score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

LABELER = "rules"

# detector -> (label when the z-score is positive, label when negative)
ZSCORE_LABELS: dict[str, tuple[str, str]] = {
    "ZSCORE_SPREAD_BP": ("wide_spread", "tight_spread"),
    "ZSCORE_LOG_VOLUME": ("volume_spike", "volume_drop"),
    "ZSCORE_VWAP_DRIFT_BP": ("vwap_drift", "vwap_drift"),
}
JUMP_LABEL = "price_jump"
IFOREST_LABEL = "multivariate_outlier"


@dataclass(frozen=True)
class Label:
    label: str
    rationale: str
    confidence: float


def z_confidence(abs_z, k: float):
    """|z| / (|z| + k): 0.5 at the threshold, -> 1 as |z| grows; 0 for |z| = 0. Works on arrays too."""
    a = np.abs(np.asarray(abs_z, dtype=float))
    out = a / (a + float(k))
    return float(out) if out.ndim == 0 else out


def iforest_confidence(score, threshold: float):
    """clip(0.5 + 0.5 * (s - t) / (1 - t), 0, 1): 0.5 at the threshold t, 1 at the maximum score 1."""
    s = np.asarray(score, dtype=float)
    span = max(1.0 - float(threshold), 1e-12)
    out = np.clip(0.5 + 0.5 * (s - float(threshold)) / span, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def _num(x, fmt: str = ".6g") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return format(float(x), fmt)


def _hms(ts) -> str:
    return pd.Timestamp(ts).strftime("%H:%M:%S")


def label_zscore(
    detector: str,
    z: float,
    k: float,
    value: float,
    mean: float,
    sigma: float,
    n: int,
    std: float | None = None,
    threshold_note: str | None = None,
    cluster: Mapping | None = None,
) -> Label:
    """A z-score record: e.g. "spread_bp z-score 8.30 exceeds threshold 5.0 in absolute value (value 12.5
    vs trailing-hour center 2.1, sigma 1.25 over 2805 bars)". `mean` is the robust trailing center,
    `sigma` the sigma used (after the floor), `std` the robust trailing scale when the floor raised it;
    `threshold_note` says where the threshold came from (lakeqa.detectors.background)."""
    feature = detector.removeprefix("ZSCORE_").lower()
    up, down = ZSCORE_LABELS[detector]
    floor_note = ""
    if std is not None and np.isfinite(std) and sigma > std:
        floor_note = f", floored from the robust scale {_num(std)}"
    rationale = (
        f"{feature} z-score {z:.2f} exceeds threshold {float(k):.3g} in absolute value (value {_num(value)} vs "
        f"trailing-hour center {_num(mean)}, sigma {_num(sigma)}{floor_note}, over {int(n)} bars)"
    )
    if threshold_note:
        rationale += f"; {threshold_note}"
    rationale += cluster_note(cluster)
    return Label(up if z >= 0 else down, rationale, z_confidence(abs(z), k))


def label_jump(
    abs_z: float,
    k_sigma: float,
    return_1s: float,
    sigma: float,
    trade_count: int,
    spread_bp: float | None,
    cluster: Mapping | None = None,
    threshold_note: str | None = None,
) -> Label:
    """A JUMP record: e.g. "return_1s +1.49% is 162.31 trailing sigmas (sigma 0.92 bp), above threshold
    6.8; 10 trades, spread 0.0016 bp; cluster of 3 events 12:00:54-12:00:57 UTC, max |z| 170.2"."""
    spread = (
        "unknown (no fresh quote)"
        if spread_bp is None or not np.isfinite(spread_bp)
        else f"{_num(spread_bp, '.4g')} bp"
    )
    rationale = (
        f"return_1s {return_1s * 100:+.4g}% is {abs_z:.2f} trailing-hour bipower sigmas (sigma "
        f"{sigma * 1e4:.4g} bp), above threshold {float(k_sigma):.3g}; {int(trade_count)} trades, spread {spread}"
    )
    if threshold_note:
        rationale += f"; {threshold_note}"
    rationale += cluster_note(cluster)
    return Label(JUMP_LABEL, rationale, z_confidence(abs_z, k_sigma))


def cluster_note(cluster: Mapping | None) -> str:
    if not cluster:
        return ""
    top = cluster.get("max_abs_z", cluster.get("max_score"))
    name = "max |z|" if "max_abs_z" in cluster else "max score"
    return (
        f"; cluster of {int(cluster['count'])} events {_hms(cluster['start_ts'])}-{_hms(cluster['end_ts'])} UTC, "
        f"{name} {float(top):.3g}"
    )


def label_iforest(score: float, threshold: float, contamination, top_feature: str, top_value: float) -> Label:
    """An IFOREST record: e.g. "isolation score 0.712 exceeds threshold 0.634 (contamination 0.005); most
    unusual feature log_volume at +7.40 standard deviations from the symbol's mean"."""
    rationale = (
        f"isolation score {score:.3f} exceeds threshold {threshold:.3f} (contamination {contamination}); "
        f"most unusual feature {top_feature} at {top_value:+.2f} standard deviations from the symbol's mean"
    )
    return Label(IFOREST_LABEL, rationale, iforest_confidence(score, threshold))
