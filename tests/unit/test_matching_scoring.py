"""Unit tests for comparison levels, term frequencies and pair weights."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest

from sync.core.matching.cleaning import CleanPerson, clean_person
from sync.core.matching.comparisons import (
    DateLevel,
    IdentifierLevel,
    NameLevel,
    compare_forenames,
    compare_surnames,
)
from sync.core.matching.frequencies import TermCounts
from sync.core.matching.scoring import PairScore, name_levels, score_pair
from sync.core.records import Agency, Gender, Person

BORN = date(1980, 5, 17)
PNC = "2002/0073319Z"
OTHER_PNC = "1979/0163001B"
CRO = "065656/91H"
OTHER_CRO = "SF83/50058Z"


def clean(
    surname: str = "Hargreaves",
    forenames: str = "Desmond",
    born: date | None = BORN,
    pnc: str | None = None,
    cro: str | None = None,
    person_id: str = "P1",
) -> CleanPerson:
    """A cleaned police record."""
    person = Person(
        Agency.POLICE, person_id, surname, forenames, Gender.MALE, "LANC", born, pnc, cro
    )
    return clean_person(person)


@pytest.mark.parametrize(
    ("one", "two", "level"),
    [
        ("Hargreaves", "HARGREAVES", NameLevel.EXACT),
        ("O'Brien", "OBRIEN", NameLevel.EXACT),
        ("Thompson", "Thomson", NameLevel.FUZZY_HIGH),
        ("Smith-Jones", "Jones", NameLevel.OTHER_PART),
        ("Smith", "Smyth", NameLevel.FUZZY_MID),
        ("Hargreaves", "Okonkwo", NameLevel.DISAGREE),
        ("EXAMPLE1", "EXAMPLE2", NameLevel.DISAGREE),
        ("", "Smith", NameLevel.MISSING),
    ],
)
def test_surname_levels(one: str, two: str, level: NameLevel) -> None:
    assert compare_surnames(clean(surname=one), clean(surname=two)) is level


@pytest.mark.parametrize(
    ("one", "two", "level"),
    [
        ("Desmond", "DESMOND", NameLevel.EXACT),
        ("Bill", "William", NameLevel.NICKNAME),
        ("Alan", "Allan", NameLevel.FUZZY_HIGH),
        ("Paul", "John Paul", NameLevel.OTHER_PART),
        ("Mark", "Marc", NameLevel.FUZZY_MID),
        ("D", "Desmond", NameLevel.INITIAL),
        ("Desmond", "Mohammed", NameLevel.DISAGREE),
        ("M000000", "M000001", NameLevel.DISAGREE),
        ("K-1", "K000001", NameLevel.DISAGREE),
        ("", "Desmond", NameLevel.MISSING),
    ],
)
def test_forename_levels(one: str, two: str, level: NameLevel) -> None:
    assert compare_forenames(clean(forenames=one), clean(forenames=two)) is level


def test_swapped_names_level() -> None:
    one = clean(surname="Desmond", forenames="Hargreaves")
    assert name_levels(one, clean()) == (NameLevel.SWAPPED, NameLevel.SWAPPED)


@pytest.mark.parametrize(
    ("other", "level"),
    [
        (date(1980, 5, 17), DateLevel.EXACT),
        (date(1980, 3, 4), DateLevel.DAY_MONTH_SWAPPED),
        (date(1980, 5, 18), DateLevel.ONE_DIGIT),
        (date(1981, 5, 17), DateLevel.ONE_DIGIT),
        (date(1980, 5, 21), DateLevel.NEAR),
        (date(1982, 5, 17), DateLevel.ONE_DIGIT),
        (date(1975, 1, 30), DateLevel.DISAGREE),
        (None, DateLevel.MISSING),
    ],
)
def test_date_of_birth_levels(other: date | None, level: DateLevel) -> None:
    base = date(1980, 4, 3) if level is DateLevel.DAY_MONTH_SWAPPED else BORN
    assert _levels(clean(born=base), clean(born=other)).date_of_birth is level


def test_near_but_not_one_digit() -> None:
    near = _levels(clean(born=date(1980, 5, 29)), clean(born=date(1980, 6, 2)))
    assert near.date_of_birth is DateLevel.NEAR


def test_placeholder_date_of_birth_is_missing_evidence() -> None:
    one = clean(born=date(1970, 1, 1))
    two = clean(born=date(1970, 1, 1))
    assert score_pair(one, two, TermCounts.of([one, two])).date_of_birth is DateLevel.MISSING


@pytest.mark.parametrize(
    ("one", "two", "level"),
    [
        (PNC, PNC, IdentifierLevel.AGREE),
        (PNC, OTHER_PNC, IdentifierLevel.CONFLICT),
        (PNC, None, IdentifierLevel.MISSING),
        (None, None, IdentifierLevel.MISSING),
    ],
)
def test_identifier_levels(one: str | None, two: str | None, level: IdentifierLevel) -> None:
    assert _levels(clean(pnc=one), clean(pnc=two)).pnc is level
    cro = {PNC: CRO, OTHER_PNC: OTHER_CRO}
    first, second = (cro.get(pnc) if pnc else None for pnc in (one, two))
    assert _levels(clean(cro=first), clean(cro=second)).cro is level


def _levels(one: CleanPerson, two: CleanPerson) -> PairScore:
    """How the matcher scores the pair (the levels and their weight)."""
    return score_pair(one, two, TermCounts.of([one, two]))


def _weight(one: CleanPerson, two: CleanPerson, population: list[CleanPerson]) -> float:
    return score_pair(one, two, TermCounts.of(population)).weight


def test_each_better_level_weighs_more() -> None:
    base = clean()
    population = [base]
    exact = _weight(base, clean(), population)
    one_digit = _weight(base, clean(born=date(1980, 5, 18)), population)
    different = _weight(base, clean(born=date(1962, 11, 2)), population)
    unknown = _weight(base, clean(born=None), population)
    assert exact > one_digit > unknown > different


def test_pnc_agreement_is_strong_evidence_for_and_conflict_against() -> None:
    base = clean(pnc=PNC)
    neither = _weight(clean(), clean(), [base])
    agree = _weight(base, clean(pnc=PNC), [base])
    conflict = _weight(base, clean(pnc=OTHER_PNC), [base])
    assert agree > neither + 20
    assert conflict < neither - 8


def test_cro_agreement_is_strong_evidence_for_and_conflict_against() -> None:
    base = clean(cro=CRO)
    neither = _weight(clean(), clean(), [base])
    assert _weight(base, clean(cro=CRO), [base]) > neither + 20
    assert _weight(base, clean(cro=OTHER_CRO), [base]) < neither - 8


def test_common_names_weigh_less_than_rare_ones() -> None:
    smiths = [clean(surname="Smith", forenames="John", person_id=f"S{n}") for n in range(300)]
    rare = [clean(person_id=f"R{n}") for n in range(2)]
    population = smiths + rare
    common_weight = _weight(smiths[0], smiths[1], population)
    rare_weight = _weight(rare[0], rare[1], population)
    assert rare_weight > common_weight + 5


def test_common_dates_of_birth_weigh_less() -> None:
    crowd = [clean(surname=f"Name{n}", person_id=f"C{n}") for n in range(300)]
    loner = clean(born=date(1961, 2, 3), person_id="L")
    population = [*crowd, loner]
    crowded = _weight(crowd[0], replace(crowd[0], ref=loner.ref), population)
    alone = _weight(loner, loner, population)
    assert alone > crowded


def test_score_is_symmetric() -> None:
    one = clean(surname="Desmond", forenames="Hargreaves", pnc=PNC)
    two = clean(born=date(1980, 5, 18), cro=CRO)
    population = [one, two]
    assert score_pair(one, two, TermCounts.of(population)) == score_pair(
        two, one, TermCounts.of(population)
    )


def test_describe_names_levels_not_values() -> None:
    one = clean(pnc=PNC)
    text = score_pair(one, one, TermCounts.of([one])).describe()
    leaked = sum(1 for value in ("HARGREAVES", "DESMOND", PNC, "1980") if value in text)
    assert leaked == 0
    assert "surname=exact" in text


def names_weight(first: CleanPerson, second: CleanPerson, counts: TermCounts) -> float:
    """What the two names add to a pair's weight: its weight less that with no names."""
    unnamed_first, unnamed_second = (
        replace(person, surname="", forename="") for person in (first, second)
    )
    unnamed = score_pair(unnamed_first, unnamed_second, counts)
    return score_pair(first, second, counts).weight - unnamed.weight


