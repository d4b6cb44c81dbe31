"""Unit tests for the matcher's extra evidence: areas, gender, NOMS, near swaps, typos.

Also the blocking rules that let those pairs meet at all.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.core.matching import JOIN_THRESHOLD, MatchedBy, match_population
from sync.core.matching.areas import PROBATION_REGIONS, REGION_OF_FORCE, region_of
from sync.core.matching.blocking import blocking_keys
from sync.core.matching.cleaning import CleanPerson, clean_person
from sync.core.matching.comparisons import (
    AttributeLevel,
    IdentifierLevel,
    NameLevel,
    compare_forenames,
    compare_surnames,
    near_names,
    one_edit_apart,
)
from sync.core.matching.decisions import ReviewReason, decide
from sync.core.matching.frequencies import TermCounts
from sync.core.matching.scoring import name_levels, score_pair
from sync.core.records import Agency, Gender, Person
from tests.matching_crowds import crowd_of_men, pair_among_crowd

BORN = date(1980, 5, 17)
NOMS = "A1234BC"
OTHER_NOMS = "B9876CD"
PNC = "2002/0073319Z"

LETTERS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=10)


def record(
    agency: Agency = Agency.POLICE,
    person_id: str = "P1",
    surname: str = "Hargreaves",
    forenames: str = "Desmond",
    *,
    born: date | None = BORN,
    gender: Gender = Gender.MALE,
    area: str = "LANC",
    pnc: str | None = None,
    noms: str | None = None,
) -> Person:
    """One person record."""
    return Person(agency, person_id, surname, forenames, gender, area, born, pnc, None, noms)


def clean(**fields: object) -> CleanPerson:
    """One cleaned person record."""
    return clean_person(record(**fields))  # type: ignore[arg-type]


def weight_of(first: CleanPerson, second: CleanPerson) -> float:
    """The pair's weight against a population of just the two."""
    return score_pair(first, second, TermCounts.of([first, second])).weight


def test_a_force_and_its_region_agree() -> None:
    police = clean(area="LANC")
    probation = clean(agency=Agency.PROBATION, person_id="X1", area="NW")
    assert score_pair(police, probation, TermCounts.of([police])).area is AttributeLevel.AGREE


def test_every_force_lies_in_a_probation_region() -> None:
    assert set(REGION_OF_FORCE.values()) <= PROBATION_REGIONS
    assert all(region_of(region) == region for region in PROBATION_REGIONS)


def test_an_unknown_area_is_no_evidence() -> None:
    assert region_of("ATLANTIS") is None
    police = clean(area="ATLANTIS")
    probation = clean(agency=Agency.PROBATION, person_id="X1", area="NW")
    assert score_pair(police, probation, TermCounts.of([police])).area is AttributeLevel.MISSING


def test_area_agreement_weighs_for_and_disagreement_against() -> None:
    base = clean()
    same = clean(person_id="P2", area="MERS")
    moved = clean(person_id="P2", area="MET")
    unknown = clean(person_id="P2", area="")
    assert weight_of(base, same) > weight_of(base, unknown) > weight_of(base, moved)


def test_unknown_gender_is_no_evidence_and_a_conflict_weighs_against() -> None:
    base = clean()
    unknown = clean(person_id="P2", gender=Gender.UNKNOWN)
    other = clean(person_id="P2", gender=Gender.FEMALE)
    assert score_pair(base, unknown, TermCounts.of([base])).gender is AttributeLevel.MISSING
    assert weight_of(base, unknown) > weight_of(base, other)


def test_a_shared_noms_number_links_probation_records() -> None:
    first = record(Agency.PROBATION, "X1", noms=NOMS, born=None)
    second = record(Agency.PROBATION, "X2", "Okonkwo", "Chidi", noms=NOMS, born=None)
    (link,) = match_population([first, second]).links
    assert link.matched_by == MatchedBy.NOMS


def test_a_noms_conflict_sends_a_pnc_link_to_review() -> None:
    first = record(Agency.PROBATION, "X1", pnc=PNC, noms=NOMS)
    second = record(Agency.PROBATION, "X2", pnc=PNC, noms=OTHER_NOMS)
    result = match_population([first, second])
    assert result.links == ()
    assert result.reviews[0].reason.startswith(ReviewReason.IDENTIFIER_CONFLICT)


