"""The daily QA report: ``reports/qa/{date}_qa_report.md`` and its self-contained HTML twin with charts.

`write_report` reads `fusion`, `violations`, `anomalies` and `bars_1m` (plus the `bars_1s` count) for one
day from DuckDB, renders both files in memory, and only then writes them, each to a temp file in the target
folder followed by `os.replace`: a failure at any point leaves the previous report untouched and no partial
file behind. The HTML has inline CSS and inline SVG charts drawn here, and a Content-Security-Policy that
forbids every fetch, so it renders the same offline as online.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import duckdb

from lakeqa.report import queries, svg
from lakeqa.report.queries import SEVERITIES, VERDICTS, ReportData
from lakeqa.report.timefmt import fmt_span, fmt_ts, london_offset_note

MODES = ("daily", "hourly")
SYMBOL_LIST_CAP = 8


class ReportError(Exception):
    """A report cannot be produced (bad day, unreadable database); the message says why."""


# --------------------------------------------------------------------------------------------------------
# Shared content (plain text; each renderer escapes for its format)


@dataclass
class TableSpec:
    headers: list[str]
    rows: list[list[str]]
    numeric: set[int]


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


def anomalies_phrase(data: ReportData) -> str:
    """``36 anomalies from 29 records``: cluster records count as many anomalies as they merge."""
    return (
        f"{_plural(data.anomalies_expanded, 'anomaly', 'anomalies')} from "
        f"{_plural(data.anomaly_records, 'record')}"
    )


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


def fusion_table(data: ReportData) -> TableSpec:
    hourly = data.mode == "hourly"
    headers = (
        ["symbol"]
        + (["hour"] if hourly else [])
        + [
            "verdict",
            "score",
            "schema",
            "detector",
            "AI",
            "bars",
            "critical",
            "major",
            "minor",
            "anomalies",
            "reason",
        ]
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
    first_num = 3 if hourly else 2
    return TableSpec(headers, rows, set(range(first_num, first_num + 9)))


def rules_table(data: ReportData) -> TableSpec:
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
    return TableSpec(["rule", "severity", "violations", "symbols affected", "first", "last"], rows, {2})


def detectors_table(data: ReportData) -> TableSpec:
    rows = [
        [
            r["detector"] or "",
            f"{r['expanded']:,}",
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
                f"{data.anomalies_expanded:,}",
                f"{data.anomaly_records:,}",
                f"{sum(r['clustered_records'] for r in data.anomalies_by_detector):,}",
                f"{len(data.anomalies_per_symbol):,}",
                "",
                "",
            ]
        )
    headers = ["detector", "anomalies (expanded)", "records", "clustered records", "symbols", "first", "last"]
    return TableSpec(headers, rows, {1, 2, 3, 4})


def _verdict_of(data: ReportData) -> dict[str, tuple[str, float | None]]:
    worst: dict[str, tuple[str, float | None]] = {}
    for r in data.fusion:  # already worst first
        worst.setdefault(r["symbol"], (r["verdict"], r["score"]))
    return worst


def top_table(data: ReportData, top_n: int) -> TableSpec:
    verdicts = _verdict_of(data)
    rows = []
    for i, r in enumerate(data.top_symbols(top_n), 1):
        by_det = ", ".join(f"{d} {n:,}" for d, n in r["by_detector"].items())
        rows.append(
            [
                str(i),
                r["symbol"],
                f"{r['expanded']:,}",
                f"{r['records']:,}",
                by_det,
                verdicts.get(r["symbol"], ("—", None))[0],
            ]
        )
    return TableSpec(
        ["#", "symbol", "anomalies (expanded)", "records", "by detector", "verdict"], rows, {0, 2, 3}
    )


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


@dataclass
class SymbolDetail:
    symbol: str
    heading: str
    violations: list[str]
    more_violations: int
    anomalies: list[str]
    more_anomalies: int


def detail_blocks(d: SymbolDetail) -> list[tuple[str, list[str]]]:
    """(label, lines) for the violations and the anomalies of one symbol, saying what was left out."""
    blocks = []
    if d.violations:
        total = len(d.violations) + d.more_violations
        shown = f"{len(d.violations)} of {total:,}, " if d.more_violations > 0 else ""
        blocks.append((f"Violations ({shown}most severe first)", d.violations))
    if d.anomalies:
        total = len(d.anomalies) + d.more_anomalies
        if d.more_anomalies > 0:
            shown = f"first {len(d.anomalies)} of {_plural(total, 'record')}"
        else:
            shown = _plural(total, "record")
        blocks.append((f"Anomalies ({shown}, in time order)", d.anomalies))
    return blocks


def symbol_details(data: ReportData) -> tuple[list[SymbolDetail], list[str]]:
    verdicts = _verdict_of(data)
    details, quiet = [], []
    for s in symbol_order(data):
        vs, an = data.first_violations.get(s, []), data.first_anomalies.get(s, [])
        if not vs and not an:
            quiet.append(s)
            continue
        verdict, score = verdicts.get(s, (None, None))
        heading = s if verdict is None else f"{s} — {verdict} (score {_score(score)})"
        n_v = data.violations_per_symbol.get(s, 0)
        n_a = data.anomalies_per_symbol.get(s, {}).get("records", 0)
        details.append(
            SymbolDetail(
                s,
                heading,
                [violation_line(v) for v in vs],
                n_v - len(vs),
                [anomaly_line(a) for a in an],
                n_a - len(an),
            )
        )
    return details, quiet


def _href(target: str | None, report_dir: Path) -> str | None:
    """A link to GE Data Docs: URLs as given, absolute paths made relative to the report's folder."""
    if not target:
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
        return target if re.match(r"^(https?|file):", target, re.IGNORECASE) else None
    path = Path(target)
    if path.is_absolute():
        return Path(os.path.relpath(path, report_dir.resolve())).as_posix()
    return path.as_posix()


