"""Injected faults: where they go (a deterministic time per kind from the seed), how the market is shaped
to make room for them, how they are applied to the capture (trades/quotes) or the exchange (klines), and
which rule violations / detector hits they must produce (the ground truth's ``expect``).

Layers: ``market`` faults are real events (trades and klines both contain them), ``capture`` faults
change only our trades/quotes (klines are computed before them), ``exchange`` faults change only the
klines.

Two groups of kinds (``--faults all`` / ``--faults completeness``; explicit lists may mix them as long as
each symbol gets one fault):

* ``all``: every rule and detector kind (``RULE_KINDS``, the first 13), each with exact per-row
  ``expect`` entries (table, rule, ts) and/or ``detectors``.
* ``completeness``: every completeness kind (``COMPLETENESS_KINDS``: outages, dead streams, missing
  datasets, row loss, a clock offset, a price scale error). Their ``expect`` is empty; instead the ground
  truth gives the UTC range the fault covers (``completeness: {start, end}``), the rule ids the QA must
  report (``expect_rules``), the least verdict (``expect_verdict``: FAIL, or REVIEW meaning "at least
  REVIEW"), row counts (removed/kept/shifted/scaled) and, when klines are generated,
  ``exchange_trades_in_range`` (the klines' trade_count summed over the range, counted before capture
  faults).
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
    # completeness kinds (appended: the kind ids, hence the fault times, of the kinds above stay as they were)
    "OUTAGE": ("capture", "BTCUSDT"),
    "TRADE_STREAM_DEATH": ("capture", "ETHUSDT"),
    "MISSING_KLINES": ("exchange", "BNBUSDT"),
    "FROZEN_BOOK": ("capture", "SOLUSDT"),
    "NO_QUOTES": ("capture", "XRPUSDT"),
    "TRADE_LOSS": ("capture", "ADAUSDT"),
    "CLOCK_OFFSET": ("capture", "DOGEUSDT"),
    "PRICE_SCALE": ("capture", "TRXUSDT"),
}
COMPLETENESS_KINDS: tuple[str, ...] = (
    "OUTAGE", "TRADE_STREAM_DEATH", "MISSING_KLINES", "FROZEN_BOOK", "NO_QUOTES", "TRADE_LOSS",
    "CLOCK_OFFSET", "PRICE_SCALE",
)  # fmt: skip
RULE_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k not in COMPLETENESS_KINDS)
GROUPS: dict[str, tuple[str, ...]] = {"all": RULE_KINDS, "completeness": COMPLETENESS_KINDS}
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
# completeness kinds
OUTAGE_HOURS = (6, 20)  # the collector dies at a whole hour in 06:00..20:00 UTC
STREAM_DEATH_MIN = 90  # TRADE_STREAM_DEATH: no trades for 90 minutes
FROZEN_MIN = 120  # FROZEN_BOOK: no quote updates for 2 hours ...
FROZEN_TRADE_EVERY_S = 30  # ... while trades go on, at least one every 30 s
LOSS_FRACTION = 0.85  # TRADE_LOSS: share of the day's trades lost
CLOCK_OFFSET_S = HOUR_S  # CLOCK_OFFSET: ts written one hour late
PRICE_SCALE = 100  # PRICE_SCALE: prices x 100 ...
PRICE_SCALE_FROM_S = 16 * HOUR_S  # ... from 16:00 UTC to the end of the day
DAY_END_S = 24 * HOUR_S


def parse_faults(faults: None | str | list[str] | tuple[str, ...]) -> tuple[list[str], bool]:
    """-> (kinds, from_group). Accepts None / 'none' / 'all' / 'completeness' / 'KIND,KIND' / a list of
    kinds; a list may name the groups too. ``all`` is every rule and detector kind (``RULE_KINDS``),
    ``completeness`` every completeness kind (``COMPLETENESS_KINDS``). ``from_group``: a group was named
    (kinds that cannot apply are then skipped rather than refused)."""
    if faults is None:
        return [], False
    if isinstance(faults, str):
        text = faults.strip()
        if text.lower() in ("", "none"):
            return [], False
        items = text.split(",")
    else:
        items = list(faults)
    kinds: list[str] = []
    from_group = False
    for item in items:
        word = str(item).strip()
        if word.lower() in GROUPS:
            from_group = True
            kinds.extend(k for k in GROUPS[word.lower()] if k not in kinds)
            continue
        kind = word.upper().replace("-", "_")
        if not kind:
            continue
        if kind not in KINDS:
            raise LakeError(
                f"unknown fault kind {item!r}; expected none, all, completeness or some of: {', '.join(KINDS)}"
            )
        if kind not in kinds:
            kinds.append(kind)
    return kinds, from_group


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
    seed: int = 0  # TRADE_LOSS draws which trades are lost from (seed, date, kind, hour)
    jump_size: float = JUMP  # PRICE_JUMP: the mid's relative step

    @property
    def span(self) -> tuple[int, int]:
        """Completeness kinds: the UTC range [start, end) the fault covers, in seconds since 00:00."""
        s = self.second
        if self.kind == "OUTAGE":
            return s, DAY_END_S
        if self.kind == "TRADE_STREAM_DEATH":
            return s, s + STREAM_DEATH_MIN * 60
        if self.kind == "FROZEN_BOOK":
            return s, s + FROZEN_MIN * 60
        if self.kind == "PRICE_SCALE":
            return PRICE_SCALE_FROM_S, DAY_END_S
        return 0, DAY_END_S

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


def _fault_int(seed: int, day: date, kind: str, lo: int, hi: int) -> int:
    """A whole number in [lo, hi] from (seed, date, kind) only."""
    rng = rng_for(seed, day.toordinal(), STREAM_FAULT, KIND_IDS[kind])
    return int(rng.integers(lo, hi + 1))


def plan(seed: int, day: date, kind: str, spec: SymbolSpec, jump_size: float = JUMP) -> Fault:
    layer = KINDS[kind][0]
    if kind in COMPLETENESS_KINDS:
        if kind == "OUTAGE":
            sec = _fault_int(seed, day, kind, *OUTAGE_HOURS) * HOUR_S
        elif kind in ("TRADE_STREAM_DEATH", "FROZEN_BOOK"):
            length = STREAM_DEATH_MIN if kind == "TRADE_STREAM_DEATH" else FROZEN_MIN
            sec = _fault_int(seed, day, kind, WINDOW[0] // 60, WINDOW[1] // 60 - length) * 60
        elif kind == "PRICE_SCALE":
            sec = PRICE_SCALE_FROM_S
        else:
            sec = 0
        return Fault(kind, spec.symbol, layer, day, sec, spec, seed=seed)
    sec = fault_second(seed, day, kind)
    if kind in ("CROSSED_QUOTE", "WIDE_SPREAD") and sec % 60 > 50:
        sec -= 15  # leave room for a later second with trades in the same minute
    if kind == "GAP":
        sec = min(sec // 60 * 60, WINDOW[1] - GAP_MINUTES * 60)
    if kind in ("DROPPED_TRADES", "KLINE_OHLC", "KLINE_MISSING_MINUTE"):
        sec = sec // 60 * 60
    if kind == "MISSING_SYMBOL":
        sec = 0
    f = Fault(kind, spec.symbol, layer, day, sec, spec, jump_size=jump_size)
    if kind == "PRICE_JUMP":
        f.record["jump_size"] = jump_size
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
            sh.jump_second, sh.jump_log = s, math.log1p(f.jump_size)
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
            sh.quote_seconds.add(s - 1)  # and the last quote: the quote stream's silence starts at s too
            for i in range(GAP_MINUTES):
                at_least(s + 60 * i + 30, 1)  # the exchange has trades in each missing minute
            sh.quote_seconds.add(s + GAP_MINUTES * 60)
        elif f.kind == "DROPPED_TRADES":
            for i in range(DROP_MIN_TRADES):
                at_least(s + 3 * i, 1)
        elif f.kind in ("KLINE_OHLC", "KLINE_MISSING_MINUTE"):
            at_least(s + 30, 2)
        elif f.kind in ("OUTAGE", "TRADE_STREAM_DEATH"):
            a, b = f.span
            for m in range(a, b, 60):
                at_least(m + 30, 1)  # the exchange has trades in every minute we miss (a witness)
        elif f.kind == "FROZEN_BOOK":
            a, b = f.span
            for t in range(a, b + 1, FROZEN_TRADE_EVERY_S):
                at_least(t, 1)  # trades go on throughout the frozen stretch
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
    if f.kind in COMPLETENESS_KINDS:
        _apply_completeness(f, chunk, hour)
        return
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


def _add(f: Fault, key: str, n: int) -> None:
    f.record[key] = f.record.get(key, 0) + int(n)


def _cut(f: Fault, chunk: Chunk, lo_us: int, hi_us: int, trades: bool, quotes: bool) -> None:
    """Remove the trades and/or quotes in [lo_us, hi_us); count removed and kept rows (and the rows of
    the other stream inside the range, which stay)."""
    tk = (chunk.t_key >= lo_us) & (chunk.t_key < hi_us)
    qk = (chunk.q_key >= lo_us) & (chunk.q_key < hi_us)
    if trades:
        _add(f, "removed_trades", tk.sum())
        _add(f, "kept_trades", len(tk) - tk.sum())
        select_trades(chunk, ~tk)
    else:
        _add(f, "trades_in_range", tk.sum())
    if quotes:
        _add(f, "removed_quotes", qk.sum())
        _add(f, "kept_quotes", len(qk) - qk.sum())
        select_quotes(chunk, ~qk)
    else:
        _add(f, "quotes_in_range", qk.sum())


def _scaled(spec: SymbolSpec, price: np.ndarray) -> np.ndarray:
    """price x PRICE_SCALE as an exact decimal (what a loader applying the wrong decimals would read)."""
    scale = float(10**spec.price_decimals)
    return np.rint(price * scale) * PRICE_SCALE / scale


def _apply_completeness(f: Fault, chunk: Chunk, hour: int) -> None:
    a, b = (x * US for x in f.span)
    if f.kind == "OUTAGE":
        _cut(f, chunk, a, b, trades=True, quotes=True)
    elif f.kind == "TRADE_STREAM_DEATH":
        _cut(f, chunk, a, b, trades=True, quotes=False)
    elif f.kind == "FROZEN_BOOK":
        _cut(f, chunk, a, b, trades=False, quotes=True)
    elif f.kind == "NO_QUOTES":
        _cut(f, chunk, a, b, trades=False, quotes=True)
    elif f.kind == "TRADE_LOSS":
        rng = rng_for(f.seed, f.day.toordinal(), STREAM_FAULT, KIND_IDS[f.kind], hour)
        keep = rng.random(len(chunk.t_key)) >= LOSS_FRACTION
        _add(f, "removed_trades", len(keep) - keep.sum())
        _add(f, "kept_trades", keep.sum())
        select_trades(chunk, keep)
    elif f.kind == "CLOCK_OFFSET":
        chunk.t_key = chunk.t_key + CLOCK_OFFSET_S * US
        chunk.q_key = chunk.q_key + CLOCK_OFFSET_S * US
        _add(f, "shifted_trades", len(chunk.t_key))
        _add(f, "shifted_quotes", len(chunk.q_key))
        _add(f, "trades_past_midnight", (chunk.t_key >= DAY_END_S * US).sum())
        _add(f, "quotes_past_midnight", (chunk.q_key >= DAY_END_S * US).sum())
    elif f.kind == "PRICE_SCALE":
        tk = chunk.t_key >= a
        qk = chunk.q_key >= a
        chunk.t_price[tk] = _scaled(f.spec, chunk.t_price[tk])
        chunk.q_bid[qk] = _scaled(f.spec, chunk.q_bid[qk])
        chunk.q_ask[qk] = _scaled(f.spec, chunk.q_ask[qk])
        _add(f, "scaled_trades", tk.sum())
        _add(f, "scaled_quotes", qk.sum())
        _add(f, "unscaled_trades", len(tk) - tk.sum())
        _add(f, "unscaled_quotes", len(qk) - qk.sum())


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


def _hm(sec: int) -> str:
    return "24:00" if sec >= DAY_END_S else f"{sec // HOUR_S:02d}:{sec % HOUR_S // 60:02d}"


def _finish_completeness(f: Fault, klines: bool, kline_counts: np.ndarray | None, quotes: bool) -> None:
    a, b = f.span
    r = f.record
    r["completeness"] = {"start": iso(f.day, a * US, micros=False), "end": iso(f.day, b * US, micros=False)}
    witness = klines and kline_counts is not None
    if witness:
        r["exchange_trades_in_range"] = int(kline_counts[a // 60 : b // 60].sum())
    ex = f", the exchange's klines count {r['exchange_trades_in_range']} trades there" if witness else ""
    rng = f"[{_hm(a)}, {_hm(b)})"
    rt, rq, kt = r.get("removed_trades", 0), r.get("removed_quotes", 0), r.get("kept_trades", 0)
    if f.kind == "OUTAGE":
        rules = (
            ["C1_TRADE_GAP"]
            + (["C2_QUOTE_GAP"] if quotes else [])
            + (["C3_KLINE_WITNESS"] if witness else [])
        )
        verdict = "FAIL"
        f.detail = (
            f"the collector dies at {_hm(a)}: no trades or quotes {rng} ({rt} trades and {rq} quotes "
            f"removed, {kt} trades and {r.get('kept_quotes', 0)} quotes kept before){ex}"
        )
    elif f.kind == "TRADE_STREAM_DEATH":
        rules = ["C1_TRADE_GAP"] + (["C3_KLINE_WITNESS"] if witness else [])
        verdict = "FAIL"
        f.detail = (
            f"the trade stream dies for {STREAM_DEATH_MIN} minutes {rng}: {rt} trades removed, "
            f"{r.get('quotes_in_range', 0)} quotes still there{ex}"
        )
    elif f.kind == "MISSING_KLINES":
        rules, verdict = ["C4_MISSING_DATASET"], "REVIEW"
        f.detail = (
            f"no klines_1m file for {f.symbol} on {f.day.isoformat()} (trades and quotes are there){ex}"
        )
    elif f.kind == "FROZEN_BOOK":
        rules, verdict = ["C2_QUOTE_GAP", "C7_STALE_BOOK"], "REVIEW"
        f.detail = (
            f"no quote updates for {FROZEN_MIN // 60} hours {rng}: {rq} quotes removed, "
            f"{r.get('trades_in_range', 0)} trades go on (at least one every {FROZEN_TRADE_EVERY_S} s)"
        )
    elif f.kind == "NO_QUOTES":
        rules, verdict = ["C4_MISSING_DATASET"], "REVIEW"
        f.detail = f"no quotes file for {f.symbol} on {f.day.isoformat()}: all {rq} quotes of the day removed"
    elif f.kind == "TRADE_LOSS":
        rules, verdict = ["C5_ROW_DROP"], "FAIL"
        total = rt + kt
        share = kt / total if total else 0.0
        r["kept_share"] = round(share, 6)
        f.detail = (
            f"{LOSS_FRACTION:.0%} of the day's trades lost at random: {rt} of {total} removed, {kt} kept "
            f"({share:.1%}); quotes and klines unchanged{ex}"
        )
    elif f.kind == "CLOCK_OFFSET":
        rules, verdict = (["C8_CLOCK_OFFSET"] if klines else ["C1_TRADE_GAP"]), "FAIL"
        r["offset_seconds"] = CLOCK_OFFSET_S
        f.detail = (
            f"trades' and quotes' ts written {CLOCK_OFFSET_S // HOUR_S} hour late (+{CLOCK_OFFSET_S} s, a "
            f"collector writing local time): {r.get('shifted_trades', 0)} trades and "
            f"{r.get('shifted_quotes', 0)} quotes shifted, {r.get('trades_past_midnight', 0)} trades and "
            f"{r.get('quotes_past_midnight', 0)} quotes now past midnight (still in the day's files); "
            "nothing before 01:00"
        )
    else:  # PRICE_SCALE
        rules, verdict = ["C9_PRICE_SCALE"], "FAIL"
        r["scale"] = PRICE_SCALE
        f.detail = (
            f"prices x {PRICE_SCALE} {rng} (a loader applying the wrong decimals): "
            f"{r.get('scaled_trades', 0)} trades (price, quote_qty) and {r.get('scaled_quotes', 0)} quotes "
            f"(bid/ask price) scaled, qty unchanged; {r.get('unscaled_trades', 0)} trades before unchanged; "
            "klines unchanged"
        )
    r["expect_rules"] = rules
    r["expect_verdict"] = verdict


def finish(f: Fault, klines: bool, kline_counts: np.ndarray | None, quotes: bool = True) -> None:
    """Fill in ``expect``/``detectors`` (and details of market faults) once the symbol-day is done."""
    if f.kind in COMPLETENESS_KINDS:
        _finish_completeness(f, klines, kline_counts, quotes)
        return
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
        # the quote stream on its own is silent for the whole gap (C2); the exchange reports trades in
        # every missing minute, one run of GAP_MINUTES (C3, one violation at its first minute)
        f.expect.append(f._exp("completeness_checks", "C2_QUOTE_GAP", s))
        if klines and kline_counts is not None:
            for i in range(GAP_MINUTES):
                if kline_counts[(s + 60 * i) // 60] > 0:
                    f.expect.append(f._exp("compare_our_vs_kline_1m", "R7_KLINE_PARITY", s + 60 * i))
            f.expect.append(f._exp("completeness_checks", "C3_KLINE_WITNESS", s))
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
            f"the mid jumps by +{f.jump_size:.1%} at this second ({_fmt(market.get('before', float('nan')))} -> "
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
            # every dataset the symbol had the day before is missing (C4), reported at the day's start
            f.expect.append(f._exp("completeness_checks", "C4_MISSING_DATASET", 0))
    if r7:
        f.expect.append(f._exp("compare_our_vs_kline_1m", "R7_KLINE_PARITY", m))
