"""Where a vanished subject id's records went: its last members, kept when it vanished.

A decision pass replaces `subject_members` whole. Before it does, the records
of each subject id that the pass makes vanish (its records joined other
subjects, or were all deleted) are copied into `former_members`, in the same
transaction. The current subjects holding those records now are then one join
away, however many re-links happened since: a record moved on by later passes
is found where it is now, and a deleted record is held by nobody.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, delete, literal, select

from sync.core.linking import ranked_holders
from sync.core.records import Agency, RecordRef
from sync.ledger import schema
from sync.ledger.store import KEYS_PER_QUERY


def keep_former_members(conn: Connection, vanished: Collection[str], run_id: int) -> None:
    """Copy the stored members of the `vanished` subject ids into `former_members`.

    Runs in the transaction storing the pass, before the members are replaced.
    An id's earlier rows, if it ever vanished before, are replaced.
    """
    members, former = schema.subject_members, schema.former_members
    ids = sorted(vanished)
    for start in range(0, len(ids), KEYS_PER_QUERY):
        chunk = ids[start : start + KEYS_PER_QUERY]
        conn.execute(delete(former).where(former.c.subject_id.in_(chunk)))
        rows = select(
            members.c.subject_id, members.c.agency, members.c.person_id, literal(run_id)
        ).where(members.c.subject_id.in_(chunk))
        conn.execute(
            former.insert().from_select(["subject_id", "agency", "person_id", "run_id"], rows)
        )


def current_holders(conn: Connection, subject_id: str) -> tuple[str, ...] | None:
    """The current subjects holding the records a vanished subject id last held.

    Most records first (ties: the one holding the smallest record). Empty when
    all those records were deleted; None when the ledger kept none of its
    records (an id that never vanished, or vanished before migration 0005).
    """
    members, former = schema.subject_members, schema.former_members
    kept = conn.execute(
        select(former.c.agency).where(former.c.subject_id == subject_id).limit(1)
    ).first()
    if kept is None:
        return None
    rows = conn.execute(
        select(members.c.agency, members.c.person_id, members.c.subject_id)
        .join(
            former,
            (former.c.agency == members.c.agency) & (former.c.person_id == members.c.person_id),
        )
        .where(former.c.subject_id == subject_id)
    )
    return ranked_holders(
        (RecordRef(Agency(agency), person_id), holder) for agency, person_id, holder in rows
    )
