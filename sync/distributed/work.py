"""The ledger's account of a distributed cycle's tasks: claims, completions, retries, dead letters.

Each task is a row in `cycle_tasks` keyed by (cycle, task key). A worker runs
a task only while it holds the task's PostgreSQL advisory lock, so a second
delivery of the same message finds the lock taken and does nothing, and a
worker that dies releases the lock with its connection. Every start counts an
attempt; past the cap the task is dead and copied to `dead_letters`. A task
whose work raises `Postponed` could not start yet: it goes back to pending
with its attempt given back, for a later re-dispatch. A stage
advances, and the next stage's tasks are created, in the same transaction as
the completion of its last task. The broker only carries `TaskRef`s (kind,
cycle id, agency or batch number); `dispatch_pending` rebuilds what the ledger
says is owed, so a lost message never loses work.

The advisory lock lives on a connection of its own; if that connection is cut
(a database restart, a network fault), the lock goes with it while the task
may still be running, and the ledger may hand the task to another worker. So
the lock is not the only guard: an attempt's claim is its fence. Every
transaction that writes a task's effects checks, under the task row's lock,
that the task is still running under this attempt's claim (`hold_claim`, and
`complete` itself); a copy whose task was taken over stops with `LostClaim`
and none of its later writes land.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from sync.gateway_clients import gateway_host_port
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.ledger.runs import RUN_PARTIAL

KIND_INGEST = "ingest"
KIND_LINK = "link"
KIND_DECIDE = "decide"
KIND_COMMIT = "commit"
KIND_DELIVER = "deliver"
KIND_PROBE = "probe"
STAGES = (KIND_INGEST, KIND_LINK, KIND_DECIDE, KIND_COMMIT, KIND_DELIVER)
STAGE_DONE = "done"

TASK_PENDING = "pending"
TASK_RUNNING = "running"
TASK_DONE = "done"
TASK_DEAD = "dead"
TASK_ABANDONED = "abandoned"  # left unfinished when its cycle was abandoned
FINAL_TASK_STATES = frozenset({TASK_DONE, TASK_DEAD, TASK_ABANDONED})

CYCLE_RUNNING = "running"
CYCLE_BLOCKED = "blocked"
CYCLE_SUCCEEDED = "succeeded"
CYCLE_PARTIAL = "partial"  # finished, but its run is partial (a gateway failed at ingest)
FINISHED_CYCLES = frozenset({CYCLE_SUCCEEDED, CYCLE_PARTIAL})
CYCLE_ABANDONED = "abandoned"  # given up while blocked (`sync.distributed.abandon`)

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_DISPATCH_GRACE_SECONDS = 60.0
DEFAULT_BATCH_SIZE = 2_000
LOCK_KEY_BYTES = 8
ERROR_NAME_LIMIT = 200
CLAIMER_LIMIT = 80  # the width of `cycle_tasks.claimed_by`
KEY_SEPARATOR = ":"
RESULT_FEED_ERROR = "feed_error"


@dataclass(frozen=True, slots=True)
class CycleRules:
    """How a deployment runs its cycles: attempts cap, re-dispatch grace and batch size."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    dispatch_grace_seconds: float = DEFAULT_DISPATCH_GRACE_SECONDS
    batch_size: int = DEFAULT_BATCH_SIZE


@dataclass(frozen=True, slots=True, order=True)
class TaskRef:
    """One task of one cycle, named by ids only (what a broker message carries)."""

    kind: str
    cycle_id: int
    arg: str = ""

    @property
    def key(self) -> str:
        """The task's key within its cycle: `kind` or `kind:arg`."""
        return f"{self.kind}{KEY_SEPARATOR}{self.arg}" if self.arg else self.kind


def task_ref(cycle_id: int, task_key: str) -> TaskRef:
    """The reference of a stored task key."""
    kind, _, arg = task_key.partition(KEY_SEPARATOR)
    return TaskRef(kind, cycle_id, arg)


def feed_error_result(message: str) -> dict[str, str]:
    """An ingest task's result when its gateway failed: the agency's feed error."""
    return {RESULT_FEED_ERROR: message}


def result_feed_error(result: Mapping[str, Any]) -> str | None:
    """The feed error an ingest task's result records, or None when its feed was read."""
    found = result.get(RESULT_FEED_ERROR)
    return None if found is None else str(found)


class Postponed(Exception):
    """Raised by a task's work that cannot start yet; the task is re-dispatched later."""


