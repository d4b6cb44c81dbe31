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
from enum import StrEnum
from itertools import chain, combinations

from sync.core.matching.cleaning import CleanPerson

MAX_BLOCK_SIZE = 100
NEIGHBOURHOOD = 25
KEY_SEPARATOR = "|"
ISO_MONTH_LENGTH = len("YYYY-MM")

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
    return KEY_SEPARATOR.join((rule, *parts))


# Each rule's key prefix, bound once: keys are built for every record of a run.
_PNC, _CRO, _NOMS, _DOB_NAME, _NAME_MONTH, _NAME_PAIR = (
    _key(rule, "")
    for rule in (
        BlockRule.PNC,
        BlockRule.CRO,
        BlockRule.NOMS,
        BlockRule.DOB_NAME,
        BlockRule.NAME_MONTH,
        BlockRule.NAME_PAIR,
    )
)


def blocking_keys(person: CleanPerson) -> tuple[str, ...]:
    """Every blocking key of a cleaned record."""
    keys: list[str] = []
    if person.pnc is not None:
        keys.append(_PNC + person.pnc)
    if person.cro is not None:
        keys.append(_CRO + person.cro)
    if person.noms is not None:
        keys.append(_NOMS + person.noms)
    if person.date_of_birth is not None:
        keys.extend(_date_keys(person))
    surname, forename = person.surname, person.forename
    if surname and forename:
        low, high = (surname, forename) if surname <= forename else (forename, surname)
        keys.append(f"{_NAME_PAIR}{low}{KEY_SEPARATOR}{high}")
    return tuple(keys)


def _date_keys(person: CleanPerson) -> list[str]:
    """The `DOB_NAME` and `NAME_MONTH` keys of a record with a date of birth."""
    text, surname_code, forename_code = person.date_text, person.surname_code, person.forename_code
    codes = sorted({code for code in (surname_code, forename_code) if code})
    keys = [f"{_DOB_NAME}{text}{KEY_SEPARATOR}{code}" for code in codes]
    if surname_code and forename_code:
        month = text[:ISO_MONTH_LENGTH]
        keys.append(
            f"{_NAME_MONTH}{surname_code}{KEY_SEPARATOR}{forename_code}{KEY_SEPARATOR}{month}"
        )
    return keys


def sort_key(person: CleanPerson) -> SortKey:
    """The order of records inside a large block: date of birth, names, reference."""
    ref = person.ref
    return (person.date_ordinal, person.surname, person.forename, ref.agency.value, ref.person_id)


def block_pairs(members: Sequence[int]) -> Iterable[tuple[int, int]]:
    """Pairs to compare in one block whose members are in sort-key order."""
    if len(members) <= MAX_BLOCK_SIZE:
        return combinations(members, 2)
    return chain.from_iterable(
        zip(members, members[offset:], strict=False) for offset in range(1, NEIGHBOURHOOD + 1)
    )


def candidate_pairs(people: Sequence[CleanPerson]) -> set[tuple[int, int]]:
    """Index pairs (low, high) of `people` that share a blocking key, each once.

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
