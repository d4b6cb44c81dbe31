"""outbox: the end of the wait a gateway asked for when it last turned a batch away

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 13:00:00.000000

A failed batch's next attempt time is the longer of its back-off and the
gateway's `Retry-After`. A cycle's prompt deliver pass skips the back-off but
not the gateway's wait; with only the longer of the two kept, it waited out
the whole back-off (up to an hour) after a short `Retry-After`. The new
`wait_asked_until` column keeps the gateway's own wait; batches turned away
before this revision have none, and a prompt pass keeps honouring their next
attempt time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("wait_asked_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("wait_asked_until")
