"""Feed-v1 value formats: null optional fields, `deleted`, dates and `updated_at` timestamps.

Pydantic's lax parsing would turn numbers, Unix times, datetimes and timestamps
without seconds into dates and datetimes; the feed spec allows none of these.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.feeds.jsonl import Accepted, Rejected, validate_line
from sync.feeds.models import FeedContext

TODAY = date(2026, 11, 28)
CONTEXTS = {
    "probation": FeedContext("probation", TODAY),
    "police": FeedContext("police", TODAY),
}
STAMP = "2026-11-01T09:00:00Z"
DATE_REASON = "must be a date in the form YYYY-MM-DD"
TIMESTAMP_REASON = "must be an RFC 3339 timestamp with seconds and an offset"
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


# Dates --------------------------------------------------------------------------


@pytest.mark.parametrize(("record_type", "field"), DATE_FIELDS)
def test_a_date_field_accepts_a_calendar_date(record_type: str, field: str) -> None:
    assert _payload(_accepted(record_type, **{field: "2025-01-01"}))[field] == "2025-01-01"


BAD_DATES = [
    "2025-01-01T00:00:00Z",
    "2025-01-01T00:00:00",
    "2025-01-01 00:00",
    1735689600,
    "1735689600",
    1735689600.0,
    "20250101",
    "2025-1-1",
    "01/01/2025",
    " 2025-01-01",
    "2025-01-01\n",
    "2025-02-30",
    "2025-13-01",
    "0000-01-01",
    "+2025-01-01",
    "\uff12\uff10\uff12\uff15-01-01",  # full-width digits
    "",
    True,
    ["2025-01-01"],
]


@pytest.mark.parametrize(("record_type", "field"), DATE_FIELDS)
@pytest.mark.parametrize("value", BAD_DATES, ids=repr)
def test_a_date_field_rejects_anything_but_yyyy_mm_dd(
    record_type: str, field: str, value: object
) -> None:
    assert _reason(record_type, **{field: value}) == f"{record_type}.{field}: {DATE_REASON}"


@pytest.mark.parametrize(
    ("record_type", "field"), [(t, f) for t, f in DATE_FIELDS if (t, f) not in OPTIONAL_FIELDS]
)
def test_a_required_date_may_not_be_null(record_type: str, field: str) -> None:
    assert _reason(record_type, **{field: None}) == f"{record_type}.{field}: {DATE_REASON}"


@given(st.dates(min_value=date(1, 1, 1)))
def test_any_date_written_yyyy_mm_dd_is_accepted_and_round_trips(day: date) -> None:
    text = day.isoformat()
    item = _accepted("registration", start=text, end=None)
    assert _payload(item)["start"] == text


@given(st.dates(), st.times())
def test_a_date_with_a_time_is_rejected(day: date, clock: time) -> None:
    text = f"{day.isoformat()}T{clock.isoformat()}"
    assert _reason("custody", start=text, end=None) == f"custody.start: {DATE_REASON}"


# updated_at -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "key"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00"),
        ("2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00"),
        ("2025-12-31T18:30:00-05:30", "2026-01-01T00:00:00"),
        ("2026-01-01T00:00:00-00:00", "2026-01-01T00:00:00"),
        ("2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00.500000"),
        ("2026-01-01T01:00:00.123456+01:00", "2026-01-01T00:00:00.123456"),
        ("2026-01-01T00:00:00.1234567891Z", "2026-01-01T00:00:00.1234567891"),
        ("2026-01-01T00:00:00.1234560000Z", "2026-01-01T00:00:00.123456"),
        ("2026-01-01T00:00:00.0000001Z", "2026-01-01T00:00:00.0000001"),
        ("2026-01-01T00:00:00.00000000000019Z", "2026-01-01T00:00:00"),  # past the 12th digit
        ("2026-01-01t00:00:00z", "2026-01-01T00:00:00"),
        ("2016-12-31T23:59:60Z", "2016-12-31T23:59:60"),
        ("2017-01-01T00:59:60.5+01:00", "2016-12-31T23:59:60.500000"),
    ],
)
def test_updated_at_accepts_rfc_3339_timestamps(stamp: str, key: str) -> None:
    assert _accepted("custody", updated_at=stamp).version.updated_at == key


BAD_STAMPS = [
    1767225600,
    1767225600.0,
    "1767225600",
    "2026-01-01T00:00Z",
    "2026-01-01T00Z",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00.5",
    "2026-01-01",
    "2026-01-01 00:00:00Z",
    "2026-01-01_00:00:00Z",
    "2026-01-01T00:00:00+0100",
    "2026-01-01T00:00:00+01",
    "2026-01-01T00:00:00,5Z",
    "2026-01-01T00:00:00.Z",
    "2026-01-01T24:00:00Z",
    "2026-12-30T23:59:60Z",
    "2026-12-31T23:58:60Z",
    "2026-12-31T23:59:61Z",
    "2026-01-01T00:00:00+24:00",
    "2026-02-30T00:00:00Z",
    "20260101T000000Z",
    " 2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00Z\n",
    "",
    None,
    True,
]


@pytest.mark.parametrize("stamp", BAD_STAMPS, ids=repr)
def test_updated_at_rejects_anything_but_rfc_3339(stamp: object) -> None:
    assert _reason("person", updated_at=stamp) == f"person.updated_at: {TIMESTAMP_REASON}"


OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
AWARE = st.datetimes(datetime(1900, 1, 2), datetime(2099, 12, 30), timezones=OFFSETS)


@given(AWARE, st.sampled_from(["seconds", "milliseconds", "microseconds"]))
def test_any_rfc_3339_timestamp_is_accepted_at_its_utc_instant(
    moment: datetime, timespec: str
) -> None:
    stamp = moment.isoformat(timespec=timespec)
    key = _accepted("custody", updated_at=stamp).version.updated_at
    utc = datetime.fromisoformat(stamp).astimezone(UTC)
    assert key == utc.replace(tzinfo=None).isoformat()


@given(AWARE)
def test_any_timestamp_missing_its_seconds_is_rejected(moment: datetime) -> None:
    stamp = moment.isoformat(timespec="seconds")
    without_seconds = stamp[:16] + stamp[19:]
    assert _reason("person", updated_at=without_seconds) == (
        f"person.updated_at: {TIMESTAMP_REASON}"
    )


@given(AWARE)
def test_any_timestamp_missing_its_offset_is_rejected(moment: datetime) -> None:
    local = moment.isoformat(timespec="seconds")[:19]
    assert _reason("person", updated_at=local) == f"person.updated_at: {TIMESTAMP_REASON}"


def test_format_reasons_never_repeat_the_value() -> None:
    reason = _reason("person", date_of_birth="1975-04-12T00:00:00Z", updated_at="1767225600")
    assert reason == f"person.updated_at: {TIMESTAMP_REASON}; person.date_of_birth: {DATE_REASON}"
