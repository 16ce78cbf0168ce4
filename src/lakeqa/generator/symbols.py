"""The synthetic market's symbols: real Binance names, price levels, tick and lot sizes, activity shares."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakeqa.lake import LakeError, check_symbol


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    price: float  # typical price level (the anchor prices wander around it)
    tick_units: int  # tick = tick_units / 10**price_decimals (exact decimal prices)
    price_decimals: int
    step_units: int  # lot step = step_units / 10**qty_decimals
    qty_decimals: int
    qty_median: float  # median trade size (log-normal), in base units
    share: float  # share of the day's trades
    daily_vol: float  # daily volatility of the log mid
    thin: bool = False  # trades a few times a minute; quotes keep moving

    @property
    def tick(self) -> float:
        return self.tick_units / 10**self.price_decimals

    @property
    def step(self) -> float:
        return self.step_units / 10**self.qty_decimals

    @property
    def gap_threshold_s(self) -> int:
        """R5's default threshold for a stretch with neither trades nor quotes."""
        return 600 if self.thin else 60


# Canonical order: `--symbols N` takes the first N.
SPECS: tuple[SymbolSpec, ...] = (
    SymbolSpec("BTCUSDT", 60000.0, 1, 2, 1, 5, 0.002, 0.31, 0.028),
    SymbolSpec("ETHUSDT", 2600.0, 1, 2, 1, 4, 0.04, 0.19, 0.032),
    SymbolSpec("BNBUSDT", 520.0, 1, 1, 1, 3, 0.2, 0.05, 0.025),
    SymbolSpec("SOLUSDT", 150.0, 1, 2, 1, 3, 0.8, 0.10, 0.040),
    SymbolSpec("XRPUSDT", 0.55, 1, 4, 1, 0, 200.0, 0.07, 0.035),
    SymbolSpec("ADAUSDT", 0.34, 1, 4, 1, 1, 300.0, 0.04, 0.035),
    SymbolSpec("DOGEUSDT", 0.11, 1, 5, 1, 0, 1000.0, 0.08, 0.040),
    SymbolSpec("TRXUSDT", 0.13, 1, 5, 1, 1, 800.0, 0.025, 0.020),
    SymbolSpec("LINKUSDT", 10.5, 1, 2, 1, 2, 8.0, 0.035, 0.038),
    SymbolSpec("LTCUSDT", 60.0, 1, 2, 1, 3, 1.5, 0.03, 0.030),
    SymbolSpec("DOTUSDT", 4.6, 1, 3, 1, 2, 20.0, 0.03, 0.036),
    SymbolSpec("AVAXUSDT", 22.0, 1, 2, 1, 2, 4.0, 0.038, 0.040),
    SymbolSpec("XRPETH", 0.00021, 1, 8, 1, 0, 300.0, 0.002, 0.030, thin=True),
)
BY_NAME = {s.symbol: s for s in SPECS}

# A thin symbol stays thin at any scale: at most this many trades a day on average (3 a minute); the
# excess of its share goes to the others, so the day's total stays what was asked for.
THIN_CAP_PER_DAY = 3 * 1440


def select_symbols(symbols: int | str | list[str] | tuple[str, ...] = 13) -> list[SymbolSpec]:
    """`13` -> the first 13 in canonical order; "BTCUSDT,ETHUSDT" or a list -> those (known names only)."""
    if isinstance(symbols, int) and not isinstance(symbols, bool):
        if not 1 <= symbols <= len(SPECS):
            raise LakeError(f"--symbols must be between 1 and {len(SPECS)}, got {symbols}")
        return list(SPECS[:symbols])
    names = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    out: list[SymbolSpec] = []
    for raw in names:
        if not str(raw).strip():
            continue
        name = check_symbol(str(raw).strip())
        if name not in BY_NAME:
            raise LakeError(f"unknown symbol {name!r} for the generator; known: {', '.join(BY_NAME)}")
        if BY_NAME[name] not in out:
            out.append(BY_NAME[name])
    if not out:
        raise LakeError("no symbols selected")
    return out


def expected_trades(specs: list[SymbolSpec], trades_per_day: int) -> dict[str, float]:
    """Expected trades per symbol and day: shares renormalised over the selection, thin symbols capped."""
    total_share = sum(s.share for s in specs)
    exp = {s.symbol: trades_per_day * s.share / total_share for s in specs}
    excess = 0.0
    for s in specs:
        if s.thin and exp[s.symbol] > THIN_CAP_PER_DAY:
            excess += exp[s.symbol] - THIN_CAP_PER_DAY
            exp[s.symbol] = float(THIN_CAP_PER_DAY)
    thick = [s for s in specs if not s.thin]
    if excess and thick:
        thick_share = sum(s.share for s in thick)
        for s in thick:
            exp[s.symbol] += excess * s.share / thick_share
    return exp


_COUNT_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgG]?)\s*$")
_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9}


def parse_count(text: str | int | float) -> int:
    """'1000000', '1,000,000', '1e6', '10M', '250k', '1.5M' -> an int (must be a whole, positive number)."""
    if isinstance(text, bool):
        raise ValueError(f"not a count: {text!r}")
    if isinstance(text, int):
        value = float(text)
    elif isinstance(text, float):
        value = text
    else:
        m = _COUNT_RE.match(str(text).replace(",", "").replace("_", ""))
        if not m:
            raise ValueError(f"not a count: {text!r} (use e.g. 1000000, 1e6, 10M or 250k)")
        value = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if value <= 0 or value != int(value) or value > 10**11:
        raise ValueError(f"not a positive whole count: {text!r}")
    return int(value)
