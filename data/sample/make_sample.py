"""Rebuild data/sample/binance-ws from the hftbacktest spot captures (see binance-ws/SOURCE.md).

    python data/sample/make_sample.py ../shared/data/real/hftbacktest-binance-ws/spot

Rule: keep a line when it is a `<sym>@trade` message whose exchange trade time `T`, or a
`<sym>@bookTicker` message whose local receive time (the line's ns prefix), lies in
[2024-08-08 23:58:00, 2024-08-09 00:02:00) UTC. Everything else (depth updates, the REST depth
snapshot) is dropped. Kept lines are copied byte for byte, in order, and gzipped reproducibly
(level 9, mtime 0, no file name in the header), under the original file names.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

FILES = ("btcusdt_20240808.gz", "btcusdt_20240809.gz", "ethusdt_20240808.gz", "ethusdt_20240809.gz")
START_MS = 1723161480000  # 2024-08-08 23:58:00 UTC
END_MS = 1723161720000  # 2024-08-09 00:02:00 UTC (excluded)


def keep(line: bytes) -> str | None:
    """The kind of a line to keep ("trade" / "bookTicker"), or None."""
    prefix, _, rest = line.partition(b" ")
    msg = json.loads(rest)
    stream = msg.get("stream", "")
    if stream.endswith("@trade"):
        return "trade" if START_MS <= msg["data"]["T"] < END_MS else None
    if stream.endswith("@bookTicker"):
        return "bookTicker" if START_MS * 1_000_000 <= int(prefix) < END_MS * 1_000_000 else None
    return None


def trim(src: Path, dst: Path) -> Counter:
    counts: Counter = Counter()
    kept = []
    with gzip.open(src, "rb") as f:
        for line in f:
            kind = keep(line)
            if kind:
                counts[kind] += 1
                kept.append(line)
    with (
        open(dst, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as g,
    ):
        g.write(b"".join(kept))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "src", type=Path, help="folder holding the four spot captures (…/hftbacktest-binance-ws/spot)"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "binance-ws")
    args = parser.parse_args()
    src = args.src / "spot" if (args.src / "spot").is_dir() else args.src
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in FILES:
        counts = trim(src / name, args.out / name)
        size = (args.out / name).stat().st_size
        total += size
        print(f"{name}: {counts['trade']:,} trades, {counts['bookTicker']:,} bookTicker, {size:,} bytes")
    print(f"total {total:,} bytes")


if __name__ == "__main__":
    main()
