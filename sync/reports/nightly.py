"""The nightly duplicate report: json, csv and html written into the report folder.

After writing, it logs the files' names and folder, then the audit log's
anchor (`SEQ:HASH`, no personal data):
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
from sync.reports.files import write_report_files
from sync.reports.from_ledger import ledger_report
from sync.reports.models import ReportFilters

log = logging.getLogger(__name__)


def write_nightly_report(app: App, day: date) -> list[Path]:
    """Build the report as of the last successful run and write one file per format.

    Each file written is audited as a disclosure to that file; the audit log's
    anchor is then logged.
    """
    report = ledger_report(app, ReportFilters())
    audit = audit_log_for(app.ledger.engine)
    written = write_report_files(
        report,
        app.settings.report_dir,
        f"duplicates-{day.isoformat()}",
        lambda path: audit_report_written(audit, path),
    )
    if written:
        names = ", ".join(path.name for path in written)
        log.info("duplicate report written to %s: %s", written[0].parent, names)
    head = audit.head()
    if head is not None:
        log.info("audit log anchor %s", head.anchor)
    return written
