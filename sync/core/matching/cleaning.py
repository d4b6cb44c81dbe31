"""Cleaning person records into the comparable form the matcher works on.

Names are upper-cased, stripped of accents and of source-system prefixes
(`MIG_ERROR_` and the like); hyphens, apostrophes and dots are removed, so
`O'BRIEN`, `O.BRIEN` and `OBRIEN` agree, and any other punctuation becomes a
space. A surname is compared without its spaces (`SMITH JONES`, `SMITH-JONES`
and `SMITHJONES` agree), its hyphen- or space-separated parts kept aside for a
partial match (`SMITH-JONES` and `JONES`); forenames are kept as words, the first being the
forename compared. A placeholder date of birth is unknown for matching.
Gender `U` is unknown; the area becomes its probation region (`areas.py`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sync.core.identifiers import is_placeholder_date_of_birth, strip_system_prefix
from sync.core.matching.areas import region_of
from sync.core.matching.phonetic import soundex
from sync.core.records import Gender, Person, RecordRef

HYPHEN = "-"
_JOINING_MARKS_RE = re.compile(r"[-'’‘`.]")
_NOT_NAME_RE = re.compile(r"[^A-Z0-9 ]+")
_SPACES_RE = re.compile(r"\s+")
_DIGIT_RE = re.compile(r"\d")


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


def clean_person(person: Person) -> CleanPerson:
    """The comparable form of one person record."""
    surname_parts = tuple(clean_name(person.surname.replace(HYPHEN, " ")).split())
    forenames = tuple(clean_name(person.forenames).split())
    surname = "".join(surname_parts)
    forename = forenames[0] if forenames else ""
    return CleanPerson(
        ref=person.ref,
        surname=surname,
        surname_parts=surname_parts,
        forename=forename,
        forenames=forenames,
        date_of_birth=matching_date_of_birth(person.date_of_birth),
        pnc=person.pnc,
        cro=person.cro,
        surname_code=soundex(surname),
        forename_code=soundex(forename),
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
