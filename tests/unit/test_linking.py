"""Identifier linking, clusters, stable subject ids, merges and orphans (pure core)."""

from __future__ import annotations

import random
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from sync.core.consolidate import (
    MERGE_LOOP,
    MERGE_SUPERSEDED,
    MISSING_PERSON,
    FeedState,
    Merge,
    consolidate,
    merges_in_force,
    resolve_merges,
)
from sync.core.linking import (
    Edge,
    assign_subject_ids,
    clusters,
    identifier_edges,
    ranked_holders,
    successions,
)
from sync.core.records import (
    Agency,
    Assessment,
    AssessmentStatus,
    Gender,
    Period,
    Person,
    RecordRef,
)

P, Q = Agency.PROBATION, Agency.POLICE


def person(agency: Agency, pid: str, pnc: str | None = None, cro: str | None = None) -> Person:
    return Person(agency, pid, "EXAMPLE", "A", Gender.MALE, "NW", date(1975, 6, 15), pnc, cro)


def mint(ref: RecordRef, attempt: int) -> str:
    return f"S-{ref.agency}-{ref.person_id}-{attempt}"


def test_records_sharing_pnc_or_cro_link_within_and_across_agencies() -> None:
    persons = [
        person(P, "D000001", pnc="1996/0000018E"),
        person(P, "D000002", pnc="1996/0000018E"),
        person(Q, "D-1", pnc="1996/0000018E"),
        person(Q, "K-1", cro="065656/91H"),
        person(P, "K000001", cro="065656/91H"),
        person(Q, "J-1"),
        person(P, "J000001"),
    ]
    edges = identifier_edges(persons)
    assert {(e.a.person_id, e.b.person_id, e.matched_by) for e in edges} == {
        ("D-1", "D000001", "PNC"),
        ("D-1", "D000002", "PNC"),
        ("K-1", "K000001", "CRO"),
    }
    groups = clusters([p.ref for p in persons], edges)
    assert sorted(len(g) for g in groups) == [1, 1, 2, 3]


def test_subject_ids_are_kept_when_records_join_and_minted_for_new_clusters() -> None:
    a, b, c = RecordRef(P, "A000001"), RecordRef(Q, "B-1"), RecordRef(Q, "C-1")
    first = assign_subject_ids([(a,), (b,)], {}, set(), mint)
    assert first == {(a,): "S-probation-A000001-0", (b,): "S-police-B-1-0"}
    previous = {ref: sid for group, sid in first.items() for ref in group}
    joined = assign_subject_ids([(a, b), (c,)], previous, set(first.values()), mint)
    assert joined[(a, b)] == "S-police-B-1-0"  # tie on count: the smallest id is kept
    assert joined[(c,)] == "S-police-C-1-0"


def test_a_split_subject_keeps_its_id_on_the_larger_part_and_never_reuses_ids() -> None:
    a, b, c = RecordRef(P, "A000001"), RecordRef(P, "A000002"), RecordRef(Q, "C-1")
    previous = {a: "S1", b: "S1", c: "S1"}
    split = assign_subject_ids([(a, b), (c,)], previous, {"S1", "S-police-C-1-0"}, mint)
    assert split[(a, b)] == "S1"
    assert split[(c,)] == "S-police-C-1-1"


def test_a_record_merged_away_hands_its_subject_id_to_a_target_new_to_the_ledger() -> None:
    source, target = RecordRef(P, "A000001"), RecordRef(P, "A000002")
    previous = {source: "S-old"}
    assert assign_subject_ids([(target,)], previous, {"S-old"}, mint, {source: target}) == {
        (target,): "S-old"
    }
    unfollowed = assign_subject_ids([(target,)], previous, {"S-old"}, mint)
    assert unfollowed == {(target,): "S-probation-A000002-0"}


def test_a_merge_keeps_the_target_s_own_subject_id_before_its_source_s() -> None:
    source, target = RecordRef(P, "A000001"), RecordRef(P, "A000002")
    previous = {source: "S-a", target: "S-b"}  # the source's id is the smaller
    follow = {source: target}
    assert assign_subject_ids([(target,)], previous, {"S-a", "S-b"}, mint, follow) == {
        (target,): "S-b"
    }


