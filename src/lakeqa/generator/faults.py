"""Injected faults: where they go (a deterministic time per kind from the seed), how the market is shaped
to make room for them, how they are applied to the capture (trades/quotes) or the exchange (klines), and
which rule violations / detector hits they must produce (the ground truth's ``expect``).

Layers: ``market`` faults are real events (trades and klines both contain them), ``capture`` faults
change only our trades/quotes (klines are computed before them), ``exchange`` faults change only the
klines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from lakeqa.generator.market import (
    HOUR_S,
    MIN_US,
    STREAM_FAULT,
    US,
    Chunk,
    Shaping,
    rng_for,
    select_quotes,
    select_trades,
)
from lakeqa.generator.symbols import SymbolSpec
from lakeqa.lake import LakeError

# kind -> (layer, default symbol)
KINDS: dict[str, tuple[str, str]] = {
    "PRICE_JUMP": ("market", "BTCUSDT"),
    "VOLUME_SPIKE": ("market", "ETHUSDT"),
    "NAN_PRICE": ("capture", "BNBUSDT"),
    "NON_POSITIVE_PRICE": ("capture", "SOLUSDT"),
    "CROSSED_QUOTE": ("capture", "XRPUSDT"),
    "WIDE_SPREAD": ("capture", "ADAUSDT"),
    "NEGATIVE_QTY": ("capture", "DOGEUSDT"),
    "GAP": ("capture", "TRXUSDT"),
    "DROPPED_TRADES": ("capture", "LINKUSDT"),
    "DUPLICATE_TRADES": ("capture", "AVAXUSDT"),
    "KLINE_OHLC": ("exchange", "LTCUSDT"),
    "KLINE_MISSING_MINUTE": ("exchange", "DOTUSDT"),
    "MISSING_SYMBOL": ("capture", "XRPETH"),
}
DEFAULT_FAULT_SYMBOLS = {kind: sym for kind, (_, sym) in KINDS.items()}
KIND_IDS = {kind: i + 1 for i, kind in enumerate(KINDS)}

JUMP = 0.015  # +1.5 %
JUMP_MIN_TRADES = 10
SPIKE_MULT = 200
SPIKE_MIN_TRADES = 12
WIDE_BPS = 800.0
GAP_MINUTES = 10
DROP_MIN_TRADES = 20
DUPLICATES = 50
NEG_QTY_FACTOR = 1000
WINDOW = (2 * HOUR_S, 22 * HOUR_S)  # fault times fall in 02:00-22:00 UTC


def parse_faults(faults: None | str | list[str] | tuple[str, ...]) -> tuple[list[str], bool]:
    """-> (kinds, is_all). Accepts None / 'none' / 'all' / 'KIND,KIND' / a list of kinds."""
    if faults is None:
        return [], False
    if isinstance(faults, str):
        text = faults.strip()
        if text.lower() in ("", "none"):
            return [], False
        if text.lower() == "all":
            return list(KINDS), True
        items = text.split(",")
    else:
        items = list(faults)
        if [str(i).lower() for i in items] == ["all"]:
            return list(KINDS), True
    kinds: list[str] = []
    for item in items:
        kind = str(item).strip().upper().replace("-", "_")
        if not kind:
            continue
        if kind not in KINDS:
            raise LakeError(f"unknown fault kind {item!r}; expected none, all or some of: {', '.join(KINDS)}")
        if kind not in kinds:
            kinds.append(kind)
    return kinds, False


def fault_second(seed: int, day: date, kind: str) -> int:
    """The fault's time: a second in 02:00-22:00 UTC, from (seed, date, kind) only."""
    rng = rng_for(seed, day.toordinal(), STREAM_FAULT, KIND_IDS[kind])
    return int(rng.integers(WINDOW[0], WINDOW[1]))


def iso(day: date, key_us: int, micros: bool = True) -> str:
    t = datetime(day.year, day.month, day.day) + timedelta(microseconds=int(key_us))
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f" if micros else "%Y-%m-%dT%H:%M:%S")


