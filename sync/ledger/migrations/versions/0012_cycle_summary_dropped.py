"""cycles: drop the copy of the run's summary

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 23:00:00.000000

A distributed cycle's commit stored the run's summary twice: on the run,
where `status` and the next run read it, and on the cycle, where nothing
read it. The cycle's copy goes; the run's is the one record of it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("cycles") as batch:
        batch.drop_column("summary")


def downgrade() -> None:
    """Revert this revision (the copies dropped are not restored; each run keeps its own)."""
    with op.batch_alter_table("cycles") as batch:
        batch.add_column(sa.Column("summary", sa.Text(), nullable=True))
