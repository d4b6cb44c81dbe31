"""Alembic environment: runs migrations on the engine the ledger hands over.

Every pending migration and the version table's update commit together, or
not at all. PostgreSQL's DDL is transactional as it is. SQLite's is too, but
Python's sqlite3 driver starts no transaction before a schema change, so each
`ALTER`/`CREATE` would commit on its own: an upgrade cut short would leave the
change made with the old revision recorded, and every later open would fail
doing it again. On SQLite the upgrade therefore runs inside an explicit
`BEGIN IMMEDIATE`, which also makes a second process opening the same old
ledger wait for the first, then find the work done.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sync.ledger.migrate import record_upgrade
from sync.ledger.schema import metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on `connection`, inside the caller's transaction.

    An existing ledger's upgrade is written to its audit log in the same
    transaction (a new ledger's making is not).
    """
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    # Read under the transaction's lock: another process may have upgraded meanwhile.
    found = frozenset(context.get_context().get_current_heads())
    context.run_migrations()
    reached = frozenset(context.get_context().get_current_heads())
    if found and reached != found:
        record_upgrade(connection, found, reached)


def run_sqlite_migrations_in_one_transaction(connection: Connection) -> None:
    """Run the pending migrations in one SQLite transaction holding the write lock."""
    own = connection.execution_options(isolation_level="AUTOCOMMIT")  # the driver's BEGIN off
    own.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        run_migrations(own)
    except BaseException:
        own.exec_driver_sql("ROLLBACK")
        raise
    own.exec_driver_sql("COMMIT")


engine = context.config.attributes["engine"]
if engine.dialect.name == "sqlite":
    with engine.connect() as sqlite_connection:
        run_sqlite_migrations_in_one_transaction(sqlite_connection)
else:
    with engine.begin() as pg_connection:
        run_migrations(pg_connection)
