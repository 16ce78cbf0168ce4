"""Small builders of exchange files for the importer tests (Binance CSV, websocket captures, ccxt JSON)."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

TRADES_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"
AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
KLINES_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore"
)
BOOK_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"


def epoch(iso: str, unit: str = "ms") -> int:
    """'2024-08-09T00:00:00.5' (UTC) -> integer epoch in s / ms / us / ns."""
    dt = datetime.fromisoformat(iso).replace(tzinfo=UTC)
    us = int(dt.timestamp()) * 1_000_000 + dt.microsecond
    return {"s": us // 1_000_000, "ms": us // 1000, "us": us, "ns": us * 1000}[unit]


def write(path: Path, text: str | bytes, compress: str = "plain", member: str | None = None) -> Path:
    """Write `text` plain, gzipped or as the single (or named) member of a zip."""
    data = text.encode() if isinstance(text, str) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress == "gz":
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as g:
            g.write(data)
    elif compress == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(member or path.name.removesuffix(".zip"), data)
    else:
        path.write_bytes(data)
    return path


def write_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def csv_text(rows: list[list], header: str | None = None) -> str:
    lines = [header] if header else []
    lines += [",".join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def trade_rows(
    n: int = 3, start: str = "2024-08-09T12:00:00", unit: str = "ms", first_id: int = 100
) -> list[list]:
    t0 = epoch(start, unit)
    step = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    return [
        [
            first_id + i,
            f"{60000 + i}.5",
            "0.25",
            f"{(60000 + i + 0.5) * 0.25}",
            t0 + i * step,
            "True" if i % 2 else "False",
            "True",
        ]
        for i in range(n)
    ]


def kline_rows(
    n: int = 3, start: str = "2024-08-09T00:00:00", unit: str = "ms", minutes: int = 1
) -> list[list]:
    t0 = epoch(start, unit)
    minute = epoch("1970-01-01T00:01:00", unit)
    last = {"s": 1, "ms": 1, "us": 1, "ns": 1}[unit]
    return [
        [
            t0 + i * minute * minutes,
            "10.0",
            "12.0",
            "9.0",
            "11.0",
            "5.5",
            t0 + (i + 1) * minute * minutes - last,
            "60.5",
            7 + i,
            "2.5",
            "27.5",
            "0",
        ]
        for i in range(n)
    ]


def ws_line(data: dict, stream: str | None = None, recv_ns: int | None = None) -> str:
    msg = {"stream": stream, "data": data} if stream else data
    text = json.dumps(msg, separators=(",", ":"))
    return f"{recv_ns} {text}" if recv_ns is not None else text


def ws_trade(
    t: int,
    T: int,
    symbol: str = "BTCUSDT",
    price: str = "61837.63000000",
    qty: str = "0.02000000",
    m: bool = True,
    **extra,
) -> dict:
    return {
        "e": "trade",
        "E": T + 1,
        "s": symbol,
        "t": t,
        "p": price,
        "q": qty,
        "T": T,
        "m": m,
        "M": True,
        **extra,
    }


def ws_book(u: int, symbol: str = "BTCUSDT", bid: str = "61837.63", ask: str = "61837.64", **extra) -> dict:
    return {"u": u, "s": symbol, "b": bid, "B": "3.5", "a": ask, "A": "1.5", **extra}


def ws_depth(symbol: str = "BTCUSDT", E: int = 1723161255208) -> dict:
    return {"e": "depthUpdate", "E": E, "s": symbol, "U": 1, "u": 2, "b": [["1.0", "0.0"]], "a": []}
