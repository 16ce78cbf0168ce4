"""`import_paths`: detect each file's format, parse it whole, then write its lake partitions."""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from lakeqa.importers import binance_csv, ccxt_json, websocket
from lakeqa.importers.common import (
    FORMATS,
    NOT_DATA,
    PROGRESS_MIN_BYTES,
    BadLines,
    FileReport,
    ImportReport,
    Member,
    NotOneMinuteError,
    is_data_file_name,
    members_of,
    sanitise_name,
    strip_suffixes,
)
from lakeqa.lake import TIME_COLUMN, LakeError, check_symbol, partition_dir, write_partitions

# BTCUSDT-trades-2024-08-09, BTCUSDT-aggTrades-2024-08, BTCUSDT-1m-2024-08-09, BTCUSDT-bookTicker-2024-08-09
_BINANCE_NAME = re.compile(
    r"^(?P<symbol>[A-Za-z0-9]+)-(?P<kind>trades|aggTrades|bookTicker|\d+[smhdwM])"
    r"(?:-(?P<date>\d{4}-\d{2}(?:-\d{2})?))?$"
)
# XRP_ETH-trades, XRP_ETH-1m, BTC_USDT_USDT-1h-futures (freqtrade)
_CCXT_NAME = re.compile(r"^(?P<pair>[A-Za-z0-9_]+?)-(?P<kind>trades|\d+[smhdwM])(?:-[A-Za-z_]+)?$")
_BINANCE_KINDS = {
    "trades": "binance-trades",
    "aggTrades": "binance-aggtrades",
    "bookTicker": "binance-bookticker",
}
_KLINES = ("binance-klines", "ccxt-ohlcv")


@dataclass
class NameInfo:
    fmt: str
    symbol: str
    interval: str | None = None


def name_info(file_name: str) -> NameInfo | None:
    """What a file name says: format, symbol and (for klines) interval."""
    stem = strip_suffixes(file_name)
    if ".json" in file_name.lower():
        m = _CCXT_NAME.match(stem)
        if not m:
            return None
        parts = m["pair"].split("_")
        if len(parts) == 3 and parts[1] == parts[2]:  # freqtrade futures: BASE_QUOTE_SETTLE
            parts = parts[:2]
        kind = m["kind"]
        return NameInfo(
            "ccxt-trades" if kind == "trades" else "ccxt-ohlcv",
            "".join(parts),
            None if kind == "trades" else kind,
        )
    m = _BINANCE_NAME.match(stem)
    if not m:
        return None
    kind = m["kind"]
    if kind in _BINANCE_KINDS:
        return NameInfo(_BINANCE_KINDS[kind], m["symbol"])
    return NameInfo("binance-klines", m["symbol"], kind)


