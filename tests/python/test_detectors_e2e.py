"""The detectors end to end through dbt (e2e, about three minutes) on five generated days of a realistic
market (fat-tailed returns in volatility bursts, wider books in the bursts; 13 symbols): the first three
days are cold starts, the last two are judged against the background learned from the days before them.
Every injected PRICE_JUMP (+0.5 % on BTCUSDT, the busiest symbol, whose learned threshold is the highest)
is found by JUMP and every VOLUME_SPIKE by ZSCORE_LOG_VOLUME or IFOREST at the right symbol and second, and
so is a +0.5 % jump or a x200 volume second put into any liquid symbol; clean days with history stay
quiet (at most 10 z-score and jump records per symbol-day, at most 1 JUMP); bar_features equals the
pandas reference; a rebuild is byte-identical; enable_ai false skips the detectors; real captures go
through every detector."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from lakeqa.dbt_runner import run_dbt
from lakeqa.detectors import background, jump, zscore
from lakeqa.detectors.features import FEATURES, ZSCORE_DETECTORS, ZSCORE_FEATURES, bar_features
from lakeqa.generate import generate_lake

from .conftest import DbtProject, real_data
from .scoring import bar_scores

pytestmark = pytest.mark.e2e

TRADES_PER_DAY = 300_000
DAYS = ["2024-08-05", "2024-08-06", "2024-08-07", "2024-08-08", "2024-08-09"]
COLD_DAYS, HISTORY_DAYS = DAYS[:3], DAYS[3:]  # detectors.min_training_days = 3
JUMP_SIZE = 0.005
QUIET_DETECTORS = ["JUMP", "ZSCORE_SPREAD_BP", "ZSCORE_LOG_VOLUME", "ZSCORE_VWAP_DRIFT_BP"]
CONTAMINATION = 0.005


def fingerprint(project: DbtProject, table: str, day: str) -> tuple:
    """Row count and md5 of every row (in a fixed order) of one day of a table."""
    return project.query(
        f"select count(*), md5(coalesce(string_agg(cast(t as varchar), chr(10) order by cast(t as varchar)), ''))"
        f" from {table} t where date = ?",
        [day],
    )[0]


def counts_by_detector(project: DbtProject, day: str) -> dict[str, int]:
    return dict(project.query("select detector, count(*) from anomalies where date = ? group by all", [day]))


@pytest.fixture(scope="module")
def faulted(tmp_path_factory, _dbt_private_paths):
    """Five generated days, 13 symbols, clean but for a +0.5 % PRICE_JUMP and a VOLUME_SPIKE on the last."""
    project = DbtProject(tmp_path_factory.mktemp("detectors"))
    report = generate_lake(
        project.lake,
        date=DAYS[-1],
        days=len(DAYS),
        trades_per_day=TRADES_PER_DAY,
        faults="PRICE_JUMP,VOLUME_SPIKE",
        jump_size=JUMP_SIZE,
        progress=False,
    )
    project.ground_truth = report.ground_truth
    project.build({"from": DAYS[0], "to": DAYS[-1]})
    return project


def test_every_injected_fault_is_found_by_its_detectors(faulted):
    faults = [f for f in faulted.ground_truth["faults"] if f["detectors"]]
    assert {f["kind"] for f in faults} == {"PRICE_JUMP", "VOLUME_SPIKE"}
    for fault in faults:
        found = {
            detector
            for (detector,) in faulted.query(
                "select detector from anomalies where symbol = ? and ts = cast(? as timestamp)",
                [fault["symbol"], fault["second"]],
            )
        }
        wanted = set(fault["detectors"])
        if fault.get("detectors_match") == "all":
            assert wanted <= found, (fault["kind"], fault["symbol"], fault["second"], found)
        else:
            assert wanted & found, (fault["kind"], fault["symbol"], fault["second"], found)
    [(label, score, confidence, baseline, beyond)] = faulted.query(
        "select label, score, confidence, baseline, exceeds_background from anomalies"
        " where detector = 'JUMP' and symbol = ? and ts = cast(? as timestamp)",
        [faults[0]["symbol"] if faults[0]["kind"] == "PRICE_JUMP" else faults[1]["symbol"],
         next(f["second"] for f in faults if f["kind"] == "PRICE_JUMP")],
    )  # fmt: skip
    assert label == "price_jump" and 0.5 < confidence <= 1 and baseline == "history" and beyond
    threshold = faulted.query(
        "select 1.5 * median(max_abs_z) from detector_background where symbol = 'BTCUSDT' and detector = 'JUMP'"
        " and date < ?",
        [DAYS[-1]],
    )[0][0]
    assert score > max(6.8, threshold) and threshold > 6.8, "BTCUSDT's learned JUMP threshold is above k_sigma"


def test_clean_days_with_history_are_quiet(faulted, record_property):
    """False alarms per symbol-day once the background is learned, away from the injected faults."""
    fault_keys = {(f["symbol"], f["second"].replace("T", " ")) for f in faulted.ground_truth["faults"]}
    for day in HISTORY_DAYS:
        rows = faulted.query(
            "select detector, symbol, strftime(ts, '%Y-%m-%d %H:%M:%S'), baseline from anomalies"
            " where date = ? and detector <> 'IFOREST'",
            [day],
        )
        per_symbol: dict[str, dict[str, int]] = {}
        for detector, symbol, ts, baseline in rows:
            assert baseline == "history", (day, detector, symbol)
            if (symbol, ts) not in fault_keys:
                per_symbol.setdefault(symbol, dict.fromkeys(QUIET_DETECTORS, 0))[detector] += 1
        record_property(f"false_alarms_{day}", per_symbol)
        print(f"{day}: z-score and jump records per symbol away from the faults {per_symbol}")
        for symbol, counts in per_symbol.items():
            assert sum(counts.values()) <= 10 and counts["JUMP"] <= 1, (day, symbol, counts)


def test_cold_start_days_are_marked_and_later_days_learn_from_them(faulted):
    baselines = {
        day: sorted(kinds)
        for day, kinds in faulted.query(
            "select date::varchar, list(distinct baseline || ':' || exceeds_background)"
            " from anomalies where detector <> 'IFOREST' group by 1"
        )
    }
    for day in COLD_DAYS:
        assert baselines[day] == ["cold_start:false"], (day, baselines[day])
    for day in HISTORY_DAYS:
        assert baselines.get(day, ["history:true"]) == ["history:true"], (day, baselines[day])
    stored = faulted.query(
        "select count(distinct date), count(*) filter (where symbol = 'BTCUSDT') from detector_background"
    )[0]
    assert stored == (len(DAYS), len(DAYS) * 4)  # a row per day and detector for a liquid symbol
    rationale = faulted.query(
        "select rationale from anomalies where detector <> 'IFOREST' and date = ? limit 1", [COLD_DAYS[0]]
    )[0][0]
    assert "cold start" in rationale


def _inject(bars: pd.DataFrame, second: pd.Timestamp, kind: str) -> pd.DataFrame:
    """A +0.5 % step of every price from `second` on (a jump trades: the second gets at least the
    generator's PRICE_JUMP count of trades), or `second`'s volume x 200."""
    bars = bars.copy()
    if kind == "jump":
        later = bars["ts"] >= second
        for col in ("open", "high", "low", "close", "vwap"):
            bars.loc[later, col] *= 1 + JUMP_SIZE
        at = bars["ts"] == second
        bars.loc[at, "trade_count"] = np.maximum(bars.loc[at, "trade_count"], 10)
    else:
        bars.loc[bars["ts"] == second, "volume_base"] *= 200
    return bars


def test_a_half_percent_jump_and_a_volume_spike_are_found_on_every_liquid_symbol(faulted):
    """Each liquid symbol of the last day, one at a time: a +0.5 % step of every price from its busiest
    calm second after 02:00 on, or that second's volume x 200, judged with the thresholds the symbol
    learned from its earlier days (the pandas reference features). Liquid: not thin, and a tick small
    enough that 0.5 % is more than k_sigma ticks (JUMP's sigma is never below one tick, because a
    one-tick move is the bid-ask bounce: LINKUSDT's tick of 0.01 at 10.5 is 9.5 bp, so +0.5 % is 5
    ticks and by design not a JUMP)."""
    from lakeqa.generator.symbols import SPECS

    day = DAYS[-1]
    fault_symbols = {f["symbol"] for f in faulted.ground_truth["faults"]}
    history = faulted.df("select * from detector_background")
    zparams, jparams, learned = zscore.ZScoreParams(), jump.JumpParams(), background.BackgroundParams()
    liquid = [
        spec.symbol for spec in SPECS
        if not spec.thin and spec.symbol not in fault_symbols and spec.tick / spec.price * jparams.k_sigma < JUMP_SIZE
    ]  # fmt: skip
    assert len(liquid) == 9 and "LINKUSDT" not in liquid, liquid
    for symbol in liquid:
        # (symbol is one of the generator's own names)
        bars = faulted.df(
            f"select * from bars_1s where symbol = '{symbol}' and ts >= timestamp '2024-08-08 23:00:00' order by ts"
        )
        calm = bars[(bars["ts"] >= pd.Timestamp(f"{day} 02:00")) & (bars["spread_bps"] < 50)]
        second = calm.sort_values(["trade_count", "ts"], ascending=[False, True])["ts"].iloc[0]
        judged = pd.DataFrame({"symbol": [symbol], "date": [pd.Timestamp(day)]})
        for kind, detector in (("jump", "JUMP"), ("volume", "ZSCORE_LOG_VOLUME")):
            feats = bar_scores(bar_features(_inject(bars, second, kind), start=day))
            if kind == "jump":
                table = background.thresholds(history, judged, {"JUMP": jparams.k_sigma}, learned)
                out = jump.anomalies(feats, jparams, table, learned)
            else:
                table = background.thresholds(history, judged, dict.fromkeys(ZSCORE_DETECTORS, zparams.k), learned)
                out = zscore.anomalies(feats, zparams, table, learned)
            threshold = table[(symbol, pd.Timestamp(day), detector)]
            hit = out[(out["ts"] == second) & (out["detector"] == detector)]
            assert len(hit) == 1, (symbol, kind, str(second), threshold)
            assert hit["baseline"].iloc[0] == threshold.baseline
            if kind == "volume":
                assert threshold.baseline == "history" and hit["exceeds_background"].iloc[0]


def test_iforest_flags_about_contamination_of_the_bars(faulted):
    for day in DAYS:
        bars = faulted.query("select count(*) from bars_1s where date = ?", [day])[0][0]
        flagged = counts_by_detector(faulted, day).get("IFOREST", 0)
        assert 0.7 * CONTAMINATION <= flagged / bars <= 1.3 * CONTAMINATION, (day, flagged, bars)


def test_sql_features_equal_the_pandas_reference(faulted):
    bars = faulted.df(
        "select * from bars_1s where ts >= timestamp '2024-08-08 22:00:00' and symbol in ('BTCUSDT', 'XRPETH')"
    )
    expected = bar_features(bars, window_s=3600, start="2024-08-09")
    got = faulted.df(
        "select * from bar_features where symbol in ('BTCUSDT', 'XRPETH') and date = '2024-08-09' order by symbol, ts"
    )
    assert len(got) == len(expected) > 40_000
    assert (got["ts"].to_numpy() == expected["ts"].to_numpy()).all()
    # the first bars of the day see the previous day's last hour
    first = got.iloc[0]
    assert first["return_1s_trailing_n"] > 1000 and not np.isnan(first["return_1s"])
    for f in FEATURES:
        unit = 1e-10 if f == "return_1s" else 1e-6  # the SQL sums are on a fixed-point grid of this unit
        np.testing.assert_allclose(got[f], expected[f], rtol=0, atol=1.01 * unit, equal_nan=True)  # ties
        assert (got[f"{f}_trailing_n"].to_numpy() == expected[f"{f}_trailing_n"].to_numpy()).all()
        np.testing.assert_allclose(
            got[f"{f}_trailing_mean"], expected[f"{f}_trailing_mean"], atol=unit, equal_nan=True
        )
        np.testing.assert_allclose(
            got[f"{f}_trailing_std"], expected[f"{f}_trailing_std"], rtol=1e-6, atol=2 * unit, equal_nan=True
        )
    for f in ZSCORE_FEATURES:
        unit = 1e-6
        np.testing.assert_allclose(
            got[f"{f}_trailing_center"], expected[f"{f}_trailing_center"], atol=unit, equal_nan=True
        )
        np.testing.assert_allclose(
            got[f"{f}_trailing_scale"], expected[f"{f}_trailing_scale"], rtol=1e-6, atol=2 * unit, equal_nan=True
        )
    np.testing.assert_allclose(
        got["return_1s_trailing_bipower_sigma"], expected["return_1s_trailing_bipower_sigma"], rtol=1e-6,
        equal_nan=True,
    )  # fmt: skip
    np.testing.assert_allclose(got["tick_bp"], expected["tick_bp"], rtol=1e-12, equal_nan=True)
    assert (got["has_nonfinite_value"].to_numpy() == expected["has_nonfinite_value"].to_numpy()).all()


def rerun(project: DbtProject, vars: dict) -> None:
    """`dbt run` of anomalies and everything upstream of it (lake to bars, violations, features, detectors):
    what a rebuild of the day recomputes, without the tests."""
    outcome = run_dbt(
        ["run", "--select", "+anomalies", "--vars", json.dumps(vars)], project.paths, quiet=True
    )
    bad = {n: s for n, s in outcome.statuses().items() if s != "success"}
    assert outcome.success and not bad, bad


def test_the_same_build_twice_gives_byte_identical_anomalies(faulted):
    before = {day: fingerprint(faulted, "anomalies", day) for day in ("2024-08-08", "2024-08-09")}
    assert before["2024-08-09"][0] > 0
    rerun(faulted, {"day": "2024-08-09"})
    after = {day: fingerprint(faulted, "anomalies", day) for day in ("2024-08-08", "2024-08-09")}
    assert after == before


def test_enable_ai_false_skips_the_detectors_and_nothing_else(faulted, tmp_path):
    project = DbtProject(tmp_path)
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(faulted.paths.duckdb_path, copy)
    project.paths = dataclasses.replace(faulted.paths, duckdb_path=copy)

    def upstream() -> tuple:
        # the bars' floating-point volume sums may differ in the last bit between builds (DuckDB adds in
        # thread order), so bars are compared by counts and rounded sums; violations row for row
        bars = [
            project.query(
                f"select count(*), sum(trade_count), round(sum(volume_base), 6) from {t} where date = '2024-08-09'"
            )[0]
            for t in ("bars_1s", "bars_1m")
        ]
        return (*bars, fingerprint(project, "violations", "2024-08-09"))

    before = upstream()
    assert fingerprint(project, "anomalies", "2024-08-09")[0] > 0
    rerun(project, {"day": "2024-08-09", "enable_ai": False})
    assert fingerprint(project, "anomalies", "2024-08-09")[0] == 0
    assert fingerprint(project, "anomalies", "2024-08-08") == fingerprint(faulted, "anomalies", "2024-08-08")
    for model in ("anomalies_zscore", "anomalies_jump", "anomalies_iforest"):
        assert project.query(f"select count(*) from {model}") == [(0,)]
    assert upstream() == before


def test_iforest_enabled_false_leaves_out_only_isolationforest_and_the_verdict_says_so(faulted, tmp_path):
    # the spark target's detectors (IsolationForest cannot run there); on DuckDB a setting
    project = DbtProject(tmp_path)
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(faulted.paths.duckdb_path, copy)
    project.paths = dataclasses.replace(faulted.paths, duckdb_path=copy)
    before = counts_by_detector(project, "2024-08-09")
    assert before.get("IFOREST", 0) > 0
    outcome = run_dbt(["run", "--select", "+fusion", "--vars", json.dumps({"day": "2024-08-09", "iforest.enabled": False})],
                      project.paths, quiet=True)  # fmt: skip
    assert outcome.success, outcome.statuses()
    after = counts_by_detector(project, "2024-08-09")
    assert "IFOREST" not in after
    assert after == {detector: n for detector, n in before.items() if detector != "IFOREST"}
    assert project.query("select count(*) from iforest_training_bars") == [(0,)]
    verdicts = project.query("select verdict, reason, metadata from fusion where date = '2024-08-09'")
    assert verdicts and any(verdict == "PASS" for verdict, _, _ in verdicts)
    for verdict, reason, metadata in verdicts:
        if verdict == "PASS":
            assert "IsolationForest off: setting iforest.enabled is false" in reason, reason
            assert "cold start" not in reason, reason
        # its contamination is no longer allowed for: 3 z-scores' and JUMP's background rates only
        meta = json.loads(metadata)
        assert meta["iforest_baseline"] is None
        assert meta["expected_anomalies"] < 0.005 * meta["n_bars"] or meta["n_bars"] == 0


# ------------------------------------------------------------------------------------------------ real data
def _detector_summary(project: DbtProject) -> dict[str, int]:
    return dict(project.query("select detector, count(*) from anomalies group by all order by 1"))


def test_real_websocket_capture_through_every_detector(dbt_project):
    from lakeqa.importers.api import import_paths

    folder = real_data("hftbacktest-binance-ws", "spot")
    import_paths([folder], dbt_project.lake, progress=False)
    dbt_project.build({"day": "2024-08-08"})
    dbt_project.build({"day": "2024-08-09"})
    summary = _detector_summary(dbt_project)
    bars = dbt_project.query("select count(*) from bars_1s")[0][0]
    print(f"real BTCUSDT/ETHUSDT capture: {bars} bars, anomalies {summary}")
    # IFOREST flags about its contamination of every day's bars; every record is well formed
    assert 0.5 * CONTAMINATION * bars <= summary.get("IFOREST", 0) <= 1.5 * CONTAMINATION * bars + 2
    bad = dbt_project.query(
        "select count(*) from anomalies where not (confidence between 0 and 1) or features is null"
        " or rationale is null or label is null"
    )
    assert bad == [(0,)]


def test_real_trades_without_quotes_through_every_detector(dbt_project):
    from lakeqa.importers.api import import_paths

    folder = real_data("freqtrade-binance-xrpeth")
    import_paths(
        [folder / "XRP_ETH-trades.json.gz", folder / "XRP_ETH-1m.json"], dbt_project.lake, progress=False
    )
    dbt_project.build({"from": "2019-10-11", "to": "2019-10-13"})
    summary = _detector_summary(dbt_project)
    bars = dbt_project.query("select count(*) from bars_1s")[0][0]
    print(f"real XRPETH trades (no quotes): {bars} bars, anomalies {summary}")
    assert set(summary) <= {
        "JUMP",
        "ZSCORE_LOG_VOLUME",
        "ZSCORE_VWAP_DRIFT_BP",
        "IFOREST",
    }  # no spread, no spread z
    assert summary.get("IFOREST", 0) > 0
    # the forest is fitted per run window: a share near contamination of the window's bars
    assert summary["IFOREST"] <= 1.5 * CONTAMINATION * bars + 2
    assert isinstance(pd.Timestamp(dbt_project.query("select min(ts) from anomalies")[0][0]), pd.Timestamp)
