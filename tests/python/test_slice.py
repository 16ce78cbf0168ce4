"""`lakeqa slice`: one symbol-day of a mart in each format equals the mart's rows; an unknown table, symbol
or day is a clear error and writes nothing; user values never reach SQL unquoted."""

from __future__ import annotations

import json
import math

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from lakeqa import cli, slices

pytestmark = pytest.mark.e2e

DAY, SYMBOL = "2024-08-09", "BTCUSDT"


def busiest_symbol(project, table: str) -> str:
    return project.query(f'select symbol from "{table}" where date = cast(? as date) group by 1 order by count(*) desc, 1'
                         " limit 1", [DAY])[0][0]  # fmt: skip


def mart_rows(project, table: str, symbol: str) -> list[dict]:
    rows = project.query(f'select * from "{table}" where date = cast(? as date) and symbol = ? order by all', [DAY, symbol])
    names = [r[0] for r in project.query(
        "select column_name from information_schema.columns where table_name = ? order by ordinal_position", [table])]
    return [dict(zip(names, row, strict=True)) for row in rows]


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=0, abs_tol=0)
    return a == b


@pytest.mark.parametrize("table", ["bars_1s", "violations", "fusion"])
def test_each_format_holds_the_marts_rows(faulted_lake_build, tmp_path, table):
    project = faulted_lake_build
    symbol = busiest_symbol(project, table)
    expected = mart_rows(project, table, symbol)
    assert expected, f"the fixture has no {table} rows on {DAY}"
    db = project.paths.duckdb_path
    for fmt in slices.FORMATS:
        out = tmp_path / f"{table}.{fmt}"
        assert cli.main(["slice", "--duckdb", str(db), "--table", table, "--symbol", symbol, "--day", DAY,
                         "--format", fmt, "--out", str(out)]) == 0  # fmt: skip
        if fmt == "parquet":
            got = pq.read_table(out).to_pylist()
        elif fmt == "csv":
            got = pacsv.read_csv(out).to_pylist()
        else:
            got = [json.loads(line) for line in out.read_text().splitlines()]  # strict JSON: NaN is null
        assert len(got) == len(expected), (table, fmt)
        if fmt == "parquet":
            assert all(same(g[k], e[k]) for g, e in zip(got, expected, strict=True) for k in e), table
        else:
            # text formats: the same values, compared as text where the format cannot keep the type
            for g, e in zip(got, expected, strict=True):
                for k, v in e.items():
                    if isinstance(v, float) and not math.isfinite(v):
                        assert g[k] in (None, "nan", "inf", "-inf") or (isinstance(g[k], float) and not math.isfinite(g[k]))
                    elif isinstance(v, float):
                        assert math.isclose(float(g[k]), v, rel_tol=1e-12), (table, fmt, k)
                    elif v is None:
                        assert g[k] in (None, ""), (table, fmt, k)
                    else:
                        assert str(g[k]).replace("T", " ") == str(v).replace("T", " ") or g[k] == v, (table, fmt, k)
    # the same slice twice: the same bytes
    again = tmp_path / "again.csv"
    slices.write_slice(db, table, symbol, DAY, "csv", again)
    assert again.read_bytes() == (tmp_path / f"{table}.csv").read_bytes()


@pytest.mark.parametrize(
    "table, symbol, day, message",
    [
        ("nope", SYMBOL, DAY, "unknown table 'nope'; the marts with a symbol-day grain are: anomalies, bars_1m"),
        ("rule_catalog", SYMBOL, DAY, "unknown table 'rule_catalog'"),  # a mart without a symbol-day grain
        ("bars_1s", "ZZZUSDT", DAY, f"bars_1s has no rows for symbol 'ZZZUSDT' on {DAY}; its symbols that day:"),
        ("bars_1s", SYMBOL, "2024-08-11", "bars_1s has no rows on 2024-08-11; it holds 2 day(s), 2024-08-08 to 2024-08-09"),
        ("bars_1s", SYMBOL, "2024-08-1'", "--day \"2024-08-1'\" is not a UTC day"),
        ("bars_1s", "x' or '1'='1", DAY, "has no rows for symbol \"x' or '1'='1\""),
        ('bars_1s" --', SYMBOL, DAY, "unknown table 'bars_1s\" --'"),
    ],
)
def test_what_cannot_be_sliced_is_named_and_nothing_is_written(faulted_lake_build, tmp_path, capsys, table, symbol,
                                                                day, message):  # fmt: skip
    out = tmp_path / "slice.csv"
    code = cli.main(["slice", "--duckdb", str(faulted_lake_build.paths.duckdb_path), "--table", table,
                     "--symbol", symbol, "--day", day, "--format", "csv", "--out", str(out)])  # fmt: skip
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_missing_database_or_folder_is_named(faulted_lake_build, tmp_path):
    with pytest.raises(slices.SliceError, match="does not exist; build a day first"):
        slices.write_slice(tmp_path / "none.duckdb", "bars_1s", SYMBOL, DAY, "csv", tmp_path / "a.csv")
    with pytest.raises(slices.SliceError, match="folder .* does not exist"):
        slices.write_slice(faulted_lake_build.paths.duckdb_path, "bars_1s", SYMBOL, DAY, "csv", tmp_path / "no" / "a.csv")


def test_a_folder_as_out_is_refused(tmp_path):
    import duckdb

    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(slices.SliceError, match="is a folder; name the file to write"):
        slices.write_slice(db, "bars_1s", SYMBOL, DAY, "csv", tmp_path)
    with pytest.raises(slices.SliceError, match="the database holds no mart yet"):
        slices.write_slice(db, "bars_1s", SYMBOL, DAY, "csv", tmp_path / "a.csv")
