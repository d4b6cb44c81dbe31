"""One stored flag per kind and assessment on both databases, whatever subject it is under.

An assessment that moves to another subject (a relinked person record, a
source-system merge, a manual link) keeps its flag: the same row takes the new
subject, keeps its first-seen time, and is reopened if it had been closed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from sync.app import App
from sync.core.duplicates import Flag, FlagKind
from sync.core.records import Agency, AssessmentStatus, Owner
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.ledger.decisions import flag_key, merge_flags
from sync.ledger.flag_rows import iter_flag_rows
from sync.ledger.flag_states import STATE_OPEN, STATE_RESOLVED, flag_state, latest_acts
from sync.reconcile.acts import Actor
from sync.reconcile.flags import resolve
from sync.reports.models import FlagRow
from sync.settings import Settings
from tests import relink_scenario as relink
from tests.feed_records import STAMP, completed_assessment, person, write_feed

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
START = datetime(2026, 11, 1, 9, tzinfo=UTC)
ACTOR = Actor("jsmith", "agreed at the MAPPA meeting")


class Clock:
    """A clock the test moves on by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(ledger_url: str, clock: Clock) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url), clock=clock)
    yield application
    application.close()


def utc(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC time (SQLite gives it back without a zone)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def without_owner(subject_id: str, assessment_id: str = "QA") -> Flag:
    """An `assessed_without_owner` flag on a police assessment."""
    return Flag(
        kind=FlagKind.ASSESSED_WITHOUT_OWNER,
        subject_id=subject_id,
        agency=Agency.POLICE,
        assessment_id=assessment_id,
        person_ids=("Q-1",),
        reference_date=date(2025, 5, 10),
        owner_at_reference_date=Owner.NONE,
        rule_at_reference_date="NONE-NOT-IN-SCOPE",
        area="LANC",
        assessment_status=AssessmentStatus.COMPLETED,
    )


def store(app: App, flags: Sequence[Flag], now: datetime) -> None:
    """One decision pass's flags, merged into the ledger."""
    with app.ledger.engine.begin() as conn:
        merge_flags(conn, flags, now, now.date())


def stored(app: App) -> list[dict[str, Any]]:
    """Every stored flag row."""
    with app.ledger.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(schema.flags))]


def rows_of(app: App, kind: FlagKind, assessment_id: str) -> list[FlagRow]:
    """The report rows of one kind about one assessment, open or closed."""
    return [
        row
        for row in iter_flag_rows(app.ledger, frozenset({kind.value}))
        if row.assessment_id == assessment_id
    ]


# -- merge_flags ---------------------------------------------------------------------


def test_a_flag_that_moves_to_another_subject_keeps_its_row(app: App, clock: Clock) -> None:
    first = clock()
    store(app, [without_owner("S-OLD")], first)
    store(app, [without_owner("S-NEW")], clock.tick())
    (row,) = stored(app)
    assert row["key"] == flag_key(without_owner("S-NEW"))
    assert row["subject_id"] == "S-NEW"
    assert utc(row["first_seen"]) == first
    assert utc(row["last_seen"]) == clock()
    assert row["closed_at"] is None


def test_a_closed_flag_raised_under_another_subject_is_reopened(app: App, clock: Clock) -> None:
    first = clock()
    store(app, [without_owner("S-OLD")], first)
    store(app, [], clock.tick())
    (closed,) = stored(app)
    assert utc(closed["closed_at"]) == clock()
    store(app, [without_owner("S-NEW")], clock.tick())
    (row,) = stored(app)
    assert (row["subject_id"], row["closed_at"]) == ("S-NEW", None)
    assert utc(row["first_seen"]) == first


def test_a_duplicate_person_record_flag_follows_its_records(app: App, clock: Clock) -> None:
    records = Flag(
        kind=FlagKind.DUPLICATE_PERSON_RECORD,
        subject_id="S-OLD",
        agency=Agency.PROBATION,
        person_ids=("A000001", "A000002"),
        area="NW",
    )
    first = clock()
    store(app, [records], first)
    store(app, [replace(records, subject_id="S-NEW")], clock.tick())
    (row,) = stored(app)
    assert (row["subject_id"], row["closed_at"]) == ("S-NEW", None)
    assert utc(row["first_seen"]) == first
    # A third record makes it another set of records: that is another flag.
    grown = replace(records, subject_id="S-NEW", person_ids=("A000001", "A000002", "A000003"))
    store(app, [grown], clock.tick())
    states = {tuple(json.loads(r["person_ids"])): r["closed_at"] is None for r in stored(app)}
    assert states == {("A000001", "A000002"): False, ("A000001", "A000002", "A000003"): True}


def _state(app: App, key: str) -> str:
    with app.ledger.engine.connect() as conn:
        row = conn.execute(select(schema.flags).where(schema.flags.c.key == key)).one()
        return flag_state(row._mapping, latest_acts(conn, [key]).get(key))


def test_a_resolved_flag_that_moves_is_open_again_under_the_same_key(
    app: App, clock: Clock
) -> None:
    key = flag_key(without_owner("S-OLD"))
    store(app, [without_owner("S-OLD")], clock())
    resolve(app, key, ACTOR)
    store(app, [without_owner("S-OLD")], clock.tick())
    assert _state(app, key) == STATE_RESOLVED
    # Its content changed (the subject), so the resolution no longer holds.
    store(app, [without_owner("S-NEW")], clock.tick())
    assert _state(app, key) == STATE_OPEN
    resolve(app, key, ACTOR)
    assert _state(app, key) == STATE_RESOLVED
    assert len(stored(app)) == 1


# -- for any sequence of passes ------------------------------------------------------

