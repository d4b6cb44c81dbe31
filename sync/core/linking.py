"""Group person records into subjects: identifier links, clusters, stable ids.

A subject is the set of person records (either agency, or both) linked as one
real person. Links are edges between records that say what linked them
(`matched_by`); clusters are the connected components of those edges. Subject
ids survive re-runs and new data: a cluster keeps the id most of its records
already had, and a new cluster's id is minted from its smallest record
reference, so the same data always yields the same ids whatever the order.
An id that no cluster keeps (its records joined other subjects) has a
successor: the subject holding most of its records. An operator's override
goes with the records it was made on (`override_place`), and with its id's
successor only when none of them is current.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sync.core.records import Agency, Person, RecordRef

MATCHED_BY_PNC = "PNC"
MATCHED_BY_CRO = "CRO"
MATCHED_BY_MANUAL = "MANUAL"
MATCHED_BY_NONE = "NONE"


@dataclass(frozen=True, slots=True, order=True)
class Edge:
    """Two person records linked as the same person, and what linked them."""

    a: RecordRef
    b: RecordRef
    matched_by: str
    weight: float | None = None


def identifier_edges(persons: Iterable[Person]) -> list[Edge]:
    """Edges between records sharing a canonical PNC or CRO (junk is already None)."""
    by_pnc: dict[str, list[RecordRef]] = defaultdict(list)
    by_cro: dict[str, list[RecordRef]] = defaultdict(list)
    for person in persons:
        if person.pnc is not None:
            by_pnc[person.pnc].append(person.ref)
        if person.cro is not None:
            by_cro[person.cro].append(person.ref)
    edges: dict[tuple[RecordRef, RecordRef], Edge] = {}
    for matched_by, groups in ((MATCHED_BY_PNC, by_pnc), (MATCHED_BY_CRO, by_cro)):
        for refs in groups.values():
            first, *rest = sorted(refs)
            for other in rest:
                edges.setdefault((first, other), Edge(first, other, matched_by))
    return sorted(edges.values())


class _UnionFind:
    """Disjoint sets of record references: the clusters that links join."""

    def __init__(self) -> None:
        self.parent: dict[RecordRef, RecordRef] = {}

    def find(self, item: RecordRef) -> RecordRef:
        """The root of `item`'s set (a new set of its own if unseen)."""
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def union(self, a: RecordRef, b: RecordRef) -> None:
        """Join the sets of `a` and `b` under the lower root."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            low, high = sorted((root_a, root_b))
            self.parent[high] = low


def clusters(refs: Iterable[RecordRef], edges: Iterable[Edge]) -> list[tuple[RecordRef, ...]]:
    """Connected components of the edges over `refs`, each sorted, sorted by first ref."""
    union_find = _UnionFind()
    for ref in refs:
        union_find.find(ref)
    for edge in edges:
        union_find.union(edge.a, edge.b)
    groups: dict[RecordRef, list[RecordRef]] = defaultdict(list)
    for ref in list(union_find.parent):
        groups[union_find.find(ref)].append(ref)
    return sorted((tuple(sorted(group)) for group in groups.values()), key=lambda g: g[0])


def assign_subject_ids(
    groups: Sequence[tuple[RecordRef, ...]],
    previous: Mapping[RecordRef, str],
    taken: set[str],
    mint: Callable[[RecordRef, int], str],
    follow: Mapping[RecordRef, RecordRef] | None = None,
) -> dict[tuple[RecordRef, ...], str]:
    """Give each cluster a subject id, keeping ids stable across runs.

    A cluster keeps the previous id held by most of its records (ties: the
    smallest id). Records its agency has merged away since (`follow`: source
    to target) count where their target is, to break a tie among the
    cluster's own records, so a target new to the ledger takes over its
    source's id. When a previous subject splits, the part holding most
    of its records keeps the id (ties: the part holding the record the id was
    minted from, then the part with the smallest record), so a merge its agency
    undoes leaves the id with the record that had it before the merge.
    Any other cluster gets `mint(smallest_ref, attempt)`, retried until unused.
    """
    claims: dict[str, list[Claim]] = defaultdict(list)
    for group, held in _previous_ids_held(groups, previous, follow or {}).items():
        if held:
            best = min(held, key=lambda sid: (held[sid], sid))
            claims[best].append((held[best], group[0], group))
    assigned: dict[tuple[RecordRef, ...], str] = {}
    for subject_id, claimants in claims.items():
        winner = claimants[0] if len(claimants) == 1 else _first_claim(subject_id, claimants, mint)
        assigned[winner[2]] = subject_id
    used = set(taken) | set(assigned.values())
    for group in groups:
        if group not in assigned:
            attempt = 0
            while (candidate := mint(group[0], attempt)) in used:
                attempt += 1
            assigned[group] = candidate
            used.add(candidate)
    return assigned


# How strongly a cluster holds a previous subject id, smaller first: minus the
# number of its own records that held it, then minus the merged-away ones.
Holding = tuple[int, int]
Claim = tuple[Holding, RecordRef, tuple[RecordRef, ...]]


def _first_claim(
    subject_id: str, claimants: list[Claim], mint: Callable[[RecordRef, int], str]
) -> Claim:
    """The claim that keeps `subject_id` when the parts of a split subject claim it:
    the strongest holding, then the part holding the record the id was minted from,
    then the part with the smallest record."""

    def rank(claim: Claim) -> tuple[Holding, bool, RecordRef]:
        holding, smallest, group = claim
        minted_here = any(mint(ref, 0) == subject_id for ref in group)
        return holding, not minted_here, smallest

    return min(claimants, key=rank)


def _previous_ids_held(
    groups: Sequence[tuple[RecordRef, ...]],
    previous: Mapping[RecordRef, str],
    follow: Mapping[RecordRef, RecordRef],
) -> dict[tuple[RecordRef, ...], dict[str, Holding]]:
    """For each cluster, how strongly it holds each previous subject id of its records
    (merged-away records counted where their target is)."""
    group_of = {ref: group for group in groups for ref in group}
    held: dict[tuple[RecordRef, ...], dict[str, Holding]] = {group: {} for group in groups}
    for ref, subject_id in previous.items():
        own = ref in group_of
        group = group_of.get(ref if own else follow.get(ref, ref))
        if group is not None:
            mine, merged = held[group].get(subject_id, (0, 0))
            held[group][subject_id] = (mine - int(own), merged - int(not own))
    return held


def successions(
    previous: Mapping[RecordRef, str],
    subject_of: Mapping[RecordRef, str],
    follow: Mapping[RecordRef, RecordRef] | None = None,
) -> dict[str, str]:
    """The successor of each previous subject id that no current subject holds.

    It is the current subject holding most of the vanished subject's previous
    records (ties: the one holding the smallest of them); a record its agency
    merged away counts where its target is (`follow`). An id none of whose
    records is current (all deleted) has no successor. One pass over
    `previous`: linear in the number of records.
    """
    follow = follow or {}
    current = set(subject_of.values())
    tallies: dict[str, dict[str, tuple[int, RecordRef]]] = defaultdict(dict)
    for ref, old in previous.items():
        if old in current:
            continue
        new = subject_of.get(follow.get(ref, ref))
        if new is not None:
            count, smallest = tallies[old].get(new, (0, ref))
            tallies[old][new] = (count + 1, min(smallest, ref))
    return {old: _most_held(held) for old, held in tallies.items()}


def override_place(
    records: Iterable[RecordRef],
    subject_id: str,
    subject_of: Mapping[RecordRef, str],
    follow: Mapping[RecordRef, RecordRef],
    successors: Mapping[str, str],
    *,
    owner: Agency | None,
) -> str:
    """The subject an override made on `records` (its subject's then) now belongs to.

    The current subject holding most of those records (ties: the one holding
    the smallest of them); a record its agency merged away counts where its
    target is. An override naming an agency (`owner`) goes to the first of those
    holding one of that agency's records among them: an agency cannot complete
    ARMS on a person it holds no record of, so an unlink must not leave
    "probation owns" on the police's part alone. When none of them is current
    (all deleted, or an override kept no records), the override stays with its
    subject id, or follows that id's successor if the id vanished.
    """
    held = [
        (ref, found)
        for ref in records
        if (found := subject_of.get(follow.get(ref, ref))) is not None
    ]
    if not held:
        return successors.get(subject_id, subject_id)
    ranked = ranked_holders(held)
    knowing = {found for ref, found in held if ref.agency is owner}
    return next((found for found in ranked if found in knowing), ranked[0])


def ranked_holders(held: Iterable[tuple[RecordRef, str]]) -> tuple[str, ...]:
    """The subjects holding these (record, subject) pairs, most records first.

    Ties: the one holding the smallest record first, as a successor is chosen,
    so for a subject id that vanished in one step the first is its successor.
    """
    tally: dict[str, tuple[int, RecordRef]] = {}
    for ref, subject_id in held:
        count, smallest = tally.get(subject_id, (0, ref))
        tally[subject_id] = (count + 1, min(smallest, ref))
    return tuple(sorted(tally, key=lambda sid: _share(tally, sid)))


def _most_held(held: Mapping[str, tuple[int, RecordRef]]) -> str:
    """The subject holding most records (ties: the one holding the smallest record)."""
    return min(held, key=lambda sid: _share(held, sid))


def _share(held: Mapping[str, tuple[int, RecordRef]], subject_id: str) -> tuple[int, RecordRef]:
    """A subject's rank among holders: more records first, then the smaller record."""
    count, smallest = held[subject_id]
    return (-count, smallest)