def output_files(date: str, output_root: Path) -> list[tuple[str, str, bool]]:
    """(description, path relative to the output root, exists) for every file of the day."""
    entries = [
        ("QA report (Markdown)", f"reports/qa/{date}_qa_report.md"),
        ("QA report (HTML, charts)", f"reports/qa/{date}_qa_report.html"),
        ("violations", f"qa/schema/{date}_violations.jsonl"),
        ("anomalies", f"qa/ai/{date}_anomalies.jsonl"),
        ("fusion", f"qa/fusion/{date}_fusion.parquet"),
    ]
    return [(d, p, i < 2 or (output_root / p).exists()) for i, (d, p) in enumerate(entries)]


def title_text(data: ReportData) -> str:
    mode = data.mode
    if data.mode == "hourly" and data.window:
        mode += f", {data.window[0]:%H:%M}–{data.window[1]:%H:%M} UTC"
    return f"lakeqa QA report — {data.day.isoformat()} ({mode})"


# --------------------------------------------------------------------------------------------------------
# Markdown


_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")


_MD_SPECIAL_TEXT = re.compile(r"([\\`*\[\]<>])")


def md_escape(value: Any, *, table: bool = True) -> str:
    """Text from data on one line, with no raw HTML, links or emphasis; pipes escaped in table cells."""
    text = " ".join(str("" if value is None else value).split())
    return (_MD_SPECIAL if table else _MD_SPECIAL_TEXT).sub(r"\\\1", text)


def md_table(spec: TableSpec) -> str:
    lines = [
        "| " + " | ".join(md_escape(h) for h in spec.headers) + " |",
        "| " + " | ".join("---:" if i in spec.numeric else "---" for i in range(len(spec.headers))) + " |",
    ]
    for row in spec.rows:
        lines.append("| " + " | ".join(md_escape(c) or " " for c in row) + " |")
    return "\n".join(lines)


