"""The detectors' shared vocabulary: feature names, the `bar_features` columns, a pandas reference
implementation of that model (for tests and for checking the SQL), and the `anomalies` record shape
(JSON text of features and clusters, ISO-8601 UTC timestamps, rounded floats).

Feature definitions (one row per symbol and 1-second bar; identical to models/intermediate/detectors):

- ``spread_bp``      the bar's ``spread_bps``: (ask - bid) / mid * 1e4 of the book at the end of the second
                     (NULL when there is no fresh quote).
- ``log_volume``     ln(volume_base); NULL when volume_base <= 0.
- ``vwap_drift_bp``  (close - vwap) / vwap * 1e4: how far the second's last trade ended from the second's
                     volume-weighted price (0 for a one-trade second); NULL when vwap is NULL or 0.
- ``return_1s``      ln(close / previous close), the previous bar being the symbol's latest earlier bar if it
                     is at most ``window_s`` old (a thin symbol's return spans the seconds without trades);
                     NULL when there is none, or a close is <= 0.

Every feature is then rounded to a fixed-point grid (GRID_UNITS units per feature unit: 1e-6 bp, 1e-6 for
log_volume, 1e-10 for return_1s): the SQL sums exact integers of these units, and the grid absorbs the
last-bit noise of the bars' floating-point sums, so rebuilds give identical features.

Trailing statistics, per symbol and feature, with the current bar excluded: the bars of the
``ceil(window_s / 60)`` whole minutes before the bar's minute, i.e. ``[minute(ts) - lookback, minute(ts))``
(every bar of a minute shares them; the bar's own minute is left out, so a burst is judged against the
hour before it, not partly against itself). ``*_trailing_n`` counts the finite values,
``*_trailing_mean`` is their mean, ``*_trailing_std`` their sample standard deviation (n - 1).

Robust trailing statistics of the z-score features (spread_bp, log_volume, vwap_drift_bp), over the whole
minutes ``[minute(ts) - lookback, minute(ts))``: ``*_trailing_center`` is the median of those minutes' own
means, ``*_trailing_scale`` the median of their own sample standard deviations (minutes with two values
or more). ``return_1s_trailing_bipower_sigma``: sqrt(pi / 2 x the mean of |r_t| x |r_t-1|) over the same
window as the other trailing statistics, r_t-1 being the previous bar's return (defined as return_1s).

``tick_bp``: the smallest positive spread_bp or |return_1s| in bp over the whole minutes
``[minute(ts) - lookback, minute(ts))``: an estimate of one price tick in basis points, used as the floor of
the sigmas of features that move in ticks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime

import numpy as np
import pandas as pd

FEATURES: tuple[str, ...] = ("spread_bp", "log_volume", "vwap_drift_bp", "return_1s")
ZSCORE_FEATURES: tuple[str, ...] = ("spread_bp", "log_volume", "vwap_drift_bp")

# detector name -> the feature it z-scores
# feature -> fixed-point units per feature unit (the grid of models/intermediate/detectors/bar_features)
GRID_UNITS: dict[str, float] = {"spread_bp": 1e6, "log_volume": 1e6, "vwap_drift_bp": 1e6, "return_1s": 1e10}

ZSCORE_DETECTORS: dict[str, str] = {
    "ZSCORE_SPREAD_BP": "spread_bp",
    "ZSCORE_LOG_VOLUME": "log_volume",
    "ZSCORE_VWAP_DRIFT_BP": "vwap_drift_bp",
}

FEATURE_COLUMNS: list[str] = [
    "symbol",
    "ts",
    "date",
    "close",
    "trade_count",
    *FEATURES,
    "has_nonfinite_value",
    *[f"{f}_trailing_{stat}" for f in FEATURES for stat in ("n", "mean", "std")],
    *[f"{f}_trailing_{stat}" for f in ZSCORE_FEATURES for stat in ("center", "scale")],
    "return_1s_trailing_bipower_sigma",
    "tick_bp",
]

ANOMALY_COLUMNS: list[str] = [
    "symbol",
    "ts",
    "date",
    "detector",
    "label",
    "rationale",
    "confidence",
    "score",
    "features",
    "cluster",
    "baseline",
    "exceeds_background",
]

# `baseline` of a record: where the detector's reference came from. `history`: the symbol's clean earlier
# days (IFOREST: a forest fitted on their bars; z-scores and JUMP: a threshold learned from them);
# `cold_start`: no such days yet (IFOREST fitted on the judged day itself; z-scores and JUMP at k alone).
BASELINE_HISTORY = "history"
BASELINE_COLD_START = "cold_start"
BASELINES: tuple[str, ...] = (BASELINE_HISTORY, BASELINE_COLD_START)

# Floats in the JSON text keep this many significant digits; score and confidence this many decimals.
JSON_SIGNIFICANT_DIGITS = 8
SCORE_DECIMALS = 6


# --------------------------------------------------------------------------------------------- records
def iso_utc(ts) -> str:
    """A naive-UTC (or tz-aware) timestamp as ISO-8601 UTC text: 2024-08-09T12:00:54Z (with .ffffff when
    the timestamp has microseconds)."""
    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond or t.nanosecond:
        text += f".{t.microsecond:06d}"
    return text + "Z"


def round_sig(x, digits: int = JSON_SIGNIFICANT_DIGITS):
    """A float rounded to `digits` significant digits for JSON; None for NULL, NaN and infinities (JSON has
    no NaN), ints stay ints."""
    if x is None or x is pd.NA:
        return None
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    x = float(x)
    if not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return float(f"{x:.{digits}g}")


def to_json(obj: Mapping) -> str:
    """Deterministic JSON text: keys in the given order, floats rounded, timestamps as ISO-8601 UTC."""

    def conv(v):
        if isinstance(v, Mapping):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, datetime | pd.Timestamp | np.datetime64):
            return iso_utc(v)
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, str):
            return v
        return round_sig(v)

    return json.dumps(conv(obj), separators=(", ", ": "), allow_nan=False)


def features_json(row: Mapping, z_score: float | None = None) -> str:
    """The bar's features as JSON text (the four features plus the trade count that gates JUMP), and, for
    the records of the z-score and jump detectors, ``z_score``: the seed's contract gives every such
    record its signed z (a z-score record's z of its feature, JUMP's return_1s / sigma). IFOREST records
    have no single z and leave it out."""
    fields = {f: row.get(f) for f in (*FEATURES, "trade_count")}
    if z_score is not None:
        fields["z_score"] = z_score
    return to_json(fields)


def empty_anomalies() -> pd.DataFrame:
    """An `anomalies` frame without rows, with the column types the SQL mart casts to."""
    return pd.DataFrame(
        {
            "symbol": pd.Series([], dtype="object"),
            "ts": pd.Series([], dtype="datetime64[us]"),
            "date": pd.Series([], dtype="datetime64[us]"),
            "detector": pd.Series([], dtype="object"),
            "label": pd.Series([], dtype="object"),
            "rationale": pd.Series([], dtype="object"),
            "confidence": pd.Series([], dtype="float64"),
            "score": pd.Series([], dtype="float64"),
            "features": pd.Series([], dtype="object"),
            "cluster": pd.Series([], dtype="object"),
            "baseline": pd.Series([], dtype="object"),
            "exceeds_background": pd.Series([], dtype="bool"),
        }
    )


def anomaly_frame(records: Iterable[Mapping]) -> pd.DataFrame:
    """Records (dicts with the ANOMALY_COLUMNS keys) -> a frame sorted by (symbol, ts, detector), with
    score and confidence rounded, so that the same input always gives the same bytes."""
    records = list(records)
    if not records:
        return empty_anomalies()
    df = pd.DataFrame.from_records(records, columns=ANOMALY_COLUMNS)
    df["ts"] = pd.to_datetime(df["ts"]).astype("datetime64[us]")
    df["date"] = df["ts"].dt.normalize()
    df["score"] = df["score"].astype("float64").round(SCORE_DECIMALS)
    df["confidence"] = df["confidence"].astype("float64").round(SCORE_DECIMALS)
    df["exceeds_background"] = df["exceeds_background"].astype("bool")
    df = df.sort_values(["symbol", "ts", "detector"], kind="mergesort").reset_index(drop=True)
    return df[ANOMALY_COLUMNS]


def cluster_events(
    events: pd.DataFrame, cooldown_seconds: float, score: str = "abs_z", max_key: str = "max_abs_z"
) -> pd.DataFrame:
    """Merge chained events of one symbol and detector within `cooldown_seconds` (<=) of the previous event
    of the current cluster (seed 000: 12:00:54, :55, :57 with cooldown 5 make one cluster; a gap of 6 s
    starts a new one): one row per record, the FIRST event's columns, with `cluster` added: a dict
    {count, start_ts, end_ts, <max_key>: the largest `score`} for two or more events, None for a lone
    event. `cooldown_seconds` 0 disables clustering.

    `events` needs symbol, ts and `score`; a `detector` column, when present, keeps detectors apart."""
    keys = ["symbol", "detector"] if "detector" in events.columns else ["symbol"]
    events = events.sort_values([*keys, "ts"], kind="mergesort").reset_index(drop=True)
    if events.empty:
        return events.assign(cluster=pd.Series([], dtype="object"))
    if cooldown_seconds <= 0:
        return events.assign(cluster=[None] * len(events))
    ts = pd.to_datetime(events["ts"]).astype("datetime64[us]").to_numpy()
    same = np.ones(len(events) - 1, dtype=bool)
    for key in keys:
        k = events[key].to_numpy()
        same &= k[1:] == k[:-1]
    gap = np.diff(ts) / np.timedelta64(1, "us") / 1e6
    joins_previous = np.r_[False, same & (gap <= cooldown_seconds)]
    values = events[score].to_numpy(dtype=float)
    starts = np.flatnonzero(~joins_previous)
    ends = np.r_[starts[1:], len(events)]
    firsts = events.iloc[starts].reset_index(drop=True)
    clusters = []
    for first, stop in zip(starts, ends, strict=True):
        count = int(stop - first)
        clusters.append(
            {
                "count": count,
                "start_ts": pd.Timestamp(ts[first]),
                "end_ts": pd.Timestamp(ts[stop - 1]),
                max_key: float(np.max(values[first:stop])),
            }
            if count > 1
            else None
        )
    return firsts.assign(cluster=clusters)


def sorted_features(features: pd.DataFrame) -> pd.DataFrame:
    """The feature rows in (symbol, ts) order with a fresh index: every detector starts from this, so its
    output does not depend on the order in which the database returned the rows."""
    df = features.sort_values(["symbol", "ts"], kind="mergesort").reset_index(drop=True)
    df["ts"] = pd.to_datetime(df["ts"]).astype("datetime64[us]")
    return df


def load_columns(relation, columns) -> pd.DataFrame:
    """The given columns of a DuckDB relation (a dbt.ref() in a Python model) as a pandas DataFrame."""
    return relation.project(", ".join(f'"{c}"' for c in columns)).df()


def as_bool(value) -> bool:
    """A dbt var as a boolean: true/false, 1/0, yes/no, on/off (strings from the command line too)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "y", "on"):
            return True
        if text in ("false", "0", "no", "n", "off", "", "none", "null"):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


