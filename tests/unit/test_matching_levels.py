"""Comparison levels at the boundaries `docs/matching.md` states, by value."""

from __future__ import annotations

from datetime import date

import pytest

from sync.core.matching.cleaning import clean_person
from sync.core.matching.comparisons import (
    DateLevel,
    IdentifierLevel,
    NameLevel,
    compare_forenames,
    compare_surnames,
    date_level,
    forename_similarity_level,
    surname_similarity_level,
)
from sync.core.matching.decisions import JOIN_THRESHOLD, REVIEW_THRESHOLD, needs_verdict
from sync.core.records import Agency, Gender, Person


@pytest.mark.parametrize(
    ("first", "second", "level"),
    [
        ("HARRISON", "HARRIS", NameLevel.FUZZY_HIGH),  # Jaro-Winkler 0.95
        ("DAVIS", "DAVISON", NameLevel.FUZZY_MID),  # 0.943
        ("JACKSON", "JACKMAN", NameLevel.FUZZY_MID),  # 0.886
        ("AARON", "ALARN", NameLevel.FUZZY_MID),  # 0.88
        ("GREENE", "GREENWOOD", NameLevel.DISAGREE),  # 0.878
        ("LI", "LU", NameLevel.DISAGREE),  # one typo, but under three letters
        ("LI", "ALI", NameLevel.DISAGREE),
    ],
)
def test_surname_levels_at_their_thresholds(first: str, second: str, level: NameLevel) -> None:
    assert surname_similarity_level(first, second) is level


@pytest.mark.parametrize(
    ("first", "second", "level"),
    [
        ("HARESRISON", "HESARRISON", NameLevel.FUZZY_HIGH),  # Jaro-Winkler 0.94
        ("NICOLA", "NICOLE", NameLevel.FUZZY_MID),  # 0.933
        ("AARON", "ALARN", NameLevel.FUZZY_MID),  # 0.88
        ("GEOFFREY", "GEORGE", NameLevel.DISAGREE),  # 0.874
    ],
)
def test_forename_levels_at_their_thresholds(first: str, second: str, level: NameLevel) -> None:
    assert forename_similarity_level(first, second) is level


def named(surname: str, forenames: str) -> Person:
    return Person(Agency.POLICE, "LAN-1", surname, forenames, Gender.MALE, "LANC", None)


def test_a_name_holding_digits_is_a_code_compared_only_exactly() -> None:
    code, name = clean_person(named("EXAMPLE1", "JOHN1")), clean_person(named("EXAMPLE", "JOHN"))
    assert compare_surnames(code, name) is NameLevel.DISAGREE
    assert compare_forenames(code, name) is NameLevel.DISAGREE
    assert compare_surnames(code, code) is NameLevel.EXACT


@pytest.mark.parametrize(
    ("other", "level"), [("1980-05-24", DateLevel.NEAR), ("1980-05-25", DateLevel.DISAGREE)]
)
def test_dates_of_birth_within_seven_days_are_near(other: str, level: DateLevel) -> None:
    assert date_level(date(1980, 5, 17), date.fromisoformat(other), "1980-05-17", other) is level


def test_the_join_and_review_thresholds_are_the_documented_ones() -> None:
    assert (JOIN_THRESHOLD, REVIEW_THRESHOLD) == (19.0, 14.0)
    missing = IdentifierLevel.MISSING
    assert needs_verdict(14.0, missing, missing, missing) is True
    assert needs_verdict(13.99, missing, missing, missing) is False
