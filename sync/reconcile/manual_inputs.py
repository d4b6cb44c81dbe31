"""Manual links and unlinks as decision inputs: the operators' acts, oldest first.

Every stored `link` and `unlink` is passed on in the order it was made; the
decision pass (`sync.core.decide.link_subjects`) follows merged-away records
to their targets, drops pairs no live person holds, and lets the latest act
on each live pair stand, whichever records it named.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from sync.core.decide import LinkAct
from sync.core.records import Agency, RecordRef
from sync.ledger.tables_manual import manual_links

ACTION_LINK = "link"
ACTION_UNLINK = "unlink"


def load_link_acts(conn: Connection) -> tuple[LinkAct, ...]:
    """Every stored link and unlink act, oldest first."""
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
    return tuple(
        LinkAct(RecordRef(Agency(aa), ap), RecordRef(Agency(ba), bp), action == ACTION_LINK)
        for action, aa, ap, ba, bp in rows
    )
