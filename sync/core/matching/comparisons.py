"""Comparison levels: how two cleaned records agree on each field.

Each function returns the first level, in the order declared, that the pair
reaches. Levels carry no values, so a pair's levels can be logged or shown as
the reason for a review.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from rapidfuzz.distance import OSA, JaroWinkler

from sync.core.matching.cleaning import CleanPerson, is_code_like
from sync.core.matching.nicknames import are_nicknames

SURNAME_FUZZY_HIGH = 0.95
SURNAME_FUZZY_MID = 0.88
FORENAME_FUZZY_HIGH = 0.94
FORENAME_FUZZY_MID = 0.88
DATE_OF_BIRTH_NEAR_DAYS = 7
ONE_DIGIT = 1
INITIAL_LENGTH = 1
ONE_EDIT = 1
MIN_ONE_EDIT_LENGTH = 3


class NameLevel(StrEnum):
    """How two surnames, or two forenames, agree."""

    EXACT = "exact"
    SWAPPED = "swapped"
    SWAPPED_NEAR = "swapped_near"
    NICKNAME = "nickname"
    FUZZY_HIGH = "fuzzy_high"
    OTHER_PART = "other_part"
    FUZZY_MID = "fuzzy_mid"
    INITIAL = "initial"
    DISAGREE = "disagree"
    MISSING = "missing"


class DateLevel(StrEnum):
    """How two dates of birth agree."""

    EXACT = "exact"
    DAY_MONTH_SWAPPED = "day_month_swapped"
    ONE_DIGIT = "one_digit"
    NEAR = "near"
    DISAGREE = "disagree"
    MISSING = "missing"


class IdentifierLevel(StrEnum):
    """How two PNC or two CRO numbers agree."""

    AGREE = "agree"
    CONFLICT = "conflict"
    MISSING = "missing"


class AttributeLevel(StrEnum):
    """How two genders, or two areas (as probation regions), agree."""

    AGREE = "agree"
    DISAGREE = "disagree"
    MISSING = "missing"


def similarity(first: str, second: str) -> float:
    """Jaro-Winkler similarity of two names, 0.0 to 1.0."""
    return float(JaroWinkler.similarity(first, second))


def one_edit_apart(first: str, second: str) -> bool:
    """True when one typing error (a letter changed, dropped, added or two
    swapped) turns one name of at least `MIN_ONE_EDIT_LENGTH` letters into the other."""
    if min(len(first), len(second)) < MIN_ONE_EDIT_LENGTH:
        return False
    return int(OSA.distance(first, second, score_cutoff=ONE_EDIT)) <= ONE_EDIT


def near_names(first: str, second: str) -> bool:
    """True when two names (forename or surname) are equal, nicknames or one typo apart."""
    if first == second:
        return True
    if is_code_like(first) or is_code_like(second):
        return False
    return (
        are_nicknames(first, second)
        or similarity(first, second) >= FORENAME_FUZZY_HIGH
        or one_edit_apart(first, second)
    )


def compare_surnames(first: CleanPerson, second: CleanPerson) -> NameLevel:
    """The surname level of a pair (swaps are detected by the scorer)."""
    if not first.surname or not second.surname:
        return NameLevel.MISSING
    if first.surname == second.surname:
        return NameLevel.EXACT
    if is_code_like(first.surname) or is_code_like(second.surname):
        return NameLevel.DISAGREE
    return _similar_surname_level(first, second)


def _similar_surname_level(first: CleanPerson, second: CleanPerson) -> NameLevel:
    """The level of two different surnames that are names, not codes."""
    score = similarity(first.surname, second.surname)
    if score >= SURNAME_FUZZY_HIGH:
        return NameLevel.FUZZY_HIGH
    if set(first.surname_parts) & set(second.surname_parts):
        return NameLevel.OTHER_PART
    if score >= SURNAME_FUZZY_MID or one_edit_apart(first.surname, second.surname):
        return NameLevel.FUZZY_MID
    return NameLevel.DISAGREE


def _is_initial_of(short: str, full: str) -> bool:
    """True when `short` is a single letter that starts `full`."""
    return len(short) == INITIAL_LENGTH and full.startswith(short)


def compare_forenames(first: CleanPerson, second: CleanPerson) -> NameLevel:
    """The forename level of a pair, on the first forename of each."""
    if not first.forename or not second.forename:
        return NameLevel.MISSING
    if first.forename == second.forename:
        return NameLevel.EXACT
    if is_code_like(first.forename) or is_code_like(second.forename):
        return NameLevel.DISAGREE
    return _similar_forename_level(first, second)


def _similar_forename_level(first: CleanPerson, second: CleanPerson) -> NameLevel:
    """The level of two different first forenames that are names, not codes."""
    one, two = first.forename, second.forename
    if are_nicknames(one, two):
        return NameLevel.NICKNAME
    score = similarity(one, two)
    if score >= FORENAME_FUZZY_HIGH:
        return NameLevel.FUZZY_HIGH
    if one in second.forenames or two in first.forenames:
        return NameLevel.OTHER_PART
    if score >= FORENAME_FUZZY_MID:
        return NameLevel.FUZZY_MID
    if _is_initial_of(one, two) or _is_initial_of(two, one):
        return NameLevel.INITIAL
    return NameLevel.DISAGREE


def _differing_characters(first: str, second: str) -> int:
    """How many positions two equal-length strings differ in."""
    return sum(1 for one, two in zip(first, second, strict=True) if one != two)


def compare_dates_of_birth(first: date | None, second: date | None) -> DateLevel:
    """The date-of-birth level of a pair (placeholders are already `None`)."""
    if first is None or second is None:
        return DateLevel.MISSING
    if first == second:
        return DateLevel.EXACT
    if first.year == second.year and (first.day, first.month) == (second.month, second.day):
        return DateLevel.DAY_MONTH_SWAPPED
    if _differing_characters(first.isoformat(), second.isoformat()) == ONE_DIGIT:
        return DateLevel.ONE_DIGIT
    if abs((first - second).days) <= DATE_OF_BIRTH_NEAR_DAYS:
        return DateLevel.NEAR
    return DateLevel.DISAGREE


def compare_identifiers(first: str | None, second: str | None) -> IdentifierLevel:
    """Agree, conflict (both present and different) or missing."""
    if first is None or second is None:
        return IdentifierLevel.MISSING
    return IdentifierLevel.AGREE if first == second else IdentifierLevel.CONFLICT


def compare_attributes(first: str | None, second: str | None) -> AttributeLevel:
    """Agree, disagree or missing, for a gender or an area's region."""
    if first is None or second is None:
        return AttributeLevel.MISSING
    return AttributeLevel.AGREE if first == second else AttributeLevel.DISAGREE
