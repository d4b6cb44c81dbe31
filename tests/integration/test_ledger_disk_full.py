"""A run whose SQLite ledger fills its disk: one sentence and exit 1, and nothing half made.

SQLite's page limit (`PRAGMA max_page_count`, set on each connection the
command opens) stands in for the disk: past it SQLite fails exactly as on a
full disk (`SQLITE_FULL`). The same run, given room again, must then decide
exactly as a run on a ledger that never ran short.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from sync.cli.main import EXIT_FAILURE, main
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds

AS_OF = "2026-11-28"
SUBJECTS = 300
DISK_FULL = (
    "Error: The ledger cannot grow: its disk is full; free some space, "
    "then run the command again (no change was left half made).\n"
)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic pair of feeds of a few hundred people."""
    folder = tmp_path_factory.mktemp("feeds")
    write_synthetic_feeds(folder, SynthOptions(subjects=SUBJECTS, seed=53))
    return folder


def _cli(ledger: Path, *arguments: str) -> int:
    """`arms-sync --db LEDGER …` in this process; its exit status."""
    with pytest.raises(SystemExit) as done:
        main(["--db", f"sqlite:///{ledger}", *arguments])
    return int(done.value.code or 0)


def _run(ledger: Path, feeds: Path) -> int:
    probation, police = feeds / "probation.jsonl", feeds / "police.jsonl"
    return _cli(
        ledger, "run", "--probation-feed", str(probation), "--police-feed", str(police),
        "--as-of", AS_OF,
    )  # fmt: skip


def _exports(ledger: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Ownership, timelines, links and the duplicate report of `ledger`, as printed."""
    capsys.readouterr()
    for command in (
        ("export", "ownership", "--as-of", AS_OF),
        ("export", "timeline"),
        ("export", "links"),
        ("report", "duplicates", "--format", "json"),
    ):
        assert _cli(ledger, *command) == 0
    return capsys.readouterr().out


def _pages(ledger: Path) -> int:
    with sqlite3.connect(ledger) as db:
        return int(db.execute("PRAGMA page_count").fetchone()[0])


def _rows(ledger: Path, table: str) -> int:
    with sqlite3.connect(ledger) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@contextmanager
def page_limit(pages: int) -> Iterator[None]:
    """Every SQLite connection opened meanwhile may grow its database to `pages` at most."""

    def limit(connection: Any, _record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Engine, "connect", limit)
    try:
        yield
    finally:
        event.remove(Engine, "connect", limit)


@pytest.mark.parametrize(
    ("share", "feeds_stored"),
    [(0.5, False), (0.9, True)],
    ids=["while-storing-a-feed", "while-storing-the-decisions"],
)
def test_a_run_that_fills_the_disk_stops_in_one_sentence_and_resumes_whole(
    feeds: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    share: float,
    feeds_stored: bool,
) -> None:
    """Exit 1 with the full-disk sentence; given room, the run ends as one that never ran short."""
    reference, short = tmp_path / "reference" / "ledger.db", tmp_path / "short" / "ledger.db"
    reference.parent.mkdir()
    short.parent.mkdir()
    assert _run(reference, feeds) == 0
    expected = _exports(reference, capsys)
    # The same deployment: subject ids are keyed with the ledger's at-rest key.
    shutil.copy2(reference.with_name("ledger.db.key"), short.with_name("ledger.db.key"))

    capsys.readouterr()
    with page_limit(int(_pages(reference) * share)):
        assert _run(short, feeds) == EXIT_FAILURE
    assert capsys.readouterr().err == DISK_FULL
    assert (_rows(short, "records") == _rows(reference, "records")) is feeds_stored
    assert _rows(short, "segments") == 0

    assert _run(short, feeds) == 0
    assert _exports(short, capsys) == expected
