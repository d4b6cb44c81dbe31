"""Apply the feed consumer rules that need the whole picture: merges and orphans.

Given the current (latest, not deleted) version of every record, this resolves
merge chains so that records pointing at a merged-away person belong to the
merge target, drops merged-away persons as persons of their own, and reports
records whose person never arrived as orphans. Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sync.core.records import Agency, Assessment, Period, Person, RecordRef, Supervision


@dataclass(frozen=True, slots=True)
class Merge:
    """A merge record: `source` now means `target` (same agency).

    `updated_at` is the record's canonical UTC timestamp key (sortable as
    text): of two merges of one source to different targets, the later stands.
    """

    agency: Agency
    id: str
    source_person_id: str
    target_person_id: str
    updated_at: str = ""


# Why an orphan could not be applied.
MISSING_PERSON = "missing-person"
MERGE_LOOP = "merge-loop"
MERGE_SUPERSEDED = "merge-superseded"


@dataclass(frozen=True, slots=True)
class Orphan:
    """A record that could not be applied to a live person, and why.

    Most often its person (after merges) never arrived (`MISSING_PERSON`). A
    merge whose person records are each merged into the other, directly or
    round a longer loop, is left unapplied instead (`MERGE_LOOP`): the loop
    resolves to its smallest reference, and this merge points the other way.
    A merge of a person record that a later merge sends to another person is
    not applied either (`MERGE_SUPERSEDED`).
    """

    agency: Agency
    record_type: str
    record_id: str
    missing_person_id: str
    cause: str = MISSING_PERSON


@dataclass(frozen=True, slots=True)
class FeedState:
    """The current version of every record of both feeds, deleted ones left out."""

    persons: Sequence[Person] = ()
    merges: Sequence[Merge] = ()
    supervisions: Sequence[Supervision] = ()
    custodies: Sequence[Period] = ()
    registrations: Sequence[Period] = ()
    assessments: Sequence[Assessment] = ()


@dataclass(frozen=True, slots=True)
class Consolidated:
    """Live persons and every dependent record re-pointed at a live person."""

    persons: dict[RecordRef, Person]
    merged_into: dict[RecordRef, RecordRef]
    supervisions: list[Supervision] = field(default_factory=list)
    custodies: list[Period] = field(default_factory=list)
    registrations: list[Period] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)


def resolve_merges(
    in_force: Mapping[RecordRef, Merge], known: set[RecordRef]
) -> dict[RecordRef, RecordRef]:
    """Map each merged-away person to the live person it now means, given each one's
    merge in force (`merges_in_force`: of several merges of one source, the later).

    A chain is followed as far as its last known person: with A→B and B→C,
    A means C once C has arrived, and B until then (the B→C merge waits and is
    reported as an orphan by the caller). A merge none of whose chain has
    arrived waits too. A cycle resolves every member to its smallest known
    reference, so the outcome never depends on record order.
    """
    direct = {
        source: RecordRef(merge.agency, merge.target_person_id)
        for source, merge in in_force.items()
    }
    resolved = {source: _follow(source, direct, known) for source in direct}
    return {source: target for source, target in resolved.items() if target is not None}


def merges_in_force(merges: Iterable[Merge]) -> dict[RecordRef, Merge]:
    """Each merged-away person's merge in force: of several merges of one source, the
    one with the latest `updated_at` ("from now on"); on a tie, the id later in text
    order (a fixed choice that never depends on the order records arrive in)."""
    in_force: dict[RecordRef, Merge] = {}
    for merge in sorted(merges, key=lambda m: (m.updated_at, m.id)):
        in_force[RecordRef(merge.agency, merge.source_person_id)] = merge
    return in_force


def _follow(
    start: RecordRef, direct: Mapping[RecordRef, RecordRef], known: set[RecordRef]
) -> RecordRef | None:
    """The last known person on `start`'s merge chain (`None` when none has arrived)."""
    seen = [start]
    current = start
    last_known = None
    while current in direct:
        current = direct[current]
        if current in seen:
            cycle = [ref for ref in seen[seen.index(current) :] if ref in known]
            return min(cycle) if cycle else last_known
        seen.append(current)
        if current in known:
            last_known = current
    return last_known