def render_markdown(
    data: ReportData, *, date: str, output_root: Path, top_n: int, ge_href: str | None, duckdb_label: str
) -> str:
    out: list[str] = [f"# {md_escape(title_text(data))}", ""]
    out.append(
        f"Times are shown in UTC and in Europe/London time: {md_escape(london_offset_note(data.day))}. "
        f"Charts are in the HTML twin: [{date}_qa_report.html]({date}_qa_report.html)."
    )
    out += [
        "",
        "## Summary",
        "",
        md_table(TableSpec(["measure", "value"], [list(i) for i in summary_items(data)], set())),
    ]

    out += ["", "## Fusion by symbol", ""]
    if not data.present("fusion"):
        out.append("No `fusion` table in the database: fusion has not run.")
    elif not data.fusion:
        out.append(f"No fusion rows for {date} in {data.mode} mode.")
    else:
        out += [
            "Worst first: FAIL, then REVIEW, then PASS; lowest score first within a verdict. "
            "`score = 0.7 × schema + 0.2 × detector + 0.1 × AI`.",
            "",
            md_table(fusion_table(data)),
        ]

    out += ["", "## Violations by rule", ""]
    if not data.present("violations"):
        out.append("No `violations` table in the database: rules have not run.")
    elif not data.violations_by_rule:
        out.append(f"No violations on {date}.")
    else:
        out.append(md_table(rules_table(data)))

    out += ["", "## Anomalies by detector", ""]
    if not data.present("anomalies"):
        out.append("No `anomalies` table in the database: the detectors are disabled or have not run.")
    elif not data.anomalies_by_detector:
        out.append(f"No anomalies on {date}.")
    else:
        out += [
            f"{anomalies_phrase(data)}: a clustered record counts as many anomalies as it merges.",
            "",
            md_table(detectors_table(data)),
        ]

    out += ["", f"## Top {top_n} symbols by anomalies", ""]
    top = top_table(data, top_n)
    if not data.present("anomalies"):
        out.append("Not available: no `anomalies` table.")
    elif not top.rows:
        out.append("No symbol has anomalies.")
    else:
        out.append(md_table(top))

    details, quiet = symbol_details(data)
    out += ["", "## First violations and anomalies per symbol", ""]
    if not details:
        out.append("No violations or anomalies for any symbol.")
    for d in details:
        out += [f"### {md_escape(d.heading)}", ""]
        for label, lines in detail_blocks(d):
            out += [f"{label}:", ""] + [f"- {md_escape(line, table=False)}" for line in lines] + [""]
    if quiet:
        out += [f"No violations or anomalies: {md_escape(', '.join(quiet))}.", ""]

    out += ["## Files and links", "", f"Output root: {md_escape(str(output_root))}", ""]
    for desc, rel, exists in output_files(date, output_root):
        note = "" if exists else " (not found)"
        link = os.path.relpath(output_root / rel, output_root / "reports" / "qa")
        out.append(f"- {desc}: [{rel}]({Path(link).as_posix()}){note}")
    out.append(
        f"- DuckDB database: {md_escape(duckdb_label)} (tables `fusion`, `violations`, "
        "`anomalies`, `bars_1m`)"
    )
    if ge_href:
        out.append(f"- Great Expectations Data Docs: [{md_escape(ge_href)}]({ge_href.replace(' ', '%20')})")
    else:
        out.append("- Great Expectations Data Docs: no link given (`lakeqa report --ge-data-docs PATH`)")
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------------
# HTML


