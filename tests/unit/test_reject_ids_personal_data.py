"""Ids of rejected lines that hold personal data are withheld; ordinary ids are shown.

`decisions.md`: a name, date of birth or PNC typed into `id` is not shown as the
line's id. Besides dates with separators and PNC or CRO numbers, that covers a
date of birth written as 8 digits (or 6, `DDMMYY`), a NOMS number, and names
written beside a date; the ids of the spec's examples and of every form the
synthetic data generator makes stay shown, whatever their digits spell.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.feeds.jsonl import FIRST_BIRTH_YEAR, Rejected, looks_like_an_id, validate_line
from sync.feeds.models import FeedContext
from sync.synth.options import SynthOptions
from sync.synth.references import CRN_MODULUS, POLICE_REF_MODULUS, make_crn, make_police_ref
from sync.synth.stream import iter_feed_records
from sync.synth.subjects import ID_PREFIXES
from sync.synth.vocabulary import POLICE_FORCES

PROBATION = FeedContext("probation", date(2026, 11, 28))
BIRTH_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date.today())
WORD = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
SEPARATOR = st.sampled_from(".-_")
COUNTER = st.integers(min_value=0, max_value=99_999_999)


def _shown_id(record_id: str) -> str | None:
    """The id a rejected assessment line (a bad status) is listed with."""
    line = {
        "type": "assessment",
        "agency": "probation",
        "id": record_id,
        "person_id": "X123456",
        "started_on": "2025-06-10",
        "status": "unknown",
        "updated_at": "2026-11-01T09:00:00Z",
    }
    item = validate_line(json.dumps(line).encode(), "line 1", PROBATION)
    assert isinstance(item, Rejected)
    return item.record_id


@pytest.mark.parametrize(
    "record_id",
    [
        "19750412",
        "12041975",
        "120475",
        "JSMITH12041975",
        "JOHN.SMITH.120475",
        "SMITH-JOHN-1975",
        "SMITH_JOHN_12041975",
        "SMITH120475",
        "SMITH-1975",
        "120475SMITH",
        "JSMITH.120475",
        "A1234BC",
        "a1234bc",
        "PA-A1234BC",
        " 120475 ",
        "290200",
        "X1-19750412",
        "RA19750412-7",
        "550e8400-e29b-41d4-a716-446655440000-A1234BC",
    ],
)
def test_personal_data_in_the_id_is_withheld(record_id: str) -> None:
    assert _shown_id(record_id) is None


@pytest.mark.parametrize(
    "record_id",
    [
        "PA-9",
        "A-77",
        "S-1",
        "X123456",
        "B123456",
        "LAN-88123",
        "RA10",
        "PA-000123",
        "GMP-12",
        "RAS00042127",
        "ABC120475",
        "SMITH-123456",
        "12345",
        "123456",
        "PA-1975",
        "550e8400-e29b-41d4-a716-446655440000",
        "A12345BC",
        "e3e70682-c209-4cac-629f-6fbed82c07cd",
        "A123BC",
        "XA1234BC",
        "A1234BCD",
        "1204751",
        "197504010",
        "18500412",
        "20991231",
        "19751340",
    ],
)
def test_ordinary_ids_are_shown(record_id: str) -> None:
    assert _shown_id(record_id) == record_id


@given(BIRTH_DATES, st.sampled_from(["%Y%m%d", "%d%m%Y", "%d%m%y"]))
def test_a_date_of_birth_as_digits_is_withheld(born: date, layout: str) -> None:
    assert not looks_like_an_id(born.strftime(layout))


@given(WORD.filter(lambda word: len(word) > 3), BIRTH_DATES, st.sampled_from(["%Y%m%d", "%d%m%Y"]))
def test_a_name_with_a_date_of_birth_is_withheld(name: str, born: date, layout: str) -> None:
    assert not looks_like_an_id(name + born.strftime(layout))
    assert not looks_like_an_id(born.strftime(layout) + name)


@given(
    WORD.filter(lambda word: len(word) > 3),
    st.sampled_from(["", ".", "-", "_", " "]),
    BIRTH_DATES,
    st.sampled_from(["%Y", "%d%m%y"]),
    st.booleans(),
)
def test_one_name_against_a_short_date_or_a_birth_year_is_withheld(
    name: str, separator: str, born: date, layout: str, name_first: bool
) -> None:
    parts = [name, born.strftime(layout)]
    assert not looks_like_an_id(separator.join(parts if name_first else parts[::-1]))


@given(
    st.lists(WORD, min_size=2, max_size=3),
    SEPARATOR,
    BIRTH_DATES,
    st.sampled_from(["%Y", "%d%m%y", "%d%m%Y", "%Y%m%d"]),
)
def test_names_beside_a_date_are_withheld(
    words: list[str], separator: str, born: date, layout: str
) -> None:
    assert not looks_like_an_id(separator.join([*words, born.strftime(layout)]))


@given(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    st.integers(min_value=0, max_value=9999),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
)
def test_a_noms_number_is_withheld(letter: str, digits: int, pair: str) -> None:
    assert not looks_like_an_id(f"{letter}{digits:04d}{pair}")


@given(st.sampled_from(sorted(ID_PREFIXES.values())), COUNTER)
def test_every_synthetic_record_id_is_shown(prefix: str, counter: int) -> None:
    record_id = f"{prefix}{counter:08d}"
    assert looks_like_an_id(record_id)


@given(st.integers(min_value=0, max_value=len("ABCDEFGHJKLMNPRSTVWXYZ") * CRN_MODULUS - 1))
def test_every_synthetic_crn_is_shown(counter: int) -> None:
    assert looks_like_an_id(make_crn(counter))


@given(
    st.integers(min_value=0, max_value=POLICE_REF_MODULUS - 1),
    st.sampled_from([force for force, _ in POLICE_FORCES]),
)
def test_every_synthetic_police_reference_is_shown(counter: int, force: str) -> None:
    assert looks_like_an_id(make_police_ref(counter, force))


@given(st.uuids())
def test_a_uuid_is_shown(value: object) -> None:
    assert looks_like_an_id(str(value))
    assert looks_like_an_id(str(value).upper())


@settings(max_examples=3, deadline=None)
@given(st.integers(min_value=1, max_value=1_000))
def test_the_ids_of_generated_feeds_are_shown(seed: int) -> None:
    options = SynthOptions(300, seed=seed, noise=1.0, today=date(2026, 11, 28))
    for _agency, record in islice(iter_feed_records(options), 5_000):
        for field in ("id", "person_id", "source_person_id", "target_person_id"):
            value = record.get(field)
            if isinstance(value, str) and value.strip():
                assert looks_like_an_id(value), field


def test_today_is_a_possible_date_of_birth() -> None:
    assert not looks_like_an_id((date.today() - timedelta(days=1)).strftime("%Y%m%d"))


@pytest.mark.parametrize(
    ("year", "withheld"),
    [(1899, False), (1900, True), (date.today().year, True), (date.today().year + 1, False)],
)
def test_words_beside_a_year_are_withheld_only_for_a_possible_birth_year(
    year: int, withheld: bool
) -> None:
    assert looks_like_an_id(f"PA-LAN-{year}") is not withheld


@given(st.lists(WORD, min_size=2, max_size=3), SEPARATOR, st.integers(1000, 9999))
def test_words_beside_four_digits_are_withheld_when_they_may_be_a_birth_year(
    words: list[str], separator: str, number: int
) -> None:
    birth_year = FIRST_BIRTH_YEAR <= number <= date.today().year
    assert looks_like_an_id(separator.join([*words, str(number)])) is not birth_year


def _a_birth_date(year: str, month: str, day: str) -> bool:
    """Whether the parts read as a real date from 1900 to today's year."""
    try:
        born = date(int(year), int(month), int(day))
    except ValueError:
        return False
    return FIRST_BIRTH_YEAR <= born.year <= date.today().year


