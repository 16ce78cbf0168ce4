"""The anomaly detectors' modules (src/lakeqa/detectors), without dbt: features and their trailing window,
z-scores and their sigma floor, JUMP gating and clustering, IsolationForest's fit set and flagged share,
the labeler, determinism, and the Python models' enable_ai switch."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from lakeqa.detectors import features as F
from lakeqa.detectors import background, iforest, jump, labeler, zscore
from lakeqa.detectors.features import ANOMALY_COLUMNS, bar_features, cluster_events
from lakeqa.settings import project_default

from .scoring import bar_scores

PROJECT = Path(__file__).resolve().parents[2]
DAY = pd.Timestamp("2024-08-09")


# ------------------------------------------------------------------------------------------------ helpers
def make_bars(
    symbol: str = "TESTUSDT",
    seconds: int = 7200,
    start: pd.Timestamp = DAY + pd.Timedelta(hours=10),
    price: float = 100.0,
    tick: float = 0.01,
    seed: int = 7,
    trade_count: int = 6,
    spread_ticks=None,
) -> pd.DataFrame:
    """One bar a second: a random walk in ticks, one-tick spreads (or `spread_ticks`), lognormal volumes."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1, 0, 0, 0, 1], size=seconds)
    close = price + tick * np.cumsum(steps)
    ticks = np.ones(seconds) if spread_ticks is None else np.asarray(spread_ticks, dtype=float)
    mid = close + tick * ticks / 2
    vol = np.exp(rng.normal(0.0, 0.5, size=seconds))
    vwap = close + tick * rng.choice([-1.0, -0.5, 0.0, 0.0, 0.5, 1.0], size=seconds)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "ts": start + pd.to_timedelta(np.arange(seconds), unit="s"),
            "open": close,
            "high": np.maximum(close, vwap),
            "low": np.minimum(close, vwap),
            "close": close,
            "volume_base": vol,
            "vwap": vwap,
            "spread_bps": tick * ticks / mid * 1e4,
            "trade_count": trade_count,
        }
    )


def at(ts: str) -> pd.Timestamp:
    return pd.Timestamp(f"2024-08-09 {ts}")


def shift_prices_from(bars: pd.DataFrame, ts: str, factor: float) -> None:
    """A jump: every price from `ts` on is multiplied by `factor`."""
    later = bars["ts"] >= at(ts)
    for col in ("open", "high", "low", "close", "vwap"):
        bars.loc[later, col] *= factor


def load_python_model(name: str):
    path = PROJECT / "models" / "detectors" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeRelation:
    def __init__(self, df: pd.DataFrame):
        self._df = df

    def df(self) -> pd.DataFrame:
        return self._df

    def filter(self, _condition):
        return self

    def project(self, columns: str):
        names = [c.strip().strip('"') for c in columns.split(",")]
        return FakeRelation(self._df[names] if len(self._df) else pd.DataFrame(columns=names))

    def aggregate(self, expression: str, group_by: str):
        assert (expression, group_by) == ("symbol, count(*)", "symbol"), (expression, group_by)
        return FakeResult(list(self._df.groupby("symbol").size().items()))


class FakeResult:
    def __init__(self, rows: list[tuple]):
        self._rows = rows

    def fetchall(self) -> list[tuple]:
        return self._rows


def no_history() -> pd.DataFrame:
    """detector_background without rows: every symbol-day is a cold start."""
    return pd.DataFrame({c: [] for c in background.BACKGROUND_COLUMNS})


def no_training_days() -> pd.DataFrame:
    return pd.DataFrame({"symbol": [], "date": [], "is_training_eligible": []})


class FakeDbt:
    """Just enough of dbt-duckdb's `dbt` object for the detector models."""

    def __init__(self, relations: dict[str, pd.DataFrame], meta: dict):
        self._relations = relations
        self._meta = meta
        self.config = self

    def __call__(self, **_kwargs):  # dbt.config(...)
        return None

    def ref(self, name: str) -> FakeRelation:
        return FakeRelation(self._relations[name])

    def meta_get(self, key, default=None):
        return self._meta.get(key, default)


# ----------------------------------------------------------------------------------------------- features
def test_trailing_window_is_the_previous_hour_of_whole_minutes():
    bars = make_bars(seconds=3 * 3600)
    bars["volume_base"] = np.exp(np.arange(len(bars)) % 97 / 10.0)  # log_volume = (i % 97) / 10
    feats = bar_features(bars, window_s=3600)
    ts = feats["ts"]
    lo = int(np.flatnonzero(ts == at("11:30:00"))[0])
    hi = int(np.flatnonzero(ts == at("12:30:00"))[0])
    expected = feats["log_volume"].iloc[lo:hi]
    # every bar of 12:30 (its first, one within, its last) has the 60 whole minutes before 12:30, nothing of
    # its own minute
    for t in ("12:30:00", "12:30:17", "12:30:59"):
        row = feats.iloc[int(np.flatnonzero(ts == at(t))[0])]
        assert row["log_volume_trailing_n"] == 3600 == len(expected)
        assert row["log_volume_trailing_mean"] == pytest.approx(expected.mean(), rel=1e-12)
        assert row["log_volume_trailing_std"] == pytest.approx(expected.std(ddof=1), rel=1e-9)
    # the next minute's first bar: the window moved by one minute
    nxt = feats.iloc[int(np.flatnonzero(ts == at("12:31:00"))[0])]
    assert nxt["log_volume_trailing_mean"] == pytest.approx(feats["log_volume"].iloc[lo + 60:hi + 60].mean(), rel=1e-12)


def test_feature_definitions():
    bars = make_bars(seconds=5)
    bars.loc[2, ["close", "vwap", "volume_base"]] = [101.0, 100.0, 0.0]
    bars.loc[4, "close"] = float("nan")
    feats = bar_features(bars)
    # features sit on a fixed-point grid: 1e-10 for return_1s, 1e-6 for the others
    assert feats.loc[1, "return_1s"] == pytest.approx(
        math.log(bars.loc[1, "close"] / bars.loc[0, "close"]), abs=1e-10
    )
    assert math.isnan(feats.loc[0, "return_1s"])  # no previous bar
    assert feats.loc[2, "vwap_drift_bp"] == pytest.approx(100.0)  # (101 - 100) / 100 * 1e4
    assert math.isnan(feats.loc[2, "log_volume"])  # volume 0: no log
    assert feats.loc[3, "log_volume"] == pytest.approx(math.log(bars.loc[3, "volume_base"]), abs=1e-6)
    assert feats.loc[3, "log_volume"] * 1e6 == round(feats.loc[3, "log_volume"] * 1e6)
    assert feats.loc[4, "has_nonfinite_value"] and not feats.loc[3, "has_nonfinite_value"]


def test_return_after_a_gap_longer_than_the_window_is_missing():
    bars = make_bars(seconds=4)
    bars.loc[3, "ts"] = bars.loc[2, "ts"] + pd.Timedelta(seconds=3601)
    feats = bar_features(bars, window_s=3600)
    assert not math.isnan(feats.loc[2, "return_1s"]) and math.isnan(feats.loc[3, "return_1s"])


# ---------------------------------------------------------------------------------------------- z-scores
def one_tick_spread_bars(seed: int = 3) -> pd.DataFrame:
    """Spreads of one tick 94 % of the time, two ticks 5 %, three ticks 1 %: a clean book."""
    rng = np.random.default_rng(seed)
    ticks = rng.choice([1, 2, 3], p=[0.94, 0.05, 0.01], size=3 * 3600)
    return make_bars(seconds=3 * 3600, spread_ticks=ticks, price=0.5, tick=0.0001)


