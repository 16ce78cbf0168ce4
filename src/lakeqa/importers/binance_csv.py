"""Binance public-dump CSVs (data.binance.vision): trades, aggTrades, klines and bookTicker.

Parsed with pyarrow.csv and explicit column types (fast, multi-threaded). Only when a file has bad lines
is it read again single-threaded as text, so that every bad line can be named by its line number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from lakeqa.importers.common import BadLines, FileReport, Member, NotOneMinuteError, epochs_to_us, us_array
from lakeqa.lake import LakeError

INT, FLOAT, BOOL, SKIP = "int", "float", "bool", "skip"


@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # INT | FLOAT | BOOL | SKIP (not read)
    required: bool = True
    is_time: bool = False


# Column layouts, in file order. Trailing columns beyond the shortest accepted count are optional.
LAYOUTS: dict[str, tuple[tuple[Col, ...], tuple[int, ...]]] = {
    "binance-trades": (
        (
            Col("id", INT),
            Col("price", FLOAT),
            Col("qty", FLOAT),
            Col("quote_qty", FLOAT, required=False),
            Col("time", INT, is_time=True),
            Col("is_buyer_maker", BOOL),
            Col("is_best_match", SKIP),
        ),
        (6, 7),
    ),
    "binance-aggtrades": (
        (
            Col("agg_trade_id", INT),
            Col("price", FLOAT),
            Col("quantity", FLOAT),
            Col("first_trade_id", SKIP),
            Col("last_trade_id", SKIP),
            Col("transact_time", INT, is_time=True),
            Col("is_buyer_maker", BOOL),
            Col("is_best_match", SKIP),
        ),
        (7, 8),
    ),
    "binance-klines": (
        (
            Col("open_time", INT, is_time=True),
            Col("open", FLOAT),
            Col("high", FLOAT),
            Col("low", FLOAT),
            Col("close", FLOAT),
            Col("volume", FLOAT),
            Col("close_time", INT, is_time=True),
            Col("quote_volume", FLOAT),
            Col("count", INT),
            Col("taker_buy_volume", FLOAT),
            Col("taker_buy_quote_volume", FLOAT),
            Col("ignore", SKIP),
        ),
        (12,),
    ),
    "binance-bookticker": (
        (
            Col("update_id", INT),
            Col("best_bid_price", FLOAT),
            Col("best_bid_qty", FLOAT),
            Col("best_ask_price", FLOAT),
            Col("best_ask_qty", FLOAT),
            Col("transaction_time", INT, is_time=True),
            Col("event_time", INT, required=False, is_time=True),
        ),
        (7,),
    ),
}

# The header's first column names each file kind (futures dumps carry a header, spot dumps don't).
_HEADER_FIRST = {
    "id": "binance-trades",
    "agg_trade_id": "binance-aggtrades",
    "open_time": "binance-klines",
    "update_id": "binance-bookticker",
}

_TRUE = ["true", "True", "TRUE", "1"]
_FALSE = ["false", "False", "FALSE", "0"]
_ARROW = {INT: pa.int64(), FLOAT: pa.float64(), BOOL: pa.bool_()}
_PATTERN = {
    INT: r"^[+-]?\d+$",
    FLOAT: r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$",
    BOOL: r"^(true|True|TRUE|1|false|False|FALSE|0)$",
}
_NUMERIC = re.compile(rb"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_BOOLS = {b"true", b"false"}


def first_line(head: bytes) -> bytes:
    head = head.removeprefix(b"\xef\xbb\xbf")
    return head.split(b"\n", 1)[0].rstrip(b"\r")


def has_header(line: bytes) -> bool:
    """A header row is told by its first field not being a number."""
    return not _NUMERIC.match(line.split(b",", 1)[0])


def sniff(head: bytes) -> str | None:
    """Tell a Binance CSV's kind from its first line, or None."""
    line = first_line(head)
    fields = line.split(b",")
    if has_header(line):
        return _HEADER_FIRST.get(fields[0].strip().decode("ascii", "replace").lower())
    kinds = [
        "int" if re.fullmatch(rb"[+-]?\d+", f) else "bool" if f.lower() in _BOOLS else "num" for f in fields
    ]
    n = len(fields)
    if n == 12:
        return "binance-klines"
    if n == 6 and kinds[4:] == ["int", "bool"]:
        return "binance-trades"
    if n == 7 and kinds[5:] == ["int", "int"]:
        return "binance-bookticker"
    if n == 7 and kinds[4:] == ["int", "bool", "bool"]:
        return "binance-trades"
    if n in (7, 8) and kinds[3:7] == ["int", "int", "int", "bool"]:
        return "binance-aggtrades"
    return None


