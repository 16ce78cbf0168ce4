"""One QA run at a time per database: an exclusive advisory lock on ``<DUCKDB_PATH>.run.lock``.

A second run (a cron overlap, a person re-running a day while the scheduler runs) waits up to ``--wait``
seconds for the first, then gives up with exit code 5 (busy) and a message naming the other run: its pid,
host, start time and window, which the holder writes into the lock file.

The lock is the kernel's (fcntl.flock on the open file): it goes with the process that holds it, so a run
killed with kill -9 never leaves a lock that blocks the next one. The holder's record it leaves in the file
is recognised as stale (the lock is free, its pid not running) and taken over with a message. flock is
local to a machine: runs on two machines sharing a network folder are not serialised by it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EXIT_BUSY = 5
DEFAULT_WAIT_S = 600.0
POLL_S = 0.5


class RunBusy(RuntimeError):
    """Another run held the lock for longer than the wait; the message names it."""


def lock_path(duckdb_path: Path) -> Path:
    return duckdb_path.with_name(duckdb_path.name + ".run.lock")


def describe(holder: dict) -> str:
    """'pid 123 on host, started 2026-12-03 00:15:02 UTC, daily 2024-08-09' (what a record says)."""
    if not holder:
        return "a run that left no record"
    return (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started_at')}, "
            f"{holder.get('window')}")  # fmt: skip


def _read_record(handle) -> dict:
    handle.seek(0)
    text = handle.read()
    try:
        record = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return record if isinstance(record, dict) else {}


def _pid_running(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


@contextmanager
def run_lock(duckdb_path: Path, window: str, wait_s: float = DEFAULT_WAIT_S) -> Iterator[None]:
    """Hold the run lock of the database at ``duckdb_path`` for the block; wait up to ``wait_s`` seconds for
    another holder (a line on stderr says who), then raise RunBusy."""
    path = lock_path(duckdb_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole block
    try:
        deadline = time.monotonic() + max(0.0, wait_s)
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_record(handle)
                if time.monotonic() >= deadline:
                    raise RunBusy(
                        f"another run holds {path}: {describe(holder)}; waited {wait_s:g} s (--wait)"
                    ) from None
                if not told:
                    print(f"lakeqa run: waiting up to {wait_s:g} s for the run of {describe(holder)}",
                          file=sys.stderr, flush=True)  # fmt: skip
                    told = True
                time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        left = _read_record(handle)
        if left and not _pid_running(left.get("pid")):
            print(f"lakeqa run: the lock left by {describe(left)} is stale (that process is gone): taken over",
                  file=sys.stderr, flush=True)  # fmt: skip
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": now, "window": window}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(record))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
