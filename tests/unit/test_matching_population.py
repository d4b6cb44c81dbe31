"""Population tests for the matcher: examples, noisy fixtures, order independence."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.core.identifiers import (
    InvalidIdentifier,
    canonical_cro,
    canonical_pnc,
    check_letter,
    is_junk_identifier,
)
from sync.core.matching import (
    DuplicateRecordError,
    MatchedBy,
    MatchIndex,
    MatchResult,
    match_population,
)
from sync.core.matching.blocking import MAX_BLOCK_SIZE, NEIGHBOURHOOD, block_pairs
from sync.core.records import Agency, Gender, Person, RecordRef

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "examples"
EXAMPLES_TODAY = date(2026, 11, 28)
SURNAMES = (
    ["SMITH"] * 12
    + ["JONES"] * 6
    + ["TAYLOR"] * 4
    + [
        "HARGREAVES",
        "OKONKWO",
        "BRADSHAW",
        "PATEL",
        "KHAN",
        "MURPHY",
        "O'NEILL",
        "WALKER-HAY",
        "THOMPSON",
        "FITZGERALD",
        "NOWAK",
        "ACHTERBERG",
        "LINDQVIST",
        "MACKENZIE",
        "GREENHALGH",
        "PEMBERTON",
        "ASHWORTH",
        "KOWALCZYK",
        "DRISCOLL",
        "ABERNATHY",
        "OYELARAN",
        "ST JOHN",
    ]
)
FORENAMES = (
    ["JOHN"] * 8
    + ["DAVID"] * 4
    + [
        "WILLIAM",
        "ROBERT",
        "JAMES",
        "ANTHONY",
        "MICHAEL",
        "CHRISTOPHER",
        "DESMOND",
        "TARIQ",
        "WOJCIECH",
        "CALLUM",
        "GARETH",
        "NIGEL",
        "OLUWASEUN",
        "RAJESH",
        "SEAMUS",
        "LEIGHTON",
        "BARTHOLOMEW",
        "EUGENE",
        "FERGUS",
        "HORACE",
    ]
)
NICKNAME_OF = {
    "WILLIAM": "BILL",
    "ROBERT": "BOB",
    "JAMES": "JIM",
    "ANTHONY": "TONY",
    "MICHAEL": "MIKE",
    "CHRISTOPHER": "CHRIS",
    "JOHN": "JACK",
    "DAVID": "DAVE",
}


def _example_identifier(raw: str | None, parse: object) -> str | None:
    if raw is None:
        return None
    try:
        value = parse(raw)  # type: ignore[operator]
    except InvalidIdentifier:
        return None
    return None if is_junk_identifier(value) else str(value)


def example_persons() -> list[Person]:
    """The person lines of the conformance examples, identifiers canonical."""
    persons = []
    for feed in ("police", "probation"):
        for line in (EXAMPLES / f"{feed}.jsonl").read_text().splitlines():
            row = json.loads(line)
            if row["type"] != "person":
                continue
            born = row["date_of_birth"]
            persons.append(
                Person(
                    Agency(row["agency"]),
                    row["id"],
                    row["surname"],
                    row["forenames"],
                    Gender(row["gender"]),
                    row["area"],
                    date.fromisoformat(born) if born else None,
                    _example_identifier(row["pnc"], lambda raw: canonical_pnc(raw, EXAMPLES_TODAY)),
                    _example_identifier(row.get("cro"), canonical_cro),
                )
            )
    return persons


def _pair(one: str, two: str) -> tuple[str, str]:
    return (one, two)


def test_examples_link_exactly_the_expected_pairs() -> None:
    result = match_population(example_persons())
    linked = {_pair(link.a.person_id, link.b.person_id): link.matched_by for link in result.links}
    expected = {(f"{letter}-1", f"{letter}000001"): MatchedBy.PNC for letter in "FRTGSDC"}
    expected |= {(f"WEX-{n}", f"W90000{n}"): MatchedBy.PNC for n in range(3)}
    expected |= {("D-1", "D000002"): MatchedBy.PNC, ("D000001", "D000002"): MatchedBy.PNC}
    expected |= {("K-1", "K000001"): MatchedBy.CRO}
    assert linked == expected
    assert result.reviews == ()


def test_examples_junk_cro_never_links() -> None:
    persons = {person.person_id: person for person in example_persons()}
    assert persons["J-1"].cro is None
    assert persons["J000001"].cro is None
    result = match_population([persons["J-1"], persons["J000001"]])
    assert result.links == ()


def test_examples_padded_and_short_cro_forms_link() -> None:
    persons = {person.person_id: person for person in example_persons()}
    assert persons["K-1"].cro == persons["K000001"].cro
    short = canonical_cro("SF83/50058Z")
    records = [replace(persons["K-1"], cro=short), replace(persons["K000001"], cro=short)]
    (link,) = match_population(records).links
    assert link.matched_by == MatchedBy.CRO


def test_duplicate_reference_is_refused_without_values() -> None:
    person = example_persons()[0]
    with pytest.raises(DuplicateRecordError) as caught:
        match_population([person, person])
    leaks = person.surname in str(caught.value)
    assert not leaks


# --- a noisy population with known truth -------------------------------------------


@dataclass(frozen=True)
class Noisy:
    """A noisy population and the pairs of records that are the same person."""

    persons: list[Person]
    truth: frozenset[tuple[RecordRef, RecordRef]]


def _pnc(rng: random.Random) -> str:
    year = rng.randint(1975, 2020)
    serial = rng.randint(1, 9_999_999)
    return f"{year:04d}/{serial:07d}{check_letter(int(f'{year % 100:02d}{serial:07d}'))}"


def _cro(rng: random.Random) -> str:
    serial, year = rng.randint(1, 999_999), rng.randint(0, 99)
    return f"{serial:06d}/{year:02d}{check_letter(int(f'{year:02d}{serial:06d}'))}"


def _typo(word: str, rng: random.Random) -> str:
    position = rng.randrange(1, len(word))
    letter = rng.choice("ABCDEFGHIJKLMNOPRSTUVWY")
    return word[:position] + letter + word[position + 1 :]


def _dob_error(born: date, rng: random.Random) -> date:
    kind = rng.randrange(3)
    if kind == 0 and born.day <= 12 and born.day != born.month:
        return born.replace(day=born.month, month=born.day)
    if kind == 1:
        return born + timedelta(days=rng.choice([-3, -1, 2, 5]))
    return born.replace(year=born.year + rng.choice([-1, 1]))


def _noisy_copy(person: Person, rng: random.Random, agency: Agency, person_id: str) -> Person:
    surname, forename, born = person.surname, person.forenames, person.date_of_birth
    pnc, cro = person.pnc, person.cro
    roll = rng.random()
    if roll < 0.06:
        surname = _typo(surname, rng)
    elif roll < 0.12:
        forename = NICKNAME_OF.get(forename, _typo(forename, rng))
    elif roll < 0.15:
        surname, forename = forename, surname
    elif roll < 0.17:
        surname = "MIG_ERROR_" + surname.lower()
    if rng.random() < 0.06 and born is not None:
        born = _dob_error(born, rng)
    elif rng.random() < 0.01:
        born = date(1900, 1, 1)
    if rng.random() < 0.35:
        pnc = None
    if rng.random() < 0.5:
        cro = None
    return Person(agency, person_id, surname, forename, Gender.MALE, "AREA", born, pnc, cro)


def noisy_population(subjects: int, seed: int) -> Noisy:
    """Subjects held by police and probation with realistic noise, twins included."""
    rng = random.Random(seed)
    persons: list[Person] = []
    truth: set[tuple[RecordRef, RecordRef]] = set()
    born_base = date(1950, 1, 1)
    for number in range(subjects):
        born = born_base + timedelta(days=rng.randrange(20_000))
        surname, forename = rng.choice(SURNAMES), rng.choice(FORENAMES)
        if number % 50 == 1:  # the twin of the previous subject
            previous = persons[-1]
            surname, born = previous.surname, previous.date_of_birth or born
            forename = rng.choice([name for name in FORENAMES if name != previous.forenames])
        master = Person(
            Agency.POLICE,
            f"P{number}",
            surname,
            forename,
            Gender.MALE,
            "AREA",
            born,
            _pnc(rng) if rng.random() < 0.8 else None,
            _cro(rng) if rng.random() < 0.6 else None,
        )
        persons.append(master)
        if rng.random() < 0.85:
            copy = _noisy_copy(master, rng, Agency.PROBATION, f"X{number:06d}")
            persons.append(copy)
            truth.add((master.ref, copy.ref))
    return Noisy(persons, frozenset(truth))


def test_noisy_population_precision_recall_and_review_share() -> None:
    noisy = noisy_population(subjects=1500, seed=7)
    result = match_population(noisy.persons)
    linked = {(link.a, link.b) for link in result.links}
    true_links = len(linked & noisy.truth)
    precision = true_links / len(linked)
    recall = true_links / len(noisy.truth)
    reviewed = {ref for review in result.reviews for ref in (review.a, review.b)}
    review_share = len(reviewed) / len(noisy.persons)
    assert precision == 1.0
    assert recall >= 0.94  # a deliberately crowded vocabulary: see docs/matching.md
    assert review_share <= 0.04


def test_common_names_in_a_crowd_go_to_review_only_when_born_the_same_day() -> None:
    """400 John Smiths, no identifiers: the name weighs nothing, so no pair links,
    and exactly the pairs born on the same day (a few, by chance) go to review."""
    rng = random.Random(3)
    base = date(1960, 1, 1)
    crowd = [
        Person(
            Agency.POLICE,
            f"P{n}",
            "Smith",
            "John",
            Gender.MALE,
            "A",
            base + timedelta(days=rng.randrange(15_000)),
        )
        for n in range(400)
    ]
    result = match_population(crowd)
    born_same_day = {
        (min(one.ref, other.ref), max(one.ref, other.ref))
        for one, other in itertools.combinations(crowd, 2)
        if one.date_of_birth == other.date_of_birth
    }
    assert result.links == ()
    assert born_same_day  # the seed gives some, so the review side is tested too
    assert {(review.a, review.b) for review in result.reviews} == born_same_day


# --- determinism, order independence and the index ----------------------------------

SMALL = noisy_population(subjects=120, seed=11).persons


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_result_is_independent_of_input_order(rng: random.Random) -> None:
    shuffled = list(SMALL)
    rng.shuffle(shuffled)
    assert match_population(shuffled) == match_population(SMALL)


def test_result_is_sorted_and_pairs_ordered() -> None:
    result = match_population(SMALL)
    assert list(result.links) == sorted(result.links)
    assert list(result.reviews) == sorted(result.reviews)
    assert all(link.a < link.b for link in result.links)
    assert all(review.a < review.b for review in result.reviews)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SMALL) - 1))
def test_index_match_agrees_with_population(position: int) -> None:
    probe = SMALL[position]
    others = SMALL[:position] + SMALL[position + 1 :]
    index = MatchIndex.build(others)
    single = index.match(probe)
    whole = match_population(SMALL)
    assert single == _only(whole, probe.ref)


def test_index_add_then_match_and_rematch_of_indexed_record() -> None:
    index = MatchIndex.build(SMALL[:-1])
    before = index.match(SMALL[-1])
    index.add(SMALL[-1])
    assert len(index) == len(SMALL)
    assert index.match(SMALL[-1]) == before
    assert len(index) == len(SMALL)


def test_large_blocks_are_compared_as_a_neighbourhood() -> None:
    members = list(range(MAX_BLOCK_SIZE * 10))
    pairs = list(block_pairs(members))
    assert len(pairs) <= len(members) * NEIGHBOURHOOD
    assert all(0 < second - first <= NEIGHBOURHOOD for first, second in pairs)
    assert (
        len(list(block_pairs(list(range(MAX_BLOCK_SIZE)))))
        == MAX_BLOCK_SIZE * (MAX_BLOCK_SIZE - 1) // 2
    )


def test_index_finds_the_nearest_in_a_crowd_of_common_names() -> None:
    base = date(1960, 1, 1)
    crowd = [
        Person(
            Agency.POLICE, f"P{n}", "Smith", "John", Gender.MALE, "A", base + timedelta(days=7 * n)
        )
        for n in range(1000)
    ]
    probe = replace(crowd[500], agency=Agency.PROBATION, person_id="X000001", pnc=None)
    crowd[500] = replace(crowd[500], pnc="2002/0073319Z")
    population = [*crowd, probe]
    index = MatchIndex.build(crowd)
    assert index.match(probe) == _only(match_population(population), probe.ref)


def _only(result: MatchResult, ref: RecordRef) -> MatchResult:
    return MatchResult(
        tuple(link for link in result.links if ref in (link.a, link.b)),
        tuple(review for review in result.reviews if ref in (review.a, review.b)),
    )
