"""outbox: when a batch was first offered to its gateway

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 19:00:00.000000

A batch sealed under keys revoked since is sealed again before its first
offer once the new keys are there, rather than sent once under the revoked
key: the new `offered_at`, written before each first call, tells a batch the
gateway cannot have seen from one it may have stored. Batches queued before
this revision may have been offered, so every one holding an envelope is
taken as offered when it was made; they are delivered as before (sent as
first sealed, sealed again if refused). Batches kept unsealed were never
offered and keep none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("offered_at", sa.DateTime(timezone=True)))
    outbox = sa.table(
        "outbox",
        sa.column("envelope", sa.LargeBinary),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("offered_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        sa.update(outbox)
        .where(sa.func.length(outbox.c.envelope) > 0)
        .values(offered_at=outbox.c.created_at)
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("offered_at")
