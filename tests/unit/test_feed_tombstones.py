"""Deletions erase a record whatever else they carry; supervisions end unless a life licence."""

from __future__ import annotations

import json
from datetime import date

import pytest

from sync.feeds.jsonl import Accepted, Rejected, validate_line
from sync.feeds.models import FeedContext

PROBATION = FeedContext("probation", date(2026, 11, 28))
POLICE = FeedContext("police", date(2026, 11, 28))
STAMP = "2026-11-01T09:00:00Z"


def _line(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _tombstone(record_type: str, agency: str, record_id: str) -> bytes:
    return _line(type=record_type, agency=agency, id=record_id, updated_at=STAMP, deleted=True)


def _context(agency: str) -> FeedContext:
    return PROBATION if agency == "probation" else POLICE


@pytest.mark.parametrize(
    ("record_type", "agency", "record_id"),
    [
        ("person", "probation", "X123456"),
        ("person", "police", "GMP-1"),
        ("supervision", "probation", "S-1"),
        ("custody", "probation", "C-1"),
        ("registration", "police", "R-1"),
        ("assessment", "police", "PA-1"),
        ("assessment", "probation", "A-1"),
        ("merge", "police", "M-1"),
    ],
)
def test_a_deletion_of_only_its_key_is_accepted(
    record_type: str, agency: str, record_id: str
) -> None:
    item = validate_line(_tombstone(record_type, agency, record_id), "line 1", _context(agency))
    assert isinstance(item, Accepted)
    version = item.version
    assert (version.agency, version.rtype, version.rid) == (agency, record_type, record_id)
    assert version.deleted
    assert (version.payload, version.person_id) == (None, None)


def test_a_deleted_persons_id_is_made_canonical_as_when_it_was_stored() -> None:
    item = validate_line(_tombstone("person", "probation", " x123456 "), "line 1", PROBATION)
    assert isinstance(item, Accepted)
    assert item.version.rid == "X123456"


def test_a_deletion_whose_other_fields_no_longer_validate_still_erases() -> None:
    raw = _line(
        type="custody",
        agency="probation",
        id="C-1",
        person_id="X123456",
        start="2025-06-01",
        end="2025-01-01",
        updated_at=STAMP,
        deleted=True,
    )
    item = validate_line(raw, "line 1", PROBATION)
    assert isinstance(item, Accepted)
    assert item.version.deleted


@pytest.mark.parametrize(
    ("raw", "context", "reason_part"),
    [
        (_tombstone("supervision", "police", "S-1"), POLICE, "supervision"),
        (_tombstone("registration", "probation", "R-1"), PROBATION, "registration"),
        (_tombstone("assessment", "police", "PA-1"), PROBATION, "agency"),
        (_tombstone("probe", "police", "X-1"), POLICE, "type"),
        (_tombstone("person", "probation", "NOT-A-CRN"), PROBATION, "crn"),
        (_line(type="assessment", agency="police", id="PA-1", updated_at=STAMP), POLICE, ""),
        (
            _line(type="assessment", agency="police", id="PA-1", updated_at=STAMP, deleted=False),
            POLICE,
            "",
        ),
        (_line(type="assessment", agency="police", id="PA-1", deleted=True), POLICE, ""),
    ],
)
def test_what_is_not_a_deletion_of_a_known_record_is_rejected(
    raw: bytes, context: FeedContext, reason_part: str
) -> None:
    item = validate_line(raw, "line 1", context)
    assert isinstance(item, Rejected)
    assert reason_part in item.reason


def _supervision(kind: str, end: str | None) -> bytes:
    return _line(
        type="supervision",
        agency="probation",
        id="S-1",
        person_id="X123456",
        kind=kind,
        offence="sexual",
        start="2025-06-01",
        end=end,
        updated_at=STAMP,
    )


@pytest.mark.parametrize(
    "kind", ["post_sentence_supervision", "community_order", "suspended_sentence_order"]
)
def test_only_a_licence_may_have_no_end(kind: str) -> None:
    item = validate_line(_supervision(kind, None), "line 1", PROBATION)
    assert isinstance(item, Rejected)
    assert item.reason == "supervision.end: required (only a life licence has no end)"
    ended = validate_line(_supervision(kind, "2026-05-31"), "line 1", PROBATION)
    assert isinstance(ended, Accepted)


def test_a_life_licence_has_no_end() -> None:
    item = validate_line(_supervision("licence", None), "line 1", PROBATION)
    assert isinstance(item, Accepted)
    assert item.version.payload is not None
    assert json.loads(item.version.payload)["end"] is None


@pytest.mark.parametrize(
    ("raw", "context", "reason"),
    [
        (
            _tombstone("supervision", "police", "S-1"),
            POLICE,
            "supervision.type: a supervision record only comes from probation",
        ),
        (
            _line(type="assessment", agency="police", id="PA-1", deleted=True),
            POLICE,
            "assessment.updated_at: Field required",
        ),
        (
            _line(type="person", agency="police", id="LAN 1", updated_at=STAMP, deleted=True),
            POLICE,
            "person.id (police reference): must be 1-32 letters, digits or hyphens",
        ),
    ],
)
def test_a_refused_deletion_names_what_its_key_broke_not_the_fields_it_need_not_carry(
    raw: bytes, context: FeedContext, reason: str
) -> None:
    """docs/decisions.md: a deletion is read on its key, so a rejected one is not told it
    lacks the full record's fields."""
    item = validate_line(raw, "line 1", context)
    assert isinstance(item, Rejected)
    assert item.reason == reason


def test_a_line_that_is_not_a_deletion_still_names_every_field_it_lacks() -> None:
    raw = _line(type="assessment", agency="police", id="PA-1", updated_at="2026-01-01")
    item = validate_line(raw, "line 1", POLICE)
    assert isinstance(item, Rejected)
    assert item.reason == (
        "assessment.updated_at: must be an RFC 3339 timestamp with seconds and an offset; "
        "assessment.person_id: Field required; assessment.started_on: Field required"
    )
