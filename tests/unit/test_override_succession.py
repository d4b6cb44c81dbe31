"""Subject succession: an override stays with the records it was made on when subjects join
or split, and follows its subject id's successor when it kept none (pure core)."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from sync.core.consolidate import FeedState
from sync.core.decide import DecisionInputs, Decisions, decide
from sync.core.linking import assign_subject_ids, override_place, ranked_holders, successions
from sync.core.policy import RULE_MANUAL, PolicySettings
from sync.core.records import (
    Agency,
    Gender,
    Offence,
    Override,
    Owner,
    Period,
    Person,
    RecordRef,
    Supervision,
    SupervisionKind,
)

P, Q = Agency.PROBATION, Agency.POLICE
A, B, C, D = (RecordRef(P, f"A00000{n}") for n in range(1, 5))
X, Y, Z, W = (RecordRef(Q, f"X-{n}") for n in range(1, 5))
SHARED_PNC = "1980/0000018L"
OVERRIDE = Override("OVR-1", Owner.PROBATION, date(2020, 1, 1), date(2020, 12, 31))


def mint(ref: RecordRef, attempt: int) -> str:
    return f"S-{ref.agency}-{ref.person_id}-{attempt}"


def test_two_subjects_merging_leave_the_vanished_id_to_the_subject_that_kept_its_id() -> None:
    previous = {A: "S1", X: "S2"}
    assert successions(previous, {A: "S1", X: "S1"}) == {"S2": "S1"}


def test_three_subjects_merging_leave_both_vanished_ids_to_the_one_kept() -> None:
    previous = {A: "S1", X: "S2", Y: "S3"}
    assert successions(previous, dict.fromkeys((A, X, Y), "S1")) == {"S2": "S1", "S3": "S1"}


def test_a_subject_split_across_two_others_goes_to_the_one_holding_most_of_it() -> None:
    previous = {A: "S", B: "S", C: "S", X: "T", Y: "T", Z: "T", W: "U", D: "U"}
    # A joins T's records; B and C join U's, but U keeps its id (more of U's records).
    current = {A: "T", X: "T", Y: "T", Z: "T", B: "U", C: "U", W: "U", D: "U"}
    assert successions(previous, current) == {"S": "U"}


def test_an_even_split_goes_to_the_subject_holding_the_smallest_record() -> None:
    previous = {A: "S", B: "S", X: "T", Y: "T", Z: "U", W: "U"}
    current = {B: "T", X: "T", Y: "T", A: "U", Z: "U", W: "U"}
    assert successions(previous, current) == {"S": "U"}  # U holds A, the smallest


def test_a_subject_whose_records_were_all_deleted_has_no_successor() -> None:
    assert successions({A: "S1", B: "S1", X: "S2"}, {X: "S2"}) == {}


def test_a_subject_that_lost_records_and_joined_another_goes_to_that_one() -> None:
    assert successions({A: "S1", B: "S1", X: "S2"}, {A: "S2", X: "S2"}) == {"S1": "S2"}


def test_a_record_merged_away_by_its_agency_counts_where_its_target_is() -> None:
    assert successions({A: "S1", X: "S2"}, {B: "S2", X: "S2"}, {A: B}) == {"S1": "S2"}


def test_ids_kept_by_a_split_or_unchanged_have_no_successor() -> None:
    previous = {A: "S1", B: "S1", C: "S1", X: "S2"}
    assert successions(previous, {A: "S1", B: "S1", C: "S-new", X: "S2"}) == {}


def test_an_override_without_records_follows_its_id_s_successor_or_stays() -> None:
    now = {A: "S1", X: "S1"}
    successors = {"S2": "S1", "S8": "S1"}
    assert override_place((), "S2", now, {}, successors, owner=P) == "S1"
    assert override_place((), "S9", now, {}, successors, owner=None) == "S9"


def test_an_override_stays_with_the_part_holding_most_of_the_records_it_was_made_on() -> None:
    """An operator's link undone by an unlink: the part keeping the subject id is the other
    person's, so the override goes with its own record to the part that took a new id."""
    after_unlink = {A: "S-kept", X: "S-kept", B: "S-new"}
    assert override_place((B,), "S-kept", after_unlink, {}, {}, owner=None) == "S-new"
    assert override_place((A, X, B), "S-kept", after_unlink, {}, {}, owner=None) == "S-kept"
    # One record each way: the part holding the smallest of them (police sorts first).
    assert override_place((B, X), "S-kept", after_unlink, {}, {}, owner=None) == "S-kept"
    assert override_place((A, B), "S-kept", after_unlink, {}, {}, owner=None) == "S-kept"


