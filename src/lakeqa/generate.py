"""`lakeqa generate`: a deterministic synthetic lake (trades, best bid/ask quotes, exchange 1m klines) for
13 Binance symbols, with optional injected faults on the last day and a JSON ground truth of what each
fault must make the QA layer report.

Fault selection: ``all`` means every rule and detector kind (``FAULT_KINDS``: exact rule violations and
detector hits per row), ``completeness`` every completeness kind (``COMPLETENESS_FAULT_KINDS``: outages,
dead streams, missing datasets, row loss, clock offset, price scale; their ground truth is a time range,
the rule ids and the verdict the QA must give); an explicit list may mix kinds of both as long as each
symbol gets one fault.

The market model lives in ``lakeqa.generator.market``, the faults in ``lakeqa.generator.faults``; this
module runs them one symbol-day at a time (memory stays bounded by one symbol's hour buffers) and writes
the lake with ``lakeqa.lake`` (``conform``, ``partition_dir``, ``write_atomic_parquet``: the same bytes as
``write_partitions``) as ``<lake>/<dataset>/symbol=S/date=D/generated.parquet`` (hour-aligned
``generated-NNofMM.parquet`` parts when a symbol-day holds more than ~8 M rows), on background threads.
Re-running replaces the generator's own files of the partitions it generates and nothing else.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakeqa import atomic
from lakeqa.generator import faults as F
from lakeqa.generator.market import (
    MIN_US,
    US,
    Chunk,
    KlineAccumulator,
    build_grid,
    first_trade_id,
    first_update_id,
    gen_chunk,
    last_trade_price,
    quote_qty_of,
)
from lakeqa.generator.symbols import SPECS, SymbolSpec, expected_trades, parse_count, select_symbols
from lakeqa.lake import SCHEMAS, LakeError, check_symbol, conform, partition_dir, write_atomic_parquet
from lakeqa.settings import Paths

__all__ = [
    "GenerateReport", "generate_lake", "register", "FAULT_KINDS", "COMPLETENESS_FAULT_KINDS",
    "ALL_FAULT_KINDS", "DEFAULT_FAULT_SYMBOLS",
]  # fmt: skip

FAULT_KINDS = list(F.RULE_KINDS)  # what --faults all selects: every rule and detector kind
COMPLETENESS_FAULT_KINDS = list(F.COMPLETENESS_KINDS)  # what --faults completeness selects
ALL_FAULT_KINDS = list(F.KINDS)  # every kind a list may name
DEFAULT_FAULT_SYMBOLS = dict(F.DEFAULT_FAULT_SYMBOLS)
DEFAULT_DATE = "2024-08-09"
FILE_STEM = "generated"
GENERATED_FILE = re.compile(r"^generated(-\d{2}of\d{2})?\.parquet$")
ROWS_PER_PART = 8_000_000
GROUND_TRUTH_VERSION = 2  # 2: completeness kinds (completeness, expect_rules, expect_verdict)
_UNIX_EPOCH_ORDINAL = Date(1970, 1, 1).toordinal()


@dataclass
class GenerateReport:
    root: Path
    dates: list[str]
    symbols: list[str]
    rows: dict[str, int]  # rows written per dataset (trades include the duplicated ones)
    paths: dict[str, list[Path]]  # files that make up the generated partitions, per dataset
    ground_truth: dict
    ground_truth_path: Path
    skipped_faults: list[dict] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        rows = ", ".join(f"{v:,} {k}" for k, v in self.rows.items())
        days = self.dates[0] if len(self.dates) == 1 else f"{self.dates[0]}..{self.dates[-1]}"
        lines = [
            f"generated {days}, {len(self.symbols)} symbols: {rows} in {self.elapsed_s:.1f} s -> {self.root}",
            f"ground truth: {self.ground_truth_path}",
        ]
        for f in self.ground_truth["faults"]:
            lines.append(f"  fault {f['kind']:<21} {f['symbol']:<9} {f['ts']}  {f['detail']}")
        for s in self.skipped_faults:
            lines.append(f"  skipped {s['kind']} ({s['symbol']}): {s['reason']}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- writing
def _write_partition(root: Path, dataset: str, symbol: str, day: Date, table: pa.Table, name: str) -> Path:
    """Write one symbol-day partition file: the rows are all of ``day`` and already sorted by (time, id),
    so this is exactly what ``lake.write_partitions`` would write, minus its per-row date formatting
    (which costs seconds per million rows)."""
    table = conform(dataset, table)
    path = partition_dir(root, dataset, symbol, day.isoformat()) / f"{name}.parquet"
    write_atomic_parquet(table, path)
    return path


def _cleanup(root: Path, dataset: str, symbol: str, day: Date, keep: set[str]) -> None:
    """Remove this generator's files of a partition that the current run did not write."""
    part = partition_dir(root, dataset, symbol, day.isoformat())
    if not part.is_dir():
        return
    for p in part.iterdir():
        if GENERATED_FILE.match(p.name) and p.name not in keep:
            p.unlink()
    try:
        part.rmdir()  # only if empty
    except OSError:
        pass


