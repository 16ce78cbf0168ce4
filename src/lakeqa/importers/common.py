"""Shared pieces of the importers: opening plain/gzip/zip sources, timestamp units, bad-line accounting
and the import report."""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa

from lakeqa.lake import LakeError

FORMATS = (
    "binance-trades",
    "binance-aggtrades",
    "binance-klines",
    "binance-bookticker",
    "ws",
    "ccxt-trades",
    "ccxt-ohlcv",
)

NOT_DATA = "not a data file (by its name)"

# Files bigger than this show a progress bar (when progress is on and stderr is a terminal).
PROGRESS_MIN_BYTES = 4 * 1024 * 1024


class NotOneMinuteError(LakeError):
    """Klines / OHLCV of another interval than 1m: the lake holds 1m klines only."""


# ---------------------------------------------------------------------------------------------------
# timestamps


# Unit of an epoch integer, told by its magnitude (around 2024: s ~1.7e9, ms ~1.7e12, us ~1.7e15,
# ns ~1.7e18). Each band spans three decades, so any date from 1973 to 5138 is told apart.
_UNIT_BOUNDS = ((1e11, "s", 1_000_000), (1e14, "ms", 1_000), (1e17, "us", 1))
UNITS = ("s", "ms", "us", "ns")
_FACTOR = {"s": 1_000_000, "ms": 1_000, "us": 1}


def unit_of(value: int) -> str:
    for bound, unit, _ in _UNIT_BOUNDS:
        if value < bound:
            return unit
    return "ns"


def epoch_to_us(value: int) -> int:
    """One epoch integer (s, ms, us or ns, told by its magnitude) -> microseconds."""
    for bound, _, factor in _UNIT_BOUNDS:
        if value < bound:
            return value * factor
    return value // 1000


