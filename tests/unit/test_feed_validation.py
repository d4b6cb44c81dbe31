"""Feed-v1 validation at the edge: what is accepted, set aside, or rejected, and why."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.feeds.jsonl import Accepted, Rejected, iter_lines, validate_line, validate_record
from sync.feeds.models import WARNINGS_KEY, FeedContext, PersonRecord
from sync.feeds.timestamps import utc_key
from tests.feed_records import completed_assessment, deleted_person, merge, person

PROBATION = FeedContext("probation", date(2026, 11, 28))
POLICE = FeedContext("police", date(2026, 11, 28))
STAMP = "2026-11-01T09:00:00Z"


def _line(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _person(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "type": "person",
        "agency": "probation",
        "id": "X123456",
        "pnc": "2002/0073319Z",
        "cro": None,
        "surname": "EXAMPLE",
        "forenames": "John",
        "gender": "M",
        "area": "NW",
        "date_of_birth": "1975-04-12",
        "updated_at": STAMP,
    }
    fields.update(overrides)
    return _line(**fields)


def _supervision(**overrides: object) -> bytes:
    """A probation licence line starting 2025-06-01, `overrides` replacing its fields."""
    fields: dict[str, object] = {
        "type": "supervision",
        "agency": "probation",
        "id": "S",
        "person_id": "X123456",
        "kind": "licence",
        "offence": "sexual",
        "start": "2025-06-01",
        "updated_at": STAMP,
    }
    fields.update(overrides)
    return _line(**fields)


def _period(
    record_type: str, agency: str, person_id: str, start: str, end: str | None
) -> dict[str, object]:
    return {
        "type": record_type,
        "agency": agency,
        "id": "P-1",
        "person_id": person_id,
        "start": start,
        "end": end,
        "updated_at": STAMP,
    }


def _reason(raw: bytes, context: FeedContext = PROBATION) -> str:
    item = validate_line(raw, "line 1", context)
    assert isinstance(item, Rejected)
    return item.reason


def test_a_valid_person_is_accepted_in_canonical_form() -> None:
    record = validate_record(_person(id=" x123456 ", pnc="02/73319z"), PROBATION)
    assert isinstance(record, PersonRecord)
    assert (record.id, record.pnc, record.warnings) == ("X123456", "2002/0073319Z", ())


def test_invalid_and_junk_identifiers_are_set_aside_with_a_warning_naming_the_field() -> None:
    record = validate_record(_person(pnc="2018/0123456X", cro="000000/00Z"), PROBATION)
    assert isinstance(record, PersonRecord)
    assert record.pnc is None
    assert record.cro is None
    assert record.warnings == (
        "pnc: check letter does not match, set aside",
        "cro: placeholder value, treated as absent",
    )


def test_a_record_with_an_invalid_pnc_keeps_its_valid_cro_to_be_matched_on() -> None:
    """identifiers.md: the invalid identifier is set aside and the record is matched on what
    remains, here its CRO in canonical form."""
    record = validate_record(_person(pnc="2018/0123456X", cro="65656/91H"), PROBATION)
    assert isinstance(record, PersonRecord)
    assert (record.pnc, record.cro) == (None, "065656/91H")
    assert record.warnings == ("pnc: check letter does not match, set aside",)


def test_names_with_a_source_system_prefix_are_kept_with_a_warning_naming_the_field() -> None:
    record = validate_record(
        _person(surname="MIG_ERROR_EXAMPLE", forenames=" no_show_John"), PROBATION
    )
    assert isinstance(record, PersonRecord)
    assert (record.surname, record.forenames) == ("MIG_ERROR_EXAMPLE", "no_show_John")
    assert record.warnings == (
        "surname: source system prefix, stripped before comparing",
        "forenames: source system prefix, stripped before comparing",
    )
    plain = validate_record(_person(surname="DUPLICATES"), PROBATION)
    assert isinstance(plain, PersonRecord)
    assert plain.warnings == ()


def test_a_noms_number_in_lower_case_rejects_the_person_record() -> None:
    assert _reason(_person(noms="a1234bc")) == (
        "person.noms: must be a capital letter, four digits and two capital letters"
    )
    accepted = validate_record(_person(noms=" A1234BC "), PROBATION)
    assert isinstance(accepted, PersonRecord)
    assert accepted.noms == "A1234BC"


@pytest.mark.parametrize(
    ("born", "kept", "warnings"),
    [
        ("2026-11-28", date(2026, 11, 28), ()),
        ("2026-11-29", None, ("date_of_birth: after today (or a later --as-of), set aside",)),
        ("2031-01-01", None, ("date_of_birth: after today (or a later --as-of), set aside",)),
    ],
)
def test_a_date_of_birth_after_today_is_set_aside_with_a_warning(
    born: str, kept: date | None, warnings: tuple[str, ...]
) -> None:
    record = validate_record(_person(date_of_birth=born), PROBATION)
    assert isinstance(record, PersonRecord)
    assert (record.date_of_birth, record.warnings) == (kept, warnings)


def test_an_assessment_completed_after_today_is_rejected() -> None:
    fields = {
        "type": "assessment",
        "agency": "probation",
        "id": "AS1",
        "person_id": "X123456",
        "started_on": "2026-11-01",
        "status": "completed",
        "updated_at": STAMP,
    }
    assert isinstance(
        validate_line(_line(**fields, completed_on="2026-11-28"), "line 1", PROBATION), Accepted
    )
    assert _reason(_line(**fields, completed_on="2026-11-29")) == (
        "assessment.completed_on: must not be after today (or a later --as-of)"
    )


@pytest.mark.parametrize("status", ["in_progress", "completed"])
def test_an_assessment_started_after_today_is_rejected(status: str) -> None:
    """An assessment in progress cannot have started after the day its feed is read."""
    fields = {
        "type": "assessment",
        "agency": "probation",
        "id": "AS1",
        "person_id": "X123456",
        "status": status,
        "updated_at": STAMP,
        **({"completed_on": "2026-11-28"} if status == "completed" else {}),
    }
    assert isinstance(
        validate_line(_line(**fields, started_on="2026-11-28"), "line 1", PROBATION), Accepted
    )
    for late in ("2026-11-29", "9999-12-31"):
        assert _reason(_line(**fields, started_on=late)) == (
            "assessment.started_on: must not be after today (or a later --as-of)"
        )


def test_a_run_dated_ahead_keeps_what_happened_by_its_date_and_no_later() -> None:
    """`--as-of` fixes "today": records of events up to it are possible, later ones are not."""
    ahead = FeedContext("probation", date(2026, 11, 28), date(2027, 6, 1))
    fields = {
        "type": "assessment",
        "agency": "probation",
        "id": "AS1",
        "person_id": "X123456",
        "started_on": "2027-04-01",
        "status": "completed",
        "updated_at": STAMP,
    }
    kept = validate_line(_line(**fields, completed_on="2027-06-01"), "line 1", ahead)
    late = validate_line(_line(**fields, completed_on="2027-06-02"), "line 1", ahead)
    born = validate_record(_person(date_of_birth="2027-05-01"), ahead)

    assert isinstance(kept, Accepted)
    assert isinstance(late, Rejected)
    assert late.reason == "assessment.completed_on: must not be after today (or a later --as-of)"
    assert isinstance(born, PersonRecord)
    assert born.date_of_birth == date(2027, 5, 1)


def test_a_run_dated_in_the_past_keeps_what_happened_since() -> None:
    behind = FeedContext("probation", date(2026, 11, 28), date(2025, 1, 1))
    born = validate_record(_person(date_of_birth="2026-01-01"), behind)
    assert isinstance(born, PersonRecord)
    assert born.date_of_birth == date(2026, 1, 1)


def test_warnings_cannot_be_injected_by_the_feed() -> None:
    item = validate_line(_person(warnings=["forged"]), "line 1", PROBATION)
    assert isinstance(item, Accepted)
    assert item.version.warnings == ()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (
            _person().replace(b'"EXAMPLE"', '"MÜLLER"'.encode("latin-1")),
            "not UTF-8 text: save the feed as UTF-8",
        ),
        (b"[1, 2]", "not a JSON object"),
        (
            _line(type="visit", agency="probation", id="1", updated_at=STAMP),
            "type: missing or unknown record type",
        ),
        (_person(id="X12345"), "person.id (crn): must be one letter and six digits"),
        (
            _line(
                type="assessment",
                agency="probation",
                id="AS1",
                person_id="BAD",
                started_on="2025-01-01",
                status="in_progress",
                updated_at=STAMP,
            ),
            "assessment.person_id (crn): must be one letter and six digits",
        ),
        (
            _person(noms="A12BC"),
            "person.noms: must be a capital letter, four digits and two capital letters",
        ),
        (_person(agency="police"), "person.agency: does not match the feed it arrived in"),
        (_person(gender="Q"), "person.gender: Input should be 'M', 'F', 'X' or 'U'"),
        (
            _person(surname=None),
            "person.surname: must be text of 1 to 200 characters",
        ),
        (
            _person(area="N\tW"),
            "person.area: must be text of 1 to 32 characters, without control characters",
        ),
        (
            _line(
                type="custody",
                agency="probation",
                id="C\u0000",
                person_id="X123456",
                start="2025-06-01",
                updated_at=STAMP,
            ),
            "custody.id: must be text of 1 to 64 characters, without control characters",
        ),
        (
            _person(updated_at="2026-11-01T09:00:00"),
            "person.updated_at: must be an RFC 3339 timestamp with seconds and an offset",
        ),
        (
            _supervision(end="2025-05-31"),
            "supervision.end: must not be before start",
        ),
        (
            _supervision(end="2026-05-31", terminated_on="2025-01-01"),
            "supervision.terminated_on: must not be before start",
        ),
        (
            _line(
                type="assessment",
                agency="probation",
                id="A",
                person_id="X123456",
                started_on="2025-06-01",
                status="completed",
                updated_at=STAMP,
            ),
            "assessment.completed_on: required when status is completed",
        ),
        (
            _line(
                type="assessment",
                agency="probation",
                id="A",
                person_id="X123456",
                started_on="2025-06-01",
                completed_on="2025-05-01",
                status="completed",
                updated_at=STAMP,
            ),
            "assessment.completed_on: must not be before started_on",
        ),
        (
            _line(
                type="merge",
                agency="probation",
                id="M",
                source_person_id="X123456",
                target_person_id="X123456",
                updated_at=STAMP,
            ),
            "merge.target_person_id: must differ from source_person_id",
        ),
        (
            _line(**{**merge("probation", "M", " x123456", "X123456"), "updated_at": STAMP}),
            "merge.target_person_id: must differ from source_person_id",
        ),
        (
            _line(**{**merge("probation", "M", "123", "X123456"), "updated_at": STAMP}),
            "merge.source_person_id (crn): must be one letter and six digits",
        ),
        (
            _line(**_period("custody", "probation", "X123456", "2025-06-01", "2025-05-31")),
            "custody.end: must not be before start",
        ),
        (_person(surname="  "), "person.surname: must be text of 1 to 200 characters"),
        (
            _person(area="N\u0085W"),
            "person.area: must be text of 1 to 32 characters, without control characters",
        ),
        (
            _person(date_of_birth="20991231"),
            "person.date_of_birth: must be a date in the form YYYY-MM-DD",
        ),
    ],
)
def test_rejections_name_the_field_and_rule(raw: bytes, reason: str) -> None:
    assert _reason(raw) == reason


def test_agency_only_record_types() -> None:
    registration = _line(
        type="registration",
        agency="probation",
        id="R",
        person_id="X123456",
        start="2020-01-01",
        updated_at=STAMP,
    )
    assert _reason(registration) == (
        "registration.type: a registration record only comes from the police"
    )
    custody = _line(
        type="custody",
        agency="police",
        id="C",
        person_id="LAN-1",
        start="2020-01-01",
        updated_at=STAMP,
    )
    assert _reason(custody, POLICE) == "custody.type: a custody record only comes from probation"


def test_reasons_never_repeat_personal_values() -> None:
    reason = _reason(_person(id="Z9", surname="", date_of_birth="1975-13-45"))
    assert "Z9" not in reason
    assert "1975" not in reason


def test_unknown_fields_are_ignored_and_blank_lines_skipped() -> None:
    items = list(iter_lines([_person(shoe_size=11), b"   ", b"{bad"], PROBATION))
    assert [type(item) for item in items] == [Accepted, Rejected]
    assert [item.position for item in items] == ["line 1", "line 3"]


OFFSETS = st.integers(-23 * 60, 23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
AWARE = st.datetimes(datetime(1990, 1, 2), datetime(2099, 12, 30), timezones=OFFSETS)


@given(AWARE, AWARE)
def test_updated_at_keys_are_utc_and_sort_in_time_order(first: datetime, second: datetime) -> None:
    first_key, second_key = utc_key(first.isoformat()), utc_key(second.isoformat())
    assert first_key == first.astimezone(UTC).replace(tzinfo=None).isoformat()
    assert (first_key < second_key) == (first < second)


def test_an_updated_at_read_from_a_feed_keys_as_its_utc_time() -> None:
    record = validate_record(_person(updated_at="2026-03-29T01:30:00.25+01:00"), PROBATION)
    assert record.updated_at == "2026-03-29T00:30:00.250000"


def test_a_name_with_a_stray_tab_keeps_its_person() -> None:
    record = validate_record(_person(surname="EXAMPLE\t"), PROBATION)
    assert isinstance(record, PersonRecord)
    assert record.surname == "EXAMPLE"


INJECTED_WARNINGS = ["pnc: set aside (was 2002/0073319Z)"]


@pytest.mark.parametrize(
    "record",
    [
        completed_assessment("probation", "A-1", "X123456", "2025-06-01"),
        merge("probation", "M-1", "X123456", "X654321"),
        deleted_person("probation", "X123456", "2026-01-01T00:00:00Z"),
        person("probation", "X123456"),
    ],
    ids=["assessment", "merge", "deletion", "person"],
)
@pytest.mark.parametrize("sent", [INJECTED_WARNINGS, 7, None], ids=["list", "number", "null"])
def test_a_feed_cannot_send_a_record_s_warnings(record: dict[str, object], sent: object) -> None:
    line = json.dumps({**record, WARNINGS_KEY: sent}).encode()
    item = validate_line(line, "line 1", PROBATION)
    assert isinstance(item, Accepted)
    assert item.version.warnings == ()


def test_a_line_nested_deeper_than_python_parses_is_rejected_and_the_next_line_read() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    first, second = iter_lines([nested, _person()], PROBATION)
    assert isinstance(first, Rejected)
    assert first.reason == "not valid JSON"
    assert isinstance(second, Accepted)


def test_a_merge_names_its_two_records_in_canonical_form() -> None:
    item = validate_line(
        _line(**{**merge("probation", "M-1", " x123456 ", "x654321"), "updated_at": STAMP}),
        "line 1",
        PROBATION,
    )
    assert isinstance(item, Accepted)
    assert item.version.payload is not None
    assert json.loads(item.version.payload) == {
        "source_person_id": "X123456",
        "target_person_id": "X654321",
    }


@pytest.mark.parametrize(
    "raw",
    [
        _supervision(end="2025-06-01", terminated_on="2025-06-01"),
        _line(**_period("custody", "probation", "X123456", "2025-06-01", "2025-06-01")),
    ],
    ids=["supervision", "custody"],
)
def test_a_period_of_one_day_is_accepted(raw: bytes) -> None:
    assert isinstance(validate_line(raw, "line 1", PROBATION), Accepted)


def test_a_registration_of_one_day_is_accepted_and_one_ending_before_it_starts_rejected() -> None:
    raw = _line(**_period("registration", "police", "LAN-1", "2025-06-01", "2025-06-01"))
    assert isinstance(validate_line(raw, "line 1", POLICE), Accepted)
    backwards = _line(**_period("registration", "police", "LAN-1", "2025-06-01", "2025-05-31"))
    assert _reason(backwards, POLICE) == "registration.end: must not be before start"


@pytest.mark.parametrize("placeholder", ["1900-01-01", "1970-01-01"])
def test_a_placeholder_date_of_birth_is_kept_with_a_warning(placeholder: str) -> None:
    record = validate_record(_person(date_of_birth=placeholder), PROBATION)
    assert isinstance(record, PersonRecord)
    assert record.date_of_birth == date.fromisoformat(placeholder)
    assert record.warnings == ("date_of_birth: placeholder value, never used to link",)


def test_a_two_digit_pnc_year_is_read_from_the_reading_day_not_a_later_as_of() -> None:
    """`identifiers.md`: a two-digit year is 19xx when it would lie after the current year."""
    run_dated_ahead = FeedContext("probation", date(2026, 12, 31), date(2027, 1, 5))
    record = validate_record(_person(pnc="27/1L"), run_dated_ahead)
    assert isinstance(record, PersonRecord)
    assert record.pnc == "1927/0000001L"


def test_a_line_with_many_faults_names_three_of_them() -> None:
    raw = _person(gender="Q", area="N\tW", surname=None, forenames=None, noms="bad")
    assert len(_reason(raw).split("; ")) == 3
