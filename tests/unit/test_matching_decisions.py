"""Unit tests for the matcher's decisions: identifiers, twins and thresholds."""

from __future__ import annotations

from datetime import date

import pytest

from sync.core.matching import JOIN_THRESHOLD, REVIEW_THRESHOLD, MatchedBy, match_population
from sync.core.matching.comparisons import AttributeLevel, DateLevel, IdentifierLevel, NameLevel
from sync.core.matching.decisions import ReviewReason, Verdict, decide
from sync.core.matching.scoring import PairScore
from sync.core.records import Agency, Gender, Person
from tests.matching_crowds import pair_among_crowd

BORN = date(1980, 5, 17)
PNC = "2002/0073319Z"
OTHER_PNC = "1979/0163001B"
CRO = "065656/91H"
OTHER_CRO = "SF83/50058Z"


def person(
    agency: Agency,
    person_id: str,
    surname: str = "Hargreaves",
    forenames: str = "Desmond",
    born: date | None = BORN,
    pnc: str | None = None,
    cro: str | None = None,
) -> Person:
    """One person record."""
    return Person(agency, person_id, surname, forenames, Gender.MALE, "AREA", born, pnc, cro)


def police(person_id: str = "P1", **fields: object) -> Person:
    """A police record."""
    return person(Agency.POLICE, person_id, **fields)  # type: ignore[arg-type]


def probation(person_id: str = "X000001", **fields: object) -> Person:
    """A probation record."""
    return person(Agency.PROBATION, person_id, **fields)  # type: ignore[arg-type]


def score(
    weight: float,
    surname: NameLevel = NameLevel.EXACT,
    forename: NameLevel = NameLevel.EXACT,
    born: DateLevel = DateLevel.EXACT,
    pnc: IdentifierLevel = IdentifierLevel.MISSING,
    cro: IdentifierLevel = IdentifierLevel.MISSING,
) -> PairScore:
    """A pair score with chosen levels."""
    return PairScore(surname, forename, born, pnc, cro, weight)


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        (JOIN_THRESHOLD, Verdict(MatchedBy.PROBABILISTIC, None)),
        (JOIN_THRESHOLD + 10, Verdict(MatchedBy.PROBABILISTIC, None)),
        (REVIEW_THRESHOLD, Verdict(None, ReviewReason.UNCERTAIN)),
        (JOIN_THRESHOLD - 0.01, Verdict(None, ReviewReason.UNCERTAIN)),
        (REVIEW_THRESHOLD - 0.01, None),
    ],
)
def test_thresholds(weight: float, expected: Verdict | None) -> None:
    assert decide(score(weight, forename=NameLevel.FUZZY_HIGH)) == expected


def test_thresholds_are_ordered() -> None:
    assert REVIEW_THRESHOLD < JOIN_THRESHOLD


def test_twins_are_never_linked_automatically() -> None:
    twins = score(JOIN_THRESHOLD + 10, forename=NameLevel.DISAGREE)
    assert decide(twins) == Verdict(None, ReviewReason.POSSIBLE_TWINS)
    assert decide(score(REVIEW_THRESHOLD - 1, forename=NameLevel.DISAGREE)) is None


@pytest.mark.parametrize(
    ("pnc", "cro", "linked_by"),
    [
        (IdentifierLevel.AGREE, IdentifierLevel.MISSING, MatchedBy.PNC),
        (IdentifierLevel.AGREE, IdentifierLevel.AGREE, MatchedBy.PNC),
        (IdentifierLevel.MISSING, IdentifierLevel.AGREE, MatchedBy.CRO),
    ],
)
def test_identifier_agreement_links_whatever_the_weight(
    pnc: IdentifierLevel, cro: IdentifierLevel, linked_by: MatchedBy
) -> None:
    low = score(0.0, forename=NameLevel.DISAGREE, pnc=pnc, cro=cro)
    assert decide(low) == Verdict(linked_by, None)


