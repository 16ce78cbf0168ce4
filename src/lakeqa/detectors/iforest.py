"""`IFOREST`: scikit-learn's IsolationForest over the four bar features, one forest per symbol and judged UTC
day, trained on the symbol's own clean history, never on the period it judges.

- Baseline (models/detectors/iforest_baselines.sql decides, per symbol and judged day D):
  - ``history``: the forest is trained on the symbol's bars of the training-eligible days among the
    ``detectors.training_days`` UTC days [D - training_days, D) (iforest_training_days: a day with a
    critical violation, or whose schema score alone makes the fusion FAIL, is left out, and with it every
    bar a critical bars_1s violation touches), without non-finite values, a deterministic sample of at
    most ``fit_sample_size`` of them (iforest_training_bars: the smallest hash(symbol, ts)). An hourly
    run judges with the same model all day: its training days end before the window's day.
  - ``cold_start``: fewer than ``iforest.min_training_bars`` such bars (the symbol is new, or its recent
    days were all damaged). The forest is then fitted on the judged day's own fit-eligible rows of the
    symbol (no critical bars_1s violation at the row's (symbol, ts), no NaN or infinity), sampled with
    numpy default_rng(random_state) to at most ``fit_sample_size`` in ts order, and the records, the
    rationale and the fusion's reason say so.
- Standardisation: (x - mean) / std per feature, with mean and std (ddof 0) of the training rows' finite
  values; std 0 or unknown -> 1. A missing or non-finite feature is put at the mean, i.e. 0, so every row
  can be scored.
- The forest: IsolationForest(n_estimators, random_state, contamination 'auto' so that fit() does not score
  the training set) on the standardised training rows in ts order. The anomaly score is -score_samples(),
  in (0, 1], higher = more isolated (the paper's s(x, n)); judged rows are scored in chunks on ``n_jobs``
  threads (the result does not depend on the chunking).
- Threshold: the (1 - contamination) quantile of the training rows' scores (contamination 'auto': 0.5,
  scikit-learn's own offset): a clean day flags about ``contamination`` of its bars, a damaged day more.
  ``exceeds_background``: the score is above the highest training score, i.e. the bar is more isolated
  than every clean bar the forest learned from. A cold start's training rows are rows of the day it
  judges, so the day is scored once and the fit sample's scores are taken from that result by position:
  a row's score does not depend on the other rows scored with it, so these are the scores a separate
  scoring of the sample gives, bit for bit.
- Cache: history models are kept as files under ``<QA_OUTPUT_ROOT>/cache/iforest/<SYMBOL>/`` keyed by
  a digest of the symbol, its training days, the training rows and the parameters (ModelCache), so an
  hourly run, or a rebuild of a day, loads the forest, with its threshold and background, instead of
  fitting it and scoring its training rows again, and changed history fits a new one. Cold-start models
  are not cached: their rows change with every run of the day.
- On several processes: a fit is mostly scikit-learn's Python overhead per tree, which holds the GIL, so
  on 2 cores neither symbols fitted on threads nor IsolationForest(n_jobs=2) win (10.0 s against 10.9 s
  for the 13 symbols of a 10 M-trade day), while two processes share it. The model
  (models/detectors/anomalies_iforest.py) shares a window of at least PARALLEL_MIN_ROWS bars out symbol
  by symbol (lakeqa.workers.Workers.each) with the worker process `lakeqa run` lends it (GE's, idle until
  the build is done), else with the processes of setting iforest.processes (default 1: a worker of its
  own holds scikit-learn, ~190 MB); ``anomalies`` called with processes 2 or more shares the symbol-days
  it is given out itself (_run_judgements). Each symbol-day is one pure task (judge_pair), so the records
  do not depend on which process judged it.

The same input gives byte-identical records: every step is deterministic given the rows in (symbol, ts)
order, and a loaded model is the pickled forest that was fitted.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lakeqa.atomic import write_atomically
from lakeqa.detectors.features import (
    BASELINE_COLD_START,
    BASELINE_HISTORY,
    FEATURES,
    anomaly_frame,
    cluster_events,
    empty_anomalies,
    features_json,
    sorted_features,
    to_json,
)
from lakeqa import workers
from lakeqa.detectors.labeler import cluster_note, label_iforest
from lakeqa.settings import project_default

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

log = logging.getLogger(__name__)

# scikit-learn is imported when a process first fits or scores a forest, not with this module: its import
# takes ~1.3 s of the interpreter lock, and meanwhile the model's process already loads the first symbols
# and sends them to the worker process, which imports it when it starts (WORKER_IMPORTS)
WORKER_IMPORTS: tuple[str, ...] = (__name__, "sklearn.ensemble")
# ...and imported by one thread at a time: the model's threads fit, score and unpickle forests side by side,
# and two threads importing sklearn.ensemble at once can deadlock on its package and its _iforest module
# (importlib raised _DeadlockError in a 10 M-trade run, where one thread imported the package for its first
# fit while ProcessPoolExecutor's thread unpickled a worker's forest). So every path to scikit-learn here
# goes through import_scikit_learn(), and a worker sends its forest back pickled (_PickledForest), which the
# executor's thread passes on without importing anything.
_SCIKIT_LEARN_IMPORT = threading.Lock()

# the columns of bar_features the detector reads: the model loads only these (a quarter of the table's
# columns; at 10 M trades a day the whole table in pandas made this model the run's peak of memory)
INPUT_COLUMNS: tuple[str, ...] = ("symbol", "ts", "trade_count", "has_nonfinite_value", *FEATURES)
# the columns of iforest_training_bars the detector reads
TRAINING_COLUMNS: tuple[str, ...] = ("symbol", "judged_date", "ts", *FEATURES)

# part of every cache key: bump it when what a cached model holds, or how it is fitted, changes
CACHE_FORMAT = 1
# a cached model is a zlib-compressed pickle (protocol 5) of {"fingerprint", "model"}: the C unpickler loads a
# 200-tree forest in 0.03 s, joblib.load (a pure-Python unpickler) in 0.4 s, which an hourly run of 13 symbols
# would pay every time. Like any pickle, the folder must only be writable by whoever runs lakeqa.
CACHE_SUFFIX = ".pkl.z"
# models kept per symbol in the cache, the most recently written first: a month of daily models; an older
# day asked for again is simply fitted again
CACHE_MODELS_PER_SYMBOL = 32
# fewer judged rows than this in a run are judged on this process alone: a worker process's start (~2 s,
# importing scikit-learn) would cost more than it saves
PARALLEL_MIN_ROWS = 200_000
# fewer rows than this are scored in one call: a thread pool would cost more than it saves (a thin symbol's
# day has a few hundred bars)
SMALL_SCORING_ROWS = 8192
# judged rows are scored in the order of a Z-order curve over their features' quantile buckets (this many
# bits a feature): rows of similar features then follow each other, so each tree's branches go the same
# way row after row, which the CPU predicts. A 10 M-trade day's 980 k bars through 13 forests: the trees'
# traversal 4.9 -> 2.5 s, the order 0.2 s. A row's score does not depend on the rows scored with it, so
# the scores are the same, bit for bit.
LOCALITY_BITS = 6


@dataclass(frozen=True)
class IForestParams:
    # defaults: the settings iforest.* of dbt_project.yml; n_jobs and chunk_rows are how it runs here
    n_estimators: int = field(default_factory=lambda: int(project_default("iforest.n_estimators")))
    contamination: float | str = field(default_factory=lambda: float(project_default("iforest.contamination")))
    random_state: int = field(default_factory=lambda: int(project_default("iforest.random_state")))
    fit_sample_size: int = field(default_factory=lambda: int(project_default("iforest.fit_sample_size")))
    processes: int = field(default_factory=lambda: int(project_default("iforest.processes")))
    n_jobs: int = 2
    chunk_rows: int = 131_072

    @classmethod
    def from_vars(cls, iforest: Mapping | None) -> IForestParams:
        """From the dbt var `iforest` (n_estimators, contamination, random_state, fit_sample_size, and
        processes, optionally n_jobs and chunk_rows; the group's other keys are read by the SQL models)."""
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
            processes=max(1, int(get("processes"))),
            n_jobs=max(1, int(v.get("n_jobs", 2))),
            chunk_rows=max(1, int(v.get("chunk_rows", 131_072))),
        )

    def fitted_by(self) -> tuple:
        """The parameters a fitted model depends on (processes, n_jobs and chunk_rows change nothing in it)."""
        return (self.n_estimators, str(self.contamination), self.random_state, self.fit_sample_size)