def _line_numbers(n_rows: int, first_line_no: int, invalid: list[int]) -> Callable[[np.ndarray], np.ndarray]:
    """Row index -> file line number, given the line numbers pyarrow dropped as invalid rows."""
    skipped = np.array(sorted(invalid), dtype=np.int64)

    def lookup(rows: np.ndarray) -> np.ndarray:
        # The row's line is the smallest line L with L - first - (#skipped <= L) == row.
        lines = rows + first_line_no
        for _ in range(len(skipped) + 1):
            new = rows + first_line_no + np.searchsorted(skipped, lines, side="right")
            if np.array_equal(new, lines):
                break
            lines = new
        return lines

    return lookup


class _Retry(Exception):
    pass


def read_csv(
    member: Member,
    fmt: str,
    bad: BadLines,
    report: FileReport,
    update: Callable[[int], object] | None = None,
) -> pa.Table:
    """Read one Binance CSV member into a table of its own (typed) columns, bad lines left out."""
    cols, counts = LAYOUTS[fmt]
    head = member.head()
    line1 = first_line(head)
    if not line1.strip():
        return pa.table({})
    header = has_header(line1)
    ncols = len(line1.split(b","))
    if ncols not in counts:
        expected = " or ".join(str(c) for c in counts)
        raise LakeError(
            f"{member.label}: line {2 if header else 1} has {ncols} columns; a {fmt} file has {expected} "
            f"({', '.join(c.name for c in cols[: max(counts)])})"
        )
    layout = cols[:ncols]
    names = [c.name for c in layout]
    wanted = [c for c in layout if c.kind != SKIP]
    first_line_no = 2 if header else 1

    def read(typed: bool, threads: bool, invalid: list[tuple[int | None, str]], upd=None) -> pa.Table:
        def on_invalid(row) -> str:
            invalid.append((row.number, row.text))
            if len(bad.report.bad_lines) + len(invalid) > bad.limit:
                return "error"
            return "skip"

        # typed: only the wanted columns, typed; else every column as text
        types = {c.name: (_ARROW[c.kind] if typed else pa.string()) for c in (wanted if typed else layout)}
        with member.open(upd) as f:
            return pcsv.read_csv(
                f,
                read_options=pcsv.ReadOptions(
                    column_names=names, skip_rows=1 if header else 0, use_threads=threads, block_size=1 << 22
                ),
                parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
                convert_options=pcsv.ConvertOptions(
                    column_types=types,
                    include_columns=[c.name for c in wanted] if typed else names,
                    true_values=_TRUE,
                    false_values=_FALSE,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )

    wrong_columns = f"wrong number of columns (expected {ncols})"
    invalid: list[tuple[int | None, str]] = []
    text_table = None  # the text of every column, when the file had to be read again as text
    try:
        table = read(True, True, invalid, update)
        if invalid:
            raise _Retry
        bad_mask = np.zeros(table.num_rows, dtype=bool)
    except (pa.ArrowInvalid, _Retry):
        # Bad lines: read again, single-threaded (so pyarrow knows line numbers), as text, and check
        # every value ourselves.
        invalid = []
        try:
            text_table = read(False, False, invalid)
        except pa.ArrowInvalid as exc:
            for number, text in invalid:
                bad.add(number or 0, wrong_columns, text)
            raise LakeError(f"{member.label}: cannot parse as {fmt} CSV ({exc})") from exc
        table, bad_mask = _convert_text(text_table, wanted)

    # Missing required values and non-positive times are bad lines too.
    for c in wanted:
        col = table.column(c.name)
        if c.required and col.null_count:
            bad_mask |= np.asarray(col.is_null().to_numpy(zero_copy_only=False))
        if c.is_time:
            bad_mask |= np.asarray(pc.fill_null(pc.less_equal(col, 0), False).to_numpy(zero_copy_only=False))
    report.records += table.num_rows + len(invalid) + (1 if header else 0)

    # Report bad lines in line order; past the limit only the first ones matter (the file stops).
    room = max(bad.limit - len(bad.report.bad_lines), 0) + 1
    pending = [(number or 0, wrong_columns, text) for number, text in invalid[:room]]
    rows = np.flatnonzero(bad_mask)
    numbers = _line_numbers(table.num_rows, first_line_no, [n for n, _ in invalid if n])(rows[:room])
    for row, number in zip(rows[:room].tolist(), numbers.tolist(), strict=True):
        values = [table.column(c.name)[row].as_py() for c in wanted]
        if text_table is not None:
            raw = [text_table.column(n)[row].as_py() for n in names]
            why = [
                c.name
                for c, v in zip(wanted, values, strict=True)
                if v is None and (c.required or raw[names.index(c.name)])
            ]
            text = ",".join(raw)
        else:
            why = [c.name for c, v in zip(wanted, values, strict=True) if v is None and c.required]
            text = ",".join("" if v is None else str(v) for v in values)
        why += [c.name for c, v in zip(wanted, values, strict=True) if c.is_time and v is not None and v <= 0]
        if all(v is None for v in values):
            reason = "empty line"
        else:
            reason = f"bad or missing value in column(s) {', '.join(why)}"
        pending.append((number, reason, text))
    for number, reason, text in sorted(pending, key=lambda item: item[0]):
        bad.add(number, reason, text)
    if bad_mask.any():
        table = table.filter(pa.array(~bad_mask))
    return table


def _convert_text(table: pa.Table, wanted: list[Col]) -> tuple[pa.Table, np.ndarray]:
    """Text columns -> typed columns; a value that does not parse makes its row bad (null here)."""
    bad = np.zeros(table.num_rows, dtype=bool)
    out = {}
    for c in wanted:
        col = table.column(c.name)
        empty = pc.equal(col, "")
        ok = pc.or_(pc.match_substring_regex(col, _PATTERN[c.kind]), empty)
        bad |= ~np.asarray(ok.to_numpy(zero_copy_only=False))
        clean = pc.if_else(ok, col, pa.scalar(None, pa.string()))
        clean = pc.if_else(empty, pa.scalar(None, pa.string()), clean)
        if c.kind == BOOL:
            typed = pc.if_else(
                pc.is_null(clean), pa.scalar(None, pa.bool_()), pc.is_in(clean, pa.array(_TRUE))
            )
        else:
            typed = pc.cast(clean, _ARROW[c.kind])
        out[c.name] = typed
    return pa.table(out), bad


def _times(table: pa.Table, name: str, report: FileReport | None) -> pa.Array:
    values = table.column(name).to_numpy()
    us, units = epochs_to_us(values)
    if report is not None:
        report.ts_units.update(units)
    return us_array(us)


def to_lake(fmt: str, table: pa.Table, report: FileReport, label: str) -> tuple[str, pa.Table]:
    """A table of a Binance CSV's columns -> (dataset, table in the lake's columns)."""
    t = table
    if fmt == "binance-trades":
        return "trades", pa.table(
            {
                "trade_id": t["id"],
                "price": t["price"],
                "qty": t["qty"],
                "quote_qty": t["quote_qty"],
                "ts": _times(t, "time", report),
                "is_buyer_maker": t["is_buyer_maker"],
            }
        )
    if fmt == "binance-aggtrades":
        return "trades", pa.table(
            {
                "trade_id": t["agg_trade_id"],
                "price": t["price"],
                "qty": t["quantity"],
                "quote_qty": pc.multiply(t["price"], t["quantity"]),
                "ts": _times(t, "transact_time", report),
                "is_buyer_maker": t["is_buyer_maker"],
            }
        )
    if fmt == "binance-klines":
        open_time = _times(t, "open_time", report)
        if t.num_rows:
            close_time = _times(t, "close_time", None)
            span = pc.subtract(close_time.cast(pa.int64()), open_time.cast(pa.int64()))
            longest = pc.max(span).as_py()
            # A 1m kline closes 59.999 s after it opens (close_time is the last ms / us of the minute).
            if not 59_000_000 <= longest < 60_000_000:
                raise NotOneMinuteError(
                    f"{label}: klines span {round(longest / 1e6)} s from open_time to close_time, not 1m; "
                    "the lake holds 1m klines only"
                )
        return "klines_1m", pa.table(
            {
                "open_time": open_time,
                "open": t["open"],
                "high": t["high"],
                "low": t["low"],
                "close": t["close"],
                "volume": t["volume"],
                "quote_volume": t["quote_volume"],
                "trade_count": t["count"],
                "taker_buy_base": t["taker_buy_volume"],
                "taker_buy_quote": t["taker_buy_quote_volume"],
            }
        )
    if fmt == "binance-bookticker":
        return "quotes", pa.table(
            {
                "update_id": t["update_id"],
                "bid_price": t["best_bid_price"],
                "bid_qty": t["best_bid_qty"],
                "ask_price": t["best_ask_price"],
                "ask_qty": t["best_ask_qty"],
                "ts": _times(t, "transaction_time", report),
            }
        )
    raise ValueError(fmt)


def parse(
    member: Member,
    fmt: str,
    symbol: str,
    bad: BadLines,
    report: FileReport,
    update: Callable[[int], object] | None = None,
) -> list[tuple[str, str, pa.Table]]:
    table = read_csv(member, fmt, bad, report, update)
    if table.num_columns == 0:
        return []
    dataset, lake_table = to_lake(fmt, table, report, member.label)
    return [(dataset, symbol, lake_table)]
