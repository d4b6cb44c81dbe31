"""Manual links and unlinks as decision inputs: edges to add and pairs to keep apart.

For each unordered pair of person records the latest act wins: a `link`
becomes a `MANUAL` edge, an `unlink` a forbidden pair. They are passed on
as stored, with each pair's place in the order of acts; the decision pass
(`sync.core.decide.link_subjects`) follows merged-away records to their
targets, drops pairs no live person holds, and lets the later act stand
where a link and an unlink come to name one live pair through a merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from sync.core.decide import Pair, ordered_pair
from sync.core.linking import MATCHED_BY_MANUAL, Edge
from sync.core.records import Agency, RecordRef
from sync.ledger.tables_manual import manual_links

ACTION_LINK = "link"
ACTION_UNLINK = "unlink"


@dataclass(frozen=True, slots=True)
class ManualLinks:
    """What the operators' link and unlink acts add to a decision pass."""

    edges: tuple[Edge, ...] = ()
    forbidden: frozenset[Pair] = frozenset()
    order: Mapping[Pair, int] = field(default_factory=dict)  # each pair's latest act's place


def manual_links_from(acts: Iterable[tuple[str, RecordRef, RecordRef]]) -> ManualLinks:
    """Fold acts (oldest first) into edges and forbidden pairs: the latest act per pair wins."""
    latest: dict[Pair, str] = {}
    order: dict[Pair, int] = {}
    for place, (action, a, b) in enumerate(acts):
        latest[ordered_pair(a, b)] = action
        order[ordered_pair(a, b)] = place
    edges = tuple(
        Edge(a, b, MATCHED_BY_MANUAL)
        for (a, b), action in sorted(latest.items())
        if action == ACTION_LINK
    )
    forbidden = frozenset(pair for pair, action in latest.items() if action == ACTION_UNLINK)
    return ManualLinks(edges, forbidden, order)


def load_manual_links(conn: Connection) -> ManualLinks:
    """Every stored link and unlink act, folded."""
    table = manual_links
    rows = conn.execute(
        select(
            table.c.action,
            table.c.a_agency,
            table.c.a_person_id,
            table.c.b_agency,
            table.c.b_person_id,
        ).order_by(table.c.created_at, table.c.id)
    )
    return manual_links_from(
        (action, RecordRef(Agency(aa), ap), RecordRef(Agency(ba), bp))
        for action, aa, ap, ba, bp in rows
    )


def with_act_last(order: Mapping[Pair, int], pair: Pair) -> dict[Pair, int]:
    """The places of acts with `pair`'s act placed after every other (an act being made)."""
    return {**order, pair: max(order.values(), default=-1) + 1}
