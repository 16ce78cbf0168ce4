"""`lakeqa compact`: each lake partition of a day rewritten from its many small files into one.

A capture that rotates its file every 60 seconds leaves ~1 440 files per dataset, symbol and day; every
reader then opens 1 440 footers. This is the only lakeqa command that rewrites files of an existing lake
partition (everything else only reads the lake, and the importers and the generator only add files).

Per partition (``<dataset>/symbol=S/date=D/``, or its folder in the layout LAKE_LAYOUT names) with more
than one file, in file-name order:

1. every file's schema is the dataset's (lakeqa.lake.SCHEMAS), else the partition is left as it is and
   named (`lakeqa run` quarantines such a file; compaction must not bury it inside a good one);
2. the rows are concatenated in file order (a capture's files in time order: its ids still increase, so
   staging's dedupe proof still holds) into one zstd Parquet file, named by its content
   (``compacted-<16 hex of the content checksum>.parquet``), and read back from memory: the same rows and
   the same content checksum (SHA-256 of the rows as Arrow IPC, schema metadata dropped) as the sources;
3. ``<name>.meta.json`` is written beside it (rows, the file's SHA-256, the content checksum, each source
   file's name, rows and SHA-256), then the Parquet file (temp file, fsync, rename), which is read again
   from disk and its SHA-256 checked;
4. only then are the sources deleted.

Interrupted before 4, the old files are all still there: before the rename nothing of the partition
changed (a temp file is removed, a meta.json whose file never arrived is removed by the next compaction);
after it, the next compaction finds the meta.json, checks the compacted file's SHA-256 and deletes the
sources it names. Between the rename and the deletes a partition holds its rows twice, so compact a day no
QA run is reading (e.g. before the nightly run, in the same timer).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakeqa import atomic
from lakeqa.lake import SCHEMAS, LakeError, check_symbol, day_partitions
from lakeqa.settings import Paths
from lakeqa.window import resolve_day

PREFIX = "compacted-"
META_SUFFIX = ".meta.json"
BLOCK = 4 << 20
LEFT = "left as it is"

EXAMPLE = """examples:
  lakeqa compact --lake /data/lake --day 2024-08-09
  lakeqa compact --lake /data/lake --day 2024-08-09 --symbol BTCUSDT --dry-run
