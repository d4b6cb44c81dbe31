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
from sqlalchemy import create_engine

from sync.ledger import schema
from sync.ledger.migrate import (
    HEAD_REVISION,
    current_revisions,
    migrating_alone,
    upgrade_to_head,
)

pytestmark = pytest.mark.integration


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
            time.sleep(1.0)
            assert upgrades == []  # all three wait for the lock
            assert current_revisions(engine) == set()
        for starter in starters:
            starter.join(timeout=60)
        assert upgrades == [None, None, None]
        assert current_revisions(engine) == {HEAD_REVISION}
    finally:
        engine.dispose()
