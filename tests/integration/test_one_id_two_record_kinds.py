"""An id is unique per agency and record type only (`feed-v1.md`): one id under two types,
or under both agencies, names two records.

A supervision and a custody period of one person share an id: deleting the
supervision leaves the custody. Both agencies number their assessments alike:
probation's `A-1` and the police's `A-1` on one person are a duplicate pair,
each flag naming the other agency's `A-1`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.cycle import run_cycle
from sync.exports import export_timeline
from sync.reports.from_ledger import ledger_report
from sync.reports.models import ReportFilters
from sync.settings import Settings
from tests.feed_records import STAMP, completed_assessment, licence, person, write_sources

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
CRN, POLICE_REF, PNC = "X240001", "LAN-24", "2002/0073319Z"
SHARED_ID = "Z-1"
CUSTODY: dict[str, object] = {
    "type": "custody",
    "agency": "probation",
    "id": SHARED_ID,
    "person_id": CRN,
    "start": "2026-06-01",
    "end": None,
    "updated_at": STAMP,
}


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url))
    yield application
    application.close()


def rules(app: App) -> list[tuple[str | None, str]]:
    """The one subject's segments from 2025 on: (from, rule)."""
    (line,) = [json.loads(text) for text in export_timeline(app.ledger)]
    return [
        (segment["from"], segment["rule"])
        for segment in line["segments"]
        if segment["to"] is None or segment["to"] >= "2025-01-01"
    ]


def test_deleting_a_supervision_leaves_the_custody_period_under_the_same_id(
    app: App, tmp_path: Path
) -> None:
    supervision = licence(SHARED_ID, CRN, "2025-03-01", "2027-02-28")
    first = [person("probation", CRN), supervision, CUSTODY]
    (tmp_path / "1").mkdir()
    run_cycle(app, write_sources(tmp_path / "1", first, []), AS_OF)
    assert rules(app) == [
        ("1988-01-02", "NONE-NOT-IN-SCOPE"),
        ("2025-03-01", "PROB-SEXUAL"),
        ("2026-06-01", "NONE-CUSTODY"),
    ]

    deleted = {**supervision, "deleted": True, "updated_at": "2026-11-02T09:00:00Z"}
    (tmp_path / "2").mkdir()
    run_cycle(app, write_sources(tmp_path / "2", [person("probation", CRN), deleted], []), AS_OF)

    assert rules(app) == [("1988-01-02", "NONE-NOT-IN-SCOPE"), ("2026-06-01", "NONE-CUSTODY")]


def test_both_agencies_assessments_under_one_id_are_a_duplicate_pair(
    app: App, tmp_path: Path
) -> None:
    probation = [
        person("probation", CRN, pnc=PNC),
        licence("S-1", CRN, "2025-03-01", "2027-02-28"),
        completed_assessment("probation", SHARED_ID, CRN, "2025-04-20"),
    ]
    police = [
        person("police", POLICE_REF, pnc=PNC),
        completed_assessment("police", SHARED_ID, POLICE_REF, "2025-05-10"),
    ]
    run_cycle(app, write_sources(tmp_path, probation, police), AS_OF)

    report = ledger_report(app, ReportFilters())
    duplicates = {
        flag.agency: (flag.assessment_id, flag.counterpart and flag.counterpart.agency)
        for flag in report.flags
        if flag.kind == "duplicate"
    }
    assert duplicates == {"police": (SHARED_ID, "probation"), "probation": (SHARED_ID, "police")}