@dataclass(frozen=True)
class ForestModel:
    """A forest and what judging with it needs from its training rows."""

    mean: np.ndarray  # per feature, of the training rows' finite values
    std: np.ndarray  # per feature (ddof 0); 0 or unknown -> 1
    forest: IsolationForest | None  # None: fewer than 2 training rows, nothing to learn from
    threshold: float  # the (1 - contamination) quantile of the training scores; inf without a forest
    max_training_score: float  # the most isolated training row's score
    n_training_rows: int
    baseline: str  # BASELINE_HISTORY or BASELINE_COLD_START
    training_days: tuple[str, ...] = ()  # 'YYYY-MM-DD' of a history model's days; () for a cold start


# ------------------------------------------------------------------------------------------- pure steps
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


def raw_features(rows: pd.DataFrame) -> np.ndarray:
    """(rows, len(FEATURES)) float array of the FEATURES columns (NULL -> NaN)."""
    return rows[list(FEATURES)].to_numpy(dtype=float, na_value=np.nan)


def reference_stats(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per feature: mean and std (ddof 0) of the finite values; std 0 or unknown -> 1, mean unknown -> 0."""
    finite = np.isfinite(raw)
    n = finite.sum(axis=0)
    values = np.where(finite, raw, 0.0)
    with np.errstate(all="ignore"):
        mean = np.where(n > 0, values.sum(axis=0) / np.maximum(n, 1), 0.0)
        var = np.where(finite, (raw - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n, 1)
    std = np.sqrt(var)
    std = np.where((n > 0) & (std > 0), std, 1.0)
    return mean, std


def standardise(raw: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(raw - mean) / std; missing and non-finite values -> 0 (the reference's mean)."""
    with np.errstate(all="ignore"):
        x = (raw - mean) / std
    return np.where(np.isfinite(raw), x, 0.0)


def locality_order(X: np.ndarray) -> np.ndarray:
    """The positions of `X`'s rows (finite values) along a Z-order curve: each feature cut into 2**bits
    buckets at its quantiles (of at most ~4 096 rows), the buckets' bits interleaved, ties in row order."""
    n_rows, n_features = X.shape
    bits = min(LOCALITY_BITS, 64 // max(n_features, 1))
    # a bucket's bits spread apart, n_features - 1 zero bits between two, so that the features interleave
    buckets = np.arange(1 << bits, dtype=np.uint64)
    spread = np.zeros(1 << bits, dtype=np.uint64)
    for bit in range(bits):
        spread |= ((buckets >> np.uint64(bit)) & np.uint64(1)) << np.uint64(bit * n_features)
    sample = X[:: max(1, n_rows // 4096)]
    code = np.zeros(n_rows, dtype=np.uint64)
    for j in range(n_features):
        edges = np.unique(np.quantile(sample[:, j], np.linspace(0.0, 1.0, (1 << bits) + 1)[1:-1]))
        code |= spread[np.searchsorted(edges, X[:, j])] << np.uint64(j)
    return np.argsort(code, kind="stable")


def score(model: ForestModel, X: np.ndarray, params: IForestParams) -> np.ndarray:
    """The anomaly score -score_samples() of standardised rows, in locality_order, in chunks on n_jobs
    threads (tree traversal releases the GIL; the result depends neither on the order nor on the chunking).
    Zeros without a forest."""
    if len(X) == 0 or model.forest is None:
        return np.zeros(len(X))
    if len(X) <= SMALL_SCORING_ROWS:
        return -model.forest.score_samples(X)
    order = locality_order(X)
    ordered = np.ascontiguousarray(X[order])
    n_chunks = max(params.n_jobs, math.ceil(len(X) / params.chunk_rows))
    bounds = np.linspace(0, len(X), n_chunks + 1).astype(int)
    pieces = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    import_scikit_learn()  # and joblib with it, complete before this thread imports from it
    from joblib import Parallel, delayed

    parts = Parallel(n_jobs=params.n_jobs, backend="threading")(
        delayed(model.forest.score_samples)(ordered[a:b]) for a, b in pieces
    )
    scores = np.empty(len(X))
    scores[order] = -np.concatenate(parts)
    return scores


def import_scikit_learn():
    """scikit-learn's IsolationForest, imported under _SCIKIT_LEARN_IMPORT (see there): the first caller in a
    process imports it, any other thread waits until the import is complete."""
    with _SCIKIT_LEARN_IMPORT:
        from sklearn.ensemble import IsolationForest
    return IsolationForest


def fit_sample(n_rows: int, params: IForestParams) -> np.ndarray | None:
    """The positions, in ts order, of the rows among `n_rows` training rows that a forest is fitted on: None
    (all of them) up to fit_sample_size, else fit_sample_size of them drawn with default_rng(random_state)."""
    if n_rows <= params.fit_sample_size:
        return None
    rng = np.random.default_rng(params.random_state)
    return np.sort(rng.choice(n_rows, size=params.fit_sample_size, replace=False))


def fit_forest(raw: np.ndarray, params: IForestParams, baseline: str = BASELINE_HISTORY,
               training_days: tuple[str, ...] = ()) -> ForestModel:
    """The forest fitted on the (already sampled) training rows `raw`, without its threshold and background
    (inf: with_training_scores sets them from the training rows' scores)."""
    mean, std = reference_stats(raw)
    if len(raw) < 2:
        return ForestModel(mean, std, None, math.inf, math.inf, len(raw), baseline, training_days)
    IsolationForest = import_scikit_learn()  # noqa: N806 - the class
    forest = IsolationForest(
        n_estimators=params.n_estimators,
        contamination="auto",
        random_state=params.random_state,
    ).fit(standardise(raw, mean, std))
    return ForestModel(mean, std, forest, math.inf, math.inf, len(raw), baseline, training_days)


def with_training_scores(model: ForestModel, training_score: np.ndarray, params: IForestParams) -> ForestModel:
    """`model` with the threshold and the background of its training rows' scores (a model without a forest
    keeps inf: it flags nothing)."""
    if model.forest is None:
        return model
    return replace(model, threshold=threshold_from(training_score, params.contamination),
                   max_training_score=float(training_score.max()))


def fit_model(
    training: pd.DataFrame,
    params: IForestParams,
    baseline: str = BASELINE_HISTORY,
    training_days: tuple[str, ...] = (),
) -> ForestModel:
    """Fit one symbol's forest on `training` (its training rows, in ts order; more than fit_sample_size are
    sampled, see fit_sample), and set the threshold and the background from the training rows' own scores."""
    return _fit_on_raw(raw_features(training), params, baseline, training_days)


def _fit_on_raw(raw: np.ndarray, params: IForestParams, baseline: str, training_days: tuple[str, ...]) -> ForestModel:
    """fit_model on the training rows' raw features."""
    sample = fit_sample(len(raw), params)
    if sample is not None:
        raw = raw[sample]
    model = fit_forest(raw, params, baseline, training_days)
    if model.forest is None:
        return model
    return with_training_scores(model, score(model, standardise(raw, model.mean, model.std), params), params)


def threshold_from(training_score: np.ndarray, contamination: float | str) -> float:
    """The score above which a row is flagged: the (1 - contamination) quantile of the training rows'
    scores, so that about `contamination` of rows like the training rows are; 'auto': 0.5."""
    if contamination == "auto":
        return 0.5
    return float(np.percentile(training_score, 100.0 * (1.0 - float(contamination))))


def cold_start_mask(rows: pd.DataFrame, critical: pd.DataFrame | None) -> np.ndarray:
    """Per judged row: may a cold-start forest be fitted on it? No critical bars_1s violation at (symbol, ts),
    no NaN or infinity in the bar."""
    has_nonfinite = rows["has_nonfinite_value"].fillna(False).to_numpy(dtype=bool)
    return ~critical_mask(rows, critical) & ~has_nonfinite


def cold_start_rows(rows: pd.DataFrame, critical: pd.DataFrame | None) -> pd.DataFrame:
    """The judged rows a cold-start forest is fitted on (cold_start_mask), before fit_sample."""
    return rows[cold_start_mask(rows, critical)]


# ------------------------------------------------------------------------------------------------ cache
def training_fingerprint(symbol: str, training: pd.DataFrame, training_days: tuple[str, ...],
                         params: IForestParams) -> str:
    """sha256 of everything a history model depends on: the symbol, its training days, the training rows
    (ts and features, in ts order) and the fit parameters, with scikit-learn's version and CACHE_FORMAT."""
    digest = hashlib.sha256()
    version = metadata.version("scikit-learn")  # scikit-learn's own __version__, without importing it
    header = (CACHE_FORMAT, version, symbol, training_days, params.fitted_by(), len(training))
    digest.update(repr(header).encode())
    digest.update(pd.to_datetime(training["ts"]).astype("datetime64[us]").to_numpy().view("int64").tobytes())
    # one NaN bit pattern whatever NULL became on the way, and 0.0 for -0.0: a feature that rounds to zero
    # takes the sign of the bars' floating-point noise (vwap_drift_bp of a one-trade second), which changes
    # between builds while the forest, comparing values, sees no difference
    raw = raw_features(training) + 0.0
    raw[np.isnan(raw)] = np.nan
    digest.update(np.ascontiguousarray(raw).tobytes())
    return digest.hexdigest()


class ModelCache:
    """Fitted history models as files, one folder per symbol: <folder>/<SYMBOL>/<first training day>_<last
    training day>_<digest>.pkl.z (CACHE_SUFFIX). Written atomically (a temp file renamed into place); a file
    that cannot be read, or holds something else than its key says, is fitted again and overwritten."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.hits = 0
        self.fits = 0
        self.unreadable = 0

    @classmethod
    def from_environment(cls) -> ModelCache:
        """The cache of the run's output root (env var QA_OUTPUT_ROOT, as every lakeqa path)."""
        from lakeqa.settings import Paths

        return cls(Paths.from_env().output_root / "cache" / "iforest")

    def path(self, symbol: str, training_days: tuple[str, ...], fingerprint: str) -> Path:
        span = f"{training_days[0]}_{training_days[-1]}" if training_days else "none"
        return self.folder / symbol / f"{span}_{fingerprint[:24]}{CACHE_SUFFIX}"

    def load(self, symbol: str, training: pd.DataFrame, training_days: tuple[str, ...],
             params: IForestParams) -> tuple[ForestModel | None, str]:
        """The cached model of these training rows (None: none, or unreadable) and their fingerprint."""
        fingerprint = training_fingerprint(symbol, training, training_days, params)
        path = self.path(symbol, training_days, fingerprint)
        if path.exists():
            try:
                import_scikit_learn()  # before unpickling a forest, which imports it (see there)
                stored = pickle.loads(zlib.decompress(path.read_bytes()))
                if isinstance(stored, dict) and stored.get("fingerprint") == fingerprint:
                    self.hits += 1
                    return stored["model"], fingerprint
                raise ValueError("the file holds another model")
            except Exception as error:  # noqa: BLE001 - any unreadable file is refitted, never fatal
                self.unreadable += 1
                log.warning("iforest cache %s is unreadable (%s); fitting again", path, error)
        return None, fingerprint

    def store(self, symbol: str, training_days: tuple[str, ...], fingerprint: str, model: ForestModel) -> None:
        """Keep a freshly fitted model (with its threshold and background: a hit never scores the training
        rows again)."""
        self.fits += 1
        path = self.path(symbol, training_days, fingerprint)
        try:
            data = zlib.compress(pickle.dumps({"fingerprint": fingerprint, "model": model}, protocol=5), 6)
            write_atomically(path, lambda tmp: Path(tmp).write_bytes(data))
            self._prune(path.parent)
        except OSError as error:  # a read-only or full disk costs the next run a fit, not this run its verdict
            log.warning("iforest cache %s not written (%s)", path, error)

    def get_or_fit(self, symbol: str, training: pd.DataFrame, training_days: tuple[str, ...],
                   params: IForestParams) -> ForestModel:
        model, fingerprint = self.load(symbol, training, training_days, params)
        if model is None:
            model = fit_model(training, params, BASELINE_HISTORY, training_days)
            self.store(symbol, training_days, fingerprint, model)
        return model

    @staticmethod
    def _prune(symbol_folder: Path) -> None:
        files = sorted(symbol_folder.glob(f"*{CACHE_SUFFIX}"), key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
        for old in files[CACHE_MODELS_PER_SYMBOL:]:
            try:
                os.unlink(old)
            except OSError:
                pass


# ------------------------------------------------------------------------------------------------ judge
def _symbol_day_records(
    rows: pd.DataFrame, model: ForestModel, params: IForestParams, cooldown_seconds: float = 0.0,
    scores: np.ndarray | None = None,
) -> list[dict]:
    """The records of one symbol-day's `rows`; `scores`: their scores if already known (a cold start's)."""
    X = standardise(raw_features(rows), model.mean, model.std)
    if scores is None:
        scores = score(model, X, params)
    flagged = np.flatnonzero(scores > model.threshold)
    # flagged bars within the cooldown of each other are one record, as for every detector: the first
    # bar's, with the cluster's count and its largest score (which decides exceeds_background)
    events = pd.DataFrame({"symbol": rows["symbol"].to_numpy()[flagged], "ts": rows["ts"].to_numpy()[flagged],
                           "score": scores[flagged], "pos": flagged})  # fmt: skip
    clustered = cluster_events(events, cooldown_seconds, score="score", max_key="max_score")
    clusters = dict(zip(clustered["pos"], clustered["cluster"], strict=True))
    flagged = clustered["pos"].to_numpy(dtype=int)
    if model.baseline == BASELINE_HISTORY:
        trained_on = (f"forest trained on {model.n_training_rows} clean bars of the symbol's "
                      f"{len(model.training_days)} day(s) {model.training_days[0]}..{model.training_days[-1]}")
    else:
        trained_on = f"cold start: no clean history, forest fitted on {model.n_training_rows} bars of the day itself"
    records = []
    for pos, row in zip(flagged, rows.iloc[flagged].to_dict("records"), strict=True):
        cluster = clusters[pos]
        top_score = cluster["max_score"] if cluster else float(scores[pos])
        top = int(np.argmax(np.abs(X[pos])))
        lab = label_iforest(
            score=float(scores[pos]),
            threshold=model.threshold,
            contamination=params.contamination,
            top_feature=FEATURES[top],
            top_value=float(X[pos, top]),
        )
        records.append(
            {
                "symbol": row["symbol"],
                "ts": row["ts"],
                "date": None,
                "detector": "IFOREST",
                "label": lab.label,
                "rationale": f"{lab.rationale}; {trained_on}{cluster_note(cluster)}",
                "confidence": lab.confidence,
                "score": float(scores[pos]),
                "features": features_json(row),
                "cluster": to_json(cluster) if cluster else None,
                "baseline": model.baseline,
                "exceeds_background": bool(top_score > model.max_training_score),
            }
        )
    return records


def models_for(
    judged: pd.DataFrame,
    critical: pd.DataFrame | None,
    params: IForestParams,
    baselines: pd.DataFrame | None = None,
    training: pd.DataFrame | None = None,
    cache: ModelCache | None = None,
) -> dict[tuple[str, pd.Timestamp], ForestModel]:
    """One model per (symbol, UTC day) of `judged` (bar_features rows).

    `baselines`: iforest_baselines rows (symbol, date, baseline, training_dates); a pair it lacks is not
    judged. None: every pair is a cold start (no history given). `training`: iforest_training_bars rows
    (symbol, judged_date, ts, FEATURES) of the history pairs."""
    return _judge(sorted_features(judged), critical, params, baselines, training, cache).models


@dataclass
class _Judgement:
    by_pair: dict  # (symbol, day) -> the judged rows of the pair, in ts order, with a fresh index
    models: dict  # (symbol, day) -> ForestModel, for the pairs judged
    scores: dict  # (symbol, day) -> the scores of by_pair[pair]


def _judge(
    judged: pd.DataFrame,
    critical: pd.DataFrame | None,
    params: IForestParams,
    baselines: pd.DataFrame | None,
    training: pd.DataFrame | None,
    cache: ModelCache | None,
    remote: Callable | None = None,
) -> _Judgement:
    """models_for on rows already in sorted_features order, keeping the judged rows per pair and their
    scores (judge_pair); `remote`: see _run_judgements."""
    days = judged["ts"].dt.floor("D")
    by_pair = {pair: rows.reset_index(drop=True) for pair, rows in judged.groupby([judged["symbol"], days], sort=True)}
    plan = _baseline_plan(baselines, by_pair)
    training_by_pair = {}
    if training is not None and len(training):
        training = training.assign(judged_date=pd.to_datetime(training["judged_date"]).dt.floor("D"))
        training = training.sort_values(["symbol", "judged_date", "ts"], kind="mergesort")
        training_by_pair = dict(iter(training.groupby(["symbol", "judged_date"], sort=True)))
    # one task per pair, pure (see judge_pair), so that they can run on several processes
    tasks, fingerprints = {}, {}
    for pair, (baseline, training_days) in plan.items():
        symbol, day = pair
        judged_raw = raw_features(by_pair[pair])
        if baseline == BASELINE_HISTORY:
            rows = training_by_pair.get(pair)
            if rows is None or rows.empty:
                raise ValueError(f"iforest_baselines says {symbol} {day:%Y-%m-%d} has history, "
                                 "but iforest_training_bars has no rows for it")
            rows = rows.reset_index(drop=True)
            cached = None
            if cache is not None:
                cached, fingerprints[pair] = cache.load(symbol, rows, training_days, params)
            # a cached model needs no training rows: it is only scored
            tasks[pair] = (judged_raw, None if cached is not None else raw_features(rows), None, training_days, cached)
        else:
            # a cold start: fitted on the fit-eligible judged rows, sampled (their positions among the pair's rows)
            eligible = np.flatnonzero(cold_start_mask(by_pair[pair], critical))
            sample = fit_sample(len(eligible), params)
            tasks[pair] = (judged_raw, None, eligible if sample is None else eligible[sample], (), None)
    models, scores = {}, {}
    for pair, (model, pair_scores) in zip(tasks, _run_judgements(list(tasks.values()), params, remote), strict=True):
        if pair in fingerprints and tasks[pair][4] is None:
            cache.store(pair[0], model.training_days, fingerprints[pair], model)
        models[pair], scores[pair] = model, pair_scores
    return _Judgement(by_pair, dict(sorted(models.items())), scores)


def judge_pair(
    judged_raw: np.ndarray,
    training_raw: np.ndarray | None,
    fit_positions: np.ndarray | None,
    training_days: tuple[str, ...],
    model: ForestModel | None,
    params: IForestParams,
) -> tuple[ForestModel, np.ndarray]:
    """One symbol-day: its model and the scores of its judged rows. A pure function of its arguments, so the
    same on any process. Exactly one of: `model` (a cached history model, only scored), `training_raw` (the
    history's training rows: fit_model), `fit_positions` (a cold start: the positions of the judged rows it
    is fitted on; the day is scored once and the sample's scores are taken from it by position, since a
    row's score does not depend on the other rows scored with it)."""
    if model is None and training_raw is not None:
        model = _fit_on_raw(training_raw, params, BASELINE_HISTORY, training_days)
    if model is not None:
        return model, score(model, standardise(judged_raw, model.mean, model.std), params)
    model = fit_forest(judged_raw[fit_positions], params, BASELINE_COLD_START)
    scores = score(model, standardise(judged_raw, model.mean, model.std), params)
    return with_training_scores(model, scores[fit_positions], params), scores


@dataclass(frozen=True)
class _PickledForest:
    """A fitted forest as pickle bytes, as a worker process sends it back (see _SCIKIT_LEARN_IMPORT)."""

    data: bytes


def _judge_task(task: tuple, params: IForestParams) -> tuple[ForestModel, np.ndarray]:
    """judge_pair on a worker process, its forest sent back pickled (_received unpickles it)."""
    model, scores = judge_pair(*task, params)
    if model.forest is not None:
        model = replace(model, forest=_PickledForest(pickle.dumps(model.forest, protocol=5)))
    return model, scores


def _received(result: tuple[ForestModel, np.ndarray]) -> tuple[ForestModel, np.ndarray]:
    """A _judge_task result with its forest unpickled, scikit-learn imported first (import_scikit_learn)."""
    model, scores = result
    if isinstance(model.forest, _PickledForest):
        import_scikit_learn()
        model = replace(model, forest=pickle.loads(model.forest.data))
    return model, scores


def start_workers(params: IForestParams, n_rows: int) -> workers.Workers | None:
    """The worker processes of setting iforest.processes for judging `n_rows` bars, started now so that
    their start overlaps loading the rows; None when it runs on this process alone (one process, or fewer
    than PARALLEL_MIN_ROWS bars)."""
    if params.processes < 2 or n_rows < PARALLEL_MIN_ROWS:
        return None
    return workers.Workers(params.processes, warm_modules=WORKER_IMPORTS)


def _run_judgements(tasks: list[tuple], params: IForestParams,
                    remote: Callable | None = None) -> list[tuple[ForestModel, np.ndarray]]:
    """judge_pair of each task, on params.processes processes when the work is worth a worker (at least
    PARALLEL_MIN_ROWS judged rows; each process then scores on one thread), else here, scoring on n_jobs
    threads. The longest tasks go first, so that the processes finish together. `remote`: every task goes
    to a worker process instead, through this function (Workers.each's: the caller shares the symbols out
    between processes itself), scoring on one thread there."""
    if remote is not None:
        one_thread = replace(params, n_jobs=1)
        return [_received(remote(_judge_task, task, one_thread)) for task in tasks]
    rows = sum(len(task[0]) for task in tasks)
    if params.processes < 2 or len(tasks) < 2 or rows < PARALLEL_MIN_ROWS:
        return [judge_pair(*task, params) for task in tasks]
    one_thread = replace(params, n_jobs=1)
    order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i][0]))
    log.info("iforest: %d symbol-days (%d bars) on %d processes", len(tasks), rows, params.processes)
    with workers.Workers(min(params.processes, len(tasks)), warm_modules=WORKER_IMPORTS) as pool:
        done = pool.run(_judge_task, [(tasks[i], one_thread) for i in order])
    results: list = [None] * len(tasks)
    for i, result in zip(order, done, strict=True):
        results[i] = _received(result)
    return results


def _baseline_plan(baselines: pd.DataFrame | None, by_pair: dict) -> dict:
    """(symbol, day) -> (baseline, training days) for every judged pair that has rows."""
    if baselines is None:
        return {pair: (BASELINE_COLD_START, ()) for pair in by_pair}
    plan = {}
    for row in baselines.to_dict("records"):
        pair = (row["symbol"], pd.Timestamp(row["date"]).floor("D"))
        if pair not in by_pair:
            continue
        dates = row.get("training_dates")
        training_days = tuple(pd.Timestamp(d).strftime("%Y-%m-%d") for d in (dates if dates is not None else []))
        plan[pair] = (row["baseline"], training_days)
    return dict(sorted(plan.items()))


def anomalies(
    features: pd.DataFrame,
    critical: pd.DataFrame | None,
    params: IForestParams,
    baselines: pd.DataFrame | None = None,
    training: pd.DataFrame | None = None,
    cache: ModelCache | None = None,
    cooldown_seconds: float = 0.0,
    remote: Callable | None = None,
) -> pd.DataFrame:
    """The IFOREST records of `features` (bar_features rows): one per flagged row (flagged rows within
    `cooldown_seconds` of each other: one record with a cluster), each (symbol, day) judged by its own
    model (see models_for). `remote`: judge every symbol-day on a worker process through this function
    (see _run_judgements)."""
    features = sorted_features(features)
    if features.empty:
        return empty_anomalies()
    judgement = _judge(features, critical, params, baselines, training, cache, remote)
    del features
    records = []
    for pair, model in judgement.models.items():
        rows = judgement.by_pair.pop(pair)
        records += _symbol_day_records(rows, model, params, cooldown_seconds, judgement.scores.pop(pair))
    return anomaly_frame(records)
