"""The daily QA report (Markdown and a self-contained HTML twin with inline SVG charts)."""

from lakeqa.report.render import ReportError, register, write_report

__all__ = ["ReportError", "register", "write_report"]
