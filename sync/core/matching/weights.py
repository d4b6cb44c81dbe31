"""Fellegi-Sunter m and u probabilities for every comparison level.

m is the chance of a level when the two records are the same person, u the
chance when they are not; the level's match weight is log2(m / u). Exact
agreement on a name or a date of birth takes its u from the population's term
frequencies (`frequencies.py`), so only its m is fixed here. MISSING levels
weigh nothing. The figures are set from the noise rates the feeds are known to
carry and tuned on noisy synthetic populations (see `docs/matching.md`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from sync.core.matching.comparisons import AttributeLevel, DateLevel, IdentifierLevel, NameLevel

LevelT = TypeVar("LevelT", NameLevel, DateLevel, IdentifierLevel, AttributeLevel)


@dataclass(frozen=True, slots=True)
class Probabilities:
    """The m and u probabilities of one comparison level."""

    m: float
    u: float

    @property
    def weight(self) -> float:
        """The level's match weight, log2(m / u)."""
        return math.log2(self.m / self.u)


SURNAME_EXACT_M = 0.88
FORENAME_EXACT_M = 0.82
DATE_OF_BIRTH_EXACT_M = 0.90
NAMES_SWAPPED_M = 0.02
NEAR_SWAPPED_NAME_U = 0.01
# Two records agreeing on a forename given as an initial (`J`) agree on a letter
# that many forenames begin with, however rarely the letter stands alone: at
# least as often as an initial starts the other's forename (the `initial` level).
INITIALS_AGREE_MIN_U = 0.04
NO_EVIDENCE = 0.0

SURNAME_LEVELS: Mapping[NameLevel, Probabilities] = {
    NameLevel.FUZZY_HIGH: Probabilities(m=0.05, u=0.0005),
    NameLevel.OTHER_PART: Probabilities(m=0.02, u=0.0005),
    NameLevel.FUZZY_MID: Probabilities(m=0.03, u=0.003),
    NameLevel.DISAGREE: Probabilities(m=0.02, u=0.99),
}

FORENAME_LEVELS: Mapping[NameLevel, Probabilities] = {
    NameLevel.NICKNAME: Probabilities(m=0.05, u=0.0008),
    NameLevel.FUZZY_HIGH: Probabilities(m=0.04, u=0.0008),
    NameLevel.OTHER_PART: Probabilities(m=0.03, u=0.001),
    NameLevel.FUZZY_MID: Probabilities(m=0.02, u=0.004),
    NameLevel.INITIAL: Probabilities(m=0.01, u=0.04),
    NameLevel.DISAGREE: Probabilities(m=0.02, u=0.95),
}

DATE_OF_BIRTH_LEVELS: Mapping[DateLevel, Probabilities] = {
    DateLevel.DAY_MONTH_SWAPPED: Probabilities(m=0.015, u=1.8e-5),
    DateLevel.ONE_DIGIT: Probabilities(m=0.04, u=0.0012),
    DateLevel.NEAR: Probabilities(m=0.015, u=0.0006),
    DateLevel.DISAGREE: Probabilities(m=0.03, u=0.998),
}

PNC_LEVELS: Mapping[IdentifierLevel, Probabilities] = {
    IdentifierLevel.AGREE: Probabilities(m=0.85, u=1e-7),
    IdentifierLevel.CONFLICT: Probabilities(m=0.001, u=0.9999),
}

CRO_LEVELS: Mapping[IdentifierLevel, Probabilities] = {
    IdentifierLevel.AGREE: Probabilities(m=0.80, u=1e-7),
    IdentifierLevel.CONFLICT: Probabilities(m=0.002, u=0.9999),
}


NOMS_LEVELS: Mapping[IdentifierLevel, Probabilities] = {
    IdentifierLevel.AGREE: Probabilities(m=0.80, u=1e-7),
    IdentifierLevel.CONFLICT: Probabilities(m=0.01, u=0.9999),
}

GENDER_LEVELS: Mapping[AttributeLevel, Probabilities] = {
    AttributeLevel.AGREE: Probabilities(m=0.98, u=0.80),
    AttributeLevel.DISAGREE: Probabilities(m=0.02, u=0.20),
}

AREA_LEVELS: Mapping[AttributeLevel, Probabilities] = {
    AttributeLevel.AGREE: Probabilities(m=0.90, u=0.15),
    AttributeLevel.DISAGREE: Probabilities(m=0.10, u=0.85),
}


def exact_weight(m: float, u: float) -> float:
    """The weight of exact agreement on a value with frequency `u` (never negative)."""
    return max(NO_EVIDENCE, math.log2(m / u))


def weight_table(levels: Mapping[LevelT, Probabilities], kind: type[LevelT]) -> dict[LevelT, float]:
    """The weight of every level of a kind, worked out once (exact and missing weigh 0)."""
    return {level: level_weight(levels, level) for level in kind}


def level_weight(levels: Mapping[LevelT, Probabilities], level: LevelT) -> float:
    """The weight of a non-exact level; levels not in the table weigh nothing."""
    probabilities = levels.get(level)
    return NO_EVIDENCE if probabilities is None else probabilities.weight


SURNAME_WEIGHTS = weight_table(SURNAME_LEVELS, NameLevel)
FORENAME_WEIGHTS = weight_table(FORENAME_LEVELS, NameLevel)
DATE_OF_BIRTH_WEIGHTS = weight_table(DATE_OF_BIRTH_LEVELS, DateLevel)
PNC_WEIGHTS = weight_table(PNC_LEVELS, IdentifierLevel)
CRO_WEIGHTS = weight_table(CRO_LEVELS, IdentifierLevel)
NOMS_WEIGHTS = weight_table(NOMS_LEVELS, IdentifierLevel)
GENDER_WEIGHTS = weight_table(GENDER_LEVELS, AttributeLevel)
AREA_WEIGHTS = weight_table(AREA_LEVELS, AttributeLevel)