@pytest.mark.parametrize(
    ("surname", "born"),
    [
        (NameLevel.DISAGREE, DateLevel.EXACT),
        (NameLevel.EXACT, DateLevel.DISAGREE),
        (NameLevel.FUZZY_MID, DateLevel.DISAGREE),
        (NameLevel.DISAGREE, DateLevel.NEAR),
        (NameLevel.DISAGREE, DateLevel.MISSING),
        (NameLevel.MISSING, DateLevel.DISAGREE),
        (NameLevel.SWAPPED, DateLevel.DISAGREE),
    ],
)
def test_identifier_links_when_only_one_of_surname_and_dob_disagrees(
    surname: NameLevel, born: DateLevel
) -> None:
    pair = score(0.0, surname=surname, born=born, pnc=IdentifierLevel.AGREE)
    assert decide(pair) == Verdict(MatchedBy.PNC, None)


def test_identifier_contradicted_by_surname_and_dob_goes_to_review() -> None:
    pair = score(
        0.0, surname=NameLevel.DISAGREE, born=DateLevel.DISAGREE, cro=IdentifierLevel.AGREE
    )
    assert decide(pair) == Verdict(None, ReviewReason.IDENTIFIER_CONTRADICTED)


def test_identifier_agreement_with_other_identifier_conflict_goes_to_review() -> None:
    pair = score(50.0, pnc=IdentifierLevel.AGREE, cro=IdentifierLevel.CONFLICT)
    assert decide(pair) == Verdict(None, ReviewReason.IDENTIFIER_CONFLICT)


def test_pnc_contradicted_end_to_end_is_reviewed_not_linked() -> None:
    records = [police(pnc=PNC), probation(surname="Okonkwo", born=date(1962, 1, 9), pnc=PNC)]
    result = match_population(records)
    assert result.links == ()
    assert len(result.reviews) == 1
    review = result.reviews[0]
    assert review.reason.startswith(ReviewReason.IDENTIFIER_CONTRADICTED)
    leaks = PNC in review.reason or "OKONKWO" in review.reason.upper()
    assert not leaks


def test_pnc_with_different_forenames_still_links() -> None:
    records = [police(pnc=PNC), probation(forenames="Winston", pnc=PNC)]
    (link,) = match_population(records).links
    assert link.matched_by == MatchedBy.PNC


def test_pnc_conflict_with_same_names_and_dob_is_not_linked_in_a_crowd() -> None:
    crowd = [
        police(
            f"C{n}",
            surname="Smith",
            forenames="John",
            born=date(1950 + n % 40, 1 + n % 12, 1 + n % 28),
        )
        for n in range(200)
    ]
    pair = [
        police(surname="Smith", forenames="John", pnc=PNC),
        probation(surname="Smith", forenames="John", pnc=OTHER_PNC),
    ]
    result = match_population([*crowd, *pair])
    refs = {pair[0].ref, pair[1].ref}
    assert not any({link.a, link.b} == refs for link in result.links)


@pytest.mark.parametrize("conflict", ["pnc", "cro"])
@pytest.mark.parametrize("weight", [REVIEW_THRESHOLD, JOIN_THRESHOLD, JOIN_THRESHOLD + 40])
def test_conflicting_identifiers_are_never_linked_on_weight(conflict: str, weight: float) -> None:
    pair = score(weight, **{conflict: IdentifierLevel.CONFLICT})  # type: ignore[arg-type]
    assert decide(pair) == Verdict(None, ReviewReason.IDENTIFIERS_DIFFER)
    assert decide(score(REVIEW_THRESHOLD - 0.01, **{conflict: IdentifierLevel.CONFLICT})) is None  # type: ignore[arg-type]


def test_two_people_with_the_same_details_and_different_pncs_are_reviewed_not_linked() -> None:
    records = [police(pnc=PNC), probation(pnc=OTHER_PNC)]
    result = match_population(records)
    assert result.links == ()
    (review,) = result.reviews
    assert review.reason.startswith(ReviewReason.IDENTIFIERS_DIFFER)


def test_twins_end_to_end_are_not_linked() -> None:
    records = [police(forenames="Desmond"), probation(forenames="Mohammed")]
    assert match_population(records).links == ()