def test_swapped_names_weigh_by_the_commoner_orientation() -> None:
    one = clean(surname="John", forenames="Smith", person_id="P1")
    two = clean(surname="Smith", forenames="John", person_id="P2")
    smiths = [clean(surname="Smith", forenames="Albert", person_id=f"S{n}") for n in range(40)]
    johns = [clean(surname="Zed", forenames="John", person_id=f"J{n}") for n in range(40)]
    counts = TermCounts.of([one, two, *smiths, *johns])
    assert score_pair(one, two, counts).surname is NameLevel.SWAPPED
    u = max(
        counts.surname_u("SMITH") * counts.forename_u("JOHN"),
        counts.surname_u("JOHN") * counts.forename_u("SMITH"),
    )
    assert names_weight(one, two, counts) == pytest.approx(math.log2(0.02 / u))


def test_names_swapped_with_a_nickname_weigh_by_the_exact_side() -> None:
    one = clean(surname="Davis", forenames="Sam", person_id="P1")
    two = clean(surname="Samuel", forenames="Davis", person_id="P2")
    counts = TermCounts.of([one, two])
    assert score_pair(one, two, counts).surname is NameLevel.SWAPPED_NEAR
    expected = math.log2(0.02 / (counts.forename_u("DAVIS") * 0.01))
    assert names_weight(one, two, counts) == pytest.approx(expected)


def test_a_code_like_name_is_swapped_only_with_itself() -> None:
    """A name holding digits is near only its exact self, also in a swapped pair."""
    one = clean(surname="Unit7", forenames="Sam", person_id="P1")
    assert name_levels(one, clean(surname="Samuel", forenames="Unit7", person_id="P2")) == (
        NameLevel.SWAPPED_NEAR,
        NameLevel.SWAPPED_NEAR,
    )
    levels = name_levels(one, clean(surname="Sam", forenames="Unit8", person_id="P2"))
    assert NameLevel.SWAPPED_NEAR not in levels
