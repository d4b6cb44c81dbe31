"""rejects: forget the ids of rejected lines that may be personal data

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 04:15:00.000000

A rejected line's `id` is kept (and listed by `rejects`) only when it looks
like an id; until this revision a surname, a date of birth or a PNC typed into
the `id` field could pass for one and was kept in plain text. This revision
applies today's rule (`sync.feeds.jsonl.looks_like_an_id`) to the ids already
kept and empties those it would not keep. The lines themselves stay, encrypted,
with their reasons. Nothing is undone by the downgrade: a forgotten id is gone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.feeds.jsonl import looks_like_an_id

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_REJECTS = sa.table(
    "rejects", sa.column("fingerprint", sa.String), sa.column("record_id", sa.String)
)


def upgrade() -> None:
    """Apply this revision."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_REJECTS.c.fingerprint, _REJECTS.c.record_id).where(
            _REJECTS.c.record_id.is_not(None)
        )
    ).all()
    forgotten = [row.fingerprint for row in rows if not looks_like_an_id(row.record_id)]
    for start in range(0, len(forgotten), 500):
        chunk = forgotten[start : start + 500]
        bind.execute(
            sa.update(_REJECTS).where(_REJECTS.c.fingerprint.in_(chunk)).values(record_id=None)
        )


def downgrade() -> None:
    """Revert this revision (nothing to put back)."""