def test_swapped_names_with_a_nickname_are_near_swapped_and_linked() -> None:
    police = record(Agency.POLICE, "P1", "Davis", "Samuel")
    probation = record(Agency.PROBATION, "X1", "Sam", "Davis", area="NW")
    first, second = clean_person(police), clean_person(probation)
    assert name_levels(first, second) == (NameLevel.SWAPPED_NEAR, NameLevel.SWAPPED_NEAR)
    (link,) = match_population([police, probation]).links
    assert link.matched_by == MatchedBy.PROBABILISTIC
    assert link.weight is not None
    assert link.weight >= JOIN_THRESHOLD


def test_swapped_names_with_a_typo_meet_in_a_block() -> None:
    first = clean(surname="William", forenames="Bronw")
    second = clean(person_id="P2", surname="Brown", forenames="William")
    assert set(blocking_keys(first)) & set(blocking_keys(second))
    assert name_levels(first, second)[0] is NameLevel.SWAPPED_NEAR


def test_unrelated_names_are_not_near_swapped() -> None:
    first = clean(surname="Hargreaves", forenames="Desmond")
    second = clean(person_id="P2", surname="Okonkwo", forenames="Hargreaves")
    assert NameLevel.SWAPPED_NEAR not in name_levels(first, second)


def test_a_one_letter_surname_typo_is_fuzzy_not_a_disagreement() -> None:
    assert compare_surnames(clean(surname="Hall"), clean(surname="Hal")) is NameLevel.FUZZY_MID
    assert compare_surnames(clean(surname="Lee"), clean(surname="Ele")) is NameLevel.FUZZY_MID
    assert compare_surnames(clean(surname="Pryce"), clean(surname="Prvce")) is NameLevel.FUZZY_MID


@pytest.mark.parametrize(
    ("one", "two"), [("Hall", "Hill"), ("Shaw", "Shah"), ("Ward", "Ware"), ("Cox", "Coe")]
)
def test_short_surnames_one_letter_changed_are_two_surnames(one: str, two: str) -> None:
    """Four letters or fewer, one changed in place: another family's name as often as a slip."""
    assert compare_surnames(clean(surname=one), clean(surname=two)) is NameLevel.DISAGREE


@pytest.mark.parametrize(
    ("one", "two"),
    [("Al-Hassan", "Al-Rashid"), ("De Souza", "De Silva"), ("Van der Berg", "Van Dijk")],
)
def test_a_shared_particle_is_no_shared_surname_part(one: str, two: str) -> None:
    assert compare_surnames(clean(surname=one), clean(surname=two)) is NameLevel.DISAGREE


@pytest.mark.parametrize(("one", "two"), [("Al-Hassan", "Hassan"), ("De Souza", "Souza-Lima")])
def test_a_family_name_beside_a_particle_is_still_a_shared_part(one: str, two: str) -> None:
    assert compare_surnames(clean(surname=one), clean(surname=two)) is NameLevel.OTHER_PART


def test_a_typo_in_a_name_and_a_wrong_day_still_meet_in_a_block() -> None:
    first = clean(surname="Knight", forenames="Keith", born=date(1994, 4, 12))
    second = clean(person_id="P2", surname="Knight", forenames="Koeith", born=date(1994, 4, 17))
    assert set(blocking_keys(first)) & set(blocking_keys(second))


@pytest.mark.parametrize(
    ("forenames", "born"),
    [("Mike", date(1994, 4, 13)), ("Michael", date(1994, 4, 20)), ("Mick", date(1994, 4, 2))],
)
def test_a_nickname_and_a_wrong_day_together_still_meet_in_a_block(
    forenames: str, born: date
) -> None:
    """The forename's Soundex differs (`MIKE` M200, `MICHAEL` M240) and so does the date:
    the surname and the month of birth still bring the two together."""
    first = clean(surname="Holland", forenames="Michael", born=date(1994, 4, 12))
    second = clean(person_id="P2", surname="Holland", forenames=forenames, born=born)
    assert set(blocking_keys(first)) & set(blocking_keys(second))


