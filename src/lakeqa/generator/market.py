"""The synthetic market: a per-second grid for a symbol-day, then trades and quotes one hour at a time.

Every random number comes from a stream keyed by (seed, symbol, date[, hour]), so a day (or an hour of a
day) can be regenerated on its own and comes out identical:

* the **grid** (stream GRID): a trade intensity per second (intraday seasonality x exp of two
  mean-reverting AR(1) log-intensities, normalised to the expected count of the day) with Poisson counts;
  the log mid at every whole second, a bridge between two daily anchors (stream ANCHOR, a function of
  seed, symbol and date only, so consecutive days join without a jump at midnight) whose increments are
  fat-tailed and come in volatility bursts as real ones do: Student-t with RETURN_DOF degrees of freedom,
  times a volatility that follows the activity bursts and a slow volatility regime of its own (1-second
  returns of real markets have a kurtosis far beyond a Gaussian's; a detector tested on Gaussian
  increments is loud on real data); quote counts
  per second (``quotes_per_trade`` x the intensity, a floor for thin symbols, and a heartbeat quote at
  least every 5 seconds, so no symbol ever goes quiet for a minute).
* each **hour** (stream CHUNK): trades at random microseconds inside their seconds (about a third are
  further fills of the previous taker order, sharing its microsecond and side), quotes at random
  microseconds plus one at exactly the start of the hour (so an hour is self-contained) and one at the
  start of any second whose first trade would otherwise see an older quote; best bid/ask from the
  second's mid with a 1-tick spread most of the time (2-3 ticks sometimes), and every trade at the bid
  (taker sold, ``is_buyer_maker``) or ask of the latest quote at or before it.

Prices are exact decimals (ticks / 10**decimals), quantities whole lot steps.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from lakeqa.generator.symbols import SymbolSpec

DAY_S = 86400
HOUR_S = 3600
US = 1_000_000
MIN_US = 60 * US
EPOCH_ORDINAL = date(2017, 1, 1).toordinal()
TRADE_ID_STRIDE = 10**10  # trade ids of day d start at (d - 2017-01-01) * stride + 1
UPDATE_ID_STRIDE = 10**12

STREAM_ANCHOR, STREAM_GRID, STREAM_CHUNK, STREAM_FAULT = 1, 2, 3, 4

P_FILL = 0.3  # probability that a trade is another fill of the previous taker order
QTY_SIGMA = 1.0  # log-normal sigma of trade sizes
QUOTE_QTY_FACTOR = 6.0
QUOTE_QTY_SIGMA = 0.8
P_SPREAD_2, P_SPREAD_3 = 0.10, 0.035  # spreads of 2 and 3 ticks; 1 tick otherwise
HEARTBEAT_S = 5  # at least one quote in every 5th second
THIN_QUOTE_FLOOR = 1.0  # quotes per second on thin symbols regardless of trading
SLOW_TAU_S, SLOW_SD = 1200.0, 0.5  # slowly mean-reverting log intensity
FAST_TAU_S, FAST_SD = 30.0, 0.35  # bursts
# the price's increments: Student-t with this many degrees of freedom (kurtosis 9; with the volatility
# bursts below the 1-second returns have a kurtosis near 50, as real ones), scaled by a volatility exp(VOL_BURST_BETA * fast burst + slow regime)
RETURN_DOF = 5.0
VOL_BURST_BETA = 0.5  # return variance rises in proportion to the activity bursts (variance per trade steady: Clark 1973, Jones-Kaul-Lipson 1994)
VOL_TAU_S, VOL_SD = 3600.0, 0.4  # a slow volatility regime (hours)
# spreads widen with volatility: the 2- and 3-tick shares above are at average volatility and scale with
# it, up to MAX_WIDE_SHARE of the quotes
MAX_WIDE_SHARE = 0.6


def sym_key(symbol: str) -> int:
    return zlib.crc32(symbol.encode())


def rng_for(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *(int(k) for k in key)]))


def day_index(day: date) -> int:
    return day.toordinal() - EPOCH_ORDINAL


def first_trade_id(day: date) -> int:
    return day_index(day) * TRADE_ID_STRIDE + 1


def first_update_id(day: date) -> int:
    return day_index(day) * UPDATE_ID_STRIDE


def anchor_log(seed: int, spec: SymbolSpec, day: date) -> float:
    """Log price at 00:00 UTC of ``day``: a function of (seed, symbol, date) only."""
    z = rng_for(seed, sym_key(spec.symbol), day.toordinal(), STREAM_ANCHOR).standard_normal()
    return math.log(spec.price) + spec.daily_vol / math.sqrt(2.0) * float(z)


def ar1(e: np.ndarray, a: float, x0: float) -> np.ndarray:
    """x[t] = a * x[t-1] + e[t] with x[-1] = x0, vectorised in blocks of 64."""
    n = len(e)
    block = 64
    nb = -(-n // block)
    buf = np.zeros(nb * block)
    buf[:n] = e
    mat = buf.reshape(nb, block)
    j = np.arange(block)
    local = np.cumsum(mat * a ** (-j), axis=1) * a**j
    last = local[:, -1]
    a_block = a**block
    carry = np.empty(nb)
    c = x0
    for b in range(nb):
        carry[b] = c
        c = a_block * c + last[b]
    return (local + carry[:, None] * a ** (j + 1)).ravel()[:n]


@dataclass
class Grid:
    spec: SymbolSpec
    day: date
    logmid: np.ndarray  # DAY_S + 1 points: whole seconds 0..86400 (the last is the next day's anchor)
    lam: np.ndarray  # expected trades per second
    counts: np.ndarray  # trades per second (int64)
    qcounts: np.ndarray  # random quotes per second (int64), besides forced ones
    vol: np.ndarray  # the price's volatility per second relative to the day's (mean square 1)


def build_grid(seed: int, spec: SymbolSpec, day: date, n_expected: float, quotes_per_trade: float) -> Grid:
    from datetime import timedelta

    rng = rng_for(seed, sym_key(spec.symbol), day.toordinal(), STREAM_GRID)
    a = anchor_log(seed, spec, day)
    b = anchor_log(seed, spec, day + timedelta(days=1))

    # intensity: seasonality (busiest around 14-16 UTC, quietest around 03-05) x two AR(1) log terms
    hours = (np.arange(DAY_S) + 0.5) / HOUR_S
    season = (
        1.0
        + 0.35 * np.cos(2 * np.pi * (hours - 15.0) / 24.0)
        + 0.12 * np.cos(2 * np.pi * (hours - 14.0) / 8.0)
    )

    def mean_reverting(tau: float, sd: float) -> np.ndarray:
        coef = math.exp(-1.0 / tau)
        x0 = float(rng.standard_normal()) * sd
        return ar1(rng.standard_normal(DAY_S) * (sd * math.sqrt(1.0 - coef * coef)), coef, x0)

    slow, burst = mean_reverting(SLOW_TAU_S, SLOW_SD), mean_reverting(FAST_TAU_S, FAST_SD)
    weight = season * np.exp(slow + burst)

    # the log mid: fat-tailed increments in volatility bursts, rescaled to the symbol's daily volatility
    vol = np.exp(VOL_BURST_BETA * burst + mean_reverting(VOL_TAU_S, VOL_SD))
    vol /= math.sqrt(float(np.mean(vol * vol)))
    shocks = rng.standard_t(RETURN_DOF, DAY_S) / math.sqrt(RETURN_DOF / (RETURN_DOF - 2.0))
    sigma = spec.daily_vol / math.sqrt(DAY_S)
    w = np.empty(DAY_S + 1)
    w[0] = 0.0
    np.cumsum(shocks * vol * sigma, out=w[1:])
    t = np.arange(DAY_S + 1) / DAY_S
    logmid = a + (b - a) * t + (w - t * w[-1])
    lam = n_expected * weight / weight.sum()
    counts = rng.poisson(lam).astype(np.int64)
    qlam = quotes_per_trade * lam + (THIN_QUOTE_FLOOR if spec.thin else 0.0)
    qcounts = rng.poisson(qlam).astype(np.int64)
    beat = np.arange(0, DAY_S, HEARTBEAT_S)
    qcounts[beat] = np.maximum(qcounts[beat], 1)
    return Grid(spec, day, logmid, lam, counts, qcounts, vol)


@dataclass
class Shaping:
    """Market-level changes for the fault plan (real market events, or room made for a capture fault)."""

    min_counts: dict[int, int] = field(default_factory=dict)  # second -> at least this many trades
    quote_seconds: set[int] = field(default_factory=set)  # an extra quote at exactly .000000
    jump_second: int | None = None
    jump_log: float = 0.0
    one_tick_seconds: set[int] = field(default_factory=set)
    qty_mult: dict[int, int] = field(default_factory=dict)  # second -> trade size multiplier
    quote_blackout: set[int] = field(default_factory=set)  # no quotes after the second's last trade

    def apply_counts(self, grid: Grid) -> None:
        for sec, n in self.min_counts.items():
            grid.counts[sec] = max(int(grid.counts[sec]), n)


@dataclass
class Chunk:
    """One hour of one symbol's market: trades and quotes, times in microseconds since 00:00 UTC."""

    t_key: np.ndarray
    t_price: np.ndarray
    t_qty: np.ndarray
    t_ibm: np.ndarray
    q_key: np.ndarray
    q_bid: np.ndarray
    q_bid_qty: np.ndarray
    q_ask: np.ndarray
    q_ask_qty: np.ndarray
    q_inc: np.ndarray  # update_id increments (>= 2, so a quote can be slipped in between)
    t_id: np.ndarray | None = None
    q_uid: np.ndarray | None = None


