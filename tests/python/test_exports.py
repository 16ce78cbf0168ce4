"""The output files of DESIGN.md (lakeqa.exports): strict JSON lines (NaN and infinities as null), the
same bytes for the same rows, and files others can read."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from lakeqa import exports

DAY = "2024-08-09"


def strict_loads(line: str):
    """json.loads that refuses NaN, Infinity and -Infinity, as jq, browsers and most JSON parsers do."""

    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")

    return json.loads(line, parse_constant=refuse)


def lenient_loads(text: str):
    """Python's json.loads: reads DuckDB's bare NaN/Infinity tokens as floats."""
    return json.loads(text)


def non_finite_keys(obj: dict) -> list[str]:
    return [k for k, v in obj.items() if isinstance(v, float) and not math.isfinite(v)]


def make_db(path: Path, metadata: list[str]) -> Path:
    """A DuckDB file with the three tables the exports read, one day's rows of each."""
    con = duckdb.connect(str(path))
    try:
        con.execute(
            """
            create table violations as
            select * from (values
                ('BNBUSDT', timestamp '2024-08-09 04:32:42', null::timestamp, 'R4_NO_NAN', 'critical',
                 'missing price: open 516.9, high nan, low nan, close 517', 'bars_1s',
                 cast(to_json({'open': 516.9, 'high': 'nan'::double, 'low': 'nan'::double, 'close': 517.0})
                      as varchar)),
                ('BNBUSDT', timestamp '2024-08-09 04:33:00', null::timestamp, 'R1_OHLC_ORDER', 'critical',
                 'high inf, low -inf', 'bars_1m',
                 cast(to_json({'high': 'inf'::double, 'low': '-inf'::double, 'nested': {'x': 'nan'::double}})
                      as varchar)),
                ('SOLUSDT', timestamp '2024-08-09 05:00:00', null::timestamp, 'R2_POSITIVE_PRICE', 'critical',
                 'non-positive price: low 0', 'bars_1s', '{"low":0.0,"name":"é"}')
            ) t(symbol, ts, ts_end, rule, severity, detail, source_table, row_sample)
            """
        )
        con.execute("alter table violations add column date date")
        con.execute("update violations set date = cast(ts as date)")
        con.execute(
            """
            create table anomalies as
            select 'BTCUSDT' as symbol, timestamp '2024-08-09 12:00:54' as ts, date '2024-08-09' as date,
                   'JUMP' as detector, 'price_jump' as label, 'return_1s +1%' as rationale,
                   0.9 as confidence, 70.0 as score,
                   '{"spread_bp": 0.5, "log_volume": null, "z_score": 70.0}' as features,
                   '{"count": 2, "start_ts": "2024-08-09T12:00:54Z"}' as cluster,
                   'history' as baseline, true as exceeds_background
            union all
            select 'BTCUSDT', timestamp '2024-08-09 13:00:00', date '2024-08-09', 'IFOREST',
                   'multivariate_outlier', 'isolation score 0.66', 0.52, 0.66, '{"spread_bp": 0.4}', null,
                   'cold_start', false
            """
        )
        con.execute(
            "create table fusion (ts timestamp, date date, symbol varchar, mode varchar, verdict varchar,"
            " score double, metadata varchar)"
        )
        for i, (symbol, text) in enumerate(zip(("ADAUSDT", "BTCUSDT"), metadata, strict=True)):
            con.execute(
                "insert into fusion values (timestamp '2024-08-09 00:00:00', date '2024-08-09', ?, 'daily',"
                " 'PASS', ?, ?)",
                [symbol, 0.9 + i / 100, text],
            )
    finally:
        con.close()
    return path


METADATA = [
    '{"n_bars":10,"anomalies_by_detector":{"JUMP":1,"IFOREST":2,"ZSCORE_LOG_VOLUME":3},"weights":{"schema":0.7}}',
    '{"n_bars":11,"anomalies_by_detector":{},"excess":NaN}',
]
# the same objects, keys in another order: what DuckDB's hash aggregate gives on another run
METADATA_REORDERED = [
    '{"weights":{"schema":0.7},"anomalies_by_detector":{"ZSCORE_LOG_VOLUME":3,"IFOREST":2,"JUMP":1},"n_bars":10}',
    '{"excess":NaN,"anomalies_by_detector":{},"n_bars":11}',
]


def test_strict_json_turns_non_finite_numbers_into_null_and_keeps_the_rest():
    text = '{"b":NaN,"a":[1.5,Infinity,-Infinity,1e999],"c":{"d":"NaN","e":0,"f":"é"}}'
    assert exports.strict_json(text) == '{"b":null,"a":[1.5,null,null,null],"c":{"d":"NaN","e":0,"f":"é"}}'
    assert exports.strict_json(text, sort_keys=True).startswith('{"a":[1.5,null,null,null],"b":null,')


