"""Run records and their liveness locks on an SQLite file ledger, within one process."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Connection, bindparam, delete, select, update

from sync.app import App
from sync.ledger import schema
from sync.ledger.run_locks import FileRunLocks, HeldRunLock, RunLocks, hold_ledger_task_lock
from sync.ledger.runs import KIND_DISTRIBUTED, KIND_IN_PROCESS, insert_run, mark_interrupted_runs
from sync.ledger.store import Ledger, bulk_execute
from sync.settings import load_settings

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)
LATER = datetime(2026, 11, 28, 10, tzinfo=UTC)
AS_OF = date(2026, 11, 28)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    app = App(load_settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    app.ledger.ensure_schema()
    yield app.ledger
    app.close()


def _runs(ledger: Ledger) -> dict[int, tuple[str, str | None, bool]]:
    """Each run's status, summary and whether it has a finishing time."""
    runs = schema.runs
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(runs.c.id, runs.c.status, runs.c.summary, runs.c.finished_at))
        return {int(i): (s, summary, finished is not None) for i, s, summary, finished in rows}


def _locks(ledger: Ledger) -> FileRunLocks:
    assert isinstance(ledger.run_locks, FileRunLocks)
    return ledger.run_locks


def _recorded(ledger: Ledger, kind: str) -> int:
    """A run recorded as started with no process holding its lock."""
    with ledger.engine.begin() as conn:
        return insert_run(conn, AS_OF, NOW, kind)


def test_a_run_holds_its_lock_file_until_released_and_leaves_none(ledger: Ledger) -> None:
    locks = _locks(ledger)
    run_id = ledger.start_run(AS_OF, NOW)
    assert locks.lock_path(run_id).exists()
    with ledger.engine.connect() as conn:
        assert locks.take_if_free(conn, run_id) is None
    ledger.release_run(run_id)
    assert not locks.lock_path(run_id).exists()
    with ledger.engine.connect() as conn:
        free = locks.take_if_free(conn, run_id)
    assert free is not None
    free.release()


def test_closing_the_ledger_lets_go_of_every_run_it_holds(ledger: Ledger) -> None:
    locks = _locks(ledger)
    first, second = ledger.start_run(AS_OF, NOW), ledger.start_run(AS_OF, NOW)
    assert locks.lock_path(first) != locks.lock_path(second)
    ledger.close()
    assert not locks.lock_path(first).exists()
    assert not locks.lock_path(second).exists()


def test_a_run_starting_records_in_process_runs_without_a_process_as_interrupted(
    ledger: Ledger,
) -> None:
    dead = _recorded(ledger, KIND_IN_PROCESS)  # no lock file left
    stale = _recorded(ledger, KIND_IN_PROCESS)  # a lock file no process holds
    _locks(ledger).lock_path(stale).touch()
    distributed = _recorded(ledger, KIND_DISTRIBUTED)
    live = ledger.start_run(AS_OF, NOW)
    done = ledger.start_run(AS_OF, NOW)
    ledger.finish_run(done, "succeeded", {}, NOW)
    ledger.release_run(done)

    started = ledger.start_run(AS_OF, LATER)

    assert _runs(ledger) == {
        dead: ("interrupted", None, True),
        stale: ("interrupted", None, True),
        distributed: ("running", None, False),
        live: ("running", None, False),
        done: ("succeeded", "{}", True),
        started: ("running", None, False),
    }
    assert not _locks(ledger).lock_path(stale).exists()


class _Free:
    """A run lock taken from no one: nothing to let go."""

    def release(self) -> None:
        """Nothing held."""


class _FinishingMeanwhile:
    """Run locks under which each run is found free just as its process records an outcome."""

    def take_if_free(self, conn: Connection, run_id: int) -> HeldRunLock | None:
        runs = schema.runs
        conn.execute(update(runs).where(runs.c.id == run_id).values(status="succeeded"))
        return _Free()


def test_a_run_that_records_its_outcome_meanwhile_keeps_it(ledger: Ledger) -> None:
    run_id = _recorded(ledger, KIND_IN_PROCESS)
    locks = cast(RunLocks, _FinishingMeanwhile())
    assert mark_interrupted_runs(ledger.engine, locks, LATER) == []
    assert _runs(ledger)[run_id] == ("succeeded", None, False)


def _fail_in_a_run(ledger: Ledger, summary: dict[str, str]) -> None:
    with ledger.in_process_run(AS_OF, lambda: NOW, failure_summary=summary):
        raise RuntimeError("synthetic failure")


