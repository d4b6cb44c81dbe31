"""One decision pass over the whole picture: subjects, timelines and flags.

The pure heart of a sync cycle. From the current records of both feeds it
resolves merges, links person records into subjects (keeping subject ids
stable), puts each override with the subject holding most of the records it
was made on (else its id's successor), gathers each subject's facts, and asks
the policy engine for its
timeline and the duplicate rules for its flags. No I/O: the caller loads the
state and stores the result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TypeVar

from sync.core.consolidate import Consolidated, FeedState, Orphan, consolidate
from sync.core.duplicates import Flag, find_flags
from sync.core.linking import (
    MATCHED_BY_MANUAL,
    MATCHED_BY_NONE,
    Edge,
    assign_subject_ids,
    clusters,
    identifier_edges,
    override_place,
    successions,
)
from sync.core.policy import PolicySettings, Segment, build_timeline
from sync.core.records import (
    Agency,
    Assessment,
    Override,
    Period,
    Person,
    RecordRef,
    SubjectFacts,
    Supervision,
    owning_agency,
)

_Dependent = TypeVar("_Dependent", Supervision, Period, Assessment)


@dataclass(frozen=True, slots=True)
class Review:
    """Two person records a person must look at before they are linked (or not)."""

    a: RecordRef
    b: RecordRef
    weight: float
    reason: str


@dataclass(frozen=True, slots=True)
class FoundLinks:
    """What a linker found: edges to follow now, and pairs for people to review."""

    edges: Sequence[Edge]
    reviews: Sequence[Review] = ()


Linker = Callable[[Sequence[Person]], FoundLinks]


def link_on_identifiers(persons: Sequence[Person]) -> FoundLinks:
    """Links on canonical PNC and CRO only (the baseline linker)."""
    return FoundLinks(identifier_edges(persons))


def link_probabilistically(persons: Sequence[Person]) -> FoundLinks:
    """Links from the probabilistic matcher; uncertain pairs become reviews."""
    # Imported here: a ledger that links on identifiers alone never loads the matcher.
    from sync.core.matching import match_population

    result = match_population(persons)
    return FoundLinks(
        [Edge(link.a, link.b, link.matched_by, link.weight) for link in result.links],
        [Review(r.a, r.b, r.weight, r.reason) for r in result.reviews],
    )


@dataclass(frozen=True, slots=True)
class SubjectDecision:
    """Everything decided about one subject in a pass."""

    facts: SubjectFacts
    members: tuple[RecordRef, ...]
    edges: tuple[Edge, ...]
    timeline: tuple[Segment, ...]
    flags: tuple[Flag, ...]

    @property
    def subject_id(self) -> str:
        """The subject's stable id."""
        return self.facts.subject_id


Pair = tuple[RecordRef, RecordRef]  # two person records, the smaller first (`ordered_pair`)


@dataclass(frozen=True, slots=True)
class LinkAct:
    """An operator's `link` of two person records or, with `link` false, their `unlink`."""

    a: RecordRef
    b: RecordRef
    link: bool


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    """What a pass needs besides the records: history, overrides and settings."""

    as_of: date
    window_days: int
    policy: PolicySettings
    previous_membership: Mapping[RecordRef, str] = field(default_factory=dict)
    taken_subject_ids: frozenset[str] = frozenset()
    overrides: Mapping[str, Sequence[Override]] = field(default_factory=dict)
    link_acts: Sequence[LinkAct] = ()  # operators' links and unlinks, oldest first


@dataclass(frozen=True, slots=True)
class Decisions:
    """The outcome of a pass: one decision per subject, plus what could not be placed.

    `successors` maps each previous subject id that vanished in this pass to
    the subject its records joined (see `sync.core.linking.successions`).
    """

    subjects: tuple[SubjectDecision, ...]
    merged_into: Mapping[RecordRef, RecordRef]
    orphans: tuple[Orphan, ...]
    reviews: tuple[Review, ...] = ()
    successors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Linked:
    """The linking half of a pass: who is who, before any policy is applied."""

    merged: Consolidated
    groups: tuple[tuple[RecordRef, ...], ...]
    subject_of: Mapping[RecordRef, str]
    edges_by_subject: Mapping[str, tuple[Edge, ...]]
    reviews: tuple[Review, ...] = ()
    successors: Mapping[str, str] = field(default_factory=dict)


def link_subjects(
    state: FeedState,
    inputs: DecisionInputs,
    mint: Callable[[RecordRef, int], str],
    linker: Linker = link_on_identifiers,
) -> Linked:
    """Resolve merges and group person records into subjects with stable ids.

    Also works out the successor of each previous subject id that vanished.
    """
    merged = consolidate(state)
    return _link_found(merged, _found_links(merged, linker), inputs, mint)


