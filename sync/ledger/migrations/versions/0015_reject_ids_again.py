"""rejects: forget the ids of rejected lines that hold a date of birth, a NOMS number or names

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 11:00:00.000000

The rule for what may be kept as a rejected line's `id`
(`sync.feeds.jsonl.looks_like_an_id`) now also withholds a date of birth
written as digits (`19750412`, `120475`, `JSMITH12041975`), a NOMS number
and names written beside a date (`SMITH-JOHN-1975`). Revision 0007 applied
the rule of its day to the ids already kept; this revision applies today's
to them again and empties those it would not keep. The lines themselves
stay, with their reasons. Nothing is undone by the downgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.feeds.jsonl import looks_like_an_id

revision = "0015"
down_revision = "0014"
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