@given(st.integers(1800, 2200), st.integers(0, 13), st.integers(0, 32), st.booleans())
def test_eight_digits_are_withheld_only_when_they_read_as_a_date_of_birth(
    year: int, month: int, day: int, year_first: bool
) -> None:
    digits = f"{year:04d}{month:02d}{day:02d}" if year_first else f"{day:02d}{month:02d}{year:04d}"
    readings = [(digits[:4], digits[4:6], digits[6:]), (digits[4:], digits[2:4], digits[:2])]
    birth_date = any(_a_birth_date(*reading) for reading in readings)
    assert looks_like_an_id(digits) is not birth_date


@given(st.text("0123456789", min_size=1, max_size=12).filter(lambda text: len(text) not in (6, 8)))
def test_digits_alone_of_another_length_than_a_date_are_shown(digits: str) -> None:
    assert looks_like_an_id(digits)


@given(st.sampled_from(sorted(ID_PREFIXES.values())), BIRTH_DATES)
def test_a_synthetic_record_id_whose_counter_spells_a_date_is_shown(
    prefix: str, born: date
) -> None:
    assert looks_like_an_id(f"{prefix}{born:%Y%m%d}")
    assert looks_like_an_id(f"{prefix}{born:%d%m%Y}")


@pytest.mark.parametrize("record_id", ["3JOHN.SMITH.120475", "1SMITH-JOHN-1975"])
def test_names_after_a_digit_beside_a_date_are_withheld(record_id: str) -> None:
    assert not looks_like_an_id(record_id)
