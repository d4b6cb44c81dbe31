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
from sync.reports.nightly import write_nightly_report
from sync.reports.render import REPORT_FORMATS
from sync.settings import Settings
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_each_report_file_written_is_a_disclosure_and_the_audit_anchor_logged(
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
        assert caplog.messages == [f"audit log anchor {head.seq}:{head.hash}"]
    finally:
        app.close()
