"""feed_cursors: the number of the page each cursor follows, within its pull

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 12:00:00.000000

Rejected lines read from a gateway are placed as "page N line M", N counted
from the start of the pull. A pull resumed after an interruption numbered its
pages from 1 again, so its rejected lines named the wrong pages. The new
`pull_pages` column keeps the number of the page the cursor follows (0 once
the pull has ended); a cursor already stored is taken as the end of a pull.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("feed_cursors") as batch:
        batch.add_column(sa.Column("pull_pages", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("feed_cursors") as batch:
        batch.drop_column("pull_pages")