def test_records_sharing_both_numbers_are_linked_by_pnc() -> None:
    persons = [
        person(P, "D000001", pnc="1996/0000018E", cro="065656/91H"),
        person(Q, "D-1", pnc="1996/0000018E", cro="065656/91H"),
    ]
    assert [e.matched_by for e in identifier_edges(persons)] == ["PNC"]


A1, A2, A3, A4 = (RecordRef(P, f"A00000{n}") for n in range(1, 5))


def test_a_subject_split_in_equal_parts_stays_with_the_part_holding_its_smallest_record() -> None:
    previous = dict.fromkeys((A1, A2, A3, A4), "S1")
    split = assign_subject_ids([(A2, A3), (A1, A4)], previous, {"S1"}, mint)
    assert split[(A1, A4)] == "S1"
    assert split[(A2, A3)] == "S-probation-A000002-0"


def test_a_subject_split_in_equal_parts_stays_with_the_record_its_id_was_minted_from() -> None:
    """An agency undoing a merge: A2's id, which A1 shared while merged into it, stays
    with A2 although A1 is the smaller record."""
    minted_for_a2 = mint(A2, 0)
    previous = {A1: minted_for_a2, A2: minted_for_a2}
    split = assign_subject_ids([(A1,), (A2,)], previous, {minted_for_a2, mint(A1, 0)}, mint)
    assert split == {(A2,): minted_for_a2, (A1,): mint(A1, 1)}


def test_records_merged_away_break_a_tie_between_a_cluster_s_own_records() -> None:
    source = RecordRef(P, "A000009")
    previous = {A1: "S-a", A2: "S-b", source: "S-b"}
    held = assign_subject_ids([(A1, A2)], previous, {"S-a", "S-b"}, mint, {source: A2})
    assert held == {(A1, A2): "S-b"}  # not the smaller S-a: S-b's merged record counts


def test_a_vanished_subject_s_successor_holds_most_of_its_records_then_the_smallest() -> None:
    previous = dict.fromkeys((A1, A2, A3, A4), "S-old")
    even = {A1: "N2", A4: "N2", A2: "N1", A3: "N1"}
    assert successions(previous, even) == {"S-old": "N2"}
    assert ranked_holders(even.items()) == ("N2", "N1")
    uneven = {A1: "N2", A2: "N1", A3: "N1", A4: "N1"}
    assert successions(previous, uneven) == {"S-old": "N1"}
    assert ranked_holders(uneven.items()) == ("N1", "N2")


def _pnc_edge(pair: tuple[RecordRef, RecordRef]) -> Edge:
    a, b = sorted(pair)
    return Edge(a, b, "PNC")


refs = st.builds(
    RecordRef, st.sampled_from([P, Q]), st.from_regex(r"[A-Z][0-9]{6}", fullmatch=True)
)


@given(st.lists(st.tuples(refs, refs), max_size=20), st.randoms(use_true_random=False))
def test_clusters_do_not_depend_on_edge_order(
    pairs: list[tuple[RecordRef, RecordRef]], rnd: random.Random
) -> None:
    edges = [_pnc_edge(pair) for pair in pairs]
    nodes = [ref for pair in pairs for ref in pair]
    shuffled = list(edges)
    rnd.shuffle(shuffled)
    assert clusters(nodes, edges) == clusters(reversed(nodes), shuffled)
    groups = clusters(nodes, edges)
    assert sorted(ref for g in groups for ref in g) == sorted(set(nodes))


def test_merge_chains_resolve_to_their_end_and_cycles_to_the_smallest() -> None:
    known = {RecordRef(P, x) for x in ("X000001", "X000002", "X000003")}
    merges = [Merge(P, "m1", "X000001", "X000002"), Merge(P, "m2", "X000002", "X000003")]
    assert resolve_merges(merges_in_force(merges), known) == {
        RecordRef(P, "X000001"): RecordRef(P, "X000003"),
        RecordRef(P, "X000002"): RecordRef(P, "X000003"),
    }
    cycle = [*merges, Merge(P, "m3", "X000003", "X000001")]
    resolved = resolve_merges(merges_in_force(cycle), known)
    assert set(resolved.values()) == {RecordRef(P, "X000001")}