class LostClaim(Exception):
    """Raised when a task was handed to another worker while this copy still ran."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """The task this process is running, and the claim it started under."""

    ref: TaskRef
    claimer: str


# The attempt running in this process (set by `claimed`), which writes are fenced by.
_RUNNING: ContextVar[Attempt | None] = ContextVar("arms_sync_running_attempt", default=None)


@contextmanager
def claimed(ref: TaskRef, claimer: str) -> Iterator[None]:
    """Fence the block's writes for `ref` with the claim `claimer` made (`hold_claim`)."""
    token = _RUNNING.set(Attempt(ref, claimer[:CLAIMER_LIMIT]))
    try:
        yield
    finally:
        _RUNNING.reset(token)


def hold_claim(conn: Connection, ref: TaskRef) -> None:
    """Inside a writing transaction: lock the task's row and check this attempt still holds it.

    Raises `LostClaim` when the task is no longer running under the claim this
    process made (another worker took it over), so the transaction writes
    nothing. Outside a claimed attempt (a test, a one-off call) it checks nothing.
    """
    attempt = _RUNNING.get()
    if attempt is None or attempt.ref != ref:
        return
    table = tables.cycle_tasks
    row = conn.execute(
        select(table.c.status, table.c.claimed_by).where(_where(ref)).with_for_update()
    ).one_or_none()
    if row is None or (row.status, row.claimed_by) != (TASK_RUNNING, attempt.claimer):
        raise LostClaim(f"task {ref.key} of cycle {ref.cycle_id} was taken over.")


class Claim(StrEnum):
    """What a delivered task should do."""

    RUN = "run"
    SKIP = "skip"
    DEAD = "dead"


def _lock_key(ref: TaskRef) -> int:
    digest = hashlib.sha256(f"arms-sync/task/{ref.cycle_id}/{ref.key}".encode()).digest()
    return int.from_bytes(digest[:LOCK_KEY_BYTES], "big", signed=True)


@contextmanager
def task_lock(engine: Engine, ref: TaskRef) -> Iterator[bool]:
    """Hold the task's advisory lock while the block runs; yields whether it was free."""
    key = _lock_key(ref)
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield got
        finally:
            # A cut connection took the lock with it: nothing is left to release.
            if got:
                with contextlib.suppress(SQLAlchemyError):
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def _where(ref: TaskRef) -> Any:
    table = tables.cycle_tasks
    return (table.c.cycle_id == ref.cycle_id) & (table.c.task_key == ref.key)


def add_tasks(conn: Connection, refs: list[TaskRef], now: datetime) -> list[TaskRef]:
    """Record new pending tasks (inside the caller's transaction) and return them."""
    if refs:
        conn.execute(
            tables.cycle_tasks.insert(),
            [
                {
                    "cycle_id": ref.cycle_id,
                    "task_key": ref.key,
                    "kind": ref.kind,
                    "status": TASK_PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for ref in refs
            ],
        )
    return refs


def claim(engine: Engine, ref: TaskRef, claimer: str, rules: CycleRules, now: datetime) -> Claim:
    """Start an attempt at a task the caller holds the lock of, unless it is finished or spent."""
    table = tables.cycle_tasks
    with engine.begin() as conn:
        row = conn.execute(
            select(table.c.status, table.c.attempts, table.c.last_error)
            .where(_where(ref))
            .with_for_update()
        ).one_or_none()
        if row is None or row.status in FINAL_TASK_STATES:
            return Claim.SKIP
        if row.attempts >= rules.max_attempts:
            _bury(conn, ref, row.attempts, row.last_error, now)
            return Claim.DEAD
        conn.execute(
            update(table)
            .where(_where(ref))
            .values(
                status=TASK_RUNNING,
                attempts=row.attempts + 1,
                claimed_by=claimer[:CLAIMER_LIMIT],
                updated_at=now,
            )
        )
        return Claim.RUN


def fail(engine: Engine, ref: TaskRef, error_name: str, rules: CycleRules, now: datetime) -> Claim:
    """Record a failed attempt: back to pending for a later re-dispatch, or dead past the cap."""
    table = tables.cycle_tasks
    with engine.begin() as conn:
        row = conn.execute(
            select(table.c.status, table.c.attempts).where(_where(ref)).with_for_update()
        ).one_or_none()
        if row is None or row.status in FINAL_TASK_STATES:
            return Claim.SKIP
        if row.attempts >= rules.max_attempts:
            _bury(conn, ref, row.attempts, error_name, now)
            return Claim.DEAD
        conn.execute(
            update(table)
            .where(_where(ref))
            .values(status=TASK_PENDING, last_error=error_name[:ERROR_NAME_LIMIT], updated_at=now)
        )
        return Claim.RUN


def postpone(engine: Engine, ref: TaskRef, now: datetime) -> None:
    """Put a running task back to pending and give back the attempt it started."""
    table = tables.cycle_tasks
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(_where(ref), table.c.status == TASK_RUNNING, table.c.attempts > 0)
            .values(status=TASK_PENDING, attempts=table.c.attempts - 1, updated_at=now)
        )