def test_sigma_floor_keeps_a_one_tick_spread_series_quiet():
    feats = bar_features(one_tick_spread_bars())
    params = zscore.ZScoreParams()
    hits = zscore.detect(bar_scores(feats), params)
    assert (hits["detector"] == "ZSCORE_SPREAD_BP").sum() == 0
    # without the floor the same clean series fires: the floor is what keeps it quiet
    unfloored = bar_scores(feats.assign(tick_bp=np.nan))
    spread = unfloored[(unfloored["detector"] == "ZSCORE_SPREAD_BP") & unfloored["scored"]]
    assert (spread["abs_z"] > params.k).sum() > 10


def test_a_genuine_spread_spike_fires():
    bars = one_tick_spread_bars()
    spike = bars["ts"] == at("12:15:00")
    bars.loc[spike, "spread_bps"] = bars.loc[spike, "spread_bps"] * 30  # 30 ticks
    out = zscore.anomalies(bar_scores(bar_features(bars)), zscore.ZScoreParams())
    hit = out[(out["detector"] == "ZSCORE_SPREAD_BP")]
    assert list(hit["ts"]) == [at("12:15:00")]
    assert hit["label"].iloc[0] == "wide_spread" and hit["score"].iloc[0] > 5


def test_a_volume_spike_fires_and_a_doubling_does_not():
    bars = make_bars(seconds=3 * 3600)
    bars.loc[bars["ts"] == at("12:10:00"), "volume_base"] *= 200
    bars.loc[bars["ts"] == at("12:20:00"), "volume_base"] *= 2
    out = zscore.anomalies(bar_scores(bar_features(bars)), zscore.ZScoreParams())
    vol = out[out["detector"] == "ZSCORE_LOG_VOLUME"]
    assert list(vol["ts"]) == [at("12:10:00")]
    assert vol["label"].iloc[0] == "volume_spike"


def test_zscore_records_carry_their_signed_z_in_features():
    # the seed's contract: features.z_score is the record's signed z (its sign says spike or drop)
    bars = make_bars(seconds=3 * 3600)
    bars.loc[bars["ts"] == at("12:10:00"), "volume_base"] *= 200
    bars.loc[bars["ts"] == at("12:30:00"), "volume_base"] /= 200
    feats = bar_features(bars)
    params = zscore.ZScoreParams()
    hits = zscore.detect(bar_scores(feats), params)
    out = zscore.anomalies(bar_scores(feats), params)
    vol = out[out["detector"] == "ZSCORE_LOG_VOLUME"].reset_index(drop=True)
    assert list(vol["ts"]) == [at("12:10:00"), at("12:30:00")]
    assert list(vol["label"]) == ["volume_spike", "volume_drop"]
    z_scores = [json.loads(text)["z_score"] for text in vol["features"]]
    assert z_scores[0] > params.k and z_scores[1] < -params.k
    expected = hits[hits["detector"] == "ZSCORE_LOG_VOLUME"]["z"].to_list()
    # the z the detector thresholded, rounded like every float of the JSON (8 significant digits)
    assert z_scores == [F.round_sig(z) for z in expected]
    assert [abs(z) for z in z_scores] == pytest.approx(list(vol["score"]), abs=1e-6)
    # and the record keeps the seed's field names, z_score added after them
    assert list(json.loads(vol["features"].iloc[0])) == [*F.FEATURES, "trade_count", "z_score"]


def test_fewer_than_min_obs_observations_never_fire():
    bars = make_bars(seconds=3 * 3600)
    bars = bars[bars["ts"].dt.second % 15 == 0].reset_index(drop=True)  # 240 bars an hour
    bars.loc[bars["ts"] == at("12:10:00"), "volume_base"] *= 1e6
    feats = bar_features(bars)
    row = feats[feats["ts"] == at("12:10:00")].iloc[0]
    assert row["log_volume_trailing_n"] < 300
    assert zscore.detect(bar_scores(feats, {"zscore.min_obs": 300}), zscore.ZScoreParams()).empty
    # the same spike with a lower min_obs fires
    assert not zscore.detect(bar_scores(feats, {"zscore.min_obs": 200}), zscore.ZScoreParams()).empty


def test_zscore_params_from_vars():
    p = zscore.ZScoreParams.from_vars({"window_s": 1800, "k": 4, "min_obs": 10}, {"cooldown_seconds": 3})
    assert (p.k, p.cooldown_seconds) == (4.0, 3.0)


# -------------------------------------------------------------------------------------------------- JUMP
def jump_bars(jumps: dict[str, float], **kwargs) -> pd.DataFrame:
    bars = make_bars(seconds=3 * 3600, **kwargs)
    for ts, factor in jumps.items():
        shift_prices_from(bars, ts, factor)
    return bars


def test_three_events_within_the_cooldown_make_one_record():
    bars = jump_bars({"12:00:54": 1.01, "12:00:55": 1.01, "12:00:57": 0.985})
    feats = bar_features(bars)
    events = jump.jump_events(bar_scores(feats), jump.JumpParams())
    assert list(events["ts"]) == [at("12:00:54"), at("12:00:55"), at("12:00:57")]
    out = jump.anomalies(bar_scores(feats), jump.JumpParams(cooldown_seconds=5))
    assert len(out) == 1
    rec = out.iloc[0]
    cluster = json.loads(rec["cluster"])
    assert cluster == {
        "count": 3,
        "start_ts": "2024-08-09T12:00:54Z",
        "end_ts": "2024-08-09T12:00:57Z",
        "max_abs_z": F.round_sig(events["abs_z"].max()),
    }
    # the record is the first event's: its time, score and features
    first = events.iloc[0]
    assert rec["ts"] == at("12:00:54")
    assert rec["score"] == pytest.approx(first["abs_z"], abs=1e-6)
    assert json.loads(rec["features"])["return_1s"] == pytest.approx(first["return_1s"], rel=1e-7)
    assert "cluster of 3 events 12:00:54-12:00:57 UTC" in rec["rationale"]


def test_events_six_seconds_apart_make_two_records():
    out = jump.anomalies(bar_scores(bar_features(jump_bars({"12:00:54": 1.01, "12:01:00": 1.01}))), jump.JumpParams())
    assert list(out["ts"]) == [at("12:00:54"), at("12:01:00")]
    assert out["cluster"].isna().all()


def test_cooldown_zero_keeps_every_event_without_a_cluster():
    feats = bar_features(jump_bars({"12:00:54": 1.01, "12:00:55": 1.01, "12:00:57": 0.985}))
    out = jump.anomalies(bar_scores(feats), jump.JumpParams(cooldown_seconds=0))
    assert list(out["ts"]) == [at("12:00:54"), at("12:00:55"), at("12:00:57")]
    assert out["cluster"].isna().all()


def test_clusters_chain_on_the_last_event():
    events = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "A", "B"],
            "ts": [at("12:00:00"), at("12:00:04"), at("12:00:08"), at("12:00:14"), at("12:00:09")],
            "abs_z": [7.0, 9.0, 8.0, 7.5, 20.0],
        }
    )
    out = cluster_events(events, cooldown_seconds=5)
    assert list(zip(out["symbol"], out["ts"], strict=True)) == [
        ("A", at("12:00:00")),
        ("A", at("12:00:14")),
        ("B", at("12:00:09")),
    ]
    assert out["cluster"].iloc[0]["count"] == 3 and out["cluster"].iloc[0]["max_abs_z"] == 9.0
    assert out["cluster"].iloc[0]["end_ts"] == at("12:00:08")
    assert out["cluster"].iloc[1] is None and out["cluster"].iloc[2] is None