class _WritePool:
    """Writes files on background threads (parquet encoding releases the GIL) while the next hours are
    generated; at most ``max_pending`` tables wait, so memory stays bounded."""

    def __init__(self, workers: int = 2, max_pending: int = 2):
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lakeqa-write")
        self.pending: list = []
        self.max_pending = max_pending
        self.cleanups: list[tuple[str, str, Date, set[str]]] = []

    def submit(self, fn, *args) -> None:
        while len(self.pending) >= self.max_pending:
            self.pending.pop(0).result()
        self.pending.append(self.pool.submit(fn, *args))

    def drain(self) -> None:
        while self.pending:
            self.pending.pop(0).result()

    def close(self, root: Path) -> None:
        try:
            self.drain()
            for dataset, symbol, day, keep in self.cleanups:
                _cleanup(root, dataset, symbol, day, keep)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _DatasetWriter:
    """Buffers a symbol-day's hourly tables and writes them as one file (or hour-aligned parts)."""

    def __init__(self, pool: _WritePool, root: Path, dataset: str, symbol: str, day: Date, est_rows: float):
        self.pool = pool
        self.root, self.dataset, self.symbol, self.day = root, dataset, symbol, day
        self.n_parts = next(p for p in (1, 2, 3, 4, 6, 8, 12, 24) if est_rows / p <= ROWS_PER_PART or p == 24)
        self.hours = 24 // self.n_parts
        self.buf: list[pa.Table] = []
        self.names: set[str] = set()
        self.paths: list[Path] = []
        self.rows = 0

    def add(self, hour: int, table: pa.Table) -> None:
        if table.num_rows:
            self.buf.append(table)
        if (hour + 1) % self.hours == 0:
            part = hour // self.hours
            name = FILE_STEM if self.n_parts == 1 else f"{FILE_STEM}-{part + 1:02d}of{self.n_parts:02d}"
            self.write(name)

    def write(self, name: str) -> None:
        tables, self.buf = self.buf, []
        if not tables:
            return
        table = pa.concat_tables(tables)
        self.pool.submit(_write_partition, self.root, self.dataset, self.symbol, self.day, table, name)
        self.paths.append(
            partition_dir(self.root, self.dataset, self.symbol, self.day.isoformat()) / f"{name}.parquet"
        )
        self.names.add(f"{name}.parquet")
        self.rows += table.num_rows

    def close(self) -> None:
        self.pool.cleanups.append((self.dataset, self.symbol, self.day, self.names))


def _ts(day0_us: int, keys: np.ndarray) -> pa.Array:
    return pa.array((keys + day0_us).view("datetime64[us]"))


def _trades_table(ch: Chunk, day0_us: int, dup: list[np.ndarray]) -> pa.Table:
    n = len(ch.t_key)
    take = np.sort(np.concatenate([np.arange(n), *dup])) if dup else slice(None)
    price, qty = ch.t_price[take], ch.t_qty[take]
    return pa.Table.from_arrays(
        [
            pa.array(ch.t_id[take]),
            pa.array(price),
            pa.array(qty),
            pa.array(quote_qty_of(price, qty)),
            _ts(day0_us, ch.t_key[take]),
            pa.array(ch.t_ibm[take]),
        ],
        schema=SCHEMAS["trades"],
    )


def _quotes_table(ch: Chunk, day0_us: int) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array(ch.q_uid),
            pa.array(ch.q_bid),
            pa.array(ch.q_bid_qty),
            pa.array(ch.q_ask),
            pa.array(ch.q_ask_qty),
            _ts(day0_us, ch.q_key),
        ],
        schema=SCHEMAS["quotes"],
    )


