"""Unit tests for the matcher's cleaning, phonetic codes and nickname table."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.core.matching.cleaning import (
    clean_name,
    clean_person,
    is_code_like,
    matching_date_of_birth,
    names_swapped,
)
from sync.core.matching.nicknames import are_nicknames
from sync.core.matching.phonetic import SOUNDEX_LENGTH, soundex
from sync.core.records import Agency, Gender, Person


def person(surname: str, forenames: str, born: date | None = None) -> Person:
    """A police record with the given names."""
    return Person(Agency.POLICE, "P1", surname, forenames, Gender.MALE, "LANC", born)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  smith ", "SMITH"),
        ("O'Brien", "OBRIEN"),
        ("O.BRIEN", "OBRIEN"),
        ("Smith-Jones", "SMITHJONES"),
        ("van  der   Berg", "VAN DER BERG"),
        ("MIG_ERROR_Smith", "SMITH"),
        ("no_show_Jones", "JONES"),
        ("José", "JOSE"),
        ("Smith, Jr", "SMITH JR"),
    ],
)
def test_clean_name(raw: str, cleaned: str) -> None:
    assert clean_name(raw) == cleaned


def test_surname_is_compared_without_spaces_or_separators() -> None:
    forms = ["Smith Jones", "Smith-Jones", "SMITHJONES", "DUPLICATE_smith-jones"]
    assert {clean_person(person(form, "John")).surname for form in forms} == {"SMITHJONES"}


def test_first_forename_is_the_compared_one() -> None:
    cleaned = clean_person(person("Smith", "john  paul"))
    assert cleaned.forename == "JOHN"
    assert cleaned.forenames == ("JOHN", "PAUL")


@pytest.mark.parametrize("placeholder", [date(1900, 1, 1), date(1970, 1, 1)])
def test_placeholder_dates_of_birth_are_unknown(placeholder: date) -> None:
    assert matching_date_of_birth(placeholder) is None
    assert clean_person(person("Smith", "John", placeholder)).date_of_birth is None


def test_real_date_of_birth_is_kept() -> None:
    assert matching_date_of_birth(date(1970, 1, 2)) == date(1970, 1, 2)


def test_code_like_names() -> None:
    assert is_code_like("K000001")
    assert not is_code_like("KEVIN")


def test_swapped_names_detected_both_ways() -> None:
    one = clean_person(person("Smith", "John"))
    two = clean_person(person("John", "Smith"))
    assert names_swapped(one, two)
    assert names_swapped(two, one)
    assert not names_swapped(one, one)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ROBERT", "R163"),
        ("RUPERT", "R163"),
        ("ASHCRAFT", "A261"),
        ("TYMCZAK", "T522"),
        ("PFISTER", "P236"),
        ("LEE", "L000"),
        ("SMITH", "S530"),
        ("SMYTH", "S530"),
    ],
)
def test_soundex(name: str, code: str) -> None:
    assert soundex(name) == code


def test_soundex_of_no_letters_is_empty() -> None:
    assert soundex("000001") == ""


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20))
def test_soundex_shape(name: str) -> None:
    code = soundex(name)
    assert len(code) == SOUNDEX_LENGTH
    assert code[0] == name[0]


@pytest.mark.parametrize(
    ("one", "two"),
    [
        ("BILL", "WILLIAM"),
        ("BOB", "ROBERT"),
        ("JIM", "JAMES"),
        ("TONY", "ANTHONY"),
        ("BILLY", "BILL"),
    ],
)
def test_nicknames(one: str, two: str) -> None:
    assert are_nicknames(one, two)
    assert are_nicknames(two, one)


def test_unrelated_names_and_same_name_are_not_nicknames() -> None:
    assert not are_nicknames("JAMES", "ROBERT")
    assert not are_nicknames("JAMES", "JAMES")
    assert not are_nicknames("ZEBEDEE", "JAMES")
