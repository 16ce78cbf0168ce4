"""lakeqa.atomic, the one way lakeqa writes a file, and the writers that go through it: the permissions
follow the umask like any file the user creates, a failure leaves the old file and no temp file, and
reading the umask does not disturb other threads."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from lakeqa import atomic
from lakeqa.lake import write_atomic_parquet


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(saved)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


WRITERS = {
    "write_text": lambda path: atomic.write_text(path, "one\n"),
    "write_bytes": lambda path: atomic.write_bytes(path, b"\x00\xff"),
    "write_atomically": lambda path: atomic.write_atomically(path, lambda tmp: Path(tmp).write_text("x")),
    "write_text_files": lambda path: atomic.write_text_files([(path, "a"), (path.with_suffix(".b"), "b")])[0],
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_mode_follows_the_umask_like_a_plain_open(writer, mask, expected, umask, tmp_path):
    umask(mask)
    path = WRITERS[writer](tmp_path / "sub" / "file.txt")
    assert mode(path) == expected, oct(mode(path))
    # the same as the file a plain open() makes under that umask (mkstemp alone would make it 0600)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert mode(path) == mode(plain)
    assert leftovers(path.parent) == []


def test_replacing_a_file_gives_it_ordinary_permissions_again(umask, tmp_path):
    umask(0o022)
    path = tmp_path / "f.txt"
    path.write_text("old")
    path.chmod(0o600)
    atomic.write_text(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o644


def test_a_failing_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "f.jsonl"
    atomic.write_text(path, "old\n")

    def half_then_fail(tmp: str) -> None:
        Path(tmp).write_text("half a li")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic.write_atomically(path, half_then_fail)
    assert path.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_several_files_are_all_or_nothing(tmp_path):
    first, second = tmp_path / "a.md", tmp_path / "b.html"
    atomic.write_text_files([(first, "old a"), (second, "old b")])
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where a folder should be")
    with pytest.raises(OSError):
        atomic.write_text_files([(first, "new a"), (blocked / "c.txt", "new c")])
    assert first.read_text() == "old a" and second.read_text() == "old b"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("source", ["proc", "os.umask"])
def test_reading_the_umask_from_many_threads_never_changes_it(source, umask, monkeypatch, tmp_path):
    # the generator writes the lake from a thread pool; reading the umask by setting it to 0 and back
    # without care leaves it at 0 for good once two threads interleave (then every file is 0666)
    if source == "os.umask":  # a system without the Umask line of /proc/self/status
        monkeypatch.setattr(atomic, "_PROC_STATUS", str(tmp_path / "absent"))
    umask(0o027)
    modes: set[int] = set()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:

        def work() -> None:
            modes.update(atomic.ordinary_mode() for _ in range(5_000))

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert modes == {0o640}
    assert os.umask(0o027) == 0o027


# The writers of src/ that go through lakeqa.atomic ------------------------------------------------------


def test_lake_parquet_is_readable_and_identical_bytes_are_not_rewritten(umask, tmp_path):
    umask(0o022)
    table = pa.table({"x": pa.array(range(1000), pa.int64()), "y": pa.array([0xFF] * 1000, pa.int64())})
    path = tmp_path / "trades" / "symbol=BTCUSDT" / "date=2024-08-09" / "f.parquet"
    assert write_atomic_parquet(table, path) is True
    assert mode(path) == 0o644
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    # the same bytes again (bytes >= 0x80 included): no rewrite, the file keeps its mtime
    assert write_atomic_parquet(table, path) is False
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert write_atomic_parquet(table.slice(1), path) is True
    assert path.stat().st_mtime_ns != 1_000_000_000
    assert leftovers(path.parent) == []


def test_generator_ground_truth_is_readable(umask, tmp_path):
    from lakeqa.generate import _write_json_atomic

    umask(0o027)
    path = tmp_path / "_generator" / "ground_truth_2024-08-09.json"
    _write_json_atomic({"b": 1, "a": [1.5]}, path)
    assert mode(path) == 0o640
    assert json.loads(path.read_text()) == {"a": [1.5], "b": 1}
    with pytest.raises(ValueError):
        _write_json_atomic({"a": float("nan")}, path)  # strict JSON, and the old file stays
    assert json.loads(path.read_text()) == {"a": [1.5], "b": 1}
    assert leftovers(path.parent) == []
