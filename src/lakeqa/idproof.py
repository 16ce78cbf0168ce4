"""Which lake files hold each of their ids (trade_id, update_id) once: half of a cheap proof that a
partition has no record twice, so staging can read it without the hash dedupe.

Staging (macros/lake/lakeqa_one_copy_per_id.sql, lakeqa_lake_ids_are_unique) proves "no (symbol, id) twice"
from the files' Parquet statistics when it can: ids dense within each file (exchange trade ids are
consecutive) and the id ranges of a symbol's files apart. Book update ids have gaps, so for quotes the
statistics alone prove nothing and staging fell back to a hash aggregate over every (symbol, update_id) of
the day (the largest single cost of the bars stage). Ids strictly increasing within each file plus the
files' ranges apart prove the same; that needs the id column read once, which this module does with
pyarrow's compute functions (only for files whose statistics do not already show dense ids), on a thread
that runs while dbt imports and parses (pyarrow works outside the interpreter lock), so the proof costs the
run little wall time. Not through numpy: pyarrow's `to_numpy` imports pandas, ~35 MB that dbt's process
would then hold through the bars, its peak of memory, before any model needs pandas.

`lakeqa run` starts it (Proof), names the list's file in env var LAKEQA_UNIQUE_ID_FILES, and makes dbt's
first node wait for it (Proof.wait_at_first_node): the list is complete before any model compiles. A plain
`dbt build` has no list and keeps the statistics-or-hash proof. A file that cannot be read is not listed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakeqa import atomic
from lakeqa.lake import day_partition_files

log = logging.getLogger(__name__)

ENV = "LAKEQA_UNIQUE_ID_FILES"
# the datasets whose records carry an exchange id, and that id's column
ID_COLUMNS = {"trades": "trade_id", "quotes": "update_id"}
# ids read at a time: a day's file (a row group of 1.6 M quotes) read whole kept ~235 MB in pyarrow's
# memory pool for the rest of the run; in batches the proof stays within a few MB (measured)
BATCH_ROWS = 131_072


def ids_unique_within(path: Path | str, column: str) -> bool:
    """True when the file's `column` has no NULL and no value twice: dense by its statistics (as many values
    as the integers from the smallest to the largest), else every value larger than the one before it in
    file order (read in batches of BATCH_ROWS, so a day's file is never in memory whole)."""
    try:
        parquet = pq.ParquetFile(path)
        if _dense_by_statistics(parquet, column):
            return True
        previous = None
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=[column], use_threads=False):
            values = batch.column(0)
            if values.null_count:
                return False
            ids = values.cast(pa.int64())
            if len(ids) == 0:
                continue
            if previous is not None and ids[0].as_py() <= previous:
                return False
            if len(ids) > 1 and not pc.all(pc.greater(ids[1:], ids[:-1])).as_py():
                return False
            previous = ids[-1].as_py()
        return True
    except (OSError, KeyError, IndexError, ValueError, pa.ArrowException) as error:
        log.info("idproof: %s: %s not read (%s): left to staging's own proof", path, column, error)
        return False


def _dense_by_statistics(parquet: pq.ParquetFile, column: str) -> bool:
    meta = parquet.metadata
    index = parquet.schema_arrow.get_field_index(column)
    if index < 0:
        raise KeyError(f"no column {column}")
    n_values, low, high = 0, None, None
    for group in range(meta.num_row_groups):
        chunk = meta.row_group(group).column(index)
        stats = chunk.statistics
        if stats is None or not stats.has_min_max or stats.null_count:
            return False
        n_values += chunk.num_values
        low = stats.min if low is None else min(low, stats.min)
        high = stats.max if high is None else max(high, stats.max)
    return low is not None and int(high) - int(low) + 1 == n_values


def files_with_unique_ids(lake_root: Path | str, days: list[str], kept_out: set[str] = frozenset()) -> list[str]:
    """The files of the days' trades and quotes partitions (except `kept_out`) that hold each id once
    (ids_unique_within); paths as the lake macros list them (LAKE_ROOT joined with the partition path)."""
    proven = []
    try:
        for day in days:
            for dataset, _, path in day_partition_files(lake_root, day):
                column = ID_COLUMNS.get(dataset)
                if column and str(path) not in kept_out and ids_unique_within(path, column):
                    proven.append(str(path))
    finally:
        pa.default_memory_pool().release_unused()  # what the reads left in the pool goes back to the OS
    return sorted(proven)


class Proof:
    """files_with_unique_ids on a thread, written as a JSON list to `path` (atomically) when done."""

    def __init__(self, path: Path, lake_root: Path, days: list[str], kept_out: set[str]):
        self.path = Path(path)
        self.path.unlink(missing_ok=True)  # never a list of another run
        self._thread = threading.Thread(target=self._prove, args=(lake_root, days, kept_out),
                                        name="lakeqa-idproof", daemon=True)  # fmt: skip
        self._thread.start()

    def _prove(self, lake_root, days, kept_out) -> None:
        try:
            files = files_with_unique_ids(lake_root, days, kept_out)
        except Exception as error:  # noqa: BLE001 - an empty list: staging proves the ids unique itself
            log.warning("idproof: no file proven (%s): staging proves the ids unique itself", error)
            files = []
        try:
            atomic.write_text(self.path, json.dumps(files, indent=0) + "\n")
        except OSError as error:  # no list: the macro reads none
            log.warning("idproof: %s not written (%s): staging proves the ids unique itself", self.path, error)

    def wait(self) -> None:
        self._thread.join()

    def wait_at_first_node(self) -> Callable:
        """A dbt event callback: dbt's first NodeStart waits until the list is written, so every model that
        compiles reads it whole."""
        lock = threading.Lock()
        waited = False

        def on_event(event) -> None:
            nonlocal waited
            if event.info.name != "NodeStart" or waited:
                return
            with lock:
                self.wait()
                waited = True

        return on_event
