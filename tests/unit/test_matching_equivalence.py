"""The matcher's fast paths give what the plain rules of `docs/matching.md` give.

Each test states a rule the straightforward way (one comparison after another,
weights from `level_weight` and `exact_weight`, every pair of every block) and
checks the cached, precomputed and short-circuited code against it on many
generated cases.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA, Hamming, JaroWinkler

from sync.bulk import paused_garbage_collection
from sync.core.identifiers import is_placeholder_date_of_birth
from sync.core.matching.blocking import (
    MAX_BLOCK_SIZE,
    NEIGHBOURHOOD,
    block_pairs,
    blocking_keys,
    candidate_pairs,
    pairs_that_may_score,
    sort_key,
)
from sync.core.matching.cleaning import SURNAME_PARTICLES, CleanPerson, clean_person
from sync.core.matching.comparisons import (
    DATE_OF_BIRTH_NEAR_DAYS,
    FORENAME_FUZZY_HIGH,
    FORENAME_FUZZY_MID,
    SURNAME_FUZZY_HIGH,
    SURNAME_FUZZY_MID,
    DateLevel,
    NameLevel,
    compare_forenames,
    compare_surnames,
)
from sync.core.matching.frequencies import TermCounts
from sync.core.matching.matcher import Link, ReviewPair, _judge, match_population
from sync.core.matching.nicknames import are_nicknames
from sync.core.matching.scoring import PairScorer, name_levels, score_pair
from sync.core.matching.weights import (
    AREA_LEVELS,
    CRO_LEVELS,
    DATE_OF_BIRTH_EXACT_M,
    DATE_OF_BIRTH_LEVELS,
    FORENAME_EXACT_M,
    FORENAME_LEVELS,
    GENDER_LEVELS,
    INITIALS_AGREE_MIN_U,
    NOMS_LEVELS,
    PNC_LEVELS,
    SURNAME_EXACT_M,
    SURNAME_LEVELS,
    exact_weight,
    level_weight,
)
from sync.core.records import Agency, Gender, Person

TOLERANCE = 1e-9
BASE_DAY = date(1975, 6, 15)
NEW_YEARS_EVE = date(1975, 12, 31)

# A small alphabet and short names, so typos, shared parts and exact agreement
# all turn up often.
NAME_WORDS = st.sampled_from(
    [
        "SMITH",
        "SMYTH",
        "JONES",
        "JONSE",
        "JON",
        "JOHN",
        "BOB",
        "ROBERT",
        "J",
        "ANN",
        "ANNE",
        "HALL",
        "HILL",
        "DE",
        "AL",
    ]
)
NAMES = st.lists(NAME_WORDS, min_size=0, max_size=3).map(" ".join)
DATES = st.one_of(
    st.none(),
    st.integers(-40, 40).map(lambda days: BASE_DAY + timedelta(days=days)),
    st.integers(-10, 10).map(lambda days: NEW_YEARS_EVE + timedelta(days=days)),
    st.dates(date(1940, 1, 1), date(2005, 12, 31)),
    st.builds(date, st.sampled_from([1975, 1985]), st.integers(1, 12), st.integers(1, 12)),
)
IDS = st.sampled_from([None, "A", "B"])
GENDERS = st.sampled_from(list(Gender))
AREAS = st.sampled_from(["LANC", "NW", "GMP", "MET", ""])


def _is_code(name: str) -> bool:
    return any(char.isdigit() for char in name)


def _family_parts(person: CleanPerson) -> set[str]:
    """A surname's parts but its particles, unless it is all particles."""
    parts = set(person.surname_parts)
    return (parts - SURNAME_PARTICLES) or parts


def reference_surname_level(first: CleanPerson, second: CleanPerson) -> NameLevel:
    """The surname level, each rule in turn."""
    one, two = first.surname, second.surname
    if not one or not two:
        return NameLevel.MISSING
    if one == two:
        return NameLevel.EXACT
    if _is_code(one) or _is_code(two):
        return NameLevel.DISAGREE
    score = JaroWinkler.similarity(one, two)
    if score >= SURNAME_FUZZY_HIGH:
        return NameLevel.FUZZY_HIGH
    if _family_parts(first) & _family_parts(second):
        return NameLevel.OTHER_PART
    if len(one) == len(two) <= 4 and Hamming.distance(one, two) == 1:
        return NameLevel.DISAGREE  # `HALL` and `HILL`: two short surnames
    one_edit = min(len(one), len(two)) >= 3 and OSA.distance(one, two) <= 1
    if score >= SURNAME_FUZZY_MID or one_edit:
        return NameLevel.FUZZY_MID
    return NameLevel.DISAGREE