"""


@dataclass(frozen=True)
class Outcome:
    partition: str  # relative to the lake root
    sources: int
    rows: int
    output: str | None  # the compacted file's name; None when nothing was done
    note: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(table: pa.Table) -> str:
    """The rows' checksum, independent of how they were split into files, row groups or chunks."""
    table = table.replace_schema_metadata(None).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=1 << 16)
    return hashlib.sha256(memoryview(sink.getvalue()).cast("B")).hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _finish_interrupted(partition: Path) -> list[str]:
    """Complete or undo what an interrupted compaction left; returns what it did, for the output."""
    done = []
    for meta_path in sorted(partition.glob(f"{PREFIX}*{META_SUFFIX}")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        output = partition / meta["file"]
        leftovers = [partition / s["name"] for s in meta["sources"] if (partition / s["name"]).exists()]
        if not output.exists():
            meta_path.unlink()  # stopped before the rename: the sources are intact
            done.append(f"removed {meta_path.name} (its compaction stopped before its file was written)")
        elif leftovers:
            if file_sha256(output) != meta["sha256"]:
                raise LakeError(f"{output}: its SHA-256 differs from {meta_path.name}'s; the sources are kept")
            for path in leftovers:
                path.unlink()
            done.append(f"finished an interrupted compaction: {len(leftovers)} source file(s) removed")
    return done


def _check_schemas(dataset: str, files: list[Path]) -> None:
    expected = SCHEMAS[dataset]
    for path in files:
        try:
            schema = pq.read_schema(path).remove_metadata()
        except (pa.ArrowInvalid, OSError) as error:
            raise LakeError(f"{path.name}: not a readable Parquet file ({error})") from None
        if not schema.equals(expected):
            got = {f.name: str(f.type) for f in schema}
            wrong = [f"{f.name} is {got.get(f.name, 'missing')}, not {f.type}" for f in expected
                     if got.get(f.name) != str(f.type)] or ["its columns are in another order or extra"]  # fmt: skip
            raise LakeError(f"{path.name}: {'; '.join(wrong)}")


def compact_partition(root: Path, partition: Path, dataset: str, dry_run: bool = False) -> Outcome:
    relative = partition.relative_to(root).as_posix()
    notes = [] if dry_run else _finish_interrupted(partition)
    files = sorted(p for p in partition.glob("*.parquet") if not p.name.startswith("."))
    if len(files) <= 1:
        rows = pq.ParquetFile(files[0]).metadata.num_rows if files else 0
        return Outcome(relative, len(files), rows, None, "; ".join(notes + ["one file already"]))
    _check_schemas(dataset, files)
    sources = []
    tables = []
    for path in files:
        table = pq.ParquetFile(path).read().replace_schema_metadata(None)  # no hive columns from the path
        tables.append(table)
        sources.append({"name": path.name, "rows": table.num_rows, "sha256": file_sha256(path)})
    combined = pa.concat_tables(tables)
    checksum = content_sha256(combined)
    name = f"{PREFIX}{checksum[:16]}.parquet"
    if dry_run:
        return Outcome(relative, len(files), combined.num_rows, name, "dry run: nothing written")
    sink = pa.BufferOutputStream()
    pq.write_table(combined, sink, compression="zstd", write_statistics=True)
    data = memoryview(sink.getvalue()).cast("B")
    back = pq.read_table(pa.BufferReader(data))
    if back.num_rows != combined.num_rows or content_sha256(back) != checksum:
        raise LakeError(f"{relative}: the compacted rows read back differ from the sources; nothing changed")
    sha = hashlib.sha256(data).hexdigest()
    meta = {"file": name, "dataset": dataset, "rows": combined.num_rows, "sha256": sha,
            "content_sha256": checksum, "sources": sources}  # fmt: skip
    output = partition / name
    atomic.write_text(output.with_name(name + META_SUFFIX), json.dumps(meta, indent=2) + "\n")

    def write(tmp: str) -> None:
        Path(tmp).write_bytes(data)
        _fsync(Path(tmp))

    atomic.write_atomically(output, write)
    _fsync(partition)
    if file_sha256(output) != sha:
        raise LakeError(f"{output}: the file on disk differs from what was written; the sources are kept")
    for source in sources:
        if source["name"] != name:
            (partition / source["name"]).unlink()
    _fsync(partition)
    return Outcome(relative, len(files), combined.num_rows, name, "; ".join(notes + ["verified"]))


def partitions_of_day(root: Path, day: str, symbol: str | None = None) -> list[tuple[str, Path]]:
    """(dataset, partition folder) of the day in the lake's layout (LAKE_LAYOUT), one symbol or all."""
    return [(dataset, folder) for dataset, _, _, folder in
            day_partitions(root, day, check_symbol(symbol) if symbol else "*")]  # fmt: skip


def compact(root: Path, day: str, symbol: str | None = None, dry_run: bool = False, out=print) -> list[Outcome]:
    """Compact every partition of the day; a partition that cannot be is named and left as it is, and the
    others go on (the caller's exit code says so: Outcome.output None with a "left as it is" note)."""
    root = Path(root)
    if not root.is_dir():
        raise LakeError(f"lake {root} does not exist")
    partitions = partitions_of_day(root, day, symbol)
    if not partitions:
        which = f"symbol {check_symbol(symbol)} on " if symbol else ""
        raise LakeError(f"the lake at {root} has no partition of {which}{day}")
    outcomes = []
    for i, (dataset, partition) in enumerate(partitions, 1):
        try:
            outcome = compact_partition(root, partition, dataset, dry_run)
        except LakeError as error:
            outcome = Outcome(partition.relative_to(root).as_posix(), 0, 0, None, f"{LEFT}: {error}")
        target = f" -> {outcome.output}" if outcome.output else ""
        out(f"[{i}/{len(partitions)}] {outcome.partition}: {outcome.sources} file(s), {outcome.rows:,} row(s)"
            f"{target} ({outcome.note})")  # fmt: skip
        outcomes.append(outcome)
    return outcomes


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compact",
        help="rewrite each partition of a day from many small files into one, verified (rewrites the lake)",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--lake", default=None, help="lake root (default: env LAKE_ROOT)")
    parser.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the UTC day (or YESTERDAY, LATEST)")
    parser.add_argument("--symbol", default=None, help="only this symbol (default: every symbol of the day)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be compacted; change nothing")
    parser.set_defaults(func=_main)


def _main(args) -> int:
    root = Paths.from_env(lake_root=args.lake).lake_root
    day = resolve_day(args.day, root)
    outcomes = compact(root, day, args.symbol, args.dry_run)
    merged = [o for o in outcomes if o.output]
    refused = [o for o in outcomes if o.note.startswith(LEFT)]
    verb = "would compact" if args.dry_run else "compacted"
    print(f"lakeqa compact: {verb} {len(merged)} of {len(outcomes)} partition(s) of {day}, "
          f"{sum(o.sources for o in merged)} file(s) into {len(merged)}")  # fmt: skip
    if refused:
        print(f"lakeqa compact: error: {len(refused)} partition(s) left as they are (see above)", file=sys.stderr)
        return 1
    return 0
