"""The detectors end to end through dbt (e2e, about two minutes): on a generated lake every injected
PRICE_JUMP is found by JUMP and every VOLUME_SPIKE by ZSCORE_LOG_VOLUME or IFOREST at the right symbol and
second; on a clean generated day JUMP and the z-score detectors stay quiet and IFOREST flags about its
contamination; bar_features equals the pandas reference; a rebuild is byte-identical; enable_ai false
skips the detectors; real captures go through every detector."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from lakeqa.dbt_runner import run_dbt
from lakeqa.detectors.features import FEATURES, bar_features
from lakeqa.generate import generate_lake

from .conftest import DbtProject, real_data

pytestmark = pytest.mark.e2e

TRADES_PER_DAY = 300_000
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
    """Two generated days, 13 symbols: 2024-08-08 clean, 2024-08-09 with PRICE_JUMP and VOLUME_SPIKE; built
    one day at a time like a daily schedule, so the second day's lookback reads the first day's bars."""
    project = DbtProject(tmp_path_factory.mktemp("detectors"))
    report = generate_lake(
        project.lake,
        date="2024-08-09",
        days=2,
        trades_per_day=TRADES_PER_DAY,
        faults="PRICE_JUMP,VOLUME_SPIKE",
        progress=False,
    )
    project.ground_truth = report.ground_truth
    project.build({"day": "2024-08-08"})
    project.build({"day": "2024-08-09"})
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
    jump = faulted.query(
        "select label, score, confidence from anomalies where detector = 'JUMP' and date = '2024-08-09'"
    )
    assert jump and all(label == "price_jump" and score > 6.8 and 0.5 < c <= 1 for label, score, c in jump)


def test_clean_days_keep_jump_and_zscores_quiet(faulted, record_property):
    """False alarms per symbol-day: on the clean day, and on the faulted day away from the faults."""
    fault_keys = {(f["symbol"], f["second"].replace("T", " ")) for f in faulted.ground_truth["faults"]}
    rates = {}
    for day in ("2024-08-08", "2024-08-09"):
        symbol_days = faulted.query("select count(distinct symbol) from bars_1s where date = ?", [day])[0][0]
        rows = faulted.query(
            "select detector, symbol, strftime(ts, '%Y-%m-%d %H:%M:%S') from anomalies where date = ?", [day]
        )
        false_alarms = {d: 0 for d in QUIET_DETECTORS}
        for detector, symbol, ts in rows:
            if detector in false_alarms and (symbol, ts) not in fault_keys:
                false_alarms[detector] += 1
        rates[day] = {d: n / symbol_days for d, n in false_alarms.items()}
        record_property(f"false_alarms_per_symbol_day_{day}", rates[day])
        print(f"{day}: false alarms per symbol-day {rates[day]} ({symbol_days} symbols)")
        assert sum(false_alarms.values()) == 0, (day, false_alarms)


def test_iforest_flags_about_contamination_of_the_bars(faulted):
    for day in ("2024-08-08", "2024-08-09"):
        bars = faulted.query("select count(*) from bars_1s where date = ?", [day])[0][0]
        flagged = counts_by_detector(faulted, day).get("IFOREST", 0)
        assert 0.7 * CONTAMINATION <= flagged / bars <= 1.3 * CONTAMINATION, (day, flagged, bars)


def test_sql_features_equal_the_pandas_reference(faulted):
    bars = faulted.df(
        "select * from bars_1s where ts >= timestamp '2024-08-08 23:00:00' and symbol in ('BTCUSDT', 'XRPETH')"
    )
    expected = bar_features(bars, window_s=3600, start="2024-08-09")
    got = faulted.df(
        "select * from bar_features where symbol in ('BTCUSDT', 'XRPETH') order by symbol, ts"
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
