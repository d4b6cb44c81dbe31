"""feed waits: until when an agency gateway asked not to be called for its feed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:00:00.000000

A gateway that answers a feed page with a `Retry-After` longer than a call
waits is not called again for that feed before the time it asked for, by any
later run or pull. The table starts empty: no wait asked for before this
revision was kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "feed_waits",
        sa.Column("agency", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency", "source", name=op.f("pk_feed_waits")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("feed_waits")
