"""Blocking: which pairs of records are compared at all.

A pair is compared when the two records share a key under at least one rule:

- `PNC`: the same canonical PNC;
- `CRO`: the same canonical CRO;
- `NOMS`: the same NOMS number;
- `DOB_NAME`: the same date of birth and the Soundex of a name, the surname or
  the first forename of either record (catches a typo in the first letter of
  one name, and swapped names even with a nickname: `SAM DAVIS` meets
  `DAVIS SAMUEL` on DAVIS);
- `NAME_MONTH`: the same Soundex of surname and of first forename, and the
  same year and month of birth (a typo in a name and a wrong day together);
- `NAME_PAIR`: the same surname and forename as an unordered pair, so swapped
  names and records without a usable date of birth still meet.

A block larger than `MAX_BLOCK_SIZE` (thousands of JOHN SMITHs) is not compared
all against all: its records are sorted by date of birth and names, and each is
compared with the `NEIGHBOURHOOD` records either side of it. Cost therefore
grows linearly with the population.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from itertools import combinations

from sync.core.matching.cleaning import CleanPerson

MAX_BLOCK_SIZE = 100
NEIGHBOURHOOD = 25
NO_DATE_ORDINAL = 0

SortKey = tuple[int, str, str, str, str]


class BlockRule(StrEnum):
    """The blocking rules, used as key prefixes."""

    PNC = "PNC"
    CRO = "CRO"
    NOMS = "NOMS"
    DOB_NAME = "DOB_NAME"
    NAME_MONTH = "NAME_MONTH"
    NAME_PAIR = "NAME_PAIR"


def _key(rule: BlockRule, *parts: str) -> str:
    """One blocking key."""
    return "|".join((rule, *parts))


def blocking_keys(person: CleanPerson) -> tuple[str, ...]:
    """Every blocking key of a cleaned record."""
    keys: list[str] = []
    if person.pnc is not None:
        keys.append(_key(BlockRule.PNC, person.pnc))
    if person.cro is not None:
        keys.append(_key(BlockRule.CRO, person.cro))
    if person.noms is not None:
        keys.append(_key(BlockRule.NOMS, person.noms))
    dob = person.date_of_birth
    if dob is not None:
        keys.extend(_date_keys(person, dob))
    if person.surname and person.forename:
        low, high = sorted((person.surname, person.forename))
        keys.append(_key(BlockRule.NAME_PAIR, low, high))
    return tuple(keys)


def _date_keys(person: CleanPerson, dob: date) -> list[str]:
    """The `DOB_NAME` and `NAME_MONTH` keys of a record with a date of birth."""
    codes = sorted({code for code in (person.surname_code, person.forename_code) if code})
    keys = [_key(BlockRule.DOB_NAME, dob.isoformat(), code) for code in codes]
    if person.surname_code and person.forename_code:
        month = f"{dob.year:04d}-{dob.month:02d}"
        keys.append(_key(BlockRule.NAME_MONTH, person.surname_code, person.forename_code, month))
    return keys


def sort_key(person: CleanPerson) -> SortKey:
    """The order of records inside a large block: date of birth, names, reference."""
    dob = person.date_of_birth
    ordinal = NO_DATE_ORDINAL if dob is None else dob.toordinal()
    ref = person.ref
    return (ordinal, person.surname, person.forename, ref.agency.value, ref.person_id)


def block_pairs(members: Sequence[int]) -> Iterable[tuple[int, int]]:
    """Pairs to compare in one block whose members are in sort-key order."""
    if len(members) <= MAX_BLOCK_SIZE:
        return combinations(members, 2)
    return (
        (members[i], members[j])
        for i in range(len(members))
        for j in range(i + 1, min(i + 1 + NEIGHBOURHOOD, len(members)))
    )


def candidate_pairs(people: Sequence[CleanPerson]) -> set[tuple[int, int]]:
    """Index pairs (low, high) of `people` that share a blocking key.

    `people` must already be in sort-key order so large blocks are windows.
    """
    blocks: dict[str, list[int]] = defaultdict(list)
    for position, person in enumerate(people):
        for key in blocking_keys(person):
            blocks[key].append(position)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) > 1:
            pairs.update(block_pairs(members))
    return pairs