def test_jump_records_carry_the_signed_return_over_sigma_in_features():
    bars = jump_bars({"12:00:54": 1.01, "12:30:00": 0.985, "12:30:02": 1.01})
    feats = bar_features(bars)
    params = jump.JumpParams()
    events = jump.jump_events(bar_scores(feats), params).set_index("ts")
    out = jump.anomalies(bar_scores(feats), params).set_index("ts")
    assert list(out.index) == [at("12:00:54"), at("12:30:00")]
    up, down = (json.loads(out.loc[at(t), "features"])["z_score"] for t in ("12:00:54", "12:30:00"))
    for t, z in ((at("12:00:54"), up), (at("12:30:00"), down)):
        event = events.loc[t]
        assert z == F.round_sig(event["return_1s"] / event["sigma"])
        assert abs(z) == pytest.approx(out.loc[t, "score"], rel=1e-7)
    # a fall is negative even when the cluster it starts holds a rise (the record is its first event's)
    assert up > params.k_sigma and down < -params.k_sigma
    assert json.loads(out.loc[at("12:30:00"), "cluster"])["count"] == 2


def test_a_jump_in_a_wide_spread_is_not_reported():
    bars = jump_bars({"12:00:54": 1.01})
    second = bars["ts"] == at("12:00:54")
    assert len(jump.anomalies(bar_scores(bar_features(bars)), jump.JumpParams())) == 1
    bars.loc[second, "spread_bps"] = 60.0  # >= spread_stable_bps 50
    assert jump.anomalies(bar_scores(bar_features(bars)), jump.JumpParams()).empty


def test_a_jump_in_a_thin_second_is_not_reported():
    bars = jump_bars({"12:00:54": 1.01})
    bars.loc[bars["ts"] == at("12:00:54"), "trade_count"] = 4  # < min_trade_count 5
    assert jump.anomalies(bar_scores(bar_features(bars)), jump.JumpParams()).empty
    assert len(jump.anomalies(bar_scores(bar_features(bars), {"jump.min_trade_count": 4}), jump.JumpParams())) == 1


def test_a_jump_without_a_fresh_quote_is_reported():
    bars = jump_bars({"12:00:54": 1.01})
    bars.loc[bars["ts"] == at("12:00:54"), "spread_bps"] = np.nan
    assert len(jump.anomalies(bar_scores(bar_features(bars)), jump.JumpParams())) == 1


def test_clean_random_walk_has_no_jumps():
    assert jump.anomalies(bar_scores(bar_features(make_bars(seconds=3 * 3600))), jump.JumpParams()).empty


def test_jump_params_from_vars():
    p = jump.JumpParams.from_vars({"k_sigma": 6.9, "spread_stable_bps": 50, "cooldown_seconds": 4})
    assert (p.k_sigma, p.cooldown_seconds) == (6.9, 4.0)


# ------------------------------------------------------------------------------------------ IsolationForest
def forest_features(n_per_symbol: int = 20_000, seed: int = 11, day: pd.Timestamp = DAY) -> pd.DataFrame:
    """Feature rows drawn from smooth distributions for three symbols at different scales, on one day."""
    rng = np.random.default_rng(seed)
    parts = []
    for i, symbol in enumerate(["AAAUSDT", "BBBUSDT", "CCCUSDT"]):
        scale = 10.0**i
        parts.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": day + pd.to_timedelta(np.arange(n_per_symbol) * 86_400 // n_per_symbol, unit="s"),
                    "trade_count": rng.integers(1, 10, n_per_symbol),
                    "spread_bp": scale * rng.gamma(4.0, 0.5, n_per_symbol),
                    "log_volume": rng.normal(-2.0 + i, 1.0, n_per_symbol),
                    "vwap_drift_bp": scale * rng.standard_t(5, n_per_symbol) * 0.2,
                    "return_1s": rng.normal(0.0, 1e-4 * scale, n_per_symbol),
                    "has_nonfinite_value": False,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def history_of(days: int = 3, n_per_symbol: int = 8_000, judged: pd.Timestamp = DAY) -> pd.DataFrame:
    """iforest_training_bars-shaped rows: `days` clean days before `judged`, for every symbol."""
    parts = [
        forest_features(n_per_symbol, seed=100 + k, day=judged - pd.Timedelta(days=k)) for k in range(1, days + 1)
    ]
    training = pd.concat(parts, ignore_index=True)
    return training.assign(judged_date=judged)[list(iforest.TRAINING_COLUMNS)]


def baselines_for(symbols, baseline: str, judged: pd.Timestamp = DAY, days: int = 3) -> pd.DataFrame:
    dates = [judged - pd.Timedelta(days=k) for k in range(days, 0, -1)] if baseline == "history" else []
    return pd.DataFrame(
        {"symbol": list(symbols), "date": judged, "baseline": baseline, "training_dates": [dates] * len(symbols)}
    )


SYMBOLS = ("AAAUSDT", "BBBUSDT", "CCCUSDT")
FOREST = iforest.IForestParams(n_estimators=100)


def test_threshold_is_the_training_scores_quantile_and_clean_days_flag_about_contamination():
    training = history_of()
    one = training[training["symbol"] == "BBBUSDT"].reset_index(drop=True)
    model = iforest.fit_model(one, FOREST, "history", ("2024-08-06", "2024-08-07", "2024-08-08"))
    X = iforest.standardise(iforest.raw_features(one), model.mean, model.std)
    training_score = iforest.score(model, X, FOREST)
    assert model.threshold == np.percentile(training_score, 99.5) == iforest.threshold_from(training_score, 0.005)
    assert model.max_training_score == training_score.max() and model.n_training_rows == len(one)
    assert iforest.threshold_from(training_score, "auto") == 0.5
    # the training rows' own mean and std are the reference
    assert np.allclose(model.mean, one[list(F.FEATURES)].mean().to_numpy())
    assert np.allclose(model.std, one[list(F.FEATURES)].std(ddof=0).to_numpy())
    # a clean judged day like the history flags about contamination of its bars, none beyond the background
    judged = forest_features(20_000, seed=3)
    out = iforest.anomalies(judged, None, FOREST, baselines_for(SYMBOLS, "history"), training)
    for symbol in SYMBOLS:
        share = (out["symbol"] == symbol).sum() / 20_000
        assert 0.5 * FOREST.contamination <= share <= 1.6 * FOREST.contamination, (symbol, share)
    assert set(out["baseline"]) == {"history"} and out["exceeds_background"].sum() <= 10
    assert out["rationale"].str.contains("forest trained on 24000 clean bars of the symbol's 3 day(s) 2024-08-06..2024-08-08", regex=False).all()