def reference_forename_level(first: CleanPerson, second: CleanPerson) -> NameLevel:
    """The forename level, each rule in turn."""
    one, two = first.forename, second.forename
    if not one or not two:
        return NameLevel.MISSING
    if one == two:
        return NameLevel.EXACT
    if _is_code(one) or _is_code(two):
        return NameLevel.DISAGREE
    if are_nicknames(one, two):
        return NameLevel.NICKNAME
    score = JaroWinkler.similarity(one, two)
    if score >= FORENAME_FUZZY_HIGH:
        return NameLevel.FUZZY_HIGH
    if one in second.forenames or two in first.forenames:
        return NameLevel.OTHER_PART
    if score >= FORENAME_FUZZY_MID:
        return NameLevel.FUZZY_MID
    if (len(one) == 1 and two.startswith(one)) or (len(two) == 1 and one.startswith(two)):
        return NameLevel.INITIAL
    return NameLevel.DISAGREE


YEAR_UNITS_PLACE = 3  # in `YYYY-MM-DD`, the last digit of the year


def reference_date_level(first: date | None, second: date | None) -> DateLevel:
    """The date-of-birth level, each rule in turn."""
    if first is None or second is None:
        return DateLevel.MISSING
    if first == second:
        return DateLevel.EXACT
    if first.year == second.year and (first.day, first.month) == (second.month, second.day):
        return DateLevel.DAY_MONTH_SWAPPED
    differing = [
        place
        for place, (a, b) in enumerate(zip(first.isoformat(), second.isoformat(), strict=True))
        if a != b
    ]
    if len(differing) == 1 and differing[0] >= YEAR_UNITS_PLACE:  # not a decade or more apart
        return DateLevel.ONE_DIGIT
    if abs((first - second).days) <= DATE_OF_BIRTH_NEAR_DAYS:
        return DateLevel.NEAR
    return DateLevel.DISAGREE


def reference_weight(first: CleanPerson, second: CleanPerson, counts: TermCounts) -> float:
    """The total weight from `level_weight` and `exact_weight`, names not swapped."""
    score = score_pair(first, second, counts)
    if score.surname is NameLevel.EXACT:
        surname = exact_weight(SURNAME_EXACT_M, counts.surname_u(first.surname))
    else:
        surname = level_weight(SURNAME_LEVELS, score.surname)
    if score.forename is NameLevel.EXACT:
        u = counts.forename_u(first.forename)
        if len(first.forename) == 1:  # a lone initial agrees as often as initials do
            u = max(u, INITIALS_AGREE_MIN_U)
        forename = exact_weight(FORENAME_EXACT_M, u)
    else:
        forename = level_weight(FORENAME_LEVELS, score.forename)
    if score.date_of_birth is DateLevel.EXACT and first.date_of_birth is not None:
        born = exact_weight(DATE_OF_BIRTH_EXACT_M, counts.date_of_birth_u(first.date_of_birth))
    else:
        born = level_weight(DATE_OF_BIRTH_LEVELS, score.date_of_birth)
    return (
        surname
        + forename
        + born
        + level_weight(PNC_LEVELS, score.pnc)
        + level_weight(CRO_LEVELS, score.cro)
        + level_weight(NOMS_LEVELS, score.noms)
        + level_weight(GENDER_LEVELS, score.gender)
        + level_weight(AREA_LEVELS, score.area)
    )


@st.composite
def persons(draw: st.DrawFn, person_id: str = "P1") -> Person:
    """A record from a small vocabulary."""
    return Person(
        Agency.POLICE,
        person_id,
        draw(NAMES),
        draw(NAMES),
        draw(GENDERS),
        draw(AREAS),
        draw(DATES),
        draw(IDS),
        draw(IDS),
        draw(IDS),
    )


