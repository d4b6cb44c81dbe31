"""flags: the as-of date of the run that first raised each flag; rejects: the agency a
line of the other agency's belongs to

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 23:10:00.000000

A flag without an assessment (`duplicate_person_record`) is filed in reports
under the day it was first seen, which was the wall clock's day: a run dated
with `--as-of` (yesterday's nightly run finishing after midnight, a run
catching up on past days) filed it after the run's own as-of date, outside
the period a report of that date covers. The new `first_seen_as_of` column
keeps the as-of date of the run that first raised the flag (or the day it
ran, when earlier); flags stored
before this revision have none and keep being filed by their first-seen day.

A line of the other agency's read in a feed is kept as a reject of that feed.
The new `record_agency` column of `rejects` names the agency the line says
it belongs to, so the reject is marked fixed once that agency's own feed has
given the ledger the record; rejects stored before have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("flags") as batch:
        batch.add_column(sa.Column("first_seen_as_of", sa.Date(), nullable=True))
    with op.batch_alter_table("rejects") as batch:
        batch.add_column(sa.Column("record_agency", sa.String(length=16), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("rejects") as batch:
        batch.drop_column("record_agency")
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("first_seen_as_of")