def _found_links(merged: Consolidated, linker: Linker) -> FoundLinks:
    """What the linker finds among the live persons (operators' acts aside)."""
    return linker(sorted(merged.persons.values(), key=lambda p: p.ref))


def _link_found(
    merged: Consolidated,
    found: FoundLinks,
    inputs: DecisionInputs,
    mint: Callable[[RecordRef, int], str],
) -> Linked:
    """Subjects from the linker's findings and the operators' links and unlinks."""
    manual_edges, forbidden = _live_manual_acts(inputs, merged)
    edges = _allowed_edges(found.edges, manual_edges, forbidden)
    groups = clusters(merged.persons, edges)
    ids = assign_subject_ids(
        groups,
        inputs.previous_membership,
        set(inputs.taken_subject_ids),
        mint,
        merged.merged_into,
    )
    subject_of = {ref: ids[group] for group in groups for ref in group}
    edges_by_subject: dict[str, list[Edge]] = defaultdict(list)
    for edge in edges:
        edges_by_subject[subject_of[edge.a]].append(edge)
    decided = forbidden | {(e.a, e.b) for e in manual_edges}
    return Linked(
        merged,
        tuple(groups),
        subject_of,
        {sid: tuple(found) for sid, found in edges_by_subject.items()},
        tuple(r for r in found.reviews if (r.a, r.b) not in decided),
        successions(inputs.previous_membership, subject_of, merged.merged_into),
    )


def decide_subject(
    facts: SubjectFacts,
    members: tuple[RecordRef, ...],
    edges: tuple[Edge, ...],
    inputs: DecisionInputs,
) -> SubjectDecision:
    """The timeline and flags of one subject."""
    timeline = build_timeline(facts, inputs.policy)
    flags = find_flags(facts, timeline, inputs.as_of, inputs.window_days)
    return SubjectDecision(facts, members, edges, timeline, flags)


def decide(
    state: FeedState,
    inputs: DecisionInputs,
    mint: Callable[[RecordRef, int], str],
    linker: Linker = link_on_identifiers,
) -> Decisions:
    """Link, decide and flag every subject in `state`.

    Each override applies to the subject holding most of the records it was
    made on (`place_overrides`).
    """
    return decide_linked(link_subjects(state, inputs, mint, linker), inputs)


def decide_linked(linked: Linked, inputs: DecisionInputs) -> Decisions:
    """Decide and flag every subject of a linking made with the same `inputs`."""
    overrides = place_overrides(inputs.overrides, linked)
    facts = gather_facts(linked.merged, linked.subject_of, overrides)
    return _pass_of(linked, lambda group: _decide_group(linked, facts, group, inputs))


def _decide_group(
    linked: Linked,
    facts: Mapping[str, SubjectFacts],
    group: tuple[RecordRef, ...],
    inputs: DecisionInputs,
) -> SubjectDecision:
    """The decision of one group of records linked as one subject."""
    subject_id = linked.subject_of[group[0]]
    edges = linked.edges_by_subject.get(subject_id, ())
    return decide_subject(facts[subject_id], group, edges, inputs)


def _pass_of(
    linked: Linked, decide_group: Callable[[tuple[RecordRef, ...]], SubjectDecision]
) -> Decisions:
    """A pass: each group's decision, in subject id order, with what linking left over."""
    decisions = sorted(map(decide_group, linked.groups), key=lambda d: d.subject_id)
    return Decisions(
        tuple(decisions),
        linked.merged.merged_into,
        tuple(linked.merged.orphans),
        linked.reviews,
        linked.successors,
    )


def decide_around_act(
    state: FeedState,
    current: DecisionInputs,
    changed: DecisionInputs,
    mint: Callable[[RecordRef, int], str],
    linker: Linker = link_on_identifiers,
) -> tuple[Decisions, Decisions]:
    """The passes without and with an act over the same records: `decide` for each.

    Both passes share what the act cannot change. Merges are resolved and the
    linker runs once. An act that only moves overrides (assign, revoke) keeps
    the linking too; one that links or unlinks records links again from the
    linker's findings. Then only the subjects the act changes are decided
    again: those whose records, id, edges or overrides differ. Every other
    subject's decision is the same pure function of the same facts.
    """
    merged = consolidate(state)
    found = _found_links(merged, linker)
    linked = _link_found(merged, found, current, mint)
    before = decide_linked(linked, current)
    if not _same_settings(current, changed):
        return before, decide(state, changed, mint, linker)
    relinked = (
        linked if _same_linking(current, changed) else _link_found(merged, found, changed, mint)
    )
    return before, _decide_changes(before, linked, relinked, current, changed)


