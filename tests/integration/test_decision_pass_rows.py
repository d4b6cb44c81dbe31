"""What a stored decision pass leaves in the ledger: subjects, members, vanished ids, flag days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.core.decide import Decisions
from sync.core.duplicates import Counterpart, Flag, FlagKind
from sync.core.notices import Notice
from sync.core.records import Agency, AssessmentStatus, Owner
from sync.crypto import Party, generate_party
from sync.cycle import run_cycle
from sync.ledger import schema
from sync.ledger.decisions import merge_flags, store_decisions
from sync.ledger.flag_rows import iter_flag_rows
from sync.ledger.former_members import current_holders
from sync.ledger.tables_manual import review_items
from sync.settings import Settings, load_settings
from tests.feed_records import licence, merge, person, write_sources

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
MORNING = datetime(2026, 11, 28, 9, tzinfo=UTC)
# 01:30 on 28 November at UTC+2 is still 27 November in UTC.
LOCAL_EARLY = datetime(2026, 11, 28, 1, 30, tzinfo=timezone(timedelta(hours=2)))


class Clock:
    """A clock the test sets by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MORNING)


@pytest.fixture
def app(ledger_url: str, clock: Clock) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url), clock=clock)
    yield application
    application.close()


def _members(app: App) -> dict[str, dict[str, Any]]:
    table = schema.subject_members
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.agency == "probation"))
        return {row.person_id: dict(row._mapping) for row in rows}


def _active(app: App) -> dict[str, bool]:
    table = schema.subjects
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.subject_id, table.c.active))
        return {subject_id: bool(active) for subject_id, active in rows}


def _holders(app: App, subject_id: str) -> tuple[str, ...] | None:
    with app.ledger.engine.connect() as conn:
        return current_holders(conn, subject_id)


def test_a_merged_away_subject_id_goes_inactive_and_keeps_where_its_records_went(
    app: App, tmp_path: Path
) -> None:
    people = [
        person("probation", "X000001", surname="ALPHA", date_of_birth="1960-03-04"),
        person("probation", "X000002", surname="BRAVO", date_of_birth="1985-07-08"),
    ]
    run_cycle(app, write_sources(tmp_path, people, []), AS_OF)
    first = {pid: row["subject_id"] for pid, row in _members(app).items()}
    assert first["X000001"] != first["X000002"]

    merged = [*people, merge("probation", "M-1", "X000002", "X000001")]
    run_cycle(app, write_sources(tmp_path, merged, []), AS_OF)
    members = _members(app)
    assert members["X000002"]["subject_id"] == first["X000001"]
    assert (members["X000002"]["matched_by"], members["X000002"]["merged_into"]) == (
        "MERGE",
        "X000001",
    )
    assert _active(app) == {first["X000001"]: True, first["X000002"]: False}
    assert _holders(app, first["X000002"]) == (first["X000001"],)

    run_cycle(app, write_sources(tmp_path, merged, []), AS_OF)  # the same pass again
    assert _holders(app, first["X000002"]) == (first["X000001"],)

    unmerged = [
        *people,
        merge(
            "probation",
            "M-1",
            "X000002",
            "X000001",
            deleted=True,
            updated_at="2026-02-01T00:00:00Z",
        ),
    ]
    run_cycle(app, write_sources(tmp_path, unmerged, []), AS_OF)
    again = {pid: row["subject_id"] for pid, row in _members(app).items()}
    assert {subject_id for subject_id, on in _active(app).items() if on} == set(again.values())
    assert first["X000002"] not in again.values()  # ids are never reused


def _first_seen_as_of(app: App) -> list[date]:
    table = schema.flags
    with app.ledger.engine.connect() as conn:
        return list(conn.execute(select(table.c.first_seen_as_of)).scalars())


def _two_records_of_one_person(tmp_path: Path) -> dict[str, Any]:
    """Two probation records sharing a PNC: one subject holding two of its agency's records."""
    people = [
        person("probation", "X000001", pnc="2002/0073319Z"),
        person("probation", "X000002", pnc="2002/0073319Z"),
    ]
    return write_sources(tmp_path, people, [])


@pytest.mark.parametrize(
    ("as_of", "now", "filed"),
    [
        (date(2026, 11, 20), MORNING, date(2026, 11, 20)),
        (date(2026, 12, 5), MORNING, date(2026, 11, 28)),
        (date(2026, 12, 5), LOCAL_EARLY, date(2026, 11, 27)),
    ],
)
def test_a_new_flag_is_filed_under_the_runs_date_never_ahead_of_today(
    app: App, clock: Clock, tmp_path: Path, as_of: date, now: datetime, filed: date
) -> None:
    clock.now = now
    run_cycle(app, _two_records_of_one_person(tmp_path), as_of)
    assert _first_seen_as_of(app) == [filed]


