"""The distributed cycle's tables: cycles, their tasks, staged results and dead letters.

In a background deployment the ledger, not the broker, is the truth about
work: a cycle is a row in `cycles`, each piece of its work a row in
`cycle_tasks` (pending, running, done or dead, with its attempts), and what a
stage hands to the next is staged in `cycle_staging` (encrypted at rest with
the ledger's payload codec). A task that keeps failing is copied to
`dead_letters`, where an operator lists and retries it.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, Integer, LargeBinary, String, Table, Text

from sync.ledger import schema
from sync.ledger.schema import metadata

STATUS = 16
TASK_KEY = 80
TASK_NAME = 80
ERROR_NAME = 200

cycles = Table(
    "cycles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("stage", String(STATUS), nullable=False),
    Column("status", String(STATUS), nullable=False),
    Column("sources", Text, nullable=False),
    Column("batches", Integer),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

cycle_tasks = Table(
    "cycle_tasks",
    metadata,
    Column("cycle_id", Integer, primary_key=True),
    Column("task_key", String(TASK_KEY), primary_key=True),
    Column("kind", String(STATUS), nullable=False),
    Column("status", String(STATUS), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(TASK_KEY)),
    Column("last_error", String(ERROR_NAME)),
    Column("result", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_cycle_tasks_status", "status", "updated_at"),
)

cycle_staging = Table(
    "cycle_staging",
    metadata,
    Column("cycle_id", Integer, primary_key=True),
    Column("part", String(TASK_KEY), primary_key=True),
    Column("payload", LargeBinary, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cycle_id", Integer, nullable=False),
    Column("task_key", String(TASK_KEY), nullable=False),
    Column("task_name", String(TASK_NAME), nullable=False),
    Column("args", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(ERROR_NAME)),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("retried_at", DateTime(timezone=True)),
)

# Decide batches read dependent records by their person: index that lookup.
Index("ix_records_agency_person", schema.records.c.agency, schema.records.c.person_id)