def _bury(
    conn: Connection, ref: TaskRef, attempts: int, error_name: str | None, now: datetime
) -> None:
    """Mark a task dead, copy it to `dead_letters`, and block its cycle if the cycle needs it."""
    table = tables.cycle_tasks
    created = conn.execute(select(table.c.created_at).where(_where(ref))).scalar_one()
    conn.execute(update(table).where(_where(ref)).values(status=TASK_DEAD, updated_at=now))
    conn.execute(
        tables.dead_letters.insert().values(
            cycle_id=ref.cycle_id,
            task_key=ref.key,
            task_name=ref.kind,
            args=json.dumps([ref.cycle_id, ref.arg]),
            attempts=attempts,
            last_error=error_name or "WorkerLost",
            first_seen=created,
            last_seen=now,
        )
    )
    if ref.kind in STAGES:
        conn.execute(
            update(tables.cycles)
            .where(tables.cycles.c.id == ref.cycle_id)
            .values(status=CYCLE_BLOCKED)
        )


def complete(
    conn: Connection, ref: TaskRef, result: dict[str, Any] | None, now: datetime
) -> list[TaskRef]:
    """Mark a task done in the transaction holding its effects; return the next tasks due.

    A copy whose task was taken over meanwhile raises `LostClaim` (`hold_claim`),
    so its transaction, effects included, is rolled back.
    """
    hold_claim(conn, ref)
    conn.execute(
        update(tables.cycle_tasks)
        .where(_where(ref))
        .values(
            status=TASK_DONE,
            updated_at=now,
            result=None if result is None else json.dumps(result, sort_keys=True),
        )
    )
    return advance(conn, ref.cycle_id, now)


def advance(conn: Connection, cycle_id: int, now: datetime) -> list[TaskRef]:
    """Move a cycle past every stage whose tasks are all done; create the next stage's tasks."""
    cycles = tables.cycles
    cycle = conn.execute(select(cycles).where(cycles.c.id == cycle_id).with_for_update()).one()
    if cycle.status != CYCLE_RUNNING:
        return []
    stage = cycle.stage
    while stage != STAGE_DONE:
        if _open_tasks(conn, cycle_id, stage):
            break
        stage = _next_stage(stage)
        refs = _stage_tasks(cycle, stage)
        conn.execute(update(cycles).where(cycles.c.id == cycle_id).values(stage=stage))
        if refs:
            return add_tasks(conn, refs, now)
    if stage == STAGE_DONE:
        conn.execute(
            update(cycles)
            .where(cycles.c.id == cycle_id)
            .values(status=_finished_status(conn, cycle.run_id), finished_at=now)
        )
    return []


def _finished_status(conn: Connection, run_id: int) -> str:
    """A finished cycle's status: partial when its run is (as the run's own status says)."""
    runs = schema.runs
    run_status = conn.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar_one()
    return CYCLE_PARTIAL if run_status == RUN_PARTIAL else CYCLE_SUCCEEDED


def _open_tasks(conn: Connection, cycle_id: int, kind: str) -> int:
    table = tables.cycle_tasks
    return int(
        conn.execute(
            select(func.count()).where(
                table.c.cycle_id == cycle_id, table.c.kind == kind, table.c.status != TASK_DONE
            )
        ).scalar_one()
    )


def _next_stage(stage: str) -> str:
    position = STAGES.index(stage) + 1
    return STAGES[position] if position < len(STAGES) else STAGE_DONE


def _stage_tasks(cycle: Any, stage: str) -> list[TaskRef]:
    sources = json.loads(cycle.sources)
    match stage:
        case "link" | "commit":
            return [TaskRef(stage, cycle.id)]
        case "decide":
            return [TaskRef(stage, cycle.id, str(n)) for n in range(cycle.batches or 0)]
        case "deliver":
            return [TaskRef(stage, cycle.id, agency) for agency in sorted(sources["deliver"])]
        case _:
            return []


def first_tasks(cycle_id: int, feeds: dict[str, str]) -> list[TaskRef]:
    """The tasks a new cycle starts with: one ingest per agency."""
    return [TaskRef(KIND_INGEST, cycle_id, agency) for agency in sorted(feeds)]