def test_the_history_model_never_learns_from_the_day_it_judges():
    training = history_of()
    judged = forest_features(6_000, seed=3)
    baselines = baselines_for(SYMBOLS, "history")
    clean = iforest.anomalies(judged, None, FOREST, baselines, training)
    # a damaged day: a tenth of its bars trade twenty times the usual volume at three times the usual spread.
    # The history model flags them; a fit on the day itself (a cold start) learns the damage as normal
    damaged = judged.copy()
    hit = damaged.index[damaged.index % 10 == 0]
    damaged.loc[hit, "log_volume"] += 3.0
    damaged.loc[hit, "spread_bp"] *= 3.0
    flagged = iforest.anomalies(damaged, None, FOREST, baselines, training)
    same_day = iforest.anomalies(damaged, None, FOREST)
    assert len(flagged) > 5 * len(clean) and len(flagged) > 5 * len(same_day)
    assert flagged["exceeds_background"].sum() > 20
    # the undamaged bars of the damaged day score exactly as on the clean day: the judged rows never reach the fit
    models = iforest.models_for(judged, None, FOREST, baselines, training)
    models_damaged = iforest.models_for(damaged, None, FOREST, baselines, training)
    for pair, model in models.items():
        assert model.threshold == models_damaged[pair].threshold and np.array_equal(model.mean, models_damaged[pair].mean)
    keep = ~damaged.index.isin(hit)
    untouched_clean = clean[clean["ts"].isin(judged.loc[keep, "ts"]) & ~clean["ts"].isin(judged.loc[hit, "ts"])]
    untouched_damaged = flagged[flagged.set_index(["symbol", "ts"]).index.isin(
        untouched_clean.set_index(["symbol", "ts"]).index)]
    pd.testing.assert_frame_equal(untouched_clean.reset_index(drop=True), untouched_damaged.reset_index(drop=True))


def test_each_symbol_is_judged_by_its_own_forest():
    training = history_of()
    judged = forest_features(6_000, seed=3)
    baselines = baselines_for(SYMBOLS, "history")
    together = iforest.anomalies(judged, None, FOREST, baselines, training)
    # another symbol's data changed beyond recognition: AAAUSDT's records do not move
    other = judged.copy()
    other.loc[other["symbol"] != "AAAUSDT", "log_volume"] *= 7
    other_training = training.copy()
    other_training.loc[other_training["symbol"] != "AAAUSDT", "spread_bp"] += 50
    changed = iforest.anomalies(other, None, FOREST, baselines, other_training)
    alone = iforest.anomalies(judged[judged["symbol"] == "AAAUSDT"], None, FOREST, baselines, training)
    mine = together[together["symbol"] == "AAAUSDT"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, changed[changed["symbol"] == "AAAUSDT"].reset_index(drop=True))
    pd.testing.assert_frame_equal(mine, alone)
    assert not together[together["symbol"] != "AAAUSDT"].reset_index(drop=True).equals(
        changed[changed["symbol"] != "AAAUSDT"].reset_index(drop=True))


def test_cold_start_fits_on_the_days_own_clean_rows_and_says_so():
    feats = forest_features(n_per_symbol=5_000)
    rng = np.random.default_rng(5)
    bad = np.sort(rng.choice(len(feats), 600, replace=False))
    critical = feats.loc[bad[:500], ["symbol", "ts"]]
    feats.loc[bad[:500], "log_volume"] = 40.0  # and they look very different
    feats.loc[bad[500:], "has_nonfinite_value"] = True
    feats.loc[bad[500:], "return_1s"] = np.inf
    models = iforest.models_for(feats, critical, iforest.IForestParams(n_estimators=50, fit_sample_size=1_000_000))
    assert {model.baseline for model in models.values()} == {"cold_start"}
    bad_per_symbol = feats.loc[bad, "symbol"].value_counts()
    for (symbol, _day), model in models.items():
        assert model.n_training_rows == 5_000 - bad_per_symbol.get(symbol, 0)
        assert model.training_days == ()
    fit_rows = iforest.cold_start_rows(iforest.sorted_features(feats), critical)
    assert len(fit_rows) == len(feats) - 600
    assert fit_rows.set_index(["symbol", "ts"]).index.isin(feats.loc[bad].set_index(["symbol", "ts"]).index).sum() == 0
    out = iforest.anomalies(feats, critical, iforest.IForestParams(n_estimators=50), baselines_for(SYMBOLS, "cold_start"))
    assert len(out) > 0 and set(out["baseline"]) == {"cold_start"}
    assert out["rationale"].str.contains("cold start: no clean history").all()
    # ... yet they are scored, and far above the rows the forest was fitted on
    critical_keys = set(zip(critical["symbol"], critical["ts"], strict=True))
    is_critical = np.array([k in critical_keys for k in zip(out["symbol"], out["ts"], strict=True)])
    assert is_critical.sum() > 0
    for (symbol, _day), model in models.items():
        rows = iforest.sorted_features(feats[feats["symbol"] == symbol])
        scores = iforest.score(model, iforest.standardise(iforest.raw_features(rows), model.mean, model.std), FOREST)
        bad_rows = iforest.critical_mask(rows, critical)
        assert np.median(scores[bad_rows]) > np.percentile(scores[~bad_rows], 90)
    # without baselines every symbol-day is a cold start; a pair the baselines lack is not judged
    assert iforest.anomalies(feats, critical, iforest.IForestParams(n_estimators=50)).equals(out)
    only_a = iforest.anomalies(feats, critical, iforest.IForestParams(n_estimators=50),
                               baselines_for(["AAAUSDT"], "cold_start"))
    assert set(only_a["symbol"]) == {"AAAUSDT"}


def test_a_cold_start_thresholds_on_its_fit_sample_scored_directly_and_scores_the_day_once(monkeypatch):
    # a sampled cold start (fewer fit rows than eligible rows) on a day with critical and non-finite bars:
    # the threshold, the background and the records are those of a forest fitted on the sample and scored
    # on the sample itself, although the day is scored once and the sample's scores taken from it
    feats = forest_features(n_per_symbol=6_000, seed=21)
    rng = np.random.default_rng(8)
    bad = np.sort(rng.choice(len(feats), 900, replace=False))
    critical = feats.loc[bad[:600], ["symbol", "ts"]]
    feats.loc[bad[:600], "log_volume"] = 40.0
    feats.loc[bad[600:], "has_nonfinite_value"] = True
    feats.loc[bad[600:], "spread_bp"] = np.nan
    params = iforest.IForestParams(n_estimators=50, fit_sample_size=4_000, contamination=0.01)
    models = iforest.models_for(feats, critical, params)
    records = []
    for (symbol, _day), model in models.items():
        rows = iforest.sorted_features(feats[feats["symbol"] == symbol])
        fit_rows = iforest.cold_start_rows(rows, critical).reset_index(drop=True)
        direct = iforest.fit_model(fit_rows, params, "cold_start")
        assert model.n_training_rows == direct.n_training_rows == 4_000 < len(fit_rows)
        assert model.threshold == direct.threshold and model.max_training_score == direct.max_training_score
        assert np.array_equal(model.mean, direct.mean) and np.array_equal(model.std, direct.std)
        sample = fit_rows.iloc[iforest.fit_sample(len(fit_rows), params)]
        X = iforest.standardise(iforest.raw_features(sample), direct.mean, direct.std)
        training_score = iforest.score(direct, X, params)
        assert direct.threshold == iforest.threshold_from(training_score, 0.01)
        assert direct.max_training_score == training_score.max()
        # other rows than the sample (the day's eligible rows, or all of its rows) give another threshold
        for other in (fit_rows, rows):
            X_other = iforest.standardise(iforest.raw_features(other), direct.mean, direct.std)
            assert iforest.threshold_from(iforest.score(direct, X_other, params), 0.01) != model.threshold
        records += iforest._symbol_day_records(rows, direct, params)
    scored = []
    monkeypatch.setattr(iforest, "score", lambda model, X, params, real=iforest.score: scored.append(len(X)) or real(model, X, params))
    out = iforest.anomalies(feats, critical, params)
    assert len(scored) == 3 and sum(scored) == len(feats)  # one call per symbol-day: the judged rows
    assert len(out) > 0 and out.equals(F.anomaly_frame(records))