def test_an_override_naming_an_agency_stays_with_a_part_holding_that_agency_s_records() -> None:
    """One probation and one police record unlinked: "probation owns" stays with the person
    probation holds, "police owns" with the police's, however the records sort."""
    after_unlink = {X: "S-kept", B: "S-new"}
    assert override_place((B, X), "S-kept", after_unlink, {}, {}, owner=P) == "S-new"
    assert override_place((B, X), "S-kept", after_unlink, {}, {}, owner=Q) == "S-kept"
    # Even against more records: two police records of one person do not outweigh it.
    two_police = {X: "S-kept", Y: "S-kept", B: "S-new"}
    assert override_place((B, X, Y), "S-kept", two_police, {}, {}, owner=P) == "S-new"
    # Among the parts holding the agency's records, the one holding most records.
    three = {A: "S1", X: "S1", B: "S2", C: "S3", Y: "S3", Z: "S3"}
    assert override_place((A, X, B, C, Y, Z), "S0", three, {}, {}, owner=P) == "S3"
    # No part holds the agency's records: most records, as for an override naming none.
    assert override_place((X, Y, Z), "S0", three, {}, {}, owner=P) == "S3"


def test_a_record_merged_away_counts_where_its_target_is_and_deleted_ones_nowhere() -> None:
    now = {B: "S2", D: "S3"}
    assert override_place((A, D), "S1", now, {A: B}, {}, owner=None) == "S2"  # tie: A's target B
    assert override_place((C, D), "S1", now, {}, {}, owner=None) == "S3"  # C deleted: nowhere
    assert override_place((C, X), "S1", now, {}, {"S1": "S2"}, owner=None) == "S2"  # none current


_NAMED_REFS = st.sampled_from([A, B, C, D, X, Y, Z, W])


@given(
    st.lists(_NAMED_REFS, unique=True, max_size=8),
    st.dictionaries(_NAMED_REFS, st.sampled_from(["S1", "S2", "S3"])),
    st.sampled_from([P, Q, None]),
)
def test_an_override_goes_to_a_subject_holding_its_records_whenever_one_does(
    records: list[RecordRef], subject_of: dict[RecordRef, str], owner: Agency | None
) -> None:
    """To a subject holding most of its records among those holding its agency's records,
    or among all holders when none holds its agency's (or it names none)."""
    place = override_place(records, "S0", subject_of, {}, {}, owner=owner)
    held = [subject_of[ref] for ref in records if ref in subject_of]
    knowing = {subject_of[ref] for ref in records if ref in subject_of and ref.agency is owner}
    if not held:
        assert place == "S0"
    else:
        candidates = knowing or set(held)
        assert place in candidates
        assert held.count(place) == max(held.count(sid) for sid in candidates)


# -- the reproduction, as a decision pass ------------------------------------------


def _person(ref: RecordRef, pnc: str | None) -> Person:
    born = date(1970, 1, 2)
    return Person(ref.agency, ref.person_id, "ROMEO", "A", Gender.MALE, "NW", born, pnc)


def _state(pnc: str | None) -> FeedState:
    """A probation person on a sexual licence, a registered police person."""
    probation, police = RecordRef(P, "X600001"), RecordRef(Q, "P6")
    return FeedState(
        persons=[_person(probation, pnc), _person(police, pnc)],
        supervisions=[
            Supervision(
                "S6",
                "X600001",
                SupervisionKind.LICENCE,
                Offence.SEXUAL,
                date(2025, 3, 1),
                date(2027, 2, 28),
            )
        ],
        registrations=[Period("R6", "P6", date(2019, 1, 1), None)],
    )


def _inputs(previous: dict[RecordRef, str], overrides: dict[str, list[Override]]) -> DecisionInputs:
    return DecisionInputs(
        as_of=date(2026, 11, 28),
        window_days=90,
        policy=PolicySettings(),
        previous_membership=previous,
        taken_subject_ids=frozenset(previous.values()),
        overrides=overrides,
    )


def _rule_on(decisions: Decisions, day: date) -> set[tuple[str, str, str]]:
    return {
        (decision.subject_id, str(segment.owner), segment.rule)
        for decision in decisions.subjects
        for segment in decision.timeline
        if segment.covers(day)
    }


