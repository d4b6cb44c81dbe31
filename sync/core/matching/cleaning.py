"""Cleaning person records into the comparable form the matcher works on.

Names are upper-cased, stripped of accents and of source-system prefixes
(`MIG_ERROR_` and the like); hyphens, apostrophes and dots are removed, so
`O'BRIEN`, `O.BRIEN` and `OBRIEN` agree, and any other punctuation becomes a
space. A surname is compared without its spaces (`SMITH JONES`, `SMITH-JONES`
and `SMITHJONES` agree), its hyphen- or space-separated parts kept aside for a
partial match (`SMITH-JONES` and `JONES`); forenames are kept as words, the first being the
forename compared. A placeholder date of birth is unknown for matching.
Gender `U` is unknown; the area becomes its probation region (`areas.py`).

Everything a pair comparison asks of one record (whether a name is a code, the
sets of surname parts and forenames, the date of birth as an ISO text, a day
number, a year and a month-and-day number) is worked out once per record here,
so comparing a pair is look-ups.
The same raw names recur across a population, so cleaning a raw surname or
forenames is cached (`RAW_NAME_CACHE_SIZE`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sync.core.identifiers import is_placeholder_date_of_birth, strip_system_prefix
from sync.core.matching.areas import region_of
from sync.core.matching.phonetic import soundex
from sync.core.records import Gender, Person, RecordRef

HYPHEN = "-"
_JOINING_MARKS_RE = re.compile(r"[-'’‘`.]")
_NOT_NAME_RE = re.compile(r"[^A-Z0-9 ]+")
_SPACES_RE = re.compile(r"\s+")
_DIGIT_RE = re.compile(r"\d")
NO_DATE_TEXT = ""
NO_DATE_ORDINAL = 0
MONTH_DAY_BASE = 100
RAW_NAME_CACHE_SIZE = 1 << 16
# What source systems and officers write, once cleaned, for a name nobody knows:
# agreeing on one is no evidence, so such a name is unknown to the matcher.
PLACEHOLDER_NAMES = frozenset(
    ("UNKNOWN", "NOT KNOWN", "NOTKNOWN", "NK", "N K", "UNK", "NONE", "NO NAME", "NAME UNKNOWN")
)
# Words that begin surnames of many families: sharing one is no shared surname part.
# fmt: off
SURNAME_PARTICLES = frozenset({
    "AL", "EL", "ABU", "BIN", "BINT", "BEN", "IBN", "AP", "MC", "MAC", "O", "ST", "SAINT",
    "DE", "DA", "DI", "DO", "DU", "DOS", "DAS", "DEL", "DELLA", "DELA", "LA", "LE", "LO",
    "VAN", "VON", "DER", "DEN", "TER", "TEN", "Y",
})
# fmt: on


@dataclass(frozen=True, slots=True)
class CleanPerson:
    """A person record in comparable form; empty strings mean unknown."""

    ref: RecordRef
    surname: str
    surname_parts: tuple[str, ...]
    forename: str
    forenames: tuple[str, ...]
    date_of_birth: date | None
    pnc: str | None
    cro: str | None
    surname_code: str
    forename_code: str
    gender: str | None = None
    region: str | None = None
    noms: str | None = None
    surname_is_code: bool = field(init=False, repr=False, compare=False)
    forename_is_code: bool = field(init=False, repr=False, compare=False)
    surname_part_set: frozenset[str] = field(init=False, repr=False, compare=False)
    forename_set: frozenset[str] = field(init=False, repr=False, compare=False)
    date_text: str = field(init=False, repr=False, compare=False)
    date_ordinal: int = field(init=False, repr=False, compare=False)
    date_year: int = field(init=False, repr=False, compare=False)
    date_month_day: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Worked out once per record: a national run compares millions of pairs.
        born = self.date_of_birth
        set_field = object.__setattr__
        set_field(self, "surname_is_code", is_code_like(self.surname))
        set_field(self, "forename_is_code", is_code_like(self.forename))
        set_field(self, "surname_part_set", _distinctive_parts(self.surname_parts))
        set_field(self, "forename_set", frozenset(self.forenames))
        set_field(self, "date_text", NO_DATE_TEXT if born is None else born.isoformat())
        set_field(self, "date_ordinal", NO_DATE_ORDINAL if born is None else born.toordinal())
        set_field(self, "date_year", NO_DATE_ORDINAL if born is None else born.year)
        set_field(
            self,
            "date_month_day",
            NO_DATE_ORDINAL if born is None else born.month * MONTH_DAY_BASE + born.day,
        )


def _distinctive_parts(parts: tuple[str, ...]) -> frozenset[str]:
    """The parts of a surname that may tell a family, particles aside (`AL`, `DE`, `VAN`,
    `MC`, …): `AL-HASSAN` and `AL-RASHID` share no family by their `AL`."""
    distinctive = frozenset(part for part in parts if part not in SURNAME_PARTICLES)
    return distinctive or frozenset(parts)


def clean_name(raw: str) -> str:
    """A name upper-cased, prefix and accents removed, separators normalised."""
    text = strip_system_prefix(raw.strip())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char)).upper()
    text = _JOINING_MARKS_RE.sub("", text)
    text = _NOT_NAME_RE.sub(" ", text)
    return _SPACES_RE.sub(" ", text).strip()


def is_code_like(name: str) -> bool:
    """True for a 'name' holding digits: a system code, compared only exactly."""
    return _DIGIT_RE.search(name) is not None


def matching_date_of_birth(value: date | None) -> date | None:
    """The date of birth to match on: `None` when missing or a placeholder."""
    return None if is_placeholder_date_of_birth(value) else value


def _unless_placeholder(name: str) -> str:
    """A cleaned name, or "" (unknown) when it is a way of writing that no name is known."""
    return "" if name in PLACEHOLDER_NAMES else name


@lru_cache(maxsize=RAW_NAME_CACHE_SIZE)
def clean_surname(raw: str) -> tuple[tuple[str, ...], str, str]:
    """A raw surname's cleaned parts, the surname compared (parts joined) and its Soundex."""
    parts = tuple(_unless_placeholder(clean_name(raw.replace(HYPHEN, " "))).split())
    surname = "".join(parts)
    return parts, surname, soundex(surname)


@lru_cache(maxsize=RAW_NAME_CACHE_SIZE)
def clean_forenames(raw: str) -> tuple[tuple[str, ...], str, str]:
    """Raw forenames cleaned into words, the first (compared) one and its Soundex."""
    forenames = tuple(_unless_placeholder(clean_name(raw)).split())
    forename = forenames[0] if forenames else ""
    return forenames, forename, soundex(forename)


def clean_person(person: Person) -> CleanPerson:
    """The comparable form of one person record."""
    surname_parts, surname, surname_code = clean_surname(person.surname)
    forenames, forename, forename_code = clean_forenames(person.forenames)
    return CleanPerson(
        ref=person.ref,
        surname=surname,
        surname_parts=surname_parts,
        forename=forename,
        forenames=forenames,
        date_of_birth=matching_date_of_birth(person.date_of_birth),
        pnc=person.pnc,
        cro=person.cro,
        surname_code=surname_code,
        forename_code=forename_code,
        gender=None if person.gender is Gender.UNKNOWN else person.gender.value,
        region=region_of(person.area),
        noms=person.noms,
    )


def names_swapped(first: CleanPerson, second: CleanPerson) -> bool:
    """True when one record's forename and surname are the other's, swapped."""
    return (
        bool(first.surname)
        and bool(first.forename)
        and first.surname != first.forename
        and first.surname == second.forename
        and first.forename == second.surname
    )