def _same_settings(current: DecisionInputs, changed: DecisionInputs) -> bool:
    """Whether two inputs decide by the same date, window and policy."""
    return (current.as_of, current.window_days, current.policy) == (
        changed.as_of,
        changed.window_days,
        changed.policy,
    )


def _same_linking(current: DecisionInputs, changed: DecisionInputs) -> bool:
    """Whether two inputs link records alike (they may differ in overrides)."""
    return replace(changed, overrides=current.overrides) == current


def _decide_changes(
    before: Decisions,
    linked: Linked,
    relinked: Linked,
    current: DecisionInputs,
    changed: DecisionInputs,
) -> Decisions:
    """The pass with `changed`, reusing each decision of `before` the change leaves alone."""
    old_overrides = place_overrides(current.overrides, linked)
    new_overrides = place_overrides(changed.overrides, relinked)
    previous = {decision.subject_id: decision for decision in before.subjects}

    def unchanged(group: tuple[RecordRef, ...]) -> SubjectDecision | None:
        subject_id = relinked.subject_of[group[0]]
        kept = previous.get(subject_id)
        if (
            kept is None
            or kept.members != group
            or kept.edges != relinked.edges_by_subject.get(subject_id, ())
            or old_overrides.get(subject_id, ()) != new_overrides.get(subject_id, ())
        ):
            return None
        return kept

    kept = {group: unchanged(group) for group in relinked.groups}
    redo = [group for group, decision in kept.items() if decision is None]
    facts = gather_facts(
        _restricted(relinked.merged, {ref for group in redo for ref in group}),
        relinked.subject_of,
        new_overrides,
    )
    return _pass_of(
        relinked, lambda group: kept[group] or _decide_group(relinked, facts, group, changed)
    )


def _restricted(merged: Consolidated, refs: set[RecordRef]) -> Consolidated:
    """The persons `refs` and the records pointing at them, alone."""

    def held(agency: Agency, person_id: str) -> bool:
        return RecordRef(agency, person_id) in refs

    return replace(
        merged,
        persons={ref: person for ref, person in merged.persons.items() if ref in refs},
        supervisions=[s for s in merged.supervisions if held(Agency.PROBATION, s.person_id)],
        custodies=[c for c in merged.custodies if held(Agency.PROBATION, c.person_id)],
        registrations=[r for r in merged.registrations if held(Agency.POLICE, r.person_id)],
        assessments=[a for a in merged.assessments if held(a.agency, a.person_id)],
    )


def _live_pair(a: RecordRef, b: RecordRef, merged: Consolidated) -> Pair | None:
    """The two live person records an operator's pair now means, in order.

    A merged-away record means its merge target. `None` when either record is
    not a live person (deleted, never arrived) or both now mean one person.
    """
    pair = pair_through_merges(a, b, merged.merged_into)
    if pair is None or pair[0] not in merged.persons or pair[1] not in merged.persons:
        return None
    return pair


def pair_through_merges(
    a: RecordRef, b: RecordRef, merged_into: Mapping[RecordRef, RecordRef]
) -> Pair | None:
    """The two person records `a` and `b` now mean (each merged-away one its merge target),
    in order; `None` when both now mean one person."""
    live_a = merged_into.get(a, a)
    live_b = merged_into.get(b, b)
    return None if live_a == live_b else ordered_pair(live_a, live_b)


def _live_manual_acts(
    inputs: DecisionInputs, merged: Consolidated
) -> tuple[list[Edge], frozenset[Pair]]:
    """Operators' links (as `MANUAL` edges) and unlinks (as pairs kept apart) between live
    persons, each end followed through its merges.

    On each live pair the latest act stands, whichever records it named: a link
    made after an unlink it meets through an agency's merge joins the pair, and
    an unlink made after such a link parts it.
    """
    latest = latest_link_acts(inputs.link_acts, lambda a, b: _live_pair(a, b, merged))
    edges = [Edge(a, b, MATCHED_BY_MANUAL) for (a, b), act in latest.items() if act.link]
    return edges, frozenset(pair for pair, act in latest.items() if not act.link)


