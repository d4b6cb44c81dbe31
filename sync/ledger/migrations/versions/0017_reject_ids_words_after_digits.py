"""rejects: forget the ids of rejected lines that hold names written straight after a digit

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 08:30:00.000000

The rule for what may be kept as a rejected line's `id`
(`sync.feeds.jsonl.looks_like_an_id`) withholds names written beside a date
(`SMITH-JOHN-1975`). It missed them when the first name followed a digit
straight on (`3JOHN.SMITH.120475`, `1SMITH-JOHN-1975`); it now reads them
too. This revision applies the rule as it is now to the ids already kept,
as revisions 0007 and 0015 did, and empties those it would not keep. The
lines themselves stay, with their reasons. Nothing is undone by the downgrade.
"""

from __future__ import annotations

from alembic import op

from sync.ledger.withheld_ids import forget_withheld_ids

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    forget_withheld_ids(op.get_bind())


def downgrade() -> None:
    """Revert this revision (nothing to put back)."""
