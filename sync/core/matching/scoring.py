"""Scoring a pair of cleaned records: comparison levels and total match weight.

The total is the sum of the levels' log2 weights (no prior): each field's
evidence for or against the pair being one person. When the names agree only
swapped (surname of one is the forename of the other and vice versa), the
swapped-names weight replaces the surname and forename weights; names swapped
with a nickname or a typo on one side (`SAM DAVIS` / `DAVIS SAMUEL`) are
`SWAPPED_NEAR`, weighed the same way with a fixed u for the inexact side.
Gender, area (as probation region) and NOMS number add their own evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sync.core.matching.cleaning import CleanPerson, names_swapped
from sync.core.matching.comparisons import (
    AttributeLevel,
    DateLevel,
    IdentifierLevel,
    NameLevel,
    compare_attributes,
    compare_dates_of_birth,
    compare_forenames,
    compare_identifiers,
    compare_surnames,
    near_names,
)
from sync.core.matching.frequencies import Frequencies
from sync.core.matching.weights import (
    AREA_LEVELS,
    CRO_LEVELS,
    DATE_OF_BIRTH_EXACT_M,
    DATE_OF_BIRTH_LEVELS,
    FORENAME_EXACT_M,
    FORENAME_LEVELS,
    GENDER_LEVELS,
    NAMES_SWAPPED_M,
    NEAR_SWAPPED_NAME_U,
    NO_EVIDENCE,
    NOMS_LEVELS,
    PNC_LEVELS,
    SURNAME_EXACT_M,
    SURNAME_LEVELS,
    exact_weight,
    level_weight,
)

_SWAP_CANDIDATE_LEVELS = frozenset({NameLevel.DISAGREE, NameLevel.FUZZY_MID})


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


def _swapped_weight(first: CleanPerson, second: CleanPerson, freqs: Frequencies) -> float:
    """The weight of swapped names, from the commoner of the two orientations."""
    u = max(
        freqs.surname_u(first.surname) * freqs.forename_u(first.forename),
        freqs.surname_u(second.surname) * freqs.forename_u(second.forename),
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


def _names_weight(
    first: CleanPerson,
    second: CleanPerson,
    levels: tuple[NameLevel, NameLevel],
    freqs: Frequencies,
) -> float:
    """The combined weight of the surname and forename levels."""
    surname, forename = levels
    if surname is NameLevel.SWAPPED:
        return _swapped_weight(first, second, freqs)
    if surname is NameLevel.SWAPPED_NEAR:
        return _near_swapped_weight(first, second, freqs)
    if surname is NameLevel.EXACT:
        surname_weight = exact_weight(SURNAME_EXACT_M, freqs.surname_u(first.surname))
    else:
        surname_weight = level_weight(SURNAME_LEVELS, surname)
    if forename is NameLevel.EXACT:
        forename_weight = exact_weight(FORENAME_EXACT_M, freqs.forename_u(first.forename))
    else:
        forename_weight = level_weight(FORENAME_LEVELS, forename)
    return surname_weight + forename_weight


def _date_weight(first: CleanPerson, level: DateLevel, freqs: Frequencies) -> float:
    """The weight of the date-of-birth level."""
    if level is DateLevel.EXACT and first.date_of_birth is not None:
        return exact_weight(DATE_OF_BIRTH_EXACT_M, freqs.date_of_birth_u(first.date_of_birth))
    return level_weight(DATE_OF_BIRTH_LEVELS, level)


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


def score_pair(first: CleanPerson, second: CleanPerson, freqs: Frequencies) -> PairScore:
    """Compare two cleaned records field by field and total the evidence."""
    surname, forename = levels = name_levels(first, second)
    date_level = compare_dates_of_birth(first.date_of_birth, second.date_of_birth)
    pnc = compare_identifiers(first.pnc, second.pnc)
    cro = compare_identifiers(first.cro, second.cro)
    noms = compare_identifiers(first.noms, second.noms)
    gender = compare_attributes(first.gender, second.gender)
    area = compare_attributes(first.region, second.region)
    weight = (
        _names_weight(first, second, levels, freqs)
        + _date_weight(first, date_level, freqs)
        + level_weight(PNC_LEVELS, pnc)
        + level_weight(CRO_LEVELS, cro)
        + level_weight(NOMS_LEVELS, noms)
        + level_weight(GENDER_LEVELS, gender)
        + level_weight(AREA_LEVELS, area)
    )
    return PairScore(surname, forename, date_level, pnc, cro, weight, noms, gender, area)
