"""Unit tests of the duplicate rules: the worked examples, each flag kind, properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from random import Random
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.core.duplicates import (
    DEFAULT_WINDOW_DAYS,
    DUPLICATE_REPORT_KINDS,
    Counterpart,
    Flag,
    FlagKind,
    find_flags,
)
from sync.core.notices import NOTICE_FLAG, notices_for_subject
from sync.core.policy import RULE_MANUAL, PolicySettings, build_timeline
from sync.core.records import (
    Agency,
    Assessment,
    AssessmentStatus,
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
from sync.core.rules import RULE_NONE_CUSTODY, RULE_PROB_SEXUAL

T = TypeVar("T")
CRN = "W900000"
POLICE_REF = "WEX-0"
AS_OF = date(2026, 11, 28)
DEFAULT = PolicySettings()
W = DEFAULT_WINDOW_DAYS

PROBATION_PERSON = Person(
    Agency.PROBATION, CRN, "TEST", "SUBJECT", Gender.MALE, "NW", date(1970, 1, 2)
)
POLICE_PERSON = Person(
    Agency.POLICE, POLICE_REF, "TEST", "SUBJECT", Gender.MALE, "LANC", date(1970, 1, 2)
)
LICENCE = Supervision(
    "WS-0",
    CRN,
    SupervisionKind.LICENCE,
    Offence.SEXUAL,
    date(2025, 3, 1),
    date(2027, 2, 28),
)
REGISTRATION = Period("WR-0", POLICE_REF, date(2019, 1, 1), None)
RECALL = Period("WC-0", CRN, date(2025, 5, 1), date(2025, 6, 15))


def completed(agency: Agency, assessment_id: str, on: date) -> Assessment:
    person_id = CRN if agency is Agency.PROBATION else POLICE_REF
    return Assessment(agency, assessment_id, person_id, on, on, AssessmentStatus.COMPLETED)


def subject(*assessments: Assessment, custodies: tuple[Period, ...] = ()) -> SubjectFacts:
    return SubjectFacts(
        subject_id="subject-1",
        persons=(PROBATION_PERSON, POLICE_PERSON),
        supervisions=(LICENCE,),
        custodies=custodies,
        registrations=(REGISTRATION,),
        assessments=assessments,
    )


def flags_of(facts: SubjectFacts, as_of: date = AS_OF, window: int = W) -> tuple[Flag, ...]:
    return find_flags(facts, build_timeline(facts, DEFAULT), as_of, window)


def summary(flags: tuple[Flag, ...]) -> set[tuple[FlagKind, Agency | None, str | None]]:
    return {(flag.kind, flag.agency, flag.assessment_id) for flag in flags}


PROBATION_APRIL = completed(Agency.PROBATION, "WA-0", date(2025, 4, 20))


# --- the worked examples of duplicates.md -----------------------------------


def test_worked_example_1_police_assess_during_licence() -> None:
    police = completed(Agency.POLICE, "WPA-0", date(2025, 5, 10))
    flags = flags_of(subject(police, PROBATION_APRIL))
    assert summary(flags) == {
        (FlagKind.ASSESSED_BY_NON_OWNER, Agency.POLICE, "WPA-0"),
        (FlagKind.DUPLICATE, Agency.POLICE, "WPA-0"),
        (FlagKind.DUPLICATE, Agency.PROBATION, "WA-0"),
    }
    by_id = {(f.kind, f.assessment_id): f for f in flags}
    police_dup = by_id[FlagKind.DUPLICATE, "WPA-0"]
    assert police_dup.counterpart == Counterpart(Agency.PROBATION, "WA-0", date(2025, 4, 20))
    assert police_dup.redundant is True
    assert police_dup.owner_at_reference_date is Owner.PROBATION
    assert police_dup.rule_at_reference_date == RULE_PROB_SEXUAL
    assert police_dup.area == "LANC"
    probation_dup = by_id[FlagKind.DUPLICATE, "WA-0"]
    assert probation_dup.redundant is False
    assert probation_dup.counterpart == Counterpart(Agency.POLICE, "WPA-0", date(2025, 5, 10))
    misplaced = by_id[FlagKind.ASSESSED_BY_NON_OWNER, "WPA-0"]
    assert (misplaced.counterpart, misplaced.redundant) == (None, None)
    assert misplaced.person_ids == (POLICE_REF,)


def test_worked_example_2_police_assess_before_licence_is_a_handover() -> None:
    police = completed(Agency.POLICE, "WPA-1", date(2024, 11, 2))
    assert flags_of(subject(police, PROBATION_APRIL)) == ()


def test_worked_example_3_police_assess_during_recall_custody() -> None:
    police = completed(Agency.POLICE, "WPA-2", date(2025, 5, 10))
    flags = flags_of(subject(police, PROBATION_APRIL, custodies=(RECALL,)))
    assert summary(flags) == {
        (FlagKind.ASSESSED_WITHOUT_OWNER, Agency.POLICE, "WPA-2"),
        (FlagKind.DUPLICATE, Agency.POLICE, "WPA-2"),
        (FlagKind.DUPLICATE, Agency.PROBATION, "WA-0"),
    }
    police_dup = next(
        f for f in flags if f.kind is FlagKind.DUPLICATE and f.agency is Agency.POLICE
    )
    assert (police_dup.owner_at_reference_date, police_dup.rule_at_reference_date) == (
        Owner.NONE,
        RULE_NONE_CUSTODY,
    )
    assert police_dup.redundant is True


# --- the duplicate rule's edges ----------------------------------------------


@pytest.mark.parametrize(("gap", "paired"), [(W, True), (W + 1, False)])
def test_window_is_at_most_w_days(gap: int, paired: bool) -> None:
    police = completed(Agency.POLICE, "PA-1", date(2025, 5, 10))
    probation = completed(Agency.PROBATION, "A-1", date(2025, 5, 10) + timedelta(days=gap))
    kinds = {flag.kind for flag in flags_of(subject(police, probation))}
    assert (FlagKind.DUPLICATE in kinds) is paired
    assert FlagKind.ASSESSED_BY_NON_OWNER in kinds


def test_window_setting_is_honoured() -> None:
    police = completed(Agency.POLICE, "PA-1", date(2025, 5, 10))
    kinds = {flag.kind for flag in flags_of(subject(police, PROBATION_APRIL), window=10)}
    assert FlagKind.DUPLICATE not in kinds


def test_two_assessments_by_the_same_agency_are_not_a_duplicate() -> None:
    first = completed(Agency.POLICE, "PA-1", date(2025, 5, 10))
    second = completed(Agency.POLICE, "PA-2", date(2025, 5, 20))
    assert {flag.kind for flag in flags_of(subject(first, second))} == {
        FlagKind.ASSESSED_BY_NON_OWNER
    }


def test_cancelled_assessment_is_misplaced_but_never_a_duplicate() -> None:
    police = replace(
        completed(Agency.POLICE, "PA-1", date(2025, 5, 10)), status=AssessmentStatus.CANCELLED
    )
    flags = flags_of(subject(police, PROBATION_APRIL))
    assert summary(flags) == {(FlagKind.ASSESSED_BY_NON_OWNER, Agency.POLICE, "PA-1")}
    assert flags[0].assessment_status is AssessmentStatus.CANCELLED


def test_reference_date_of_an_unfinished_assessment_is_its_start() -> None:
    police = Assessment(
        Agency.POLICE, "PA-1", POLICE_REF, date(2025, 2, 20), None, AssessmentStatus.IN_PROGRESS
    )
    # Started before the licence: the police owned the subject then.
    flags = flags_of(subject(police, PROBATION_APRIL), as_of=date(2025, 2, 25))
    assert flags == ()


@pytest.mark.parametrize(("before_id", "after_id"), [("A-1", "A-2"), ("A-2", "A-1")])
def test_counterpart_is_the_nearest_in_time_ties_to_the_earlier(
    before_id: str, after_id: str
) -> None:
    police = completed(Agency.POLICE, "PA-1", date(2025, 5, 10))
    before = completed(Agency.PROBATION, before_id, date(2025, 5, 5))
    after = completed(Agency.PROBATION, after_id, date(2025, 5, 15))
    far = completed(Agency.PROBATION, "A-3", date(2025, 4, 1))
    flags = flags_of(subject(police, far, after, before))
    police_dup = next(
        f for f in flags if f.kind is FlagKind.DUPLICATE and f.agency is Agency.POLICE
    )
    assert police_dup.counterpart is not None
    assert police_dup.counterpart.assessment_id == before_id
    probation_dups = {f.assessment_id for f in flags if f.kind is FlagKind.DUPLICATE} - {"PA-1"}
    assert probation_dups == {"A-1", "A-2", "A-3"}


def test_a_completed_assessment_is_placed_by_its_completion_date() -> None:
    # Started under the police, completed once the licence (from 2025-03-01) began.
    police = Assessment(
        Agency.POLICE,
        "PA-1",
        POLICE_REF,
        date(2025, 2, 20),
        date(2025, 3, 10),
        AssessmentStatus.COMPLETED,
    )
    (flag,) = flags_of(subject(police))
    assert (flag.kind, flag.reference_date) == (FlagKind.ASSESSED_BY_NON_OWNER, date(2025, 3, 10))
    assert flag.owner_at_reference_date is Owner.PROBATION


def test_the_window_is_180_days_unless_set() -> None:
    police = completed(Agency.POLICE, "PA-1", date(2025, 5, 10))
    probation = completed(Agency.PROBATION, "A-1", date(2025, 5, 10) + timedelta(days=180))
    facts = subject(police, probation)
    timeline = build_timeline(facts, DEFAULT)
    kinds = {flag.kind for flag in find_flags(facts, timeline, AS_OF)}
    assert FlagKind.DUPLICATE in kinds
    later = replace(probation, started_on=probation.started_on + timedelta(days=1))
    later = replace(later, completed_on=later.started_on)
    facts = subject(police, later)
    kinds = {flag.kind for flag in find_flags(facts, build_timeline(facts, DEFAULT), AS_OF)}
    assert FlagKind.DUPLICATE not in kinds


def test_an_assessment_in_progress_counts_towards_a_duplicate() -> None:
    """duplicates.md: an assessment counts unless cancelled or deleted."""
    probation = Assessment(
        Agency.PROBATION, "A-1", CRN, date(2025, 5, 1), None, AssessmentStatus.IN_PROGRESS
    )
    police = completed(Agency.POLICE, "PA-1", date(2025, 5, 6))
    flags = flags_of(subject(probation, police))
    assert summary(flags) == {
        (FlagKind.ASSESSED_BY_NON_OWNER, Agency.POLICE, "PA-1"),
        (FlagKind.DUPLICATE, Agency.POLICE, "PA-1"),
        (FlagKind.DUPLICATE, Agency.PROBATION, "A-1"),
    }
    redundant = {f.assessment_id: f.redundant for f in flags if f.kind is FlagKind.DUPLICATE}
    assert redundant == {"PA-1": True, "A-1": False}


def test_an_override_that_misplaces_an_assessment_names_the_manual_rule() -> None:
    """A probation assessment made while an override gave the subject to the police."""
    override = Override("O-1", Owner.POLICE, date(2025, 4, 1), date(2025, 6, 30))
    facts = replace(subject(PROBATION_APRIL), overrides=(override,))
    (flag,) = flags_of(facts)
    assert (flag.kind, flag.agency, flag.assessment_id) == (
        FlagKind.ASSESSED_BY_NON_OWNER,
        Agency.PROBATION,
        "WA-0",
    )
    assert (flag.owner_at_reference_date, flag.rule_at_reference_date) == (
        Owner.POLICE,
        RULE_MANUAL,
    )


def test_both_redundant_when_both_misplaced() -> None:
    custody = Period("C-1", CRN, date(2025, 4, 1), date(2025, 6, 30))
    police = completed(Agency.POLICE, "PA-1", date(2025, 5, 10))
    probation = completed(Agency.PROBATION, "A-1", date(2025, 5, 1))
    flags = flags_of(subject(police, probation, custodies=(custody,)))
    duplicates = [f for f in flags if f.kind is FlagKind.DUPLICATE]
    assert [f.redundant for f in duplicates] == [True, True]


# --- in-progress alerts ------------------------------------------------------


def test_in_progress_by_non_owner_uses_the_owner_at_as_of() -> None:
    police = Assessment(
        Agency.POLICE, "PA-1", POLICE_REF, date(2025, 2, 1), None, AssessmentStatus.IN_PROGRESS
    )
    facts = subject(police)
    during_licence = summary(flags_of(facts, as_of=date(2025, 6, 20)))
    assert (FlagKind.IN_PROGRESS_BY_NON_OWNER, Agency.POLICE, "PA-1") in during_licence
    assert flags_of(facts, as_of=date(2025, 2, 10)) == ()
    # Owner none (recall custody) is not "the other agency": no stop-work alert.
    recalled = subject(police, custodies=(RECALL,))
    assert flags_of(recalled, as_of=date(2025, 5, 20)) == ()


# --- person records and subject conflicts -------------------------------------


def test_duplicate_person_record() -> None:
    second = replace(PROBATION_PERSON, person_id="D000001", area="NE")
    facts = replace(subject(), persons=(second, POLICE_PERSON, PROBATION_PERSON))
    flags = [f for f in flags_of(facts) if f.kind is FlagKind.DUPLICATE_PERSON_RECORD]
    assert len(flags) == 1
    flag = flags[0]
    assert (flag.agency, flag.person_ids, flag.area) == (
        Agency.PROBATION,
        ("D000001", CRN),
        "NE",
    )
    assert (flag.assessment_id, flag.reference_date, flag.counterpart) == (None, None, None)
    assert flag.key == (
        FlagKind.DUPLICATE_PERSON_RECORD.value,
        "probation",
        "D000001,W900000",
    )


def test_a_flag_keeps_its_key_under_another_subject() -> None:
    police = completed(Agency.POLICE, "WPA-0", date(2025, 5, 10))
    facts = subject(police, PROBATION_APRIL)
    moved = replace(facts, subject_id="subject-2")
    assert [f.key for f in flags_of(moved)] == [f.key for f in flags_of(facts)]
    assert {f.subject_id for f in flags_of(moved)} == {"subject-2"}


def test_flag_notices_still_name_the_subject_in_their_key() -> None:
    police = completed(Agency.POLICE, "WPA-0", date(2025, 5, 10))
    facts = subject(police, PROBATION_APRIL)
    timeline = build_timeline(facts, DEFAULT)
    keys = {
        notice.key
        for notice in notices_for_subject(facts, timeline, flags_of(facts))
        if notice.kind == NOTICE_FLAG and notice.agency is Agency.POLICE
    }
    assert keys == {
        "flag|assessed_by_non_owner|subject-1|police|WPA-0",
        "flag|duplicate|subject-1|police|WPA-0",
    }


def test_gender_and_dob_conflicts_are_review_items() -> None:
    woman = replace(POLICE_PERSON, gender=Gender.FEMALE, date_of_birth=date(1970, 1, 1))
    facts = replace(subject(), persons=(PROBATION_PERSON, woman))
    kinds = {f.kind for f in flags_of(facts)}
    assert kinds == {FlagKind.GENDER_CONFLICT, FlagKind.DOB_CONFLICT}
    assert not kinds & DUPLICATE_REPORT_KINDS


def test_absent_date_of_birth_is_not_a_conflict() -> None:
    unknown = replace(POLICE_PERSON, date_of_birth=None)
    facts = replace(subject(), persons=(PROBATION_PERSON, unknown))
    assert flags_of(facts) == ()


def test_report_kinds() -> None:
    assert {FlagKind.GENDER_CONFLICT, FlagKind.DOB_CONFLICT}.isdisjoint(DUPLICATE_REPORT_KINDS)
    assert len(DUPLICATE_REPORT_KINDS) == 5


# --- properties --------------------------------------------------------------

DAYS = st.dates(min_value=date(2024, 6, 1), max_value=date(2027, 6, 30))


@st.composite
def assessments(draw: st.DrawFn) -> Assessment:
    agency = draw(st.sampled_from(Agency))
    started = draw(DAYS)
    status = draw(st.sampled_from(AssessmentStatus))
    finished = started + timedelta(days=draw(st.integers(0, 30)))
    return Assessment(
        agency=agency,
        id=f"{agency.value[:2]}-{draw(st.integers(0, 6))}",
        person_id=CRN if agency is Agency.PROBATION else POLICE_REF,
        started_on=started,
        completed_on=finished if status is AssessmentStatus.COMPLETED else None,
        status=status,
    )


@st.composite
def facts_with_assessments(draw: st.DrawFn) -> SubjectFacts:
    items = draw(st.lists(assessments(), max_size=8, unique_by=lambda a: (a.agency, a.id)))
    custodies = draw(
        st.lists(st.builds(Period, st.just("C"), st.just(CRN), DAYS, DAYS), max_size=1)
    )
    return subject(*items, custodies=tuple(custodies))


def shuffled_with_repeat(items: tuple[T, ...], rnd: Random) -> tuple[T, ...]:
    doubled = [*items, *items[:1]]
    rnd.shuffle(doubled)
    return tuple(doubled)


@settings(max_examples=100, deadline=None)
@given(facts_with_assessments(), st.randoms(use_true_random=False), DAYS)
def test_flags_ignore_record_order_and_repeats(
    facts: SubjectFacts, rnd: Random, as_of: date
) -> None:
    scrambled = replace(
        facts,
        assessments=shuffled_with_repeat(facts.assessments, rnd),
        persons=shuffled_with_repeat(facts.persons, rnd),
    )
    timeline = build_timeline(facts, DEFAULT)
    assert find_flags(scrambled, timeline, as_of, W) == find_flags(facts, timeline, as_of, W)


@settings(max_examples=100, deadline=None)
@given(facts_with_assessments(), DAYS)
def test_duplicates_come_in_pairs_across_agencies(facts: SubjectFacts, as_of: date) -> None:
    flags = flags_of(facts, as_of)
    keys = [flag.key for flag in flags]
    assert len(keys) == len(set(keys))
    assert keys == sorted(keys)
    duplicates = {(f.agency, f.assessment_id): f for f in flags if f.kind is FlagKind.DUPLICATE}
    misplaced = {
        (f.agency, f.assessment_id)
        for f in flags
        if f.kind in {FlagKind.ASSESSED_BY_NON_OWNER, FlagKind.ASSESSED_WITHOUT_OWNER}
    }
    for (agency, assessment_id), flag in duplicates.items():
        assert flag.counterpart is not None
        assert flag.reference_date is not None
        other = (flag.counterpart.agency, flag.counterpart.assessment_id)
        assert flag.counterpart.agency is not agency
        assert other in duplicates
        assert flag.redundant is ((agency, assessment_id) in misplaced)
        assert flag.assessment_status is not AssessmentStatus.CANCELLED
        assert (agency, assessment_id) in misplaced or other in misplaced
        assert abs((flag.counterpart.reference_date - flag.reference_date).days) <= W
    assert {agency for agency, _ in duplicates} in ({Agency.POLICE, Agency.PROBATION}, set())