def sniff(head: bytes) -> str | None:
    """Tell a format from the first bytes of the (decompressed) content."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        return None
    if websocket.looks_like_ws(text):
        return "ws"
    if text.startswith(b"["):
        return "ccxt"  # trades or OHLCV: told once loaded
    return binance_csv.sniff(text)


def _symbol_of(info: NameInfo | None, override: str | None, label: str) -> str:
    if override:
        return override
    if info is None:
        raise LakeError(f"{label}: cannot tell the symbol from the file name; pass --symbol")
    try:
        return check_symbol(info.symbol)
    except LakeError as exc:
        raise LakeError(f"{label}: {exc}; pass --symbol") from exc


def _parse_member(
    member: Member,
    fmt: str,
    symbol: str | None,
    bad: BadLines,
    report: FileReport,
    update: Callable[[int], object] | None,
) -> tuple[str, list[tuple[str, str, pa.Table]]]:
    info = name_info(member.name)
    if info is None and member.kind == "zip":
        info = name_info(member.source.name)
    records = None
    if fmt == "auto":
        found = info.fmt if info else sniff(member.head())
        if found is None:
            raise LakeError(
                f"{member.label}: cannot tell the format from the file name or its first line; "
                f"pass --format (one of {', '.join(FORMATS)})"
            )
        if found.startswith("ccxt"):
            records = ccxt_json.load(member, update)
            found = ccxt_json.kind_of(records) or (found if found != "ccxt" else None)
            if found is None:
                raise LakeError(
                    f"{member.label}: a JSON array, but its first record is neither a ccxt trade nor an OHLCV "
                    "candle; pass --format"
                )
        fmt = found
    if fmt in _KLINES and info is not None and info.interval not in (None, "1m"):
        raise NotOneMinuteError(
            f"{member.label}: {info.interval} candles (from the file name); the lake holds 1m klines only"
        )
    if fmt == "ws":
        return fmt, websocket.parse(member, symbol, bad, report, update)
    sym = _symbol_of(info, symbol, member.label)
    if fmt.startswith("binance-"):
        return fmt, binance_csv.parse(member, fmt, sym, bad, report, update)
    return fmt, ccxt_json.parse(member, fmt, sym, bad, report, update, records)


def import_file(
    path: Path | str,
    lake_root: Path | str,
    fmt: str = "auto",
    symbol: str | None = None,
    max_bad_lines: int = 100,
    progress: bool = True,
) -> FileReport:
    """Import one source file: parse all of it, then write its partitions (nothing if it fails)."""
    path = Path(path)
    report = FileReport(path)
    members = members_of(path)
    report.members = [m.zip_name or m.name for m in members]
    size = path.stat().st_size
    show = progress and size >= PROGRESS_MIN_BYTES
    parts: dict[tuple[str, str, str], list[pa.Table]] = defaultdict(list)
    formats: list[str] = []
    with tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        desc=path.name,
        file=sys.stderr,
        leave=False,
        disable=None if show else True,  # None: off when stderr is not a terminal
    ) as bar:
        update = bar.update if show else None
        for member in members:
            bad = BadLines(member.label, max_bad_lines, report, member.zip_name if len(members) > 1 else None)
            found, results = _parse_member(member, fmt, symbol, bad, report, update)
            formats.append(found)
            for dataset, sym, table in results:
                if table.num_rows:
                    parts[(dataset, sym, found)].append(table)
    report.format = ",".join(dict.fromkeys(formats))

    stem = sanitise_name(strip_suffixes(path.name))
    for (dataset, sym, found), tables in sorted(parts.items()):
        table = pa.concat_tables(tables)
        name = f"{stem}.{found}"
        # (a cast to date32 is the UTC day, and far cheaper than strftime)
        days = pc.value_counts(table.column(TIME_COLUMN[dataset]).cast(pa.date32()))
        report.changed += write_partitions(lake_root, dataset, sym, table, name)
        for item in days.to_pylist():
            date = item["values"].isoformat()
            report.rows[(dataset, sym, date)] = report.rows.get((dataset, sym, date), 0) + item["counts"]
            report.partitions.append(partition_dir(lake_root, dataset, sym, date) / f"{name}.parquet")
    return report


def expand(paths: Iterable[Path | str]) -> tuple[list[tuple[Path, bool]], list[tuple[Path, str]]]:
    """Files to import (path, found in a directory walk) and files passed over in directory walks."""
    files: list[tuple[Path, bool]] = []
    passed: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file())
            for f in found:
                rel = f.relative_to(p)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if not is_data_file_name(f.name):
                    passed.append((f, NOT_DATA))
                elif f.resolve() not in seen:
                    seen.add(f.resolve())
                    files.append((f, True))
        elif p.is_file():
            if p.resolve() not in seen:
                seen.add(p.resolve())
                files.append((p, False))
        else:
            raise LakeError(f"{p}: no such file or directory")
    return files, passed


def import_paths(
    paths: Iterable[Path | str],
    lake_root: Path | str,
    fmt: str = "auto",
    symbol: str | None = None,
    max_bad_lines: int = 100,
    progress: bool = True,
    on_file: Callable[[FileReport], object] | None = None,
) -> ImportReport:
    """Import files and directories (recursed) into the lake at `lake_root`.

    Each file is parsed whole before any of it is written, so a file that fails writes nothing; files
    before it stay imported. In a directory walk, klines of another interval than 1m are passed over
    (named in `skipped_files`); named explicitly they are an error. `on_file` hears each file's report.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise LakeError(f"unknown format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    if max_bad_lines < 0:
        raise LakeError("--max-bad-lines must be 0 or more")
    symbol = check_symbol(symbol) if symbol else None
    if isinstance(paths, str | Path):
        paths = [paths]
    paths = list(paths)
    files, passed = expand(paths)
    report = ImportReport(skipped_files=passed)
    if not files:
        raise LakeError(f"no data files found in {', '.join(str(p) for p in paths)}")
    lake_root = Path(lake_root)
    for path, in_walk in files:
        try:
            file_report = import_file(path, lake_root, fmt, symbol, max_bad_lines, progress)
        except NotOneMinuteError as exc:
            if in_walk:
                report.skipped_files.append((path, str(exc).removeprefix(f"{path}: ")))
                continue
            raise _with_progress(exc, report) from exc
        except LakeError as exc:
            raise _with_progress(exc, report) from exc
        except (OSError, pa.ArrowException) as exc:
            raise _with_progress(LakeError(f"{path}: {exc}"), report) from exc
        report.files.append(file_report)
        if on_file is not None:
            on_file(file_report)
    return report


def _with_progress(exc: LakeError, report: ImportReport) -> LakeError:
    if not report.files:
        return exc
    return type(exc)(f"{exc} ({len(report.files)} earlier file(s) were imported)")
