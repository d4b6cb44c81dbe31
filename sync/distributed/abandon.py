"""Giving up a distributed cycle blocked on a dead letter, so the next cycle can start.

A cycle blocks when one of its stage tasks is dead-lettered, and no cycle
starts while one is blocked. Most blocks end with `dead-letters retry` once
the cause is mended; some cannot be mended (a feed file lost for good, a task
no retry gets past). Abandoning such a cycle closes it in one transaction:

- its tasks not yet finished are stopped (a copy still running finds its
  claim gone and writes nothing more, `work.hold_claim`; a deliver pass
  under way finishes as the delivery beat's would);
- its staged hand-offs are erased, and its dead letters stop waiting;
- its run, if the commit had not stored it, is recorded as abandoned.

Nothing the agencies sent is lost: what the ingest stage read is already in
the ledger, and the next cycle decides over everything the ledger holds. A
cycle blocked at its deliver stage had stored its decisions; they stand, and
its notices wait in the outbox, where the delivery beat takes them. The act
is written to the audit log (counts only) under the operator's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from sync.audit.chain import AuditKind
from sync.audit.log import audit_log_for
from sync.distributed.store import clear_staging
from sync.distributed.work import (
    CYCLE_ABANDONED,
    CYCLE_BLOCKED,
    CYCLE_PARTIAL,
    CYCLE_RUNNING,
    CYCLE_SUCCEEDED,
    FINAL_TASK_STATES,
    TASK_ABANDONED,
)
from sync.errors import UsageError
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.ledger.runs import RUN_ABANDONED, RUN_RUNNING
from sync.ledger.store_lock import lock_decision_store
from sync.wording import counted

AUDIT_PURPOSE = "distributed cycle abandoned"
# Why a cycle cannot be abandoned, by its status.
_NOT_BLOCKED = {
    CYCLE_RUNNING: "it is still running",
    CYCLE_SUCCEEDED: "it has finished",
    CYCLE_PARTIAL: "it has finished, partially",
    CYCLE_ABANDONED: "it was abandoned already",
}


@dataclass(frozen=True, slots=True)
class Abandoned:
    """What abandoning a cycle did (counts only)."""

    cycle_id: int
    stage: str
    decisions_stored: bool
    tasks_stopped: int
    staged_parts_erased: int
    dead_letters_closed: int

    def counts(self) -> str:
        """`1 dead letter closed, 2 tasks stopped, 3 staged parts erased`."""
        return (
            f"{counted(self.dead_letters_closed, 'dead letter')} closed, "
            f"{counted(self.tasks_stopped, 'task')} stopped, "
            f"{counted(self.staged_parts_erased, 'staged part')} erased"
        )

    def sentence(self, applied: bool) -> str:
        """One sentence for the operator: what is given up, what stands, or how to go on."""
        done = "abandoned" if applied else "would be abandoned"
        head = f"Cycle {self.cycle_id} {done} at its {self.stage} stage ({self.counts()})"
        if self.decisions_stored:
            stands = "its decisions stand, and its notices wait in the outbox for the delivery beat"
        else:
            stands = "the records it read stay in the ledger, and the next cycle decides over them"
        return f"{head}: {stands}" + ("." if applied else "; give --apply to abandon it.")


def abandon_cycle(
    engine: Engine, cycle_id: int, actor: str, now: datetime, *, apply: bool
) -> Abandoned:
    """Close a blocked cycle for good (see the module's text); refused for any other.

    Without `apply` the same work is done and rolled back: a preview of its counts.
    """
    with engine.connect() as conn, conn.begin() as transaction:
        outcome = _abandon(conn, cycle_id, actor, now)
        if not apply:
            transaction.rollback()
    return outcome


def _abandon(conn: Connection, cycle_id: int, actor: str, now: datetime) -> Abandoned:
    # A live cycle is refused before any lock is taken, so a mistaken id never holds
    # up its work. Then the locks in the order the cycle's writers take theirs: the
    # decision-store lock (a commit's first, so a stale copy of one finishes first),
    # the audit log's head (an ingest page's first), the tasks, their cycle.
    _require_blocked(conn, cycle_id, lock=False)
    lock_decision_store(conn)
    audit = audit_log_for(conn.engine)
    audit.hold_head(conn)
    _lock_tasks(conn, cycle_id)
    cycle = _require_blocked(conn, cycle_id, lock=True)  # a retry may have come first
    letters = _waiting_letters(conn, cycle_id)
    stopped = _stop_open_tasks(conn, cycle_id, now)
    erased = clear_staging(conn, cycle_id)
    conn.execute(
        update(tables.cycles)
        .where(tables.cycles.c.id == cycle_id)
        .values(status=CYCLE_ABANDONED, finished_at=now)
    )
    stored = not _abandon_run(conn, cycle.run_id, now)
    outcome = Abandoned(cycle_id, cycle.stage, stored, stopped, erased, letters)
    audit.record(
        conn,
        kind=AuditKind.ERASURE,
        actor=actor,
        purpose=AUDIT_PURPOSE,
        detail=f"cycle {cycle_id} at its {cycle.stage} stage: {outcome.counts()}",
    )
    return outcome


def _lock_tasks(conn: Connection, cycle_id: int) -> None:
    table = tables.cycle_tasks
    conn.execute(
        select(table.c.task_key)
        .where(table.c.cycle_id == cycle_id)
        .order_by(table.c.task_key)
        .with_for_update()
    ).all()


def _require_blocked(conn: Connection, cycle_id: int, *, lock: bool) -> Any:
    """The cycle's row (locked if asked); refused unless it is blocked."""
    cycles = tables.cycles
    query = select(cycles.c.stage, cycles.c.status, cycles.c.run_id).where(cycles.c.id == cycle_id)
    cycle = conn.execute(query.with_for_update() if lock else query).one_or_none()
    if cycle is None:
        raise UsageError(f"There is no cycle {cycle_id}.")
    if cycle.status != CYCLE_BLOCKED:
        raise UsageError(
            f"Cycle {cycle_id} is not blocked ({_NOT_BLOCKED.get(cycle.status, cycle.status)}): "
            "only a cycle stopped on a dead letter can be abandoned."
        )
    return cycle


def _waiting_letters(conn: Connection, cycle_id: int) -> int:
    letters = tables.dead_letters
    return int(
        conn.execute(
            select(func.count()).where(
                letters.c.cycle_id == cycle_id, letters.c.retried_at.is_(None)
            )
        ).scalar_one()
    )


def _stop_open_tasks(conn: Connection, cycle_id: int, now: datetime) -> int:
    """Mark the cycle's unfinished tasks abandoned; return how many there were."""
    table = tables.cycle_tasks
    changed = conn.execute(
        update(table)
        .where(table.c.cycle_id == cycle_id, table.c.status.not_in(FINAL_TASK_STATES))
        .values(status=TASK_ABANDONED, updated_at=now)
    )
    return int(changed.rowcount)


def _abandon_run(conn: Connection, run_id: int, now: datetime) -> bool:
    """Record the cycle's run abandoned if its commit had not finished it; whether it had not."""
    runs = schema.runs
    changed = conn.execute(
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == RUN_RUNNING)
        .values(status=RUN_ABANDONED, finished_at=now)
    )
    return bool(changed.rowcount)
