"""Each run's output, kept: everything `lakeqa run` (and dbt inside it) prints also goes, line by line with
a UTC time, to ``logs/qa/lakeqa.log`` (beside dbt's own logs: DBT_LOG_PATH, else the project's logs/).

Rotation is the standard library's TimedRotatingFileHandler: at the first line after UTC midnight the file
becomes ``lakeqa.log.YYYY-MM-DD`` and only the newest ``logs.keep_days`` (14) of those are kept.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakeqa.settings import Paths


def log_dir(paths: Paths) -> Path:
    return Path(os.environ.get("DBT_LOG_PATH") or paths.project_dir / "logs") / "qa"


class _Tee(io.TextIOBase):
    """A text stream that writes through to `stream` and sends each complete line to `logger`."""

    def __init__(self, stream, logger: logging.Logger, prefix: str):
        self._stream, self._logger, self._prefix, self._partial = stream, logger, prefix, ""

    def write(self, text: str) -> int:
        self._stream.write(text)
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._logger.info("%s%s", self._prefix, line)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self):
        return getattr(self._stream, "encoding", "utf-8")

    def fileno(self) -> int:
        return self._stream.fileno()

    def close_line(self) -> None:
        if self._partial:
            self._logger.info("%s%s", self._prefix, self._partial)
            self._partial = ""


@contextmanager
def run_log(paths: Paths, keep_days: int) -> Iterator[Path]:
    """Copy stdout and stderr into the rotated run log for the block; yields the log file's path."""
    folder = log_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lakeqa.log"
    handler = logging.handlers.TimedRotatingFileHandler(
        path, when="midnight", backupCount=max(1, int(keep_days)), utc=True, encoding="utf-8"
    )
    formatter = logging.Formatter("%(asctime)s pid %(process)d  %(message)s", "%Y-%m-%d %H:%M:%S")
    formatter.converter = time.gmtime  # UTC, as every time lakeqa shows
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"lakeqa.runlog.{id(handler)}")
    logger.propagate = False  # only to the file: the terminal already has the line
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    out, err = _Tee(sys.stdout, logger, ""), _Tee(sys.stderr, logger, "[stderr] ")
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield path
    except BaseException as exc:
        logger.info("[error] %s: %s", type(exc).__name__, exc)
        raise
    finally:
        sys.stdout, sys.stderr = saved
        out.close_line()
        err.close_line()
        logger.removeHandler(handler)
        handler.close()