# ---------------------------------------------------------------------- reference implementation (pandas)
def bar_features(bars: pd.DataFrame, window_s: int = 3600, start=None) -> pd.DataFrame:
    """The `bar_features` rows computed in pandas from `bars_1s`-shaped rows (symbol, ts, open, high,
    low, close, volume_base, vwap, spread_bps, trade_count). Rows before `start` serve as lookback only.

    This is the specification the SQL model is checked against, and what the module tests feed the
    detectors with; it is not used in production (the SQL model computes the same columns in DuckDB).
    """
    lookback = pd.Timedelta(minutes=(int(window_s) + 59) // 60)
    bars = bars.copy()
    bars["ts"] = pd.to_datetime(bars["ts"]).astype("datetime64[us]")
    for col in ("open", "high", "low"):
        if col not in bars:
            bars[col] = bars["close"]
    if "vwap" not in bars:
        bars["vwap"] = bars["close"]
    if "spread_bps" not in bars:
        bars["spread_bps"] = np.nan
    if "trade_count" not in bars:
        bars["trade_count"] = 1
    out = []
    for _, g in bars.sort_values(["symbol", "ts"], kind="mergesort").groupby("symbol", sort=True):
        g = g.reset_index(drop=True)
        out.append(_symbol_features(g, int(window_s), lookback))
    df = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=FEATURE_COLUMNS)
    if start is not None:
        df = df[df["ts"] >= pd.Timestamp(start)].reset_index(drop=True)
    return df[FEATURE_COLUMNS]


