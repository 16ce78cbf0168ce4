"""Free disk space before a run: a run that fills the disk half way through a DuckDB transaction or a
snapshot copy fails late and leaves temporary files; refusing early, with the numbers, is kinder.

The folders checked are those a run writes: the DuckDB file's (the working file and the published copy)
and the output root's. Thresholds are the settings disk.warn_used_pct (80) and disk.refuse_used_pct (95):
percent of the filesystem used, as `df` shows it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

EXIT_NO_SPACE = 6


class DiskFull(RuntimeError):
    """A filesystem the run writes is used beyond disk.refuse_used_pct; the message has the numbers."""


@dataclass(frozen=True)
class Usage:
    folder: Path
    used_pct: float
    free_bytes: int

    def describe(self) -> str:
        return f"{self.folder} is {self.used_pct:.1f} % used ({self.free_bytes / 2**30:.1f} GiB free)"


def usage(folder: Path) -> Usage:
    """How full the filesystem holding `folder` is (its nearest existing parent, before the run creates it)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    total, used, free = shutil.disk_usage(existing)
    # df's "Use%": used / (used + available to unprivileged users)
    return Usage(folder, 100.0 * used / max(1, used + free), free)


def check(folders: list[Path], warn_pct: float, refuse_pct: float) -> list[str]:
    """Warnings for each filesystem used beyond `warn_pct`; raises DiskFull beyond `refuse_pct`."""
    warnings, seen = [], set()
    for folder in folders:
        found = usage(folder)
        if found.used_pct >= refuse_pct:
            raise DiskFull(f"{found.describe()}: at or beyond disk.refuse_used_pct = {refuse_pct:g} %; free some"
                           " space (e.g. lakeqa prune --keep-days N) or raise the setting")  # fmt: skip
        if found.used_pct >= warn_pct and found.describe() not in seen:
            seen.add(found.describe())
            warnings.append(f"{found.describe()}: at or beyond disk.warn_used_pct = {warn_pct:g} %")
    return warnings
