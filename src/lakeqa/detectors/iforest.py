"""`IFOREST`: scikit-learn's IsolationForest over the four bar features, standardised per symbol.

- Standardisation: per symbol, (x - mean) / std with mean and std (ddof 0) of the symbol's fit-eligible
  rows; std 0 or unknown -> 1. A missing feature (no fresh quote, no previous bar) is put at the symbol's
  mean, i.e. 0, so every row can be scored.
- Fit-eligible rows: no critical violation of `bars_1s` at the row's (symbol, ts), and no NaN or infinity
  in the bar (`has_nonfinite_value`). The forest (n_estimators, random_state, contamination 'auto' so that
  fit() does not score the training set) is fitted on a deterministic random sample of at most
  `fit_sample_size` of them (numpy default_rng(random_state) over the rows in (symbol, ts) order).
- Every row is scored once, in chunks on `n_jobs` threads (tree traversal releases the GIL; the results
  do not depend on the chunking). The anomaly score is -score_samples(), in (0, 1], higher = more
  isolated (the paper's s(x, n)).
- Threshold: the (1 - contamination) quantile of the fit sample's scores (contamination 'auto': 0.5,
  scikit-learn's own offset). Rows above it are flagged, so about `contamination` of clean rows are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.ensemble import IsolationForest

from lakeqa.detectors.features import BASELINE_COLD_START, FEATURES, anomaly_frame, features_json, sorted_features
from lakeqa.detectors.labeler import label_iforest
from lakeqa.settings import project_default


# the columns of bar_features the detector reads: the model loads only these (a quarter of the table's
# columns; at 10 M trades a day the whole table in pandas made this model the run's peak of memory)
INPUT_COLUMNS: tuple[str, ...] = ("symbol", "ts", "trade_count", "has_nonfinite_value", *FEATURES)


@dataclass(frozen=True)
class IForestParams:
    # defaults: the settings iforest.* of dbt_project.yml; n_jobs and chunk_rows are how it runs here
    n_estimators: int = field(default_factory=lambda: int(project_default("iforest.n_estimators")))
    contamination: float | str = field(default_factory=lambda: float(project_default("iforest.contamination")))
    random_state: int = field(default_factory=lambda: int(project_default("iforest.random_state")))
    fit_sample_size: int = field(default_factory=lambda: int(project_default("iforest.fit_sample_size")))
    n_jobs: int = 2
    chunk_rows: int = 131_072

    @classmethod
    def from_vars(cls, iforest: Mapping | None) -> IForestParams:
        """From the dbt var `iforest` (n_estimators, contamination, random_state, fit_sample_size, and
        optionally n_jobs and chunk_rows)."""
        v = dict(iforest or {})

        def get(key):
            return v[key] if key in v else project_default(f"iforest.{key}")

        contamination = get("contamination")
        if not (isinstance(contamination, str) and contamination.strip().lower() == "auto"):
            contamination = float(contamination)
            if not 0.0 < contamination <= 0.5:
                raise ValueError(f"iforest.contamination must be in (0, 0.5] or 'auto', got {contamination}")
        else:
            contamination = "auto"
        return cls(
            n_estimators=int(get("n_estimators")),
            contamination=contamination,
            random_state=int(get("random_state")),
            fit_sample_size=int(get("fit_sample_size")),
            n_jobs=max(1, int(v.get("n_jobs", 2))),
            chunk_rows=max(1, int(v.get("chunk_rows", 131_072))),
        )


@dataclass
class IForestResult:
    features: pd.DataFrame  # the input rows in (symbol, ts) order; every array below follows it
    standardised: np.ndarray  # (rows, len(FEATURES)) the forest's input
    is_fit_eligible: np.ndarray  # bool per row
    fit_rows: np.ndarray  # positions of the rows the forest was fitted on
    score: np.ndarray  # anomaly score per row, higher = more isolated
    threshold: float
    is_outlier: np.ndarray  # bool per row: score > threshold

    def fit_keys(self) -> pd.DataFrame:
        """(symbol, ts) of the rows the forest was fitted on."""
        return self.features.loc[self.fit_rows, ["symbol", "ts"]].reset_index(drop=True)


def critical_mask(features: pd.DataFrame, critical: pd.DataFrame | None) -> np.ndarray:
    """Per row of `features`: does its (symbol, ts) have a critical violation (a row of `critical`)?"""
    if critical is None or len(critical) == 0:
        return np.zeros(len(features), dtype=bool)
    keys = critical[["symbol", "ts"]].copy()
    keys["ts"] = pd.to_datetime(keys["ts"]).astype("datetime64[us]")
    index = pd.MultiIndex.from_frame(keys.drop_duplicates())
    rows = pd.MultiIndex.from_arrays(
        [features["symbol"].to_numpy(), pd.to_datetime(features["ts"]).astype("datetime64[us]").to_numpy()]
    )
    return np.asarray(rows.isin(index), dtype=bool)


def standardise(features: pd.DataFrame, reference: np.ndarray) -> np.ndarray:
    """The FEATURES columns standardised per symbol with the mean and std of the `reference` rows;
    missing and non-finite values -> 0 (the symbol's mean)."""
    raw = features[list(FEATURES)].to_numpy(dtype=float)
    finite = np.isfinite(raw)
    ref = pd.DataFrame(np.where(finite & reference[:, None], raw, np.nan), columns=list(FEATURES))
    ref["symbol"] = features["symbol"].to_numpy()
    grouped = ref.groupby("symbol", sort=True)
    mean = grouped.mean().reindex(features["symbol"].unique())
    std = grouped.std(ddof=0).reindex(features["symbol"].unique())
    std = std.where(std > 0, 1.0).fillna(1.0)
    mean = mean.fillna(0.0)
    m = mean.loc[features["symbol"]].to_numpy(dtype=float)
    s = std.loc[features["symbol"]].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        x = (raw - m) / s
    return np.where(finite, x, 0.0)


def _score_all(forest: IsolationForest, X: np.ndarray, params: IForestParams) -> np.ndarray:
    if len(X) == 0:
        return np.zeros(0)
    n_chunks = max(params.n_jobs, math.ceil(len(X) / params.chunk_rows))
    bounds = np.linspace(0, len(X), n_chunks + 1).astype(int)
    parts = Parallel(n_jobs=params.n_jobs, backend="threading")(
        delayed(forest.score_samples)(X[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a
    )
    return -np.concatenate(parts)


def fit_and_score(
    features: pd.DataFrame, critical: pd.DataFrame | None, params: IForestParams
) -> IForestResult:
    """Fit on a sample of the rows free of critical violations and non-finite values; score every row."""
    features = sorted_features(features)
    n = len(features)
    has_nonfinite = features["has_nonfinite_value"].fillna(False).to_numpy(dtype=bool)
    eligible = ~critical_mask(features, critical) & ~has_nonfinite
    X = standardise(features, eligible)
    candidates = np.flatnonzero(eligible)
    if len(candidates) > params.fit_sample_size:
        rng = np.random.default_rng(params.random_state)
        fit_rows = np.sort(rng.choice(candidates, size=params.fit_sample_size, replace=False))
    else:
        fit_rows = candidates
    if len(fit_rows) < 2:
        # nothing clean to learn from: no row can be called an outlier
        return IForestResult(features, X, eligible, fit_rows, np.zeros(n), math.inf, np.zeros(n, dtype=bool))
    forest = IsolationForest(
        n_estimators=params.n_estimators,
        contamination="auto",
        random_state=params.random_state,
    ).fit(X[fit_rows])
    score = _score_all(forest, X, params)
    if params.contamination == "auto":
        threshold = 0.5
    else:
        threshold = float(np.percentile(score[fit_rows], 100.0 * (1.0 - float(params.contamination))))
    return IForestResult(features, X, eligible, fit_rows, score, threshold, score > threshold)


def anomalies(features: pd.DataFrame, critical: pd.DataFrame | None, params: IForestParams) -> pd.DataFrame:
    """The IFOREST records: one per flagged row."""
    result = fit_and_score(features, critical, params)
    flagged = np.flatnonzero(result.is_outlier)
    records = []
    rows = result.features.iloc[flagged].to_dict("records")
    for pos, row in zip(flagged, rows, strict=True):
        x = result.standardised[pos]
        top = int(np.argmax(np.abs(x)))
        lab = label_iforest(
            score=float(result.score[pos]),
            threshold=result.threshold,
            contamination=params.contamination,
            top_feature=FEATURES[top],
            top_value=float(x[top]),
        )
        records.append(
            {
                "symbol": row["symbol"],
                "ts": row["ts"],
                "date": None,
                "detector": "IFOREST",
                "label": lab.label,
                "rationale": lab.rationale,
                "confidence": lab.confidence,
                "score": float(result.score[pos]),
                "features": features_json(row),
                "cluster": None,
                "baseline": BASELINE_COLD_START,
                "exceeds_background": False,
            }
        )
    return anomaly_frame(records)
