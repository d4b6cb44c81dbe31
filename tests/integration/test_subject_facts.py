"""`reconcile show`'s records behind the timeline: each person's supervisions, custodies,
registrations and assessments, those of references its agency merged into it (never
sent as persons themselves), never those of other people or records the agency deleted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.cycle import run_cycle
from sync.ledger import schema
from sync.reconcile.render import report_lines
from sync.reconcile.subject import subject_report
from sync.settings import Settings
from tests.feed_records import (
    AS_OF,
    completed_assessment,
    custody,
    licence,
    merge,
    person,
    registration,
    write_sources,
)

pytestmark = pytest.mark.integration
LATER = "2026-02-01T00:00:00Z"


PROBATION = [
    person("probation", "X100001", pnc="1980/0000018L"),
    licence("S-2", "X100001", "2024-03-01", "2026-02-28", terminated_on="2025-10-31"),
    custody("C-1", "X100001", "2023-01-05", None),
    person("probation", "X100002", pnc="1980/0000018L"),
    licence("S-1", "X100002", "2022-01-01", "2022-12-31"),  # an older reference, merged
    merge("probation", "M-1", "X100002", "X100001"),
    licence("S-0", "X100003", "2021-01-01", "2021-06-30"),  # a reference never sent, merged
    merge("probation", "M-2", "X100003", "X100002"),
    person("probation", "X100009", surname="OTHER", date_of_birth="1990-05-06"),
    licence("S-9", "X100009", "2022-01-01", None),  # another person's
    {
        **completed_assessment("probation", "PA-9", "X100001", "2025-04-20"),
        "deleted": True,
        "updated_at": LATER,
    },
]
POLICE = [
    person("police", "LAN-1", pnc="1980/0000018L"),
    registration("R-1", "LAN-1", "2019-01-01", None),
    completed_assessment(
        "police", "PA-2", "LAN-1", "2025-05-10", status="in_progress", completed_on=None
    ),
]


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url))
    run_cycle(application, write_sources(tmp_path, PROBATION, POLICE), date.fromisoformat(AS_OF))
    yield application
    application.close()


def _subject_of(app: App, person_id: str) -> str:
    table = schema.subject_members
    with app.ledger.engine.connect() as conn:
        query = select(table.c.subject_id).where(table.c.person_id == person_id)
        return str(conn.execute(query).scalar_one())


def test_show_lists_each_person_s_periods_and_assessments_with_merged_references(
    app: App,
) -> None:
    report = subject_report(app.ledger, _subject_of(app, "X100001"))
    lines = report_lines(report)
    start = lines.index("Supervisions, custodies, registrations and assessments:")
    shown = [line.split() for line in lines[start + 1 : lines.index("Timeline:")]]
    assert [" ".join(words) for words in shown] == [
        "police:LAN-1 registration R-1: 2019-01-01 to open",
        "police:LAN-1 assessment PA-2: in_progress, started 2025-05-10",
        "probation:X100001 supervision S-2: licence, sexual, 2024-03-01 to 2026-02-28, "
        "ended early 2025-10-31",
        "probation:X100001 custody C-1: 2023-01-05 to open",
        "probation:X100002 supervision S-1: licence, sexual, 2022-01-01 to 2022-12-31",
        "probation:X100003 supervision S-0: licence, sexual, 2021-01-01 to 2021-06-30",
    ]


def test_show_says_which_records_their_agency_merged_and_into_which(app: App) -> None:
    lines = report_lines(subject_report(app.ledger, _subject_of(app, "X100001")))
    merged = [line for line in lines if "was merged by its agency" in line]
    assert merged == [
        "probation:X100002 was merged by its agency into probation:X100001: its details "
        "are as last sent, before the merge.",
        "probation:X100003 was merged by its agency into probation:X100001: never sent as "
        "a person.",
    ]
    assert lines.index(merged[0]) < lines.index(
        "Supervisions, custodies, registrations and assessments:"
    )


def test_a_subject_without_periods_says_none(app: App) -> None:
    lines = report_lines(subject_report(app.ledger, _subject_of(app, "X100009")))
    start = lines.index("Supervisions, custodies, registrations and assessments:")
    assert lines[start + 1].split()[1:3] == ["supervision", "S-9:"]
