"""Timestamps for people: every time in the report is shown in UTC and in Europe/London.

The warehouse holds naive TIMESTAMPs whose wall time is UTC; London is BST (UTC+1) in summer and GMT
(UTC+0) in winter, so the offset comes from the tz database (zoneinfo), never from a constant.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")


def as_utc(ts: dt.datetime) -> dt.datetime:
    """A naive timestamp holding UTC (or an aware one) as an aware UTC datetime."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def _clock(ts: dt.datetime) -> str:
    text = ts.strftime("%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond // 1000:03d}"
    return text


def fmt_ts(ts: dt.datetime | None) -> str:
    """``2024-08-09 13:04:05 UTC (14:04:05 BST)``; the London date is added when it differs from UTC's."""
    if ts is None:
        return "—"
    if isinstance(ts, dt.date) and not isinstance(ts, dt.datetime):
        ts = dt.datetime(ts.year, ts.month, ts.day)
    utc = as_utc(ts)
    london = utc.astimezone(LONDON)
    local = _clock(london)
    if london.date() != utc.date():
        local = f"{london.date().isoformat()} {local}"
    return f"{utc.date().isoformat()} {_clock(utc)} UTC ({local} {london.tzname()})"


def fmt_span(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """A time range, or one time when both ends are equal."""
    if start is None:
        return fmt_ts(end)
    if end is None or end == start:
        return fmt_ts(start)
    return f"{fmt_ts(start)} → {fmt_ts(end)}"


def london_offset_note(day: dt.date) -> str:
    """``Europe/London is BST (UTC+01:00) on 2024-08-09`` (at noon UTC; a clock-change day says so)."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    names = []
    for hour in (0, 23):
        local = (start + dt.timedelta(hours=hour, minutes=59)).astimezone(LONDON)
        off = local.utcoffset() or dt.timedelta(0)
        label = f"{local.tzname()} (UTC+{int(off.total_seconds()) // 3600:02d}:00)"
        if label not in names:
            names.append(label)
    if len(names) == 1:
        return f"Europe/London is {names[0]} on {day.isoformat()}"
    return f"Europe/London changes clocks on {day.isoformat()}: {names[0]} then {names[1]}"


def clock(ts: dt.datetime, day_start: dt.datetime) -> str:
    """``HH:MM`` (``HH:MM:SS`` off the minute) on the UTC day starting at `day_start`; the next midnight is
    ``24:00``, another day gets its date. The same clocks as the violations' details (lakeqa_clock)."""
    if ts == day_start + dt.timedelta(days=1):
        return "24:00"
    text = ts.strftime("%H:%M") if ts.second == 0 and ts.microsecond == 0 else ts.strftime("%H:%M:%S")
    if ts.date() != day_start.date():
        text = f"{ts.date().isoformat()} {text}"
    return text


def utc_range(start: dt.datetime, end: dt.datetime, day_start: dt.datetime | None = None) -> str:
    """``14:59:59–24:00 UTC``: both clocks on the day of `day_start` (by default `start`'s day)."""
    day_start = day_start or dt.datetime.combine(start.date(), dt.time())
    return f"{clock(start, day_start)}–{clock(end, day_start)} UTC"


def duration(seconds: float) -> str:
    """``45 s``, ``90 min``, ``9 h``, ``1 h 30 min`` (as lakeqa_duration writes them)."""
    if seconds < 120:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if seconds < 7200:
        return f"{minutes} min"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes // 60} h {minutes % 60} min"