CSS = """
:root { --fg:#1f2937; --muted:#64748b; --line:#e5e7eb; --bg:#f8fafc; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1500px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.sub, .muted { color: var(--muted); }
nav a { margin-right: 14px; color: #2563eb; text-decoration: none; }
a { color: #2563eb; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 15px; font-weight: 600; margin-top: 2px; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 7px; text-align: left; vertical-align: top; }
th { background: #f1f5f9; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ts { white-space: nowrap; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 700;
  color: #fff; background: #6b7280; }
.badge.FAIL { background: #c62828; } .badge.REVIEW { background: #d97706; } .badge.PASS { background: #2e7d32; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 12px; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px 6px; }
.panel h3 { margin: 0 0 2px; display: flex; gap: 8px; align-items: baseline; }
.panel .cap { color: var(--muted); font-size: 12px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.legend { max-width: 100%; height: auto; }
svg.chart.chart-counts { width: auto; max-width: 100%; height: auto; }
.counts { margin: 4px 0 12px; overflow-x: auto; }
ul.events { margin: 2px 0 10px; padding-left: 20px; }
p.lead { margin: 6px 0 0; font-weight: 600; }
ul.events li { margin: 2px 0; }
.sev-critical { color: #c62828; font-weight: 600; } .sev-major { color: #c25e00; font-weight: 600; }
.sev-minor { color: #7a7000; font-weight: 600; }
code { background: #eef2f7; padding: 0 4px; border-radius: 4px; }
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def html_table(spec: TableSpec, *, ts_cols: set[int] | None = None) -> str:
    ts_cols = ts_cols or set()
    num = ' class="num"'
    head = "".join(
        f"<th{num if i in spec.numeric else ''}>{escape(h)}</th>" for i, h in enumerate(spec.headers)
    )
    body = []
    for row in spec.rows:
        cells = []
        for i, c in enumerate(row):
            cls = "num" if i in spec.numeric else ("ts" if i in ts_cols else "")
            attr = f' class="{cls}"' if cls else ""
            if spec.headers[i] == "verdict" and c in VERDICTS:
                cells.append(f'<td{attr}><span class="badge {c}">{escape(c)}</span></td>')
            else:
                cells.append(f"<td{attr}>{escape(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _rules_chart(data: ReportData) -> str:
    rows = []
    for r in data.violations_by_rule:
        _, colour = svg.severity_style((r["severity"] or "").split(",")[0].strip())
        rows.append((r["rule"] or "", r["count"], colour, f"{r['count']:,} ({r['severity']})"))
    return svg.bar_chart("Violations by rule", rows, empty="no violations")


def _detectors_chart(data: ReportData) -> str:
    rows = [
        (
            r["detector"] or "",
            r["expanded"],
            svg.detector_colour(r["detector"]),
            f"{r['expanded']:,} from {_plural(r['records'], 'record')}",
        )
        for r in data.anomalies_by_detector
    ]
    return svg.bar_chart("Anomalies by detector (clusters expanded)", rows, empty="no anomalies")


def _top_chart(data: ReportData, top_n: int) -> str:
    rows = [(r["symbol"], r["expanded"], "#6366f1", f"{r['expanded']:,}") for r in data.top_symbols(top_n)]
    return svg.bar_chart(f"Top {top_n} symbols by anomalies (expanded)", rows, empty="no anomalies")


def render_html(
    data: ReportData, *, date: str, output_root: Path, top_n: int, ge_href: str | None, duckdb_label: str
) -> str:
    e = escape
    title = title_text(data)
    verdicts = _verdict_of(data)
    o: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{e(title)}</h1>",
        f'<p class="sub">Times are shown in UTC and in Europe/London time: {e(london_offset_note(data.day))}. '
        f'Markdown twin: <a href="{e(date)}_qa_report.md">{e(date)}_qa_report.md</a>.</p>',
        '<nav><a href="#summary">Summary</a><a href="#fusion">Fusion</a><a href="#charts">Charts</a>'
        '<a href="#violations">Violations</a><a href="#anomalies">Anomalies</a><a href="#top">Top symbols</a>'
        '<a href="#details">Per symbol</a><a href="#files">Files</a></nav>',
    ]

    o.append('<section id="summary"><h2>Summary</h2><div class="cards">')
    for k, v in summary_items(data):
        o.append(f'<div class="card"><div class="k">{e(k)}</div><div class="v">{e(v)}</div></div>')
    o.append("</div></section>")

    o.append('<section id="fusion"><h2>Fusion by symbol</h2>')
    if not data.present("fusion"):
        o.append("<p>No <code>fusion</code> table in the database: fusion has not run.</p>")
    elif not data.fusion:
        o.append(f"<p>No fusion rows for {e(date)} in {e(data.mode)} mode.</p>")
    else:
        o.append('<p class="muted">Worst first. score = 0.7 × schema + 0.2 × detector + 0.1 × AI.</p>')
        o.append(html_table(fusion_table(data), ts_cols={1} if data.mode == "hourly" else set()))
    o.append("</section>")

    # Small multiples: one price chart per symbol, worst verdict first.
    detectors = [r["detector"] for r in data.anomalies_by_detector if r["detector"]]
    detectors = [d for d in svg.DETECTOR_COLOURS if d in detectors] + [
        d for d in detectors if d not in svg.DETECTOR_COLOURS
    ]
    o.append('<section id="charts"><h2>1-minute close per symbol</h2>')
    o.append(
        '<p class="muted">Each violation is marked at its minute just above the close line (shape and colour by '
        "severity), each anomaly just below it (colour by detector); where the bar has no price the marks sit "
        "on the bottom edge under a dashed line. Hover a mark for its time, rules and count. "
        f"X axis: UTC. {e(london_offset_note(data.day))}.</p>"
    )
    o.append(svg.legend(detectors or list(svg.DETECTOR_COLOURS)))
    if not data.present("bars_1m"):
        o.append(
            '<p class="muted">No <code>bars_1m</code> table in the database: the charts have no price line.</p>'
        )
    o.append('<div class="grid">')
    window = data.window or (
        dt.datetime.combine(data.day, dt.time()),
        dt.datetime.combine(data.day, dt.time()) + dt.timedelta(days=1),
    )
    for s in symbol_order(data):
        verdict, score = verdicts.get(s, (None, None))
        badge = f'<span class="badge {e(verdict)}">{e(verdict)}</span>' if verdict else ""
        score_txt = f'<span class="cap">score {_score(score)}</span>' if verdict else ""
        n_v = data.violations_per_symbol.get(s, 0)
        a = data.anomalies_per_symbol.get(s, {})
        cap = f"{_plural(n_v, 'violation')}"
        by_sev = [m for m in data.violation_marks.get(s, [])]
        crit = sum(m["count"] for m in by_sev if m["severity"] == "critical")
        if crit:
            cap += f" ({crit:,} critical)"
        if data.present("anomalies"):
            cap += f" · {_plural(a.get('expanded', 0), 'anomaly', 'anomalies')}"
            if a.get("records", 0) != a.get("expanded", 0):
                cap += f" from {_plural(a.get('records', 0), 'record')}"
        o.append(f'<div class="panel"><h3>{e(s)} {badge} {score_txt}</h3>')
        o.append(
            svg.price_chart(
                s,
                data.prices.get(s, []),
                window,
                data.violation_marks.get(s, []),
                data.violation_spans.get(s, []),
                data.anomaly_marks.get(s, []),
            )
        )
        if data.mode == "hourly":
            cap += f" on {date} (chart: {window[0]:%H:%M}–{window[1]:%H:%M} UTC)"
        o.append(f'<div class="cap">{e(cap)}</div></div>')
    o.append("</div></section>")

    o.append('<section id="violations"><h2>Violations by rule</h2>')
    if not data.present("violations"):
        o.append("<p>No <code>violations</code> table in the database: rules have not run.</p>")
    else:
        o.append(f'<div class="counts">{_rules_chart(data)}</div>')
        if data.violations_by_rule:
            o.append(html_table(rules_table(data), ts_cols={4, 5}))
        else:
            o.append(f"<p>No violations on {e(date)}.</p>")
    o.append("</section>")

    o.append('<section id="anomalies"><h2>Anomalies by detector</h2>')
    if not data.present("anomalies"):
        o.append(
            "<p>No <code>anomalies</code> table in the database: the detectors are disabled or have not run.</p>"
        )
    else:
        o.append(f'<div class="counts">{_detectors_chart(data)}</div>')
        if data.anomalies_by_detector:
            o.append(
                f"<p>{e(anomalies_phrase(data))}: a clustered record counts as many anomalies as it merges.</p>"
            )
            o.append(html_table(detectors_table(data), ts_cols={5, 6}))
        else:
            o.append(f"<p>No anomalies on {e(date)}.</p>")
    o.append("</section>")

    o.append(f'<section id="top"><h2>Top {top_n} symbols by anomalies</h2>')
    if not data.present("anomalies"):
        o.append("<p>Not available: no <code>anomalies</code> table.</p>")
    else:
        top = top_table(data, top_n)
        o.append(f'<div class="counts">{_top_chart(data, top_n)}</div>')
        o.append(html_table(top) if top.rows else "<p>No symbol has anomalies.</p>")
    o.append("</section>")

    details, quiet = symbol_details(data)
    o.append('<section id="details"><h2>First violations and anomalies per symbol</h2>')
    if not details:
        o.append("<p>No violations or anomalies for any symbol.</p>")
    for d in details:
        o.append(f"<h3>{e(d.heading)}</h3>")
        for label, lines in detail_blocks(d):
            items = "".join(f"<li>{e(line)}</li>" for line in lines)
            o.append(f'<p class="lead">{e(label)}:</p><ul class="events">{items}</ul>')
    if quiet:
        o.append(f'<p class="muted">No violations or anomalies: {e(", ".join(quiet))}.</p>')
    o.append("</section>")

    o.append(
        f'<section id="files"><h2>Files and links</h2><p>Output root: <code>{e(str(output_root))}</code></p><ul>'
    )
    for desc, rel, exists in output_files(date, output_root):
        link = Path(os.path.relpath(output_root / rel, output_root / "reports" / "qa")).as_posix()
        note = "" if exists else ' <span class="muted">(not found)</span>'
        o.append(f'<li>{e(desc)}: <a href="{e(link)}">{e(rel)}</a>{note}</li>')
    o.append(f"<li>DuckDB database: <code>{e(duckdb_label)}</code></li>")
    if ge_href:
        o.append(f'<li>Great Expectations Data Docs: <a href="{e(ge_href)}">{e(ge_href)}</a></li>')
    else:
        o.append(
            "<li>Great Expectations Data Docs: no link given "
            "(<code>lakeqa report --ge-data-docs PATH</code>)</li>"
        )
    o.append("</ul></section></main></body></html>\n")
    return "\n".join(o)


# --------------------------------------------------------------------------------------------------------
# Writing


def _atomic_write_all(files: list[tuple[Path, str]]) -> None:
    """Write every file to a temp file beside it, then rename each into place; on any error remove the
    temp files and leave the existing files as they were."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _parse_day(date: str | dt.date) -> dt.date:
    if isinstance(date, dt.date):
        return date
    try:
        return dt.date.fromisoformat(str(date))
    except ValueError as exc:
        raise ReportError(f"bad day {date!r}: expected YYYY-MM-DD") from exc


