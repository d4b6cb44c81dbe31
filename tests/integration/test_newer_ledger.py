"""A ledger a newer version of arms-sync upgraded is refused in one sentence, untouched.

While a shared ledger's upgrade is under way, a host not yet upgraded meets a
schema it does not know; so does any host after a rollback. It must say so
rather than fail "unexpectedly", and must not change the ledger.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sync.errors import ConfigurationError
from sync.ledger.migrate import HEAD_REVISION, current_revisions, upgrade_to_head
from sync.ledger.schema import metadata
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

NEWER_REVISION = "0999"  # a revision no version of this one's migrations holds


def newer_ledger(url: str) -> None:
    """Make a ledger at `url` and record it as upgraded past this version's newest revision."""
    engine = create_engine(url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER_REVISION})
    finally:
        engine.dispose()


def test_a_ledger_a_newer_version_upgraded_is_refused_and_left_as_it_is(ledger_url: str) -> None:
    newer_ledger(ledger_url)
    engine = create_engine(ledger_url)
    try:
        with pytest.raises(ConfigurationError) as refused:
            upgrade_to_head(engine)
        assert (
            "was upgraded by a newer version of arms-sync (this version knows its schema "
            f"up to revision {HEAD_REVISION}); run the newer version here too" in str(refused.value)
        )
        assert current_revisions(engine) == {NEWER_REVISION}
        with engine.connect() as conn:
            tables = set(conn.dialect.get_table_names(conn))
        assert set(metadata.tables) <= tables
    finally:
        engine.dispose()


def test_the_commands_refuse_it_with_exit_2(ledger_url: str, tmp_path: Path) -> None:
    newer_ledger(ledger_url)
    for command in (("export", "timeline"), ("status",)):
        result = run_cli("--db", ledger_url, *command, cwd=tmp_path, check=False)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        last = result.stderr.splitlines()[-1]  # after a warning that made the file owner-only
        assert last.startswith("Error: The ledger in the ")
        assert "was upgraded by a newer version of arms-sync" in last