def _klines_table(kl: dict[str, np.ndarray], day0_us: int, keep: np.ndarray) -> pa.Table:
    cols = [_ts(day0_us, (np.arange(1440, dtype=np.int64) * MIN_US)[keep])]
    for name in SCHEMAS["klines_1m"].names[1:]:
        cols.append(pa.array(kl[name][keep]))
    return pa.Table.from_arrays(cols, schema=SCHEMAS["klines_1m"])


def _write_json_atomic(obj: dict, path: Path) -> None:
    atomic.write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


# ------------------------------------------------------------------------------------------ generation
@dataclass
class _Config:
    root: Path
    seed: int
    trades_per_day: int
    quotes_per_trade: float
    expected: dict[str, float]
    klines: bool
    quotes: bool
    pool: _WritePool


def _symbol_day(
    cfg: _Config, spec: SymbolSpec, day: Date, faults: list[F.Fault], prev_close: float | None
) -> tuple[dict[str, int], dict[str, list[Path]], float | None]:
    """Generate, fault and write one symbol-day. Returns (rows, paths, last exchange close)."""
    datasets = ["trades"] + (["quotes"] if cfg.quotes else []) + (["klines_1m"] if cfg.klines else [])
    rows = dict.fromkeys(datasets, 0)
    paths: dict[str, list[Path]] = {d: [] for d in datasets}
    if any(f.kind == "MISSING_SYMBOL" for f in faults):
        for d in datasets:
            cfg.pool.cleanups.append((d, spec.symbol, day, set()))
        for f in faults:
            F.finish(f, cfg.klines, None, cfg.quotes)
        return rows, paths, None

    n_exp = cfg.expected[spec.symbol]
    grid = build_grid(cfg.seed, spec, day, n_exp, cfg.quotes_per_trade)
    shaping = F.shape(faults)
    shaping.apply_counts(grid)
    day0_us = (day.toordinal() - _UNIX_EPOCH_ORDINAL) * 86400 * US
    trades_w = _DatasetWriter(cfg.pool, cfg.root, "trades", spec.symbol, day, n_exp)
    est_quotes = n_exp * cfg.quotes_per_trade + (86400 if spec.thin else 17280)
    quotes_w = None
    if cfg.quotes:
        quotes_w = _DatasetWriter(cfg.pool, cfg.root, "quotes", spec.symbol, day, est_quotes)
    acc = KlineAccumulator()
    capture = [f for f in faults if f.layer == "capture"]
    market = [f for f in faults if f.layer == "market"]
    next_tid, last_uid = first_trade_id(day), first_update_id(day)
    last_price = prev_close
    for hour in range(24):
        ch = gen_chunk(cfg.seed, grid, hour, shaping)
        acc.add(ch.t_key, ch.t_price, ch.t_qty, ch.t_ibm)  # the exchange's view, before capture faults
        for f in market:
            F.observe_market(f, ch, hour, last_price)
        if len(ch.t_price):
            last_price = float(ch.t_price[-1])
        ch.t_id = next_tid + np.arange(len(ch.t_key), dtype=np.int64)
        next_tid += len(ch.t_key)
        ch.q_uid = last_uid + np.cumsum(ch.q_inc)
        if len(ch.q_uid):
            last_uid = int(ch.q_uid[-1])
        dup: list[np.ndarray] = []
        for f in capture:
            F.apply_capture(f, ch, hour, dup)
        trades_w.add(hour, _trades_table(ch, day0_us, dup))
        if quotes_w is not None:
            quotes_w.add(hour, _quotes_table(ch, day0_us))
    for w in (trades_w, quotes_w):
        if w is not None:
            w.close()
            rows[w.dataset] = w.rows
            paths[w.dataset] = w.paths

    close = acc.last_close()
    kline_counts = None
    if cfg.klines:
        carried = float("nan")
        if acc.count[0] == 0:  # leading minutes without trades carry the previous day's last close
            if prev_close is None:
                prev_close = last_trade_price(
                    cfg.seed, spec, day - timedelta(days=1), n_exp, cfg.quotes_per_trade
                )
            carried = prev_close
        kl = acc.finish(carried)
        keep = np.ones(1440, dtype=bool)
        for f in faults:
            if f.layer == "exchange":
                F.apply_exchange(f, kl, keep)
        if any(f.kind == "MISSING_KLINES" for f in faults):  # no klines file at all for the symbol-day
            cfg.pool.cleanups.append(("klines_1m", spec.symbol, day, set()))
        else:
            table = _klines_table(kl, day0_us, keep)
            paths["klines_1m"] = [_write_partition(cfg.root, "klines_1m", spec.symbol, day, table, FILE_STEM)]
            cfg.pool.cleanups.append(("klines_1m", spec.symbol, day, {f"{FILE_STEM}.parquet"}))
            rows["klines_1m"] = table.num_rows
        kline_counts = acc.count
    for f in faults:
        F.finish(f, cfg.klines, kline_counts, cfg.quotes)
    return rows, paths, close if close is not None else prev_close


