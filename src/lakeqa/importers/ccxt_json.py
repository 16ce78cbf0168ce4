"""ccxt / freqtrade JSON (plain or gzipped): trade lists and 1m OHLCV lists.

    trades, list form:  [[timestamp_ms, "id", type, side, price, amount, cost], ...]
    trades, dict form:  [{"timestamp": .., "id": .., "side": .., "price": .., "amount": .., "cost": ..}, ...]
    OHLCV:              [[open_time_ms, open, high, low, close, volume], ...]

`side` is the taker side, so `sell` means the buyer was the maker.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from lakeqa.importers.common import (
    BadLines,
    FileReport,
    Member,
    NotOneMinuteError,
    epochs_to_us,
    us_array,
)
from lakeqa.lake import LakeError

_TRADE_KEYS = ("timestamp", "id", "type", "side", "price", "amount", "cost")


class _Bad(Exception):
    pass


def load(member: Member, update: Callable[[int], object] | None = None) -> list:
    with member.open(update) as f:
        data = f.read()
    try:
        records = json.loads(data)
    except UnicodeDecodeError as exc:
        raise LakeError(f"{member.label}: not UTF-8 JSON ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise LakeError(
            f"{member.label}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(records, list):
        raise LakeError(
            f"{member.label}: expected a JSON array of trades or candles, got {type(records).__name__}"
        )
    return records


def kind_of(records: list) -> str | None:
    """ccxt-trades or ccxt-ohlcv, told by the first record."""
    for rec in records[:1]:
        if isinstance(rec, dict):
            return "ccxt-trades" if "timestamp" in rec else None
        if isinstance(rec, list):
            if len(rec) == 7 and isinstance(rec[3], str):
                return "ccxt-trades"
            if len(rec) >= 6 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in rec[:6]):
                return "ccxt-ohlcv"
    return None


def _num(v: object, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                pass
        raise _Bad(f"{what} is not a number: {v!r}")
    return float(v)


def _epoch(v: object, what: str) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise _Bad(f"{what} is not a timestamp: {v!r}")
    return v


def _trade(rec: object) -> tuple:
    if isinstance(rec, dict):
        missing = [k for k in ("timestamp", "id", "side", "price", "amount") if k not in rec]
        if missing:
            raise _Bad(f"lacks {', '.join(repr(k) for k in missing)}")
        ts, tid, side, price, amount, cost = (
            rec.get(k) for k in ("timestamp", "id", "side", "price", "amount", "cost")
        )
    elif isinstance(rec, list) and len(rec) == 7:
        ts, tid, _, side, price, amount, cost = rec
    else:
        raise _Bad("expected [timestamp, id, type, side, price, amount, cost]")
    ts = _epoch(ts, "timestamp")
    try:
        trade_id = int(tid)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Bad(f"id is not an integer: {tid!r}") from None
    if side not in ("buy", "sell"):
        raise _Bad(f"side is not 'buy' or 'sell': {side!r}")
    price, qty = _num(price, "price"), _num(amount, "amount")
    quote = price * qty if cost is None else _num(cost, "cost")
    return trade_id, price, qty, quote, ts, side == "sell"


def _candle(rec: object) -> tuple:
    if not isinstance(rec, list) or len(rec) < 6:
        raise _Bad("expected [open_time, open, high, low, close, volume]")
    names = ("open", "high", "low", "close", "volume")
    return (_epoch(rec[0], "open_time"), *(_num(v, n) for v, n in zip(rec[1:6], names, strict=True)))


def parse(
    member: Member,
    fmt: str,
    symbol: str,
    bad: BadLines,
    report: FileReport,
    update: Callable[[int], object] | None = None,
    records: list | None = None,
) -> list[tuple[str, str, pa.Table]]:
    if records is None:
        records = load(member, update)
    report.records += len(records)
    convert = _trade if fmt == "ccxt-trades" else _candle
    rows = []
    for i, rec in enumerate(records, 1):
        try:
            rows.append(convert(rec))
        except _Bad as exc:
            bad.add(i, str(exc), json.dumps(rec, default=str), unit="record")
    cols = list(zip(*rows, strict=True)) if rows else None
    if fmt == "ccxt-trades":
        names = ("trade_id", "price", "qty", "quote_qty", "ts", "is_buyer_maker")
        if cols is None:
            cols = [[] for _ in names]
        ts, units = epochs_to_us(np.array(cols[4], dtype=np.int64))
        report.ts_units.update(units)
        table = pa.table(
            {
                "trade_id": pa.array(cols[0], pa.int64()),
                "price": pa.array(cols[1], pa.float64()),
                "qty": pa.array(cols[2], pa.float64()),
                "quote_qty": pa.array(cols[3], pa.float64()),
                "ts": us_array(ts),
                "is_buyer_maker": pa.array(cols[5], pa.bool_()),
            }
        )
        return [("trades", symbol, table)]

    if cols is None:
        cols = [[] for _ in range(6)]
    open_us, units = epochs_to_us(np.array(cols[0], dtype=np.int64))
    report.ts_units.update(units)
    check_one_minute(open_us, member.label)
    null = pa.nulls(len(open_us), pa.float64())
    table = pa.table(
        {
            "open_time": us_array(open_us),
            "open": pa.array(cols[1], pa.float64()),
            "high": pa.array(cols[2], pa.float64()),
            "low": pa.array(cols[3], pa.float64()),
            "close": pa.array(cols[4], pa.float64()),
            "volume": pa.array(cols[5], pa.float64()),
            "quote_volume": null,
            "trade_count": pa.nulls(len(open_us), pa.int64()),
            "taker_buy_base": null,
            "taker_buy_quote": null,
        }
    )
    return [("klines_1m", symbol, table)]


def check_one_minute(open_us: np.ndarray, label: str) -> None:
    """Candles whose closest open times are not 60 s apart are not 1m candles."""
    steps = np.diff(np.unique(open_us))
    if len(steps) and steps.min() != 60_000_000:
        raise NotOneMinuteError(
            f"{label}: candles are {steps.min() / 60e6:g} minute(s) apart, not 1m; the lake holds 1m klines only"
        )