def _prices(spec: SymbolSpec, ticks: np.ndarray) -> np.ndarray:
    return (ticks * spec.tick_units).astype(np.float64) / float(10**spec.price_decimals)


def _qtys(spec: SymbolSpec, units: np.ndarray) -> np.ndarray:
    return (units * spec.step_units).astype(np.float64) / float(10**spec.qty_decimals)


def lot_units(spec: SymbolSpec, rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    """Log-normal sizes in whole lot steps (at least one); float32 draws are plenty for sizes."""
    z = rng.standard_normal(n, dtype=np.float32)
    z *= np.float32(sigma)
    z += np.float32(math.log(median / spec.step))
    np.exp(z, out=z)
    np.rint(z, out=z)
    return np.maximum(z.astype(np.int64), 1)


def gen_chunk(seed: int, grid: Grid, hour: int, shaping: Shaping | None = None) -> Chunk:
    spec = grid.spec
    sh = shaping or Shaping()
    rng = rng_for(seed, sym_key(spec.symbol), grid.day.toordinal(), STREAM_CHUNK, hour)
    s0, s1 = hour * HOUR_S, (hour + 1) * HOUR_S
    seconds = np.arange(s0, s1, dtype=np.int64)

    # --- trades: times, fills, sides, sizes
    counts = grid.counts[s0:s1]
    n = int(counts.sum())
    t_sec = np.repeat(seconds, counts)
    t_key = t_sec * US + rng.integers(0, US, n)
    t_key.sort()
    new_order = rng.random(n, dtype=np.float32) >= np.float32(P_FILL)
    ibm = rng.random(n, dtype=np.float32) < np.float32(0.5)
    units = lot_units(spec, rng, spec.qty_median, QTY_SIGMA, n)
    if n:
        new_order[0] = True
        new_order[1:] |= np.diff(t_sec) != 0
        starts = np.flatnonzero(new_order)
        gid = np.cumsum(new_order) - 1
        t_key = t_key[starts][gid]
        ibm = ibm[starts][gid]
    for sec, mult in sh.qty_mult.items():
        if s0 <= sec < s1:
            units[t_sec == sec] *= mult

    # --- quotes: random times, one at the start of the hour, forced ones, and one at the start of every
    # second whose first trade would otherwise see a quote of an earlier second
    qcounts = grid.qcounts[s0:s1]
    q_sec = np.repeat(seconds, qcounts)
    q_key = q_sec * US + rng.integers(0, US, len(q_sec))
    forced = [s0] + sorted(s for s in sh.quote_seconds if s0 <= s < s1 and s != s0)
    q_key = np.concatenate([q_key, np.asarray(forced, dtype=np.int64) * US])
    q_key.sort()
    if n:
        first = t_key[np.r_[True, np.diff(t_sec) != 0]]  # first trade of each second with trades
        sec_start = first // US * US
        i = np.searchsorted(q_key, sec_start)
        nxt = np.where(i < len(q_key), q_key[np.minimum(i, len(q_key) - 1)], np.iinfo(np.int64).max)
        q_key = np.concatenate([q_key, sec_start[nxt > first]])
    # unique: two quotes never share a microsecond, so "the latest quote at or before" is unambiguous
    q_key.sort()
    q_key = q_key[np.r_[True, np.diff(q_key) != 0]]
    m = len(q_key)
    spread_u = rng.random(m, dtype=np.float32)
    # wider books in volatile seconds: the 2- and 3-tick shares scale with the second's volatility
    # and in a burst a wide book is wider: up to 2 (vol - 1) extra ticks (a calm wide book is 2-3 ticks)
    q_vol = grid.vol[q_key // US]
    wide = np.minimum(q_vol * (P_SPREAD_2 + P_SPREAD_3), MAX_WIDE_SHARE).astype(np.float32)
    k = 1 + (spread_u < wide).astype(np.int64)
    k += spread_u < wide * np.float32(P_SPREAD_3 / (P_SPREAD_2 + P_SPREAD_3))
    burst_extra = np.floor(rng.random(m, dtype=np.float32) * np.maximum(2.0 * (q_vol - 1.0), 0.0)).astype(np.int64)
    k += np.where(k > 1, burst_extra, 0)
    for sec in sh.one_tick_seconds:
        if s0 <= sec < s1:
            k[(q_key >= sec * US) & (q_key < (sec + 1) * US)] = 1
    bid_units = lot_units(spec, rng, spec.qty_median * QUOTE_QTY_FACTOR, QUOTE_QTY_SIGMA, m)
    ask_units = lot_units(spec, rng, spec.qty_median * QUOTE_QTY_FACTOR, QUOTE_QTY_SIGMA, m)
    q_inc = rng.integers(2, 7, m, dtype=np.int64)

    # the mid is constant within a second (one innovation per second, no intra-second drift), so
    # close-to-close returns of 1 s bars are exactly the grid's increments plus the bid/ask bounce
    lm = grid.logmid[q_key // US]
    if sh.jump_second is not None:
        # the full step from the jump second on, fading linearly to nothing at midnight (a few bps an
        # hour, invisible in the noise), so the next day still starts at its own anchor without a jump
        j = sh.jump_second
        fade = (DAY_S - q_key // US) / (DAY_S - j)
        lm = lm + sh.jump_log * np.where(q_key >= j * US, np.minimum(fade, 1.0), 0.0)
    c = np.exp(lm) / spec.tick
    bid_t = np.floor(c - k / 2.0 + 0.5).astype(np.int64)
    ask_t = bid_t + k
    q_bid, q_ask = _prices(spec, bid_t), _prices(spec, ask_t)

    # --- trades at the bid (taker sold) or ask of the latest quote at or before them
    qi = np.searchsorted(q_key, t_key, side="right") - 1
    t_price = np.where(ibm, q_bid[qi], q_ask[qi])

    chunk = Chunk(
        t_key, t_price, _qtys(spec, units), ibm,
        q_key, q_bid, _qtys(spec, bid_units), q_ask, _qtys(spec, ask_units), q_inc,
    )  # fmt: skip
    for sec in sh.quote_blackout:
        if s0 <= sec < s1:
            last = int(t_key[np.searchsorted(t_key, (sec + 1) * US) - 1])
            keep = ~((q_key > last) & (q_key < (sec + 1) * US))
            select_quotes(chunk, keep)
    return chunk


def select_quotes(chunk: Chunk, keep: np.ndarray) -> None:
    for name in ("q_key", "q_bid", "q_bid_qty", "q_ask", "q_ask_qty", "q_inc", "q_uid"):
        arr = getattr(chunk, name)
        if arr is not None:
            setattr(chunk, name, arr[keep])


def select_trades(chunk: Chunk, keep: np.ndarray) -> None:
    for name in ("t_key", "t_price", "t_qty", "t_ibm", "t_id"):
        arr = getattr(chunk, name)
        if arr is not None:
            setattr(chunk, name, arr[keep])


class KlineAccumulator:
    """Binance 1m klines of one symbol-day from its (exchange-side, pre-capture) trades."""

    def __init__(self) -> None:
        self.count = np.zeros(1440, dtype=np.int64)
        self.open = np.full(1440, np.nan)
        self.high = np.full(1440, np.nan)
        self.low = np.full(1440, np.nan)
        self.close = np.full(1440, np.nan)
        self.volume = np.zeros(1440)
        self.quote_volume = np.zeros(1440)
        self.taker_buy_base = np.zeros(1440)
        self.taker_buy_quote = np.zeros(1440)

    def add(self, t_key: np.ndarray, price: np.ndarray, qty: np.ndarray, ibm: np.ndarray) -> None:
        if len(t_key) == 0:
            return
        minute = t_key // MIN_US
        starts = np.flatnonzero(np.r_[True, np.diff(minute) != 0])
        ends = np.r_[starts[1:], len(minute)]
        mins = minute[starts]
        quote_qty = quote_qty_of(price, qty)
        buy = ~ibm
        self.count[mins] = ends - starts
        self.open[mins] = price[starts]
        self.close[mins] = price[ends - 1]
        self.high[mins] = np.maximum.reduceat(price, starts)
        self.low[mins] = np.minimum.reduceat(price, starts)
        self.volume[mins] = np.add.reduceat(qty, starts)
        self.quote_volume[mins] = np.add.reduceat(quote_qty, starts)
        self.taker_buy_base[mins] = np.add.reduceat(np.where(buy, qty, 0.0), starts)
        self.taker_buy_quote[mins] = np.add.reduceat(np.where(buy, quote_qty, 0.0), starts)

    def last_close(self) -> float | None:
        idx = np.flatnonzero(self.count)
        return float(self.close[idx[-1]]) if len(idx) else None

    def finish(self, prev_close: float) -> dict[str, np.ndarray]:
        """Empty minutes: O=H=L=C = the previous close, zero volume and count. Volumes to 8 decimals."""
        has = self.count > 0
        idx = np.where(has, np.arange(1440), -1)
        np.maximum.accumulate(idx, out=idx)
        carried = np.where(idx >= 0, self.close[np.maximum(idx, 0)], prev_close)
        fill = lambda a: np.where(has, a, carried)  # noqa: E731
        return {
            "open": fill(self.open),
            "high": fill(self.high),
            "low": fill(self.low),
            "close": fill(self.close),
            "volume": np.round(self.volume, 8),
            "quote_volume": np.round(self.quote_volume, 8),
            "trade_count": self.count.copy(),
            "taker_buy_base": np.round(self.taker_buy_base, 8),
            "taker_buy_quote": np.round(self.taker_buy_quote, 8),
        }


def quote_qty_of(price: np.ndarray, qty: np.ndarray) -> np.ndarray:
    return np.round(price * qty, 8)


def last_trade_price(
    seed: int, spec: SymbolSpec, day: date, n_expected: float, quotes_per_trade: float, depth: int = 0
) -> float:
    """The last (clean) trade price of ``day``, regenerating only the last hour that has trades."""
    from datetime import timedelta

    grid = build_grid(seed, spec, day, n_expected, quotes_per_trade)
    nonzero = np.flatnonzero(grid.counts)
    if len(nonzero):
        chunk = gen_chunk(seed, grid, int(nonzero[-1]) // HOUR_S)
        return float(chunk.t_price[-1])
    if depth < 30:
        return last_trade_price(seed, spec, day - timedelta(days=1), n_expected, quotes_per_trade, depth + 1)
    ticks = round(math.exp(anchor_log(seed, spec, day)) / spec.tick)
    return float(_prices(spec, np.array([ticks]))[0])
