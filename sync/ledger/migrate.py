"""Create or upgrade the ledger's schema in place with Alembic.

A ledger already at the newest revision (`HEAD_REVISION`, the usual case) is
recognised by reading its version table, without loading Alembic: every
command and task opens the ledger, and most find nothing to upgrade.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from sync.errors import ConfigurationError, UsageError
from sync.ledger.location import ledger_place

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision; a test checks it against the migrations folder.
HEAD_REVISION = "0020"
VERSION_TABLE = "alembic_version"
UPGRADE_ACTOR = "service:upgrade"
# The advisory lock key migrations are applied under (PostgreSQL): a fixed 64-bit
# number of its own, apart from the run, task and delivery locks' keys.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"arms-sync/migrate").digest()[:8], "big", signed=True
)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration bound to one engine (no ini file needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def record_upgrade(conn: Connection, found: frozenset[str], reached: frozenset[str]) -> None:
    """Write to the audit log, in the upgrade's own transaction, that the schema was upgraded.

    Some revisions alter or forget stored data (`docs/operations.md`,
    "Upgrading"), so the log shows each upgrade of an existing ledger; the
    making of a new ledger is not logged.
    """
    from sync.audit.chain import AuditKind
    from sync.audit.log import audit_log_for

    audit_log_for(conn.engine).record(
        conn,
        kind=AuditKind.ALTERATION,
        actor=UPGRADE_ACTOR,
        purpose="ledger schema upgrade",
        detail=f"from revision {', '.join(sorted(found))} to {', '.join(sorted(reached))}",
    )


def upgrade_to_head(engine: Engine, *, may_create: bool = True) -> None:
    """Apply every migration the ledger has not seen yet.

    A database that holds tables but no ledger revision is some other
    application's: it is refused, untouched, rather than filled with the
    ledger's tables. Without `may_create` (a command that reads a ledger some
    run has made), a database holding no ledger at all is refused too.
    """
    if current_revisions(engine) == {HEAD_REVISION}:
        return
    with migrating_alone(engine):
        revisions = current_revisions(engine)  # another process may have upgraded meanwhile
        if revisions == {HEAD_REVISION}:
            return
        if not revisions and _has_tables(engine):
            raise ConfigurationError(
                f"The {ledger_place(engine.url)} holds tables but is not an arms-sync ledger; "
                "give an empty database or an arms-sync ledger."
            )
        if not revisions and not may_create:
            raise UsageError(
                f"The {ledger_place(engine.url)} holds no arms-sync ledger: run `arms-sync "
                "run` (or start the background workers) first, or check --db."
            )
        config = alembic_config(engine)
        require_known_revisions(engine, revisions, config)
        from alembic import command

        command.upgrade(config, "head")


def require_known_revisions(engine: Engine, revisions: set[str], config: Config) -> None:
    """Refuse a ledger whose schema a newer version of arms-sync upgraded.

    It is met on a host not yet upgraded while a shared ledger's upgrade is
    under way, or after going back to an older version: this version cannot
    read the ledger, and must not guess at it.
    """
    from alembic.script import ScriptDirectory

    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if revisions - known:
        raise ConfigurationError(
            f"The ledger in the {ledger_place(engine.url)} was upgraded by a newer version "
            f"of arms-sync (this version knows its schema up to revision {HEAD_REVISION}); "
            "run the newer version here too, as every host of one ledger must."
        )


@contextmanager
def migrating_alone(engine: Engine) -> Iterator[None]:
    """Hold the ledger's migration lock while the block runs, waiting for it if need be.

    Workers, beat and commands starting together on a new shared ledger would
    otherwise create its tables at once, and all but one fail. On PostgreSQL
    it is a session-level advisory lock on a connection of its own. An SQLite
    ledger is one host's: its upgrade holds SQLite's write lock from its first
    step (`BEGIN IMMEDIATE`, in `migrations/env.py`), so the others wait for it.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            with contextlib.suppress(SQLAlchemyError):  # a cut connection took it with it
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the ledger's schema is at (empty for a new ledger)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return set()
        return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _has_tables(engine: Engine) -> bool:
    """Whether the database holds any table at all."""
    with engine.connect() as conn:
        return bool(inspect(conn).get_table_names())
