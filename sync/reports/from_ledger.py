"""The duplicate report of the ledger as it is: its flags, with the window its last pass used.

The report's as-of date and duplicate window are those of the latest
successful run (the settings' window when no run recorded one); the hours per
assessment are the estimate's assumption, taken from the settings now.
"""

from __future__ import annotations

from sync.app import App
from sync.ledger.flag_rows import iter_flag_rows
from sync.reports.duplicates import build_report
from sync.reports.models import AgencyName, DuplicateReport, ReportFilters


def ledger_report(
    app: App, filters: ReportFilters, for_agency: AgencyName | None = None
) -> DuplicateReport:
    """The duplicate-assessment report over the ledger's stored flags."""
    ledger = app.ledger
    window = ledger.last_window_days()
    return build_report(
        iter_flag_rows(ledger),
        as_of=ledger.last_as_of() or app.today(),
        window_days=app.settings.window_days if window is None else window,
        hours_per_assessment=app.settings.hours_per_assessment,
        filters=filters,
        for_agency=for_agency,
    )