def consolidate(state: FeedState) -> Consolidated:
    """Resolve merges and orphans over the current records of both feeds."""
    all_persons = {person.ref: person for person in state.persons}
    in_force = merges_in_force(state.merges)
    merged_into = resolve_merges(in_force, set(all_persons))
    live = {
        ref: person
        for ref, person in all_persons.items()
        if ref not in merged_into or merged_into[ref] == ref
    }
    merged_into = {ref: target for ref, target in merged_into.items() if target != ref}
    result = repoint(state, live, merged_into)
    result.orphans.extend(_merge_orphans(state.merges, in_force, merged_into, live))
    result.orphans.sort(key=lambda o: (o.agency, o.record_type, o.record_id))
    return result


def repoint(
    state: FeedState,
    persons: Mapping[RecordRef, Person],
    merged_into: Mapping[RecordRef, RecordRef],
) -> Consolidated:
    """Every dependent record re-pointed at the person it now means, given the merges.

    A record whose person (after merges) is not among `persons` is an orphan.
    `consolidate` gives the live persons of both feeds; a distributed batch
    gives its own subjects' persons and the merges into them.
    """
    live = dict(persons)
    result = Consolidated(persons=live, merged_into=dict(merged_into))

    def live_person(agency: Agency, person_id: str) -> str | None:
        if merged_into:
            ref = RecordRef(agency, person_id)
            target = merged_into.get(ref)
            if target is not None:
                return target.person_id if target in live else None
        # A RecordRef is a named tuple, so a plain pair finds it.
        return person_id if (agency, person_id) in live else None

    for items, agency, record_type, out in (
        (state.supervisions, Agency.PROBATION, "supervision", result.supervisions),
        (state.custodies, Agency.PROBATION, "custody", result.custodies),
        (state.registrations, Agency.POLICE, "registration", result.registrations),
    ):
        for item in items:
            target = live_person(agency, item.person_id)
            if target is None:
                result.orphans.append(Orphan(agency, record_type, item.id, item.person_id))
            else:
                out.append(item if item.person_id == target else replace(item, person_id=target))  # type: ignore[arg-type]
    for assessment in state.assessments:
        target = live_person(assessment.agency, assessment.person_id)
        if target is None:
            result.orphans.append(
                Orphan(assessment.agency, "assessment", assessment.id, assessment.person_id)
            )
        elif assessment.person_id == target:
            result.assessments.append(assessment)
        else:
            result.assessments.append(replace(assessment, person_id=target))
    return result


def _merge_orphans(
    merges: Sequence[Merge],
    in_force: Mapping[RecordRef, Merge],
    merged_into: Mapping[RecordRef, RecordRef],
    live: Mapping[RecordRef, Person],
) -> list[Orphan]:
    orphans = []
    for merge in merges:
        source = RecordRef(merge.agency, merge.source_person_id)
        target = RecordRef(merge.agency, merge.target_person_id)
        if in_force[source].target_person_id != merge.target_person_id:
            orphans.append(
                Orphan(merge.agency, "merge", merge.id, merge.target_person_id, MERGE_SUPERSEDED)
            )
        elif source not in merged_into and source not in live:
            orphans.append(Orphan(merge.agency, "merge", merge.id, merge.source_person_id))
        elif source not in merged_into and merged_into.get(target) == source:
            orphans.append(
                Orphan(merge.agency, "merge", merge.id, merge.target_person_id, MERGE_LOOP)
            )
        elif source not in merged_into:
            orphans.append(Orphan(merge.agency, "merge", merge.id, merge.target_person_id))
    return orphans