def test_a_pass_stored_with_notices_worked_out_elsewhere_queues_those(
    ledger_url: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    for party in Party:
        generate_party(keys, party)
    hub = App(load_settings(database_url=ledger_url, keys_dir=keys))
    try:
        hub.ledger.ensure_schema()
        notice = Notice(
            agency=Agency.PROBATION,
            key="probation/00001",
            kind="ownership",
            subject_id="S-00001",
            body={"kind": "ownership", "number": 1},
        )
        empty = Decisions(subjects=(), merged_into={}, orphans=())
        batches = store_decisions(
            hub.ledger, empty, 1, MORNING, keys=hub.outbox_keys, notices=[notice]
        )
        with hub.ledger.engine.connect() as conn:
            queued = conn.execute(select(schema.notices.c.subject_id)).scalars().all()
    finally:
        hub.close()
    assert (batches, queued) == (1, ["S-00001"])


def test_a_duplicate_flag_keeps_its_counterparts_reference_date(app: App) -> None:
    flag = Flag(
        kind=FlagKind.DUPLICATE,
        subject_id="S-1",
        agency=Agency.POLICE,
        assessment_id="PA-1",
        person_ids=("P-1",),
        reference_date=date(2025, 5, 10),
        owner_at_reference_date=Owner.PROBATION,
        rule_at_reference_date="PROB-SEXUAL",
        counterpart=Counterpart(Agency.PROBATION, "A-1", date(2025, 4, 20)),
        redundant=True,
        area="LANC",
        assessment_status=AssessmentStatus.COMPLETED,
    )
    with app.ledger.engine.begin() as conn:
        merge_flags(conn, [flag], MORNING, AS_OF)
    with app.ledger.engine.connect() as conn:
        keys = conn.execute(select(schema.flags.c.key)).scalars().all()
    assert keys == ["duplicate|police|PA-1"]  # the form earlier ledger revisions stored
    (row,) = iter_flag_rows(app.ledger, frozenset({FlagKind.DUPLICATE.value}))
    assert row.counterpart is not None
    assert (row.counterpart.agency, row.counterpart.assessment_id) == ("probation", "A-1")
    assert row.counterpart.reference_date == date(2025, 4, 20)


def test_a_pass_stores_its_orphans_and_its_review_items(app: App, tmp_path: Path) -> None:
    shared = "2002/0073319Z"  # one PNC, surname and birth date both plainly disagreeing
    probation = [
        person("probation", "X000001", surname="ALPHA", date_of_birth="1960-03-04", pnc=shared),
        licence("S-1", "X000009", "2025-01-01", None),  # its person is not in the feed
    ]
    police = [person("police", "P-1", surname="ZULU", date_of_birth="1990-07-08", pnc=shared)]
    summary = run_cycle(app, write_sources(tmp_path, probation, police), AS_OF)
    assert [(o["agency"], o["record_id"]) for o in app.ledger.list_orphans()] == [
        ("probation", "S-1")
    ]
    with app.ledger.engine.connect() as conn:
        items = conn.execute(select(func.count()).select_from(review_items)).scalar()
    assert items == 1
    assert summary.link_reviews == 1
    assert "link reviews: 1 pair of records to link or keep apart" in "\n".join(summary.lines())


def _without_owner(status: AssessmentStatus, redundant: bool | None) -> Flag:
    return Flag(
        kind=FlagKind.ASSESSED_WITHOUT_OWNER,
        subject_id="S-1",
        agency=Agency.POLICE,
        assessment_id="PA-1",
        person_ids=("P-1",),
        reference_date=date(2025, 5, 10),
        owner_at_reference_date=Owner.NONE,
        rule_at_reference_date="NONE-CUSTODY",
        redundant=redundant,
        area="LANC",
        assessment_status=status,
    )


def _status_and_redundancy(app: App) -> tuple[str, bool | None]:
    (row,) = iter_flag_rows(app.ledger, frozenset({FlagKind.ASSESSED_WITHOUT_OWNER.value}))
    return str(row.assessment_status), row.redundant


def test_a_flag_that_still_holds_takes_each_changed_detail(app: App) -> None:
    passes = [
        _without_owner(AssessmentStatus.IN_PROGRESS, None),
        _without_owner(AssessmentStatus.COMPLETED, None),
        _without_owner(AssessmentStatus.COMPLETED, True),
    ]
    seen = []
    for number, flag in enumerate(passes):
        with app.ledger.engine.begin() as conn:
            merge_flags(conn, [flag], MORNING + timedelta(hours=number), AS_OF)
        seen.append(_status_and_redundancy(app))
    assert seen == [("in_progress", None), ("completed", None), ("completed", True)]