def dispatch_pending(engine: Engine, rules: CycleRules, now: datetime) -> list[TaskRef]:
    """Tasks owed by running cycles whose message may be lost: pending or orphaned too long."""
    table, cycles = tables.cycle_tasks, tables.cycles
    cutoff = now - timedelta(seconds=rules.dispatch_grace_seconds)
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.cycle_id, table.c.task_key, table.c.status, table.c.updated_at)
            .join(cycles, cycles.c.id == table.c.cycle_id)
            .where(
                cycles.c.status.in_((CYCLE_RUNNING, CYCLE_BLOCKED)),
                table.c.status.in_((TASK_PENDING, TASK_RUNNING)),
                table.c.updated_at < cutoff,
            )
            .order_by(table.c.cycle_id, table.c.task_key)
        ).all()
    owed = []
    for row in rows:
        ref = task_ref(row.cycle_id, row.task_key)
        if _reset_if_unheld(engine, ref, row.updated_at, now):
            owed.append(ref)
    return owed


def _reset_if_unheld(engine: Engine, ref: TaskRef, seen: datetime, now: datetime) -> bool:
    """Mark a task re-dispatched unless a live worker holds it or it moved meanwhile."""
    table = tables.cycle_tasks
    with task_lock(engine, ref) as free:
        if not free:
            return False
        with engine.begin() as conn:
            changed = conn.execute(
                update(table)
                .where(
                    _where(ref),
                    table.c.updated_at == seen,
                    table.c.status.in_((TASK_PENDING, TASK_RUNNING)),
                )
                .values(status=TASK_PENDING, updated_at=now)
            )
            return bool(changed.rowcount)


def list_dead_letters(engine: Engine, include_retried: bool = False) -> list[dict[str, Any]]:
    """The dead letters waiting for a retry, oldest first (ids, attempts and error class only).

    With `include_retried`, every letter: those retried, and those whose cycle was
    abandoned (`cycle_status` says which cycles were). An ingest letter names the
    feed its cycle reads (`feed`, see `feed_named`), where a retry will look for it.
    """
    letters, cycles = tables.dead_letters, tables.cycles
    query = (
        select(letters, cycles.c.status.label("cycle_status"), cycles.c.sources)
        .join(cycles, cycles.c.id == letters.c.cycle_id)
        .order_by(letters.c.id)
    )
    if not include_retried:
        query = query.where(letters.c.retried_at.is_(None), cycles.c.status != CYCLE_ABANDONED)
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        row["feed"] = feed_named(row.pop("sources"), task_ref(row["cycle_id"], row["task_key"]))
    return rows


def feed_named(sources: str, ref: TaskRef) -> str | None:
    """The feed an ingest task reads, as its cycle stored it: a file by its absolute path,
    a gateway by its host and port (never credentials or a path); None for other tasks."""
    if ref.kind != KIND_INGEST:
        return None
    spec = json.loads(sources).get("feeds", {}).get(ref.arg)
    if not isinstance(spec, str):
        return None
    if spec.startswith(("http://", "https://")):
        return "gateway " + gateway_host_port(spec)
    return spec


def retry_dead_letter(engine: Engine, letter_id: int, now: datetime) -> TaskRef | None:
    """Put a dead task back to pending with a fresh attempts count; its cycle runs on.

    None when no such letter waits: unknown, retried already, or its cycle abandoned.
    """
    letters, table, cycles = tables.dead_letters, tables.cycle_tasks, tables.cycles
    with engine.begin() as conn:
        letter = conn.execute(
            select(letters).where(letters.c.id == letter_id, letters.c.retried_at.is_(None))
        ).one_or_none()
        if letter is None:
            return None
        ref = task_ref(letter.cycle_id, letter.task_key)
        # The task, then its cycle: the order completions and `abandon_cycle` lock in.
        conn.execute(select(table.c.status).where(_where(ref)).with_for_update()).one()
        cycle_status = conn.execute(
            select(cycles.c.status).where(cycles.c.id == ref.cycle_id).with_for_update()
        ).scalar_one()
        if cycle_status == CYCLE_ABANDONED:
            return None
        conn.execute(update(letters).where(letters.c.id == letter_id).values(retried_at=now))
        conn.execute(
            update(table)
            .where(_where(ref))
            .values(status=TASK_PENDING, attempts=0, last_error=None, updated_at=now)
        )
        dead_left = conn.execute(
            select(func.count()).where(
                table.c.cycle_id == ref.cycle_id,
                table.c.status == TASK_DEAD,
                table.c.kind.in_(STAGES),
            )
        ).scalar_one()
        if not dead_left:
            conn.execute(
                update(cycles)
                .where(cycles.c.id == ref.cycle_id, cycles.c.status == CYCLE_BLOCKED)
                .values(status=CYCLE_RUNNING)
            )
        return ref
