"""`lakeqa import`: every input format, bad lines, idempotency, midnight splits, the CLI, real data."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import duckdb
import pytest
from tests.python.importer_fixtures import (
    AGG_HEADER,
    BOOK_HEADER,
    KLINES_HEADER,
    TRADES_HEADER,
    csv_text,
    epoch,
    kline_rows,
    trade_rows,
    write,
    write_zip,
    ws_book,
    ws_depth,
    ws_line,
    ws_trade,
)

from lakeqa import cli
from lakeqa.importers import import_paths, name_info, sniff
from lakeqa.lake import LakeError

PROJECT = Path(__file__).resolve().parents[2]
SAMPLE = PROJECT / "data" / "sample" / "binance-ws"
SHARED = Path(os.environ.get("LAKEQA_SHARED") or Path(__file__).resolve().parents[3] / "shared")
REAL = SHARED / "data" / "real"


def read(lake: Path, dataset: str, order: str | None = None) -> list[dict]:
    order = order or ("open_time" if dataset == "klines_1m" else "ts")
    glob = str(lake / dataset / "*" / "*" / "*.parquet")
    rel = duckdb.sql(f"select * from read_parquet('{glob}', hive_partitioning = true) order by {order}")
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def column_types(lake: Path, dataset: str) -> dict[str, str]:
    glob = str(lake / dataset / "*" / "*" / "*.parquet")
    rel = duckdb.sql(f"describe select * from read_parquet('{glob}', hive_partitioning = true)")
    return {name: typ for name, typ, *_ in rel.fetchall()}


def files(lake: Path) -> list[Path]:
    return sorted(p for p in lake.rglob("*") if p.is_file()) if lake.exists() else []


def ts(iso: str):
    from datetime import datetime

    return datetime.fromisoformat(iso)


# --------------------------------------------------------------------------------------------------
# Binance CSV dumps


@pytest.mark.parametrize("compress", ["plain", "gz", "zip"])
@pytest.mark.parametrize("unit", ["ms", "us"])
@pytest.mark.parametrize("header", [False, True])
def test_binance_trades(tmp_path, compress, unit, header):
    suffix = {"plain": ".csv", "gz": ".csv.gz", "zip": ".zip"}[compress]
    src = write(
        tmp_path / f"BTCUSDT-trades-2024-08-09{suffix}",
        csv_text(trade_rows(3, "2024-08-09T12:00:00.123", unit), TRADES_HEADER if header else None),
        compress,
        member="BTCUSDT-trades-2024-08-09.csv",
    )
    lake = tmp_path / "lake"
    report = import_paths([src], lake, progress=False)

    (f,) = report.files
    assert f.format == "binance-trades"
    assert f.rows == {("trades", "BTCUSDT", "2024-08-09"): 3}
    assert f.ts_units == {unit: 3}
    assert f.bad_lines == []
    assert [p.name for p in files(lake)] == ["BTCUSDT-trades-2024-08-09.binance-trades.parquet"]
    assert column_types(lake, "trades") | {} == {
        "trade_id": "BIGINT",
        "price": "DOUBLE",
        "qty": "DOUBLE",
        "quote_qty": "DOUBLE",
        "ts": "TIMESTAMP",
        "is_buyer_maker": "BOOLEAN",
        "symbol": "VARCHAR",
        "date": "DATE",
    }
    rows = read(lake, "trades")
    assert [r["trade_id"] for r in rows] == [100, 101, 102]
    assert rows[0]["ts"] == ts("2024-08-09T12:00:00.123")
    assert rows[2]["ts"] == ts("2024-08-09T12:00:02.123")
    assert rows[1]["price"] == 60001.5 and rows[1]["qty"] == 0.25 and rows[1]["quote_qty"] == 15000.375
    assert [r["is_buyer_maker"] for r in rows] == [False, True, False]
    assert rows[0]["symbol"] == "BTCUSDT"


def test_binance_trades_six_columns_lowercase_booleans(tmp_path):
    rows = [r[:6] for r in trade_rows(2)]
    for r in rows:
        r[5] = r[5].lower()
    src = write(tmp_path / "ETHUSDT-trades-2024-08-09.csv", csv_text(rows))
    import_paths([src], tmp_path / "lake", progress=False)
    got = read(tmp_path / "lake", "trades")
    assert [r["is_buyer_maker"] for r in got] == [False, True]
    assert got[0]["symbol"] == "ETHUSDT"


def test_binance_aggtrades(tmp_path):
    t0 = epoch("2024-08-09T08:00:00")
    text = csv_text(
        [
            [555, "10.5", "2.0", 900, 902, t0, "true", "true"],
            [556, "10.0", "3.0", 903, 903, t0 + 5, "false", "true"],
        ]
    )
    src = write(
        tmp_path / "BTCUSDT-aggTrades-2024-08-09.zip", text, "zip", member="BTCUSDT-aggTrades-2024-08-09.csv"
    )
    report = import_paths([src], tmp_path / "lake", progress=False)
    assert report.files[0].format == "binance-aggtrades"
    rows = read(tmp_path / "lake", "trades")
    assert [(r["trade_id"], r["qty"], r["quote_qty"], r["is_buyer_maker"]) for r in rows] == [
        (555, 2.0, 21.0, True),
        (556, 3.0, 30.0, False),
    ]
    assert rows[1]["ts"] == ts("2024-08-09T08:00:00.005")


def test_binance_aggtrades_futures_header(tmp_path):
    t0 = epoch("2024-08-09T08:00:00")
    src = write(
        tmp_path / "BTCUSDT-aggTrades-2024-08-09.csv",
        csv_text([[1, "10", "1", 5, 6, t0, "true"]], AGG_HEADER),
    )
    import_paths([src], tmp_path / "lake", progress=False)
    assert read(tmp_path / "lake", "trades")[0]["trade_id"] == 1


@pytest.mark.parametrize("unit", ["ms", "us"])
@pytest.mark.parametrize("header", [False, True])
def test_binance_klines(tmp_path, unit, header):
    src = write(
        tmp_path / "BTCUSDT-1m-2024-08-09.zip",
        csv_text(kline_rows(3, "2024-08-08T23:59:00", unit), KLINES_HEADER if header else None),
        "zip",
        member="BTCUSDT-1m-2024-08-09.csv",
    )
    report = import_paths([src], tmp_path / "lake", progress=False)
    assert report.files[0].format == "binance-klines"
    assert report.files[0].rows == {
        ("klines_1m", "BTCUSDT", "2024-08-08"): 1,
        ("klines_1m", "BTCUSDT", "2024-08-09"): 2,
    }
    types = column_types(tmp_path / "lake", "klines_1m")
    assert types["open_time"] == "TIMESTAMP" and types["trade_count"] == "BIGINT"
    rows = read(tmp_path / "lake", "klines_1m")
    assert [r["open_time"] for r in rows] == [
        ts("2024-08-08T23:59:00"),
        ts("2024-08-09T00:00:00"),
        ts("2024-08-09T00:01:00"),
    ]
    first = rows[0]
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        10,
        12,
        9,
        11,
        5.5,
    )
    assert (
        first["quote_volume"],
        first["trade_count"],
        first["taker_buy_base"],
        first["taker_buy_quote"],
    ) == (
        60.5,
        7,
        2.5,
        27.5,
    )


def test_binance_klines_other_interval_refused(tmp_path):
    src = write(tmp_path / "BTCUSDT-1s-2024-08-09.csv", csv_text(kline_rows(2)))
    with pytest.raises(LakeError, match=r"BTCUSDT-1s-2024-08-09.csv.*1s.*1m klines only"):
        import_paths([src], tmp_path / "lake", progress=False)
    # a name that does not say the interval: told from close_time - open_time
    src = write(tmp_path / "klines.csv", csv_text(kline_rows(2, minutes=5)))
    with pytest.raises(LakeError, match=r"klines.csv.*300 s.*not 1m"):
        import_paths([src], tmp_path / "lake", fmt="binance-klines", symbol="BTCUSDT", progress=False)
    assert files(tmp_path / "lake") == []


def test_binance_bookticker(tmp_path):
    t0 = epoch("2024-08-09T10:00:00")
    rows = [
        [7001, "100.5", "1.0", "100.6", "2.0", t0, t0 + 3],
        [7002, "100.4", "1.5", "100.6", "2.5", t0 + 10, t0 + 12],
    ]
    src = write(tmp_path / "BTCUSDT-bookTicker-2024-08-09.zip", csv_text(rows, BOOK_HEADER), "zip")
    report = import_paths([src], tmp_path / "lake", progress=False)
    assert report.files[0].format == "binance-bookticker"
    assert column_types(tmp_path / "lake", "quotes")["ts"] == "TIMESTAMP"
    got = read(tmp_path / "lake", "quotes")
    assert [(r["update_id"], r["bid_price"], r["bid_qty"], r["ask_price"], r["ask_qty"]) for r in got] == [
        (7001, 100.5, 1.0, 100.6, 2.0),
        (7002, 100.4, 1.5, 100.6, 2.5),
    ]
    assert got[0]["ts"] == ts("2024-08-09T10:00:00")  # transaction_time, not event_time


def test_mixed_timestamp_units_convert_each_value(tmp_path):
    rows = trade_rows(2, "2024-08-09T12:00:00", "ms") + trade_rows(
        2, "2024-08-09T12:00:05", "us", first_id=200
    )
    src = write(tmp_path / "BTCUSDT-trades-2024-08-09.csv", csv_text(rows))
    report = import_paths([src], tmp_path / "lake", progress=False)
    assert report.files[0].ts_units == {"ms": 2, "us": 2}
    assert "mixed units" in report.files[0].summary()
    assert [r["ts"] for r in read(tmp_path / "lake", "trades")] == [
        ts("2024-08-09T12:00:00"),
        ts("2024-08-09T12:00:01"),
        ts("2024-08-09T12:00:05"),
        ts("2024-08-09T12:00:06"),
    ]


def test_content_detection_without_telling_names(tmp_path):
    t0 = epoch("2024-08-09T10:00:00")
    cases = {
        "binance-trades": csv_text(trade_rows(1)),
        "binance-aggtrades": csv_text([[1, "1.0", "1.0", 2, 3, t0, "True", "True"]]),
        "binance-klines": csv_text(kline_rows(1)),
        "binance-bookticker": csv_text([[1, "1.0", "1.0", "1.1", "1.0", t0, t0]]),
        "ws": ws_line(ws_trade(1, t0)) + "\n",
        "ccxt": '[[1570752011620,"1",null,"sell",1.0,1.0,1.0]]',
    }
    for fmt, text in cases.items():
        assert sniff(text.encode()) == fmt
        assert sniff(csv_text(trade_rows(1)[:1], TRADES_HEADER).encode()) == "binance-trades"
    assert name_info("BTCUSDT-aggTrades-2024-08.zip").fmt == "binance-aggtrades"
    assert name_info("XRP_ETH-1m.json").symbol == "XRPETH"
    assert name_info("BTC_USDT_USDT-1h-futures.json").symbol == "BTCUSDT"
    # an unnamed trades file imports with --symbol
    src = write(tmp_path / "dump.csv", csv_text(trade_rows(2)))
    report = import_paths([src], tmp_path / "lake", symbol="solusdt", progress=False)
    assert report.files[0].format == "binance-trades"
    assert report.files[0].rows == {("trades", "SOLUSDT", "2024-08-09"): 2}
    with pytest.raises(LakeError, match=r"dump.csv.*pass --symbol"):
        import_paths([src], tmp_path / "lake2", progress=False)


# --------------------------------------------------------------------------------------------------
# bad lines


def test_csv_bad_lines_counted_with_line_numbers(tmp_path):
    rows = [",".join(map(str, r)) for r in trade_rows(5)]
    rows[1] = rows[1].replace("60001.5", "abc")  # line 3 (after the header)
    rows[3] = "103,60003.5,0.25"  # line 5: too few columns
    text = TRADES_HEADER + "\n" + "\n".join(rows) + "\n"
    src = write(tmp_path / "BTCUSDT-trades-2024-08-09.csv", text)
    report = import_paths([src], tmp_path / "lake", progress=False)
    f = report.files[0]
    assert [b.number for b in f.bad_lines] == [3, 5]
    assert "price" in f.bad_lines[0].reason and "abc" in f.bad_lines[0].text
    assert "columns" in f.bad_lines[1].reason
    assert f.rows == {("trades", "BTCUSDT", "2024-08-09"): 3}
    assert "line 3" in f.summary() and "line 5" in f.summary()
    assert [r["trade_id"] for r in read(tmp_path / "lake", "trades")] == [100, 102, 104]


def test_csv_missing_value_and_blank_line(tmp_path):
    rows = [",".join(map(str, r)) for r in trade_rows(3)]
    rows[0] = rows[0].replace(",False,", ",,")  # line 1: no is_buyer_maker
    text = "\n".join([rows[0], rows[1], "", rows[2]]) + "\n"
    src = write(tmp_path / "BTCUSDT-trades-2024-08-09.csv", text)
    report = import_paths([src], tmp_path / "lake", progress=False)
    assert [(b.number, "is_buyer_maker" in b.reason) for b in report.files[0].bad_lines] == [
        (1, True),
        (3, False),
    ]
    assert [r["trade_id"] for r in read(tmp_path / "lake", "trades")] == [101, 102]


def test_too_many_bad_lines_stops_the_file(tmp_path):
    rows = [",".join(map(str, r)) for r in trade_rows(6)]
    for i in (1, 2, 4):
        rows[i] = rows[i].replace("0.25", "x")
    ok = write(
        tmp_path / "a" / "BTCUSDT-trades-2024-08-08.csv", csv_text(trade_rows(2, "2024-08-08T01:00:00"))
    )
    src = write(tmp_path / "b" / "BTCUSDT-trades-2024-08-09.csv", "\n".join(rows) + "\n")
    lake = tmp_path / "lake"
    with pytest.raises(LakeError) as err:
        import_paths([src], lake, max_bad_lines=2, progress=False)
    msg = str(err.value)
    assert str(src) in msg and "more than 2 bad lines" in msg and "nothing was written" in msg
    assert "line 2" in msg
    assert files(lake) == []
    # exactly at the limit is fine
    assert len(import_paths([src], lake, max_bad_lines=3, progress=False).files[0].bad_lines) == 3
    # the CLI: exit 1, the message names the file; earlier files stay imported
    lake2 = tmp_path / "lake2"
    code = cli_main(["import", str(ok), str(src), "--lake", str(lake2), "--max-bad-lines", "0", "--quiet"])
    assert code == 1
    assert [p.name for p in files(lake2)] == ["BTCUSDT-trades-2024-08-08.binance-trades.parquet"]


def test_ws_bad_lines(tmp_path):
    t0 = epoch("2024-08-09T01:00:00")
    lines = [
        ws_line(ws_trade(1, t0), "btcusdt@trade", t0 * 10**6),
        '1723161254087896568 {"stream":"btcusdt@trade","data":{"e":"trade"',  # line 2: cut short
        ws_line({k: v for k, v in ws_trade(2, t0 + 1).items() if k != "p"}, "btcusdt@trade", t0 * 10**6),  # 3
        ws_line(ws_trade(3, t0 + 2, price="zero"), "btcusdt@trade"),  # line 4
        "garbage",  # line 5
        ws_line(ws_trade(4, t0 + 3), "btcusdt@trade"),
    ]
    src = write(tmp_path / "capture.jsonl", "\n".join(lines) + "\n")
    report = import_paths([src], tmp_path / "lake", progress=False)
    f = report.files[0]
    assert [b.number for b in f.bad_lines] == [2, 3, 4, 5]
    assert "not valid JSON" in f.bad_lines[0].reason
    assert "'p'" in f.bad_lines[1].reason
    assert "not a number" in f.bad_lines[2].reason
    assert [r["trade_id"] for r in read(tmp_path / "lake", "trades")] == [1, 4]
    with pytest.raises(LakeError, match=r"capture.jsonl: more than 3 bad lines"):
        import_paths([src], tmp_path / "lake3", max_bad_lines=3, progress=False)
    assert files(tmp_path / "lake3") == []


# --------------------------------------------------------------------------------------------------
# idempotency


def test_reimport_changes_nothing(tmp_path):
    lake = tmp_path / "lake"
    t0 = epoch("2024-08-08T23:59:59")
    srcs = [
        write(tmp_path / "BTCUSDT-trades-2024-08-09.zip", csv_text(trade_rows(3)), "zip"),
        write(tmp_path / "BTCUSDT-1m-2024-08-09.csv", csv_text(kline_rows(2))),
        write(
            tmp_path / "cap.gz",
            "\n".join(
                ws_line(ws_trade(i, t0 + i * 400), "btcusdt@trade", (t0 + i) * 10**6) for i in range(5)
            ),
            "gz",
        ),
    ]
    first = import_paths(srcs, lake, progress=False)
    written = files(lake)
    assert len(first.changed) == len(written) == 4
    old = 1_000_000_000_000_000_000  # 2001-09-09, so a rewrite would show
    for p in written:
        os.utime(p, ns=(old, old))
    before = {p: p.read_bytes() for p in written}

    again = import_paths(srcs, lake, progress=False)
    assert again.changed == []
    assert sorted(p for f in again.files for p in f.partitions) == written
    assert files(lake) == written
    for p in written:
        assert p.read_bytes() == before[p]
        assert p.stat().st_mtime_ns == old
    assert "0 changed, 1 unchanged" in again.files[0].summary()


def test_two_sources_same_day_do_not_overwrite(tmp_path):
    lake = tmp_path / "lake"
    a = write(tmp_path / "BTCUSDT-trades-2024-08-09.csv", csv_text(trade_rows(2)))
    b = write(
        tmp_path / "BTCUSDT-aggTrades-2024-08-09.csv",
        csv_text([[9, "1.0", "1.0", 1, 1, epoch("2024-08-09T01:00:00"), "true"]]),
    )
    import_paths([a, b], lake, progress=False)
    assert len(files(lake)) == 2
    assert len(read(lake, "trades")) == 3


# --------------------------------------------------------------------------------------------------
# websocket captures


def test_ws_capture_across_midnight(tmp_path):
    # The collector's clock runs ~1.2 s behind the exchange: a trade at 00:00:00.5 exchange time is received
    # at 23:59:59.3 local and sits in the "20240808" file, but belongs to the new day.
    before = ws_trade(10, epoch("2024-08-08T23:59:58.9"))
    after = ws_trade(11, epoch("2024-08-09T00:00:00.5"))
    lines = [
        ws_line(before, "btcusdt@trade", epoch("2024-08-08T23:59:57.7", "ns")),
        ws_line(ws_book(500), "btcusdt@bookTicker", epoch("2024-08-08T23:59:59.1", "ns")),
        ws_line(after, "btcusdt@trade", epoch("2024-08-08T23:59:59.3", "ns")),
        ws_line(ws_book(501), "btcusdt@bookTicker", epoch("2024-08-08T23:59:59.4", "ns")),
    ]
    src = write(tmp_path / "btcusdt_20240808.gz", "\n".join(lines) + "\n", "gz")
    lake = tmp_path / "lake"
    report = import_paths([src], lake, progress=False)
    assert report.files[0].format == "ws"
    assert report.files[0].rows == {
        ("trades", "BTCUSDT", "2024-08-08"): 1,
        ("trades", "BTCUSDT", "2024-08-09"): 1,
        ("quotes", "BTCUSDT", "2024-08-08"): 2,
    }
    assert {p.parent.name for p in files(lake / "trades")} == {"date=2024-08-08", "date=2024-08-09"}
    trades = read(lake, "trades")
    assert [(r["trade_id"], str(r["date"]), r["ts"]) for r in trades] == [
        (10, "2024-08-08", ts("2024-08-08T23:59:58.9")),
        (11, "2024-08-09", ts("2024-08-09T00:00:00.5")),
    ]
    assert trades[0]["price"] == 61837.63 and trades[0]["quote_qty"] == pytest.approx(61837.63 * 0.02)
    # spot bookTicker has no exchange time: it takes the line's receive time
    quotes = read(lake, "quotes")
    assert [(r["update_id"], r["ts"], r["bid_price"], r["ask_qty"]) for r in quotes] == [
        (500, ts("2024-08-08T23:59:59.1"), 61837.63, 1.5),
        (501, ts("2024-08-08T23:59:59.4"), 61837.63, 1.5),
    ]
    assert column_types(lake, "quotes")["ts"] == "TIMESTAMP"


def test_ws_skips_depth_and_unplaceable_quotes(tmp_path):
    t0 = epoch("2024-08-09T01:00:00")
    lines = [
        ws_line(ws_depth(), "btcusdt@depth@100ms", t0 * 10**6),
        '1723161254206652067 {"lastUpdateId":50093239218,"bids":[["61837.63","3.7"]],"asks":[["61837.64","1.5"]]}',
        ws_line(ws_depth(), "btcusdt@depth@100ms", t0 * 10**6),
        ws_line(ws_book(1)),  # bare spot bookTicker without a receive time: cannot be placed
        ws_line(ws_trade(1, t0), "btcusdt@trade", t0 * 10**6),
        ws_line({"e": "kline", "s": "BTCUSDT", "k": {}}, "btcusdt@kline_1m"),
        '{"result":null,"id":1}',
        "",
    ]
    src = write(tmp_path / "capture.txt", "\n".join(lines) + "\n")
    report = import_paths([src], tmp_path / "lake", progress=False)
    f = report.files[0]
    assert f.skipped == {
        "depthUpdate": 2,
        "depthSnapshot": 1,
        "bookTicker:no-receive-time": 1,
        "kline": 1,
        "response": 1,
    }
    assert f.bad_lines == []
    assert f.rows == {("trades", "BTCUSDT", "2024-08-09"): 1}
    assert "skipped: bookTicker:no-receive-time 1, depthSnapshot 1, depthUpdate 2" in f.summary()


def test_ws_futures_streams(tmp_path):
    t0 = epoch("2024-08-09T02:00:00")
    lines = [
        ws_line(
            ws_trade(5, t0, price="61800.30", qty="0.006", X="MARKET", m=False), "btcusdt@trade", t0 * 10**6
        ),
        ws_line(ws_trade(6, t0 + 1, X="INSURANCE_FUND"), "btcusdt@trade", t0 * 10**6),
        ws_line(ws_trade(7, t0 + 2, X="ADL"), "btcusdt@trade", t0 * 10**6),
        # futures bookTicker: ts = T (transaction time), not the receive time
        ws_line(
            ws_book(5123107839020, e="bookTicker", T=t0 + 7, E=t0 + 9),
            "btcusdt@bookTicker",
            (t0 - 5000) * 10**6,
        ),
        # unwrapped messages, aggTrade with trade id `a`, T in microseconds
        ws_line(
            {
                "e": "aggTrade",
                "E": 1,
                "a": 42,
                "s": "BTCUSDT",
                "p": "2",
                "q": "3",
                "f": 1,
                "l": 2,
                "T": epoch("2024-08-09T02:00:01", "us"),
                "m": True,
            }
        ),
    ]
    src = write(tmp_path / "usdm_capture.gz", "\n".join(lines) + "\n", "gz")
    report = import_paths([src], tmp_path / "lake", progress=False)
    f = report.files[0]
    assert f.skipped == {"trade:X=INSURANCE_FUND": 1, "trade:X=ADL": 1}
    assert f.ts_units == {"ms": 2, "us": 1}
    trades = read(tmp_path / "lake", "trades")
    assert [(r["trade_id"], r["ts"], r["quote_qty"], r["is_buyer_maker"]) for r in trades] == [
        (5, ts("2024-08-09T02:00:00"), pytest.approx(61800.30 * 0.006), False),
        (42, ts("2024-08-09T02:00:01"), 6.0, True),
    ]
    (quote,) = read(tmp_path / "lake", "quotes")
    assert quote["update_id"] == 5123107839020 and quote["ts"] == ts("2024-08-09T02:00:00.007")


def test_ws_several_symbols(tmp_path):
    t0 = epoch("2024-08-09T03:00:00")
    lines = [
        ws_line(ws_trade(1, t0, symbol="BTCUSDT"), "btcusdt@trade", t0 * 10**6),
        ws_line(ws_trade(1, t0, symbol="ethusdt"), "ethusdt@trade", t0 * 10**6),
        ws_line(ws_book(9, symbol="ETHUSDT"), "ethusdt@bookTicker", t0 * 10**6),
    ]
    src = write(tmp_path / "multi.jsonl", "\n".join(lines))
    report = import_paths([src], tmp_path / "lake", progress=False)
    assert report.rows_by_symbol("trades") == {"BTCUSDT": 1, "ETHUSDT": 1}
    assert report.rows_by_symbol("quotes") == {"ETHUSDT": 1}
    with pytest.raises(LakeError, match="several symbols"):
        import_paths([src], tmp_path / "lake2", symbol="BTCUSDT", progress=False)


# --------------------------------------------------------------------------------------------------
# ccxt / freqtrade JSON


def test_ccxt_trades_list_and_dict_forms(tmp_path):
    t0 = epoch("2019-10-11T00:00:11.620")
    listed = f'[[{t0},"13519807",null,"sell",0.00141342,23.0,0.03250866],[{t0 + 5},"13519808",null,"buy",0.5,2.0,1.0]]'
    src = write(tmp_path / "XRP_ETH-trades.json.gz", listed, "gz")
    report = import_paths([src], tmp_path / "lake", progress=False)
    assert report.files[0].format == "ccxt-trades"
    rows = read(tmp_path / "lake", "trades")
    assert [
        (r["symbol"], r["trade_id"], r["price"], r["qty"], r["quote_qty"], r["is_buyer_maker"]) for r in rows
    ] == [
        ("XRPETH", 13519807, 0.00141342, 23.0, 0.03250866, True),
        ("XRPETH", 13519808, 0.5, 2.0, 1.0, False),
    ]
    assert rows[0]["ts"] == ts("2019-10-11T00:00:11.620")

    dicts = (
        f'[{{"timestamp":{t0},"id":"77","side":"buy","price":2.0,"amount":3.0,"cost":null}},'
        f'{{"timestamp":{t0},"id":"78","side":"hold","price":2.0,"amount":3.0}}]'
    )
    src = write(tmp_path / "BTC_USDT-trades.json", dicts)
    report = import_paths([src], tmp_path / "lake2", progress=False)
    (bad,) = report.files[0].bad_lines
    assert (bad.unit, bad.number) == ("record", 2) and "side" in bad.reason
    (row,) = read(tmp_path / "lake2", "trades")
    assert (row["symbol"], row["trade_id"], row["quote_qty"], row["is_buyer_maker"]) == (
        "BTCUSDT",
        77,
        6.0,
        False,
    )


def test_ccxt_ohlcv(tmp_path):
    t0 = epoch("2019-10-11T23:59:00")
    candles = [[t0 + i * 60000, 1.0 + i, 2.0, 0.5, 1.5, 10.0 * i] for i in range(3)]
    src = write(tmp_path / "XRP_ETH-1m.json", str(candles))
    report = import_paths([src], tmp_path / "lake", progress=False)
    assert report.files[0].format == "ccxt-ohlcv"
    assert report.files[0].rows == {
        ("klines_1m", "XRPETH", "2019-10-11"): 1,
        ("klines_1m", "XRPETH", "2019-10-12"): 2,
    }
    rows = read(tmp_path / "lake", "klines_1m")
    assert [(r["open_time"], r["open"], r["volume"]) for r in rows] == [
        (ts("2019-10-11T23:59:00"), 1.0, 0.0),
        (ts("2019-10-12T00:00:00"), 2.0, 10.0),
        (ts("2019-10-12T00:01:00"), 3.0, 20.0),
    ]
    assert all(
        r["quote_volume"] is None and r["trade_count"] is None and r["taker_buy_base"] is None for r in rows
    )
    assert column_types(tmp_path / "lake", "klines_1m")["trade_count"] == "BIGINT"


def test_ccxt_5m_ohlcv_refused(tmp_path):
    t0 = epoch("2019-10-11T00:00:00")
    candles = str([[t0 + i * 300000, 1.0, 2.0, 0.5, 1.5, 10.0] for i in range(3)])
    src = write(tmp_path / "XRP_ETH-5m.json", candles)
    with pytest.raises(LakeError, match=r"XRP_ETH-5m.json: 5m candles.*1m klines only"):
        import_paths([src], tmp_path / "lake", progress=False)
    # told from the content when the name does not say
    src = write(tmp_path / "candles.json", candles)
    with pytest.raises(LakeError, match=r"candles.json: candles are 5 minute\(s\) apart"):
        import_paths([src], tmp_path / "lake", symbol="XRPETH", progress=False)
    assert files(tmp_path / "lake") == []
    # in a directory walk, the 5m file is passed over (and named), the 1m file imported
    write(tmp_path / "dir" / "XRP_ETH-5m.json", candles)
    write(tmp_path / "dir" / "XRP_ETH-1m.json", str([[t0, 1.0, 2.0, 0.5, 1.5, 10.0]]))
    write(tmp_path / "dir" / "README.md", "not data")
    report = import_paths([tmp_path / "dir"], tmp_path / "lake", progress=False)
    assert [f.path.name for f in report.files] == ["XRP_ETH-1m.json"]
    assert sorted(p.name for p, _ in report.skipped_files) == ["README.md", "XRP_ETH-5m.json"]
    assert "skipped" in report.summary() and "5m candles" in report.summary()


# --------------------------------------------------------------------------------------------------
# zip with several members, errors


def test_zip_with_several_members(tmp_path):
    src = write_zip(
        tmp_path / "bundle.zip",
        {
            "BTCUSDT-trades-2024-08-09.csv": csv_text(trade_rows(2)),
            "ETHUSDT-trades-2024-08-09.csv": csv_text(trade_rows(3, first_id=7)),
            "BTCUSDT-1m-2024-08-09.csv": csv_text(kline_rows(2)),
        },
    )
    report = import_paths([src], tmp_path / "lake", progress=False)
    f = report.files[0]
    assert f.format == "binance-klines,binance-trades"
    assert f.rows_by_symbol("trades") == {"BTCUSDT": 2, "ETHUSDT": 3}
    assert f.rows_by_dataset() == {"trades": 5, "klines_1m": 2}


def test_user_errors_name_the_file(tmp_path):
    with pytest.raises(LakeError, match="no such file"):
        import_paths([tmp_path / "missing.csv"], tmp_path / "lake")
    src = write(tmp_path / "notes.csv", "hello world\nsome text\n")
    with pytest.raises(LakeError, match=r"notes.csv: cannot tell the format"):
        import_paths([src], tmp_path / "lake")
    src = write(tmp_path / "BTCUSDT-trades-2024-08-09.csv", "1,2,3\n")
    with pytest.raises(LakeError, match=r"BTCUSDT-trades-2024-08-09.csv: line 1 has 3 columns"):
        import_paths([src], tmp_path / "lake")
    src = write(tmp_path / "XRP_ETH-trades.json", '[[1, "2"')
    with pytest.raises(LakeError, match=r"XRP_ETH-trades.json: not valid JSON at line 1 column"):
        import_paths([src], tmp_path / "lake")
    with pytest.raises(LakeError, match="unknown format"):
        import_paths([src], tmp_path / "lake", fmt="parquet")
    assert files(tmp_path / "lake") == []


def test_progress_reading_gives_the_same_rows(tmp_path, monkeypatch):
    """With a progress bar (forced on for small files) every container is read through the byte counter."""
    import lakeqa.importers.api as api

    monkeypatch.setattr(api, "PROGRESS_MIN_BYTES", 0)
    t0 = epoch("2024-08-09T05:00:00")
    capture = "\n".join(ws_line(ws_trade(i, t0 + i), "btcusdt@trade", (t0 + i) * 10**6) for i in range(50))
    srcs = [
        write(tmp_path / "BTCUSDT-trades-2024-08-09.zip", csv_text(trade_rows(40)), "zip"),
        write(
            tmp_path / "BTCUSDT-aggTrades-2024-08-09.csv.gz",
            csv_text([[1, "1", "1", 1, 1, t0, "true"]]),
            "gz",
        ),
        write(tmp_path / "cap.gz", capture, "gz"),
        write(tmp_path / "XRP_ETH-1m.json", str([[t0 - t0 % 60000, 1.0, 1.0, 1.0, 1.0, 1.0]])),
    ]
    with_bar = import_paths(srcs, tmp_path / "a", progress=True)
    without = import_paths(srcs, tmp_path / "b", progress=False)
    assert [f.rows for f in with_bar.files] == [f.rows for f in without.files]
    assert with_bar.rows_by_dataset() == {"trades": 91, "klines_1m": 1}


# --------------------------------------------------------------------------------------------------
# the CLI


def cli_main(argv: list[str]) -> int:
    """`lakeqa.cli.main`, leaving out sibling commands whose modules are not written yet."""
    missing = [m for m in cli.COMMAND_MODULES if importlib.util.find_spec(m) is None]
    if not missing:
        return cli.main(argv)
    saved = list(cli.COMMAND_MODULES)
    cli.COMMAND_MODULES[:] = [m for m in saved if m not in missing]
    try:
        return cli.main(argv)
    finally:
        cli.COMMAND_MODULES[:] = saved


def test_cli_import(tmp_path, capsys, monkeypatch):
    src = write(tmp_path / "BTCUSDT-trades-2024-08-09.zip", csv_text(trade_rows(3)), "zip")
    lake = tmp_path / "lake"
    assert cli_main(["import", str(src), "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    assert "binance-trades" in out and "2024-08-09" in out and "trades 3" in out
    assert [p.relative_to(lake).as_posix() for p in files(lake)] == [
        "trades/symbol=BTCUSDT/date=2024-08-09/BTCUSDT-trades-2024-08-09.binance-trades.parquet"
    ]
    # --quiet prints nothing; LAKE_ROOT is the default lake
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "env_lake"))
    assert cli_main(["import", str(src), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert len(files(tmp_path / "env_lake")) == 1


def test_cli_errors_exit_1(tmp_path, capsys):
    t0 = epoch("2019-10-11T00:00:00")
    src = write(
        tmp_path / "XRP_ETH-5m.json", str([[t0 + i * 300000, 1.0, 2.0, 0.5, 1.5, 1.0] for i in range(2)])
    )
    assert cli_main(["import", str(src), "--lake", str(tmp_path / "lake")]) == 1
    err = capsys.readouterr().err
    assert "lakeqa import: error:" in err and "XRP_ETH-5m.json" in err and "1m" in err


def test_cli_help_shows_an_example(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["import", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "lakeqa import " in out and "--max-bad-lines" in out
    assert "binance-aggtrades" in out


# --------------------------------------------------------------------------------------------------
# real data


def test_shipped_sample_imports(tmp_path):
    lake = tmp_path / "lake"
    report = import_paths([SAMPLE], lake, progress=False)
    assert sorted(f.path.name for f in report.files) == [
        "btcusdt_20240808.gz",
        "btcusdt_20240809.gz",
        "ethusdt_20240808.gz",
        "ethusdt_20240809.gz",
    ]
    assert {p.name for p, _ in report.skipped_files} == {"LICENSE", "SOURCE.md"}
    assert all(f.bad_lines == [] and f.skipped == {} for f in report.files)
    # the counts SOURCE.md states
    assert report.rows_by_symbol("trades") == {"BTCUSDT": 9283, "ETHUSDT": 6631}
    assert report.rows_by_symbol("quotes") == {"BTCUSDT": 30039, "ETHUSDT": 23352}
    by_day = duckdb.sql(
        f"select symbol, date::varchar, count(*), max(trade_id) - min(trade_id) + 1 "
        f"from read_parquet('{lake}/trades/*/*/*.parquet', hive_partitioning = true) group by all order by all"
    ).fetchall()
    assert by_day == [
        ("BTCUSDT", "2024-08-08", 4528, 4528),
        ("BTCUSDT", "2024-08-09", 4755, 4755),
        ("ETHUSDT", "2024-08-08", 2678, 2678),
        ("ETHUSDT", "2024-08-09", 3953, 3953),
    ]
    assert column_types(lake, "trades")["ts"] == "TIMESTAMP"


def _needs_shared() -> None:
    if not REAL.is_dir():
        pytest.skip(
            f"the shared real data folder {REAL} is absent (set LAKEQA_SHARED to the 'shared' folder)"
        )


def test_real_data_imports_with_measured_counts(tmp_path):
    _needs_shared()
    lake = tmp_path / "lake"
    report = import_paths(
        [REAL / "hftbacktest-binance-ws", REAL / "freqtrade-binance-xrpeth"], lake, progress=False
    )
    assert report.rows_by_symbol("trades") == {"BTCUSDT": 19904, "ETHUSDT": 14515, "XRPETH": 12477}
    assert report.rows_by_symbol("quotes") == {"BTCUSDT": 73174, "ETHUSDT": 58758}
    assert report.rows_by_symbol("klines_1m") == {"XRPETH": 3560}
    assert [p.name for p, why in report.skipped_files if "1m" in why] == ["XRP_ETH-5m.json"]
    assert all(f.bad_lines == [] for f in report.files)
    depth = sum(f.skipped.get("depthUpdate", 0) for f in report.files)
    assert depth == 6495 + 6470
    # ids consecutive, and the read-back matches the counts
    stats = duckdb.sql(
        f"select symbol, count(*), count(distinct trade_id), max(trade_id) - min(trade_id) + 1 "
        f"from read_parquet('{lake}/trades/*/*/*.parquet', hive_partitioning = true) group by all order by all"
    ).fetchall()
    assert stats == [
        ("BTCUSDT", 19904, 19904, 19904),
        ("ETHUSDT", 14515, 14515, 14515),
        ("XRPETH", 12477, 12477, 12477),
    ]
    # the ~1.3 s of 2024-08-09 trades in the *_20240808 files land on 2024-08-09
    early = duckdb.sql(
        f"select count(*), max(ts) from read_parquet('{lake}/trades/symbol=BTCUSDT/date=2024-08-09/"
        "btcusdt_20240808.ws.parquet')"
    ).fetchone()
    assert early[0] > 0 and early[1] < ts("2024-08-09T00:00:01.3")
    # a re-import of everything changes nothing
    assert import_paths([REAL], lake, progress=False).changed == []


def test_real_5m_file_refused_when_named(tmp_path):
    _needs_shared()
    with pytest.raises(LakeError, match="XRP_ETH-5m.json: 5m candles"):
        import_paths(
            [REAL / "freqtrade-binance-xrpeth" / "XRP_ETH-5m.json"], tmp_path / "lake", progress=False
        )
