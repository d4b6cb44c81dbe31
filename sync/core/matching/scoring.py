"""Scoring a pair of cleaned records: comparison levels and total match weight.

The total is the sum of the levels' log2 weights (no prior): each field's
evidence for or against the pair being one person. When the names agree only
swapped (surname of one is the forename of the other and vice versa), the
swapped-names weight replaces the surname and forename weights; names swapped
with a nickname or a typo on one side (`SAM DAVIS` / `DAVIS SAMUEL`) are
`SWAPPED_NEAR`, weighed the same way with a fixed u for the inexact side.
Gender, area (as probation region) and NOMS number add their own evidence.

A `PairScorer` holds one population's term frequencies and scores any number
of pairs under them without building anything per pair it does not return.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sync.core.matching.cleaning import CleanPerson, names_swapped
from sync.core.matching.comparisons import (
    DATE_OF_BIRTH_NEAR_DAYS,
    INITIAL_LENGTH,
    AttributeLevel,
    DateLevel,
    IdentifierLevel,
    NameLevel,
    compare_forenames,
    compare_surnames,
    date_level,
    near_names,
)
from sync.core.matching.frequencies import Frequencies
from sync.core.matching.weights import (
    AREA_WEIGHTS,
    CRO_WEIGHTS,
    DATE_OF_BIRTH_EXACT_M,
    DATE_OF_BIRTH_WEIGHTS,
    FORENAME_EXACT_M,
    FORENAME_WEIGHTS,
    GENDER_WEIGHTS,
    INITIALS_AGREE_MIN_U,
    NAMES_SWAPPED_M,
    NEAR_SWAPPED_NAME_U,
    NO_EVIDENCE,
    NOMS_WEIGHTS,
    PNC_WEIGHTS,
    SURNAME_EXACT_M,
    SURNAME_WEIGHTS,
    exact_weight,
)

_SWAP_CANDIDATE_LEVELS = frozenset({NameLevel.DISAGREE, NameLevel.FUZZY_MID})

# Levels and weights of the in-line paths, bound once: looking a member up on an
# Enum class costs about a hundred nanoseconds, and a run scores millions of pairs.
_NAME_EXACT, _DATE_EXACT, _DATE_MISSING = NameLevel.EXACT, DateLevel.EXACT, DateLevel.MISSING
_DATE_DISAGREE = DateLevel.DISAGREE
_NO_DATE_WEIGHT = DATE_OF_BIRTH_WEIGHTS[_DATE_MISSING]
_DISAGREE_DATE_WEIGHT = DATE_OF_BIRTH_WEIGHTS[_DATE_DISAGREE]
_ID_MISSING, _ID_AGREE, _ID_CLASH = (
    IdentifierLevel.MISSING,
    IdentifierLevel.AGREE,
    IdentifierLevel.CONFLICT,
)
_NO_ATTR, _SAME, _DIFFERENT = AttributeLevel.MISSING, AttributeLevel.AGREE, AttributeLevel.DISAGREE

# The most the names of a pair can weigh when neither agrees exactly.
_BEST_INEXACT_NAMES_WEIGHT = max(SURNAME_WEIGHTS.values()) + max(FORENAME_WEIGHTS.values())
# The most a pair can weigh besides its names when its dates of birth plainly
# disagree (`DISAGREE` on the scorer's fast path) and no identifier agrees.
FAR_DATES_BEST_WEIGHT_BESIDES_NAMES = (
    _DISAGREE_DATE_WEIGHT
    + max(PNC_WEIGHTS[_ID_MISSING], PNC_WEIGHTS[_ID_CLASH])
    + max(CRO_WEIGHTS[_ID_MISSING], CRO_WEIGHTS[_ID_CLASH])
    + max(NOMS_WEIGHTS[_ID_MISSING], NOMS_WEIGHTS[_ID_CLASH])
    + max(GENDER_WEIGHTS.values())
    + max(AREA_WEIGHTS.values())
)

ValueT = TypeVar("ValueT", str, int)
# A pair's `PairScore` fields in order, as a plain tuple (cheap to build and drop).
ScoreFields = tuple[
    NameLevel,
    NameLevel,
    DateLevel,
    IdentifierLevel,
    IdentifierLevel,
    float,
    IdentifierLevel,
    AttributeLevel,
    AttributeLevel,
]


@dataclass(frozen=True, slots=True)
class PairScore:
    """How a pair agrees on each field, and its total match weight."""

    surname: NameLevel
    forename: NameLevel
    date_of_birth: DateLevel
    pnc: IdentifierLevel
    cro: IdentifierLevel
    weight: float
    noms: IdentifierLevel = IdentifierLevel.MISSING
    gender: AttributeLevel = AttributeLevel.MISSING
    area: AttributeLevel = AttributeLevel.MISSING

    def describe(self) -> str:
        """The levels, named without any values (safe to log or show)."""
        return (
            f"surname={self.surname} forename={self.forename} "
            f"date_of_birth={self.date_of_birth} pnc={self.pnc} cro={self.cro} "
            f"noms={self.noms} gender={self.gender} area={self.area}"
        )


def _forename_u_of(freqs: Frequencies) -> Callable[[str], float]:
    """The u of two records agreeing on a forename; an initial's at least
    `INITIALS_AGREE_MIN_U`, however rarely the letter stands alone."""

    def forename_u(forename: str) -> float:
        u = freqs.forename_u(forename)
        return max(u, INITIALS_AGREE_MIN_U) if len(forename) == INITIAL_LENGTH else u

    return forename_u


def _swapped_names_weight(surname: str, forename: str, freqs: Frequencies) -> float:
    """The weight of a pair named `surname forename` and `forename surname`, from the
    commoner of the two orientations."""
    u = max(
        freqs.surname_u(surname) * freqs.forename_u(forename),
        freqs.surname_u(forename) * freqs.forename_u(surname),
    )
    return max(NO_EVIDENCE, math.log2(NAMES_SWAPPED_M / u))


def _cross_u(name: str, other: str, exact_u: float) -> float:
    """The u of one cross-comparison of swapped names: exact, or near."""
    return exact_u if name == other else NEAR_SWAPPED_NAME_U


def _near_swapped_weight(first: CleanPerson, second: CleanPerson, freqs: Frequencies) -> float:
    """The weight of names swapped with a nickname or typo on one side."""
    u = _cross_u(first.surname, second.forename, freqs.forename_u(second.forename)) * _cross_u(
        first.forename, second.surname, freqs.surname_u(second.surname)
    )
    return max(NO_EVIDENCE, math.log2(NAMES_SWAPPED_M / u))


def names_swapped_near(first: CleanPerson, second: CleanPerson) -> bool:
    """True when the names are swapped, one side exactly and the other nearly."""
    if not (first.surname and first.forename and second.surname and second.forename):
        return False
    if first.surname == first.forename or second.surname == second.forename:
        return False
    surname_side = first.surname == second.forename
    forename_side = first.forename == second.surname
    if surname_side == forename_side:
        return False
    return near_names(first.surname, second.forename) and near_names(first.forename, second.surname)


def name_levels(first: CleanPerson, second: CleanPerson) -> tuple[NameLevel, NameLevel]:
    """The surname and forename levels, both SWAPPED (or SWAPPED_NEAR) when swapped."""
    surname = compare_surnames(first, second)
    forename = compare_forenames(first, second)
    if surname not in _SWAP_CANDIDATE_LEVELS or forename not in _SWAP_CANDIDATE_LEVELS:
        return surname, forename
    if names_swapped(first, second):
        return NameLevel.SWAPPED, NameLevel.SWAPPED
    if names_swapped_near(first, second):
        return NameLevel.SWAPPED_NEAR, NameLevel.SWAPPED_NEAR
    return surname, forename


def _date_u_of(freqs: Frequencies) -> Callable[[int], float]:
    """The u of agreeing on a date of birth given as its day number."""

    def date_u(ordinal: int) -> float:
        return freqs.date_of_birth_u(date.fromordinal(ordinal))

    return date_u


class ExactWeights(dict[ValueT, float]):
    """Exact-agreement weights by value, each worked out on first use."""

    def __init__(self, m: float, u_of: Callable[[ValueT], float]) -> None:
        """Weights log2(m / u) (never negative), u from `u_of(value)`."""
        super().__init__()
        self._m: float = m
        self._u_of: Callable[[ValueT], float] = u_of

    def __missing__(self, value: ValueT) -> float:
        """Work out, keep and return the weight of a value not seen before."""
        weight = self[value] = exact_weight(self._m, self._u_of(value))
        return weight


class PairScorer:
    """Scores pairs under one set of term frequencies.

    The weight of exact agreement on a surname, forename or date of birth is
    worked out once per value, and every other level's weight comes from a
    table, so scoring a pair is comparisons and look-ups. `fields` gives the
    levels and weight as a plain tuple in `PairScore` order; a `PairScore` is
    built only for the pairs that need one.
    """

    __slots__ = ("_dates", "_forenames", "_freqs", "_surnames")

    def __init__(self, freqs: Frequencies) -> None:
        """A scorer over `freqs`, which must not change while it is used."""
        self._freqs = freqs
        self._surnames = ExactWeights[str](SURNAME_EXACT_M, freqs.surname_u)
        self._forenames = ExactWeights[str](FORENAME_EXACT_M, _forename_u_of(freqs))
        self._dates = ExactWeights[int](DATE_OF_BIRTH_EXACT_M, _date_u_of(freqs))

    def fields(self, first: CleanPerson, second: CleanPerson) -> ScoreFields:
        """The pair's levels and total weight, in `PairScore` field order.

        Identifiers agree, conflict (both known and different) or are missing;
        a gender or an area's region agrees, disagrees or is missing. They are
        compared in line, and the commonest names case (both exact) is settled
        here: this runs millions of times.
        """
        surname_text, forename_text = first.surname, first.forename
        if (
            surname_text == second.surname
            and forename_text == second.forename
            and surname_text
            and forename_text
        ):
            surname = forename = _NAME_EXACT
            names_weight = self._surnames[surname_text] + self._forenames[forename_text]
        else:
            surname, forename, names_weight = self._names(first, second)
        date_of_birth, date_weight = self._date_of_birth(first, second)
        one, two = first.pnc, second.pnc
        pnc = _ID_MISSING if one is None or two is None else _ID_AGREE if one == two else _ID_CLASH
        one, two = first.cro, second.cro
        cro = _ID_MISSING if one is None or two is None else _ID_AGREE if one == two else _ID_CLASH
        one, two = first.noms, second.noms
        noms = _ID_MISSING if one is None or two is None else _ID_AGREE if one == two else _ID_CLASH
        one, two = first.gender, second.gender
        gender = _NO_ATTR if one is None or two is None else _SAME if one == two else _DIFFERENT
        one, two = first.region, second.region
        area = _NO_ATTR if one is None or two is None else _SAME if one == two else _DIFFERENT
        weight = (
            names_weight
            + date_weight
            + PNC_WEIGHTS[pnc]
            + CRO_WEIGHTS[cro]
            + NOMS_WEIGHTS[noms]
            + GENDER_WEIGHTS[gender]
            + AREA_WEIGHTS[area]
        )
        return (surname, forename, date_of_birth, pnc, cro, weight, noms, gender, area)

    def far_dates_best_weight(self, names: Collection[tuple[str, str]]) -> float:
        """The most any pair can weigh whose records are named by `names` (surname and
        forename: one pair, or one pair and its swap), whose dates of birth plainly
        disagree and that shares no identifier: exact names, or swapped names, or
        (swapped but not scored as such) the best inexact levels."""
        best = max(
            self._surnames[surname] + self._forenames[forename] for surname, forename in names
        )
        if len(names) > 1:
            surname, forename = next(iter(names))
            swapped = _swapped_names_weight(surname, forename, self._freqs)
            best = max(best, swapped, _BEST_INEXACT_NAMES_WEIGHT)
        return best + FAR_DATES_BEST_WEIGHT_BESIDES_NAMES

    def score(self, first: CleanPerson, second: CleanPerson) -> PairScore:
        """Compare two cleaned records field by field and total the evidence."""
        return PairScore(*self.fields(first, second))

    def _names(self, first: CleanPerson, second: CleanPerson) -> tuple[NameLevel, NameLevel, float]:
        """The surname and forename levels and their combined weight."""
        surname, forename = name_levels(first, second)
        if surname is NameLevel.SWAPPED:
            weight = _swapped_names_weight(first.surname, first.forename, self._freqs)
            return surname, forename, weight
        if surname is NameLevel.SWAPPED_NEAR:
            return surname, forename, _near_swapped_weight(first, second, self._freqs)
        surname_weight = (
            self._surnames[first.surname]
            if surname is NameLevel.EXACT
            else SURNAME_WEIGHTS[surname]
        )
        forename_weight = (
            self._forenames[first.forename]
            if forename is NameLevel.EXACT
            else FORENAME_WEIGHTS[forename]
        )
        return surname, forename, surname_weight + forename_weight

    def _date_of_birth(self, first: CleanPerson, second: CleanPerson) -> tuple[DateLevel, float]:
        """The date-of-birth level and its weight."""
        born_first, born_second = first.date_of_birth, second.date_of_birth
        if born_first is None or born_second is None:
            return _DATE_MISSING, _NO_DATE_WEIGHT
        one, two = first.date_ordinal, second.date_ordinal
        if one == two:
            return _DATE_EXACT, self._dates[one]
        if (
            first.date_year != second.date_year
            and first.date_month_day != second.date_month_day
            and abs(one - two) > DATE_OF_BIRTH_NEAR_DAYS
        ):
            # Year and day differ, far apart: not swapped (that keeps the year),
            # not one digit (two differ), not near. The commonest case by far.
            return _DATE_DISAGREE, _DISAGREE_DATE_WEIGHT
        level = date_level(born_first, born_second, first.date_text, second.date_text)
        return level, DATE_OF_BIRTH_WEIGHTS[level]


def score_pair(first: CleanPerson, second: CleanPerson, freqs: Frequencies) -> PairScore:
    """Compare two cleaned records field by field and total the evidence."""
    return PairScorer(freqs).score(first, second)
