"""former members: the records a subject id last held when it vanished

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 21:40:00.000000

A decision pass replaces `subject_members` whole, so the records of a subject
id that vanished (its records joined other subjects, or were all deleted) were
forgotten. From this revision the pass that makes an id vanish first copies
its member rows here, so a command given that id can say which subjects hold
its records now. The table starts empty: the ids that vanished before it have
no rows, while the current subjects' members are still in `subject_members`,
where the first pass after the upgrade finds them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "former_members",
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("agency", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "subject_id", "agency", "person_id", name=op.f("pk_former_members")
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("former_members")