def test_an_override_follows_its_subject_into_the_subject_its_records_joined() -> None:
    first = decide(_state(None), _inputs({}, {}), mint)
    ids = {ref: d.subject_id for d in first.subjects for ref in d.members}
    kept, vanished = sorted(ids.values())  # a tie on records: the smaller id is kept
    linked = decide(_state(SHARED_PNC), _inputs(ids, {vanished: [OVERRIDE]}), mint)
    assert [d.subject_id for d in linked.subjects] == [kept]
    assert linked.successors == {vanished: kept}
    assert _rule_on(linked, date(2020, 6, 1)) == {(kept, "probation", RULE_MANUAL)}
    assert linked.subjects[0].facts.overrides == (OVERRIDE,)


# -- properties ----------------------------------------------------------------------

_REFS = [RecordRef(agency, f"R{n}") for agency in (P, Q) for n in range(6)]
_PNCS = [None, "1980/0000018L", "1996/0000018E", "2001/0000001J"]
refs_with_pncs = st.dictionaries(st.sampled_from(_REFS), st.sampled_from(_PNCS), max_size=12)


def _pass(
    pncs: dict[RecordRef, str | None],
    previous: dict[RecordRef, str],
    overrides: dict[str, list[Override]],
) -> Decisions:
    state = FeedState(persons=[_person(ref, pnc) for ref, pnc in sorted(pncs.items())])
    return decide(state, _inputs(previous, overrides), mint)


@given(refs_with_pncs, refs_with_pncs)
def test_every_override_applies_to_one_current_subject_while_any_of_its_records_lives(
    before: dict[RecordRef, str | None], after: dict[RecordRef, str | None]
) -> None:
    first = _pass(before, {}, {})
    previous = {ref: d.subject_id for d in first.subjects for ref in d.members}
    overrides = {
        d.subject_id: [Override(f"OVR-{d.subject_id}", Owner.NONE, date(2020, 1, 1), None)]
        for d in first.subjects
    }
    second = _pass(after, previous, overrides)
    applied: dict[str, list[str]] = {}
    for decision in second.subjects:
        for override in decision.facts.overrides:
            applied.setdefault(override.id, []).append(decision.subject_id)
    for old_id, [override] in overrides.items():
        lives = any(ref in after for ref, sid in previous.items() if sid == old_id)
        assert len(applied.get(override.id, [])) == (1 if lives else 0)


# A previous membership, and the groups a later pass finds (each record in the first
# set that holds it; records in none of them are gone).
_MEMBERSHIPS = st.dictionaries(st.sampled_from(_REFS), st.sampled_from(["S1", "S2", "S3", "S4"]))
_REGROUPINGS = st.lists(st.sets(st.sampled_from(_REFS), min_size=1), max_size=6)


def _relinked(previous: dict[RecordRef, str], sets: list[set[RecordRef]]) -> dict[RecordRef, str]:
    """The subject id of each record once `sets` are grouped and given ids after `previous`."""
    seen: set[RecordRef] = set()
    groups = []
    for found in sets:
        group = tuple(sorted(found - seen))
        seen |= found
        if group:
            groups.append(group)
    ids = assign_subject_ids(groups, previous, set(previous.values()), mint)
    return {ref: ids[group] for group in groups for ref in group}


@given(_MEMBERSHIPS, _REGROUPINGS)
def test_a_successor_is_current_and_holds_most_of_the_vanished_subject_s_records(
    previous: dict[RecordRef, str], sets: list[set[RecordRef]]
) -> None:
    subject_of = _relinked(previous, sets)
    found_successors = successions(previous, subject_of)
    current = set(subject_of.values())
    for old_id in set(previous.values()):
        held: dict[str, int] = {}
        for ref, sid in previous.items():
            if sid == old_id and ref in subject_of:
                held[subject_of[ref]] = held.get(subject_of[ref], 0) + 1
        if old_id in current or not held:
            assert old_id not in found_successors
        else:
            assert found_successors[old_id] in current
            assert held[found_successors[old_id]] == max(held.values())


@given(_MEMBERSHIPS, _REGROUPINGS)
def test_the_holders_of_a_vanished_id_are_every_subject_holding_its_records_successor_first(
    previous: dict[RecordRef, str], sets: list[set[RecordRef]]
) -> None:
    subject_of = _relinked(previous, sets)
    found_successors = successions(previous, subject_of)
    for old_id, successor in found_successors.items():
        held = [ref for ref, sid in previous.items() if sid == old_id and ref in subject_of]
        holders = ranked_holders((ref, subject_of[ref]) for ref in held)
        assert holders[0] == successor
        assert set(holders) == {subject_of[ref] for ref in held}
        counts = [sum(1 for ref in held if subject_of[ref] == sid) for sid in holders]
        assert counts == sorted(counts, reverse=True)
