"""The migrations build exactly the tables the code defines, on both databases.

A ledger is created and upgraded only by the Alembic migrations, while the
code reads and writes through the table definitions in `sync/ledger/schema.py`
(and the cycle, manual and audit tables beside it). Alembic's comparison of a
freshly migrated ledger with those definitions must find nothing to change:
a table, column, index or constraint added to one and not the other fails here.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from sync.ledger import schema
from sync.ledger.migrate import (
    HEAD_REVISION,
    current_revisions,
    migrating_alone,
    upgrade_to_head,
)

pytestmark = pytest.mark.integration
WAITING_ON_AN_ADVISORY_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
)


def _wait_for_backends_waiting_on_the_lock(engine: Engine, count: int) -> None:
    """Return once `count` sessions wait on an advisory lock; fail after 30 s."""
    deadline = time.monotonic() + 30
    while _sessions_waiting_on_an_advisory_lock(engine) < count:
        assert time.monotonic() < deadline, f"fewer than {count} sessions wait on the lock"
        time.sleep(0.05)


def _sessions_waiting_on_an_advisory_lock(engine: Engine) -> int:
    # A transaction of its own each time: PostgreSQL keeps pg_stat_activity as it was
    # when a transaction first read it.
    with engine.connect() as conn:
        return int(conn.execute(WAITING_ON_AN_ADVISORY_LOCK).scalar_one())


def test_a_migrated_ledger_has_exactly_the_defined_tables(ledger_url: str) -> None:
    engine = create_engine(ledger_url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences: list[Any] = compare_metadata(context, schema.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_processes_starting_together_on_a_new_shared_ledger_migrate_one_at_a_time(
    fresh_postgres_url: str,
) -> None:
    """Workers, beat and a command starting at once on an empty PostgreSQL database:
    each upgrade waits for the migration lock, then finds the work done or does it."""
    engine = create_engine(fresh_postgres_url)
    upgrades: list[BaseException | None] = []

    def upgrade() -> None:
        try:
            upgrade_to_head(engine)
        except BaseException as error:  # noqa: BLE001 - the test looks at it below
            upgrades.append(error)
        else:
            upgrades.append(None)

    try:
        with migrating_alone(engine):
            starters = [threading.Thread(target=upgrade) for _ in range(3)]
            for starter in starters:
                starter.start()
            _wait_for_backends_waiting_on_the_lock(engine, 3)
            assert upgrades == []  # all three wait for the lock
            assert current_revisions(engine) == set()
        for starter in starters:
            starter.join(timeout=60)
        assert upgrades == [None, None, None]
        assert current_revisions(engine) == {HEAD_REVISION}
    finally:
        engine.dispose()