def test_a_cached_history_model_is_not_rescored_on_its_training_rows(tmp_path, monkeypatch):
    training = history_of(days=2, n_per_symbol=3_000)
    judged = forest_features(2_000, seed=3)
    baselines = baselines_for(SYMBOLS, "history", days=2)
    first = iforest.anomalies(judged, None, FOREST, baselines, training, iforest.ModelCache(tmp_path))
    scored = []
    monkeypatch.setattr(iforest, "score", lambda model, X, params, real=iforest.score: scored.append(len(X)) or real(model, X, params))
    cache = iforest.ModelCache(tmp_path)
    again = iforest.anomalies(judged, None, FOREST, baselines, training, cache)
    assert (cache.hits, cache.fits) == (3, 0) and scored == [2_000] * 3 and again.equals(first)


def judged_on_one_process(cache_folder):
    """(judged, training, baselines, params, records) of three symbols, two with a history and one cold
    start, judged on this process alone: what sharing the work out must give again."""
    judged = forest_features(3_000, seed=5)
    training = history_of(days=2, n_per_symbol=2_000)
    baselines = baselines_for(SYMBOLS, "history", days=2)
    baselines.loc[baselines["symbol"] == "CCCUSDT", "baseline"] = "cold_start"  # both kinds of task
    params = iforest.IForestParams(n_estimators=60, processes=1)
    one = iforest.anomalies(judged, None, params, baselines, training, iforest.ModelCache(cache_folder), 5.0)
    return judged, training, baselines, params, one


def test_records_are_the_same_on_worker_processes_as_on_one(monkeypatch, caplog, tmp_path):
    # the threshold is read in this process only: lowered, these small days go to a worker too
    monkeypatch.setattr(iforest, "PARALLEL_MIN_ROWS", 0)
    judged, training, baselines, params, one = judged_on_one_process(tmp_path / "one")
    with caplog.at_level(logging.INFO, logger="lakeqa.detectors.iforest"):
        many = iforest.anomalies(judged, None, replace(params, processes=2), baselines, training,
                                 iforest.ModelCache(tmp_path / "many"), 5.0)  # fmt: skip
    assert "on 2 processes" in caplog.text
    assert len(one) > 0 and many.equals(one)
    # the history models fitted on a worker are cached here as well
    assert sorted(p.parent.name for p in (tmp_path / "many").rglob("*.pkl.z")) == ["AAAUSDT", "BBBUSDT"]


def test_records_are_the_same_when_the_model_shares_symbols_out_one_by_one(tmp_path):
    # as models/detectors/anomalies_iforest.py does with the worker `lakeqa run` lends it: each symbol's rows
    # on their own, its forest fitted here or on the worker through Workers.each's `remote`
    from lakeqa.workers import Workers

    judged, training, baselines, params, one = judged_on_one_process(tmp_path / "one")
    cache, remotely = iforest.ModelCache(tmp_path / "shared"), []

    def judge(symbol, remote):
        if remote is not None:
            remotely.append(symbol)
        of = (lambda frame: frame[frame["symbol"] == symbol])  # noqa: E731
        return iforest.anomalies(of(judged), None, params, of(baselines), of(training), cache, 5.0, remote=remote)

    with Workers(2, warm_modules=iforest.WORKER_IMPORTS) as pool:
        parts = pool.each(SYMBOLS * 4, judge)  # each symbol four times, so that the worker gets some
    shared = pd.concat(parts[: len(SYMBOLS)], ignore_index=True)
    assert remotely, "no symbol was judged on the worker"
    assert len(one) > 0 and shared.equals(one)
    assert all(part.equals(parts[i % len(SYMBOLS)]) for i, part in enumerate(parts))
    # the history models fitted on the worker are cached here
    assert sorted(p.parent.name for p in (tmp_path / "shared").rglob("*.pkl.z")) == ["AAAUSDT", "BBBUSDT"]


def test_a_history_baseline_without_training_rows_is_an_error_not_a_silent_cold_start():
    with pytest.raises(ValueError, match="has history"):
        iforest.anomalies(forest_features(1_000), None, FOREST, baselines_for(SYMBOLS, "history"), None)


def test_the_fit_sample_is_deterministic_and_bounded():
    feats = forest_features(n_per_symbol=4_000)
    params = iforest.IForestParams(fit_sample_size=3_000, n_estimators=50)
    a = iforest.models_for(feats, None, params)
    b = iforest.models_for(feats.sample(frac=1.0, random_state=1), None, params)
    assert {m.n_training_rows for m in a.values()} == {3_000}
    for pair, model in a.items():
        assert model.threshold == b[pair].threshold and np.array_equal(model.mean, b[pair].mean)
    out_a = iforest.anomalies(feats, None, params)
    out_b = iforest.anomalies(feats.sample(frac=1.0, random_state=1), None, params)
    assert out_a.to_csv(index=False).encode() == out_b.to_csv(index=False).encode()


def test_iforest_scores_do_not_depend_on_chunking():
    one = history_of(days=1, n_per_symbol=30_000)
    one = one[one["symbol"] == "CCCUSDT"].reset_index(drop=True)
    model = iforest.fit_model(one, iforest.IForestParams(n_estimators=50))
    X = iforest.standardise(iforest.raw_features(one), model.mean, model.std)
    single = iforest.score(model, X, iforest.IForestParams(n_jobs=1, chunk_rows=1_000_000, n_estimators=50))
    many = iforest.score(model, X, iforest.IForestParams(n_jobs=2, chunk_rows=777, n_estimators=50))
    assert np.array_equal(single, many)


def test_the_detector_imports_scikit_learn_only_to_fit_a_forest():
    """The model's process loads and sends the first symbols to the worker process while it imports
    scikit-learn (~1.3 s) at its own first fit: importing the module must not import it."""
    script = ("import sys; from lakeqa.detectors import iforest; print('sklearn' in sys.modules); "
              "iforest.fit_forest(iforest.np.random.default_rng(1).standard_t(3, (300, 4)), "
              "iforest.IForestParams(n_estimators=5)); print('sklearn' in sys.modules)")  # fmt: skip
    imported = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert imported.stdout.split() == ["False", "True"]
    import sklearn

    # the cache's key names the version the forests were fitted with, read without importing scikit-learn
    assert iforest.metadata.version("scikit-learn") == sklearn.__version__


def test_a_forest_comes_back_from_a_worker_pickled_so_that_receiving_it_imports_nothing():
    """ProcessPoolExecutor's own thread unpickles what a worker sends back. A forest in it imported
    scikit-learn there while the model's thread imported it for its first fit, and importlib raised
    _DeadlockError (sklearn.ensemble against sklearn.ensemble._iforest) in a 10 M-trade run."""
    one = history_of(days=1, n_per_symbol=3_000)
    one = one[one["symbol"] == "CCCUSDT"].reset_index(drop=True)
    params = iforest.IForestParams(n_estimators=20)
    raw = iforest.raw_features(one)
    task = (raw, None, np.arange(len(raw)), (), None)  # a cold start: fitted on the day itself
    sent = pickle.dumps(iforest._judge_task(task, params))
    script = ("import pickle, sys; pickle.loads(sys.stdin.buffer.read()); "
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'joblib', 'scipy'}))")  # fmt: skip
    received = subprocess.run([sys.executable, "-c", script], input=sent, capture_output=True, check=True)
    assert received.stdout.decode().strip() == "[]"
    # where the results are taken (a feeding thread), the forest is unpickled: the same model and scores
    model, scores = iforest._received(pickle.loads(sent))
    here, here_scores = iforest.judge_pair(*task, params)
    assert type(model.forest) is type(here.forest) and model.threshold == here.threshold
    assert np.array_equal(scores, here_scores)
    X = iforest.standardise(raw, model.mean, model.std)
    assert np.array_equal(model.forest.score_samples(X), here.forest.score_samples(X))


