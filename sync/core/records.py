"""Immutable domain records the pure core works on.

These are plain frozen dataclasses with no I/O and no validation logic: the
feed adapter (`sync.feeds`) validates raw input with pydantic and hands the core
values of these types. Every identifier here is already in canonical form (see
`sync.core.identifiers`); an identifier that was invalid or junk is `None`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import NamedTuple


class Agency(StrEnum):
    """The two agency systems arms-sync reads."""

    PROBATION = "probation"
    POLICE = "police"

    @property
    def other(self) -> Agency:
        """The other agency."""
        return Agency.POLICE if self is Agency.PROBATION else Agency.PROBATION


class Owner(StrEnum):
    """Who must complete ARMS on a date."""

    PROBATION = "probation"
    POLICE = "police"
    NONE = "none"


def owning_agency(owner: Owner) -> Agency | None:
    """The agency an owner names, if any (`none` names none)."""
    return None if owner is Owner.NONE else Agency(owner.value)


class Gender(StrEnum):
    """Gender as the agencies record it; `U` is unknown."""

    MALE = "M"
    FEMALE = "F"
    OTHER = "X"
    UNKNOWN = "U"


class SupervisionKind(StrEnum):
    """Kinds of probation supervision."""

    LICENCE = "licence"
    POST_SENTENCE_SUPERVISION = "post_sentence_supervision"
    COMMUNITY_ORDER = "community_order"
    SUSPENDED_SENTENCE_ORDER = "suspended_sentence_order"


class Offence(StrEnum):
    """The offence category a supervision is for."""

    SEXUAL = "sexual"
    SEXUAL_ELEMENT = "sexual_element"
    OTHER = "other"


class AssessmentStatus(StrEnum):
    """Status of an ARMS assessment."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RecordRef(NamedTuple):
    """A person record named by its agency and the agency's own reference.

    A named tuple, not a dataclass: references are hashed and compared
    millions of times in a national run, and tuples do that in C.
    """

    agency: Agency
    person_id: str


@dataclass(frozen=True, slots=True)
class Person:
    """One agency's record of a person (canonical identifiers, junk removed)."""

    agency: Agency
    person_id: str
    surname: str
    forenames: str
    gender: Gender
    area: str
    date_of_birth: date | None = None
    pnc: str | None = None
    cro: str | None = None
    noms: str | None = None
    ref: RecordRef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: references are compared and hashed millions of times a run.
        object.__setattr__(self, "ref", RecordRef(self.agency, self.person_id))


@dataclass(frozen=True, slots=True)
class Supervision:
    """A probation supervision period (inclusive at both ends)."""

    id: str
    person_id: str
    kind: SupervisionKind
    offence: Offence
    start: date
    end: date | None
    terminated_on: date | None = None

    @property
    def last_day(self) -> date | None:
        """The actual last day of supervision; `None` is open-ended."""
        return self.terminated_on if self.terminated_on is not None else self.end


@dataclass(frozen=True, slots=True)
class Period:
    """A custody or registration period; `end` of `None` is open-ended."""

    id: str
    person_id: str
    start: date
    end: date | None


@dataclass(frozen=True, slots=True)
class Assessment:
    """An ARMS assessment by one agency."""

    agency: Agency
    id: str
    person_id: str
    started_on: date
    completed_on: date | None
    status: AssessmentStatus

    @property
    def reference_date(self) -> date:
        """`completed_on` when completed, else `started_on`."""
        if self.status is AssessmentStatus.COMPLETED and self.completed_on is not None:
            return self.completed_on
        return self.started_on

    @property
    def counts(self) -> bool:
        """Whether it counts for duplicates (deleted ones never reach the core)."""
        return self.status is not AssessmentStatus.CANCELLED


@dataclass(frozen=True, slots=True)
class Override:
    """A manual ownership override for an inclusive date range (`to` None: open).

    `made` is its place in the order the overrides were made (a later one,
    a larger number): of two starting the same day, the later made wins.
    `records` are the person records its subject held when it was made: it
    stays with the subject holding most of them (`sync.core.linking`).
    """

    id: str
    owner: Owner
    start: date
    end: date | None
    made: int = 0
    records: tuple[RecordRef, ...] = ()


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """Everything the policy engine and duplicate rules need about one subject.

    `supervisions` and `custodies` come from probation, `registrations` from
    the police; `area_of` finds a person record's area, so the roll-out test
    can find its training date.
    """

    subject_id: str
    persons: tuple[Person, ...]
    supervisions: tuple[Supervision, ...] = ()
    custodies: tuple[Period, ...] = ()
    registrations: tuple[Period, ...] = ()
    assessments: tuple[Assessment, ...] = ()
    overrides: tuple[Override, ...] = field(default=())

    def area_of(self, agency: Agency, person_id: str) -> str | None:
        """The area of one of this subject's person records.

        A record given twice with different areas (which the ledger, holding one
        version of each record, never does) gives the lowest, so the answer does
        not depend on the order of `persons`.
        """
        areas = [
            person.area
            for person in self.persons
            if person.agency is agency and person.person_id == person_id
        ]
        return min(areas, default=None)
