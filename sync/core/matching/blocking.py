"""Blocking: which pairs of records are compared at all.

A pair is compared when the two records share a key under at least one rule:

- `PNC`: the same canonical PNC;
- `CRO`: the same canonical CRO;
- `NOMS`: the same NOMS number;
- `DOB_NAME`: the same date of birth and the Soundex of a name, the surname or
  the first forename of either record (catches a typo in the first letter of
  one name, and swapped names even with a nickname: `SAM DAVIS` meets
  `DAVIS SAMUEL` on DAVIS);
- `NAME_MONTH`: the same Soundex of surname, the same first letter of the
  first forename, and the same year and month of birth (a typo in a name, or
  a nickname with the same initial, `MIKE` for `MICHAEL`, and a wrong day
  together);
- `NAME_PAIR`: the same surname and forename as an unordered pair, so swapped
  names and records without a usable date of birth still meet.

A block larger than `MAX_BLOCK_SIZE` (thousands of JOHN SMITHs) is not compared
all against all: its records are sorted by date of birth and names, and each is
compared with the `NEIGHBOURHOOD` records either side of it. Cost therefore
grows linearly with the population.

Most `NAME_PAIR` pairs are people who merely share a common name: their dates of
birth are years apart, and such a pair cannot reach review unless the names are
rare. When the scorer shows that, for a block's names, no pair with plainly
different dates and no shared identifier can, `candidate_pairs` leaves those
pairs out of that block (`pairs_that_may_score`): the verdicts are the same,
and a national population has millions fewer pairs to score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from itertools import chain, combinations

from sync.core.matching.cleaning import NO_DATE_ORDINAL, CleanPerson
from sync.core.matching.comparisons import DATE_OF_BIRTH_NEAR_DAYS

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
        initial, month = forename_code[0], text[:ISO_MONTH_LENGTH]
        keys.append(f"{_NAME_MONTH}{surname_code}{KEY_SEPARATOR}{initial}{KEY_SEPARATOR}{month}")
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


def candidate_pairs(
    people: Sequence[CleanPerson],
    far_dates_cannot_score: Callable[[Sequence[CleanPerson]], bool] | None = None,
) -> set[tuple[int, int]]:
    """Index pairs (low, high) of `people` that share a blocking key, each once.

    `people` must already be in sort-key order so large blocks are windows.
    When `far_dates_cannot_score(block)` is true for the records of a
    `NAME_PAIR` block (their names cannot carry a pair with plainly different
    dates of birth to review), the block gives only `pairs_that_may_score`.
    """
    blocks: dict[str, list[int]] = defaultdict(list)
    for position, person in enumerate(people):
        for key in blocking_keys(person):
            blocks[key].append(position)
    pairs: set[tuple[int, int]] = set()
    for key, members in blocks.items():
        if len(members) < 2:
            continue
        if (
            far_dates_cannot_score is not None
            and key.startswith(_NAME_PAIR)
            and far_dates_cannot_score([people[position] for position in members])
        ):
            pairs.update(pairs_that_may_score(members, people))
        else:
            pairs.update(block_pairs(members))
    return pairs


def pairs_that_may_score(
    members: Sequence[int], people: Sequence[CleanPerson]
) -> list[tuple[int, int]]:
    """The pairs of `block_pairs(members)` whose dates of birth do not plainly disagree
    or that share an identifier.

    A date of birth missing on either side, the same year, the same month and
    day, or dates within `DATE_OF_BIRTH_NEAR_DAYS`: anything else is the
    scorer's plain `DISAGREE`. Members are in sort-key order (date first). A
    large block's neighbourhood pairs are each checked (linear in its size); a
    small block's pairs are found by grouping its records.
    """
    if len(members) > MAX_BLOCK_SIZE:
        return [
            (one, two) for one, two in block_pairs(members) if may_score(people[one], people[two])
        ]
    groups: dict[tuple[str, object], list[int]] = defaultdict(list)
    undated: list[int] = []
    dated: list[int] = []
    for index, position in enumerate(members):
        person = people[position]
        if person.date_ordinal == NO_DATE_ORDINAL:
            undated.append(index)
        else:
            dated.append(index)
            groups["year", person.date_year].append(index)
            groups["month_day", person.date_month_day].append(index)
        for label, value in (("pnc", person.pnc), ("cro", person.cro), ("noms", person.noms)):
            if value is not None:
                groups[label, value].append(index)
    found: set[tuple[int, int]] = set()
    for group in groups.values():
        found.update(combinations(group, 2))
    for index in undated:
        found.update((min(index, other), max(index, other)) for other in range(len(members)))
    found.update(_near_dates(dated, [people[members[index]].date_ordinal for index in dated]))
    return [(members[low], members[high]) for low, high in found if low != high]


def may_score(first: CleanPerson, second: CleanPerson) -> bool:
    """Whether a pair's dates of birth do not plainly disagree, or it shares an identifier."""
    one, two = first.date_ordinal, second.date_ordinal
    return (
        NO_DATE_ORDINAL in (one, two)
        or first.date_year == second.date_year
        or first.date_month_day == second.date_month_day
        or abs(one - two) <= DATE_OF_BIRTH_NEAR_DAYS
        or _shared(first.pnc, second.pnc)
        or _shared(first.cro, second.cro)
        or _shared(first.noms, second.noms)
    )


def _shared(one: str | None, two: str | None) -> bool:
    return one is not None and one == two


def _near_dates(indexes: list[int], ordinals: list[int]) -> Iterable[tuple[int, int]]:
    """Pairs of `indexes` (in date order) whose day numbers are within the near window."""
    for start, ordinal in enumerate(ordinals):
        for following in range(start + 1, len(ordinals)):
            if ordinals[following] - ordinal > DATE_OF_BIRTH_NEAR_DAYS:
                break
            yield indexes[start], indexes[following]