def people(person_id: str = "P1") -> st.SearchStrategy[CleanPerson]:
    """A cleaned record from a small vocabulary."""
    return persons(person_id).map(clean_person)


@settings(max_examples=400)
@given(people(), people("P2"))
def test_name_levels_follow_the_rules_in_order(first: CleanPerson, second: CleanPerson) -> None:
    assert compare_surnames(first, second) is reference_surname_level(first, second)
    assert compare_forenames(first, second) is reference_forename_level(first, second)


@settings(max_examples=400)
@given(DATES, DATES)
def test_date_levels_follow_the_rules_in_order(first: date | None, second: date | None) -> None:
    one, two = clean_person(_born(first, "P1")), clean_person(_born(second, "P2"))
    scored = PairScorer(TermCounts.of([one, two])).score(one, two)
    known = [None if is_placeholder_date_of_birth(day) else day for day in (first, second)]
    assert scored.date_of_birth is reference_date_level(*known)


def _born(day: date | None, person_id: str) -> Person:
    """A record that differs from another only in its id and date of birth."""
    return Person(Agency.POLICE, person_id, "SMITH", "JOHN", Gender.MALE, "LANC", day)


YEAR_ENDS = st.builds(date, st.integers(1940, 2005), st.just(12), st.integers(20, 31))
DAY_SHIFTS = st.one_of(st.integers(-10, 10), st.sampled_from([-366, -365, 365, 366, 3652]))


@settings(max_examples=400)
@given(st.one_of(YEAR_ENDS, st.dates(date(1940, 1, 1), date(2005, 12, 31))), DAY_SHIFTS)
def test_scorer_date_levels_follow_the_rules_in_order(born: date, shift: int) -> None:
    other = born + timedelta(days=shift)
    first = clean_person(Person(Agency.POLICE, "P1", "SMITH", "JOHN", Gender.MALE, "", born))
    second = clean_person(Person(Agency.POLICE, "P2", "SMITH", "JOHN", Gender.MALE, "", other))
    score = PairScorer(TermCounts.of([first, second])).score(first, second)
    assert score.date_of_birth is reference_date_level(first.date_of_birth, second.date_of_birth)


@settings(max_examples=400)
@given(people(), people("P2"), people("P3"))
def test_scorer_levels_and_weight_match_the_plain_rules(
    first: CleanPerson, second: CleanPerson, third: CleanPerson
) -> None:
    counts = TermCounts.of([first, second, third])
    score = PairScorer(counts).score(first, second)
    assert (score.surname, score.forename) == name_levels(first, second)
    assert score.date_of_birth is reference_date_level(first.date_of_birth, second.date_of_birth)
    if score.surname not in (NameLevel.SWAPPED, NameLevel.SWAPPED_NEAR):
        assert abs(score.weight - reference_weight(first, second, counts)) <= TOLERANCE


@given(st.lists(people(), min_size=2, max_size=6))
def test_a_scorer_reused_across_pairs_scores_each_like_a_fresh_one(
    population: list[CleanPerson],
) -> None:
    counts = TermCounts.of(population)
    shared = PairScorer(counts)
    for first, second in combinations(population, 2):
        assert shared.score(first, second) == score_pair(first, second, counts)


def _nested_window(members: list[int]) -> set[tuple[int, int]]:
    """Each member with the `NEIGHBOURHOOD` members after it, by a double loop."""
    return {
        (members[i], members[j])
        for i in range(len(members))
        for j in range(i + 1, min(i + 1 + NEIGHBOURHOOD, len(members)))
    }


@given(st.integers(2, MAX_BLOCK_SIZE * 3))
def test_block_pairs_are_all_pairs_or_the_neighbourhood_once_each(size: int) -> None:
    members = list(range(0, size * 3, 3))
    pairs = list(block_pairs(members))
    assert len(pairs) == len(set(pairs))
    if size <= MAX_BLOCK_SIZE:
        assert set(pairs) == set(combinations(members, 2))
    else:
        assert set(pairs) == _nested_window(members)