def _as_date(value: str | Date) -> Date:
    if isinstance(value, Date):
        return value
    try:
        return Date.fromisoformat(str(value).strip())
    except ValueError:
        raise LakeError(f"--date must be YYYY-MM-DD, got {value!r}") from None


def _plan_faults(
    seed: int,
    last: Date,
    days: int,
    specs: list[SymbolSpec],
    faults,
    fault_symbols: dict | None,
    klines: bool,
    quotes: bool,
    jump_size: float = F.JUMP,
) -> tuple[list[F.Fault], list[dict]]:
    kinds, is_all = F.parse_faults(faults)
    mapping = dict(F.DEFAULT_FAULT_SYMBOLS)
    for kind, sym in (fault_symbols or {}).items():
        k = str(kind).strip().upper()
        if k not in F.KINDS:
            raise LakeError(
                f"fault_symbols: unknown fault kind {kind!r}; expected one of {', '.join(F.KINDS)}"
            )
        mapping[k] = check_symbol(str(sym))
    by_name = {s.symbol: s for s in specs}
    active: list[F.Fault] = []
    skipped: list[dict] = []
    for kind in kinds:
        sym = mapping[kind]
        reason = None
        if kind == "MISSING_SYMBOL" and days < 2:
            if not is_all:
                raise LakeError(
                    "fault MISSING_SYMBOL needs --days 2 or more (the symbol must have data the day before "
                    "and none on the last day)"
                )
            reason = "needs --days >= 2"
        elif sym not in by_name:
            reason = f"{sym} is not among the generated symbols"
        elif (kind.startswith("KLINE_") or kind == "MISSING_KLINES") and not klines:
            reason = "klines are not generated (--no-klines)"
        elif kind in ("CROSSED_QUOTE", "WIDE_SPREAD", "FROZEN_BOOK", "NO_QUOTES") and not quotes:
            reason = "quotes are not generated (--no-quotes)"
        if reason:
            skipped.append({"kind": kind, "symbol": sym, "reason": reason})
            continue
        active.append(F.plan(seed, last, kind, by_name[sym], jump_size=jump_size))
    seen: dict[str, str] = {}
    for f in active:
        if f.symbol in seen:
            raise LakeError(
                f"faults {seen[f.symbol]} and {f.kind} both target {f.symbol}; each fault needs its own symbol"
            )
        seen[f.symbol] = f.kind
    return active, skipped


