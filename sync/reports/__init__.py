"""The duplicate-assessment report: build it from ledger flags, render it as JSON, CSV or HTML.

The renderers are in their own modules (`sync.reports.render` picks one), so
that what only builds or reads a report never loads the HTML templates.
"""

from sync.reports.duplicates import build_report
from sync.reports.models import Counterpart, DuplicateReport, FlagRow, ReportFilters

__all__ = [
    "Counterpart",
    "DuplicateReport",
    "FlagRow",
    "ReportFilters",
    "build_report",
]
