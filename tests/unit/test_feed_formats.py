"""Feed-v1 value formats: null optional fields and `deleted`."""

from __future__ import annotations

import json
from datetime import date

import pytest

from sync.feeds.jsonl import Accepted, Rejected, validate_line
from sync.feeds.models import FeedContext

TODAY = date(2026, 11, 28)
CONTEXTS = {
    "probation": FeedContext("probation", TODAY),
    "police": FeedContext("police", TODAY),
}
STAMP = "2026-11-01T09:00:00Z"
DELETED_REASON = "must be true, false or null"

# One valid record of each type that has dates, with every optional field set.
# Its dates leave room for any 2025-01-01 value in any date field.
RECORDS: dict[str, dict[str, object]] = {
    "person": {
        "agency": "probation",
        "id": "X123456",
        "pnc": "2002/0073319Z",
        "cro": "65656/91H",
        "noms": "A1234BC",
        "surname": "EXAMPLE",
        "forenames": "John",
        "gender": "M",
        "area": "NW",
        "date_of_birth": "1975-04-12",
    },
    "supervision": {
        "agency": "probation",
        "id": "S-1",
        "person_id": "X123456",
        "kind": "licence",
        "offence": "sexual",
        "start": "2020-06-01",
        "end": "2027-05-31",
        "terminated_on": "2026-01-31",
    },
    "custody": {
        "agency": "probation",
        "id": "C-1",
        "person_id": "X123456",
        "start": "2020-06-01",
        "end": "2027-05-31",
    },
    "registration": {
        "agency": "police",
        "id": "R-1",
        "person_id": "LAN-1",
        "start": "2020-06-01",
        "end": "2027-05-31",
    },
    "assessment": {
        "agency": "probation",
        "id": "A-1",
        "person_id": "X123456",
        "started_on": "2020-06-10",
        "completed_on": "2025-07-02",
        "status": "completed",
    },
}
DATE_FIELDS = [
    ("person", "date_of_birth"),
    ("supervision", "start"),
    ("supervision", "end"),
    ("supervision", "terminated_on"),
    ("custody", "start"),
    ("custody", "end"),
    ("registration", "start"),
    ("registration", "end"),
    ("assessment", "started_on"),
    ("assessment", "completed_on"),
]
OPTIONAL_FIELDS = [
    ("person", "pnc"),
    ("person", "cro"),
    ("person", "noms"),
    ("person", "date_of_birth"),
    ("person", "deleted"),
    ("supervision", "end"),
    ("supervision", "terminated_on"),
    ("supervision", "deleted"),
    ("custody", "end"),
    ("registration", "end"),
    ("assessment", "completed_on"),
    ("assessment", "deleted"),
]
ABSENT = object()


def _line(record_type: str, **overrides: object) -> bytes:
    fields = {"type": record_type, **RECORDS[record_type], "updated_at": STAMP}
    if record_type == "assessment" and overrides.get("completed_on", "") in (None, ABSENT):
        fields["status"] = "in_progress"
    for name, value in overrides.items():
        if value is ABSENT:
            fields.pop(name, None)
        else:
            fields[name] = value
    return json.dumps(fields).encode()


def _validate(record_type: str, **overrides: object) -> Accepted | Rejected:
    context = CONTEXTS[str(RECORDS[record_type]["agency"])]
    return validate_line(_line(record_type, **overrides), "line 1", context)


def _accepted(record_type: str, **overrides: object) -> Accepted:
    item = _validate(record_type, **overrides)
    assert isinstance(item, Accepted), item.reason
    return item


def _reason(record_type: str, **overrides: object) -> str:
    item = _validate(record_type, **overrides)
    assert isinstance(item, Rejected)
    return item.reason


def _payload(item: Accepted) -> dict[str, object]:
    assert item.version.payload is not None
    value = json.loads(item.version.payload)
    assert isinstance(value, dict)
    return value


# Null and absent optional fields ---------------------------------------------


@pytest.mark.parametrize(("record_type", "field"), OPTIONAL_FIELDS)
@pytest.mark.parametrize("value", [None, ABSENT], ids=["null", "absent"])
def test_every_optional_field_may_be_null_or_absent(
    record_type: str, field: str, value: object
) -> None:
    item = _accepted(record_type, **{field: value})
    assert item.version.deleted is False
    if field != "deleted":
        assert _payload(item)[field] is None


# deleted ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "deleted"), [(None, False), (ABSENT, False), (False, False), (True, True)]
)
def test_deleted_is_a_json_boolean_and_null_means_not_deleted(value: object, deleted: bool) -> None:
    item = _accepted("person", deleted=value)
    assert item.version.deleted is deleted
    assert (item.version.payload is None) is deleted


@pytest.mark.parametrize("value", ["yes", "no", "true", "false", 1, 0, 1.0, "", [], {}])
def test_deleted_other_than_a_json_boolean_is_rejected(value: object) -> None:
    assert _reason("person", deleted=value) == f"person.deleted: {DELETED_REASON}"
