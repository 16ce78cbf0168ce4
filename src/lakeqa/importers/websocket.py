"""Raw Binance websocket captures: one JSON message a line, optionally prefixed by the local receive time.

Line shapes (spot and USD-M futures; combined-stream wrapper or bare message):

    1723161254087896568 {"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":1,"p":"1","q":"1","T":1723161255342,"m":true}}
    {"e":"aggTrade","s":"BTCUSDT","a":1,"p":"1","q":"1","T":1723161255342,"m":false}
    1723161254087891268 {"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}}

Rows are placed by exchange time (`T`). Spot bookTicker has no exchange time and takes the local receive
time of its line; without one it cannot be placed and is skipped. Other streams are skipped, counted by kind.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable

import pyarrow as pa

from lakeqa.importers.common import BadLines, FileReport, Member, epoch_to_us, unit_of
from lakeqa.lake import LakeError, check_symbol

# skipped-line kinds that are not stream names
NO_TIME = "bookTicker:no-receive-time"


class _Bad(Exception):
    pass


def looks_like_ws(head: bytes) -> bool:
    for raw in head.removeprefix(b"\xef\xbb\xbf").splitlines()[:5]:
        line = raw.strip()
        if not line:
            continue
        prefix, _, rest = line.partition(b" ")
        if line.startswith(b"{"):
            return True
        return _is_number(prefix) and rest.lstrip().startswith((b"{", b"["))
    return False


def _is_number(b: bytes) -> bool:
    return b.replace(b".", b"", 1).isdigit()


def _receive_time_us(prefix: bytes) -> int:
    if b"." in prefix:  # decimal seconds
        whole, _, frac = prefix.partition(b".")
        return int(whole) * 1_000_000 + int((frac + b"000000")[:6])
    return epoch_to_us(int(prefix))


def _int(data: dict, key: str) -> int:
    if key not in data:
        raise KeyError(key)
    v = data[key]
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise _Bad(f"field {key!r} is not an integer: {v!r}")
    try:
        return int(v)
    except ValueError:
        raise _Bad(f"field {key!r} is not an integer: {v!r}") from None


def _float(data: dict, key: str) -> float:
    if key not in data:
        raise KeyError(key)
    v = data[key]
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise _Bad(f"field {key!r} is not a number: {v!r}")
    try:
        return float(v)
    except ValueError:
        raise _Bad(f"field {key!r} is not a number: {v!r}") from None


def _time(data: dict, key: str, units: Counter) -> int:
    v = _int(data, key)
    if v <= 0:
        raise _Bad(f"field {key!r} is not a timestamp: {v!r}")
    units[unit_of(v)] += 1
    return epoch_to_us(v)


def _symbol(data: dict, cache: dict[str, str]) -> str:
    s = data["s"]
    if not isinstance(s, str):
        raise _Bad(f"field 's' is not a symbol: {s!r}")
    sym = cache.get(s)
    if sym is None:
        try:
            sym = cache[s] = check_symbol(s)
        except LakeError:
            raise _Bad(f"field 's' is not a symbol: {s!r}") from None
    return sym


def _kind(msg: dict, stream: str | None, data: object) -> str:
    if isinstance(data, dict):
        e = data.get("e")
        if isinstance(e, str):
            return e
        if "lastUpdateId" in data and stream is None:
            return "depthSnapshot"  # the REST snapshot hftbacktest's collector writes first
        if stream and "@" in stream:
            return stream.split("@", 1)[1]  # e.g. "bookTicker", "depth5@100ms"
        if {"u", "b", "B", "a", "A"} <= data.keys():
            return "bookTicker"  # spot bookTicker carries no "e"
        if "result" in msg and "id" in msg:
            return "response"  # a reply to a (un)subscribe request
    return "unknown"


class _Rows:
    """Rows per symbol, turned into columns at the end."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.rows: dict[str, list[tuple]] = {}

    def target(self, symbol: str) -> list[tuple]:
        rows = self.rows.get(symbol)
        if rows is None:
            rows = self.rows[symbol] = []
        return rows

    def tables(self, schema: pa.Schema) -> dict[str, pa.Table]:
        out = {}
        for sym, rows in self.rows.items():
            cols = list(zip(*rows, strict=True))
            out[sym] = pa.Table.from_arrays(
                [pa.array(c, type=schema.field(n).type) for n, c in zip(self.names, cols, strict=True)],
                names=list(self.names),
            )
        return out


_TRADE_NAMES = ("trade_id", "price", "qty", "quote_qty", "ts", "is_buyer_maker")
_QUOTE_NAMES = ("update_id", "bid_price", "bid_qty", "ask_price", "ask_qty", "ts")
_TRADE_SCHEMA = pa.schema(
    [
        ("trade_id", pa.int64()),
        ("price", pa.float64()),
        ("qty", pa.float64()),
        ("quote_qty", pa.float64()),
        ("ts", pa.int64()),
        ("is_buyer_maker", pa.bool_()),
    ]
)
_QUOTE_SCHEMA = pa.schema(
    [
        ("update_id", pa.int64()),
        ("bid_price", pa.float64()),
        ("bid_qty", pa.float64()),
        ("ask_price", pa.float64()),
        ("ask_qty", pa.float64()),
        ("ts", pa.int64()),
    ]
)