def latest_link_acts(
    acts: Iterable[LinkAct], pair_of: Callable[[RecordRef, RecordRef], Pair | None]
) -> dict[Pair, LinkAct]:
    """The latest of `acts` (oldest first) on each pair `pair_of` makes of an act's two
    records (None: the act counts for no pair), whichever records it named."""
    latest: dict[Pair, LinkAct] = {}
    for act in acts:
        pair = pair_of(act.a, act.b)
        if pair is not None:
            latest[pair] = act
    return latest


def ordered_pair(a: RecordRef, b: RecordRef) -> Pair:
    """The pair in canonical order (smaller reference first)."""
    return (a, b) if a <= b else (b, a)


def _allowed_edges(
    found: Iterable[Edge],
    manual: Iterable[Edge],
    forbidden: frozenset[Pair],
) -> list[Edge]:
    """Drop edges an operator has unlinked; keep one edge per pair, in order.

    An operator's link outranks what the linker found for the same pair, so a
    pair both share and an operator linked reads `MANUAL` whatever the
    identifier; among edges of one kind the first in order is kept.
    """
    kept: dict[Pair, Edge] = {}
    for edge in [*sorted(manual), *sorted(found)]:
        pair = ordered_pair(edge.a, edge.b)
        if pair not in forbidden:
            kept.setdefault(pair, edge)
    return sorted(kept.values())


def override_places(overrides: Mapping[str, Sequence[Override]], linked: Linked) -> dict[str, str]:
    """The subject each override (by id) belongs to in `linked`, from the subject id it is
    stored under: see `sync.core.linking.override_place`."""
    return {
        override.id: override_place(
            override.records,
            subject_id,
            linked.subject_of,
            linked.merged.merged_into,
            linked.successors,
            owner=owning_agency(override.owner),
        )
        for subject_id, found in overrides.items()
        for override in found
    }


def place_overrides(
    overrides: Mapping[str, Sequence[Override]], linked: Linked
) -> dict[str, tuple[Override, ...]]:
    """Overrides by the subject each belongs to in `linked` (`override_places`).

    Their order does not matter: the policy resolves overlapping overrides
    whatever the order.
    """
    places = override_places(overrides, linked)
    placed: dict[str, list[Override]] = defaultdict(list)
    for found in overrides.values():
        for override in found:
            placed[places[override.id]].append(override)
    return {subject_id: tuple(found) for subject_id, found in placed.items()}


def gather_facts(
    merged: Consolidated,
    subject_of: Mapping[RecordRef, str],
    overrides: Mapping[str, Sequence[Override]],
) -> dict[str, SubjectFacts]:
    """Each subject's facts: its persons and every record re-pointed at them."""
    persons: dict[str, list[Person]] = defaultdict(list)
    for ref, person in merged.persons.items():
        persons[subject_of[ref]].append(person)
    supervisions = _group(merged.supervisions, subject_of, lambda _: Agency.PROBATION)
    custodies = _group(merged.custodies, subject_of, lambda _: Agency.PROBATION)
    registrations = _group(merged.registrations, subject_of, lambda _: Agency.POLICE)
    assessments = _group(merged.assessments, subject_of, lambda item: item.agency)
    return {
        subject_id: SubjectFacts(
            subject_id=subject_id,
            persons=tuple(sorted(people, key=lambda p: p.ref)),
            supervisions=tuple(sorted(supervisions[subject_id], key=lambda s: s.id)),
            custodies=tuple(sorted(custodies[subject_id], key=lambda c: c.id)),
            registrations=tuple(sorted(registrations[subject_id], key=lambda r: r.id)),
            assessments=tuple(sorted(assessments[subject_id], key=lambda a: (a.agency, a.id))),
            overrides=tuple(overrides.get(subject_id, ())),
        )
        for subject_id, people in persons.items()
    }


def _group(
    items: Iterable[_Dependent],
    subject_of: Mapping[RecordRef, str],
    agency_of: Callable[[_Dependent], Agency],
) -> defaultdict[str, list[_Dependent]]:
    grouped: defaultdict[str, list[_Dependent]] = defaultdict(list)
    for item in items:
        grouped[subject_of[RecordRef(agency_of(item), item.person_id)]].append(item)
    return grouped


def membership_matched_by(decision: SubjectDecision) -> dict[RecordRef, tuple[str, float | None]]:
    """For each member, what linked it into the subject (`NONE` for a lone record)."""
    result: dict[RecordRef, tuple[str, float | None]] = dict.fromkeys(
        decision.members, (MATCHED_BY_NONE, None)
    )
    for edge in decision.edges:
        for ref in (edge.a, edge.b):
            if result[ref][0] == MATCHED_BY_NONE:
                result[ref] = (edge.matched_by, edge.weight)
    return result