def test_iforest_scores_rows_in_locality_order_and_returns_them_in_the_rows_order():
    one = history_of(days=1, n_per_symbol=30_000)
    one = one[one["symbol"] == "CCCUSDT"].reset_index(drop=True)
    params = iforest.IForestParams(n_estimators=50)
    model = iforest.fit_model(one, params)
    X = iforest.standardise(iforest.raw_features(one), model.mean, model.std)
    X[:500] = X[0]  # ties: one bucket, kept in row order
    order = iforest.locality_order(X)
    assert np.array_equal(np.sort(order), np.arange(len(X)))
    assert not np.array_equal(order, np.arange(len(X)))  # it does reorder
    assert np.array_equal(order[np.isin(order, np.arange(500))], np.arange(500))
    # rows next to each other along the curve are nearer each other than rows next to each other in time
    along_curve = np.abs(np.diff(X[order], axis=0)).sum(axis=1).mean()
    along_time = np.abs(np.diff(X, axis=0)).sum(axis=1).mean()
    assert along_curve < along_time / 4
    # the scores are scikit-learn's own for the rows in their given order, bit for bit
    assert len(X) > iforest.SMALL_SCORING_ROWS
    assert np.array_equal(iforest.score(model, X, params), -model.forest.score_samples(X))


def test_the_model_cache_reuses_a_fit_refits_changed_history_and_survives_a_corrupt_file(tmp_path):
    training = history_of(days=2, n_per_symbol=3_000)
    one = training[training["symbol"] == "AAAUSDT"].reset_index(drop=True)
    days = ("2024-08-07", "2024-08-08")
    cache = iforest.ModelCache(tmp_path)
    first = cache.get_or_fit("AAAUSDT", one, days, FOREST)
    files = list(tmp_path.glob(f"AAAUSDT/*{iforest.CACHE_SUFFIX}"))
    assert (cache.fits, cache.hits) == (1, 0) and len(files) == 1
    assert files[0].name.startswith("2024-08-07_2024-08-08_")
    again = cache.get_or_fit("AAAUSDT", one.copy(), days, FOREST)
    assert (cache.fits, cache.hits) == (1, 1)
    assert again.threshold == first.threshold and again.max_training_score == first.max_training_score
    X = iforest.standardise(iforest.raw_features(one), first.mean, first.std)
    assert np.array_equal(iforest.score(again, X, FOREST), iforest.score(first, X, FOREST))
    # one changed training bar, or another parameter: another model
    changed = one.copy()
    changed.loc[10, "spread_bp"] += 1e-6
    cache.get_or_fit("AAAUSDT", changed, days, FOREST)
    cache.get_or_fit("AAAUSDT", one, days, iforest.IForestParams(n_estimators=60))
    assert cache.fits == 3 and len(list(tmp_path.glob(f"AAAUSDT/*{iforest.CACHE_SUFFIX}"))) == 3
    # a corrupt file is fitted again and overwritten, not fatal
    files[0].write_bytes(b"not a joblib file")
    repaired = cache.get_or_fit("AAAUSDT", one, days, FOREST)
    assert cache.unreadable == 1 and cache.fits == 4 and repaired.threshold == first.threshold
    assert iforest.ModelCache(tmp_path).get_or_fit("AAAUSDT", one, days, FOREST).threshold == first.threshold
    # history models read through the cache are the ones fitted without it
    out_cached = iforest.anomalies(forest_features(3_000, seed=3), None, FOREST, baselines_for(SYMBOLS, "history", days=2),
                                   training, iforest.ModelCache(tmp_path / "other"))
    out_plain = iforest.anomalies(forest_features(3_000, seed=3), None, FOREST, baselines_for(SYMBOLS, "history", days=2),
                                  training)
    assert out_cached.to_csv(index=False) == out_plain.to_csv(index=False)


def test_iforest_params_from_vars():
    p = iforest.IForestParams.from_vars(
        {"n_estimators": 200, "contamination": 0.005, "random_state": 42, "fit_sample_size": 100000,
         "training_days": 7, "min_training_bars": 2000}
    )
    assert (p.n_estimators, p.contamination, p.random_state, p.fit_sample_size) == (200, 0.005, 42, 100000)
    assert iforest.IForestParams.from_vars({"contamination": "auto"}).contamination == "auto"
    with pytest.raises(ValueError):
        iforest.IForestParams.from_vars({"contamination": 0.9})


# ------------------------------------------------------------------------------------------------ labeler
def test_confidence_is_in_unit_interval_and_monotone_in_score():
    z = np.linspace(0.0, 1000.0, 20_001)
    c = labeler.z_confidence(z, 5.0)
    assert (c >= 0).all() and (c <= 1).all()
    assert (np.diff(c) > 0).all()
    assert labeler.z_confidence(5.0, 5.0) == 0.5
    s = np.linspace(0.0, 1.0, 10_001)
    ci = labeler.iforest_confidence(s, 0.62)
    assert (ci >= 0).all() and (ci <= 1).all() and (np.diff(ci) >= 0).all()
    assert labeler.iforest_confidence(0.62, 0.62) == 0.5 and labeler.iforest_confidence(1.0, 0.62) == 1.0
    above = s > 0.62
    assert (np.diff(ci[above]) > 0).all()


def test_rationale_contains_the_numbers():
    lab = labeler.label_zscore("ZSCORE_SPREAD_BP", z=8.3, k=5.0, value=12.5, mean=2.1, sigma=1.25, n=2805)
    assert lab.label == "wide_spread"
    assert "spread_bp z-score 8.30 exceeds threshold 5 in absolute value" in lab.rationale
    for number in ("12.5", "2.1", "1.25", "2805"):
        assert number in lab.rationale
    down = labeler.label_zscore("ZSCORE_LOG_VOLUME", z=-6.0, k=5.0, value=-9, mean=-2, sigma=1, n=400)
    assert down.label == "volume_drop" and "-6.00" in down.rationale
    j = labeler.label_jump(
        abs_z=161.47, k_sigma=6.8, return_1s=0.0149, sigma=9.2e-5, trade_count=10, spread_bp=0.0016
    )
    assert (
        j.label == "price_jump"
        and "161.47" in j.rationale
        and "6.8" in j.rationale
        and "+1.49%" in j.rationale
    )
    f = labeler.label_iforest(0.712, 0.634, 0.005, "log_volume", 7.4)
    assert f.label == "multivariate_outlier"
    assert (
        "0.712" in f.rationale
        and "0.634" in f.rationale
        and "log_volume" in f.rationale
        and "+7.40" in f.rationale
    )


# -------------------------------------------------------------------------------------------- determinism
def all_detectors(feats: pd.DataFrame) -> pd.DataFrame:
    params = iforest.IForestParams(fit_sample_size=5_000, n_estimators=50)
    return pd.concat(
        [
            zscore.anomalies(bar_scores(feats), zscore.ZScoreParams()),
            jump.anomalies(bar_scores(feats), jump.JumpParams()),
            iforest.anomalies(feats, None, params),
        ],
        ignore_index=True,
    )