def test_nickname_and_swapped_names_link_end_to_end() -> None:
    records = [
        police("P1", surname="Hargreaves", forenames="William"),
        probation("X000001", surname="Hargreaves", forenames="Bill"),
        police("P2", surname="Okonkwo", forenames="Chidi", born=date(1971, 3, 9)),
        probation("X000002", surname="Chidi", forenames="Okonkwo", born=date(1971, 3, 9)),
    ]
    links = match_population(records).links
    assert [(link.a.person_id, link.b.person_id) for link in links] == [
        ("P1", "X000001"),
        ("P2", "X000002"),
    ]
    assert {link.matched_by for link in links} == {MatchedBy.PROBABILISTIC}
    assert all(link.weight is not None and link.weight >= JOIN_THRESHOLD for link in links)


@pytest.mark.parametrize("weight", [JOIN_THRESHOLD, JOIN_THRESHOLD + 10])
def test_names_alone_are_never_linked_on_weight(weight: float) -> None:
    assert decide(score(weight, born=DateLevel.MISSING)) == Verdict(
        None, ReviewReason.NO_DATE_OF_BIRTH
    )
    assert decide(score(REVIEW_THRESHOLD - 1, born=DateLevel.MISSING)) is None


def _verdict_in_crowd(first: Person, second: Person) -> tuple[bool, list[str]]:
    """Whether the pair links in a crowd, and why it is reviewed (the rule's reason)."""
    linked, reviews = pair_among_crowd(first, second)
    return linked, [review.reason.split(":")[0] for review in reviews]


def _reviewed_above_join(
    first: Person, second: Person, reason: ReviewReason, crowd: int = 1000
) -> None:
    """The pair, in a crowd, is reviewed for `reason` although it weighs enough to link."""
    linked, reviews = pair_among_crowd(first, second, crowd)
    assert not linked
    (review,) = reviews
    assert review.reason.startswith(reason)
    assert review.weight is not None
    assert review.weight >= JOIN_THRESHOLD


def _darren_hollands(born: date, other_born: date) -> tuple[Person, Person]:
    """A probation and a police record of one name, born on the dates given."""
    return (
        Person(Agency.PROBATION, "X000001", "Holland", "Darren", Gender.MALE, "NW", born),
        Person(Agency.POLICE, "P1", "Holland", "Darren", Gender.MALE, "LANC", other_born),
    )


@pytest.mark.parametrize("weight", [JOIN_THRESHOLD, JOIN_THRESHOLD + 10])
def test_a_forename_and_a_date_of_birth_alone_are_never_linked_on_weight(weight: float) -> None:
    assert decide(score(weight, surname=NameLevel.DISAGREE)) == Verdict(
        None, ReviewReason.SURNAMES_DIFFER
    )
    assert decide(score(REVIEW_THRESHOLD - 1, surname=NameLevel.DISAGREE)) is None
    assert decide(score(weight, surname=NameLevel.MISSING)) == Verdict(
        None, ReviewReason.NO_SURNAME
    )


@pytest.mark.parametrize("level", [NameLevel.FUZZY_MID, NameLevel.OTHER_PART, NameLevel.SWAPPED])
def test_a_surname_short_of_plain_disagreement_still_links_on_weight(level: NameLevel) -> None:
    assert decide(score(JOIN_THRESHOLD, surname=level)) == Verdict(MatchedBy.PROBABILISTIC, None)


def test_different_surnames_with_a_rare_forename_and_the_same_birth_are_reviewed_end_to_end() -> (
    None
):
    """A rare forename and an exact date of birth outweigh the surnames; a person decides."""
    _reviewed_above_join(
        # a Lancashire record and one of the North West region that holds Lancashire
        Person(Agency.POLICE, "P1", "Bigtie", "Zebediah", Gender.MALE, "LANC", BORN),
        Person(Agency.PROBATION, "X000001", "Bigorder", "Zebediah", Gender.MALE, "NW", BORN),
        ReviewReason.SURNAMES_DIFFER,
    )