def epochs_to_us(values: np.ndarray) -> tuple[np.ndarray, Counter]:
    """Vectorised `epoch_to_us`: each value is converted by its own magnitude, so a file that mixes
    milliseconds and microseconds still gets every value right. Returns (us, count of values per unit)."""
    v = values.astype(np.int64, copy=False)
    if len(v):
        lo, hi = unit_of(int(v.min())), unit_of(int(v.max()))
        if lo == hi:  # the usual case, one unit: one pass
            return (v // 1000 if lo == "ns" else v * _FACTOR[lo]), Counter({lo: len(v)})
    codes = np.searchsorted(np.array([1e11, 1e14, 1e17]), v, side="right")
    factors = np.array([1_000_000, 1_000, 1, 1], dtype=np.int64)
    out = np.where(codes == 3, v // 1000, v * factors[codes])
    counts = np.bincount(codes, minlength=4)
    return out, Counter({UNITS[i]: int(n) for i, n in enumerate(counts) if n})


def us_array(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.timestamp("us"))


# ---------------------------------------------------------------------------------------------------
# report


@dataclass
class BadLine:
    number: int  # 1-based line number (record number for JSON arrays, see `unit`)
    reason: str
    text: str = ""
    member: str | None = None  # zip member, when the source is a zip holding several files
    unit: str = "line"

    def where(self) -> str:
        loc = f"{self.unit} {self.number}"
        return f"{self.member}: {loc}" if self.member else loc

    def __str__(self) -> str:
        text = f": {self.text}" if self.text else ""
        return f"{self.where()}: {self.reason}{text}"


@dataclass
class FileReport:
    """What importing one source file did."""

    path: Path
    format: str = ""
    members: list[str] = field(default_factory=list)
    records: int = 0  # lines (CSV, websocket) or records (JSON arrays) read
    # (dataset, symbol, date) -> rows in that partition file
    rows: dict[tuple[str, str, str], int] = field(default_factory=dict)
    partitions: list[Path] = field(default_factory=list)  # partition files written (changed or not)
    changed: list[Path] = field(default_factory=list)  # the ones whose bytes changed
    skipped: Counter = field(default_factory=Counter)  # stream kind / reason -> lines
    bad_lines: list[BadLine] = field(default_factory=list)
    ts_units: Counter = field(default_factory=Counter)  # unit of the exchange timestamps -> values

    def rows_by_dataset(self) -> dict[str, int]:
        out: Counter = Counter()
        for (dataset, _, _), n in self.rows.items():
            out[dataset] += n
        return dict(out)

    def rows_by_symbol(self, dataset: str) -> dict[str, int]:
        out: Counter = Counter()
        for (ds, sym, _), n in self.rows.items():
            if ds == dataset:
                out[sym] += n
        return dict(out)

    def summary(self, max_bad_shown: int = 5) -> str:
        lines = [f"{self.path} [{self.format}]"]
        if not self.rows:
            lines.append("  no rows")
        for (dataset, symbol, date), n in sorted(self.rows.items()):
            lines.append(f"  {dataset:<10} {symbol:<12} {date}  {n:>10,} rows")
        unchanged = len(self.partitions) - len(self.changed)
        lines.append(f"  partition files: {len(self.changed)} changed, {unchanged} unchanged")
        if len(self.ts_units) > 1:
            units = ", ".join(f"{u} {n:,}" for u, n in sorted(self.ts_units.items()))
            lines.append(f"  note: timestamps in mixed units ({units}); each converted by its magnitude")
        if self.skipped:
            skipped = ", ".join(f"{k} {n:,}" for k, n in sorted(self.skipped.items()))
            lines.append(f"  skipped: {skipped}")
        if self.bad_lines:
            lines.append(f"  bad lines: {len(self.bad_lines)} (not imported)")
            for bad in self.bad_lines[:max_bad_shown]:
                lines.append(f"    {bad}")
            if len(self.bad_lines) > max_bad_shown:
                lines.append(f"    ... and {len(self.bad_lines) - max_bad_shown} more")
        return "\n".join(lines)


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    skipped_files: list[tuple[Path, str]] = field(default_factory=list)  # (path, why) in directory walks

    @property
    def changed(self) -> list[Path]:
        return [p for f in self.files for p in f.changed]

    def rows_by_dataset(self) -> dict[str, int]:
        out: Counter = Counter()
        for f in self.files:
            out.update(f.rows_by_dataset())
        return dict(out)

    def rows_by_symbol(self, dataset: str) -> dict[str, int]:
        out: Counter = Counter()
        for f in self.files:
            out.update(f.rows_by_symbol(dataset))
        return dict(out)

    def summary(self) -> str:
        rows = ", ".join(f"{ds} {n:,}" for ds, n in sorted(self.rows_by_dataset().items())) or "no rows"
        bad = sum(len(f.bad_lines) for f in self.files)
        text = (
            f"imported {len(self.files)} file(s): {rows}; "
            f"{len(self.changed)} partition file(s) changed; {bad} bad line(s)"
        )
        not_data = [p.name for p, why in self.skipped_files if why == NOT_DATA]
        for path, why in self.skipped_files:
            if why != NOT_DATA:
                text += f"\nskipped {path}: {why}"
        if not_data:
            text += f"\npassed over {len(not_data)} file(s) that are not data by their names: {', '.join(not_data)}"
        return text


class BadLines:
    """Collects bad lines of one source and stops it once there are more than `limit`."""

    def __init__(self, label: str, limit: int, report: FileReport, member: str | None = None):
        self.label = label
        self.limit = limit
        self.report = report
        self.member = member

    def add(self, number: int, reason: str, text: str | bytes = "", unit: str = "line") -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = text.strip()
        if len(text) > 120:
            text = text[:117] + "..."
        self.report.bad_lines.append(BadLine(number, reason, text, self.member, unit))
        if len(self.report.bad_lines) > self.limit:
            self.fail()

    def fail(self) -> None:
        shown = "; ".join(str(b) for b in self.report.bad_lines[:3])
        raise LakeError(
            f"{self.label}: more than {self.limit} bad lines (--max-bad-lines), stopped; nothing was "
            f"written for this file. First: {shown}"
        )


# ---------------------------------------------------------------------------------------------------
# opening sources: plain, gzip or zip (told by magic bytes, not by name)

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_DATA_SUFFIXES = (".gz", ".zip", ".csv", ".json", ".jsonl", ".ndjson", ".txt")


def strip_suffixes(name: str) -> str:
    """`BTCUSDT-trades-2024-08-09.csv.zip` -> `BTCUSDT-trades-2024-08-09`."""
    changed = True
    while changed:
        changed = False
        for suffix in _DATA_SUFFIXES:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                changed = True
    return name


def sanitise_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:100] or "source"


class _CountingReader(io.RawIOBase):
    """A raw file that reports the bytes read from disk to a progress bar."""

    def __init__(self, raw: IO[bytes], update: Callable[[int], object]):
        self._raw = raw
        self._update = update

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        if n:
            self._update(n)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class Member:
    """One data stream inside a source file: the file itself, the inside of a .gz, or one zip member."""

    source: Path
    name: str  # file name of the member (for a .gz: without .gz)
    kind: str  # "plain" | "gzip" | "zip"
    zip_name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.source} (member {self.zip_name})" if self.kind == "zip" else str(self.source)

    @contextmanager
    def open(self, update: Callable[[int], object] | None = None) -> Iterator[IO[bytes]]:
        """The decompressed bytes of this member. `update(n)` hears the bytes read from disk."""
        raw: IO[bytes] = open(self.source, "rb")
        try:
            if update is not None:
                raw = io.BufferedReader(_CountingReader(raw, update), buffer_size=1 << 20)
            if self.kind == "plain":
                yield raw
            elif self.kind == "gzip":
                with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                    yield f  # type: ignore[misc]
            else:
                with zipfile.ZipFile(raw) as zf, zf.open(self.zip_name or "") as f:
                    yield f
        except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
            raise LakeError(f"{self.label}: cannot read ({exc})") from exc
        finally:
            raw.close()

    def head(self, size: int = 65536) -> bytes:
        with self.open() as f:
            return f.read(size)


def members_of(path: Path) -> list[Member]:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise LakeError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    if magic[:2] == _GZIP_MAGIC:
        name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
        return [Member(path, name, "gzip")]
    if magic in _ZIP_MAGIC:
        try:
            with zipfile.ZipFile(path) as zf:
                names = [
                    i.filename
                    for i in zf.infolist()
                    if not i.is_dir()
                    and not i.filename.startswith("__MACOSX/")
                    and not Path(i.filename).name.startswith(".")
                ]
        except zipfile.BadZipFile as exc:
            raise LakeError(f"{path}: not a valid zip file ({exc})") from exc
        if not names:
            raise LakeError(f"{path}: the zip file holds no data file")
        return [Member(path, Path(n).name, "zip", n) for n in sorted(names)]
    return [Member(path, path.name, "plain")]


def is_data_file_name(name: str) -> bool:
    """Files picked up when walking a directory (README, LICENSE, .CHECKSUM etc. are not)."""
    lower = name.lower()
    return not lower.startswith(".") and lower.endswith(_DATA_SUFFIXES) and not lower.endswith(".txt")