def test_twins_with_different_forenames_are_still_never_linked() -> None:
    first = record(Agency.POLICE, "P1", "Hargreaves", "Dean")
    second = record(Agency.POLICE, "P2", "Hargreaves", "Sean")
    result = match_population([first, second])
    assert result.links == ()
    score = score_pair(clean_person(first), clean_person(second), TermCounts())
    verdict = decide(score)
    assert verdict is None or verdict.matched_by is None


@given(LETTERS)
def test_a_name_is_near_itself_and_one_edit_from_itself(name: str) -> None:
    assert near_names(name, name)
    assert one_edit_apart(name, name)


@given(LETTERS, st.integers(min_value=0, max_value=9), st.sampled_from("ABCDEFGHIJ"))
def test_one_changed_letter_is_one_edit(name: str, position: int, letter: str) -> None:
    index = position % len(name)
    changed = name[:index] + letter + name[index + 1 :]
    assert one_edit_apart(name, changed)
    assert near_names(name, changed)


@given(LETTERS, LETTERS)
def test_near_names_is_symmetric(first: str, second: str) -> None:
    assert near_names(first, second) == near_names(second, first)


@given(st.sampled_from(sorted(REGION_OF_FORCE)))
def test_any_force_agrees_with_its_own_region_only(force: str) -> None:
    region = REGION_OF_FORCE[force]
    for other in PROBATION_REGIONS:
        expected = AttributeLevel.AGREE if other == region else AttributeLevel.DISAGREE
        police = clean(area=force)
        probation = clean(agency=Agency.PROBATION, person_id="X1", area=other)
        assert score_pair(police, probation, TermCounts.of([police])).area is expected


def test_identifier_levels_cover_noms() -> None:
    first, second = clean(noms=NOMS), clean(person_id="P2", noms=OTHER_NOMS)
    assert score_pair(first, second, TermCounts.of([first])).noms is IdentifierLevel.CONFLICT


def test_two_initials_agreeing_weigh_no_more_than_initials_do() -> None:
    """`J` and `J` agree on a letter many forenames begin with, however rare `J` alone is."""
    crowd = [clean_person(person) for person in crowd_of_men(2000)]
    initials = [clean(person_id=f"I{n}", forenames="J") for n in range(2)]
    unknown = [clean(person_id=f"U{n}", forenames="") for n in range(2)]
    counts = TermCounts.of([*crowd, *initials, *unknown])
    by_initials = score_pair(initials[0], initials[1], counts).weight
    without_forename = score_pair(unknown[0], unknown[1], counts).weight
    assert by_initials - without_forename == pytest.approx(math.log2(0.82 / 0.04))


@pytest.mark.parametrize("placeholder", ["Unknown", "N/K", "not known", "NONE"])
def test_a_placeholder_name_is_an_unknown_name(placeholder: str) -> None:
    assert clean(forenames=placeholder).forename == ""
    assert clean(surname=placeholder).surname == ""


def test_records_with_no_surname_to_compare_are_reviewed_not_linked() -> None:
    linked, reviews = pair_among_crowd(
        record(person_id="P1", surname="Unknown", forenames="Zebediah"),
        record(Agency.PROBATION, "X000001", "Unknown", "Zebediah", area="NW"),
        size=2000,
    )
    assert not linked
    (review,) = reviews
    assert review.reason.startswith(ReviewReason.NO_SURNAME)


@pytest.mark.parametrize(
    ("one", "two"),
    [
        ("Muhammad", "Mohammed"),
        ("Sean", "Shaun"),
        ("Yusuf", "Youssef"),
        ("Pawel", "Paul"),
        ("Piotr", "Peter"),
        ("Graeme", "Graham"),
    ],
)
def test_spellings_of_one_forename_agree_as_nicknames_do(one: str, two: str) -> None:
    """Spellings too far apart for the fuzzy levels would read as two people's names."""
    assert compare_forenames(clean(forenames=one), clean(forenames=two)) is NameLevel.NICKNAME