def test_json_lines_parse_strictly_and_say_what_was_not_finite(tmp_path):
    db = make_db(tmp_path / "qa.duckdb", METADATA)
    out = tmp_path / "out"
    written = exports.export_day(db, DAY, out)
    assert written["violations"] == exports.violations_path(out, DAY)
    lines = written["violations"].read_text(encoding="utf-8").splitlines()
    records = [strict_loads(line) for line in lines]
    assert [r["rule"] for r in records] == ["R4_NO_NAN", "R1_OHLC_ORDER", "R2_POSITIVE_PRICE"]
    # NaN and infinities are null; finite values, strings and key order stay as DuckDB wrote them
    assert list(records[0]) == ["symbol", "ts", "rule", "severity", "detail", "row_sample", "source_table", "ts_end"]
    assert records[0]["row_sample"] == {"open": 516.9, "high": None, "low": None, "close": 517.0}
    assert records[1]["row_sample"] == {"high": None, "low": None, "nested": {"x": None}}
    assert records[2]["row_sample"] == {"low": 0.0, "name": "é"}
    # the person still sees that the price was NaN: the detail says so
    assert "high nan" in records[0]["detail"]
    anomalies = [strict_loads(line) for line in written["anomalies"].read_text().splitlines()]
    assert anomalies[0]["features"] == {"spread_bp": 0.5, "log_volume": None, "z_score": 70.0}
    assert anomalies[0]["cluster"]["count"] == 2
    # whether each record is beyond the detector's background, as the mart says; no cluster where none
    flags = [(a["baseline"], a["exceeds_background"]) for a in anomalies]
    assert flags == [("history", True), ("cold_start", False)]
    assert list(anomalies[1]) == [
        "symbol", "ts", "features", "detector", "label", "rationale", "confidence", "baseline", "exceeds_background",
    ]  # fmt: skip


def test_fusion_metadata_keys_come_out_sorted_whatever_order_the_database_gave(tmp_path):
    a = exports.export_day(make_db(tmp_path / "a.duckdb", METADATA), DAY, tmp_path / "a")
    b = exports.export_day(make_db(tmp_path / "b.duckdb", METADATA_REORDERED), DAY, tmp_path / "b")
    table = pq.read_table(a["fusion"])
    texts = table["metadata"].to_pylist()
    assert texts[0] == (
        '{"anomalies_by_detector":{"IFOREST":2,"JUMP":1,"ZSCORE_LOG_VOLUME":3},"n_bars":10,"weights":{"schema":0.7}}'
    )
    assert strict_loads(texts[1]) == {"anomalies_by_detector": {}, "excess": None, "n_bars": 11}
    assert table["symbol"].to_pylist() == ["ADAUSDT", "BTCUSDT"]
    # the whole file is the same bytes, as are the JSON lines
    for kind in ("violations", "anomalies", "fusion"):
        assert a[kind].read_bytes() == b[kind].read_bytes(), kind


def test_exports_are_readable_by_others(tmp_path):
    saved = os.umask(0o022)
    try:
        written = exports.export_day(make_db(tmp_path / "qa.duckdb", METADATA), DAY, tmp_path / "out")
    finally:
        os.umask(saved)
    for kind, path in written.items():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, kind
        assert [p.name for p in path.parent.iterdir()] == [path.name], "a temp file was left behind"


@pytest.mark.e2e
def test_exports_of_a_built_faulted_day(faulted_lake_build, tmp_path):
    """On the day with the injected NaN price: every line is strict JSON, each NaN in a row_sample is
    null and named in its detail, and exporting the day again gives the same bytes."""
    project = faulted_lake_build
    db = project.paths.duckdb_path
    first = exports.export_day(db, DAY, tmp_path / "first")
    second = exports.export_day(db, DAY, tmp_path / "second")
    for kind in ("violations", "anomalies", "fusion"):
        assert first[kind].read_bytes() == second[kind].read_bytes(), kind

    for kind in ("violations", "anomalies"):
        for number, line in enumerate(first[kind].read_text(encoding="utf-8").splitlines(), 1):
            strict_loads(line)  # raises on a bare NaN with the line's content
            assert line.strip(), f"{kind} line {number} is empty"

    exported = {
        (r["symbol"], r["ts"], r["rule"], r["source_table"], r["detail"]): r
        for r in map(strict_loads, first["violations"].read_text().splitlines())
    }
    rows = project.query(
        "select symbol, strftime(ts, '%Y-%m-%dT%H:%M:%SZ'), rule, source_table, detail, row_sample"
        " from violations where date = ?",
        [DAY],
    )
    with_nan = [row for row in rows if non_finite_keys(lenient_loads(row[5]))]
    assert with_nan, "the faulted day must hold a NaN in some row_sample (the NAN_PRICE fault)"
    for *key, detail, row_sample in with_nan:
        sample = lenient_loads(row_sample)
        record = exported[tuple(key) + (detail,)]
        for name in non_finite_keys(sample):
            assert record["row_sample"][name] is None, (key, name)
            spelled = "nan" if math.isnan(sample[name]) else "inf"
            assert spelled in detail.lower(), f"{key}: the detail does not say {name} was {spelled}: {detail}"


def test_descriptions_are_duckdb_comments(faulted_lake_build):
    """What analysts see in DuckDB (persist_docs, macros/engine/duckdb__persist_docs.sql): every model the
    build made, a table or a view, carries its yml description as its comment and each documented column
    its own, word for word."""
    project = faulted_lake_build
    manifest = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values()
              if n["resource_type"] == "model" and n["package_name"] == "lakeqa" and n["description"]}
    built = {name: comment for name, comment in project.query(
        "select table_name, comment from duckdb_tables() union all select view_name, comment from duckdb_views()"
    )}
    checked = [name for name in models if name in built]
    assert {"bars_1s", "violations", "fusion", "stg_lake__trades", "anomalies_iforest"} <= set(checked)
    for name in checked:
        assert built[name] == models[name]["description"], name
    columns = {(t, c): comment for t, c, comment in project.query(
        "select table_name, column_name, comment from duckdb_columns()")}
    for name in ("bars_1s", "violations", "fusion", "stg_lake__trades"):
        documented = models[name]["columns"]
        assert documented, name
        for column, doc in documented.items():
            assert columns[(name, column)] == doc["description"], (name, column)