def generate_lake(
    root: str | Path,
    date: str | Date = DEFAULT_DATE,
    days: int = 1,
    symbols: int | str | list[str] = 13,
    trades_per_day: int | str = 1_000_000,
    quotes_per_trade: float = 2.0,
    seed: int = 42,
    faults: None | str | list[str] = None,
    fault_symbols: dict[str, str] | None = None,
    klines: bool = True,
    quotes: bool = True,
    progress: bool = True,
    ground_truth_path: str | Path | None = None,
    jump_size: float = F.JUMP,
) -> GenerateReport:
    """Generate ``days`` days ending at ``date`` into the lake at ``root``; faults go on the last day.

    ``symbols``: how many of the 13 (canonical order) or a list / comma string of names.
    ``faults``: None / "none", "all" (every rule and detector kind), "completeness" (every completeness
    kind), or kinds (list or "KIND,KIND", may name the groups too; one fault per symbol);
    ``fault_symbols`` maps a kind to another target symbol; ``jump_size`` is PRICE_JUMP's relative step
    (default +1.5 %). Same arguments -> byte-identical files and ground truth.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    root = Path(root)
    last = _as_date(date)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
        raise LakeError(f"--days must be a whole number from 1 to 3660, got {days!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise LakeError(f"--seed must be a non-negative integer, got {seed!r}")
    try:
        n_trades = parse_count(trades_per_day)
    except ValueError as exc:
        raise LakeError(f"--trades-per-day: {exc}") from None
    qpt = float(quotes_per_trade)
    if not math.isfinite(qpt) or not 0 <= qpt <= 100:
        raise LakeError(f"--quotes-per-trade must be between 0 and 100, got {quotes_per_trade!r}")
    jump_size = float(jump_size)
    if not math.isfinite(jump_size) or not 0 < jump_size <= 1:
        raise LakeError(f"--jump-size must be a fraction in (0, 1], e.g. 0.005 for +0.5 %, got {jump_size!r}")
    specs = select_symbols(symbols)
    day_list = [last - timedelta(days=days - 1 - i) for i in range(days)]
    active, skipped = _plan_faults(seed, last, days, specs, faults, fault_symbols, klines, quotes, jump_size)
    pool = _WritePool()
    cfg = _Config(root, seed, n_trades, qpt, expected_trades(specs, n_trades), klines, quotes, pool)

    rows = {"trades": 0} | ({"quotes": 0} if quotes else {}) | ({"klines_1m": 0} if klines else {})
    paths: dict[str, list[Path]] = {d: [] for d in rows}
    prev_close: dict[str, float | None] = {}
    bar = tqdm(
        total=len(day_list) * len(specs), file=sys.stderr, disable=not progress, unit="symbol-day",
        dynamic_ncols=True, leave=True,
    )  # fmt: skip
    try:
        for day in day_list:
            for spec in specs:
                bar.set_description(f"generate {day} {spec.symbol:<9}")
                day_faults = [f for f in active if f.symbol == spec.symbol] if day == last else []
                r, p, close = _symbol_day(cfg, spec, day, day_faults, prev_close.get(spec.symbol))
                prev_close[spec.symbol] = close
                for d in r:
                    rows[d] += r[d]
                    paths[d].extend(p[d])
                bar.set_postfix_str(f"{rows['trades']:,} trades")
                bar.update()
        pool.close(root)
    finally:
        pool.pool.shutdown(wait=True, cancel_futures=True)
        bar.close()

    fault_symbols_used = {f.symbol for f in active}
    names = sorted(s.symbol for s in specs)
    gt = {
        "generator": "lakeqa.generate",
        "version": GROUND_TRUTH_VERSION,
        "date": last.isoformat(),
        "dates": [d.isoformat() for d in day_list],
        "seed": seed,
        "symbols": names,
        "clean_symbols": [s for s in names if s not in fault_symbols_used],
        "trades_per_day": n_trades,
        "quotes_per_trade": qpt,
        "klines": klines,
        "quotes": quotes,
        "gap_threshold_seconds": {s.symbol: s.gap_threshold_s for s in sorted(specs, key=lambda s: s.symbol)},
        "faults": sorted((f.to_json() for f in active), key=lambda j: (j["ts"], j["kind"])),
        "skipped_faults": sorted(skipped, key=lambda j: j["kind"]),
        "rows": dict(rows),
    }
    gt_path = (
        Path(ground_truth_path) if ground_truth_path else root / "_generator" / f"ground_truth_{last}.json"
    )
    _write_json_atomic(gt, gt_path)
    return GenerateReport(
        root=root,
        dates=gt["dates"],
        symbols=names,
        rows=dict(rows),
        paths=paths,
        ground_truth=gt,
        ground_truth_path=gt_path,
        skipped_faults=gt["skipped_faults"],
        elapsed_s=time.perf_counter() - started,
    )


# ------------------------------------------------------------------------------------------------- CLI
def _fault_lines(kinds) -> str:
    return "\n".join(f"  {k:<21} {F.DEFAULT_FAULT_SYMBOLS[k]:<9} ({F.KINDS[k][0]})" for k in kinds)


EPILOG = f"""\
examples:
  lakeqa generate --lake ./lake --date 2024-08-09 --faults all
  lakeqa generate --lake ./lake --days 2 --faults completeness
  lakeqa generate --days 3 --trades-per-day 10M --symbol-list BTCUSDT,ETHUSDT --seed 7
  LAKE_ROOT=/data/lake lakeqa generate --faults NAN_PRICE,GAP --fault-symbol GAP=BTCUSDT --quiet

--faults all: every rule and detector kind (default symbol), injected on the last day between 02:00 and
22:00 UTC:
{_fault_lines(F.RULE_KINDS)}

