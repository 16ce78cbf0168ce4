"""The report's one context: what both templates show, built from `ReportData` as plain dicts and lists.

Values are plain text (numbers formatted, times in UTC and Europe/London); each template escapes them for
its format. The charts are finished SVG strings from `svg`, which escapes the data it draws.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

from lakeqa.exports import anomalies_path, fusion_path, mode_suffix, violations_path
from lakeqa.report import svg
from lakeqa.report.queries import DATASETS, SEVERITIES, VERDICT_RANK, VERDICTS, ReportData
from lakeqa.report.timefmt import duration, fmt_span, fmt_ts, london_offset_note, utc_range

MODES = ("daily", "hourly")
REPORT_DIR = Path("reports") / "qa"
SYMBOL_LIST_CAP = 8
# background records listed per symbol at most, where the per-symbol cap leaves room after the records
# beyond the background: a few show what the background looks like; more would bury the rest
BACKGROUND_LIST_CAP = 3


def report_names(date: str, mode: str) -> tuple[str, str]:
    """The Markdown and HTML file names of the report of ``date`` in ``mode``."""
    stem = f"{date}_qa_report{mode_suffix(mode)}"
    return f"{stem}.md", f"{stem}.html"


# --------------------------------------------------------------------------------------------------------
# Formatting


def _n(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _symbols_text(symbols: list[str]) -> str:
    shown = ", ".join(symbols[:SYMBOL_LIST_CAP])
    more = len(symbols) - SYMBOL_LIST_CAP
    return f"{shown} +{more} more" if more > 0 else shown


def _table(columns: list[tuple[str, str]], rows: list[list[str]]) -> dict[str, Any]:
    """A table for the templates: columns as (name, kind), kind one of text, num, ts, verdict."""
    return {"columns": [{"name": name, "kind": kind} for name, kind in columns], "rows": rows}


# why a background record is background (queries.BACKGROUND_REASONS), as the report says it
BACKGROUND_REASON_TEXT = {
    "cold_start": "cold start",
    "iforest_share": "IsolationForest's expected share",
    "clean_day_background": "within the detector's clean-day background",
}
BASELINE_TEXT = {"cold_start": "cold start"}  # the baselines a record line names (history is the norm)


def _anomalies(expanded: int, records: int) -> str:
    """``36 anomalies from 29 records``: cluster records count as many anomalies as they merge."""
    text = _plural(expanded, "anomaly", "anomalies")
    return text if expanded == records else f"{text} from {_plural(records, 'record')}"


def beyond_phrase(expanded: int, records: int) -> str:
    """``12 anomalies beyond the background`` (``… (from 10 records)`` when clusters merge some)."""
    text = f"{_plural(expanded, 'anomaly', 'anomalies')} beyond the background"
    return text if expanded == records else f"{text} (from {_plural(records, 'record')})"


def background_phrase(records: int, by_reason: dict[str, int]) -> str:
    """``1,084 background records (IsolationForest's expected share 1,000, cold start 84)``, the largest
    share first; one reason alone is named without its count (it is the total)."""
    text = _plural(records, "background record")
    reasons = sorted(
        ((BACKGROUND_REASON_TEXT.get(r, r), n) for r, n in by_reason.items() if n), key=lambda x: -x[1]
    )
    if len(reasons) == 1:
        text += f" ({reasons[0][0]})"
    elif reasons:
        text += " (" + ", ".join(f"{name} {n:,}" for name, n in reasons) + ")"
    return text


def anomalies_phrase(data: ReportData) -> str:
    """The day's anomalies as a person should read them: those beyond the background, then the expected
    background counted (not alarms), then the total."""
    return (
        f"{beyond_phrase(data.beyond_expanded, data.beyond_records)}, "
        f"{background_phrase(data.background_records, data.background_by_reason)}; "
        f"{_anomalies(data.anomalies_expanded, data.anomaly_records)} in all"
    )


# --------------------------------------------------------------------------------------------------------
# Sections


def _no_data_symbols(data: ReportData) -> list[str]:
    out = []
    for r in data.fusion:
        reason = (r["reason"] or "").lower()
        if reason.startswith("no data") or (r["n_bars"] == 0 and r["symbol"] not in data.prices):
            out.append(r["symbol"])
    return sorted(set(out))


def summary_items(data: ReportData) -> list[tuple[str, str]]:
    items = []
    no_data = _no_data_symbols(data)
    sym = f"{len(data.symbols):,}"
    if no_data:
        sym += f" ({len(no_data)} without data: {_symbols_text(no_data)})"
    items.append(("Symbols", sym))
    for name, count in (("Bars (1m)", data.bars_1m), ("Bars (1s)", data.bars_1s)):
        items.append((name, _n(count) if count is not None else f"not available (no bars_{name[6:8]} table)"))
    if data.present("violations"):
        sev = ", ".join(f"{s} {data.violations_by_severity.get(s, 0):,}" for s in SEVERITIES)
        extra = {k: v for k, v in data.violations_by_severity.items() if k not in SEVERITIES and v}
        if extra:
            sev += ", " + ", ".join(f"{k} {v:,}" for k, v in sorted(extra.items()))
        items.append(("Violations", f"{data.violations_total:,} ({sev})"))
    else:
        items.append(("Violations", "not available (no violations table)"))
    if data.present("anomalies"):
        items.append(("Anomalies", f"{anomalies_phrase(data)} (clusters expanded)"))
    else:
        items.append(("Anomalies", "not available (no anomalies table: detectors disabled or not run)"))
    if data.present("fusion"):
        verdicts = ", ".join(f"{v} {data.verdicts.get(v, 0):,}" for v in VERDICTS)
        other = {k: c for k, c in data.verdicts.items() if k not in VERDICTS and c}
        if other:
            verdicts += ", " + ", ".join(f"{k} {c:,}" for k, c in sorted(other.items()))
        unit = "symbol-hours" if data.mode == "hourly" else "symbols"
        items.append(("Verdicts", f"{verdicts} ({_plural(len(data.fusion), 'row')} over {unit})"))
    else:
        items.append(("Verdicts", "not available (no fusion table)"))
    return items


def fusion_table(data: ReportData) -> dict[str, Any]:
    hourly = data.mode == "hourly"
    numbers = ["score", "schema", "detector", "AI", "bars", "critical", "major", "minor", "anomalies"]
    columns = (
        [("symbol", "text")]
        + ([("hour", "ts")] if hourly else [])
        + [("verdict", "verdict")]
        + [(name, "num") for name in numbers]
        + [("reason", "text")]
    )
    rows = []
    for r in data.fusion:
        row = [r["symbol"] or ""]
        if hourly:
            row.append(fmt_ts(r["ts"]))
        row += [
            r["verdict"],
            _score(r["score"]),
            _score(r["schema_score"]),
            _score(r["detector_score"]),
            _score(r["ai_confidence"]),
            _n(r["n_bars"]),
            _n(r["n_violations_critical"]),
            _n(r["n_violations_major"]),
            _n(r["n_violations_minor"]),
            _n(r["n_anomalies"]),
            r["reason"] or "",
        ]
        rows.append(row)
    return _table(columns, rows)


def what_broke(data: ReportData) -> list[dict[str, str]]:
    """Every symbol-day (symbol-hour in hourly mode) that FAILs or needs REVIEW, FAIL first, with its fusion
    reason: a sentence naming the rule, the UTC range and the size."""
    out = []
    for verdict in ("FAIL", "REVIEW"):
        for r in data.fusion:  # worst first already: lowest score first within a verdict
            if r["verdict"] != verdict:
                continue
            when = ""
            if data.mode == "hourly" and isinstance(r["ts"], dt.datetime):
                when = utc_range(r["ts"], r["ts"] + dt.timedelta(hours=1))
            out.append(
                {
                    "verdict": verdict,
                    "symbol": r["symbol"] or "(no symbol)",
                    "when": when,
                    "reason": r["reason"] or "(no reason given)",
                }
            )
    return out


def _day_start(data: ReportData) -> dt.datetime:
    return dt.datetime.combine(data.day, dt.time())


def _dataset_order(names) -> list[str]:
    names = set(names)
    return [d for d in DATASETS if d in names] + sorted(names - set(DATASETS))


def coverage_datasets(data: ReportData) -> list[str]:
    """The lanes of every symbol's timeline: the datasets any symbol has in coverage, in a fixed order."""
    return _dataset_order(d for datasets in data.coverage.values() for d in datasets)


def merged_gaps(gaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overlapping or touching gaps of one lane as one interval, with the rules behind it."""
    merged: list[dict[str, Any]] = []
    for g in sorted(gaps, key=lambda g: (g["start"], g["end"])):
        if merged and g["start"] <= merged[-1]["end"]:
            last = merged[-1]
            last["end"] = max(last["end"], g["end"])
            if g["rule"] not in last["rules"]:
                last["rules"].append(g["rule"])
            last["details"].append(g["detail"])
        else:
            merged.append(
                {"start": g["start"], "end": g["end"], "rules": [g["rule"]], "details": [g["detail"]]}
            )
    return merged


def _rows_text(entry: dict[str, Any]) -> str:
    n, median = entry["n_rows"], entry["hist_median_rows"]
    text = f"{n:,}" if n else "missing"
    if median and not n:
        text += f" (median {round(median):,})"
    elif median:
        change = round(100 * (n / median - 1))
        sign = "−" if change < 0 else ("+" if change > 0 else "±")
        text += f" (median {round(median):,}, {sign}{abs(change)} %)"
    elif entry.get("hist_days_measured") == 0:
        text += " (no history yet)"
    return text


def coverage_table(data: ReportData) -> dict[str, Any]:
    """Per symbol (worst verdict first) and dataset: rows vs the trailing median, first-last record,
    longest silence with its range, covered share, and the gaps the completeness rules found."""
    day_start = _day_start(data)
    rows = []
    for s in symbol_order(data):
        datasets = data.coverage.get(s)
        if not datasets:
            continue
        for ds in _dataset_order(datasets):
            e = datasets[ds]
            if e["n_rows"] and e["first_ts"] is not None and e["last_ts"] is not None:
                span = utc_range(e["first_ts"], e["last_ts"], day_start)
            else:
                span = "—"
            if e["silence_s"] and e["silence_start"] is not None and e["silence_end"] is not None:
                silence = f"{duration(e['silence_s'])} ({utc_range(e['silence_start'], e['silence_end'], day_start)})"
            else:
                silence = "—"
            share = "—" if e["covered_share"] is None else f"{100 * e['covered_share']:.1f} %"
            gaps = merged_gaps(data.coverage_gaps.get(s, {}).get(ds, []))
            gap_text = "; ".join(
                f"{utc_range(g['start'], g['end'], day_start)} ({', '.join(g['rules'])})" for g in gaps[:3]
            )
            if len(gaps) > 3:
                gap_text += f"; +{len(gaps) - 3} more"
            rows.append(
                [
                    s,
                    ds,
                    _rows_text(e),
                    span,
                    silence,
                    share,
                    gap_text or ("whole period" if not e["n_rows"] else ""),
                ]
            )
    columns = [
        ("symbol", "text"),
        ("dataset", "text"),
        ("rows", "text"),
        ("first–last record", "text"),
        ("longest silence", "text"),
        ("covered", "num"),
        ("gaps", "text"),
    ]
    return _table(columns, rows)


def rules_table(data: ReportData) -> dict[str, Any]:
    rows = [
        [
            r["rule"] or "",
            r["severity"] or "",
            f"{r['count']:,}",
            f"{r['n_symbols']:,}: {_symbols_text(r['symbols'])}",
            fmt_ts(r["first"]),
            fmt_ts(r["last"]),
        ]
        for r in data.violations_by_rule
    ]
    columns = [
        ("rule", "text"),
        ("severity", "text"),
        ("violations", "num"),
        ("symbols affected", "text"),
        ("first", "ts"),
        ("last", "ts"),
    ]
    return _table(columns, rows)


def detectors_table(data: ReportData) -> dict[str, Any]:
    """Per detector (most anomalies beyond the background first): those anomalies (clusters expanded),
    the background records (cold starts among them), all records, and the span of the beyond ones."""
    rows = [
        [
            r["detector"] or "",
            f"{r['beyond']:,}",
            f"{r['background_records']:,}",
            f"{r['cold_start_records']:,}",
            f"{r['records']:,}",
            f"{r['clustered_records']:,}",
            f"{r['n_symbols']:,}",
            fmt_ts(r["first"]),
            fmt_ts(r["last"]),
        ]
        for r in data.anomalies_by_detector
    ]
    if len(rows) > 1:
        rows.append(
            [
                "total",
                f"{data.beyond_expanded:,}",
                f"{data.background_records:,}",
                f"{data.background_by_reason.get('cold_start', 0):,}",
                f"{data.anomaly_records:,}",
                f"{sum(r['clustered_records'] for r in data.anomalies_by_detector):,}",
                f"{len(data.anomalies_per_symbol):,}",
                "",
                "",
            ]
        )
    columns = [
        ("detector", "text"),
        ("beyond the background (expanded)", "num"),
        ("background records", "num"),
        ("of which cold start", "num"),
        ("all records", "num"),
        ("clustered records", "num"),
        ("symbols", "num"),
        ("first beyond", "ts"),
        ("last beyond", "ts"),
    ]
    return _table(columns, rows)


def _verdict_of(data: ReportData) -> dict[str, tuple[str, float | None]]:
    worst: dict[str, tuple[str, float | None]] = {}
    for r in data.fusion:  # already worst first
        worst.setdefault(r["symbol"], (r["verdict"], r["score"]))
    return worst


def top_table(data: ReportData, top_n: int) -> dict[str, Any]:
    """The symbols with the most anomalies beyond the background; their background records beside."""
    verdicts = _verdict_of(data)
    rows = []
    for i, r in enumerate(data.top_symbols(top_n), 1):
        by_det = ", ".join(f"{d} {n:,}" for d, n in r["by_detector"].items())
        rows.append(
            [
                str(i),
                r["symbol"],
                f"{r['beyond']:,}",
                f"{r['background_records']:,}",
                by_det,
                verdicts.get(r["symbol"], ("—", None))[0],
            ]
        )
    columns = [
        ("#", "num"),
        ("symbol", "text"),
        ("beyond the background (expanded)", "num"),
        ("background records", "num"),
        ("beyond, by detector", "text"),
        ("verdict", "verdict"),
    ]
    return _table(columns, rows)


def background_only_symbols(data: ReportData) -> list[str]:
    """Symbols whose every anomaly is background: not in the top table, named under it."""
    return sorted(s for s, v in data.anomalies_per_symbol.items() if v["beyond"] == 0 and v["records"])


def symbol_order(data: ReportData) -> list[str]:
    """Worst verdict first (fusion's order), then the symbols fusion does not know, by name."""
    seen: list[str] = []
    for r in data.fusion:
        if r["symbol"] is not None and r["symbol"] not in seen:
            seen.append(r["symbol"])
    return seen + [s for s in data.symbols if s not in seen]


def violation_line(v: dict[str, Any]) -> str:
    source = f" ({v['source_table']})" if v.get("source_table") else ""
    detail = f": {v['detail']}" if v.get("detail") else ""
    return f"{fmt_span(v['ts'], v['ts_end'])} — {v['severity']} {v['rule']}{source}{detail}"


def anomaly_line(a: dict[str, Any]) -> str:
    parts = [f"{fmt_ts(a['ts'])} — {a['detector']}"]
    baseline = BASELINE_TEXT.get(a.get("baseline") or "")
    if baseline:  # the threshold was not learned from the symbol's history: say so on the record
        parts.append(f" ({baseline})")
    if a["label"]:
        parts.append(f" {a['label']}")
    if a["confidence"] is not None:
        parts.append(f", confidence {a['confidence']:.2f}")
    cluster = a.get("cluster")
    if a["n"] > 1 or cluster:
        c = cluster or {}
        text = f", cluster of {a['n']}"
        start, end = _parse_ts(c.get("start_ts")), _parse_ts(c.get("end_ts"))
        if start and end:
            text += f" ({fmt_span(start, end)})"
        if isinstance(c.get("max_abs_z"), int | float):
            text += f", max |z| {c['max_abs_z']:.2f}"
        parts.append(text)
    if a["rationale"]:
        parts.append(f": {a['rationale']}")
    return "".join(parts)


def _parse_ts(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts.astimezone(dt.UTC).replace(tzinfo=None) if ts.tzinfo else ts


def _shown(n_shown: int, total: int) -> str:
    """``3 records`` when all are listed, ``first 2 of 3 records`` when the cap cut the list."""
    if n_shown < total:
        return f"first {n_shown:,} of {_plural(total, 'record')}"
    return _plural(total, "record")


def _detail_blocks(
    violations: list[str], more_violations: int, anomalies: list[dict[str, Any]], counts: dict[str, Any]
) -> list[dict[str, Any]]:
    """(label, lines) for the violations and the anomalies of one symbol, saying what was left out: the
    anomalies beyond the background first; then the background, counted, with a few records listed
    only where the cap left room (a block without lines is a sentence)."""
    blocks = []
    if violations:
        total = len(violations) + more_violations
        shown = f"{len(violations)} of {total:,}, " if more_violations > 0 else ""
        blocks.append({"label": f"Violations ({shown}most severe first)", "lines": violations})
    beyond = [anomaly_line(a) for a in anomalies if a["is_beyond"]]
    background = [anomaly_line(a) for a in anomalies if not a["is_beyond"]][:BACKGROUND_LIST_CAP]
    n_beyond, n_background = counts.get("beyond_records", 0), counts.get("background_records", 0)
    if n_beyond:
        label = f"Anomalies beyond the background ({_shown(len(beyond), n_beyond)}, in time order)"
        blocks.append({"label": label, "lines": beyond})
    if n_background:
        what = background_phrase(n_background, counts.get("background_by_reason", {}))
        if background:
            first = f"; the first {len(background):,}" if len(background) < n_background else ""
            label = f"Background, not alarms — {what}{first}, in time order"
        else:
            label = f"Also {what}: the detectors' expected background, not listed"
        blocks.append({"label": label, "lines": background})
    return blocks


def symbol_details(data: ReportData) -> tuple[list[dict[str, Any]], list[str]]:
    """The first events of each symbol that has any (worst verdict first; within a verdict, the symbols
    with a violation or an anomaly beyond the background before those with background records only, so
    that a clean day's few real events are not below a dozen symbols of background), and the symbols
    with none."""
    verdicts = _verdict_of(data)
    details, quiet = [], []
    for s in symbol_order(data):
        vs, an = data.first_violations.get(s, []), data.first_anomalies.get(s, [])
        counts = data.anomalies_per_symbol.get(s, {})
        if not vs and not counts.get("records"):
            quiet.append(s)
            continue
        verdict, score = verdicts.get(s, (None, None))
        n_v = data.violations_per_symbol.get(s, 0)
        blocks = _detail_blocks([violation_line(v) for v in vs], n_v - len(vs), an, counts)
        heading = s if verdict is None else f"{s} — {verdict} (score {_score(score)})"
        # fusion's verdict order (an unknown verdict first, as in fusion's table; no verdict last)
        verdict_rank = len(VERDICT_RANK) if verdict is None else VERDICT_RANK.get(verdict, -1)
        background_only = not vs and not counts.get("beyond_records")
        details.append(((verdict_rank, background_only), {"symbol": s, "heading": heading, "blocks": blocks}))
    # a stable sort: fusion's order (lowest score first) is kept within each group
    details.sort(key=lambda pair: pair[0])
    return [d for _, d in details], quiet


def ge_href(target: str | None, report_dir: Path) -> str | None:
    """A link to GE Data Docs: URLs as given, absolute paths made relative to the report's folder."""
    if not target:
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
        return target if re.match(r"^(https?|file):", target, re.IGNORECASE) else None
    path = Path(target)
    if path.is_absolute():
        return Path(os.path.relpath(path, report_dir.resolve())).as_posix()
    return path.as_posix()


def output_files(date: str, mode: str, output_root: Path) -> list[dict[str, Any]]:
    """Every file of the day and mode: path relative to the output root, link relative to the report."""
    md_name, html_name = report_names(date, mode)
    entries = [
        ("QA report (Markdown)", (REPORT_DIR / md_name).as_posix()),
        ("QA report (HTML, charts)", (REPORT_DIR / html_name).as_posix()),
        # where the exports write them (lakeqa.exports), relative to the output root
        ("violations", violations_path(Path(), date).as_posix()),
        ("anomalies", anomalies_path(Path(), date).as_posix()),
        ("fusion", fusion_path(Path(), date, mode).as_posix()),
    ]
    return [
        {
            "description": description,
            "path": rel,
            "link": Path(os.path.relpath(output_root / rel, output_root / REPORT_DIR)).as_posix(),
            # the two report files are being written now; the others only if the exports ran
            "exists": i < 2 or (output_root / rel).exists(),
        }
        for i, (description, rel) in enumerate(entries)
    ]


def title_text(data: ReportData) -> str:
    mode = data.mode
    if data.mode == "hourly" and data.window:
        mode += f", {data.window[0]:%H:%M}–{data.window[1]:%H:%M} UTC"
    return f"lakeqa QA report — {data.day.isoformat()} ({mode})"


# --------------------------------------------------------------------------------------------------------
# Charts (HTML only)


def _rules_chart(data: ReportData) -> str:
    rows = []
    for r in data.violations_by_rule:
        _, colour = svg.severity_style((r["severity"] or "").split(",")[0].strip())
        rows.append((r["rule"] or "", r["count"], colour, f"{r['count']:,} ({r['severity']})"))
    return svg.bar_chart("Violations by rule", rows, empty="no violations")


def _detectors_chart(data: ReportData) -> str:
    rows = [
        svg.SplitBar(
            label=r["detector"] or "",
            beyond=r["beyond"],
            beyond_text=_anomalies(r["beyond"], r["beyond_records"]),
            background=r["background_records"],
            background_text=_plural(r["background_records"], "record"),
            colour=svg.detector_colour(r["detector"]),
        )
        for r in data.anomalies_by_detector
    ]
    return svg.split_bar_chart(
        "Anomalies by detector: beyond the background (clusters expanded) and background records",
        rows,
        empty="no anomalies",
    )


def _top_chart(data: ReportData, top_n: int) -> str:
    rows = [
        svg.SplitBar(
            label=r["symbol"],
            beyond=r["beyond"],
            beyond_text=f"{r['beyond']:,}",
            background=r["background_records"],
            background_text=_plural(r["background_records"], "record"),
            colour="#6366f1",
        )
        for r in data.top_symbols(top_n)
    ]
    return svg.split_bar_chart(
        f"Top {top_n} symbols by anomalies beyond the background (expanded)",
        rows,
        empty="no anomalies beyond the background",
    )


def _symbol_panels(data: ReportData, date: str) -> list[dict[str, Any]]:
    """One price chart per symbol, worst verdict first, with its caption."""
    verdicts = _verdict_of(data)
    midnight = dt.datetime.combine(data.day, dt.time())
    window = data.window or (midnight, midnight + dt.timedelta(days=1))
    panels = []
    for s in symbol_order(data):
        verdict, score = verdicts.get(s, (None, None))
        n_v = data.violations_per_symbol.get(s, 0)
        a = data.anomalies_per_symbol.get(s, {})
        caption = _plural(n_v, "violation")
        critical = sum(m["count"] for m in data.violation_marks.get(s, []) if m["severity"] == "critical")
        if critical:
            caption += f" ({critical:,} critical)"
        if data.present("anomalies"):
            caption += f" · {beyond_phrase(a.get('beyond', 0), a.get('beyond_records', 0))}"
            if a.get("background_records"):  # the chart marks only the beyond ones
                caption += f" · + {_plural(a['background_records'], 'background record')} not drawn"
        if data.mode == "hourly":
            caption += f" on {date} (chart: {window[0]:%H:%M}–{window[1]:%H:%M} UTC)"
        chart = svg.price_chart(
            s,
            data.prices.get(s, []),
            window,
            data.violation_marks.get(s, []),
            data.violation_spans.get(s, []),
            data.anomaly_marks.get(s, []),
        )
        panels.append(
            {"symbol": s, "verdict": verdict, "score": _score(score), "svg": chart, "caption": caption}
        )
    return panels


def _coverage_panels(data: ReportData) -> list[dict[str, Any]]:
    """One coverage timeline per symbol (worst verdict first): a lane per dataset across the window."""
    verdicts = _verdict_of(data)
    day_start = _day_start(data)
    window = data.window or (day_start, day_start + dt.timedelta(days=1))
    lanes_of = coverage_datasets(data)
    panels = []
    for s in symbol_order(data):
        datasets = data.coverage.get(s)
        if not datasets:
            continue
        lanes = []
        for ds in lanes_of:
            e = datasets.get(ds)
            gaps = []
            for g in merged_gaps(data.coverage_gaps.get(s, {}).get(ds, [])):
                size = duration((g["end"] - g["start"]).total_seconds())
                details = [d for d in dict.fromkeys(g["details"]) if d]
                title = (
                    f"{', '.join(g['rules'])}: {ds} gap {utc_range(g['start'], g['end'], day_start)} ({size})"
                )
                if details:
                    title += ": " + "; ".join(details)
                gaps.append({**g, "title": title})
            if e is None:
                state, note = "absent", "not in the lake"
            elif not e["n_rows"]:
                state, note = "missing", "missing"
            else:
                state, note = "ok", f"{e['n_rows']:,} rows"
            lanes.append(
                {
                    "dataset": ds,
                    "state": state,
                    "note": note,
                    "first": e["first_ts"] if e else None,
                    "last": e["last_ts"] if e else None,
                    "grain_s": 60 if ds == "klines_1m" else 1,
                    "gaps": gaps,
                }
            )
        n_gaps = sum(len(lane["gaps"]) for lane in lanes)
        missing = [lane["dataset"] for lane in lanes if lane["state"] == "missing"]
        caption = _plural(n_gaps, "gap")
        if missing:
            caption += f" · missing: {', '.join(missing)}"
        verdict, score = verdicts.get(s, (None, None))
        panels.append(
            {
                "symbol": s,
                "verdict": verdict,
                "score": _score(score),
                "svg": svg.coverage_timeline(s, lanes, window),
                "caption": caption,
            }
        )
    return panels


def _legend_detectors(data: ReportData) -> list[str]:
    """The detectors of the day in the legend's colour order (all known ones when there are none)."""
    found = [r["detector"] for r in data.anomalies_by_detector if r["detector"]]
    ordered = [d for d in svg.DETECTOR_COLOURS if d in found] + [
        d for d in found if d not in svg.DETECTOR_COLOURS
    ]
    return ordered or list(svg.DETECTOR_COLOURS)


# --------------------------------------------------------------------------------------------------------


def _weights(data: ReportData) -> dict[str, str]:
    """The score formula's weights as the build used them (fusion's metadata), else the settings'
    defaults, formatted for the formula line."""
    from lakeqa.settings import project_default

    weights = data.weights or {}
    out = {}
    for key, name in (
        ("schema", "fusion.weight_schema"),
        ("detector", "fusion.weight_detector"),
        ("ai", "fusion.weight_ai"),
    ):
        value = weights.get(key)
        out[key] = f"{(project_default(name) if value is None else value):g}"
    return out


def build_context(
    data: ReportData,
    *,
    date: str,
    output_root: Path,
    top_n: int,
    ge_href: str | None,
    duckdb_label: str,
) -> dict[str, Any]:
    """Everything the two templates show, for one day and mode."""
    md_name, html_name = report_names(date, data.mode)
    details, quiet = symbol_details(data)
    return {
        "title": title_text(data),
        "date": date,
        "mode": data.mode,
        "time_note": london_offset_note(data.day),
        "md_name": md_name,
        "html_name": html_name,
        "verdicts": list(VERDICTS),
        "present": {
            name: data.present(name) for name in ("fusion", "violations", "anomalies", "bars_1m", "coverage")
        },
        "summary": summary_items(data),
        "fusion": fusion_table(data),
        "broke": what_broke(data),
        "coverage": coverage_table(data),
        "rules": rules_table(data),
        "detectors": detectors_table(data),
        "anomalies_phrase": anomalies_phrase(data),
        "background_only": _symbols_text(background_only_symbols(data)),
        "top_n": top_n,
        "weights": _weights(data),
        "top": top_table(data, top_n),
        "details": details,
        "quiet": ", ".join(quiet),
        "output_root": str(output_root),
        "files": output_files(date, data.mode, output_root),
        "duckdb_label": duckdb_label,
        "ge_href": ge_href,
        "charts": {
            "legend": svg.legend(_legend_detectors(data)),
            "symbols": _symbol_panels(data, date),
            "coverage": _coverage_panels(data),
            "rules": _rules_chart(data),
            "detectors": _detectors_chart(data),
            "top": _top_chart(data, top_n),
        },
    }
