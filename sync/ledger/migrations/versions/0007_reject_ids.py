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

from alembic import op

from sync.ledger.withheld_ids import forget_withheld_ids

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    forget_withheld_ids(op.get_bind())


def downgrade() -> None:
    """Revert this revision (nothing to put back)."""
