"""Read stored ownership segments back, in subject and timeline order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlalchemy import Connection, select

from sync.ledger import schema

StoredSegment = tuple[date | None, date | None, str, str, bool, str]
"""A stored segment: start, end, owner, rule, mandatory, policy."""


def iter_stored_segments(conn: Connection) -> Iterator[tuple[str, StoredSegment]]:
    """Every stored segment with its subject id, subjects in order, segments in time order."""
    table = schema.segments
    rows = conn.execute(
        select(
            table.c.subject_id,
            table.c.start,
            table.c.end,
            table.c.owner,
            table.c.rule,
            table.c.mandatory,
            table.c.policy,
        ).order_by(table.c.subject_id, table.c.position)
    )
    for subject_id, start, end, owner, rule, mandatory, policy in rows:
        yield subject_id, (start, end, owner, rule, bool(mandatory), policy)
