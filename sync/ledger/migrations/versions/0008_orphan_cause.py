"""orphans: say why each was not applied

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 05:10:00.000000

A merge that closes a loop of merges (A into B and B into A) is not applied,
because the loop resolves to its smallest reference; until this revision it
was listed by `rejects` as referring to a person that is not in the feed,
which was not the reason. The new `cause` column says which it is. Orphans
already stored are marked `missing-person`; the next run stores them again,
each with its own cause.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("orphans") as batch:
        batch.add_column(
            sa.Column(
                "cause", sa.String(length=16), nullable=False, server_default="missing-person"
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("orphans") as batch:
        batch.drop_column("cause")
