"""Analysts read a published snapshot; `lakeqa run` writes its own working file.

DuckDB lets one process write a database file only while no other process has it open, even read-only: an
analyst's session on DUCKDB_PATH would make the nightly run fail on DuckDB's lock. So a run never opens
DUCKDB_PATH for writing. It builds in its working file beside it, ``<name>.work.duckdb`` (the state every
run continues from), and when the build has succeeded it publishes: the working file, checkpointed, is
copied to a temporary file beside DUCKDB_PATH, flushed to disk and renamed over DUCKDB_PATH in one step.

- A session open during the run keeps reading the file it opened (the old inode) and never sees a day half
  replaced; a session opened after the run sees the new day.
- A run that fails (dbt's exit 3) or is killed publishes nothing: DUCKDB_PATH keeps the previous state.
- Someone who wrote DUCKDB_PATH directly (e.g. `dbt build` with the same profile) is not overwritten: the
  run remembers the size and modification time of what it published, and when DUCKDB_PATH differs from
  that it starts from a copy of DUCKDB_PATH instead of its working file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb

from lakeqa import atomic


def working_path(published: Path) -> Path:
    """Where a run builds: ``lakeqa.duckdb`` -> ``lakeqa.work.duckdb`` in the same folder."""
    return published.with_name(f"{published.stem}.work{published.suffix or '.duckdb'}")


def _stamp_path(working: Path) -> Path:
    return working.with_name(working.name + ".published.json")


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _copy_atomically(source: Path, target: Path) -> None:
    """``source`` to ``target`` through lakeqa.atomic (temp file beside it, renamed when complete), the copy
    flushed to disk before the rename and the rename itself after it: a crash leaves the old file or the new."""

    def copy_synced(tmp: str) -> None:
        shutil.copyfile(source, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())

    atomic.write_atomically(target, copy_synced)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def prepare(published: Path) -> Path:
    """The working file for a run, brought up to date with ``published`` when that was written by someone
    else (or the working file is missing); returns its path."""
    working = working_path(published)
    working.parent.mkdir(parents=True, exist_ok=True)
    stamp_file = _stamp_path(working)
    if published.exists():
        recorded = json.loads(stamp_file.read_text()) if stamp_file.exists() else None
        if not working.exists() or recorded != _stamp(published):
            for stale in (working.with_name(working.name + ".wal"), stamp_file):
                stale.unlink(missing_ok=True)
            _copy_atomically(published, working)
    return working


def discard(published: Path) -> None:
    """Forget the working file's unpublished changes: the next prepare() starts again from ``published``."""
    _stamp_path(working_path(published)).unlink(missing_ok=True)


def publish(working: Path, published: Path) -> None:
    """Make the working file's state what DUCKDB_PATH holds, in one rename (see the module's docstring)."""
    if not working.exists():
        return
    con = duckdb.connect(str(working))
    try:
        con.execute("checkpoint")  # everything in the main file: the copy needs no .wal beside it
    finally:
        con.close()
    _copy_atomically(working, published)
    _stamp_path(working).write_text(json.dumps(_stamp(published)))
