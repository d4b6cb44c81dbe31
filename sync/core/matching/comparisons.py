"""Comparison levels: how two cleaned records agree on each field.

Each function returns the first level, in the order declared, that the pair
reaches. Levels carry no values, so a pair's levels can be logged or shown as
the reason for a review.

Comparing two different names is pure and the same name pairs recur across a
population, so those comparisons are cached (`NAME_PAIR_CACHE_SIZE` pairs);
what depends on a record's other names (surname parts, other forenames) is
checked outside the cache, on sets each `CleanPerson` holds.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache

from rapidfuzz.distance import OSA, Hamming, JaroWinkler

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
# Surnames this short and one letter changed are most often two real surnames
# (`HALL`/`HILL`, `SHAW`/`SHAH`, `COX`/`COE`), not one misspelt.
SHORT_SURNAME_LENGTH = 4
NAME_PAIR_CACHE_SIZE = 1 << 16


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


_BELOW_OTHER_FORENAME = frozenset({NameLevel.FUZZY_MID, NameLevel.INITIAL, NameLevel.DISAGREE})


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


# The levels returned on the hot path, bound once: looking a member up on an
# Enum class costs about a hundred nanoseconds, and a national run compares
# millions of pairs.
_NAME_MISSING, _NAME_EXACT, _NAME_DISAGREE, _NAME_FUZZY_HIGH, _NAME_OTHER_PART = (
    NameLevel.MISSING,
    NameLevel.EXACT,
    NameLevel.DISAGREE,
    NameLevel.FUZZY_HIGH,
    NameLevel.OTHER_PART,
)
_DATE_EXACT, _DATE_SWAPPED, _DATE_ONE_DIGIT, _DATE_NEAR, _DATE_DISAGREE = (
    DateLevel.EXACT,
    DateLevel.DAY_MONTH_SWAPPED,
    DateLevel.ONE_DIGIT,
    DateLevel.NEAR,
    DateLevel.DISAGREE,
)


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
    one, two = first.surname, second.surname
    if not one or not two:
        return _NAME_MISSING
    if one == two:
        return _NAME_EXACT
    if first.surname_is_code or second.surname_is_code:
        return _NAME_DISAGREE
    level = surname_similarity_level(one, two)
    if level is not _NAME_FUZZY_HIGH and not first.surname_part_set.isdisjoint(
        second.surname_part_set
    ):
        return _NAME_OTHER_PART
    return level


@lru_cache(maxsize=NAME_PAIR_CACHE_SIZE)
def surname_similarity_level(first: str, second: str) -> NameLevel:
    """The level of two different surnames that are names, parts aside.

    `FUZZY_HIGH`, `FUZZY_MID` or `DISAGREE`; a shared part (`OTHER_PART`) ranks
    between the first two and is checked by `compare_surnames`.
    """
    if _short_with_one_letter_changed(first, second):
        return NameLevel.DISAGREE
    score = similarity(first, second)
    if score >= SURNAME_FUZZY_HIGH:
        return NameLevel.FUZZY_HIGH
    if score >= SURNAME_FUZZY_MID or one_edit_apart(first, second):
        return NameLevel.FUZZY_MID
    return NameLevel.DISAGREE


def _short_with_one_letter_changed(first: str, second: str) -> bool:
    """True for two surnames of at most `SHORT_SURNAME_LENGTH` letters, one letter apart
    in place (a letter dropped, added or two swapped still reads as a slip)."""
    return (
        len(first) == len(second) <= SHORT_SURNAME_LENGTH
        and sum(a != b for a, b in zip(first, second, strict=True)) == ONE_EDIT
    )


def _is_initial_of(short: str, full: str) -> bool:
    """True when `short` is a single letter that starts `full`."""
    return len(short) == INITIAL_LENGTH and full.startswith(short)


def compare_forenames(first: CleanPerson, second: CleanPerson) -> NameLevel:
    """The forename level of a pair, on the first forename of each."""
    one, two = first.forename, second.forename
    if not one or not two:
        return _NAME_MISSING
    if one == two:
        return _NAME_EXACT
    if first.forename_is_code or second.forename_is_code:
        return _NAME_DISAGREE
    level = forename_similarity_level(one, two)
    if level in _BELOW_OTHER_FORENAME and (one in second.forename_set or two in first.forename_set):
        return _NAME_OTHER_PART
    return level


@lru_cache(maxsize=NAME_PAIR_CACHE_SIZE)
def forename_similarity_level(first: str, second: str) -> NameLevel:
    """The level of two different first forenames that are names, other forenames aside.

    One of `NICKNAME`, `FUZZY_HIGH`, `FUZZY_MID`, `INITIAL`, `DISAGREE`; one
    appearing among the other's forenames (`OTHER_PART`) ranks above the last
    three and is checked by `compare_forenames`.
    """
    if are_nicknames(first, second):
        return NameLevel.NICKNAME
    score = similarity(first, second)
    if score >= FORENAME_FUZZY_HIGH:
        return NameLevel.FUZZY_HIGH
    if score >= FORENAME_FUZZY_MID:
        return NameLevel.FUZZY_MID
    if _is_initial_of(first, second) or _is_initial_of(second, first):
        return NameLevel.INITIAL
    return NameLevel.DISAGREE


def date_level(first: date, second: date, first_text: str, second_text: str) -> DateLevel:
    """The level of two known dates of birth, given with their ISO forms."""
    if first == second:
        return _DATE_EXACT
    if first.year == second.year:
        if first.day == second.month and first.month == second.day:
            return _DATE_SWAPPED
        may_be_one_digit = True
    else:
        # The year and another part differing is two digits at least. A slip in
        # the year's tens (or hundreds) is a decade apart: a father and son more
        # likely than a typing error, so only the last digit of the year counts.
        may_be_one_digit = (
            first.month == second.month
            and first.day == second.day
            and first.year // 10 == second.year // 10
        )
    if (
        may_be_one_digit
        and Hamming.distance(first_text, second_text, score_cutoff=ONE_DIGIT) == ONE_DIGIT
    ):
        return _DATE_ONE_DIGIT
    if abs(first.toordinal() - second.toordinal()) <= DATE_OF_BIRTH_NEAR_DAYS:
        return _DATE_NEAR
    return _DATE_DISAGREE
