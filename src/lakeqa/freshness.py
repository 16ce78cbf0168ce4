"""Lake freshness: `dbt source freshness` of the lake's datasets, run in-process, read back per source.

The thresholds are the settings ``freshness.warn_after_hours`` / ``freshness.error_after_hours`` (dbt vars
with their defaults in dbt_project.yml; the sources yml renders them into each source's freshness). dbt
judges the newest row of each dataset (macro lakeqa_lake_loaded_at) against *now*, so the result means
something only for a window that is current (``window_is_current``); `lakeqa run` skips it for a backfill.

A dataset with no file in the lake (a lake without quotes; the optional prebuilt bars_1s) is not selected:
it is reported as "not in the lake", never as an error (its loaded_at query has nothing to read).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from lakeqa.dbt_runner import run_dbt, split_window_vars
from lakeqa.lake import CONTEXT_DATASETS, TIME_COLUMN, partition_glob
from lakeqa.settings import Paths, setting

# the datasets the QA judges: trades, quotes, klines_1m, bars_1s. Not the context series: a market closed
# over the weekend (SPY) is not a stale lake, and their absence is no news (lakeqa.lake.CONTEXT_DATASETS)
SOURCES = tuple(d for d in TIME_COLUMN if d not in CONTEXT_DATASETS)
NOT_IN_LAKE = "not in the lake"
NOT_DECLARED = "no freshness declared"


@dataclass
class SourceFreshness:
    source: str
    status: str  # pass, warn, error (dbt's), runtime error, NOT_IN_LAKE or NOT_DECLARED
    newest: dt.datetime | None = None  # the newest row's time, UTC
    age_s: float | None = None
    warn_after_h: float | None = None
    error_after_h: float | None = None
    message: str = ""

    def line(self) -> str:
        if self.status == NOT_IN_LAKE:
            return f"{self.source:<10} {NOT_IN_LAKE} (no files): not checked"
        if self.status == NOT_DECLARED:
            return f"{self.source:<10} in the lake, {NOT_DECLARED} (optional dataset): not checked"
        if self.newest is None:
            return f"{self.source:<10} {self.status}: {self.message or 'no result from dbt'}"
        return (
            f"{self.source:<10} newest row {format_time(self.newest)}, {format_age(self.age_s)} old:"
            f" {self.status} (warn after {_hours(self.warn_after_h)}, error after {_hours(self.error_after_h)})"
        )

    def stale_message(self) -> str:
        return (
            f"the lake is stale: {self.source} newest row {format_time(self.newest)}"
            f" ({format_age(self.age_s)} old; error_after {_hours(self.error_after_h)})"
        )

    def late_message(self) -> str:
        return (
            f"the lake is late: {self.source} newest row {format_time(self.newest)}"
            f" ({format_age(self.age_s)} old; warn_after {_hours(self.warn_after_h)})"
        )


def format_time(value: dt.datetime | None) -> str:
    if value is None:
        return "none"
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.1f} h"
    days, rest = divmod(int(seconds // 3600), 24)
    return f"{days} d {rest} h"


def _hours(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:g} h"


def datasets_in_lake(lake_root: Path) -> set[str]:
    """The datasets holding at least one file where the loaded_at macro looks: any partition of the layout."""
    return {d for d in SOURCES if next(Path(lake_root).glob(f"{d}/{partition_glob()}/*.parquet"), None) is not None}


def window_is_current(days: list[str], today: dt.date | None = None) -> bool:
    """Whether freshness (measured from now) says something about a window of ``days``: its last day is
    yesterday or today (UTC). A daily run for TODAY, YESTERDAY or a LATEST that is one of them, and an
    hourly run up to NOW, are current; a backfill of an older day or range (or an hourly window that ends
    on an older day) is not."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return dt.date.fromisoformat(max(days)) >= today - dt.timedelta(days=1)


def thresholds(dbt_vars: dict | None = None) -> tuple[float, float]:
    """(warn_after_hours, error_after_hours) as the settings resolve them for ``dbt_vars`` (flat or nested)."""
    return (
        float(setting("freshness.warn_after_hours", dbt_vars)),
        float(setting("freshness.error_after_hours", dbt_vars)),
    )


def freshness_command(paths: Paths, dbt_vars: dict) -> str:
    present = sorted(datasets_in_lake(paths.lake_root))
    _, other = split_window_vars(dbt_vars)
    command = "dbt source freshness --select " + " ".join(f"source:lake.{d}" for d in present)
    return command + (f" --vars '{json.dumps(other, sort_keys=True)}'" if other else "")


def check_freshness(paths: Paths, dbt_vars: dict | None = None) -> list[SourceFreshness]:
    """`dbt source freshness` of the lake's datasets that have files, one SourceFreshness per lake source
    (in SOURCES order). ``dbt_vars``: the run's vars; the non-window ones go to --vars as for the build."""
    dbt_vars = dbt_vars or {}
    warn_h, error_h = thresholds(
        dbt_vars
    )  # also checks the override (an unknown freshness.* key is an error)
    present = datasets_in_lake(paths.lake_root)
    found: dict[str, SourceFreshness] = {}
    if present:
        window, other = split_window_vars(dbt_vars)
        args = ["source", "freshness", "--select", *[f"source:lake.{d}" for d in sorted(present)]]
        if other:
            args += ["--vars", json.dumps(other, sort_keys=True)]
        outcome = run_dbt(args, paths, quiet=True, window=window)
        for result in outcome.results:
            found[result.node.name] = _from_result(result)
    checks = []
    for source in SOURCES:
        if source in found:
            checks.append(found[source])
        elif source in present:
            checks.append(SourceFreshness(source, NOT_DECLARED))
        else:
            checks.append(SourceFreshness(source, NOT_IN_LAKE, warn_after_h=warn_h, error_after_h=error_h))
    return checks


def _from_result(result) -> SourceFreshness:
    node = result.node
    criteria = getattr(node, "freshness", None)

    def count(level: str) -> float | None:
        time = getattr(criteria, level, None) if criteria is not None else None
        if time is None or time.count is None:
            return None
        period = getattr(time.period, "value", time.period)
        return float(time.count) * {"minute": 1 / 60, "hour": 1, "day": 24}[str(period)]

    return SourceFreshness(
        source=node.name,
        status=str(result.status),
        newest=getattr(result, "max_loaded_at", None),
        age_s=getattr(result, "age", None),
        warn_after_h=count("warn_after"),
        error_after_h=count("error_after"),
        message=next(iter(str(getattr(result, "message", None) or "").strip().splitlines()), ""),
    )
