"""Stored flags read back for reports, and each flagged subject's owner on a day, on both databases.

Flags are kept, open or closed, never erased (`duplicates.md`); a report must
show every field as stored, list areas of closed flags as well as open ones,
and place an in-progress alert's owner by the segment that covers the day,
ends included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from sync.app import App
from sync.ledger import schema
from sync.ledger.flag_rows import flag_areas, iter_flag_rows, owners_on
from sync.ledger.store import Ledger
from sync.reports.models import Counterpart, FlagRow
from sync.settings import load_settings

pytestmark = pytest.mark.integration

FIRST_SEEN = datetime(2025, 5, 11, 2, 0, tzinfo=UTC)
LAST_SEEN = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
CLOSED_AT = datetime(2026, 1, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    app = App(load_settings(database_url=ledger_url))
    yield app.ledger
    app.close()


def _flag(key: str, **fields: object) -> dict[str, object]:
    return {
        "key": key,
        "kind": "duplicate",
        "subject_id": "S-1",
        "agency": "police",
        "assessment_id": "PA-1",
        "person_ids": json.dumps(["LAN-1"]),
        "reference_date": date(2025, 5, 10),
        "owner_at_reference_date": "probation",
        "rule_at_reference_date": "PROB-SEXUAL",
        "counterpart": json.dumps({"agency": "probation", "assessment_id": "A-1"}),
        "redundant": True,
        "area": "LANC",
        "assessment_status": "completed",
        "first_seen": FIRST_SEEN,
        "first_seen_as_of": date(2025, 5, 11),
        "last_seen": LAST_SEEN,
        "closed_at": None,
        **fields,
    }


def _insert(ledger: Ledger, table: object, rows: list[dict[str, object]]) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(table.insert(), rows)  # type: ignore[attr-defined]


def _utc(moment: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite gives it back naive, PostgreSQL aware)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_every_field_of_an_open_and_a_closed_flag_is_read_back(ledger: Ledger) -> None:
    _insert(
        ledger,
        schema.flags,
        [
            _flag("k-open"),
            _flag(
                "k-closed",
                kind="assessed_without_owner",
                agency="probation",
                assessment_id="A-9",
                person_ids=json.dumps(["X000001", "X000002"]),
                reference_date=date(2019, 2, 3),
                owner_at_reference_date="none",
                rule_at_reference_date="NONE-CUSTODY",
                counterpart=None,
                redundant=None,
                area="NW",
                assessment_status="cancelled",
                first_seen_as_of=date(2024, 1, 1),
                closed_at=CLOSED_AT,
            ),
            _flag("k-conflict", kind="gender_conflict", area="YORKS"),
        ],
    )
    rows = {row.assessment_id: row for row in iter_flag_rows(ledger)}
    assert set(rows) == {"PA-1", "A-9"}  # a conflict is no report flag
    open_flag, closed_flag = rows["PA-1"], rows["A-9"]
    assert open_flag.model_dump(exclude={"first_seen", "last_seen", "closed_at"}) == FlagRow(
        kind="duplicate",
        subject_id="S-1",
        agency="police",
        assessment_id="PA-1",
        person_ids=["LAN-1"],
        reference_date=date(2025, 5, 10),
        owner_at_reference_date="probation",
        rule_at_reference_date="PROB-SEXUAL",
        counterpart=Counterpart(agency="probation", assessment_id="A-1"),
        redundant=True,
        area="LANC",
        assessment_status="completed",
        state="open",
        first_seen=FIRST_SEEN,
        first_seen_as_of=date(2025, 5, 11),
        last_seen=LAST_SEEN,
    ).model_dump(exclude={"first_seen", "last_seen", "closed_at"})
    assert (_utc(open_flag.first_seen), _utc(open_flag.last_seen)) == (FIRST_SEEN, LAST_SEEN)
    assert open_flag.closed_at is None
    assert (closed_flag.kind, closed_flag.state, closed_flag.agency) == (
        "assessed_without_owner",
        "closed",
        "probation",
    )
    assert closed_flag.closed_at is not None
    assert _utc(closed_flag.closed_at) == CLOSED_AT
    assert (closed_flag.person_ids, closed_flag.counterpart, closed_flag.redundant) == (
        ["X000001", "X000002"],
        None,
        None,
    )
    assert (closed_flag.first_seen_as_of, closed_flag.assessment_status) == (
        date(2024, 1, 1),
        "cancelled",
    )
    conflicts = list(iter_flag_rows(ledger, frozenset({"gender_conflict"})))
    assert [row.area for row in conflicts] == ["YORKS"]


def test_the_areas_of_closed_flags_are_listed_with_the_open_ones(ledger: Ledger) -> None:
    _insert(
        ledger,
        schema.flags,
        [
            _flag("k-1", area="LANC"),
            _flag("k-2", area="NW", closed_at=CLOSED_AT),
            _flag("k-3", kind="duplicate_person_record", area=None, assessment_id=None),
        ],
    )
    assert flag_areas(ledger) == {"LANC", "NW"}


def test_the_areas_of_one_agency_s_flags_leave_the_other_s_out(ledger: Ledger) -> None:
    _insert(
        ledger,
        schema.flags,
        [_flag("k-1", area="LANC"), _flag("k-2", agency="probation", area="NW")],
    )
    assert (flag_areas(ledger, "police"), flag_areas(ledger, "probation")) == ({"LANC"}, {"NW"})


def _segments(subject_id: str, boundary: date) -> list[dict[str, object]]:
    """Police up to `boundary`, probation from the next day on, without end."""
    common = {"subject_id": subject_id, "mandatory": True, "policy": "pi-15-2015"}
    return [
        {
            **common,
            "position": 0,
            "start": None,
            "end": boundary,
            "owner": "police",
            "rule": "POLICE-REGISTERED",
        },
        {
            **common,
            "position": 1,
            "start": boundary + timedelta(days=1),
            "end": None,
            "owner": "probation",
            "rule": "PROB-SEXUAL",
        },
    ]


def test_a_subjects_owner_on_a_day_is_the_segment_covering_it_ends_included(
    ledger: Ledger,
) -> None:
    boundary = date(2025, 3, 1)
    _insert(ledger, schema.segments, _segments("S-1", boundary))
    police = ("police", "POLICE-REGISTERED")
    probation = ("probation", "PROB-SEXUAL")
    assert owners_on(ledger, ["S-1"], date(1900, 1, 1)) == {"S-1": police}
    assert owners_on(ledger, ["S-1"], boundary) == {"S-1": police}
    assert owners_on(ledger, ["S-1"], boundary + timedelta(days=1)) == {"S-1": probation}
    assert owners_on(ledger, ["S-1"], date(2999, 1, 1)) == {"S-1": probation}
    assert owners_on(ledger, ["S-1", "S-unknown"], boundary) == {"S-1": police}


def test_the_owners_of_more_subjects_than_one_query_holds_are_all_found(ledger: Ledger) -> None:
    boundary = date(2025, 3, 1)
    subject_ids = [f"S-{number:04d}" for number in range(1201)]
    _insert(ledger, schema.segments, [s for sid in subject_ids for s in _segments(sid, boundary)])
    found = owners_on(ledger, subject_ids, boundary)
    assert set(found) == set(subject_ids)
    assert set(found.values()) == {("police", "POLICE-REGISTERED")}