@settings(max_examples=50)
@given(st.lists(persons(), min_size=2, max_size=30))
def test_candidate_pairs_are_every_blocked_pair_once(population: list[Person]) -> None:
    unique = [replace(person, person_id=f"P{n}") for n, person in enumerate(population)]
    ordered = sorted(map(clean_person, unique), key=sort_key)
    blocks: dict[str, list[int]] = defaultdict(list)
    for position, person in enumerate(ordered):
        for key in blocking_keys(person):
            blocks[key].append(position)
    expected = {pair for members in blocks.values() for pair in combinations(members, 2)}
    assert candidate_pairs(ordered) == expected


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collection_is_restored_after_a_match(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        with paused_garbage_collection():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()


def test_garbage_collection_is_restored_when_matching_fails() -> None:
    with pytest.raises(RuntimeError), paused_garbage_collection():
        raise RuntimeError
    assert gc.isenabled()


def _filler(number: int) -> Person:
    """A record with a name of its own, making the population's other names rarer."""
    letters = "".join(chr(ord("A") + int(digit)) for digit in f"{number:04d}")
    return Person(Agency.PROBATION, f"F{number}", f"QX{letters}", f"ZY{letters}", Gender.MALE, "")


def _plain_pair_condition(first: CleanPerson, second: CleanPerson) -> bool:
    """Dates missing or not plainly apart, or an identifier shared (the rule, spelt out)."""
    one, two = first.date_of_birth, second.date_of_birth
    if one is None or two is None:
        return True
    if one.year == two.year or (one.month, one.day) == (two.month, two.day):
        return True
    if abs((one - two).days) <= DATE_OF_BIRTH_NEAR_DAYS:
        return True
    return any(
        mine is not None and mine == theirs
        for mine, theirs in (
            (first.pnc, second.pnc),
            (first.cro, second.cro),
            (first.noms, second.noms),
        )
    )


# Identifiers mostly missing, so the date rules decide most pairs.
SPARSE_IDS = st.sampled_from([None] * 6 + ["A", "B"])


BLOCK_RECORDS = st.tuples(DATES, SPARSE_IDS, SPARSE_IDS, SPARSE_IDS)


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        st.lists(BLOCK_RECORDS, min_size=2, max_size=30),
        st.lists(BLOCK_RECORDS, min_size=MAX_BLOCK_SIZE + 1, max_size=MAX_BLOCK_SIZE * 2),
    )
)
def test_pairs_that_may_score_are_the_block_pairs_with_close_dates_or_a_shared_identifier(
    records: list[tuple[date | None, str | None, str | None, str | None]],
) -> None:
    block = sorted(
        (
            clean_person(
                Person(
                    Agency.POLICE, f"P{n}", "SMITH", "JOHN", Gender.MALE, "", born, pnc, cro, noms
                )
            )
            for n, (born, pnc, cro, noms) in enumerate(records)
        ),
        key=sort_key,
    )
    members = list(range(len(block)))
    expected = {
        (one, two)
        for one, two in block_pairs(members)
        if _plain_pair_condition(block[one], block[two])
    }
    found = pairs_that_may_score(members, block)
    assert len(found) == len(set(found))
    assert set(found) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(persons(), min_size=2, max_size=30), st.sampled_from([0, 40, 400]))
def test_leaving_out_far_dated_name_pairs_changes_no_verdict(
    population: list[Person], fillers: int
) -> None:
    unique = [replace(person, person_id=f"P{n}") for n, person in enumerate(population)]
    everyone = unique + [_filler(number) for number in range(fillers)]
    ordered = sorted(map(clean_person, everyone), key=sort_key)
    every_blocked_pair = _judge(
        ordered, candidate_pairs(ordered), PairScorer(TermCounts.of(ordered))
    )
    assert match_population(everyone) == every_blocked_pair


def test_a_rare_name_still_links_across_far_apart_dates_of_birth() -> None:
    """The pruning never hides a pair whose names alone could carry it to review."""
    rare = [
        Person(Agency.POLICE, f"P{n}", "QUIXOTE", "ZEBEDEE", Gender.MALE, "LANC", born)
        for n, born in enumerate([date(1960, 1, 1), date(1990, 6, 15)])
    ]
    result = match_population(rare + [_filler(number) for number in range(2_000)])
    found: tuple[Link | ReviewPair, ...] = (*result.links, *result.reviews)
    pairs = {(pair.a.person_id, pair.b.person_id) for pair in found}
    assert ("P0", "P1") in pairs
