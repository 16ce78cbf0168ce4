"""The QA report (Markdown and a self-contained HTML twin with inline SVG charts): data from `queries`, one
context from `context`, two Jinja templates rendered and written by `render`, the CLI in `command`."""

from lakeqa.report.command import register
from lakeqa.report.render import ReportError, render_html, render_markdown, write_report

__all__ = ["ReportError", "register", "render_html", "render_markdown", "write_report"]