def test_same_input_gives_byte_identical_output():
    bars = jump_bars({"12:00:54": 1.01, "12:00:55": 1.01, "12:40:00": 0.98})
    bars.loc[bars["ts"] == at("12:10:00"), "volume_base"] *= 500
    feats = bar_features(bars)
    first = all_detectors(feats)
    again = all_detectors(feats.copy())
    shuffled = all_detectors(feats.sample(frac=1.0, random_state=3))
    assert len(first) > 10 and set(first["detector"]) >= {"JUMP", "ZSCORE_LOG_VOLUME", "IFOREST"}
    assert list(first.columns) == ANOMALY_COLUMNS
    as_bytes = first.to_csv(index=False).encode()
    assert again.to_csv(index=False).encode() == as_bytes
    assert shuffled.to_csv(index=False).encode() == as_bytes


def test_json_text_is_rounded_and_iso_utc():
    text = F.features_json(
        {
            "spread_bp": 1.23456789012,
            "log_volume": float("nan"),
            "vwap_drift_bp": 0.0,
            "return_1s": 1e-5,
            "trade_count": 3,
        }
    )
    assert (
        text
        == '{"spread_bp": 1.2345679, "log_volume": null, "vwap_drift_bp": 0.0, "return_1s": 1e-05, "trade_count": 3}'
    )
    with_z = F.features_json({"return_1s": 0.0149, "trade_count": 10}, z_score=-161.4723456789)
    assert with_z.endswith('"trade_count": 10, "z_score": -161.47235}')
    assert F.iso_utc(pd.Timestamp("2024-08-09 12:00:54")) == "2024-08-09T12:00:54Z"
    assert F.iso_utc(pd.Timestamp("2024-08-09 12:00:54.25")) == "2024-08-09T12:00:54.250000Z"
    assert F.iso_utc(pd.Timestamp("2024-08-09 14:00:54", tz="Europe/Berlin")) == "2024-08-09T12:00:54Z"


# ------------------------------------------------------------------------------------------ Python models
def iforest_inputs(feats: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """anomalies_iforest's other refs: every symbol-day of `feats` a cold start, no training rows."""
    pairs = feats[["symbol"]].assign(date=feats["ts"].dt.floor("D")).drop_duplicates()
    baselines = pairs.assign(baseline="cold_start", training_dates=[[]] * len(pairs))
    return {"iforest_baselines": baselines, "iforest_training_bars": pd.DataFrame(columns=iforest.TRAINING_COLUMNS)}


@pytest.mark.parametrize("name", ["anomalies_zscore", "anomalies_jump", "anomalies_iforest"])
def test_enable_ai_false_returns_an_empty_frame_without_running_a_detector(name, monkeypatch):
    module = load_python_model(name)
    for mod in (zscore, jump, iforest):
        monkeypatch.setattr(mod, "anomalies", lambda *a, **k: pytest.fail("a detector ran"))
    feats = bar_features(make_bars(seconds=600))
    relations = {"bar_features": feats, "bar_scores": bar_scores(feats), "violations": pd.DataFrame(),
                 "detector_background": no_history(), "iforest_training_days": no_training_days(),
                 **iforest_inputs(feats)}  # fmt: skip
    dbt = FakeDbt(relations, {"enable_ai": False})
    out = module.model(dbt, None)
    assert out.empty and list(out.columns) == ANOMALY_COLUMNS


@pytest.mark.parametrize("enabled", [False, "false"])
def test_iforest_enabled_false_returns_an_empty_frame_without_fitting(enabled, monkeypatch):
    module = load_python_model("anomalies_iforest")
    monkeypatch.setattr(iforest, "anomalies", lambda *a, **k: pytest.fail("IsolationForest ran"))
    feats = bar_features(make_bars(seconds=600))
    relations = {"bar_features": feats, "violations": pd.DataFrame(), **iforest_inputs(feats)}
    dbt = FakeDbt(relations, {"enable_ai": True, "iforest": {"enabled": True, "n_estimators": 50},
                              "iforest_override": {"enabled": enabled}})  # fmt: skip
    out = module.model(dbt, None)
    assert out.empty and list(out.columns) == ANOMALY_COLUMNS


@pytest.mark.parametrize("name", ["anomalies_zscore", "anomalies_jump", "anomalies_iforest"])
def test_python_models_run_their_detector_with_the_vars(name):
    module = load_python_model(name)
    bars = jump_bars({"12:00:54": 1.01})
    bars.loc[bars["ts"] == at("12:10:00"), "volume_base"] *= 500
    feats = bar_features(bars)
    violations = pd.DataFrame({"symbol": ["TESTUSDT"], "ts": [at("12:10:00")]})
    meta = {
        "enable_ai": True,
        "zscore": {"window_s": 3600, "k": 5.0, "min_obs": 300},
        "jump": {"k_sigma": 6.8, "spread_stable_bps": 50, "cooldown_seconds": 5, "min_trade_count": 5},
        "iforest": {"n_estimators": 50, "contamination": 0.005, "random_state": 42, "fit_sample_size": 5000},
    }
    relations = {"bar_features": feats, "bar_scores": bar_scores(feats), "violations": violations,
                 "detector_background": no_history(), "iforest_training_days": no_training_days(),
                 **iforest_inputs(feats)}  # fmt: skip
    out = module.model(FakeDbt(relations, meta), None)
    assert list(out.columns) == ANOMALY_COLUMNS and len(out) > 0
    expected = {
        "anomalies_zscore": "ZSCORE_LOG_VOLUME",
        "anomalies_jump": "JUMP",
        "anomalies_iforest": "IFOREST",
    }
    assert expected[name] in set(out["detector"])


class DuckDbDbt(FakeDbt):
    """FakeDbt whose refs are real DuckDB relations (filters and projections run in DuckDB)."""

    def __init__(self, relations: dict[str, pd.DataFrame], meta: dict):
        super().__init__(relations, meta)
        self._con = duckdb.connect()

    def ref(self, name: str):
        return self._con.from_df(self._relations[name])


def test_iforest_model_loads_one_symbol_at_a_time_and_gives_the_whole_days_records(monkeypatch, tmp_path):
    # a symbol-day is judged on its own rows only, so the model loads one symbol's bars at a time (its memory
    # is one symbol's, not the day's): the records must be those of judging all symbols' rows together
    monkeypatch.setenv("QA_OUTPUT_ROOT", str(tmp_path))
    module = load_python_model("anomalies_iforest")
    symbols = ["AAAUSDT", "BBB'USDT", "CCCUSDT"]  # a quote in a symbol stays a value, never SQL
    feats = pd.concat([bar_features(make_bars(symbol=s, seconds=1800)) for s in symbols], ignore_index=True)
    bad = feats["symbol"].eq("CCCUSDT") & feats["ts"].isin([at("10:10:00"), at("10:10:01")])
    feats.loc[bad, "log_volume"] += 9.0  # a burst for the forest to find
    violations = pd.DataFrame({"symbol": ["BBB'USDT"], "ts": [at("10:05:00")], "severity": ["critical"],
                               "source_table": ["bars_1s"]})  # fmt: skip
    inputs = iforest_inputs(feats)
    meta = {"enable_ai": True, "iforest": {"n_estimators": 50, "fit_sample_size": 5000}}
    loaded = []
    whole_day = iforest.anomalies

    def spying(features, *args, **kwargs):
        loaded.append(sorted(features["symbol"].unique()))
        return whole_day(features, *args, **kwargs)

    monkeypatch.setattr(iforest, "anomalies", spying)
    out = module.model(DuckDbDbt({"bar_features": feats, "violations": violations, **inputs}, meta), None)
    assert loaded == [[s] for s in sorted(symbols)]
    params = iforest.IForestParams.from_vars(meta["iforest"])
    expected = whole_day(feats, violations, params, inputs["iforest_baselines"], None, None,
                         float(project_default("jump.cooldown_seconds")))  # fmt: skip
    assert set(expected["symbol"]) >= {"CCCUSDT"}
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected.reset_index(drop=True))


