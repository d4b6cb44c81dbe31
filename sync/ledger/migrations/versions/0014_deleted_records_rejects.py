"""rejects: a deleted record's rejected lines keep no content

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 10:40:00.000000

A deleted record was kept as a tombstone without its content, but the lines of
it that had been rejected kept theirs (encrypted, but whole). From this
revision a deletion empties them (`raw` may be null) and keeps, in the new
`fixed_run` column, the run that had settled each line before the deletion,
since the record's row then names the deletion's run. Rejected lines of the
records already deleted lose their content here; their `fixed_run` is what
`rejects` showed for them until now. An index on the record type and id finds
a record's rejected lines. Nothing is undone by the downgrade: the content is
gone, and a line kept without one keeps an empty value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_REJECTS = sa.table(
    "rejects",
    sa.column("agency", sa.String),
    sa.column("record_type", sa.String),
    sa.column("record_id", sa.String),
    sa.column("record_agency", sa.String),
    sa.column("raw", sa.LargeBinary),
    sa.column("last_seen_run", sa.Integer),
    sa.column("fixed_run", sa.Integer),
)
_RECORDS = sa.table(
    "records",
    sa.column("agency", sa.String),
    sa.column("rtype", sa.String),
    sa.column("rid", sa.String),
    sa.column("deleted", sa.Boolean),
    sa.column("applied_run", sa.Integer),
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("rejects") as batch:
        batch.alter_column("raw", existing_type=sa.LargeBinary(), nullable=True)
        batch.add_column(sa.Column("fixed_run", sa.Integer(), nullable=True))
        batch.create_index("ix_rejects_record", ["record_type", "record_id"])
    rejects, records = _REJECTS, _RECORDS
    tombstone = sa.and_(
        records.c.agency == sa.func.coalesce(rejects.c.record_agency, rejects.c.agency),
        records.c.rtype == rejects.c.record_type,
        records.c.rid == rejects.c.record_id,
        records.c.deleted.is_(True),
    )
    settled = (
        sa.select(records.c.applied_run)
        .where(
            tombstone,
            sa.or_(
                records.c.applied_run > rejects.c.last_seen_run,
                rejects.c.record_agency.is_not(None),
            ),
        )
        .scalar_subquery()
    )
    op.get_bind().execute(
        sa.update(rejects).where(sa.exists().where(tombstone)).values(raw=None, fixed_run=settled)
    )


def downgrade() -> None:
    """Revert this revision (the content emptied is not restored)."""
    rejects = _REJECTS
    op.get_bind().execute(sa.update(rejects).where(rejects.c.raw.is_(None)).values(raw=b""))
    with op.batch_alter_table("rejects") as batch:
        batch.drop_index("ix_rejects_record")
        batch.drop_column("fixed_run")
        batch.alter_column("raw", existing_type=sa.LargeBinary(), nullable=False)