def test_merged_records_follow_the_target_and_unknown_people_are_orphans() -> None:
    state = FeedState(
        persons=[person(P, "G000001"), person(P, "G000002")],
        merges=[Merge(P, "GM-1", "G000002", "G000001"), Merge(P, "GM-2", "G000009", "G000008")],
        custodies=[Period("C-1", "G000002", date(2024, 1, 1), None)],
        registrations=[Period("R-1", "NOBODY-1", date(2024, 1, 1), None)],
        assessments=[
            Assessment(P, "GA-1", "G000002", date(2024, 2, 1), None, AssessmentStatus.IN_PROGRESS)
        ],
    )
    result = consolidate(state)
    assert set(result.persons) == {RecordRef(P, "G000001")}
    assert [c.person_id for c in result.custodies] == ["G000001"]
    assert [a.person_id for a in result.assessments] == ["G000001"]
    assert {(o.record_type, o.record_id) for o in result.orphans} == {
        ("registration", "R-1"),
        ("merge", "GM-2"),
    }


def test_a_chain_resolves_to_its_last_arrived_person_while_its_end_waits() -> None:
    # A→B→C with C not yet arrived: A means B; the B→C merge waits as an orphan.
    state = FeedState(
        persons=[person(Q, "A-1"), person(Q, "B-1")],
        merges=[Merge(Q, "MG1", "A-1", "B-1"), Merge(Q, "MG2", "B-1", "C-1")],
        registrations=[Period("RA", "A-1", date(2024, 1, 1), None)],
    )
    result = consolidate(state)
    assert set(result.persons) == {RecordRef(Q, "B-1")}
    assert result.merged_into == {RecordRef(Q, "A-1"): RecordRef(Q, "B-1")}
    assert [r.person_id for r in result.registrations] == ["B-1"]
    assert [(o.record_type, o.record_id, o.missing_person_id) for o in result.orphans] == [
        ("merge", "MG2", "C-1")
    ]


def test_the_merge_that_closes_a_loop_waits_as_a_loop_not_as_a_missing_person() -> None:
    state = FeedState(
        persons=[person(Q, "A-1"), person(Q, "B-1"), person(Q, "C-1")],
        merges=[
            Merge(Q, "MG1", "A-1", "B-1"),
            Merge(Q, "MG2", "B-1", "C-1"),
            Merge(Q, "MG3", "C-1", "A-1"),
            Merge(Q, "MG4", "D-1", "E-1"),
        ],
    )
    result = consolidate(state)
    assert set(result.persons) == {RecordRef(Q, "A-1")}
    assert [(o.record_id, o.cause) for o in result.orphans] == [
        ("MG1", MERGE_LOOP),
        ("MG4", MISSING_PERSON),
    ]


def test_a_chain_passes_through_a_person_that_never_arrived() -> None:
    known = {RecordRef(Q, "A-1"), RecordRef(Q, "C-1")}
    merges = [Merge(Q, "MG1", "A-1", "B-1"), Merge(Q, "MG2", "B-1", "C-1")]
    assert resolve_merges(merges_in_force(merges), known) == {
        RecordRef(Q, "A-1"): RecordRef(Q, "C-1"),
        RecordRef(Q, "B-1"): RecordRef(Q, "C-1"),
    }


_IDS = [f"X00000{n}" for n in range(1, 6)]