def _symbol_features(g: pd.DataFrame, window_s: int, lookback: pd.Timedelta) -> pd.DataFrame:
    ts = g["ts"].to_numpy()
    close = g["close"].to_numpy(dtype=float)
    vol = g["volume_base"].to_numpy(dtype=float)
    vwap = g["vwap"].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        # like DuckDB, where NaN > 0 is true: a NaN volume gives a NaN (not a NULL) log_volume
        log_volume = np.where((vol > 0) | np.isnan(vol), np.log(np.where(vol > 0, vol, 1.0)), np.nan)
        log_volume = np.where(np.isnan(vol), np.nan, log_volume)
        vwap_drift = np.where(vwap != 0, (close - vwap) / vwap * 1e4, np.nan)
        prev_close = np.r_[np.nan, close[:-1]]
        prev_ts = np.r_[np.datetime64("NaT"), ts[:-1]].astype("datetime64[us]")
        recent = (ts - prev_ts) <= np.timedelta64(window_s, "s")
        ok = recent & ~(close <= 0) & ~(prev_close <= 0) & ~np.isnan(prev_close)
        ret = np.where(ok, np.log(close / np.where(ok, prev_close, 1.0)), np.nan)
        # the previous bar's return (NaN for the first bar, or when that bar's own return is undefined or
        # it is more than window_s before this bar)
        prev_ret = np.where(recent, np.r_[np.nan, ret[:-1]], np.nan)
    df = pd.DataFrame(
        {
            "symbol": g["symbol"].to_numpy(),
            "ts": g["ts"].to_numpy(),
            "date": g["ts"].dt.normalize().to_numpy(),
            "close": close,
            "trade_count": g["trade_count"].to_numpy(),
            "spread_bp": g["spread_bps"].to_numpy(dtype=float),
            "log_volume": log_volume,
            "vwap_drift_bp": vwap_drift,
            "return_1s": ret,
        }
    )
    for f in FEATURES:
        df[f] = np.round(df[f].to_numpy(dtype=float) * GRID_UNITS[f]) / GRID_UNITS[f]
    # pandas cannot tell NULL from NaN: here a NaN price or volume counts as non-finite (bars built from
    # trades never have NULL ones), a NaN vwap or spread as NULL (no volume, no fresh quote)
    prices = g[["open", "high", "low", "close", "volume_base"]].to_numpy(dtype=float)
    others = g[["vwap", "spread_bps"]].to_numpy(dtype=float)
    df["has_nonfinite_value"] = (~np.isfinite(prices)).any(axis=1) | np.isinf(others).any(axis=1)
    minute = g["ts"].dt.floor("min")
    lo = np.searchsorted(ts, (minute - lookback).to_numpy(), side="left")
    hi = np.searchsorted(ts, minute.to_numpy(), side="left")  # the bar's minute's first bar: [lo, hi)
    for f in FEATURES:
        x = df[f].to_numpy(dtype=float)
        fin = np.isfinite(x)
        c_n = np.r_[0, np.cumsum(fin)]
        c_s = np.r_[0.0, np.cumsum(np.where(fin, x, 0.0))]
        c_q = np.r_[0.0, np.cumsum(np.where(fin, x * x, 0.0))]
        n = c_n[hi] - c_n[lo]
        s = c_s[hi] - c_s[lo]
        q = c_q[hi] - c_q[lo]
        with np.errstate(all="ignore"):
            mean = np.where(n > 0, s / np.maximum(n, 1), np.nan)
            var = np.where(n > 1, (q - s * s / np.maximum(n, 1)) / np.maximum(n - 1, 1), np.nan)
        df[f"{f}_trailing_n"] = n.astype("int64")
        df[f"{f}_trailing_mean"] = mean
        df[f"{f}_trailing_std"] = np.sqrt(np.maximum(var, 0.0))
    # robust statistics: medians of the trailing whole minutes' own means and standard deviations
    minute_index = minute.to_numpy()
    for f in ZSCORE_FEATURES:
        per_minute = pd.DataFrame({"minute": minute_index, "x": df[f].to_numpy(dtype=float)})
        per_minute = per_minute[np.isfinite(per_minute["x"])]
        stats = per_minute.groupby("minute")["x"].agg(["count", "mean", "std"])
        stats["std"] = stats["std"].where(stats["count"] > 1)
        all_minutes = pd.Series(index=pd.DatetimeIndex(np.unique(minute_index)), dtype=float)
        center = stats["mean"].reindex(all_minutes.index).rolling(lookback, closed="left").median()
        scale = stats["std"].reindex(all_minutes.index).rolling(lookback, closed="left").median()
        df[f"{f}_trailing_center"] = center.reindex(minute).to_numpy()
        df[f"{f}_trailing_scale"] = scale.reindex(minute).to_numpy()
    r_grid = df["return_1s"].to_numpy(dtype=float)
    p_grid = np.round(prev_ret * GRID_UNITS["return_1s"]) / GRID_UNITS["return_1s"]
    product = np.abs(r_grid) * np.abs(p_grid)
    fin = np.isfinite(product)
    c_n = np.r_[0, np.cumsum(fin)]
    c_s = np.r_[0.0, np.cumsum(np.where(fin, product, 0.0))]
    n_bp = c_n[hi] - c_n[lo]
    with np.errstate(all="ignore"):
        df["return_1s_trailing_bipower_sigma"] = np.where(
            n_bp > 0, np.sqrt(np.pi / 2 * (c_s[hi] - c_s[lo]) / np.maximum(n_bp, 1)), np.nan
        )
    spread = df["spread_bp"].to_numpy(dtype=float)
    abs_ret_bp = np.abs(df["return_1s"].to_numpy(dtype=float)) * 1e4
    tick_candidates = np.fmin(
        np.where(np.isfinite(spread) & (spread > 1e-9), spread, np.nan),
        np.where(np.isfinite(abs_ret_bp) & (abs_ret_bp > 1e-9), abs_ret_bp, np.nan),
    )
    per_minute = pd.Series(tick_candidates, index=minute).groupby(level=0).min()
    trailing_min = per_minute.rolling(lookback, closed="left").min()
    df["tick_bp"] = trailing_min.reindex(minute).to_numpy()
    return df
