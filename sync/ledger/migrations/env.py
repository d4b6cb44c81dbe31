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

from sync.ledger.schema import metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on `connection`, inside the caller's transaction."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()


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