ITEMS = (
    (FlagKind.ASSESSED_WITHOUT_OWNER, "QA"),
    (FlagKind.ASSESSED_WITHOUT_OWNER, "QB"),
    (FlagKind.DUPLICATE, "QA"),
    (FlagKind.DUPLICATE_PERSON_RECORD, "Q-1,Q-2"),
)
SUBJECTS = ("S-1", "S-2", "S-3")
Pass = dict[tuple[FlagKind, str], str]


def _flag(kind: FlagKind, target: str, subject_id: str) -> Flag:
    if kind is FlagKind.DUPLICATE_PERSON_RECORD:
        return Flag(kind, subject_id, Agency.POLICE, person_ids=tuple(target.split(",")))
    return replace(without_owner(subject_id, target), kind=kind)


def _expected(passes: Sequence[Pass], times: Sequence[datetime]) -> dict[tuple[str, str], Any]:
    """Per kind and target: subject, first seen, last seen, closed at."""
    expected: dict[tuple[str, str], Any] = {}
    for index, (flags, now) in enumerate(zip(passes, times, strict=True)):
        for (kind, target), subject_id in flags.items():
            first = expected.get((kind.value, target), (None, now))[1]
            expected[(kind.value, target)] = (subject_id, first, now, None)
        for item, (subject_id, first, last, closed) in expected.items():
            if closed is None and (FlagKind(item[0]), item[1]) not in flags:
                expected[item] = (subject_id, first, last, times[index])
    return expected


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(ITEMS), st.sampled_from(SUBJECTS)),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_passes_keeps_one_flag_per_kind_and_target(
    app: App, passes: list[Pass]
) -> None:
    with app.ledger.engine.begin() as conn:
        conn.execute(delete(schema.flags))
    times = [START + timedelta(minutes=n) for n in range(len(passes))]
    for flags, now in zip(passes, times, strict=True):
        store(app, [_flag(kind, target, subject) for (kind, target), subject in flags.items()], now)
    found: dict[tuple[str, str], Any] = {}
    for row in stored(app):
        target = row["assessment_id"] or ",".join(json.loads(row["person_ids"]))
        assert (row["kind"], target) not in found, "two stored flags for one kind and target"
        found[(row["kind"], target)] = (
            row["subject_id"],
            utc(row["first_seen"]),
            utc(row["last_seen"]),
            utc(row["closed_at"]),
        )
    assert found == _expected(passes, times)


# -- whole runs ----------------------------------------------------------------------


def _sources(folder: Path, probation: list[Any], police: list[Any]) -> dict[str, Any]:
    return {
        agency: PlainFileSource(write_feed(folder / f"{agency}.jsonl", records))
        for agency, records in (("probation", probation), ("police", police))
    }


def _subject_of(app: App, agency: str, person_id: str) -> str:
    table = schema.subject_members
    with app.ledger.engine.connect() as conn:
        query = select(table.c.subject_id).where(
            table.c.agency == agency, table.c.person_id == person_id
        )
        return str(conn.execute(query).scalar_one())


def _only_flag_follows(app: App, assessment_id: str, old: str, new: str, first: datetime) -> None:
    """One `assessed_without_owner` flag on the assessment: open, under `new`, since `first`."""
    assert old != new
    (row,) = rows_of(app, FlagKind.ASSESSED_WITHOUT_OWNER, assessment_id)
    assert (row.subject_id, row.state) == (new, "open")
    assert utc(row.first_seen) == first


def test_a_relinked_person_takes_its_assessment_flag_along(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    run_cycle(app, _sources(tmp_path, relink.PROBATION, relink.BEFORE), AS_OF)
    first, old = clock(), _subject_of(app, "police", "Q-1")
    assert _subject_of(app, "police", "Q-9") == _subject_of(app, "probation", "A000001")
    clock.tick()
    run_cycle(app, _sources(tmp_path, relink.PROBATION, relink.AFTER), AS_OF)
    new = _subject_of(app, "police", "Q-1")
    assert new == _subject_of(app, "probation", "A000001")
    _only_flag_follows(app, "QA", old, new, first)


def test_a_source_merge_takes_the_assessment_flag_to_the_target_subject(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    police = [
        person(
            "police",
            "Q-1",
            surname="QUINCE",
            forenames="Quinn",
            date_of_birth="1971-02-03",
            updated_at=STAMP,
        ),
        person(
            "police",
            "Q-2",
            surname="ROWAN",
            forenames="Rhys",
            date_of_birth="1980-03-04",
            updated_at=STAMP,
        ),
        completed_assessment("police", "QA", "Q-1", "2025-05-10"),
    ]
    # ROWAN's probation record: Q-2's subject holds two records to Q-1's one, so it
    # keeps its id when Q-1 merges into Q-2, whatever the ids (a tie goes to the smaller).
    probation = [
        person(
            "probation",
            "R000002",
            surname="ROWAN",
            forenames="Rhys",
            date_of_birth="1980-03-04",
            updated_at=STAMP,
        )
    ]
    run_cycle(app, _sources(tmp_path, probation, police), AS_OF)
    first, old = clock(), _subject_of(app, "police", "Q-1")
    assert _subject_of(app, "police", "Q-2") == _subject_of(app, "probation", "R000002")
    merge = {
        "type": "merge",
        "agency": "police",
        "id": "M-1",
        "source_person_id": "Q-1",
        "target_person_id": "Q-2",
        "updated_at": "2026-02-01T00:00:00Z",
    }
    clock.tick()
    run_cycle(app, _sources(tmp_path, probation, [*police, merge]), AS_OF)
    _only_flag_follows(app, "QA", old, _subject_of(app, "police", "Q-2"), first)
