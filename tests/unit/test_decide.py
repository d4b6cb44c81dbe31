"""Unit tests of a whole pass of the pure core: feed records in, subjects and orphans out."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from sync.core.consolidate import (
    MISSING_PERSON,
    FeedState,
    Merge,
    Orphan,
    consolidate,
    repoint,
)
from sync.core.decide import (
    DecisionInputs,
    LinkAct,
    decide,
    decide_around_act,
    membership_matched_by,
)
from sync.core.duplicates import FlagKind
from sync.core.linking import MATCHED_BY_MANUAL
from sync.core.policy import PI_15_2015, PolicySettings, PolicyVersion
from sync.core.records import (
    Agency,
    Assessment,
    AssessmentStatus,
    Gender,
    Offence,
    Owner,
    Period,
    Person,
    RecordRef,
    Supervision,
    SupervisionKind,
)
from sync.core.rules import RULE_PROB_SEXUAL

P, Q = Agency.PROBATION, Agency.POLICE
PNC = "2002/0073319Z"
INPUTS = DecisionInputs(as_of=date(2026, 11, 28), window_days=180, policy=PolicySettings())


def person(agency: Agency, person_id: str, pnc: str | None = None) -> Person:
    area = "NW" if agency is P else "LANC"
    return Person(agency, person_id, "EXAMPLE", "A", Gender.MALE, area, date(1970, 1, 2), pnc)


def mint(ref: RecordRef, attempt: int) -> str:
    return f"S-{ref.person_id}-{attempt}"


def completed(agency: Agency, assessment_id: str, person_id: str, on: date) -> Assessment:
    return Assessment(agency, assessment_id, person_id, on, on, AssessmentStatus.COMPLETED)


LICENCE = Supervision(
    "S-1", "X000001", SupervisionKind.LICENCE, Offence.SEXUAL, date(2025, 3, 1), date(2027, 2, 28)
)
REGISTRATION = Period("R-1", "LAN-1", date(2019, 1, 1), None)
PROBATION_APRIL = completed(P, "A-1", "X000001", date(2025, 4, 20))
POLICE_MAY = completed(Q, "PA-1", "LAN-1", date(2025, 5, 10))


def test_a_pass_links_decides_and_flags_the_worked_example_from_its_records() -> None:
    state = FeedState(
        persons=(person(P, "X000001", PNC), person(Q, "LAN-1", PNC)),
        supervisions=(LICENCE,),
        registrations=(REGISTRATION,),
        assessments=(PROBATION_APRIL, POLICE_MAY),
    )
    decisions = decide(state, INPUTS, mint)
    (subject,) = decisions.subjects
    assert decisions.orphans == ()
    assert subject.members == (RecordRef(Q, "LAN-1"), RecordRef(P, "X000001"))
    assert [edge.matched_by for edge in subject.edges] == ["PNC"]
    assert {ref: how for ref, (how, _) in membership_matched_by(subject).items()} == {
        RecordRef(P, "X000001"): "PNC",
        RecordRef(Q, "LAN-1"): "PNC",
    }
    licence = [s for s in subject.timeline if s.rule == RULE_PROB_SEXUAL]
    assert [(s.start, s.end, s.owner) for s in licence] == [
        (date(2025, 3, 1), date(2027, 2, 28), Owner.PROBATION)
    ]
    assert {(f.kind, f.assessment_id) for f in subject.flags} == {
        (FlagKind.ASSESSED_BY_NON_OWNER, "PA-1"),
        (FlagKind.DUPLICATE, "PA-1"),
        (FlagKind.DUPLICATE, "A-1"),
    }


def test_records_whose_person_never_arrived_are_orphans_in_any_order() -> None:
    missing_assessment = completed(P, "A-9", "X000099", date(2025, 4, 20))
    orphaned_registrations = (
        Period("R-2", "LAN-9", date(2019, 1, 1), None),
        Period("R-1", "LAN-9", date(2019, 1, 1), None),
    )
    state = FeedState(
        persons=(person(P, "X000001"),),
        registrations=orphaned_registrations,
        assessments=(missing_assessment, PROBATION_APRIL),
    )
    merged = consolidate(state)
    assert merged.assessments == [PROBATION_APRIL]
    assert merged.orphans == [
        Orphan(Q, "registration", "R-1", "LAN-9", MISSING_PERSON),
        Orphan(Q, "registration", "R-2", "LAN-9", MISSING_PERSON),
        Orphan(P, "assessment", "A-9", "X000099", MISSING_PERSON),
    ]
    reversed_state = FeedState(
        persons=state.persons,
        registrations=orphaned_registrations[::-1],
        assessments=state.assessments[::-1],
    )
    assert consolidate(reversed_state).orphans == merged.orphans


def test_a_merge_chain_that_runs_into_a_loop_ends_at_the_loop() -> None:
    persons = tuple(person(P, f"X00000{n}") for n in (1, 2, 3))
    merges = (
        Merge(P, "M-1", "X000001", "X000002"),
        Merge(P, "M-2", "X000002", "X000003"),
        Merge(P, "M-3", "X000003", "X000002"),
    )
    merged = consolidate(FeedState(persons=persons, merges=merges))
    assert set(merged.persons) == {RecordRef(P, "X000002")}
    assert merged.merged_into == {
        RecordRef(P, "X000001"): RecordRef(P, "X000002"),
        RecordRef(P, "X000003"): RecordRef(P, "X000002"),
    }


def test_two_merges_of_one_record_resolve_alike_in_either_order() -> None:
    persons = tuple(person(P, f"X00000{n}") for n in (1, 2, 3))
    merges = (Merge(P, "M-1", "X000001", "X000002"), Merge(P, "M-2", "X000001", "X000003"))
    one_way = consolidate(FeedState(persons=persons, merges=merges))
    other_way = consolidate(FeedState(persons=persons, merges=merges[::-1]))
    assert one_way.merged_into == other_way.merged_into


def test_an_operators_link_follows_a_merged_away_record_at_either_end() -> None:
    persons = (person(P, "X000003"), person(P, "X000005"), person(P, "X000007"))
    merges = (Merge(P, "M-1", "X000001", "X000005"), Merge(P, "M-2", "X000009", "X000007"))
    state = FeedState(persons=persons, merges=merges)
    for a, b in (("X000001", "X000003"), ("X000003", "X000009")):
        act = LinkAct(RecordRef(P, a), RecordRef(P, b), link=True)
        inputs = replace(INPUTS, link_acts=(act,))
        groups = {subject.members for subject in decide(state, inputs, mint).subjects}
        live_target = "X000005" if a == "X000001" else "X000007"
        linked = tuple(sorted((RecordRef(P, "X000003"), RecordRef(P, live_target))))
        assert linked in groups


def test_a_supervision_counts_on_the_probation_record_it_names() -> None:
    state = FeedState(persons=(person(P, "X000001"),), supervisions=(LICENCE,))
    merged = consolidate(state)
    assert (merged.supervisions, merged.orphans) == ([LICENCE], [])


def test_an_assessment_is_placed_by_its_completion_date_only_once_completed() -> None:
    started, finished = date(2025, 2, 20), date(2025, 3, 10)
    done = Assessment(Q, "PA-2", "LAN-1", started, finished, AssessmentStatus.COMPLETED)
    assert done.reference_date == finished
    for status in (AssessmentStatus.IN_PROGRESS, AssessmentStatus.CANCELLED):
        unfinished = Assessment(Q, "PA-2", "LAN-1", started, finished, status)
        assert unfinished.reference_date == started
    assert (
        Assessment(Q, "PA-2", "LAN-1", started, None, AssessmentStatus.COMPLETED).reference_date
        == started
    )


def test_an_operators_unlink_follows_a_merged_away_record() -> None:
    persons = (person(P, "X000003", PNC), person(P, "X000009", PNC))
    state = FeedState(persons=persons, merges=(Merge(P, "M-1", "X000002", "X000009"),))
    unlinked = LinkAct(RecordRef(P, "X000002"), RecordRef(P, "X000003"), link=False)
    inputs = replace(INPUTS, link_acts=(unlinked,))
    assert len(decide(state, INPUTS, mint).subjects) == 1
    assert [s.members for s in decide(state, inputs, mint).subjects] == [
        (RecordRef(P, "X000003"),),
        (RecordRef(P, "X000009"),),
    ]


WORKED_EXAMPLE = FeedState(
    persons=(person(P, "X000001", PNC), person(Q, "LAN-1", PNC)),
    supervisions=(LICENCE,),
    registrations=(REGISTRATION,),
    assessments=(
        PROBATION_APRIL,
        POLICE_MAY,
        Assessment(Q, "PA-2", "LAN-1", date(2026, 11, 1), None, AssessmentStatus.IN_PROGRESS),
    ),
)
NO_CUSTODY_RULE = PolicyVersion(
    "pi-later", date(2020, 1, 1), tuple(r for r in PI_15_2015.rules if r[0] != "NONE-CUSTODY")
)


@pytest.mark.parametrize(
    "changed",
    [
        replace(INPUTS, window_days=10),
        replace(INPUTS, as_of=date(2028, 1, 1)),  # the police own ARMS again by then
        replace(INPUTS, policy=PolicySettings(policies=(PI_15_2015, NO_CUSTODY_RULE))),
    ],
)
def test_a_preview_under_other_settings_decides_as_a_pass_under_them(
    changed: DecisionInputs,
) -> None:
    before, after = decide_around_act(WORKED_EXAMPLE, INPUTS, changed, mint)
    assert before == decide(WORKED_EXAMPLE, INPUTS, mint)
    assert after == decide(WORKED_EXAMPLE, changed, mint)
    assert after != before


@pytest.mark.parametrize(
    ("pnc", "cro", "found_by"), [(PNC, None, "PNC"), (None, "065656/91H", "CRO")]
)
def test_an_operators_link_on_a_pair_an_identifier_links_reads_manual(
    pnc: str | None, cro: str | None, found_by: str
) -> None:
    persons = (
        replace(person(P, "X000001", pnc), cro=cro),
        replace(person(Q, "LAN-1", pnc), cro=cro),
    )
    state = FeedState(persons=persons)
    (found,) = decide(state, INPUTS, mint).subjects
    assert [edge.matched_by for edge in found.edges] == [found_by]
    operator = LinkAct(RecordRef(Q, "LAN-1"), RecordRef(P, "X000001"), link=True)
    (linked,) = decide(state, replace(INPUTS, link_acts=(operator,)), mint).subjects
    assert [edge.matched_by for edge in linked.edges] == [MATCHED_BY_MANUAL]
    assert {how for how, _ in membership_matched_by(linked).values()} == {MATCHED_BY_MANUAL}


def previous_pass(state: FeedState) -> DecisionInputs:
    """Inputs that remember the subjects of a first pass over `state`."""
    first = decide(state, INPUTS, mint)
    return replace(
        INPUTS,
        previous_membership={ref: s.subject_id for s in first.subjects for ref in s.members},
        taken_subject_ids=frozenset(s.subject_id for s in first.subjects),
    )


def test_a_preview_of_an_unlink_that_splits_a_subject_decides_both_parts_afresh() -> None:
    current = previous_pass(WORKED_EXAMPLE)
    pair = (RecordRef(Q, "LAN-1"), RecordRef(P, "X000001"))
    changed = replace(current, link_acts=(LinkAct(*pair, link=False),))
    before, after = decide_around_act(WORKED_EXAMPLE, current, changed, mint)
    assert (before, after) == (
        decide(WORKED_EXAMPLE, current, mint),
        decide(WORKED_EXAMPLE, changed, mint),
    )
    (kept,) = before.subjects
    assert [s.members for s in after.subjects] == [(pair[0],), (pair[1],)]
    assert kept.subject_id in {s.subject_id for s in after.subjects}
    assert len({s.subject_id for s in after.subjects}) == 2
    assert all(f.kind is not FlagKind.DUPLICATE for s in after.subjects for f in s.flags)


def test_a_preview_of_a_link_inside_one_subject_changes_only_its_edges() -> None:
    current = previous_pass(WORKED_EXAMPLE)
    operator = LinkAct(RecordRef(Q, "LAN-1"), RecordRef(P, "X000001"), link=True)
    changed = replace(current, link_acts=(operator,))
    before, after = decide_around_act(WORKED_EXAMPLE, current, changed, mint)
    assert (before, after) == (
        decide(WORKED_EXAMPLE, current, mint),
        decide(WORKED_EXAMPLE, changed, mint),
    )
    ((old,), (new,)) = before.subjects, after.subjects
    assert (new.subject_id, new.members, new.timeline, new.flags) == (
        old.subject_id,
        old.members,
        old.timeline,
        old.flags,
    )
    assert [e.matched_by for e in new.edges] == [MATCHED_BY_MANUAL]


def test_a_pass_lists_its_subjects_in_subject_id_order() -> None:
    persons = tuple(person(P, f"X00000{n}") for n in (1, 2, 3))
    remembered = {p.ref: f"S-{label}" for p, label in zip(persons, "cab", strict=True)}
    inputs = replace(
        INPUTS, previous_membership=remembered, taken_subject_ids=frozenset(remembered.values())
    )
    decisions = decide(FeedState(persons=persons), inputs, mint)
    assert [(s.subject_id, s.members) for s in decisions.subjects] == [
        ("S-a", (RecordRef(P, "X000002"),)),
        ("S-b", (RecordRef(P, "X000003"),)),
        ("S-c", (RecordRef(P, "X000001"),)),
    ]


def test_repointing_a_batchs_records_orphans_those_whose_person_is_elsewhere() -> None:
    """A distributed batch holds some persons only: records of the others are its orphans."""
    batch_person = person(P, "X000002")
    supervisions = tuple(
        replace(LICENCE, id=f"S-{n}", person_id=f"X00000{n}") for n in (1, 2, 3, 5)
    )
    merged_into = {
        RecordRef(P, "X000001"): RecordRef(P, "X000002"),
        RecordRef(P, "X000003"): RecordRef(P, "X000004"),
    }
    result = repoint(
        FeedState(supervisions=supervisions), {batch_person.ref: batch_person}, merged_into
    )
    assert [(s.id, s.person_id) for s in result.supervisions] == [
        ("S-1", "X000002"),
        ("S-2", "X000002"),
    ]
    assert result.orphans == [
        Orphan(P, "supervision", "S-3", "X000003"),
        Orphan(P, "supervision", "S-5", "X000005"),
    ]
    assert result.persons == {batch_person.ref: batch_person}