@given(
    st.lists(st.tuples(st.sampled_from(_IDS), st.sampled_from(_IDS)), max_size=6),
    st.sets(st.sampled_from(_IDS)),
)
def test_every_merged_away_record_means_a_known_person_on_its_chain(
    pairs: list[tuple[str, str]], arrived: set[str]
) -> None:
    merges = [Merge(P, f"m{i}", a, b) for i, (a, b) in enumerate(pairs) if a != b]
    known = {RecordRef(P, x) for x in arrived}
    direct = {RecordRef(P, m.source_person_id): RecordRef(P, m.target_person_id) for m in merges}
    resolved = resolve_merges(merges_in_force(merges), known)
    for source, target in resolved.items():
        assert target in known
        chain, current = [], source
        while current in direct and current not in chain:
            chain.append(current)
            current = direct[current]
        assert target in [*chain, current]
    for source in direct.keys() - resolved.keys():
        # Unresolved only when nothing after it on its chain has arrived.
        current, visited = direct[source], {source}
        while current not in visited:
            assert current not in known
            visited.add(current)
            if current not in direct:
                break
            current = direct[current]


# --- two merges of one source ---------------------------------------------------


def test_of_two_merges_of_one_source_the_later_stands_whatever_the_ids_or_order() -> None:
    later = Merge(Q, "MG10", "A-1", "B-1", "2026-06-01T09:00:00.000000Z")
    earlier = Merge(Q, "MG9", "A-1", "C-1", "2026-01-01T09:00:00.000000Z")
    persons = [person(Q, "A-1"), person(Q, "B-1"), person(Q, "C-1")]
    for merges in ([later, earlier], [earlier, later]):
        result = consolidate(FeedState(persons=persons, merges=merges))
        assert result.merged_into == {RecordRef(Q, "A-1"): RecordRef(Q, "B-1")}
        assert [(o.record_id, o.cause) for o in result.orphans] == [("MG9", MERGE_SUPERSEDED)]


def test_of_two_merges_on_one_day_the_later_in_the_day_stands() -> None:
    """The time of day counts, not the date alone: the earlier merge's id comes later in
    text order (a tie-break that must not apply)."""
    afternoon = Merge(Q, "MG10", "A-1", "C-1", "2026-06-01T17:00:00.000000Z")
    morning = Merge(Q, "MG9", "A-1", "B-1", "2026-06-01T09:00:00.000000Z")
    persons = [person(Q, "A-1"), person(Q, "B-1"), person(Q, "C-1")]
    for merges in ([afternoon, morning], [morning, afternoon]):
        result = consolidate(FeedState(persons=persons, merges=merges))
        assert result.merged_into == {RecordRef(Q, "A-1"): RecordRef(Q, "C-1")}
        assert [(o.record_id, o.cause) for o in result.orphans] == [("MG9", MERGE_SUPERSEDED)]


def test_a_merge_superseded_by_one_still_waiting_for_its_target_is_set_aside_as_such() -> None:
    """The later merge's target has not arrived: the source still counts as a person of
    its own (the later merge waits), and the earlier merge is not applied meanwhile."""
    later = Merge(Q, "MG2", "A-1", "B-1", "2026-06-01T09:00:00.000000Z")
    earlier = Merge(Q, "MG1", "A-1", "C-1", "2026-01-01T09:00:00.000000Z")
    persons = [person(Q, "A-1"), person(Q, "C-1")]
    result = consolidate(FeedState(persons=persons, merges=[earlier, later]))
    assert result.merged_into == {}
    assert set(result.persons) == {RecordRef(Q, "A-1"), RecordRef(Q, "C-1")}
    assert [(o.record_id, o.cause) for o in result.orphans] == [
        ("MG1", MERGE_SUPERSEDED),
        ("MG2", MISSING_PERSON),
    ]


def test_two_merges_of_one_source_into_one_target_are_both_applied() -> None:
    merges = [
        Merge(Q, "MG1", "A-1", "B-1", "2026-01-01T09:00:00.000000Z"),
        Merge(Q, "MG2", "A-1", "B-1", "2026-06-01T09:00:00.000000Z"),
    ]
    result = consolidate(FeedState(persons=[person(Q, "A-1"), person(Q, "B-1")], merges=merges))
    assert result.merged_into == {RecordRef(Q, "A-1"): RecordRef(Q, "B-1")}
    assert result.orphans == []
