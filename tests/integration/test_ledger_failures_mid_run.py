"""A ledger failing under a run: one sentence and exit 1, nothing half made, a whole rerun.

Two failures an operator meets for real, made for real:
- a full disk: SQLite's page limit (`PRAGMA max_page_count`, set on each
  connection the command opens) stands in for the disk, and past it SQLite
  fails exactly as on a full disk (`SQLITE_FULL`);
- a PostgreSQL server ending the session (a restart, an administrator):
  the backend serving a statement is terminated just before it runs.
Run again with the cause gone, the run must end as one that never failed.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from sync.cli.main import EXIT_FAILURE, main
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.conftest import POSTGRES_ADMIN_URL, scratch_database

AS_OF = "2026-11-28"
SUBJECTS = 300
DISK_FULL = (
    "Error: The ledger cannot grow: its disk is full; free some space, "
    "then run the command again (no change was left half made).\n"
)
CONNECTION_LOST = (
    "Error: The connection to the ledger was lost (its server restarted or ended the "
    "session); run the command again (no change was left half made).\n"
)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic pair of feeds of a few hundred people."""
    folder = tmp_path_factory.mktemp("feeds")
    write_synthetic_feeds(folder, SynthOptions(subjects=SUBJECTS, seed=53))
    return folder


def _cli(url: str, *arguments: str) -> int:
    """`arms-sync --db URL …` in this process; its exit status."""
    with pytest.raises(SystemExit) as done:
        main(["--db", url, *arguments])
    return int(done.value.code or 0)


def _run(url: str, feeds: Path) -> int:
    probation, police = feeds / "probation.jsonl", feeds / "police.jsonl"
    return _cli(
        url, "run", "--probation-feed", str(probation), "--police-feed", str(police),
        "--as-of", AS_OF,
    )  # fmt: skip


def _exports(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Ownership, timelines, links and the duplicate report of the ledger, as printed."""
    capsys.readouterr()
    for command in (
        ("export", "ownership", "--as-of", AS_OF),
        ("export", "timeline"),
        ("export", "links"),
        ("report", "duplicates", "--format", "json"),
    ):
        assert _cli(url, *command) == 0
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
    assert _run(f"sqlite:///{reference}", feeds) == 0
    expected = _exports(f"sqlite:///{reference}", capsys)
    # The same deployment: subject ids are keyed with the ledger's at-rest key.
    shutil.copy2(reference.with_name("ledger.db.key"), short.with_name("ledger.db.key"))

    capsys.readouterr()
    with page_limit(int(_pages(reference) * share)):
        assert _run(f"sqlite:///{short}", feeds) == EXIT_FAILURE
    assert capsys.readouterr().err == DISK_FULL
    assert (_rows(short, "records") == _rows(reference, "records")) is feeds_stored
    assert _rows(short, "segments") == 0

    assert _run(f"sqlite:///{short}", feeds) == 0
    assert _exports(f"sqlite:///{short}", capsys) == expected


@contextmanager
def session_ended_before(statement_start: str) -> Iterator[list[int]]:
    """The first statement starting `statement_start` finds its PostgreSQL session ended.

    Yields the list of backends ended (one at most), for the test to check it happened.
    """
    ended: list[int] = []

    def end_session(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if ended or not statement.lstrip().upper().startswith(statement_start):
            return
        backend = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        ended.append(backend)

    event.listen(Engine, "before_cursor_execute", end_session)
    try:
        yield ended
    finally:
        event.remove(Engine, "before_cursor_execute", end_session)


@pytest.mark.parametrize(
    "statement_start",
    ["INSERT INTO RECORDS", "INSERT INTO SEGMENTS"],
    ids=["while-storing-a-feed", "while-storing-the-decisions"],
)
def test_a_run_whose_database_session_ends_stops_in_one_sentence_and_resumes_whole(
    feeds: Path,
    fresh_postgres_url: str,
    capsys: pytest.CaptureFixture[str],
    statement_start: str,
) -> None:
    """Exit 1 with the lost-connection sentence; run again, it ends as one never cut off."""
    with scratch_database("arms_sync_t_") as reference:
        assert _run(reference, feeds) == 0
        expected = _exports(reference, capsys)

    capsys.readouterr()
    with session_ended_before(statement_start) as ended:
        assert _run(fresh_postgres_url, feeds) == EXIT_FAILURE
    assert len(ended) == 1
    assert capsys.readouterr().err == CONNECTION_LOST

    assert _run(fresh_postgres_url, feeds) == 0
    assert _exports(fresh_postgres_url, capsys) == expected
