"""Feed lines to the core's values, field by field: validation, the stored version, read back.

Every field of every record type must arrive in the core as the feed gave it
(canonical form), under its own name: a swapped or dropped field changes who
is linked to whom and who owns ARMS. Each value here differs from the others
and from the defaults, so a field read from the wrong place shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

from sync.core.consolidate import FeedState, Merge
from sync.core.records import (
    Agency,
    Assessment,
    AssessmentStatus,
    Gender,
    Offence,
    Period,
    Person,
    Supervision,
    SupervisionKind,
)
from sync.feeds.convert import feed_state, to_version
from sync.feeds.jsonl import validate_record
from sync.feeds.models import AgencyName, FeedContext
from sync.feeds.timestamps import utc_key
from sync.ledger.store import StoredRecord, content_digest

TODAY = date(2026, 11, 28)
STAMP = "2026-11-01T09:00:00Z"
CRN, OTHER_CRN, POLICE_REF = "X123456", "X654321", "LAN-7"
P, Q = Agency.PROBATION, Agency.POLICE

PROBATION_LINES = [
    {
        "type": "person",
        "id": " x123456 ",
        "surname": "EXAMPLE",
        "forenames": "Jo Ann",
        "gender": "F",
        "area": "NW",
        "date_of_birth": "1975-04-12",
        "pnc": "02/73319z",
        "cro": "065656/91h",
        "noms": "A1234BC",
    },
    {
        "type": "supervision",
        "id": "S-1",
        "person_id": CRN,
        "kind": "post_sentence_supervision",
        "offence": "sexual_element",
        "start": "2024-01-02",
        "end": "2026-03-04",
        "terminated_on": "2025-05-06",
    },
    {"type": "custody", "id": "C-1", "person_id": CRN, "start": "2023-01-02", "end": "2023-12-31"},
    {
        "type": "assessment",
        "id": "A-1",
        "person_id": CRN,
        "started_on": "2025-02-03",
        "completed_on": "2025-02-20",
        "status": "cancelled",
    },
    {"type": "merge", "id": "M-1", "source_person_id": OTHER_CRN, "target_person_id": CRN},
]
POLICE_LINES = [
    {
        "type": "person",
        "id": POLICE_REF,
        "surname": "EXAMPLE",
        "forenames": "JO",
        "gender": "X",
        "area": "LANC",
    },
    {"type": "registration", "id": "R-1", "person_id": POLICE_REF, "start": "2019-07-08"},
    {
        "type": "assessment",
        "id": "PA-1",
        "person_id": POLICE_REF,
        "started_on": "2026-10-01",
        "status": "in_progress",
    },
]


def stored(agency: AgencyName, line: Mapping[str, object]) -> StoredRecord:
    """One feed line validated, stored as a version, and read back as the ledger does."""
    raw = json.dumps({**line, "agency": agency, "updated_at": STAMP}).encode()
    version = to_version(validate_record(raw, FeedContext(agency, TODAY)))
    assert version.payload is not None
    return StoredRecord(version.agency, version.rtype, version.rid, json.loads(version.payload))


def test_every_field_of_every_record_type_reaches_the_core_under_its_own_name() -> None:
    state = feed_state(
        [stored("probation", line) for line in PROBATION_LINES]
        + [stored("police", line) for line in POLICE_LINES]
    )
    assert state == FeedState(
        persons=[
            Person(
                P,
                CRN,
                "EXAMPLE",
                "Jo Ann",
                Gender.FEMALE,
                "NW",
                date(1975, 4, 12),
                "2002/0073319Z",
                "065656/91H",
                "A1234BC",
            ),
            Person(Q, POLICE_REF, "EXAMPLE", "JO", Gender.OTHER, "LANC"),
        ],
        merges=[Merge(P, "M-1", OTHER_CRN, CRN)],
        supervisions=[
            Supervision(
                "S-1",
                CRN,
                SupervisionKind.POST_SENTENCE_SUPERVISION,
                Offence.SEXUAL_ELEMENT,
                date(2024, 1, 2),
                date(2026, 3, 4),
                date(2025, 5, 6),
            ),
        ],
        custodies=[Period("C-1", CRN, date(2023, 1, 2), date(2023, 12, 31))],
        registrations=[Period("R-1", POLICE_REF, date(2019, 7, 8), None)],
        assessments=[
            Assessment(
                P, "A-1", CRN, date(2025, 2, 3), date(2025, 2, 20), AssessmentStatus.CANCELLED
            ),
            Assessment(
                Q, "PA-1", POLICE_REF, date(2026, 10, 1), None, AssessmentStatus.IN_PROGRESS
            ),
        ],
    )


def test_a_stored_version_keeps_its_key_person_and_warnings_out_of_its_payload() -> None:
    line = {**PROBATION_LINES[0], "date_of_birth": "1900-01-01"}
    raw = json.dumps({**line, "agency": "probation", "updated_at": STAMP}).encode()
    version = to_version(validate_record(raw, FeedContext("probation", TODAY)))
    assert (version.agency, version.rtype, version.rid, version.updated_at) == (
        "probation",
        "person",
        CRN,
        utc_key(STAMP),
    )
    assert version.warnings == ("date_of_birth: placeholder value, never used to link",)
    assert version.payload is not None
    assert set(json.loads(version.payload)) == {
        "surname", "forenames", "gender", "area", "date_of_birth", "pnc", "cro", "noms",
    }  # fmt: skip
    assert version.digest == content_digest(version.payload)


def test_a_dependent_records_version_names_its_person() -> None:
    for line in PROBATION_LINES[1:4]:
        raw = json.dumps({**line, "agency": "probation", "updated_at": STAMP}).encode()
        version = to_version(validate_record(raw, FeedContext("probation", TODAY)))
        assert version.person_id == CRN
        assert version.payload is not None
        assert json.loads(version.payload)["person_id"] == CRN
