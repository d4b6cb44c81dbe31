"""The duplicate-assessment report: build it from ledger flags, render it as JSON, CSV or HTML."""

from sync.reports.duplicates import build_report
from sync.reports.models import Counterpart, DuplicateReport, FlagRow, ReportFilters
from sync.reports.render_csv import render_csv
from sync.reports.render_html import render_html
from sync.reports.render_json import render_json

__all__ = [
    "Counterpart",
    "DuplicateReport",
    "FlagRow",
    "ReportFilters",
    "build_report",
    "render_csv",
    "render_html",
    "render_json",
]