# ------------------------------------------------------------------------------ clustering and background
def test_zscore_events_within_the_cooldown_make_one_record():
    # the seed's example for every detector: 12:00:54, :55, :57 with cooldown 5 -> one record of 3
    bars = make_bars(seconds=3 * 3600, start=DAY + pd.Timedelta(hours=11))
    for t in ("12:00:54", "12:00:55", "12:00:57", "12:01:03"):
        bars.loc[bars["ts"] == at(t), "volume_base"] *= 200
    out = zscore.anomalies(bar_scores(bar_features(bars)), zscore.ZScoreParams())
    vol = out[out["detector"] == "ZSCORE_LOG_VOLUME"].reset_index(drop=True)
    assert list(vol["ts"]) == [at("12:00:54"), at("12:01:03")]
    cluster = json.loads(vol["cluster"].iloc[0])
    assert cluster["count"] == 3 and cluster["start_ts"] == "2024-08-09T12:00:54Z"
    assert cluster["end_ts"] == "2024-08-09T12:00:57Z" and vol["cluster"].iloc[1] is None
    assert "cluster of 3 events 12:00:54-12:00:57 UTC" in vol["rationale"].iloc[0]
    # cooldown 0: every event is its own record
    apart = zscore.anomalies(bar_scores(bar_features(bars)), zscore.ZScoreParams(cooldown_seconds=0))
    assert (apart["detector"] == "ZSCORE_LOG_VOLUME").sum() == 4


def _history(maxima: dict[str, float], detector: str = "JUMP", symbol: str = "TESTUSDT") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": symbol,
            "date": pd.to_datetime(list(maxima)),
            "detector": detector,
            "n_scored": 1000,
            "max_abs_z": list(maxima.values()),
        }
    )


def test_the_threshold_is_learned_from_the_median_of_earlier_days_maxima():
    params = background.BackgroundParams(training_days=7, min_training_days=3, margin=1.5)
    history = _history(
        {"2024-07-30": 500.0, "2024-08-04": 10.0, "2024-08-05": 12.0, "2024-08-06": 11.0,
         "2024-08-07": 140.0, "2024-08-08": 9.0, "2024-08-09": 300.0}
    )  # fmt: skip
    judged = pd.DataFrame({"symbol": ["TESTUSDT"], "date": [DAY]})
    t = background.thresholds(history, judged, {"JUMP": 6.8}, params)[("TESTUSDT", DAY, "JUMP")]
    # the judged day's own row and the day 10 days before stay out; the jump day (140) does not move
    # the median of 9, 10, 11, 12, 140
    assert (t.baseline, t.training_days, t.bound, t.value) == ("history", 5, 16.5, 16.5)
    assert t.exceeds_background and "5 earlier days" in t.describe(params.margin)
    # a quiet symbol: the bound is below k, the threshold stays k
    quiet = background.thresholds(_history({"2024-08-06": 2.0, "2024-08-07": 3.0, "2024-08-08": 2.5}),
                                  judged, {"JUMP": 6.8}, params)[("TESTUSDT", DAY, "JUMP")]  # fmt: skip
    assert quiet.value == 6.8 and quiet.bound == 3.75 and quiet.baseline == "history"
    # days not eligible (critical violations, certain FAIL) are left out: too few -> cold start
    eligible = pd.DataFrame({"symbol": ["TESTUSDT"] * 2, "date": pd.to_datetime(["2024-08-05", "2024-08-06"])})
    cold = background.thresholds(history, judged, {"JUMP": 6.8}, params, eligible)[("TESTUSDT", DAY, "JUMP")]
    assert (cold.baseline, cold.value, cold.bound, cold.exceeds_background) == ("cold_start", 6.8, None, False)
    assert "cold start" in cold.describe(params.margin)


def test_a_day_with_history_is_judged_against_its_learned_threshold():
    bars = jump_bars({"12:00:54": 1.01})
    feats = bar_features(bars)
    params = jump.JumpParams()
    judged = pd.DataFrame({"symbol": ["TESTUSDT"], "date": [DAY]})
    learned = background.BackgroundParams()
    days = {f"2024-08-0{d}": v for d, v in zip((4, 5, 6, 7, 8), (8.0, 9.0, 10.0, 11.0, 12.0), strict=True)}
    cold = jump.anomalies(bar_scores(feats), params, background.thresholds(_history({}), judged, {"JUMP": 6.8}, learned))
    assert list(cold["baseline"]) == ["cold_start"] and not cold["exceeds_background"].iloc[0]
    table = background.thresholds(_history(days), judged, {"JUMP": 6.8}, learned)
    warm = jump.anomalies(bar_scores(feats), params, table, learned)
    assert list(warm["baseline"]) == ["history"] and warm["exceeds_background"].iloc[0]
    assert "threshold 15 = max(k 6.8, 1.5 x the median" in warm["rationale"].iloc[0]
    # a background that high hides the +1 % jump: the learned threshold is what decides
    loud = background.thresholds(_history({d: v * 100 for d, v in days.items()}), judged, {"JUMP": 6.8}, learned)
    assert jump.anomalies(bar_scores(feats), params, loud, learned).empty


def test_iforest_records_within_the_cooldown_make_one_record():
    # the seed's example for every detector: outliers at 12:00:54, :55, :57 -> one record of 3
    training = history_of()
    judged = forest_features(20_000, seed=3)
    judged = judged[judged["symbol"] == "AAAUSDT"].reset_index(drop=True)
    # a second each (the rows are 4.32 s apart): replace the rows nearest to these seconds by outliers
    seconds = [at(t) for t in ("12:00:54", "12:00:55", "12:00:57", "12:01:10")]
    judged = judged[~judged["ts"].between(at("12:00:40"), at("12:01:20"))]
    outliers = pd.DataFrame({"symbol": "AAAUSDT", "ts": seconds, "trade_count": 5, "spread_bp": 500.0,
                             "log_volume": 9.0, "vwap_drift_bp": 40.0, "return_1s": 0.02,
                             "has_nonfinite_value": False})  # fmt: skip
    judged = pd.concat([judged, outliers], ignore_index=True)
    baselines = baselines_for(["AAAUSDT"], "history")
    out = iforest.anomalies(judged, None, FOREST, baselines, training, None, 5)
    near = out[out["ts"].between(at("12:00:50"), at("12:01:15"))].reset_index(drop=True)
    assert list(near["ts"]) == [at("12:00:54"), at("12:01:10")]
    cluster = json.loads(near["cluster"].iloc[0])
    assert cluster["count"] == 3 and cluster["end_ts"] == "2024-08-09T12:00:57Z" and cluster["max_score"] > 0.5
    assert near["exceeds_background"].all() and "cluster of 3 events" in near["rationale"].iloc[0]
    apart = iforest.anomalies(judged, None, FOREST, baselines, training, None, 0)
    assert apart["ts"].between(at("12:00:50"), at("12:01:15")).sum() == 4


def test_a_window_without_bars_gives_no_records_and_no_error():
    empty = bar_features(make_bars(seconds=600)).iloc[0:0]
    judged = pd.DataFrame({"symbol": pd.Series([], dtype="object"), "date": pd.Series([], dtype="datetime64[us]")})
    table = background.thresholds(no_history(), judged, {"JUMP": 6.8}, background.BackgroundParams())
    assert jump.anomalies(bar_scores(empty), jump.JumpParams(), table).empty
    assert zscore.anomalies(bar_scores(empty), zscore.ZScoreParams(), table).empty
