"""The nightly report: one file per format, each audited as a disclosure by the service."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.audit.log import audit_log_for
from sync.audit.tables import audit_log
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.reports.from_ledger import ledger_report
from sync.reports.models import ReportFilters
from sync.reports.nightly import write_nightly_report
from sync.reports.render import REPORT_FORMATS
from sync.settings import Settings
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_each_report_file_written_is_a_disclosure_and_its_place_and_the_anchor_logged(
    ledger_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = App(Settings(database_url=ledger_url, report_dir=tmp_path / "reports"))
    try:
        probation, police = write_feeds(tmp_path)
        sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
        run_cycle(app, sources, AS_OF)

        with caplog.at_level(logging.INFO, logger="sync.reports.nightly"):
            written = write_nightly_report(app, AS_OF)

        names = [f"duplicates-{AS_OF}.{fmt}" for fmt in REPORT_FORMATS]
        assert [path.name for path in written] == names
        assert all(path.stat().st_size > 0 for path in written)
        query = select(audit_log.c.actor, audit_log.c.recipient).where(
            audit_log.c.kind == "disclosure"
        )
        with app.ledger.engine.connect() as conn:
            disclosed = [tuple(row) for row in conn.execute(query.order_by(audit_log.c.seq))]
        assert disclosed == [("service:report", f"file {name}") for name in names]
        head = audit_log_for(app.ledger.engine).head()
        assert head is not None
        assert caplog.messages == [
            f"duplicate report written to {tmp_path / 'reports'}: {', '.join(names)}",
            f"audit log anchor {head.seq}:{head.hash}",
        ]
    finally:
        app.close()


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_an_agencys_report_from_the_ledger_shows_its_own_flags_by_the_run_and_settings(
    ledger_url: str, tmp_path: Path
) -> None:
    """The agency view (`--for`) is minimised; window and hours come from the run and settings."""
    app = App(
        Settings(
            database_url=ledger_url,
            hours_per_assessment=2.5,
            window_days=400,
            report_marking="OFFICIAL",
        )
    )
    try:
        probation, police = write_feeds(tmp_path)
        sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
        run_cycle(app, sources, AS_OF)
        national = ledger_report(app, ReportFilters())
        assert {flag.agency for flag in national.flags} == {"probation", "police"}
        assert (national.as_of, national.window_days) == (AS_OF, 400)
        assert national.summary.hours_per_assessment == 2.5
        assert national.summary.redundant_completed > 0
        assert national.summary.hours_lost_estimate == 2.5 * national.summary.redundant_completed

        police_view = ledger_report(app, ReportFilters(), for_agency="police")
        assert national.marking == police_view.marking == "OFFICIAL"
        assert "marking" not in national.model_dump(mode="json")
        assert police_view.view == "police"
        assert police_view.flags
        assert {flag.agency for flag in police_view.flags} == {"police"}
        counterparts = [flag.counterpart for flag in police_view.flags if flag.counterpart]
        assert counterparts
        assert all(c.reference_date is None and c.redundant is None for c in counterparts)
    finally:
        app.close()
    settings_changed_since = App(Settings(database_url=ledger_url, window_days=90))
    try:
        assert ledger_report(settings_changed_since, ReportFilters()).window_days == 400
    finally:
        settings_changed_since.close()
