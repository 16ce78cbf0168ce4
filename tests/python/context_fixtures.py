"""Small context series for the tests, shaped like the markets they stand for: funding rates that hover
around 0.01 % and turn negative now and then, open interest that drifts in fat-tailed steps, and minute
bars only when each market is open, in its own time zone (SPY and UUP on the NYSE's regular session, the
E-mini on CME Globex with its daily halt, EURUSD around the clock from Sunday to Friday evening), with
Student-t returns, a U-shaped day of volume, a thin ETF that goes a few minutes without a print and an FX
feed that skips a quiet minute or two.

Written through lakeqa.lake.write_partitions, as an importer would."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from lakeqa import lake

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Market:
    timezone: str
    session_open: dt.time
    session_close: dt.time
    price: float
    minute_vol: float  # typical size of a minute's log return
    volume: float | None  # typical volume of a minute (None: the market reports none)
    holes: int = 0  # quiet stretches of 1..max_hole minutes without a bar, per day
    max_hole: int = 0


# as seeds/macro_calendars.csv has them
MARKETS = {
    "SPY": Market("America/New_York", dt.time(9, 30), dt.time(16, 0), 540.0, 0.0004, 60_000.0),
    "UUP": Market("America/New_York", dt.time(9, 30), dt.time(16, 0), 28.5, 0.0002, 900.0, holes=8, max_hole=4),
    "ESF": Market("America/Chicago", dt.time(17, 0), dt.time(16, 0), 5_400.0, 0.0004, 1_500.0),
    "EURUSDX": Market("America/New_York", dt.time(17, 0), dt.time(17, 0), 1.09, 0.0001, None, holes=6, max_hole=2),
}


def is_open(market: Market, moment: dt.datetime) -> bool:
    """Whether the market trades in the minute starting at ``moment`` (UTC, naive)."""
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(market.timezone))
    t, weekday = local.time(), local.weekday()  # Monday 0 .. Sunday 6
    if market.session_open < market.session_close:  # a day session, Monday to Friday
        return weekday < 5 and market.session_open <= t < market.session_close
    # a session that opens on Sunday..Thursday evening and closes the next day (around the clock when the
    # close is the open)
    if t >= market.session_open:
        return weekday in (6, 0, 1, 2, 3)
    return t < market.session_close and weekday in (0, 1, 2, 3, 4)


def open_minutes(market: Market, day: str) -> list[dt.datetime]:
    start = dt.datetime.fromisoformat(day)
    minutes = (start + dt.timedelta(minutes=i) for i in range(1440))
    return [m for m in minutes if is_open(market, m)]


def _student_t(rng: np.random.Generator, n: int, scale: float, df: float = 3.0) -> np.ndarray:
    # unit variance before scaling: a t(3) has variance 3
    return rng.standard_t(df, n) * scale / np.sqrt(df / (df - 2))


def macro_bars(symbol: str, day: str, seed: int = 0) -> pa.Table:
    market = MARKETS[symbol]
    rng = np.random.default_rng([seed, sum(map(ord, symbol)), int(day.replace("-", ""))])
    minutes = open_minutes(market, day)
    keep = np.ones(len(minutes), dtype=bool)
    holes = 0
    while holes < market.holes:  # quiet stretches without a bar, apart, never at the day's edges
        length = int(rng.integers(1, market.max_hole + 1))
        at = int(rng.integers(5, len(minutes) - 5 - length))
        if keep[at - 1 : at + length + 1].all():
            keep[at : at + length] = False
            holes += 1
    n = len(minutes)
    returns = _student_t(rng, n, market.minute_vol)
    close = market.price * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[market.price], close[:-1]])
    wick = np.abs(_student_t(rng, n, market.minute_vol / 2))
    high = np.maximum(open_, close) * np.exp(wick)
    low = np.minimum(open_, close) * np.exp(-np.abs(_student_t(rng, n, market.minute_vol / 2)))
    if market.volume is None:
        volume = pa.nulls(n, pa.float64())
    else:
        # busy at the open and the close, quiet at midday; lognormal bursts on top
        phase = np.linspace(0, 1, n)
        u_shape = 0.4 + 2.5 * (phase - 0.5) ** 2 * 4
        volume = pa.array(np.round(market.volume * u_shape * rng.lognormal(0, 0.8, n)))
    table = pa.table({
        "ts": pa.array(minutes, pa.timestamp("us")), "open": open_, "high": high, "low": low, "close": close,
        "volume": volume,
    })
    return table.filter(pa.array(keep))


def funding_hours(symbol: str, day: str, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng([seed, sum(map(ord, symbol)), int(day.replace("-", ""))])
    start = dt.datetime.fromisoformat(day)
    hours = [start + dt.timedelta(hours=h) for h in range(24)]
    # around the usual 0.01 %, now and then below zero when shorts pay
    funding = 0.0001 + _student_t(rng, 24, 0.00008)
    open_interest = 80_000 * np.exp(np.cumsum(_student_t(rng, 24, 0.01)))
    return pa.table({"ts": pa.array(hours, pa.timestamp("us")), "funding_rate": funding, "open_interest": open_interest})


def write(root: Path, dataset: str, symbol: str, table: pa.Table, name: str = "context") -> None:
    lake.write_partitions(root, dataset, symbol, table, name)


def write_context(root: Path, days: list[str], symbols=("BTCUSDT", "ETHUSDT"), markets=tuple(MARKETS)) -> None:
    """Clean context series for each day: funding for the perpetual symbols, minute bars for the markets
    (none on a day the market is closed all day)."""
    for day in days:
        for symbol in symbols:
            write(root, "funding_oi_hourly", symbol, funding_hours(symbol, day), f"funding-{day}")
        for symbol in markets:
            bars = macro_bars(symbol, day)
            if bars.num_rows:
                write(root, "macro_minute", symbol, bars, f"macro-{day}")
