"""The QA report of one day: ``reports/qa/{date}_qa_report.md`` and its self-contained HTML twin with charts
(``{date}_qa_report_hourly.md`` / ``.html`` in hourly mode, so an hourly run never replaces the daily report).

`write_report` reads `fusion`, `violations`, `anomalies` and `bars_1m` (plus the `bars_1s` count) for one
day from DuckDB (`queries`), builds one context (`context`), renders it through the two Jinja templates in
``templates/``, and only then writes both files, all or nothing (`lakeqa.atomic`): a failure at any point
leaves the previous report untouched and no partial file behind.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from pathlib import Path
from typing import Any

import duckdb
import jinja2
from markupsafe import Markup

from lakeqa.atomic import write_text_files
from lakeqa.report import queries
from lakeqa.report.context import MODES, REPORT_DIR, build_context, ge_href, report_names
from lakeqa.settings import setting

GE_DATA_DOCS = Path("ge/data_docs/index.html")  # under the output root, where lakeqa's GE run puts it


class ReportError(Exception):
    """A report cannot be produced (bad day, unreadable database); the message says why."""


# --------------------------------------------------------------------------------------------------------
# Templates


_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
_MD_SPECIAL_TEXT = re.compile(r"([\\`*\[\]<>])")


def md_escape(value: Any, *, table: bool = True) -> str:
    """Text from data on one line, with no raw HTML, links or emphasis; pipes escaped in table cells."""
    text = " ".join(str("" if value is None else value).split())
    return (_MD_SPECIAL if table else _MD_SPECIAL_TEXT).sub(r"\\\1", text)


def _html_finalize(value: Any) -> Any:
    # Autoescape would use markupsafe's entities (&#39;); html.escape's (&#x27;) keep the output exactly
    # what the report has always written. Markup (the `safe` SVG charts) passes through unchanged.
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def _environment(**options: Any) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("lakeqa.report", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        **options,
    )


_MARKDOWN = _environment(autoescape=False)
_MARKDOWN.filters["md"] = md_escape
_MARKDOWN.filters["md_text"] = lambda value: md_escape(value, table=False)
_HTML = _environment(autoescape=True, finalize=_html_finalize)


def render_markdown(context: dict[str, Any]) -> str:
    return _MARKDOWN.get_template("qa_report.md.j2").render(context)


def render_html(context: dict[str, Any]) -> str:
    return _HTML.get_template("qa_report.html.j2").render(context)


# --------------------------------------------------------------------------------------------------------
# Writing


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
    top_n: int | None = None,
    ge_data_docs_url: str | None = None,
    mode: str = "daily",
    details_per_symbol: int = 5,
) -> dict[str, Any]:
    """Write ``<output_root>/reports/qa/{date}_qa_report.md`` and ``.html`` (``_qa_report_hourly`` in hourly
    mode) for one day; return their paths and the summary numbers.

    `con_or_duckdb_path`: an open DuckDB connection (left open) or a database path (opened read-only and
    closed). `top_n`: by default the setting ``reporting.anomalies_top_n``. `ge_data_docs_url`: a URL, or
    a path (an absolute path is linked relative to the report, a relative one is taken as relative to the
    report's folder); by default the Data Docs site under the output root (``ge/data_docs/index.html``)
    when it exists.
    """
    day = _parse_day(date)
    date = day.isoformat()
    if mode not in MODES:
        raise ReportError(f"bad mode {mode!r}: expected one of {', '.join(MODES)}")
    if top_n is None:
        top_n = int(setting("reporting.anomalies_top_n"))
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
    except queries.SchemaError as exc:
        raise ReportError(str(exc)) from exc
    finally:
        if owned:
            con.close()

    report_dir = output_root / REPORT_DIR
    md_name, html_name = report_names(date, mode)
    if ge_data_docs_url is None and (output_root / GE_DATA_DOCS).is_file():
        ge_data_docs_url = str((output_root / GE_DATA_DOCS).resolve())  # the site `lakeqa ge` writes
    context = build_context(
        data,
        date=date,
        output_root=output_root,
        top_n=top_n,
        ge_href=ge_href(ge_data_docs_url, report_dir),
        duckdb_label=label,
    )
    md_path, html_path = write_text_files(
        [(report_dir / md_name, render_markdown(context)), (report_dir / html_name, render_html(context))]
    )

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
            "anomalies_beyond_background": data.beyond_expanded,
            "background_records": data.background_records,
            "verdicts": dict(data.verdicts),
            # ranked by anomalies beyond the background (cluster-expanded): what the top table shows
            "top_symbols": [(r["symbol"], r["beyond"]) for r in data.top_symbols(top_n)],
            "tables_missing": sorted(k for k in queries.CORE_TABLES if data.tables.get(k) is None),
        },
    }
