"""The nightly duplicate report: json, csv and html written into the report folder.

After writing, it logs the audit log's anchor (`SEQ:HASH`, no personal data):
the service's log, kept outside the database, then holds one anchor a night
for `arms-sync audit verify --anchor`.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from sync.app import App
from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import audit_report_written
from sync.reports.from_ledger import ledger_report
from sync.reports.models import ReportFilters

log = logging.getLogger(__name__)
REPORT_FORMATS = ("json", "csv", "html")


def write_nightly_report(app: App, day: date) -> list[Path]:
    """Build the report as of the last successful run and write one file per format.

    Each file written is audited as a disclosure to that file; the audit log's
    anchor is then logged.
    """
    from sync.reports.render import render

    report = ledger_report(app, ReportFilters())
    audit = audit_log_for(app.ledger.engine)
    folder = app.settings.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in REPORT_FORMATS:
        path = folder / f"duplicates-{day.isoformat()}.{fmt}"
        temporary = path.with_suffix(path.suffix + ".part")
        temporary.write_bytes(render(report, fmt))
        temporary.replace(path)
        audit_report_written(audit, path.name)
        written.append(path)
    head = audit.head()
    if head is not None:
        log.info("audit log anchor %s", head.anchor)
    return written
