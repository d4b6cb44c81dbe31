"""flags: the rule the flag's own agency is told

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:00:00.000000

A flag gave its agency the rule decided at its reference date, also where that
agency's ownership notice tells the `OUT-UNDER-18` segment as part of the next
one (`docs/decisions.md`, "Exchange and notices"), so the flag named the rule
the notice hid and pinned the other agency's date of birth. The new
`rule_told` column keeps the rule of the timeline as told to the flag's agency;
the agency's report view gives it. It differs from the decided rule only where
that is `OUT-UNDER-18`, so flags already stored with another rule are given
it; those with `OUT-UNDER-18` keep none until the next run stores them again
(a closed one keeps none, and the agency's view gives it no rule).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("flags") as batch:
        batch.add_column(sa.Column("rule_told", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE flags SET rule_told = rule_at_reference_date "
        "WHERE rule_at_reference_date IS NOT NULL AND rule_at_reference_date <> 'OUT-UNDER-18'"
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("rule_told")
