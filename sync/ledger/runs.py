"""Run records: their statuses and kinds, and recording in-process runs whose process died.

A run is `running` until its outcome is recorded: `succeeded`, `partial` (a
gateway let it down), `failed` (it raised), `interrupted` (the operator
interrupted it with Ctrl-C, or its process was killed, lost its machine or ran
out of memory before it could say), or
`abandoned` (a distributed cycle given up by an operator before its commit). Only
in-process runs (`run`, and the run each reconcile act starts) are ever found
interrupted: they hold a liveness lock for their life (`run_locks`). A
distributed cycle's run lives across many tasks and processes and is never
touched here; nor is a run recorded before runs had a kind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Connection, Engine, select, update

from sync.ledger import schema
from sync.ledger.reencryption_mark import refuse_while_reencrypting
from sync.ledger.run_locks import HeldRunLock, RunLocks

RUN_RUNNING = "running"
RUN_SUCCEEDED = "succeeded"
RUN_PARTIAL = "partial"
RUN_FAILED = "failed"
RUN_INTERRUPTED = "interrupted"
RUN_ABANDONED = "abandoned"

KIND_IN_PROCESS = "in_process"
KIND_DISTRIBUTED = "distributed"

log = logging.getLogger(__name__)


# The outcomes of a run that stored no decisions of its own for want of finishing.
UNFINISHED_OUTCOMES = frozenset({RUN_FAILED, RUN_INTERRUPTED})


@dataclass(frozen=True, slots=True)
class FinishedRun:
    """A run whose outcome is recorded: its id, outcome, kind, date and end, and the
    sentence of each agency's feed that could not be read (a partial run)."""

    run_id: int
    status: str
    kind: str | None
    as_of: date
    finished_at: datetime | None
    feed_errors: dict[str, str] = field(default_factory=dict)


def latest_finished_run(conn: Connection) -> FinishedRun | None:
    """The latest-started run whose outcome is recorded (None before any has finished)."""
    table = schema.runs
    row = conn.execute(
        select(
            table.c.id,
            table.c.status,
            table.c.kind,
            table.c.as_of,
            table.c.finished_at,
            table.c.summary,
        )
        .where(table.c.status != RUN_RUNNING)
        .order_by(table.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return FinishedRun(
        row.id, row.status, row.kind, row.as_of, row.finished_at, _feed_errors(row.summary)
    )


@dataclass(frozen=True, slots=True)
class RunInProgress:
    """An in-process run still recorded as running: its id, date and start."""

    run_id: int
    as_of: date
    started_at: datetime


def in_process_runs_in_progress(conn: Connection) -> list[RunInProgress]:
    """In-process runs recorded as running, oldest first (alive, unless their process
    ended since without recording an outcome: `in_process_runs_gone`)."""
    runs = schema.runs
    rows = conn.execute(
        select(runs.c.id, runs.c.as_of, runs.c.started_at)
        .where(runs.c.status == RUN_RUNNING, runs.c.kind == KIND_IN_PROCESS)
        .order_by(runs.c.id)
    )
    return [RunInProgress(row.id, row.as_of, row.started_at) for row in rows]


def any_in_process_run(conn: Connection) -> bool:
    """Whether the ledger records an in-process run (`run`, or a reconcile act's)."""
    runs = schema.runs
    query = select(runs.c.id).where(runs.c.kind == KIND_IN_PROCESS).limit(1)
    return conn.execute(query).first() is not None


def _feed_errors(summary: str | None) -> dict[str, str]:
    """The feed errors a run's stored summary names, by agency."""
    told = json.loads(summary or "{}").get("feed_errors") or {}
    return {str(agency): str(sentence) for agency, sentence in sorted(told.items())}


def insert_run(conn: Connection, as_of: date, now: datetime, kind: str) -> int:
    """Record a run as started (inside `conn`'s transaction) and return its id.

    Refused while the ledger is being re-encrypted. The row is written before
    the mark is read, so a re-encryption that waits for the writers of `runs`
    (`sync/reencryption.py`) sees every run that did not see its mark.
    """
    result = conn.execute(
        schema.runs.insert().values(started_at=now, as_of=as_of, status=RUN_RUNNING, kind=kind)
    )
    run_id = result.inserted_primary_key
    assert run_id is not None
    refuse_while_reencrypting(conn)
    return int(run_id[0])


def mark_interrupted_runs(engine: Engine, locks: RunLocks, now: datetime) -> list[int]:
    """Record as interrupted, in one transaction, every in-process run whose process is gone.

    A run is gone when its lock can be taken; the lock is held until the
    transaction has committed, so two callers never both decide about one run,
    and a run that finished meanwhile keeps its outcome. Returns the runs marked.
    """
    with _releasing() as taken, engine.begin() as conn:
        dead = _runs_gone(conn, locks, taken)
        marked = _mark_interrupted(conn, dead, now) if dead else []
    for run_id in marked:
        log.warning("run %d was interrupted: its process ended before recording an outcome", run_id)
    return marked


def in_process_runs_gone(engine: Engine, locks: RunLocks) -> list[int]:
    """The in-process runs recorded as running whose process is gone (their lock is
    free), found without writing: the next run or act records them as interrupted."""
    with _releasing() as taken, engine.connect() as conn:
        gone = _runs_gone(conn, locks, taken)
        conn.rollback()  # a transaction-level lock goes with it
    return gone


@contextmanager
def _releasing() -> Iterator[list[HeldRunLock]]:
    """A list for the run locks taken in the block, each let go when it ends."""
    taken: list[HeldRunLock] = []
    try:
        yield taken
    finally:
        for held in taken:
            held.release()


def _runs_gone(conn: Connection, locks: RunLocks, taken: list[HeldRunLock]) -> list[int]:
    """The in-process runs in flight whose lock was free (each lock taken joins `taken`)."""
    return [
        run_id for run_id in _in_process_runs_in_flight(conn) if _take(locks, conn, run_id, taken)
    ]


def _in_process_runs_in_flight(conn: Connection) -> list[int]:
    runs = schema.runs
    return list(
        conn.execute(
            select(runs.c.id)
            .where(runs.c.status == RUN_RUNNING, runs.c.kind == KIND_IN_PROCESS)
            .order_by(runs.c.id)
        ).scalars()
    )


def _take(locks: RunLocks, conn: Connection, run_id: int, taken: list[HeldRunLock]) -> bool:
    """Whether the run's lock was free; a lock taken joins `taken`."""
    held = locks.take_if_free(conn, run_id)
    if held is None:
        return False
    taken.append(held)
    return True


def _mark_interrupted(conn: Connection, run_ids: list[int], now: datetime) -> list[int]:
    runs = schema.runs
    statement = (
        update(runs)
        .where(runs.c.id.in_(run_ids), runs.c.status == RUN_RUNNING)
        .values(status=RUN_INTERRUPTED, finished_at=now)
        .returning(runs.c.id)
    )
    return sorted(conn.execute(statement).scalars())
