"""override moves: where an override went when its subject's id vanished

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 19:20:00.000000

A decision pass re-points the overrides of a subject id that vanished (its
records joined another subject) at the successor subject, and records each
move here: the override row keeps only its current subject. Overrides left on
ids that vanished before this revision are not moved: the membership that
would tell their successor is gone (each pass warns about them, by id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "override_moves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("override_id", sa.String(length=40), nullable=False),
        sa.Column("from_subject_id", sa.String(length=40), nullable=False),
        sa.Column("to_subject_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_override_moves")),
    )
    with op.batch_alter_table("override_moves", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_override_moves_override_id"), ["override_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("override_moves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_override_moves_override_id"))
    op.drop_table("override_moves")
