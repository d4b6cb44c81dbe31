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

from alembic import op

from sync.ledger.withheld_ids import forget_withheld_ids

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    forget_withheld_ids(op.get_bind())


def downgrade() -> None:
    """Revert this revision (nothing to put back)."""