def test_a_run_whose_block_raises_is_recorded_failed_with_the_summary_given(
    ledger: Ledger,
) -> None:
    summary = {"error": "synthetic failure"}
    with pytest.raises(RuntimeError, match="synthetic failure"):
        _fail_in_a_run(ledger, summary)
    (run_id,) = _runs(ledger)
    assert _runs(ledger) == {run_id: ("failed", json.dumps(summary), True)}
    assert not _locks(ledger).lock_path(run_id).exists()


def test_a_run_interrupted_with_ctrl_c_records_itself_interrupted_not_failed(
    ledger: Ledger,
) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        ledger.in_process_run(AS_OF, lambda: NOW) as run_id,
    ):
        raise KeyboardInterrupt
    with pytest.raises(RuntimeError), ledger.in_process_run(AS_OF, lambda: NOW):
        raise RuntimeError
    assert [status for status, *_ in _runs(ledger).values()] == ["interrupted", "failed"]
    assert run_id in _runs(ledger)


def _interrupted_while_held(ledger: Ledger, other: sqlite3.Connection) -> int:
    """A run interrupted while `other` holds the ledger's write lock; the run's id."""
    started: list[int] = []
    with (  # noqa: PT012 - the run's block is the point
        pytest.raises(KeyboardInterrupt),
        ledger.in_process_run(AS_OF, lambda: NOW) as run_id,
    ):
        started.append(run_id)
        other.execute("BEGIN EXCLUSIVE")
        raise KeyboardInterrupt
    return started[0]


def test_an_interrupt_is_what_goes_on_when_the_failure_cannot_be_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C while another process holds the ledger: the interrupt reaches the operator (not
    the ledger's refusal to record it, which is nothing for them to act on, so only at debug
    level), and the next run records the run as interrupted."""
    monkeypatch.setattr("sync.app.SQLITE_BUSY_TIMEOUT_MS", 100)
    ledger_file = tmp_path / "ledger.db"
    app = App(load_settings(database_url=f"sqlite:///{ledger_file}"))
    try:
        app.ledger.ensure_schema()
        other = sqlite3.connect(ledger_file, isolation_level=None)
        with caplog.at_level(logging.DEBUG, logger="sync.ledger.store"):
            run_id = _interrupted_while_held(app.ledger, other)
        other.execute("ROLLBACK")
        other.close()
        said = [
            (r.levelno, r.getMessage()) for r in caplog.records if r.name == "sync.ledger.store"
        ]
        assert said == [
            (
                logging.DEBUG,
                f"run {run_id}: interrupted, recorded by the next run (OperationalError)",
            )
        ]
        assert _runs(app.ledger)[run_id][0] == "running"

        app.ledger.start_run(AS_OF, LATER)
        assert _runs(app.ledger)[run_id][0] == "interrupted"
    finally:
        app.close()


def test_the_last_pass_carries_the_window_and_policy_versions_its_run_recorded(
    ledger: Ledger,
) -> None:
    assert ledger.recorded_policy_versions() == []
    version = {"id": "v1", "effective": "2026-01-01", "digest": "d1"}
    summary = {"window_days": 30, "policy": {"versions": [version, "not a version"]}}
    with ledger.in_process_run(AS_OF, lambda: NOW) as run_id:
        ledger.finish_run(run_id, "succeeded", summary, NOW)
    last = ledger.last_pass()
    assert last is not None
    assert (last.as_of, last.window_days) == (AS_OF, 30)
    assert ledger.recorded_policy_versions() == [version]


def test_a_bulk_statement_with_one_parameter_takes_it_from_each_row(ledger: Ledger) -> None:
    table = schema.subjects
    rows = [{"subject_id": f"S-{n}", "created_run": 1, "active": True} for n in range(3)]
    forget = delete(table).where(table.c.subject_id == bindparam("sid"))
    with ledger.engine.begin() as conn:
        bulk_execute(conn, table.insert(), rows, "test-subjects-insert")
        bulk_execute(conn, forget, [{"sid": "S-0"}, {"sid": "S-2"}], "test-subjects-forget")
    assert ledger.load_subject_ids() == {"S-1"}


def test_a_ledger_wide_task_is_held_by_one_holder_at_a_time(ledger: Ledger) -> None:
    held = hold_ledger_task_lock(ledger.engine, "synthetic-task")
    assert held is not None
    assert hold_ledger_task_lock(ledger.engine, "synthetic-task") is None
    held.release()
    again = hold_ledger_task_lock(ledger.engine, "synthetic-task")
    assert again is not None
    again.release()


def test_the_runs_of_an_in_memory_ledger_are_never_found_interrupted() -> None:
    app = App(load_settings(database_url="sqlite://"))
    try:
        app.ledger.ensure_schema()
        in_flight = app.ledger.start_run(AS_OF, NOW)
        app.ledger.start_run(AS_OF, LATER)
        assert _runs(app.ledger)[in_flight] == ("running", None, False)
    finally:
        app.close()
