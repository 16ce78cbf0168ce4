"""Inline SVG charts drawn in Python: no JavaScript, no library, nothing fetched.

Every string that comes from data goes through `esc` (html.escape). The SVG elements carry no xmlns
attribute (inline SVG in HTML5 does not need one), so the report holds no URL at all.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape
from typing import Any

from lakeqa.report.timefmt import fmt_ts

SEVERITY_STYLE = {  # shape, colour
    "critical": ("triangle", "#d62728"),
    "major": ("diamond", "#ff7f0e"),
    "minor": ("square", "#a89a00"),
}
UNKNOWN_SEVERITY = ("square", "#7f7f7f")
DETECTOR_COLOURS = {
    "ZSCORE_SPREAD_BP": "#1f77b4",
    "ZSCORE_LOG_VOLUME": "#17becf",
    "ZSCORE_VWAP_DRIFT_BP": "#9467bd",
    "JUMP": "#e377c2",
    "IFOREST": "#2ca02c",
}
UNKNOWN_DETECTOR = "#555555"
LINE_COLOUR = "#334155"
GRID_COLOUR = "#e5e7eb"
AXIS_COLOUR = "#64748b"
TEXT_COLOUR = "#1f2937"


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def detector_colour(detector: str | None) -> str:
    return DETECTOR_COLOURS.get(detector or "", UNKNOWN_DETECTOR)


def severity_style(severity: str | None) -> tuple[str, str]:
    return SEVERITY_STYLE.get((severity or "").lower(), UNKNOWN_SEVERITY)


def _f(x: float) -> str:
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _attrs(attrs: dict[str, Any] | None) -> str:
    """`` class="…" data-x="…"``: attributes for tests and readers of the SVG, values escaped."""
    return "".join(f' {name}="{esc(value)}"' for name, value in (attrs or {}).items())


def marker(
    shape: str,
    x: float,
    y: float,
    size: float,
    fill: str,
    title: str | None = None,
    opacity: float = 0.9,
    attrs: dict[str, Any] | None = None,
) -> str:
    """One marker centred on (x, y); `title` becomes a hover tooltip; `attrs` (class, data-*) are added
    to the element."""
    s = size
    style = f"{_attrs(attrs)[1:]} " if attrs else ""
    style += f'fill="{fill}" fill-opacity="{opacity}" stroke="#ffffff" stroke-width="0.8"'
    if shape == "triangle":
        pts = f"{_f(x)},{_f(y - s)} {_f(x + s)},{_f(y + s * 0.8)} {_f(x - s)},{_f(y + s * 0.8)}"
        body = f'<polygon points="{pts}" {style}'
    elif shape == "diamond":
        pts = f"{_f(x)},{_f(y - s)} {_f(x + s)},{_f(y)} {_f(x)},{_f(y + s)} {_f(x - s)},{_f(y)}"
        body = f'<polygon points="{pts}" {style}'
    elif shape == "square":
        h = s * 0.8
        body = f'<rect x="{_f(x - h)}" y="{_f(y - h)}" width="{_f(2 * h)}" height="{_f(2 * h)}" {style}'
    else:
        body = f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(s * 0.85)}" {style}'
    if title:
        return f"{body}><title>{esc(title)}</title></{body.split()[0][1:]}>"
    return f"{body}/>"


def nice_ticks(lo: float, hi: float, target: int = 4) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks


def fmt_price(value: float, step: float) -> str:
    """A tick label with just enough decimals to tell ticks `step` apart."""
    decimals = 0
    while decimals < 10 and abs(round(step, decimals) - step) > abs(step) * 1e-6:
        decimals += 1
    return f"{value:,.{decimals}f}"


def _time_ticks(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    span_min = (end - start).total_seconds() / 60
    step = next((m for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440) if span_min / m <= 8), 1440)
    first = start.replace(second=0, microsecond=0)
    minute_of_day = first.hour * 60 + first.minute
    offset = (-minute_of_day) % step
    t = first + dt.timedelta(minutes=offset)
    if t < start:
        t += dt.timedelta(minutes=step)
    ticks = []
    while t <= end:
        ticks.append(t)
        t += dt.timedelta(minutes=step)
    return ticks


def _merge(
    marks: list[dict[str, Any]], kind: str, count: str, xof, units: float = 2.0
) -> list[dict[str, Any]]:
    """Merge the marks of one kind that fall within `units` of each other on the x axis (in time order)."""
    merged: dict[tuple[Any, int], dict[str, Any]] = {}
    for m in sorted(marks, key=lambda m: m["minute"]):
        key = (m[kind], int(xof(m["minute"]) // units))
        rules = [r.strip() for r in (m.get("rules") or "").split(",") if r.strip()]
        g = merged.get(key)
        if g is None:
            merged[key] = {**m, "rules": rules, "last_ts": m["ts"]}
            continue
        g[count] += m[count]
        g["rules"] += [r for r in rules if r not in g["rules"]]
        g["ts"], g["last_ts"] = min(g["ts"], m["ts"]), max(g["last_ts"], m["ts"])
    return list(merged.values())


def _when(m: dict[str, Any]) -> str:
    if m["last_ts"] == m["ts"]:
        return f"at {fmt_ts(m['ts'])}"
    return f"from {fmt_ts(m['ts'])} to {fmt_ts(m['last_ts'])}"


def price_chart(
    symbol: str,
    prices: list[tuple[dt.datetime, float | None]],
    window: tuple[dt.datetime, dt.datetime],
    violation_marks: list[dict[str, Any]],
    violation_spans: list[dict[str, Any]],
    anomaly_marks: list[dict[str, Any]],
    *,
    width: int = 480,
    height: int = 220,
) -> str:
    """The 1-minute close of one symbol with its violations (shapes by severity) and anomalies (circles
    coloured by detector, ``circle.anomaly`` with data-detector and data-count) at their times; gap
    violations (with an end time) as shaded spans. `anomaly_marks` are the ones worth drawing (the report
    passes only those beyond the background; the caption counts the rest)."""
    left, right, top, bottom = 66, 22, 18, 40
    pw, ph = width - left - right, height - top - bottom
    start, end = window
    span_s = max((end - start).total_seconds(), 1.0)

    def xof(ts: dt.datetime) -> float:
        frac = (ts - start).total_seconds() / span_s
        return left + min(max(frac, 0.0), 1.0) * pw

    values = [v for _, v in prices if v is not None and math.isfinite(v)]
    out = [
        f'<svg class="chart chart-symbol" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(symbol)}: 1-minute close with violations and anomalies" '
        f'preserveAspectRatio="xMidYMid meet">',
        f"<title>{esc(symbol)}: 1-minute close (UTC)</title>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#ffffff" stroke="{GRID_COLOUR}"/>',
    ]
    if values:
        lo, hi = min(values), max(values)
        if hi == lo:
            pad = abs(lo) * 0.01 or 1.0
            lo, hi = lo - pad, hi + pad
        else:
            pad = (hi - lo) * 0.06
            lo, hi = lo - pad, hi + pad
        ticks = [t for t in nice_ticks(lo, hi) if lo <= t <= hi]
        step = ticks[1] - ticks[0] if len(ticks) > 1 else (hi - lo)
    else:
        lo, hi, ticks, step = 0.0, 1.0, [], 1.0

    def yof(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    # Grid and axes.
    for t in ticks:
        y = yof(t)
        if not top + 3 <= y <= top + ph - 6:  # keep clear of the time labels under the plot
            continue
        out.append(f'<line x1="{left}" y1="{_f(y)}" x2="{left + pw}" y2="{_f(y)}" stroke="{GRID_COLOUR}"/>')
        out.append(
            f'<text x="{left - 4}" y="{_f(y + 4)}" text-anchor="end" font-size="11" '
            f'fill="{AXIS_COLOUR}">{esc(fmt_price(t, step))}</text>'
        )
    for t in _time_ticks(start, end):
        x = xof(t)
        label = "24:00" if t == end and t.time() == dt.time(0) and t > start else t.strftime("%H:%M")
        out.append(f'<line x1="{_f(x)}" y1="{top}" x2="{_f(x)}" y2="{top + ph}" stroke="{GRID_COLOUR}"/>')
        out.append(
            f'<text x="{_f(x)}" y="{top + ph + 14}" text-anchor="middle" font-size="11" '
            f'fill="{AXIS_COLOUR}">{esc(label)}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2:.0f}" y="{height - 4}" text-anchor="middle" font-size="11" '
        f'fill="{AXIS_COLOUR}">time (UTC), {esc(start.date().isoformat())}</text>'
    )
    out.append(f'<text x="4" y="{top - 7}" font-size="11" fill="{AXIS_COLOUR}">close</text>')

    # Gap spans under the line.
    for span in violation_spans:
        x1, x2 = xof(span["start"]), xof(span["end"])
        _, colour = severity_style(span["severity"])
        title = f"{span['rule']} ({span['severity']}): {fmt_ts(span['start'])} → {fmt_ts(span['end'])}"
        out.append(
            f'<rect x="{_f(x1)}" y="{top}" width="{_f(max(x2 - x1, 1.5))}" height="{ph}" fill="{colour}" '
            f'fill-opacity="0.15"><title>{esc(title)}</title></rect>'
        )

    # The price line, broken at missing closes and at holes longer than 5 minutes.
    close_at: dict[dt.datetime, float] = {}
    segments: list[list[str]] = []
    current: list[str] = []
    prev_ts: dt.datetime | None = None
    for ts, v in prices:
        ok = v is not None and math.isfinite(v)
        if not ok or (prev_ts is not None and (ts - prev_ts).total_seconds() > 300):
            if len(current) > 0:
                segments.append(current)
            current = []
        if ok:
            current.append(f"{_f(xof(ts))},{_f(yof(v))}")
            close_at[ts.replace(second=0, microsecond=0)] = v
        prev_ts = ts
    if current:
        segments.append(current)
    for seg in segments:
        if len(seg) == 1:
            x, y = seg[0].split(",")
            out.append(f'<circle cx="{x}" cy="{y}" r="1.2" fill="{LINE_COLOUR}"/>')
        else:
            out.append(
                f'<polyline points="{" ".join(seg)}" fill="none" stroke="{LINE_COLOUR}" '
                f'stroke-width="1.25" stroke-linejoin="round"/>'
            )
    if not values:
        out.append(
            f'<text x="{left + pw / 2:.0f}" y="{top + ph / 2:.0f}" text-anchor="middle" font-size="12" '
            f'fill="{AXIS_COLOUR}">no 1-minute bars for this day</text>'
        )

    def y_at(minute: dt.datetime, offset: float) -> float:
        """Violations sit just above the line and anomalies just below it, so that both stay visible when
        they share a minute. Where the bar has no price (a NaN close, a hole) they sit on the bottom edge,
        under a dashed line that marks the minute."""
        v = close_at.get(minute)
        if v is None:
            return top + ph - (13 if offset < 0 else 5)
        return min(max(yof(v) + offset, top + 4), top + ph - 4)

    no_price = sorted(
        {m["minute"] for m in (*violation_marks, *anomaly_marks) if m["minute"] not in close_at}
    )
    for minute in no_price[:500]:
        x = _f(xof(minute))
        out.append(
            f'<line x1="{x}" y1="{top}" x2="{x}" y2="{top + ph}" stroke="{AXIS_COLOUR}" stroke-width="0.8" '
            f'stroke-dasharray="2 2"/>'
        )

    # Markers: minor first, critical last (on top), then anomalies. Marks of one kind closer than 2 units
    # on the x axis would cover each other: they merge into one (its tooltip gives the count and span).
    order = {"minor": 0, "major": 1, "critical": 2}
    merged_v = _merge(violation_marks, "severity", "count", xof)
    for m in sorted(merged_v, key=lambda m: order.get(m["severity"], -1)):
        shape, colour = severity_style(m["severity"])
        title = f"{m['count']} {m['severity']} violation(s) {', '.join(m['rules'])} {_when(m)}"
        out.append(marker(shape, xof(m["minute"]), y_at(m["minute"], -6), 4.2, colour, title))
    for m in _merge(anomaly_marks, "detector", "expanded", xof):
        n = m["expanded"]
        title = f"{n} {m['detector']} anomal{'y' if n == 1 else 'ies'} {_when(m)}"
        size = 3.6 if n == 1 else 4.6
        colour = detector_colour(m["detector"])
        attrs = {"class": "anomaly", "data-detector": m["detector"], "data-count": n}
        out.append(marker("circle", xof(m["minute"]), y_at(m["minute"], 6), size, colour, title, attrs=attrs))
    out.append("</svg>")
    return "".join(out)


def legend(detectors: list[str]) -> str:
    """The shared legend of the price charts."""
    items: list[tuple[str, str, str]] = [("line", LINE_COLOUR, "1-minute close")]
    for sev in ("critical", "major", "minor"):
        shape, colour = SEVERITY_STYLE[sev]
        items.append((shape, colour, f"{sev} violation"))
    items.append(("span", SEVERITY_STYLE["critical"][1], "gap (start → end)"))
    for det in detectors:
        items.append(("circle", detector_colour(det), f"anomaly: {det}"))
    x, y, row_h, width = 8, 14, 20, 960
    parts: list[str] = []
    for shape, colour, label in items:
        w = 26 + 7.0 * len(label) + 20
        if x + w > width:
            x, y = 8, y + row_h
        if shape == "line":
            parts.append(
                f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{colour}" stroke-width="2"/>'
            )
        elif shape == "span":
            parts.append(
                f'<rect x="{x}" y="{y - 7}" width="18" height="14" fill="{colour}" fill-opacity="0.15"/>'
            )
        else:
            parts.append(marker(shape, x + 9, y, 5.5, colour))
        parts.append(
            f'<text x="{x + 24}" y="{y + 4}" font-size="12" fill="{TEXT_COLOUR}">{esc(label)}</text>'
        )
        x += int(w)
    height = y + 12
    return (
        f'<svg class="legend" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="legend">{"".join(parts)}</svg>'
    )


def bar_chart(title: str, rows: list[tuple[str, float, str, str]], *, empty: str = "nothing to show") -> str:
    """Horizontal bars: rows of (label, value, colour, value text), drawn at their natural size (the SVG
    has a width and height, so a wide page does not blow the text up)."""
    label_w = max([int(7.6 * len(r[0])) + 14 for r in rows] + [90])
    text_w = max([int(7.0 * len(r[3])) + 12 for r in rows] + [40])
    bar_w, row_h, top = 300, 24, 6
    width = label_w + bar_w + text_w
    height = top + max(len(rows), 1) * row_h + 6
    out = [
        f'<svg class="chart chart-counts" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>'
    ]
    if not rows:
        out.append(f'<text x="0" y="{top + 16}" font-size="12" fill="{AXIS_COLOUR}">{esc(empty)}</text>')
    vmax = max((r[1] for r in rows), default=0) or 1
    for i, (label, value, colour, text) in enumerate(rows):
        y = top + i * row_h
        w = max(value / vmax * bar_w, 1.5 if value > 0 else 0)
        out.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12" '
            f'fill="{TEXT_COLOUR}">{esc(label)}</text>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{_f(w)}" height="{row_h - 7}" fill="{colour}" rx="2">'
            f"<title>{esc(label)}: {esc(text)}</title></rect>"
        )
        out.append(
            f'<text x="{_f(label_w + w + 6)}" y="{y + 15}" font-size="12" '
            f'fill="{TEXT_COLOUR}">{esc(text)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class SplitBar:
    """One row of `split_bar_chart`: a count beyond the background and a background count."""

    label: str
    beyond: int
    beyond_text: str
    background: int
    background_text: str
    colour: str


BACKGROUND_OPACITY = 0.28  # the background bar: the row's colour, faint, so the beyond bar stands out


def split_bar_chart(title: str, rows: list[SplitBar], *, empty: str = "nothing to show") -> str:
    """Two columns of horizontal bars per row: beyond the background first (solid, ``rect.bar-beyond``),
    then the background (faint, ``rect.bar-background``), each with a header as its legend. Each column
    has its own scale: hundreds of background records would otherwise shrink the few that matter to a
    sliver. Drawn at natural size, like `bar_chart`."""
    label_w = max([int(7.6 * len(r.label)) + 14 for r in rows] + [90])
    beyond_text_w = max([int(7.0 * len(r.beyond_text)) + 12 for r in rows] + [60])
    background_text_w = max([int(7.0 * len(r.background_text)) + 12 for r in rows] + [60])
    bar_w, row_h, header_h, gap = 200, 24, 22, 16
    columns = [
        # (x, header, header swatch opacity, value of a row, its text, its class)
        (label_w, "beyond the background", 1.0, "beyond", "beyond_text", "bar bar-beyond"),
        (
            label_w + bar_w + beyond_text_w + gap,
            "background (not drawn on the price charts)",
            BACKGROUND_OPACITY,
            "background",
            "background_text",
            "bar bar-background",
        ),
    ]
    width = max(columns[1][0] + bar_w + background_text_w, columns[1][0] + 7 * len(columns[1][1]) + 24)
    height = header_h + max(len(rows), 1) * row_h + 6
    out = [
        f'<svg class="chart chart-counts" data-columns="beyond background" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>'
    ]
    if not rows:
        out.append(f'<text x="0" y="{header_h + 10}" font-size="12" fill="{AXIS_COLOUR}">{esc(empty)}</text>')
        out.append("</svg>")
        return "".join(out)
    for x, header, opacity, _, _, css in columns:
        out.append(
            f'<rect class="legend-swatch {css.split()[-1]}" x="{x}" y="5" width="14" height="10" '
            f'fill="{AXIS_COLOUR}" fill-opacity="{opacity}" stroke="{AXIS_COLOUR}" stroke-width="0.6"/>'
        )
        out.append(f'<text x="{x + 19}" y="14" font-size="12" fill="{TEXT_COLOUR}">{esc(header)}</text>')
    for x, _, opacity, value_of, text_of, css in columns:
        vmax = max(getattr(r, value_of) for r in rows) or 1
        for i, r in enumerate(rows):
            y = header_h + i * row_h
            value, text = getattr(r, value_of), getattr(r, text_of)
            w = max(value / vmax * bar_w, 1.5) if value > 0 else 0
            stroke = f' stroke="{r.colour}" stroke-width="0.8"' if opacity < 1 else ""
            if value > 0:  # no bar for nothing (a zero-width outlined rect still paints a line)
                out.append(
                    f'<rect class="{css}" data-label="{esc(r.label)}" data-count="{value}" x="{x}" '
                    f'y="{y + 3}" width="{_f(w)}" height="{row_h - 7}" fill="{r.colour}" '
                    f'fill-opacity="{opacity}"{stroke} rx="2"><title>{esc(r.label)}: {esc(text)}</title></rect>'
                )
            out.append(
                f'<text x="{_f(x + w + 6)}" y="{y + 15}" font-size="12" fill="{TEXT_COLOUR}">{esc(text)}</text>'
            )
    for i, r in enumerate(rows):
        out.append(
            f'<text x="{label_w - 6}" y="{header_h + i * row_h + 15}" text-anchor="end" font-size="12" '
            f'fill="{TEXT_COLOUR}">{esc(r.label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


COVERED_COLOUR = "#4ade80"
GAP_COLOUR = "#dc2626"
MISSING_COLOUR = "#94a3b8"


def coverage_timeline(
    symbol: str,
    lanes: list[dict[str, Any]],
    window: tuple[dt.datetime, dt.datetime],
    *,
    width: int = 480,
) -> str:
    """One lane per dataset across the window (UTC): filled from the first to the last record, the gaps
    (completeness violations, long kline silences) cut out in red, each a ``rect.gap`` with its dataset,
    rule and interval as data attributes and a title; a missing dataset is an empty dashed lane.

    `lanes`: dicts with dataset, state (ok, missing, absent), note, first, last, grain_s, gaps (dicts with
    start, end, rules, title)."""
    left, right, top, lane_h, lane_gap, axis_h = 74, 86, 6, 14, 6, 30
    pw = width - left - right
    height = top + max(len(lanes), 1) * (lane_h + lane_gap) + axis_h
    start, end = window
    span_s = max((end - start).total_seconds(), 1.0)

    def xof(ts: dt.datetime) -> float:
        frac = (ts - start).total_seconds() / span_s
        return left + min(max(frac, 0.0), 1.0) * pw

    out = [
        f'<svg class="chart chart-coverage" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(symbol)}: coverage timeline" data-symbol="{esc(symbol)}" '
        f'preserveAspectRatio="xMidYMid meet">',
        f"<title>{esc(symbol)}: what arrived per dataset (UTC)</title>",
    ]
    ticks = _time_ticks(start, end)
    bottom = top + len(lanes) * (lane_h + lane_gap) - lane_gap
    for t in ticks:
        x = xof(t)
        label = "24:00" if t == end and t.time() == dt.time(0) and t > start else t.strftime("%H:%M")
        out.append(f'<line x1="{_f(x)}" y1="{top}" x2="{_f(x)}" y2="{bottom}" stroke="{GRID_COLOUR}"/>')
        out.append(
            f'<text x="{_f(x)}" y="{bottom + 13}" text-anchor="middle" font-size="11" '
            f'fill="{AXIS_COLOUR}">{esc(label)}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2:.0f}" y="{height - 3}" text-anchor="middle" font-size="11" '
        f'fill="{AXIS_COLOUR}">time (UTC), {esc(start.date().isoformat())}</text>'
    )
    for i, lane in enumerate(lanes):
        y = top + i * (lane_h + lane_gap)
        ds = lane["dataset"]
        out.append(
            f'<text x="{left - 6}" y="{y + 11}" text-anchor="end" font-size="11" '
            f'fill="{TEXT_COLOUR}">{esc(ds)}</text>'
        )
        out.append(
            f'<text x="{left + pw + 6}" y="{y + 11}" font-size="11" fill="{AXIS_COLOUR}">{esc(lane["note"])}</text>'
        )
        if lane["state"] != "ok":
            css = "lane-missing" if lane["state"] == "missing" else "lane-absent"
            dash = ' stroke-dasharray="3 2"' if lane["state"] == "missing" else ""
            out.append(
                f'<rect class="{css}" data-dataset="{esc(ds)}" x="{left}" y="{y}" width="{pw}" height="{lane_h}" '
                f'fill="#f8fafc" stroke="{MISSING_COLOUR}"{dash}><title>{esc(symbol)} {esc(ds)}: '
                f"{esc(lane['note'])}</title></rect>"
            )
            out.append(
                f'<text x="{left + pw / 2:.0f}" y="{y + 11}" text-anchor="middle" font-size="10" '
                f'fill="{AXIS_COLOUR}">{esc(lane["note"])}</text>'
            )
            continue
        out.append(
            f'<rect x="{left}" y="{y}" width="{pw}" height="{lane_h}" fill="#ffffff" stroke="{GRID_COLOUR}"/>'
        )
        first, last = lane.get("first") or start, lane.get("last") or end
        last_end = min(last + dt.timedelta(seconds=lane.get("grain_s") or 1), end)
        x1, x2 = xof(max(first, start)), xof(max(last_end, start))
        if x2 > x1:
            out.append(
                f'<rect class="covered" x="{_f(x1)}" y="{y + 1}" width="{_f(max(x2 - x1, 1.0))}" '
                f'height="{lane_h - 2}" fill="{COVERED_COLOUR}"><title>{esc(symbol)} {esc(ds)}: records '
                f"{esc(fmt_ts(first))} → {esc(fmt_ts(last))}</title></rect>"
            )
        for g in lane["gaps"]:
            gx1, gx2 = xof(g["start"]), xof(g["end"])
            out.append(
                f'<rect class="gap" data-dataset="{esc(ds)}" data-rule="{esc(",".join(g["rules"]))}" '
                f'data-start="{esc(g["start"].isoformat())}" data-end="{esc(g["end"].isoformat())}" '
                f'x="{_f(gx1)}" y="{y}" width="{_f(max(gx2 - gx1, 2.0))}" height="{lane_h}" fill="{GAP_COLOUR}" '
                f'fill-opacity="0.85"><title>{esc(g["title"])}</title></rect>'
            )
    out.append("</svg>")
    return "".join(out)
