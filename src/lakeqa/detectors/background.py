"""The background of the z-score and JUMP detectors, learned from the symbol's own earlier days.

A clean market is not Gaussian: 1-second returns are fat-tailed and come in bursts, and a detector that
tests every second of a day (86 400 tests) with a fixed k finds "events" on every busy clean day. Under
Gaussian returns the Lee-Mykland extreme-value critical value for 86 400 tests at a 1 % false-alarm
rate is about 5.4 sigmas, below the seed's k_sigma 6.8; real and realistic generated markets put the
day's largest clean |z| of a busy symbol far above both (15-30 sigmas). So the threshold of a detector
on a symbol-day is

    threshold = max(k, background_margin x median over the training days of the day's largest |z|)

- k: the seed's threshold (zscore.k, jump.k_sigma), the floor that holds on quiet symbols.
- the day's largest |z|: over the symbol's bars that the detector scored (its gates passed), leaving out
  bars with a violation; stored per symbol, day and detector in the mart `detector_background`.
- training days: the symbol's last detectors.training_days days before the judged day that have a
  stored row and are eligible (no critical violation, not certain to FAIL: detector_training_days).
  The median of their maxima is robust: a real event on one of them (a jump is itself that day's
  maximum) does not move it, so past anomalies do not teach the detector to ignore the next ones.
- fewer than detectors.min_training_days such days: a cold start, threshold k alone, and the records say
  so (baseline `cold_start`, exceeds_background false: without history the background is not known).

Every record above a learned threshold exceeds the background by construction (baseline `history`,
exceeds_background true). For the daily maximum of n exchangeable clean days, a clean day's own maximum
exceeds margin x the median of the others only on the far tail of its distribution (measured: README).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lakeqa.detectors.features import BASELINE_COLD_START, BASELINE_HISTORY
from lakeqa.settings import project_default

# the columns of detector_extremes and of the mart detector_background (models/detectors/detector_extremes.sql)
BACKGROUND_COLUMNS: list[str] = ["symbol", "date", "detector", "n_scored", "max_abs_z"]


@dataclass(frozen=True)
class BackgroundParams:
    # defaults: the settings detectors.* of dbt_project.yml
    training_days: int = field(default_factory=lambda: int(project_default("detectors.training_days")))
    min_training_days: int = field(default_factory=lambda: int(project_default("detectors.min_training_days")))
    margin: float = field(default_factory=lambda: float(project_default("detectors.background_margin")))

    @classmethod
    def from_vars(cls, detectors: Mapping | None) -> BackgroundParams:
        v = dict(detectors or {})

        def get(key):
            return v[key] if key in v else project_default(f"detectors.{key}")

        params = cls(
            training_days=int(get("training_days")),
            min_training_days=int(get("min_training_days")),
            margin=float(get("background_margin")),
        )
        if params.training_days < 1 or not 1 <= params.min_training_days <= params.training_days:
            raise ValueError(
                "detectors.training_days must be >= 1 and detectors.min_training_days between 1 and it, got "
                f"{params.training_days} and {params.min_training_days}"
            )
        if params.margin <= 0:
            raise ValueError(f"detectors.background_margin must be > 0, got {params.margin}")
        return params


@dataclass(frozen=True)
class Threshold:
    value: float  # the threshold applied
    k: float  # the seed's floor
    bound: float | None  # margin x median of the training days' maxima; None at a cold start
    training_days: int  # how many days the bound was learned from
    baseline: str  # history | cold_start

    @property
    def exceeds_background(self) -> bool:
        return self.bound is not None

    def describe(self, margin: float) -> str:
        if self.bound is None:
            return (
                f"threshold {self.k:g} (cold start: fewer than the clean earlier days needed to learn this "
                "symbol's background)"
            )
        return (
            f"threshold {self.value:.3g} = max(k {self.k:g}, {margin:g} x the median of the largest clean "
            f"|z| of {self.training_days} earlier days)"
        )


def thresholds(
    history: pd.DataFrame,
    judged: pd.DataFrame,
    k_by_detector: Mapping[str, float],
    params: BackgroundParams,
    eligible_days: pd.DataFrame | None = None,
) -> dict[tuple[str, pd.Timestamp, str], Threshold]:
    """The threshold of every (symbol, judged day, detector).

    `history`: rows of detector_background (symbol, date, detector, n_scored, max_abs_z), any days.
    `judged`: symbol, date of the symbol-days to judge. `eligible_days`: symbol, date of the days allowed
    in training (None: every stored day)."""
    hist = history[history["n_scored"] > 0].copy() if len(history) else history.copy()
    if len(hist):
        hist["date"] = pd.to_datetime(hist["date"]).astype("datetime64[us]")
        if eligible_days is not None:
            # (a day eligible for several judged days is listed once per judged day: once is enough)
            ok = eligible_days[["symbol", "date"]].drop_duplicates().assign(
                date=lambda d: pd.to_datetime(d["date"]).astype("datetime64[us]"), _ok=True
            )
            hist = hist.merge(ok, on=["symbol", "date"], how="left")
            hist = hist[hist["_ok"].notna()].drop(columns="_ok")
    by_key = {key: g.sort_values("date") for key, g in hist.groupby(["symbol", "detector"], sort=True)} if len(hist) else {}
    out: dict[tuple[str, pd.Timestamp, str], Threshold] = {}
    days = judged[["symbol", "date"]].drop_duplicates()
    for symbol, day in zip(days["symbol"], pd.to_datetime(days["date"]).dt.floor("D"), strict=True):
        day = pd.Timestamp(day)
        for detector, k in k_by_detector.items():
            g = by_key.get((symbol, detector))
            maxima = np.array([])
            if g is not None:
                earlier = g[(g["date"] < day) & (g["date"] >= day - pd.Timedelta(days=params.training_days))]
                maxima = earlier["max_abs_z"].to_numpy(dtype=float)
                maxima = maxima[np.isfinite(maxima)]
            if len(maxima) >= params.min_training_days:
                bound = params.margin * float(np.median(maxima))
                out[(symbol, day, detector)] = Threshold(max(float(k), bound), float(k), bound, len(maxima),
                                                         BASELINE_HISTORY)  # fmt: skip
            else:
                out[(symbol, day, detector)] = Threshold(float(k), float(k), None, len(maxima), BASELINE_COLD_START)
    return out


def threshold_values(
    features: pd.DataFrame, detector: str, table: Mapping[tuple[str, pd.Timestamp, str], Threshold]
) -> np.ndarray:
    """Per row of `features` (symbol, ts): the threshold of `detector` on the row's day (+inf where the
    table has none: nothing is flagged there)."""
    keys = [(s, d) for (s, d, det) in table if det == detector]
    if not keys or features.empty:
        return np.full(len(features), np.inf)
    lookup = pd.DataFrame(
        {
            "symbol": pd.Series([s for s, _ in keys], dtype="object"),
            "day": pd.Series([d for _, d in keys], dtype="datetime64[us]"),
            "threshold": [table[(s, d, detector)].value for s, d in keys],
        }
    )
    rows = pd.DataFrame(
        {"symbol": features["symbol"].to_numpy(dtype=object), "day": pd.to_datetime(features["ts"]).dt.floor("D").astype("datetime64[us]")}
    )
    merged = rows.merge(lookup, on=["symbol", "day"], how="left")
    return merged["threshold"].fillna(np.inf).to_numpy(dtype=float)


def threshold_of(
    table: Mapping[tuple[str, pd.Timestamp, str], Threshold], symbol: str, ts, detector: str
) -> Threshold:
    return table[(symbol, pd.Timestamp(ts).floor("D"), detector)]
