"""runs kind: in-process or distributed, so a dead in-process run can be told apart

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:38:50.205909

Runs already recorded get their kind from the cycles table: a run a cycle
points at is distributed, any other finished run in-process. A run still
`running` from before this revision keeps no kind: nothing says whether a
process of the previous version is still running it, so it is never recorded
as interrupted automatically.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

runs = sa.table("runs", sa.column("id", sa.Integer), sa.column("status"), sa.column("kind"))
cycles = sa.table("cycles", sa.column("run_id", sa.Integer))


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=True))

    distributed = runs.c.id.in_(sa.select(cycles.c.run_id))
    op.execute(runs.update().where(distributed).values(kind="distributed"))
    op.execute(
        runs.update()
        .where(runs.c.kind.is_(None), runs.c.status != "running")
        .values(kind="in_process")
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("kind")