def write_report(
    con_or_duckdb_path: duckdb.DuckDBPyConnection | str | os.PathLike,
    date: str,
    output_root: Path | str,
    *,
    top_n: int = 10,
    ge_data_docs_url: str | None = None,
    mode: str = "daily",
    details_per_symbol: int = 5,
) -> dict[str, Any]:
    """Write ``<output_root>/reports/qa/{date}_qa_report.md`` and ``.html`` for one day; return their paths
    and the summary numbers.

    `con_or_duckdb_path`: an open DuckDB connection (left open) or a database path (opened read-only and
    closed). `ge_data_docs_url`: a URL, or a path (an absolute path is linked relative to the report, a
    relative one is taken as relative to the report's folder); by default the Data Docs site under the
    output root (``ge/data_docs/index.html``) when it exists.
    """
    day = _parse_day(date)
    date = day.isoformat()
    if mode not in MODES:
        raise ReportError(f"bad mode {mode!r}: expected one of {', '.join(MODES)}")
    if top_n < 0:
        raise ReportError("top_n must be >= 0")
    output_root = Path(output_root)
    if isinstance(con_or_duckdb_path, duckdb.DuckDBPyConnection):
        con, owned, label = con_or_duckdb_path, False, "(connection given by the caller)"
    else:
        db = Path(con_or_duckdb_path)
        if not db.is_file():
            raise ReportError(f"DuckDB database {db} not found (set --duckdb or DUCKDB_PATH)")
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.Error as exc:
            raise ReportError(f"cannot open DuckDB database {db} read-only: {exc}") from exc
        owned, label = True, str(db)
    try:
        data = queries.load(con, day, mode, per_symbol_cap=details_per_symbol)
    finally:
        if owned:
            con.close()

    report_dir = output_root / "reports" / "qa"
    md_path = report_dir / f"{date}_qa_report.md"
    html_path = report_dir / f"{date}_qa_report.html"
    if ge_data_docs_url is None and (output_root / GE_DATA_DOCS).is_file():
        ge_data_docs_url = str((output_root / GE_DATA_DOCS).resolve())  # the site `lakeqa ge` writes
    ge_href = _href(ge_data_docs_url, report_dir)
    kwargs = dict(date=date, output_root=output_root, top_n=top_n, ge_href=ge_href, duckdb_label=label)
    markdown = render_markdown(data, **kwargs)
    html = render_html(data, **kwargs)
    _atomic_write_all([(md_path, markdown), (html_path, html)])

    return {
        "date": date,
        "mode": mode,
        "md_path": md_path,
        "html_path": html_path,
        "summary": {
            "symbols": len(data.symbols),
            "bars_1m": data.bars_1m,
            "bars_1s": data.bars_1s,
            "violations": {**data.violations_by_severity, "total": data.violations_total},
            "anomaly_records": data.anomaly_records,
            "anomalies_expanded": data.anomalies_expanded,
            "verdicts": dict(data.verdicts),
            "top_symbols": [(r["symbol"], r["expanded"]) for r in data.top_symbols(top_n)],
            "tables_missing": sorted(k for k, v in data.tables.items() if v is None),
        },
    }


