"""Overrides follow their subject: stored rows re-pointed when a subject's id vanishes.

A decision pass applies the overrides of a subject id that vanished (its
records joined another subject) to the successor (`Decisions.successors`).
The transaction storing the pass re-points their rows at the successor, so
later passes, whose previous membership no longer names the vanished id, keep
them; revoked overrides move too, so a subject's history stays together. Each
move is kept in `override_moves` (the row keeps only its current subject) and
audited by the caller. Active overrides naming no current subject (all their
records deleted, or left on an id that vanished before overrides moved) are
logged by id.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from sync.ledger import schema
from sync.wording import counted

log = logging.getLogger(__name__)
MAX_LOGGED_IDS = 20


@dataclass(frozen=True, slots=True, order=True)
class OverrideMove:
    """One override re-pointed from a vanished subject id to its successor."""

    override_id: str
    from_subject_id: str
    to_subject_id: str


def move_overrides(
    conn: Connection,
    successors: Mapping[str, str],
    current: Collection[str],
    run_id: int,
    now: datetime,
) -> list[OverrideMove]:
    """Re-point the overrides of vanished subject ids at their successors; return the moves.

    Runs in the transaction storing the pass; `current` holds the pass's
    subject ids. Every override row is read (they are operators' acts, few).
    """
    table = schema.overrides
    rows = conn.execute(
        select(table.c.id, table.c.subject_id, table.c.revoked_at).order_by(table.c.id)
    ).all()
    moves = [
        OverrideMove(override_id, subject_id, successors[subject_id])
        for override_id, subject_id, _revoked in rows
        if subject_id in successors
    ]
    _store_moves(conn, moves, run_id, now)
    moved = {move.override_id: move.to_subject_id for move in moves}
    _warn_stranded(
        override_id
        for override_id, subject_id, revoked in rows
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
            "%s without a current subject, applying to nobody: %s%s",
            counted(len(stranded), "active override"),
            shown,
            f" and {more} more" if more > 0 else "",
        )
