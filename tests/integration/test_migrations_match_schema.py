"""The migrations build exactly the tables the code defines, on both databases.

A ledger is created and upgraded only by the Alembic migrations, while the
code reads and writes through the table definitions in `sync/ledger/schema.py`
(and the cycle, manual and audit tables beside it). Alembic's comparison of a
freshly migrated ledger with those definitions must find nothing to change:
a table, column, index or constraint added to one and not the other fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from sync.ledger import schema
from sync.ledger.migrate import upgrade_to_head

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