@dataclass
class Fault:
    kind: str
    symbol: str
    layer: str
    day: date
    second: int  # the fault's second, relative to 00:00 UTC
    spec: SymbolSpec
    record: dict = field(default_factory=dict)  # extra ground-truth fields
    ts_us: int | None = None  # exact time of the faulty row (µs since 00:00)
    detail: str = ""
    expect: list[dict] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    remaining: int = 0  # DUPLICATE_TRADES: trades still to duplicate
    market: dict = field(default_factory=dict)  # observations of market faults (prices, counts)

    @property
    def minute(self) -> int:
        return self.second // 60 * 60

    def _exp(self, table: str, rule: str, sec: int) -> dict:
        return {"table": table, "rule": rule, "ts": iso(self.day, sec * US, micros=False)}

    def to_json(self) -> dict:
        ts = self.ts_us if self.ts_us is not None else self.second * US
        out = {
            "kind": self.kind,
            "symbol": self.symbol,
            "layer": self.layer,
            "ts": iso(self.day, ts),
            "second": iso(self.day, ts // US * US, micros=False),
            "minute": iso(self.day, ts // MIN_US * MIN_US, micros=False),
            "detail": self.detail,
            "expect": sorted(self.expect, key=lambda e: (e["table"], e["ts"], e["rule"])),
            "detectors": list(self.detectors),
        }
        out.update(self.record)
        return out


def plan(seed: int, day: date, kind: str, spec: SymbolSpec) -> Fault:
    layer = KINDS[kind][0]
    sec = fault_second(seed, day, kind)
    if kind in ("CROSSED_QUOTE", "WIDE_SPREAD") and sec % 60 > 50:
        sec -= 15  # leave room for a later second with trades in the same minute
    if kind == "GAP":
        sec = min(sec // 60 * 60, WINDOW[1] - GAP_MINUTES * 60)
    if kind in ("DROPPED_TRADES", "KLINE_OHLC", "KLINE_MISSING_MINUTE"):
        sec = sec // 60 * 60
    if kind == "MISSING_SYMBOL":
        sec = 0
    f = Fault(kind, spec.symbol, layer, day, sec, spec)
    f.remaining = DUPLICATES if kind == "DUPLICATE_TRADES" else 0
    return f


def shape(faults: list[Fault]) -> Shaping:
    """Market-level preparation: real events, and enough trades/quotes where a capture fault goes."""
    sh = Shaping()

    def at_least(sec: int, n: int) -> None:
        sh.min_counts[sec] = max(sh.min_counts.get(sec, 0), n)

    for f in faults:
        s = f.second
        if f.kind == "PRICE_JUMP":
            at_least(s, JUMP_MIN_TRADES)
            sh.quote_seconds.add(s)
            sh.one_tick_seconds.add(s)
            sh.jump_second, sh.jump_log = s, math.log1p(JUMP)
        elif f.kind == "VOLUME_SPIKE":
            at_least(s, SPIKE_MIN_TRADES)
            sh.qty_mult[s] = SPIKE_MULT
        elif f.kind in ("NAN_PRICE", "NON_POSITIVE_PRICE", "NEGATIVE_QTY"):
            at_least(s, 3)  # the faulty trade is the second of >= 3: open and close stay clean
        elif f.kind in ("CROSSED_QUOTE", "WIDE_SPREAD"):
            at_least(s, 2)
            at_least(s + 5, 1)  # not the minute's last second with trades: bars_1m keep a sane quote
            sh.quote_seconds.add(s + 1)  # the next normal quote, first thing in the following second
            sh.quote_blackout.add(s)  # nothing else after the second's last trade
        elif f.kind == "GAP":
            at_least(s - 1, 1)  # the last bar before the gap is the second just before it
            for i in range(GAP_MINUTES):
                at_least(s + 60 * i + 30, 1)  # the exchange has trades in each missing minute
            sh.quote_seconds.add(s + GAP_MINUTES * 60)
        elif f.kind == "DROPPED_TRADES":
            for i in range(DROP_MIN_TRADES):
                at_least(s + 3 * i, 1)
        elif f.kind in ("KLINE_OHLC", "KLINE_MISSING_MINUTE"):
            at_least(s + 30, 2)
    return sh


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def _insert_quote(chunk: Chunk, key: int, bid: float, ask: float, uid: int, p: int) -> None:
    def ins(arr: np.ndarray, value) -> np.ndarray:
        return np.insert(arr, p, value)

    chunk.q_key = ins(chunk.q_key, key)
    chunk.q_bid = ins(chunk.q_bid, bid)
    chunk.q_ask = ins(chunk.q_ask, ask)
    chunk.q_bid_qty = ins(chunk.q_bid_qty, chunk.q_bid_qty[p - 1])
    chunk.q_ask_qty = ins(chunk.q_ask_qty, chunk.q_ask_qty[p - 1])
    chunk.q_inc = ins(chunk.q_inc, 1)
    chunk.q_uid = ins(chunk.q_uid, uid)


def apply_capture(f: Fault, chunk: Chunk, hour: int, dup_index: list[np.ndarray]) -> None:
    """Apply a capture fault to one hour of trades/quotes (ids already assigned)."""
    spec = f.spec
    s0, s1 = hour * HOUR_S * US, (hour + 1) * HOUR_S * US
    s = f.second
    if f.kind in ("NAN_PRICE", "NON_POSITIVE_PRICE", "NEGATIVE_QTY") and s0 <= s * US < s1:
        i = int(np.searchsorted(chunk.t_key, s * US)) + 1  # the second trade of the second
        f.ts_us, old_price, old_qty = int(chunk.t_key[i]), float(chunk.t_price[i]), float(chunk.t_qty[i])
        f.record["trade_id"] = int(chunk.t_id[i])
        if f.kind == "NAN_PRICE":
            chunk.t_price[i] = np.nan
            f.detail = f"trade {chunk.t_id[i]} price {_fmt(old_price)} -> NaN"
        elif f.kind == "NON_POSITIVE_PRICE":
            chunk.t_price[i] = 0.0
            f.detail = f"trade {chunk.t_id[i]} price {_fmt(old_price)} -> 0.0"
        else:
            lo, hi = np.searchsorted(chunk.t_key, [f.minute * US, (f.minute + 60) * US])
            others = float(chunk.t_qty[lo:hi].sum()) - old_qty
            need = max(NEG_QTY_FACTOR * spec.qty_median, 2.0 * others)
            units = math.ceil(need / spec.step - 1e-9)
            new_qty = -(units * spec.step_units) / float(10**spec.qty_decimals)
            chunk.t_qty[i] = new_qty
            f.record["qty"] = new_qty
            f.detail = (
                f"trade {chunk.t_id[i]} qty {_fmt(old_qty)} -> {_fmt(new_qty)} "
                f"(~{NEG_QTY_FACTOR} x the typical {_fmt(spec.qty_median)}); the second's and the minute's "
                "volume sums turn negative"
            )
    elif f.kind in ("CROSSED_QUOTE", "WIDE_SPREAD") and s0 <= s * US < s1:
        j = int(np.searchsorted(chunk.t_key, (s + 1) * US)) - 1
        key = min(int(chunk.t_key[j]) + 1, (s + 1) * US - 1)
        p = int(np.searchsorted(chunk.q_key, key, side="right"))
        bid0, ask0 = float(chunk.q_bid[p - 1]), float(chunk.q_ask[p - 1])
        if f.kind == "CROSSED_QUOTE":
            bid, ask = ask0, bid0
            what = f"bid {_fmt(bid)} > ask {_fmt(ask)} (the prevailing bid/ask swapped)"
        else:
            mid = (bid0 + ask0) / 2.0
            half = WIDE_BPS / 2.0 / 1e4
            scale = float(10**spec.price_decimals)
            bid = math.floor(mid * (1 - half) / spec.tick) * spec.tick_units / scale
            ask = math.ceil(mid * (1 + half) / spec.tick) * spec.tick_units / scale
            bps = (ask - bid) / ((ask + bid) / 2.0) * 1e4
            what = f"bid {_fmt(bid)} / ask {_fmt(ask)}: a {bps:.0f} bps spread around mid {_fmt(mid)}"
        uid = int(chunk.q_uid[p - 1]) + 1
        _insert_quote(chunk, key, bid, ask, uid, p)
        f.ts_us = key
        f.record["update_id"] = uid
        f.detail = (
            f"quote {uid} inserted right after the second's last trade ({chunk.t_id[j]}): {what}; "
            "the next normal quote comes at the start of the following second"
        )
    elif f.kind == "GAP":
        g0, g1 = s * US, (s + GAP_MINUTES * 60) * US
        if g1 <= s0 or g0 >= s1:
            return
        tk = (chunk.t_key >= g0) & (chunk.t_key < g1)
        qk = (chunk.q_key >= g0) & (chunk.q_key < g1)
        f.record["removed_trades"] = f.record.get("removed_trades", 0) + int(tk.sum())
        f.record["removed_quotes"] = f.record.get("removed_quotes", 0) + int(qk.sum())
        select_trades(chunk, ~tk)
        select_quotes(chunk, ~qk)
    elif f.kind == "DROPPED_TRADES" and s0 <= s * US < s1:
        lo, hi = (int(x) for x in np.searchsorted(chunk.t_key, [s * US, (s + 60) * US]))
        drop = np.arange(lo + 1, hi, 2)
        keep = np.ones(len(chunk.t_key), dtype=bool)
        keep[drop] = False
        f.record["trades_in_minute"] = hi - lo
        f.record["dropped"] = len(drop)
        f.detail = f"{len(drop)} of the minute's {hi - lo} trades removed (every other one)"
        select_trades(chunk, keep)
    elif f.kind == "DUPLICATE_TRADES" and f.remaining > 0 and s1 > s * US:
        lo = int(np.searchsorted(chunk.t_key, s * US)) if s0 <= s * US else 0
        idx = np.arange(lo, min(lo + f.remaining, len(chunk.t_key)))
        if len(idx):
            if f.ts_us is None:
                f.ts_us = int(chunk.t_key[idx[0]])
                f.record["first_trade_id"] = int(chunk.t_id[idx[0]])
            f.record["last_trade_id"] = int(chunk.t_id[idx[-1]])
            f.record["duplicated"] = f.record.get("duplicated", 0) + len(idx)
            f.remaining -= len(idx)
            dup_index.append(idx)


def apply_exchange(f: Fault, kl: dict[str, np.ndarray], keep: np.ndarray) -> None:
    """Apply an exchange fault to a symbol-day's klines (1440 rows; ``keep`` masks rows out)."""
    spec = f.spec
    m = f.minute // 60
    f.ts_us = f.minute * US
    if f.kind == "KLINE_OHLC":
        top = max(kl["open"][m], kl["close"][m])
        ticks = round(top / spec.tick) - 1
        new_high = ticks * spec.tick_units / float(10**spec.price_decimals)
        f.detail = (
            f"kline high {_fmt(kl['high'][m])} -> {_fmt(new_high)}, below max(open, close) = {_fmt(top)}"
        )
        f.record["trade_count"] = int(kl["trade_count"][m])
        kl["high"][m] = new_high
    elif f.kind == "KLINE_MISSING_MINUTE":
        keep[m] = False
        f.record["trade_count"] = int(kl["trade_count"][m])
        f.detail = f"the exchange's kline for this minute ({kl['trade_count'][m]} trades) is missing"


def observe_market(f: Fault, chunk: Chunk, hour: int, prev_price: float | None) -> None:
    """Record what a market fault looks like in the (exchange-side) trades of its hour."""
    s = f.second
    if f.kind not in ("PRICE_JUMP", "VOLUME_SPIKE") or not hour * HOUR_S <= s < (hour + 1) * HOUR_S:
        return
    lo, hi = (int(x) for x in np.searchsorted(chunk.t_key, [s * US, (s + 1) * US]))
    f.market["trade_count"] = hi - lo
    f.market["after"] = float(chunk.t_price[hi - 1])
    before = float(chunk.t_price[lo - 1]) if lo > 0 else prev_price
    if before is not None:
        f.market["before"] = before


def finish(f: Fault, klines: bool, kline_counts: np.ndarray | None) -> None:
    """Fill in ``expect``/``detectors`` (and details of market faults) once the symbol-day is done."""
    s, m = f.second, f.minute
    market = f.market
    r7 = klines

    def both(rule: str, sec: int) -> None:
        f.expect.append(f._exp("bars_1s", rule, sec))
        f.expect.append(f._exp("bars_1m", rule, sec // 60 * 60))

    if f.kind == "NAN_PRICE":
        both("R4_NO_NAN", s)
    elif f.kind == "NON_POSITIVE_PRICE":
        both("R2_POSITIVE_PRICE", s)
    elif f.kind == "NEGATIVE_QTY":
        both("NEG_VOLUME", s)
    elif f.kind == "CROSSED_QUOTE":
        f.expect.append(f._exp("bars_1s", "R3_ASK_GE_BID", s))
        r7 = False
    elif f.kind == "WIDE_SPREAD":
        f.expect.append(f._exp("bars_1s", "R6_SPREAD_SANITY", s))
        r7 = False
    elif f.kind == "GAP":
        both("R5_CONTINUITY", s - 1)
        end = s + GAP_MINUTES * 60
        f.record["gap_start"] = iso(f.day, s * US, micros=False)
        f.record["gap_end"] = iso(f.day, end * US, micros=False)
        f.record["last_bar_before"] = iso(f.day, (s - 1) * US, micros=False)
        f.detail = (
            f"no trades or quotes for {GAP_MINUTES} minutes [{f.record['gap_start'][11:]}, "
            f"{f.record['gap_end'][11:]}): {f.record.get('removed_trades', 0)} trades and "
            f"{f.record.get('removed_quotes', 0)} quotes removed"
        )
        if klines and kline_counts is not None:
            for i in range(GAP_MINUTES):
                if kline_counts[(s + 60 * i) // 60] > 0:
                    f.expect.append(f._exp("compare_our_vs_kline_1m", "R7_KLINE_PARITY", s + 60 * i))
        r7 = False
    elif f.kind == "KLINE_OHLC":
        f.expect.append(f._exp("klines_1m", "R1_OHLC_ORDER", m))
    elif f.kind == "KLINE_MISSING_MINUTE":
        f.expect.append(f._exp("klines_1m", "R5_CONTINUITY", m))
    elif f.kind == "PRICE_JUMP":
        f.detectors = ["JUMP"]
        f.record["detectors_match"] = "all"
        f.record["trade_count"] = market.get("trade_count")
        f.detail = (
            f"the mid jumps by +{JUMP:.1%} at this second ({_fmt(market.get('before', float('nan')))} -> "
            f"{_fmt(market.get('after', float('nan')))}) and stays there (fading linearly to the next "
            f"day's anchor by midnight); {market.get('trade_count')} trades at the new level, 1-tick spread"
        )
        r7 = False
    elif f.kind == "VOLUME_SPIKE":
        f.detectors = ["ZSCORE_LOG_VOLUME", "IFOREST"]
        f.record["detectors_match"] = "any"
        f.record["trade_count"] = market.get("trade_count")
        f.detail = f"the second's {market.get('trade_count')} trades have qty x {SPIKE_MULT}"
        r7 = False
    elif f.kind in ("DUPLICATE_TRADES", "MISSING_SYMBOL"):
        r7 = False
        if f.kind == "DUPLICATE_TRADES":
            f.detail = (
                f"{f.record.get('duplicated', 0)} consecutive trades written twice (same trade_id, same values): "
                "deduplicated by staging, nothing to report"
            )
        else:
            f.ts_us = 0
            f.detail = (
                f"no trades, quotes or klines on {f.day.isoformat()} (the symbol had them the day before): "
                "expect a no-data verdict"
            )
            f.record["expect_verdict"] = "NO_DATA"
    if r7:
        f.expect.append(f._exp("compare_our_vs_kline_1m", "R7_KLINE_PARITY", m))
