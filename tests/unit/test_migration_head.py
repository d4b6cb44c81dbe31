"""The head revision the ledger is checked against is the migrations folder's newest."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from sync.ledger.migrate import HEAD_REVISION, MIGRATIONS_DIR


def test_the_head_revision_is_the_one_head_of_the_migrations() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))

    assert scripts.get_heads() == [HEAD_REVISION]
