"""Operators' links and unlinks in a decision pass, against merged persons (pure core)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from sync.core.consolidate import FeedState, Merge
from sync.core.decide import (
    DecisionInputs,
    FoundLinks,
    LinkAct,
    Linked,
    Review,
    decide,
    link_subjects,
)
from sync.core.linking import MATCHED_BY_MANUAL, Edge
from sync.core.policy import PolicySettings
from sync.core.records import Agency, Gender, Person, RecordRef

P, Q = Agency.PROBATION, Agency.POLICE
SHARED_PNC = "1996/0000018E"
POLICE_ONE = RecordRef(Q, "LAN-1")
MERGED_AWAY = RecordRef(P, "X000002")
MERGE_TARGET = RecordRef(P, "X000001")


def person(ref: RecordRef, pnc: str | None = None) -> Person:
    return Person(ref.agency, ref.person_id, "EXAMPLE", "A", Gender.MALE, "NW", None, pnc)


def mint(ref: RecordRef, attempt: int) -> str:
    return f"S-{ref.agency}-{ref.person_id}-{attempt}"


def inputs(*acts: LinkAct) -> DecisionInputs:
    """Inputs holding the operators' acts, oldest first."""
    return DecisionInputs(
        as_of=date(2026, 11, 28), window_days=90, policy=PolicySettings(), link_acts=acts
    )


def link(a: RecordRef, b: RecordRef) -> LinkAct:
    return LinkAct(a, b, link=True)


def unlink(a: RecordRef, b: RecordRef) -> LinkAct:
    return LinkAct(a, b, link=False)


def merged_state(police_pnc: str | None = None) -> FeedState:
    """A police record, and two probation records the source merged into one."""
    return FeedState(
        persons=[
            person(POLICE_ONE, police_pnc),
            person(MERGE_TARGET, SHARED_PNC),
            person(MERGED_AWAY),
        ],
        merges=[Merge(P, "M-1", MERGED_AWAY.person_id, MERGE_TARGET.person_id)],
    )


def manual(a: RecordRef, b: RecordRef) -> Edge:
    low, high = sorted((a, b))
    return Edge(low, high, MATCHED_BY_MANUAL)


def members_of(linked: Linked) -> set[frozenset[RecordRef]]:
    return {frozenset(group) for group in linked.groups}


def groups(*refs: tuple[RecordRef, ...]) -> set[frozenset[RecordRef]]:
    return {frozenset(group) for group in refs}


def test_a_link_to_a_merged_away_record_follows_the_merge_to_its_target() -> None:
    linked = link_subjects(merged_state(), inputs(link(POLICE_ONE, MERGED_AWAY)), mint)
    assert members_of(linked) == groups((MERGE_TARGET, POLICE_ONE))
    assert set(linked.subject_of) == {MERGE_TARGET, POLICE_ONE}
    (edges,) = linked.edges_by_subject.values()
    assert edges == (manual(POLICE_ONE, MERGE_TARGET),)


def test_a_link_between_records_no_live_person_holds_adds_no_subject() -> None:
    gone = RecordRef(Q, "LAN-9")
    acts = (link(gone, MERGED_AWAY), link(POLICE_ONE, RecordRef(Q, "LAN-8")))
    decisions = decide(merged_state(), inputs(*acts), mint)
    assert {d.members for d in decisions.subjects} == {(MERGE_TARGET,), (POLICE_ONE,)}
    assert all(d.edges == () for d in decisions.subjects)


def test_a_link_within_one_merged_person_is_left_to_the_merge() -> None:
    linked = link_subjects(merged_state(), inputs(link(MERGE_TARGET, MERGED_AWAY)), mint)
    assert members_of(linked) == groups((MERGE_TARGET,), (POLICE_ONE,))
    assert dict(linked.edges_by_subject) == {}


def test_an_unlink_from_a_merged_away_record_keeps_its_target_apart() -> None:
    state = merged_state(police_pnc=SHARED_PNC)
    assert members_of(link_subjects(state, inputs(), mint)) == groups((MERGE_TARGET, POLICE_ONE))
    linked = link_subjects(state, inputs(unlink(MERGED_AWAY, POLICE_ONE)), mint)
    assert members_of(linked) == groups((MERGE_TARGET,), (POLICE_ONE,))


OTHER_POLICE = RecordRef(Q, "LAN-2")
REVIEWED = Review(POLICE_ONE, MERGE_TARGET, 9.5, "surname=exact forename=disagree")
UNTOUCHED = Review(OTHER_POLICE, MERGE_TARGET, 8.0, "surname=exact forename=disagree")


def reviewing_linker(persons: Sequence[Person]) -> FoundLinks:
    """A linker that links nothing and asks for two pairs to be reviewed."""
    return FoundLinks(edges=(), reviews=(REVIEWED, UNTOUCHED))


def test_a_pair_an_operator_linked_or_unlinked_is_no_longer_reviewed() -> None:
    state = merged_state()
    state = FeedState(persons=[*state.persons, person(OTHER_POLICE)], merges=state.merges)
    assert link_subjects(state, inputs(), mint, reviewing_linker).reviews == (REVIEWED, UNTOUCHED)
    for act in (link(MERGED_AWAY, POLICE_ONE), unlink(POLICE_ONE, MERGED_AWAY)):
        reviews = link_subjects(state, inputs(act), mint, reviewing_linker).reviews
        assert reviews == (UNTOUCHED,)


# A link and an unlink that name one live pair through a merge: the later act stands.
LINKED_DIRECTLY = link(POLICE_ONE, MERGE_TARGET)
UNLINKED_THROUGH_THE_MERGE = unlink(MERGED_AWAY, POLICE_ONE)


def test_a_link_made_after_an_unlink_it_meets_through_a_merge_stands() -> None:
    acts = inputs(UNLINKED_THROUGH_THE_MERGE, LINKED_DIRECTLY)
    assert members_of(link_subjects(merged_state(), acts, mint)) == groups(
        (MERGE_TARGET, POLICE_ONE)
    )


def test_an_unlink_made_after_a_link_it_meets_through_a_merge_stands() -> None:
    acts = inputs(LINKED_DIRECTLY, UNLINKED_THROUGH_THE_MERGE)
    assert members_of(link_subjects(merged_state(), acts, mint)) == groups(
        (MERGE_TARGET,), (POLICE_ONE,)
    )


@given(st.permutations(["link", "unlink", "relink"]))
def test_the_latest_of_acts_meeting_through_a_merge_decides_whichever_names_which(
    order: list[str],
) -> None:
    """A link and an unlink naming the merged-away record, a link naming its target: each
    possible order of the three acts ends as the last one says."""
    named = {
        "link": link(POLICE_ONE, MERGED_AWAY),
        "unlink": unlink(POLICE_ONE, MERGE_TARGET),
        "relink": link(MERGE_TARGET, POLICE_ONE),
    }
    acts = inputs(*(named[act] for act in order))
    together = members_of(link_subjects(merged_state(), acts, mint)) == groups(
        (MERGE_TARGET, POLICE_ONE)
    )
    assert together is named[order[-1]].link
