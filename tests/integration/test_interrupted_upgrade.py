"""An upgrade of an SQLite ledger commits whole or not at all, and one process does it.

Python's sqlite3 driver commits each schema change on its own unless a
transaction is open. A process killed between a migration's `ALTER TABLE` and
the version table's update left the change made with the old revision
recorded, and every later open failed making it again; two processes opening
the same old ledger (or making the same new one) at once collided the same
way. The upgrade now runs in one `BEGIN IMMEDIATE` transaction.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select

from sync.audit.log import AuditLog
from sync.audit.tables import audit_log
from sync.ledger.migrate import HEAD_REVISION, UPGRADE_ACTOR, current_revisions, upgrade_to_head
from tests.conftest import ledger_at_revision

pytestmark = pytest.mark.integration

# The revision before the newest, and the column the newest adds.
OLD_REVISION = "0008"
ADDED_TABLE, ADDED_COLUMN = "feed_cursors", "pull_pages"
KILLED_STATUS = 9
REPO = Path(__file__).resolve().parents[2]

# A process that upgrades the ledger and dies right after its first schema change.
DIES_AFTER_FIRST_SCHEMA_CHANGE = f"""
import os, sys
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sync.ledger.migrate import upgrade_to_head

@event.listens_for(Engine, "after_cursor_execute")
def die(conn, cursor, statement, parameters, context, executemany):
    words = statement.lstrip().upper()
    if words.startswith(("ALTER TABLE", "CREATE TABLE")) and "ALEMBIC_VERSION" not in words:
        os._exit({KILLED_STATUS})

upgrade_to_head(create_engine(sys.argv[1]))
"""
# A process that upgrades the ledger, waiting up to 30 s for another's write lock.
UPGRADES = """
import sys
from sqlalchemy import create_engine
from sync.ledger.migrate import upgrade_to_head

upgrade_to_head(create_engine(sys.argv[1], connect_args={"timeout": 30}))
"""


def columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def revisions(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return current_revisions(engine)
    finally:
        engine.dispose()


def upgrade_entries(url: str) -> list[tuple[str, str]]:
    """The audit log's upgrade entries (purpose, detail); the chain must verify."""
    engine = create_engine(url)
    try:
        assert AuditLog(engine).verify().ok
        with engine.connect() as conn:
            rows = conn.execute(
                select(audit_log.c.purpose, audit_log.c.detail).where(
                    audit_log.c.actor == UPGRADE_ACTOR
                )
            ).all()
        return [(str(purpose), str(detail)) for purpose, detail in rows]
    finally:
        engine.dispose()


@pytest.fixture
def old_ledger(tmp_path: Path) -> str:
    """An SQLite ledger made by the migrations up to the one before the newest."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with ledger_at_revision(url, OLD_REVISION):
        pass
    assert ADDED_COLUMN not in columns(url, ADDED_TABLE)
    return url


def test_an_upgrade_killed_after_a_schema_change_leaves_the_old_ledger_to_upgrade_again(
    old_ledger: str,
) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", DIES_AFTER_FIRST_SCHEMA_CHANGE, old_ledger],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == KILLED_STATUS, killed.stderr[-500:]
    assert revisions(old_ledger) == {OLD_REVISION}
    assert ADDED_COLUMN not in columns(old_ledger, ADDED_TABLE)  # rolled back with the rest

    engine = create_engine(old_ledger)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    assert revisions(old_ledger) == {HEAD_REVISION}
    assert ADDED_COLUMN in columns(old_ledger, ADDED_TABLE)
    assert upgrade_entries(old_ledger) == [
        ("ledger schema upgrade", f"from revision {OLD_REVISION} to {HEAD_REVISION}")
    ]


@pytest.mark.parametrize("ledger", ["old", "new"])
def test_processes_opening_one_ledger_together_upgrade_it_once(
    ledger: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """An old ledger, or a new one that none of them has made yet: each waits for the
    one upgrading, then finds the work done (no "not a ledger", no failed upgrade)."""
    url = (
        str(request.getfixturevalue("old_ledger"))
        if ledger == "old"
        else f"sqlite:///{tmp_path / 'new.db'}"
    )
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADES, url],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [starter.communicate(timeout=120)[1] for starter in starters]

    assert [starter.returncode for starter in starters] == [0, 0, 0], [e[-300:] for e in errors]
    assert revisions(url) == {HEAD_REVISION}
    assert len(upgrade_entries(url)) == (1 if ledger == "old" else 0)  # making one is no upgrade
