"""A damaged SQLite ledger file: every command says so in one sentence, exit 1.

A file overwritten in part or cut short no longer reads back as a database;
reading and writing commands alike name that, not the audit log they could not
write or an unexpected failure, and point at the backups.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from sync.ledger.location import DAMAGED
from tests.e2e.cli_ledger import run_args
from tests.e2e.test_reconcile_cli import arms_sync

pytestmark = pytest.mark.e2e

PAGE = 4096


@pytest.fixture(scope="module")
def sound_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a ledger (and its key beside it) after one run of the test feeds."""
    folder = tmp_path_factory.mktemp("sound")
    arms_sync("--db", f"sqlite:///{folder / 'ledger.db'}", *run_args(folder), cwd=folder)
    return folder


def overwrite_after_two_pages(ledger: Path) -> None:
    """Every page but the first two (the schema and its neighbour) overwritten."""
    size = ledger.stat().st_size
    with ledger.open("r+b") as handle:
        handle.seek(2 * PAGE)
        handle.write(b"\xff" * (size - 2 * PAGE))


def overwrite_the_audit_log(ledger: Path) -> None:
    """The audit log's table and index pages overwritten: the ledger opens, and a
    command finds the damage only when it comes to log what it does."""
    with closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as conn:
        pages = [
            root
            for (root,) in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'audit_log'"
            )
        ]
    with ledger.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * PAGE)
            handle.write(b"\xff" * PAGE)


def cut_short(ledger: Path) -> None:
    """The file cut short inside its second page, as by a copy that stopped."""
    with ledger.open("r+b") as handle:
        handle.truncate(PAGE + PAGE // 5)


@pytest.mark.parametrize("damage", [overwrite_after_two_pages, overwrite_the_audit_log, cut_short])
@pytest.mark.parametrize(
    "command",
    [("export", "timeline"), ("report", "duplicates", "--format", "json"), ("run",)],
    ids=["export", "report", "run"],
)
def test_a_damaged_ledger_is_named_as_damaged(
    sound_ledger: Path,
    tmp_path: Path,
    damage: Callable[[Path], None],
    command: tuple[str, ...],
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(sound_ledger, folder)
    ledger = folder / "ledger.db"
    damage(ledger)
    args = run_args(folder) if command == ("run",) else list(command)
    result = arms_sync("--db", f"sqlite:///{ledger}", *args, cwd=folder, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [f"Error: {DAMAGED}"]