def _trade_row(data: dict, kind: str, units: Counter) -> tuple:
    """The strict reading of a trade message: says exactly what is wrong with it."""
    m = data["m"]
    if not isinstance(m, bool):
        raise _Bad(f"field 'm' is not true/false: {m!r}")
    price, qty = _float(data, "p"), _float(data, "q")
    trade_id = _int(data, "t" if kind == "trade" else "a")
    return trade_id, price, qty, price * qty, _time(data, "T", units), m


def _quote_row(data: dict, ts: int) -> tuple:
    return _int(data, "u"), _float(data, "b"), _float(data, "B"), _float(data, "a"), _float(data, "A"), ts


_raw_decode = json.JSONDecoder().raw_decode


def _decode(text: str) -> object:
    obj, end = _raw_decode(text)
    if end != len(text) and text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return obj


def parse_lines(
    lines: Iterable[bytes],
    label: str,
    symbol: str | None,
    bad: BadLines,
    report: FileReport,
) -> list[tuple[str, str, pa.Table]]:
    """Parse capture lines into [(dataset, symbol, table)]; counts skipped and bad lines in `report`."""
    trades = _Rows(_TRADE_NAMES)
    quotes = _Rows(_QUOTE_NAMES)
    skipped = report.skipped
    units = report.ts_units
    ms_times = 0  # exchange times in ms, counted apart from `units` on the fast path
    symbols_seen: set[str] = set()  # symbols named in the messages, when --symbol overrides them
    symbol_cache: dict[str, str] = {}
    number = 0
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        recv_us = None
        if line[:1] != b"{":
            prefix, _, rest = line.partition(b" ")
            try:
                recv_us = int(prefix)
                recv_us = recv_us // 1000 if recv_us >= 10**17 else epoch_to_us(recv_us)
            except ValueError:
                if not _is_number(prefix):
                    bad.add(
                        number, "expected a JSON message, optionally after a receive time and a space", raw
                    )
                    continue
                recv_us = _receive_time_us(prefix)
            line = rest.lstrip()
        try:
            msg = _decode(line.decode("utf-8"))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            bad.add(number, f"not valid JSON ({getattr(exc, 'msg', None) or exc})", raw)
            continue
        if type(msg) is dict and "data" in msg and "stream" in msg:
            stream, data = msg["stream"], msg["data"]
        else:
            stream, data = None, msg
        if type(data) is dict and type(data.get("e")) is str:
            kind = data["e"]
        else:
            kind = _kind(
                msg if isinstance(msg, dict) else {}, stream if isinstance(stream, str) else None, data
            )
        try:
            if kind == "trade" or kind == "aggTrade":
                x = data.get("X")
                if x is not None and x != "MARKET":
                    skipped[f"{kind}:X={x}"] += 1
                    continue
                sym = symbol or _symbol(data, symbol_cache)
                # fast path for well-formed messages; anything else gets the strict reading
                try:
                    p, q, t, T, m = (
                        data["p"],
                        data["q"],
                        data["t" if kind == "trade" else "a"],
                        data["T"],
                        data["m"],
                    )
                    if not (type(p) is str and type(q) is str and type(t) is int and type(T) is int):
                        raise ValueError
                    if not (m is True or m is False) or not 10**11 <= T < 10**14:
                        raise ValueError
                    price, qty = float(p), float(q)
                    row = (t, price, qty, price * qty, T * 1000, m)
                    ms_times += 1
                except (KeyError, ValueError):
                    row = _trade_row(data, kind, units)
                trades.target(sym).append(row)
            elif kind == "bookTicker":
                if "T" in data:
                    ts = _time(data, "T", units)  # futures: transaction time
                elif recv_us is not None:
                    ts = recv_us  # spot: no exchange time, only the receive time
                else:
                    skipped[NO_TIME] += 1
                    continue
                sym = symbol or _symbol(data, symbol_cache)
                try:
                    u, b, bq, a, aq = data["u"], data["b"], data["B"], data["a"], data["A"]
                    if type(u) is not int:
                        raise ValueError
                    row = (u, float(b), float(bq), float(a), float(aq), ts)
                except (KeyError, ValueError, TypeError):
                    row = _quote_row(data, ts)
                quotes.target(sym).append(row)
            else:
                skipped[kind] += 1
                continue
        except KeyError as exc:
            bad.add(number, f"{kind} message lacks field {exc.args[0]!r}", raw)
            continue
        except _Bad as exc:
            bad.add(number, f"{kind} message: {exc}", raw)
            continue
        if symbol is not None and "s" in data:
            symbols_seen.add(str(data["s"]).upper())
    report.records += number
    if ms_times:
        units["ms"] += ms_times

    if symbol is not None and len(symbols_seen) > 1:
        raise LakeError(
            f"{label}: holds several symbols ({', '.join(sorted(symbols_seen))}); --symbol cannot apply to all"
        )
    out = []
    for dataset, rows, schema in (("trades", trades, _TRADE_SCHEMA), ("quotes", quotes, _QUOTE_SCHEMA)):
        for sym, table in sorted(rows.tables(schema).items()):
            ts = table.column("ts").cast(pa.timestamp("us"))
            out.append((dataset, sym, table.set_column(table.schema.get_field_index("ts"), "ts", ts)))
    return out


def parse(
    member: Member,
    symbol: str | None,
    bad: BadLines,
    report: FileReport,
    update: Callable[[int], object] | None = None,
) -> list[tuple[str, str, pa.Table]]:
    with member.open(update) as f:
        return parse_lines(f, member.label, symbol, bad, report)
