"""Overrides stay with the records they were made on: stored rows re-pointed as subjects change.

Each override keeps the person records its subject held when it was made
(`override_records`). A decision pass applies it to the subject now holding
most of them (`sync.core.linking.override_place`); when none of them is
current, to its subject id, or that id's successor if the id vanished. The
transaction storing the pass re-points the rows the same way, so later passes
keep them; revoked overrides move too, so a subject's history stays together.
Each move is kept in `override_moves` (the row keeps only its current
subject) and audited by the caller. Active overrides naming no current subject
(all their records deleted, or left on an id that vanished before overrides
moved) are logged by id.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from sync.core.linking import override_place
from sync.core.records import Agency, Owner, RecordRef, owning_agency
from sync.ledger import schema
from sync.wording import counted

log = logging.getLogger(__name__)
MAX_LOGGED_IDS = 20


@dataclass(frozen=True, slots=True, order=True)
class OverrideMove:
    """One override re-pointed from the subject it was stored under to the one it belongs to."""

    override_id: str
    from_subject_id: str
    to_subject_id: str


@dataclass(frozen=True, slots=True)
class Placing:
    """What a pass says of where records are: each record's subject, merges, vanished ids."""

    subject_of: Mapping[RecordRef, str]
    merged_into: Mapping[RecordRef, RecordRef]
    successors: Mapping[str, str]


def records_of_overrides(conn: Connection) -> dict[str, tuple[RecordRef, ...]]:
    """The records each override was made on (every override: operators' acts, few)."""
    table = schema.override_records
    query = select(table.c.override_id, table.c.agency, table.c.person_id)
    found: dict[str, list[RecordRef]] = {}
    for override_id, agency, person_id in conn.execute(query):
        found.setdefault(override_id, []).append(RecordRef(Agency(agency), person_id))
    return {override_id: tuple(sorted(refs)) for override_id, refs in found.items()}


def subject_records(conn: Connection, subject_id: str) -> tuple[RecordRef, ...]:
    """The person records a current subject holds, in order."""
    table = schema.subject_members
    rows = conn.execute(
        select(table.c.agency, table.c.person_id).where(table.c.subject_id == subject_id)
    )
    return tuple(sorted(RecordRef(Agency(agency), person_id) for agency, person_id in rows))


def keep_override_records(conn: Connection, override_id: str, records: Iterable[RecordRef]) -> None:
    """Keep the records an override is made on, in the transaction that stores it."""
    rows = [
        {"override_id": override_id, "agency": str(ref.agency), "person_id": ref.person_id}
        for ref in sorted(set(records))
    ]
    if rows:
        conn.execute(schema.override_records.insert(), rows)


def move_overrides(
    conn: Connection,
    placing: Placing,
    current: Collection[str],
    run_id: int,
    now: datetime,
) -> list[OverrideMove]:
    """Re-point every override at the subject it belongs to in this pass; return the moves.

    Runs in the transaction storing the pass; `current` holds the pass's
    subject ids. Every override row is read (they are operators' acts, few).
    """
    table = schema.overrides
    rows = conn.execute(
        select(table.c.id, table.c.subject_id, table.c.owner, table.c.revoked_at).order_by(
            table.c.id
        )
    ).all()
    made_on = records_of_overrides(conn)
    moves = []
    for override_id, subject_id, owner, _revoked in rows:
        place = override_place(
            made_on.get(override_id, ()),
            subject_id,
            placing.subject_of,
            placing.merged_into,
            placing.successors,
            owner=owning_agency(Owner(owner)),
        )
        if place != subject_id:
            moves.append(OverrideMove(override_id, subject_id, place))
    _store_moves(conn, moves, run_id, now)
    moved = {move.override_id: move.to_subject_id for move in moves}
    _warn_stranded(
        override_id
        for override_id, subject_id, _owner, revoked in rows
        if revoked is None and moved.get(override_id, subject_id) not in current
    )
    return moves


def _store_moves(conn: Connection, moves: list[OverrideMove], run_id: int, now: datetime) -> None:
    """Point each moved override at its new subject and record the move."""
    if not moves:
        return
    table = schema.overrides
    conn.execute(
        update(table).where(table.c.id == bindparam("oid")).values(subject_id=bindparam("to")),
        [{"oid": move.override_id, "to": move.to_subject_id} for move in moves],
    )
    conn.execute(
        schema.override_moves.insert(),
        [
            {
                "override_id": move.override_id,
                "from_subject_id": move.from_subject_id,
                "to_subject_id": move.to_subject_id,
                "run_id": run_id,
                "moved_at": now,
            }
            for move in moves
        ],
    )


def _warn_stranded(override_ids: Iterable[str]) -> None:
    """Log the active overrides that name no current subject (ids only)."""
    stranded = sorted(override_ids)
    if stranded:
        shown = ", ".join(stranded[:MAX_LOGGED_IDS])
        more = len(stranded) - MAX_LOGGED_IDS
        log.warning(
            "%s without a current subject, applying to nobody: %s%s "
            "(see `arms-sync reconcile list`)",
            counted(len(stranded), "active override"),
            shown,
            f" and {more} more" if more > 0 else "",
        )
