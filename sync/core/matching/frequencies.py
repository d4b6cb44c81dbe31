"""Term frequencies of names and dates of birth in the population matched.

Agreement on a common value (SMITH, JOHN) is weaker evidence than agreement on
a rare one, so an exact-agreement level takes its u probability from how often
the value occurs. Counts are smoothed towards a default u with a pseudo-count,
so a small population does not make every value look rare or common, and u is
floored so one unique value cannot outweigh everything else. A pair agreeing
on a value carries it twice itself, so u is the value's frequency among the
other records (leave the pair out): agreement on a value no other record has
counts as rare whatever the population's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from sync.core.matching.cleaning import CleanPerson

TF_PSEUDO_COUNT = 1000.0
PAIR_SIZE = 2
SURNAME_DEFAULT_U = 0.002
FORENAME_DEFAULT_U = 0.005
DATE_OF_BIRTH_DEFAULT_U = 1 / (365.25 * 60)
SURNAME_MIN_U = 1e-4
FORENAME_MIN_U = 1e-4
DATE_OF_BIRTH_MIN_U = 1e-5


class Frequencies(Protocol):
    """How often a value occurs: the u probability of agreeing on it."""

    def surname_u(self, surname: str) -> float:
        """The u probability of two records agreeing on this surname."""
        ...

    def forename_u(self, forename: str) -> float:
        """The u probability of two records agreeing on this forename."""
        ...

    def date_of_birth_u(self, value: date) -> float:
        """The u probability of two records agreeing on this date of birth."""
        ...


def smoothed_u(count: int, total: int, default_u: float, min_u: float) -> float:
    """A value's frequency outside the agreeing pair, smoothed and floored."""
    others = max(0, count - PAIR_SIZE)
    population = max(0, total - PAIR_SIZE)
    frequency = (others + TF_PSEUDO_COUNT * default_u) / (population + TF_PSEUDO_COUNT)
    return max(min_u, frequency)


@dataclass
class TermCounts:
    """Counts of surnames, forenames and dates of birth over a population."""

    total: int = 0
    surnames: Counter[str] = field(default_factory=Counter)
    forenames: Counter[str] = field(default_factory=Counter)
    dates_of_birth: Counter[date] = field(default_factory=Counter)

    @classmethod
    def of(cls, people: Iterable[CleanPerson]) -> TermCounts:
        """Counts over the given people."""
        counts = cls()
        for person in people:
            counts.add(person)
        return counts

    def add(self, person: CleanPerson, times: int = 1) -> None:
        """Count one person (a negative `times` removes it)."""
        self.total += times
        self.surnames[person.surname] += times
        self.forenames[person.forename] += times
        if person.date_of_birth is not None:
            self.dates_of_birth[person.date_of_birth] += times

    def surname_u(self, surname: str) -> float:
        """The smoothed frequency of a surname."""
        return smoothed_u(self.surnames[surname], self.total, SURNAME_DEFAULT_U, SURNAME_MIN_U)

    def forename_u(self, forename: str) -> float:
        """The smoothed frequency of a forename."""
        return smoothed_u(self.forenames[forename], self.total, FORENAME_DEFAULT_U, FORENAME_MIN_U)

    def date_of_birth_u(self, value: date) -> float:
        """The smoothed frequency of a date of birth."""
        return smoothed_u(
            self.dates_of_birth[value], self.total, DATE_OF_BIRTH_DEFAULT_U, DATE_OF_BIRTH_MIN_U
        )


@dataclass(frozen=True)
class CountsWithProbe:
    """Indexed counts as they would be with one more (probe) record added."""

    base: TermCounts
    probe: CleanPerson

    def surname_u(self, surname: str) -> float:
        """The smoothed frequency of a surname, the probe included."""
        extra = int(surname == self.probe.surname)
        count = self.base.surnames[surname] + extra
        return smoothed_u(count, self.base.total + 1, SURNAME_DEFAULT_U, SURNAME_MIN_U)

    def forename_u(self, forename: str) -> float:
        """The smoothed frequency of a forename, the probe included."""
        extra = int(forename == self.probe.forename)
        count = self.base.forenames[forename] + extra
        return smoothed_u(count, self.base.total + 1, FORENAME_DEFAULT_U, FORENAME_MIN_U)

    def date_of_birth_u(self, value: date) -> float:
        """The smoothed frequency of a date of birth, the probe included."""
        extra = int(value == self.probe.date_of_birth)
        count = self.base.dates_of_birth[value] + extra
        return smoothed_u(count, self.base.total + 1, DATE_OF_BIRTH_DEFAULT_U, DATE_OF_BIRTH_MIN_U)
