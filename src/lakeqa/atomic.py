"""The one way lakeqa writes a file: a temp file beside the target, flushed, given ordinary permissions,
then renamed into place.

A reader never sees a half-written file, a failure leaves the previous file as it was, and the result is
readable by others like any file the user creates (0644 under the usual umask 022): ``tempfile.mkstemp``
makes its files 0600, which a dashboard or a colleague could not read.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["ordinary_mode", "write_atomically", "write_bytes", "write_text", "write_text_files"]

_UMASK_LOCK = threading.Lock()
_PROC_STATUS = "/proc/self/status"
_PROC_UMASK = re.compile(r"^Umask:\s*([0-7]+)\s*$", re.MULTILINE)


def _current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux >= 4.7 shows it in
    /proc/self/status). Elsewhere it can only be read by setting it, and ``os.umask`` is process-wide:
    the generator writes the lake from a thread pool, so the value set meanwhile is the restrictive 077
    (a file another thread creates in that instant is private rather than world-writable), and the lock
    keeps two callers here from restoring each other's temporary value for good."""
    try:
        with open(_PROC_STATUS, encoding="ascii") as fh:
            found = _PROC_UMASK.search(fh.read())
        if found:
            return int(found.group(1), 8)
    except OSError:
        pass
    with _UMASK_LOCK:
        umask = os.umask(0o077)
        os.umask(umask)
    return umask


def ordinary_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0666 less the process's umask."""
    return 0o666 & ~_current_umask()


def _temp_beside(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return tmp


def write_atomically(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` to fill a temp file beside ``path``, then move it into place."""
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        write(tmp)
        os.chmod(tmp, ordinary_mode())
        os.replace(tmp, path)
        return path
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(path: Path, data: bytes) -> Path:
    return write_atomically(path, lambda tmp: Path(tmp).write_bytes(data))


def write_text(path: Path, text: str) -> Path:
    return write_text_files([(Path(path), text)])[0]


def write_text_files(files: Iterable[tuple[Path, str]]) -> list[Path]:
    """Write several UTF-8 text files (newline ``\\n``) all or nothing: every temp file is written and
    synced before the first rename, so an error leaves every existing file as it was."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            path = Path(path)
            tmp = _temp_beside(path)
            temps.append((tmp, path))
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, ordinary_mode())
        for tmp, path in temps:
            os.replace(tmp, path)
        return [path for _, path in temps]
    finally:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