@pytest.mark.parametrize("weight", [JOIN_THRESHOLD, JOIN_THRESHOLD + 10])
def test_different_dates_of_birth_or_genders_are_never_linked_on_weight(weight: float) -> None:
    assert decide(score(weight, born=DateLevel.DISAGREE)) == Verdict(
        None, ReviewReason.DATES_OF_BIRTH_DIFFER
    )
    different_genders = PairScore(
        NameLevel.EXACT,
        NameLevel.FUZZY_HIGH,
        DateLevel.EXACT,
        IdentifierLevel.MISSING,
        IdentifierLevel.MISSING,
        weight,
        gender=AttributeLevel.DISAGREE,
    )
    assert decide(different_genders) == Verdict(None, ReviewReason.GENDERS_DIFFER)


def test_a_father_and_son_of_the_same_rare_name_are_reviewed_not_linked() -> None:
    father = Person(
        Agency.PROBATION, "X000001", "Kowalczyk", "Piotr", Gender.MALE, "NW", date(1962, 4, 11)
    )
    son = Person(Agency.POLICE, "P1", "Kowalczyk", "Piotr", Gender.MALE, "LANC", date(1989, 9, 30))
    # Among 6,000 others the name is rare enough to outweigh the dates of birth.
    _reviewed_above_join(father, son, ReviewReason.DATES_OF_BIRTH_DIFFER, crowd=6000)


def test_a_twin_brother_and_sister_are_reviewed_not_linked() -> None:
    brother = Person(Agency.PROBATION, "X000001", "Holland", "Daniel", Gender.MALE, "NW", BORN)
    sister = Person(Agency.POLICE, "P1", "Holland", "Danielle", Gender.FEMALE, "LANC", BORN)
    _reviewed_above_join(brother, sister, ReviewReason.GENDERS_DIFFER)


@pytest.mark.parametrize("year", [1968, 1998, 1858])
def test_a_year_a_decade_or_more_apart_is_not_one_digit_off(year: int) -> None:
    linked, reasons = _verdict_in_crowd(*_darren_hollands(date(1958, 6, 25), date(year, 6, 25)))
    assert not linked
    assert reasons in ([], [ReviewReason.DATES_OF_BIRTH_DIFFER])


def test_a_slip_in_the_last_digit_of_the_year_still_links() -> None:
    linked, _ = _verdict_in_crowd(*_darren_hollands(date(1958, 6, 25), date(1959, 6, 25)))
    assert linked


@pytest.mark.parametrize(
    ("one", "two"),
    [("Hall", "Hill"), ("Al-Hassan", "Al-Rashid"), ("MIG-ERROR-Holland", "MIG-ERROR-Patel")],
)
def test_surnames_of_two_families_keep_a_pair_from_linking(one: str, two: str) -> None:
    """A short surname one letter changed, a shared particle, a shared system prefix."""
    linked, reasons = _verdict_in_crowd(
        Person(Agency.POLICE, "P1", one, "Zebediah", Gender.MALE, "LANC", BORN),
        Person(Agency.PROBATION, "X000001", two, "Zebediah", Gender.MALE, "NW", BORN),
    )
    assert not linked
    assert reasons == [ReviewReason.SURNAMES_DIFFER]


def test_a_surname_typo_still_links_end_to_end() -> None:
    records = [
        police(surname="Hargreaves", forenames="Zebediah"),
        probation(surname="Hargraves", forenames="Zebediah"),
    ]
    assert [link.matched_by for link in match_population(records).links] == [
        MatchedBy.PROBABILISTIC
    ]


@pytest.mark.parametrize("unknown", [None, date(1970, 1, 1), date(1900, 1, 1)])
def test_the_same_names_with_no_usable_date_of_birth_are_not_linked_end_to_end(
    unknown: date | None,
) -> None:
    """A placeholder date of birth never corroborates a link, and names alone never make one."""
    records = [
        police(surname="Abernathy", forenames="Quentin", born=unknown),
        probation(surname="Abernathy", forenames="Quentin", born=unknown),
    ]
    result = match_population(records)
    assert result.links == ()
    assert all(review.reason.startswith(ReviewReason.NO_DATE_OF_BIRTH) for review in result.reviews)


def test_the_same_names_and_a_real_date_of_birth_still_link_end_to_end() -> None:
    records = [
        police(surname="Abernathy", forenames="Quentin"),
        probation(surname="Abernathy", forenames="Quentin"),
    ]
    assert [link.matched_by for link in match_population(records).links] == [
        MatchedBy.PROBABILISTIC
    ]
