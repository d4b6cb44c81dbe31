"""A distributed cycle's record: starting one, reading one back.

A cycle is a row in `cycles` (its run, date, feeds and delivery gateways) with
its first tasks in `cycle_tasks`, both written in one transaction together
with the run it belongs to. That run is of kind `distributed`: it stays
`running` across many tasks and processes until the commit, and is never
taken for an in-process run whose process died.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from sync.app import App
from sync.cycle import require_agency_keys, require_policy_as_recorded
from sync.distributed.status import open_cycle_ids
from sync.distributed.work import (
    CYCLE_RUNNING,
    KIND_INGEST,
    TaskRef,
    add_tasks,
    first_tasks,
    task_lock,
)
from sync.errors import ConfigurationError
from sync.ledger import tables_cycle as tables
from sync.ledger.runs import KIND_DISTRIBUTED, insert_run

POSTGRESQL = "postgresql"
# Held while a cycle is started, so that two starters never both find none open.
PULL_LOCK = TaskRef("pull", 0)
SHARED_LEDGER_NEEDED = (
    "The background deployment needs a PostgreSQL ledger: set ARMS_SYNC_DATABASE_URL "
    "(or --db) to a postgresql:// URL."
)


@dataclass(frozen=True, slots=True)
class CycleRow:
    """A cycle as stored: its run, date, feeds and delivery gateways."""

    id: int
    run_id: int
    as_of: date
    feeds: dict[str, str]
    deliver: dict[str, str]


def require_postgresql(app: App) -> None:
    """Refuse a distributed cycle on a ledger workers cannot share (before opening it)."""
    require_postgresql_url(app.settings.database_url)


def require_postgresql_url(url: str) -> None:
    """Refuse a worker or beat whose ledger URL is not a PostgreSQL one, before it connects."""
    if not url.startswith(POSTGRESQL):
        raise ConfigurationError(SHARED_LEDGER_NEEDED)


def start_cycle(
    app: App, feeds: Mapping[str, str], deliver: Mapping[str, str], as_of: date
) -> tuple[int, list[TaskRef]]:
    """Record a new cycle and its run; return its id and the tasks to send first.

    A policy version edited under an id already used is refused here, not by
    the cycle's tasks (`sync.cycle.require_policy_as_recorded`).
    """
    require_postgresql(app)
    require_policy_as_recorded(app)
    require_agency_keys(app)
    now = app.clock()
    sources = json.dumps({"feeds": dict(feeds), "deliver": dict(deliver)}, sort_keys=True)
    with app.ledger.engine.begin() as conn:
        run_id = insert_run(conn, as_of, now, KIND_DISTRIBUTED)
        cycle_id = conn.execute(
            tables.cycles.insert().values(
                run_id=run_id,
                as_of=as_of,
                stage=KIND_INGEST,
                status=CYCLE_RUNNING,
                sources=sources,
                started_at=now,
            )
        ).inserted_primary_key
        assert cycle_id is not None
        refs = add_tasks(conn, first_tasks(int(cycle_id[0]), dict(feeds)), now)
    return int(cycle_id[0]), refs


def start_next_cycle(
    app: App, feeds: Mapping[str, str], deliver: Mapping[str, str], as_of: date
) -> tuple[int, list[TaskRef]] | None:
    """`start_cycle`, unless a cycle is still open (running, or blocked on a dead letter).

    Cycles run one at a time, whoever starts them (the pull beat, `run
    --distributed`): each decides over what the last one stored. The pull lock
    keeps two starters from both finding no cycle open. None when one is open.
    """
    require_postgresql(app)  # the pull lock is PostgreSQL's
    with task_lock(app.ledger.engine, PULL_LOCK) as free:
        if not free or open_cycle_ids(app.ledger.engine):
            return None
        return start_cycle(app, feeds, deliver, as_of)


def load_cycle(app: App, cycle_id: int) -> CycleRow:
    """One stored cycle."""
    table = tables.cycles
    with app.ledger.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == cycle_id)).one()
    sources = json.loads(row.sources)
    return CycleRow(row.id, row.run_id, row.as_of, sources["feeds"], sources["deliver"])
