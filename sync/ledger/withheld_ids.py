"""Forgetting the stored ids of rejected lines that the id rule now withholds.

A rejected line's `id` is kept only when it looks like an id
(`sync.feeds.jsonl.looks_like_an_id`). When the rule grows, a migration applies
it to the ids already kept (revisions 0007, 0015 and 0017): each such id is emptied,
and the line stays with its reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.feeds.jsonl import looks_like_an_id

CHUNK = 500
_REJECTS = sa.table(
    "rejects", sa.column("fingerprint", sa.String), sa.column("record_id", sa.String)
)


def forget_withheld_ids(bind: Connection) -> None:
    """Empty every stored rejected line's id that the rule as it is now would not keep."""
    rows = bind.execute(
        sa.select(_REJECTS.c.fingerprint, _REJECTS.c.record_id).where(
            _REJECTS.c.record_id.is_not(None)
        )
    ).all()
    forgotten = [row.fingerprint for row in rows if not looks_like_an_id(row.record_id)]
    for start in range(0, len(forgotten), CHUNK):
        chunk = forgotten[start : start + CHUNK]
        bind.execute(
            sa.update(_REJECTS).where(_REJECTS.c.fingerprint.in_(chunk)).values(record_id=None)
        )
