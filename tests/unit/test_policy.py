"""Unit tests of the policy engine: every rule, the roll-out test, overrides, versions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise
from random import Random
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.core.calendar import add_months, eighteenth_birthday
from sync.core.policy import (
    PI_15_2015,
    PI_15_2015_ID,
    RULE_MANUAL,
    PolicySettings,
    PolicyVersion,
    Segment,
    build_timeline,
    segment_at,
    subject_date_of_birth,
    subject_gender,
)
from sync.core.records import (
    Agency,
    Gender,
    Offence,
    Override,
    Owner,
    Period,
    Person,
    SubjectFacts,
    Supervision,
    SupervisionKind,
)
from sync.core.rules import (
    RULE_NONE_CUSTODY,
    RULE_NONE_NOT_IN_SCOPE,
    RULE_OUT_NOT_MALE,
    RULE_OUT_UNDER_18,
    RULE_POLICE_REGISTERED,
    RULE_PROB_REGISTERED,
    RULE_PROB_SEXUAL,
    RULE_PROB_SEXUAL_ELEMENT,
)

CRN = "X000001"
POLICE_REF = "LAN-1"
ADULT_DOB: date | None = None  # unknown: an adult, so no birthday boundary
DEFAULT = PolicySettings()
T = TypeVar("T")


def probation_person(
    gender: Gender = Gender.MALE,
    dob: date | None = ADULT_DOB,
    person_id: str = CRN,
    area: str = "NW",
) -> Person:
    return Person(Agency.PROBATION, person_id, "TEST", "SUBJECT", gender, area, dob)


def police_person(gender: Gender = Gender.MALE, dob: date | None = ADULT_DOB) -> Person:
    return Person(Agency.POLICE, POLICE_REF, "TEST", "SUBJECT", gender, "LANC", dob)


def supervision(
    start: date,
    end: date | None,
    offence: Offence = Offence.SEXUAL,
    kind: SupervisionKind = SupervisionKind.LICENCE,
    terminated_on: date | None = None,
    sup_id: str = "S-1",
    person_id: str = CRN,
) -> Supervision:
    return Supervision(sup_id, person_id, kind, offence, start, end, terminated_on)


def period(start: date, end: date | None, period_id: str = "P-1", person_id: str = CRN) -> Period:
    return Period(period_id, person_id, start, end)


def facts(
    persons: tuple[Person, ...] = (),
    supervisions: tuple[Supervision, ...] = (),
    custodies: tuple[Period, ...] = (),
    registrations: tuple[Period, ...] = (),
    overrides: tuple[Override, ...] = (),
) -> SubjectFacts:
    return SubjectFacts(
        subject_id="subject-1",
        persons=persons or (probation_person(), police_person()),
        supervisions=supervisions,
        custodies=custodies,
        registrations=registrations,
        overrides=overrides,
    )


def decision_at(subject: SubjectFacts, d: date, config: PolicySettings = DEFAULT) -> Segment:
    return segment_at(build_timeline(subject, config), d)


def owner_rule_mandatory(segment: Segment) -> tuple[Owner, str, bool]:
    return (segment.owner, segment.rule, segment.mandatory)


# --- the eight rules -------------------------------------------------------


@pytest.mark.parametrize("gender", [Gender.FEMALE, Gender.OTHER])
def test_rule_1_women_and_other_genders_are_out_of_scope(gender: Gender) -> None:
    subject = facts(
        persons=(probation_person(gender),),
        supervisions=(supervision(date(2024, 1, 1), date(2026, 12, 31)),),
    )
    timeline = build_timeline(subject, DEFAULT)
    assert len(timeline) == 1
    assert owner_rule_mandatory(timeline[0]) == (Owner.NONE, RULE_OUT_NOT_MALE, False)


def test_rule_1_unknown_gender_counts_as_male() -> None:
    subject = facts(
        persons=(probation_person(Gender.UNKNOWN),),
        supervisions=(supervision(date(2024, 1, 1), date(2026, 12, 31)),),
    )
    assert decision_at(subject, date(2025, 1, 1)).rule == RULE_PROB_SEXUAL


def test_rule_2_under_18_until_the_birthday() -> None:
    dob = date(2007, 3, 10)
    subject = facts(
        persons=(probation_person(dob=dob),),
        supervisions=(supervision(date(2024, 9, 1), date(2027, 8, 31)),),
    )
    birthday = eighteenth_birthday(dob)
    before = decision_at(subject, birthday - timedelta(days=1))
    assert owner_rule_mandatory(before) == (Owner.NONE, RULE_OUT_UNDER_18, False)
    on_the_day = decision_at(subject, birthday)
    assert owner_rule_mandatory(on_the_day) == (Owner.PROBATION, RULE_PROB_SEXUAL, True)
    assert on_the_day.start == birthday


def test_rule_2_leap_day_birth_turns_18_on_1_march() -> None:
    subject = facts(persons=(probation_person(dob=date(2004, 2, 29)),))
    assert decision_at(subject, date(2022, 2, 28)).rule == RULE_OUT_UNDER_18
    assert decision_at(subject, date(2022, 3, 1)).rule == RULE_NONE_NOT_IN_SCOPE


def test_rule_2_unknown_date_of_birth_is_adult() -> None:
    subject = facts(persons=(probation_person(dob=None),))
    timeline = build_timeline(subject, DEFAULT)
    assert [segment.rule for segment in timeline] == [RULE_NONE_NOT_IN_SCOPE]


def test_rule_3_custody_beats_supervision() -> None:
    subject = facts(
        supervisions=(supervision(date(2025, 3, 1), date(2027, 2, 28)),),
        custodies=(period(date(2025, 5, 1), date(2025, 6, 15), "C-1"),),
    )
    assert decision_at(subject, date(2025, 4, 30)).rule == RULE_PROB_SEXUAL
    custody = decision_at(subject, date(2025, 5, 1))
    assert owner_rule_mandatory(custody) == (Owner.NONE, RULE_NONE_CUSTODY, False)
    assert (custody.start, custody.end) == (date(2025, 5, 1), date(2025, 6, 15))
    assert decision_at(subject, date(2025, 6, 16)).rule == RULE_PROB_SEXUAL


def test_rule_4_sexual_supervision_beats_registration() -> None:
    subject = facts(
        supervisions=(supervision(date(2025, 3, 1), date(2027, 2, 28)),),
        registrations=(period(date(2019, 1, 1), None, "R-1", POLICE_REF),),
    )
    timeline = build_timeline(subject, DEFAULT)
    assert [owner_rule_mandatory(s) for s in timeline] == [
        (Owner.NONE, RULE_NONE_NOT_IN_SCOPE, False),
        (Owner.POLICE, RULE_POLICE_REGISTERED, True),
        (Owner.PROBATION, RULE_PROB_SEXUAL, True),
        (Owner.POLICE, RULE_POLICE_REGISTERED, True),
    ]
    assert timeline[3].start == date(2027, 3, 1)


def test_rule_5_any_supervision_while_registered_is_discretionary_probation() -> None:
    subject = facts(
        supervisions=(supervision(date(2024, 2, 1), date(2025, 12, 31), Offence.OTHER),),
        registrations=(period(date(2012, 1, 1), None, "R-1", POLICE_REF),),
    )
    during = decision_at(subject, date(2025, 1, 10))
    assert owner_rule_mandatory(during) == (Owner.PROBATION, RULE_PROB_REGISTERED, False)
    assert decision_at(subject, date(2026, 1, 1)).rule == RULE_POLICE_REGISTERED


def test_rule_6_sexual_element_is_discretionary_probation() -> None:
    subject = facts(
        supervisions=(
            supervision(
                date(2024, 5, 1),
                date(2026, 4, 30),
                Offence.SEXUAL_ELEMENT,
                SupervisionKind.COMMUNITY_ORDER,
            ),
        ),
    )
    during = decision_at(subject, date(2025, 1, 10))
    assert owner_rule_mandatory(during) == (Owner.PROBATION, RULE_PROB_SEXUAL_ELEMENT, False)
    assert decision_at(subject, date(2026, 5, 1)).rule == RULE_NONE_NOT_IN_SCOPE


def test_rule_7_police_own_registered_offenders_probation_does_not_supervise() -> None:
    subject = facts(registrations=(period(date(2019, 1, 1), date(2030, 1, 1), "R-1"),))
    during = decision_at(subject, date(2020, 1, 1))
    assert owner_rule_mandatory(during) == (Owner.POLICE, RULE_POLICE_REGISTERED, True)
    assert decision_at(subject, date(2030, 1, 2)).rule == RULE_NONE_NOT_IN_SCOPE


def test_rule_8_otherwise_not_in_scope() -> None:
    timeline = build_timeline(facts(), DEFAULT)
    assert len(timeline) == 1
    assert (timeline[0].start, timeline[0].end) == (None, None)
    assert owner_rule_mandatory(timeline[0]) == (Owner.NONE, RULE_NONE_NOT_IN_SCOPE, False)
    assert timeline[0].policy == PI_15_2015_ID


def test_rule_5_comes_before_rule_6_for_a_registered_persons_sexual_element_order() -> None:
    """Both give probation, not mandatory; the rule named is the first that matches."""
    subject = facts(
        supervisions=(
            supervision(
                date(2024, 1, 1),
                date(2026, 12, 31),
                Offence.SEXUAL_ELEMENT,
                SupervisionKind.COMMUNITY_ORDER,
            ),
        ),
        registrations=(period(date(2020, 1, 1), None, "R-1", POLICE_REF),),
    )
    during = decision_at(subject, date(2025, 6, 1))
    assert owner_rule_mandatory(during) == (Owner.PROBATION, RULE_PROB_REGISTERED, False)


def test_rule_2_comes_before_rule_3_for_a_child_in_custody() -> None:
    """Custody while under 18 is out of scope as a child; custody after the birthday is
    custody; the licence rule takes over when custody ends."""
    subject = facts(
        persons=(probation_person(dob=date(2008, 2, 29)),),
        supervisions=(supervision(date(2025, 6, 1), date(2027, 12, 31)),),
        custodies=(period(date(2026, 1, 1), date(2026, 3, 10), "C-1"),),
    )
    timeline = build_timeline(subject, DEFAULT)
    assert [(s.start, s.end, owner_rule_mandatory(s)) for s in timeline] == [
        (None, date(2026, 2, 28), (Owner.NONE, RULE_OUT_UNDER_18, False)),
        (date(2026, 3, 1), date(2026, 3, 10), (Owner.NONE, RULE_NONE_CUSTODY, False)),
        (date(2026, 3, 11), date(2027, 12, 31), (Owner.PROBATION, RULE_PROB_SEXUAL, True)),
        (date(2028, 1, 1), None, (Owner.NONE, RULE_NONE_NOT_IN_SCOPE, False)),
    ]


def test_terminated_supervision_hands_over_to_police_the_next_day() -> None:
    subject = facts(
        supervisions=(
            supervision(date(2023, 1, 1), date(2026, 12, 31), terminated_on=date(2024, 6, 30)),
        ),
        registrations=(period(date(2022, 11, 1), None, "R-1"),),
    )
    assert decision_at(subject, date(2024, 6, 30)).rule == RULE_PROB_SEXUAL
    after = decision_at(subject, date(2024, 7, 1))
    assert (after.owner, after.start, after.end) == (Owner.POLICE, date(2024, 7, 1), None)


# --- the roll-out test -------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start", "end", "mandatory"),
    [
        # M000000: licence from T-6m, planned more than 12 months.
        (SupervisionKind.LICENCE, date(2015, 10, 1), date(2017, 9, 30), True),
        # M000001: licence from T-6m, planned 10 months.
        (SupervisionKind.LICENCE, date(2015, 10, 1), date(2016, 7, 31), False),
        # M000002 / M000003: community order on and one day before T-6m.
        (SupervisionKind.COMMUNITY_ORDER, date(2015, 8, 29), date(2017, 8, 28), True),
        (SupervisionKind.COMMUNITY_ORDER, date(2015, 8, 28), date(2017, 8, 27), False),
        # M000004: licence starting on T, short.
        (SupervisionKind.LICENCE, date(2016, 2, 29), date(2016, 8, 28), True),
        (SupervisionKind.LICENCE, date(2016, 2, 28), date(2016, 8, 28), False),
        (SupervisionKind.SUSPENDED_SENTENCE_ORDER, date(2015, 8, 29), date(2016, 1, 1), True),
        (SupervisionKind.POST_SENTENCE_SUPERVISION, date(2015, 8, 29), None, True),
        # Exactly twelve months is not "more than" twelve months.
        (SupervisionKind.LICENCE, date(2015, 9, 1), date(2016, 9, 1), False),
        (SupervisionKind.LICENCE, date(2015, 9, 1), date(2016, 9, 2), True),
        (SupervisionKind.LICENCE, date(2015, 8, 28), date(2020, 1, 1), False),
    ],
)
def test_rollout_test_at_its_edges(
    kind: SupervisionKind, start: date, end: date | None, mandatory: bool
) -> None:
    subject = facts(supervisions=(supervision(start, end, kind=kind),))
    segment = decision_at(subject, start)
    assert (segment.rule, segment.mandatory) == (RULE_PROB_SEXUAL, mandatory)


def test_the_planned_length_runs_to_the_end_whatever_the_termination() -> None:
    """A licence planned for more than 12 months from T - 6 months is mandatory, though
    it was terminated early, within the 12 months."""
    licence = supervision(date(2015, 8, 29), date(2016, 8, 30), terminated_on=date(2016, 1, 31))
    subject = facts(supervisions=(licence,))
    segment = decision_at(subject, date(2015, 8, 29))
    assert (segment.rule, segment.mandatory, segment.end) == (
        RULE_PROB_SEXUAL,
        True,
        date(2016, 1, 31),
    )


@pytest.mark.parametrize(
    ("start", "mandatory"), [(date(2016, 2, 29), True), (date(2016, 2, 28), False)]
)
def test_six_months_before_a_training_date_at_a_months_end_is_that_months_last_day(
    start: date, mandatory: bool
) -> None:
    """T = 31 August 2016: T - 6 months is 29 February 2016, the last day of February."""
    subject = facts(
        supervisions=(supervision(start, date(2018, 1, 31), kind=SupervisionKind.COMMUNITY_ORDER),)
    )
    config = PolicySettings(training_dates={"NW": date(2016, 8, 31)})
    assert decision_at(subject, start, config).mandatory is mandatory


def test_rollout_uses_the_training_date_of_the_supervisions_area() -> None:
    start = date(2016, 6, 1)
    subject = facts(
        persons=(probation_person(area="NE"),),
        supervisions=(supervision(start, date(2016, 9, 1)),),
    )
    later_training = PolicySettings(training_dates={"NE": date(2017, 1, 1)})
    other_area = PolicySettings(training_dates={"NW": date(2017, 1, 1)})
    assert decision_at(subject, start, later_training).mandatory is False
    assert decision_at(subject, start, other_area).mandatory is True
    assert decision_at(subject, start).mandatory is True


def test_the_training_date_is_that_of_the_area_of_the_supervisions_own_record() -> None:
    # Two probation records of one subject in two areas; the licence is on the second.
    subject = facts(
        persons=(probation_person(area="NW"), probation_person(person_id="X000002", area="ZZ")),
        supervisions=(supervision(date(2019, 3, 1), date(2021, 2, 28), person_id="X000002"),),
    )
    config = PolicySettings(training_dates={"ZZ": date(2020, 1, 1)})
    assert decision_at(subject, date(2019, 3, 1), config).mandatory is False
    assert decision_at(subject, date(2019, 3, 1)).mandatory is True


def test_governing_supervision_is_the_earliest_sexual_one() -> None:
    early_short_licence = supervision(
        date(2015, 10, 1), date(2016, 7, 31), sup_id="S-1"
    )  # fails the test
    later_order = supervision(
        date(2016, 3, 1), date(2018, 1, 1), kind=SupervisionKind.COMMUNITY_ORDER, sup_id="S-2"
    )  # passes
    subject = facts(supervisions=(later_order, early_short_licence))
    assert decision_at(subject, date(2016, 4, 1)).mandatory is False
    assert decision_at(subject, date(2016, 8, 1)).mandatory is True


def test_governing_supervision_ties_broken_by_id() -> None:
    start = date(2015, 10, 1)
    short_licence = supervision(start, date(2016, 7, 31), sup_id="S-A")
    order = supervision(
        start, date(2016, 7, 31), kind=SupervisionKind.COMMUNITY_ORDER, sup_id="S-B"
    )
    subject = facts(supervisions=(order, short_licence))
    assert decision_at(subject, start).mandatory is False
    renamed = facts(supervisions=(replace(order, id="S-0"), short_licence))
    assert decision_at(renamed, start).mandatory is True


def test_the_governing_supervision_governs_to_its_last_day() -> None:
    licence = supervision(date(2016, 3, 1), date(2025, 6, 30))  # starts after T: mandatory
    subject = facts(supervisions=(licence,), registrations=(period(date(2025, 6, 30), None),))
    last_day = decision_at(subject, date(2025, 6, 30))
    assert owner_rule_mandatory(last_day) == (Owner.PROBATION, RULE_PROB_SEXUAL, True)
    day_after = decision_at(subject, date(2025, 7, 1))
    assert owner_rule_mandatory(day_after) == (Owner.POLICE, RULE_POLICE_REGISTERED, True)


def test_one_day_periods_hold_on_their_day() -> None:
    licence = supervision(date(2016, 3, 1), date(2027, 6, 30))
    day = date(2025, 5, 1)
    subject = facts(supervisions=(licence,), custodies=(period(day, day, "C-1"),))
    timeline = build_timeline(subject, DEFAULT)
    assert owner_rule_mandatory(segment_at(timeline, day)) == (Owner.NONE, RULE_NONE_CUSTODY, False)
    for neighbour in (day - timedelta(days=1), day + timedelta(days=1)):
        assert owner_rule_mandatory(segment_at(timeline, neighbour)) == (
            Owner.PROBATION,
            RULE_PROB_SEXUAL,
            True,
        )


# --- overrides ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "mandatory"),
    [(Owner.POLICE, True), (Owner.PROBATION, True), (Owner.NONE, False)],
)
def test_override_beats_every_rule_in_its_range(owner: Owner, mandatory: bool) -> None:
    subject = facts(
        persons=(probation_person(Gender.FEMALE),),
        overrides=(Override("O-1", owner, date(2025, 1, 1), date(2025, 12, 31)),),
    )
    timeline = build_timeline(subject, DEFAULT)
    during = segment_at(timeline, date(2025, 6, 1))
    assert owner_rule_mandatory(during) == (owner, RULE_MANUAL, mandatory)
    assert (during.start, during.end) == (date(2025, 1, 1), date(2025, 12, 31))
    assert segment_at(timeline, date(2026, 1, 1)).rule == RULE_OUT_NOT_MALE


def test_overlapping_overrides_the_later_start_wins() -> None:
    subject = facts(
        overrides=(
            Override("O-2", Owner.NONE, date(2025, 3, 1), date(2025, 3, 31)),
            Override("O-1", Owner.POLICE, date(2025, 1, 1), None),
        )
    )
    timeline = build_timeline(subject, DEFAULT)
    assert segment_at(timeline, date(2025, 2, 1)).owner is Owner.POLICE
    assert segment_at(timeline, date(2025, 3, 15)).owner is Owner.NONE
    assert segment_at(timeline, date(2025, 4, 1)).owner is Owner.POLICE


@pytest.mark.parametrize("ids", [("O-A", "O-B"), ("O-B", "O-A")])
def test_of_overrides_starting_the_same_day_the_one_made_later_wins(ids: tuple[str, str]) -> None:
    first, correction = ids
    made_first = Override(first, Owner.POLICE, date(2025, 1, 1), None, made=3)
    made_later = Override(correction, Owner.PROBATION, date(2025, 1, 1), date(2025, 6, 30), made=7)
    for overrides in ((made_first, made_later), (made_later, made_first)):
        timeline = build_timeline(facts(overrides=overrides), DEFAULT)
        assert segment_at(timeline, date(2025, 3, 1)).owner is Owner.PROBATION
        assert segment_at(timeline, date(2025, 7, 1)).owner is Owner.POLICE


def test_an_override_holds_on_its_first_and_last_day() -> None:
    override = Override("O-1", Owner.PROBATION, date(2025, 1, 1), date(2025, 12, 31))
    subject = facts(overrides=(override,), registrations=(period(date(2025, 12, 31), None),))
    timeline = build_timeline(subject, DEFAULT)
    for day in (date(2025, 1, 1), date(2025, 12, 31)):
        assert owner_rule_mandatory(segment_at(timeline, day)) == (
            Owner.PROBATION,
            RULE_MANUAL,
            True,
        )
    after = segment_at(timeline, date(2026, 1, 1))
    assert owner_rule_mandatory(after) == (Owner.POLICE, RULE_POLICE_REGISTERED, True)


def test_a_one_day_override_is_a_segment_of_one_day() -> None:
    day = date(2025, 6, 30)
    subject = facts(overrides=(Override("O-1", Owner.POLICE, day, day),))
    timeline = build_timeline(subject, DEFAULT)
    assert [(s.start, s.end, s.rule) for s in timeline] == [
        (None, day - timedelta(days=1), RULE_NONE_NOT_IN_SCOPE),
        (day, day, RULE_MANUAL),
        (day + timedelta(days=1), None, RULE_NONE_NOT_IN_SCOPE),
    ]


# --- policy versions ---------------------------------------------------------

LATER_START = date(2020, 1, 1)
LATER = PolicyVersion(
    id="pi-later",
    effective_from=LATER_START,
    rules=tuple(rule for rule in PI_15_2015.rules if rule[0] != RULE_OUT_NOT_MALE),
)


def test_later_policy_applies_from_its_effective_date_only() -> None:
    config = PolicySettings(policies=(PI_15_2015, LATER))
    subject = facts(persons=(probation_person(Gender.FEMALE),))
    timeline = build_timeline(subject, config)
    assert [(s.rule, s.policy, s.start) for s in timeline] == [
        (RULE_OUT_NOT_MALE, PI_15_2015_ID, None),
        (RULE_NONE_NOT_IN_SCOPE, "pi-later", LATER_START),
    ]


def test_policy_change_is_a_boundary_even_when_the_decision_is_alike() -> None:
    config = PolicySettings(policies=(PI_15_2015, LATER))
    timeline = build_timeline(facts(), config)
    assert [(s.policy, s.end) for s in timeline] == [
        (PI_15_2015_ID, LATER_START - timedelta(days=1)),
        ("pi-later", None),
    ]


def test_each_of_three_policy_versions_applies_from_its_own_date() -> None:
    third_start = date(2022, 1, 1)
    third = replace(LATER, id="pi-third", effective_from=third_start)
    timeline = build_timeline(facts(), PolicySettings(policies=(PI_15_2015, LATER, third)))
    assert [(s.start, s.policy) for s in timeline] == [
        (None, PI_15_2015_ID),
        (LATER_START, "pi-later"),
        (third_start, "pi-third"),
    ]


def test_probation_is_mandatory_under_prob_sexual_only_whatever_the_rule_order() -> None:
    registered_first = tuple(
        sorted(PI_15_2015.rules, key=lambda rule: rule[0] != RULE_PROB_REGISTERED)
    )
    config = PolicySettings(policies=(replace(PI_15_2015, rules=registered_first),))
    subject = facts(
        supervisions=(supervision(date(2016, 3, 1), date(2027, 6, 30)),),
        registrations=(period(date(2019, 1, 1), None),),
    )
    during_both = decision_at(subject, date(2025, 1, 1), config)
    assert owner_rule_mandatory(during_both) == (Owner.PROBATION, RULE_PROB_REGISTERED, False)
    assert decision_at(subject, date(2025, 1, 1)).mandatory is True  # PI 15/2015's order


def test_policy_versions_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown rules"):
        PolicyVersion("bad", None, (("NO-SUCH-RULE", Owner.NONE),))
    with pytest.raises(ValueError, match="must end with"):
        PolicyVersion("bad", None, ((RULE_POLICE_REGISTERED, Owner.POLICE),))
    with pytest.raises(ValueError, match="beginning of time"):
        PolicySettings(policies=(LATER,))
    with pytest.raises(ValueError, match="increasing"):
        PolicySettings(policies=(PI_15_2015, LATER, replace(LATER, id="again")))


# --- subject facts -----------------------------------------------------------


def test_disagreeing_genders_are_treated_as_male() -> None:
    subject = facts(persons=(probation_person(Gender.MALE), police_person(Gender.FEMALE)))
    assert subject_gender(subject) is Gender.MALE
    agreeing = facts(persons=(probation_person(Gender.FEMALE), police_person(Gender.FEMALE)))
    assert subject_gender(agreeing) is Gender.FEMALE


def test_earliest_date_of_birth_wins_and_placeholders_count() -> None:
    subject = facts(
        persons=(probation_person(dob=date(2010, 1, 1)), police_person(dob=date(1970, 1, 1)))
    )
    assert subject_date_of_birth(subject) == date(1970, 1, 1)
    assert decision_at(subject, date(2020, 1, 1)).rule == RULE_NONE_NOT_IN_SCOPE
    unknown = facts(persons=(probation_person(dob=None), police_person(dob=None)))
    assert subject_date_of_birth(unknown) is None


def test_a_person_record_given_twice_with_two_areas_decides_alike_in_either_order() -> None:
    north_west, north_east = probation_person(area="NW"), probation_person(area="NE")
    licence = supervision(date(2016, 1, 1), None)  # mandatory by NW's training date, not NE's
    config = PolicySettings(training_dates={"NE": date(2017, 6, 30)})
    one_way = build_timeline(
        facts(persons=(north_west, north_east), supervisions=(licence,)), config
    )
    other_way = build_timeline(
        facts(persons=(north_east, north_west), supervisions=(licence,)), config
    )
    assert one_way == other_way


# --- segment_at --------------------------------------------------------------


def test_segment_at_finds_edges_and_open_ends() -> None:
    subject = facts(supervisions=(supervision(date(2025, 3, 1), date(2027, 2, 28)),))
    timeline = build_timeline(subject, DEFAULT)
    assert segment_at(timeline, date.min) is timeline[0]
    assert segment_at(timeline, date(2025, 2, 28)) is timeline[0]
    assert segment_at(timeline, date(2025, 3, 1)) is timeline[1]
    assert segment_at(timeline, date(2027, 2, 28)) is timeline[1]
    assert segment_at(timeline, date.max) is timeline[-1]
    licence = timeline[1]
    assert [licence.covers(d) for d in (date(2025, 3, 1), date(2027, 2, 28))] == [True, True]
    assert [licence.covers(d) for d in (date(2025, 2, 28), date(2027, 3, 1))] == [False, False]
    with pytest.raises(ValueError, match="at least one"):
        segment_at((), date(2025, 1, 1))


# --- properties --------------------------------------------------------------

DAYS = st.dates(min_value=date(2010, 1, 1), max_value=date(2030, 12, 31))
OPTIONAL_DAYS = st.none() | DAYS
PERSON_IDS = st.sampled_from([CRN, "X000002"])


@st.composite
def supervisions(draw: st.DrawFn) -> Supervision:
    start = draw(DAYS)
    return Supervision(
        id=draw(st.sampled_from(["S-1", "S-2", "S-3"])),
        person_id=draw(PERSON_IDS),
        kind=draw(st.sampled_from(SupervisionKind)),
        offence=draw(st.sampled_from(Offence)),
        start=start,
        end=draw(OPTIONAL_DAYS),
        terminated_on=draw(st.none() | DAYS),
    )


@st.composite
def periods(draw: st.DrawFn) -> Period:
    start = draw(DAYS)
    length = draw(st.none() | st.integers(min_value=-3, max_value=2000))
    end = None if length is None else start + timedelta(days=length)
    return Period(draw(st.sampled_from(["P-1", "P-2"])), draw(PERSON_IDS), start, end)


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    start = draw(DAYS)
    length = draw(st.none() | st.integers(min_value=0, max_value=1000))
    end = None if length is None else start + timedelta(days=length)
    return Override(draw(st.sampled_from(["O-1", "O-2"])), draw(st.sampled_from(Owner)), start, end)


@st.composite
def persons(draw: st.DrawFn) -> Person:
    return Person(
        agency=draw(st.sampled_from(Agency)),
        person_id=draw(PERSON_IDS),
        surname="TEST",
        forenames="SUBJECT",
        gender=draw(st.sampled_from(Gender)),
        area=draw(st.sampled_from(["NW", "NE"])),
        date_of_birth=draw(st.none() | st.dates(date(1990, 1, 1), date(2015, 12, 31))),
    )


@st.composite
def subjects(draw: st.DrawFn) -> SubjectFacts:
    return SubjectFacts(
        subject_id="subject-1",
        persons=tuple(draw(st.lists(persons(), min_size=1, max_size=3))),
        supervisions=tuple(draw(st.lists(supervisions(), max_size=3))),
        custodies=tuple(draw(st.lists(periods(), max_size=2))),
        registrations=tuple(draw(st.lists(periods(), max_size=2))),
        overrides=tuple(draw(st.lists(overrides(), max_size=2))),
    )


PROPERTY_SETTINGS = PolicySettings(
    policies=(PI_15_2015, LATER), training_dates={"NE": date(2017, 6, 30)}
)


def naive_decision(subject: SubjectFacts, d: date, config: PolicySettings) -> tuple[object, ...]:
    """The spec read literally for one date: an oracle independent of the timeline."""
    policy = [v for v in config.policies if v.effective_from is None or v.effective_from <= d][-1]
    covering = [o for o in subject.overrides if o.start <= d and (o.end is None or d <= o.end)]
    if covering:
        chosen = max(covering, key=lambda o: (o.start, o.id, o.owner.value, o.end or date.max))
        return (chosen.owner, RULE_MANUAL, chosen.owner is not Owner.NONE, policy.id)
    genders = {p.gender for p in subject.persons}
    male = len(genders) > 1 or genders.pop() in {Gender.MALE, Gender.UNKNOWN}
    dob = subject_date_of_birth(subject)
    adult = dob is None or d >= eighteenth_birthday(dob)

    def live(start: date, end: date | None) -> bool:
        return start <= d and (end is None or d <= end)

    sups = [s for s in subject.supervisions if live(s.start, s.last_day)]
    custody = any(live(c.start, c.end) for c in subject.custodies)
    registered = any(live(r.start, r.end) for r in subject.registrations)
    sexual = [s for s in sups if s.offence is Offence.SEXUAL]
    checks = {
        RULE_OUT_NOT_MALE: not male,
        RULE_OUT_UNDER_18: not adult,
        RULE_NONE_CUSTODY: custody,
        RULE_PROB_SEXUAL: bool(sexual),
        RULE_PROB_REGISTERED: bool(sups) and registered,
        RULE_PROB_SEXUAL_ELEMENT: any(s.offence is Offence.SEXUAL_ELEMENT for s in sups),
        RULE_POLICE_REGISTERED: registered,
        RULE_NONE_NOT_IN_SCOPE: True,
    }
    rule, owner = next((r, o) for r, o in policy.rules if checks[r])
    mandatory = owner is Owner.POLICE
    if rule == RULE_PROB_SEXUAL:
        sup = min(sexual, key=lambda s: (s.start, s.id))
        t = config.training_date(subject.area_of(Agency.PROBATION, sup.person_id))
        earliest = add_months(t, -6)
        if sup.kind in {SupervisionKind.COMMUNITY_ORDER, SupervisionKind.SUSPENDED_SENTENCE_ORDER}:
            mandatory = sup.start >= earliest
        else:
            long = sup.end is None or sup.end > add_months(sup.start, 12)
            mandatory = sup.start >= t or (sup.start >= earliest and long)
    return (owner, rule, mandatory, policy.id)


def decision_of(segment: Segment) -> tuple[object, ...]:
    return (segment.owner, segment.rule, segment.mandatory, segment.policy)


@settings(max_examples=100, deadline=None)
@given(subjects(), st.lists(DAYS, min_size=1, max_size=10))
def test_timeline_agrees_with_the_spec_read_date_by_date(
    subject: SubjectFacts, days: list[date]
) -> None:
    timeline = build_timeline(subject, PROPERTY_SETTINGS)
    for d in days:
        expected = naive_decision(subject, d, PROPERTY_SETTINGS)
        assert decision_of(segment_at(timeline, d)) == expected


@settings(max_examples=100, deadline=None)
@given(subjects(), st.lists(DAYS, max_size=10))
def test_every_date_in_exactly_one_segment_and_neighbours_differ(
    subject: SubjectFacts, days: list[date]
) -> None:
    timeline = build_timeline(subject, PROPERTY_SETTINGS)
    assert timeline[0].start is None
    assert timeline[-1].end is None
    for before, after in pairwise(timeline):
        assert before.end is not None
        assert after.start == before.end + timedelta(days=1)
        assert decision_of(before) != decision_of(after)
    edges = [d for segment in timeline for d in (segment.start, segment.end) if d is not None]
    for d in [*days, *edges, date.min, date.max]:
        assert sum(segment.covers(d) for segment in timeline) == 1
        assert segment_at(timeline, d).covers(d)


@settings(max_examples=100, deadline=None)
@given(subjects(), st.randoms(use_true_random=False))
def test_timeline_ignores_record_order_and_repeats(subject: SubjectFacts, rnd: Random) -> None:
    scrambled = replace(
        subject,
        persons=shuffled_with_repeat(subject.persons, rnd),
        supervisions=shuffled_with_repeat(subject.supervisions, rnd),
        custodies=shuffled_with_repeat(subject.custodies, rnd),
        registrations=shuffled_with_repeat(subject.registrations, rnd),
        overrides=shuffled_with_repeat(subject.overrides, rnd),
    )
    expected = build_timeline(subject, PROPERTY_SETTINGS)
    assert build_timeline(scrambled, PROPERTY_SETTINGS) == expected


def shuffled_with_repeat(items: tuple[T, ...], rnd: Random) -> tuple[T, ...]:
    """The same records in another order, the first one given twice."""
    doubled = [*items, *items[:1]]
    rnd.shuffle(doubled)
    return tuple(doubled)
