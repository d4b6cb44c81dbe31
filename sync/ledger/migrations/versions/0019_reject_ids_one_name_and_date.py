"""rejects: forget the ids of rejected lines that hold one name against a date or a year

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 19:30:00.000000

The rule for what may be kept as a rejected line's `id`
(`sync.feeds.jsonl.looks_like_an_id`) withheld names beside a date only when
there were two of them (`JOHN.SMITH.120475`) or a full date of birth
(`SMITH12041975`); one name against a six-digit date or a birth year
(`SMITH120475`, `SMITH-1975`, `120475SMITH`) was kept. It now withholds a
word of four letters or more against either. This revision applies the rule
as it is now to the ids already kept, as revisions 0007, 0015 and 0017 did,
and empties those it would not keep. The lines themselves stay, with their
reasons. Nothing is undone by the downgrade.
"""

from __future__ import annotations

from alembic import op

from sync.ledger.withheld_ids import forget_withheld_ids

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    forget_withheld_ids(op.get_bind())


def downgrade() -> None:
    """Revert this revision (nothing to put back)."""
