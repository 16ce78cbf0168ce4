"""The days a run covers, resolved once in Python so that dbt, the exports and the report agree."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from lakeqa.lake import LakeError, day_partitions

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def latest_lake_day(lake_root: Path) -> str:
    """The newest date partition of any dataset in the lake."""
    days = [day for _, _, day, _ in day_partitions(lake_root)]
    if not days:
        raise LakeError(
            f"the lake at {lake_root} has no date partitions; import data with `lakeqa import` "
            "or make a demo lake with `lakeqa generate`"
        )
    return max(days)


def resolve_day(value: str, lake_root: Path | None = None, *, name: str = "--day") -> str:
    """YYYY-MM-DD, TODAY, YESTERDAY (UTC) or LATEST -> a checked YYYY-MM-DD string."""
    text = str(value).strip()
    upper = text.upper()
    today = dt.datetime.now(dt.timezone.utc).date()
    if upper == "TODAY":
        return today.isoformat()
    if upper == "YESTERDAY":
        return (today - dt.timedelta(days=1)).isoformat()
    if upper == "LATEST":
        if lake_root is None:
            raise LakeError(f"{name} LATEST needs a lake to look at")
        return latest_lake_day(lake_root)
    if not _DAY_RE.match(text):
        raise LakeError(f"{name} must be YYYY-MM-DD, TODAY, YESTERDAY or LATEST, got {text!r}")
    try:
        dt.date.fromisoformat(text)
    except ValueError as exc:
        raise LakeError(f"{name} {text!r} is not a calendar day") from exc
    return text


def days_between(start: str, end: str) -> list[str]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise LakeError(f"--to {end} is before --from {start}")
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
