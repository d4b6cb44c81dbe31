"""override records: the person records an override was made on

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 02:00:00.000000

An override belonged to a subject id: when a split kept that id on one part,
the override stayed there, even when it had been made on the other part's
records (an operator's link undone by an unlink took an override made for one
person to another). From this revision each override keeps the records its
subject held when it was made, and each pass puts it on the subject holding
most of them. Overrides made before are given their subject's records as they
are now; those on an id that has vanished keep none and follow that id's
successor, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "override_records",
        sa.Column("override_id", sa.String(length=40), nullable=False),
        sa.Column("agency", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "override_id", "agency", "person_id", name=op.f("pk_override_records")
        ),
    )
    op.execute(
        "INSERT INTO override_records (override_id, agency, person_id) "
        "SELECT overrides.id, subject_members.agency, subject_members.person_id "
        "FROM overrides JOIN subject_members "
        "ON subject_members.subject_id = overrides.subject_id"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("override_records")