--faults completeness: every completeness kind (default symbol), on the last day:
{_fault_lines(F.COMPLETENESS_KINDS)}
  OUTAGE: no trades/quotes from a whole hour in 06-20 h to midnight; TRADE_STREAM_DEATH: no trades for
  90 min; MISSING_KLINES / NO_QUOTES: no klines / quotes file; FROZEN_BOOK: no quotes for 2 h while
  trades go on; TRADE_LOSS: 85 % of the trades lost at random; CLOCK_OFFSET: ts +1 h; PRICE_SCALE:
  prices x 100 from 16:00.

An explicit list may mix kinds of both groups, one fault per symbol. The ground truth (default
<lake>/_generator/ground_truth_<date>.json) lists every fault with the rule violations (table, rule, ts)
and detector hits it must produce, and for completeness kinds the time range, the rule ids
(expect_rules) and the least verdict (expect_verdict). Same arguments -> byte-identical lake.
"""


def _count_arg(text: str) -> int:
    try:
        return parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _symbols_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= n <= len(SPECS):
        raise argparse.ArgumentTypeError(f"must be between 1 and {len(SPECS)}")
    return n


def _fault_symbol_arg(text: str) -> tuple[str, str]:
    kind, sep, sym = text.partition("=")
    if not sep or not kind.strip() or not sym.strip():
        raise argparse.ArgumentTypeError(f"expected KIND=SYMBOL, got {text!r}")
    return kind.strip().upper(), sym.strip()


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "generate",
        help="write a deterministic synthetic lake (optionally with faults) and its ground truth",
        description=(
            "Generate a deterministic synthetic lake: trades, best bid/ask quotes and exchange 1m klines "
            "for up to 13 Binance symbols, with optional injected faults on the last day and a JSON ground "
            "truth of the violations and anomalies each fault must produce."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--lake", default=None, help="lake root (default: $LAKE_ROOT, else the project's lake/)")
    p.add_argument("--date", default=DEFAULT_DATE, help=f"the last day, YYYY-MM-DD (default {DEFAULT_DATE})")
    p.add_argument("--days", type=int, default=1, help="number of days ending at --date (default 1)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--symbols", type=_symbols_arg, default=13, help="the first N of the 13 symbols (default 13)"
    )
    g.add_argument("--symbol-list", default=None, help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT")
    p.add_argument(
        "--trades-per-day", type=_count_arg, default=1_000_000,
        help="trades per day across all symbols; 1000000, 1e6, 10M, 250k (default 1M)",
    )  # fmt: skip
    p.add_argument("--quotes-per-trade", type=float, default=2.0, help="quotes per trade (default 2.0)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument(
        "--faults", default="none",
        help="none | all (every rule and detector kind) | completeness (every completeness kind) | "
        "KIND,KIND (default none); see the lists below",
    )  # fmt: skip
    p.add_argument(
        "--fault-symbol", action="append", type=_fault_symbol_arg, default=[], metavar="KIND=SYMBOL",
        help="inject KIND on SYMBOL instead of its default symbol (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--ground-truth", default=None, metavar="PATH",
        help="ground-truth JSON (default <lake>/_generator/ground_truth_<date>.json)",
    )  # fmt: skip
    p.add_argument(
        "--jump-size", type=float, default=F.JUMP,
        help=f"PRICE_JUMP's relative step of the mid (default {F.JUMP}, i.e. +{F.JUMP * 100:.1f} %%)",
    )  # fmt: skip
    p.add_argument("--no-klines", action="store_true", help="do not write exchange klines")
    p.add_argument("--no-quotes", action="store_true", help="do not write quotes")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    # the same resolution as every command: --lake, else LAKE_ROOT, else the project's lake/
    root = Paths.from_env(lake_root=args.lake).lake_root
    report = generate_lake(
        root,
        date=args.date,
        days=args.days,
        symbols=args.symbol_list if args.symbol_list else args.symbols,
        trades_per_day=args.trades_per_day,
        quotes_per_trade=args.quotes_per_trade,
        seed=args.seed,
        faults=args.faults,
        fault_symbols=dict(args.fault_symbol) or None,
        jump_size=args.jump_size,
        klines=not args.no_klines,
        quotes=not args.no_quotes,
        progress=not args.quiet,
        ground_truth_path=args.ground_truth,
    )
    if not args.quiet:
        print(report.summary())
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="lakeqa")
    register(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(["generate", *sys.argv[1:]])
    sys.exit(ns.func(ns))