# --------------------------------------------------------------------------------------------------------
# CLI

DESCRIPTION = """\
Write the daily QA report of one day from the DuckDB database: reports/qa/{day}_qa_report.md and its
self-contained HTML twin (inline SVG charts, opens offline) under the output root. Summary, fusion verdict
per symbol (worst first), violations by rule, anomalies by detector (clusters expanded), the top-N symbols
by anomalies and the first events per symbol, every time in UTC and Europe/London. Both files are written
atomically: a failed run leaves the previous report as it was."""

EPILOG = """\
examples:
  # after `dbt build --select tag:daily --vars '{day: 2024-08-09}'`
  lakeqa report --day 2024-08-09

  # another database and output root, top 5 symbols, linking GE Data Docs
  lakeqa report --day YESTERDAY --duckdb /data/lakeqa.duckdb --output /data/qa --top-n 5 \\
      --ge-data-docs /data/ge/data_docs/index.html"""

GE_DATA_DOCS = Path("ge/data_docs/index.html")  # under the output root, where lakeqa's GE run puts it


def _cli_day(text: str) -> str:
    today = dt.datetime.now(dt.UTC).date()
    special = {"TODAY": today, "YESTERDAY": today - dt.timedelta(days=1)}
    if text.upper() in special:
        return special[text.upper()].isoformat()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad day {text!r}: expected YYYY-MM-DD, TODAY or YESTERDAY"
        ) from None


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="write the daily QA report (Markdown and HTML with charts) of one day",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--day",
        required=True,
        type=_cli_day,
        metavar="YYYY-MM-DD",
        help="the UTC day to report (also TODAY or YESTERDAY, in UTC)",
    )
    parser.add_argument(
        "--duckdb",
        default=os.environ.get("DUCKDB_PATH") or "lakeqa.duckdb",
        metavar="PATH",
        help="DuckDB database, opened read-only (default: $DUCKDB_PATH, else lakeqa.duckdb)",
    )
    parser.add_argument(
        "--output",
        default=os.environ.get("QA_OUTPUT_ROOT") or "output",
        metavar="DIR",
        help="output root; the report goes to DIR/reports/qa/ (default: $QA_OUTPUT_ROOT, else output)",
    )
    parser.add_argument(
        "--top-n",
        type=_non_negative,
        default=10,
        metavar="N",
        help="how many symbols the top-by-anomalies table lists (default: 10)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="daily",
        help="which fusion rows to report: daily (default) or hourly",
    )
    parser.add_argument(
        "--ge-data-docs",
        default=None,
        metavar="PATH_OR_URL",
        help="Great Expectations Data Docs to link, a path or URL (default: DIR/ge/data_docs/index.html "
        "when it exists)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    ge = args.ge_data_docs
    if ge is not None and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", ge):
        ge = str(Path(ge).resolve())  # a path on the command line is relative to the current directory
    try:
        result = write_report(
            args.duckdb, args.day, Path(args.output), top_n=args.top_n, ge_data_docs_url=ge, mode=args.mode
        )
    except ReportError as exc:
        print(f"lakeqa report: error: {exc}", file=sys.stderr)
        return 1
    s = result["summary"]
    v = s["violations"]
    verdicts = ", ".join(f"{k} {n}" for k, n in s["verdicts"].items()) or "no fusion rows"
    print(f"QA report for {result['date']} ({result['mode']}):")
    print(f"  {result['md_path']}")
    print(f"  {result['html_path']}")
    print(
        f"  {s['symbols']} symbols; violations {v['total']} (critical {v.get('critical', 0)}, "
        f"major {v.get('major', 0)}, minor {v.get('minor', 0)}); anomalies {s['anomalies_expanded']} "
        f"from {s['anomaly_records']} records; verdicts: {verdicts}"
    )
    if s["tables_missing"]:
        print(f"  missing tables: {', '.join(s['tables_missing'])}")
    return 0
