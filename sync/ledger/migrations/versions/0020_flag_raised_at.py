"""flags: when each flag was last raised, so a resolution lapses when it closes

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 14:00:00.000000

A resolution held while a flag's content digest was unchanged, so a flag that
closed (its facts no longer held) and was raised again with the same content
came back resolved, and the reports named who had resolved it. The new
`raised_at` column keeps when a flag was last raised: when it was first seen,
or when a pass raised it again after it had closed. A resolution made before
that no longer holds (`sync.ledger.flag_states`). Flags stored before this
revision are given their first-seen time: whether one closed and was raised
again since it was resolved was never kept, so such a resolution still holds
until the flag next closes and is raised again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("flags") as batch:
        batch.add_column(sa.Column("raised_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE flags SET raised_at = first_seen")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("raised_at")
