"""What `arms-sync status` and the distributed `run` read: cycle progress and agency freshness.

Counts and times only: how far each cycle is, when each agency was last
pulled and last delivered to, the oldest notice batch still waiting, and
until when a gateway asked not to be called for its feed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from sync.delivery import (
    RESULT_FAILURE,
    RESULT_HELD,
    RESULT_NEXT_ATTEMPT,
    DeliveryCounts,
    why_batches_wait,
)
from sync.distributed.work import (
    CYCLE_BLOCKED,
    CYCLE_RUNNING,
    KIND_DELIVER,
    KIND_INGEST,
    TASK_DONE,
    result_feed_error,
    task_ref,
)
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.ledger.moments import as_utc
from sync.ledger.runs import KIND_IN_PROCESS, RUN_PARTIAL, RUN_SUCCEEDED

AGENCIES = ("probation", "police")


@dataclass(frozen=True, slots=True)
class CycleProgress:
    """One cycle's stage, status and task counts by status."""

    cycle_id: int
    stage: str
    status: str
    tasks: dict[str, int] = field(default_factory=dict)
    run_id: int = 0
    started_at: datetime | None = None

    @property
    def total(self) -> int:
        """All tasks created so far."""
        return sum(self.tasks.values())

    @property
    def done(self) -> int:
        """Tasks finished."""
        return self.tasks.get(TASK_DONE, 0)


@dataclass(frozen=True, slots=True)
class AgencyFreshness:
    """When an agency was last pulled and delivered to, its oldest waiting batch, and the
    latest time its gateway asked (`Retry-After`) not to be called for its feed before."""

    agency: str
    last_pull: datetime | None
    last_delivery: datetime | None
    oldest_undelivered: datetime | None
    pull_not_before: datetime | None = None
    delivery_attempts: int = 0  # the failed attempts of the batch next in line
    delivery_failure: str | None = None  # its last failure's error class, if it has one


def any_cycle_recorded(engine: Engine) -> bool:
    """Whether the ledger holds a worker cycle, open or finished."""
    with engine.connect() as conn:
        return conn.execute(select(tables.cycles.c.id).limit(1)).first() is not None


def open_cycle_ids(engine: Engine) -> list[int]:
    """Cycles still running or blocked on a dead letter."""
    return _cycle_ids(engine, (CYCLE_RUNNING, CYCLE_BLOCKED))


def blocked_cycle_ids(engine: Engine) -> list[int]:
    """Cycles blocked on a dead letter (each holds back every later cycle)."""
    return _cycle_ids(engine, (CYCLE_BLOCKED,))


def _cycle_ids(engine: Engine, statuses: tuple[str, ...]) -> list[int]:
    table = tables.cycles
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(table.c.id).where(table.c.status.in_(statuses)).order_by(table.c.id)
            ).scalars()
        )


def cycle_progress(engine: Engine, cycle_id: int) -> CycleProgress:
    """Where one cycle is."""
    cycles, table = tables.cycles, tables.cycle_tasks
    with engine.connect() as conn:
        cycle = conn.execute(select(cycles).where(cycles.c.id == cycle_id)).one()
        counts = conn.execute(
            select(table.c.status, func.count())
            .where(table.c.cycle_id == cycle_id)
            .group_by(table.c.status)
        )
        tasks = {status: int(count) for status, count in counts}
    return CycleProgress(
        cycle.id, cycle.stage, cycle.status, tasks, cycle.run_id, as_utc(cycle.started_at)
    )


def cycle_deliveries(engine: Engine, cycle_id: int) -> dict[str, dict[str, int]]:
    """What each agency's deliver task of a cycle did (delivered, notices, failed, pending)."""
    counted = [counter.name for counter in fields(DeliveryCounts)]
    return {
        agency: {name: int(result.get(name, 0)) for name in counted}
        for agency, result in _deliver_results(engine, cycle_id).items()
    }


def cycle_delivery_errors(engine: Engine, cycle_id: int) -> dict[str, str]:
    """Why each agency's deliver task of a cycle left batches waiting: the gateway's
    sentence, why they are held, or that they still wait; agencies without trouble
    are left out (as `RunSummary.delivery_errors`)."""
    errors = {}
    for agency, result in _deliver_results(engine, cycle_id).items():
        pending = int(result.get("pending", 0))
        due = result.get(RESULT_NEXT_ATTEMPT)
        told = why_batches_wait(
            result.get(RESULT_FAILURE),
            result.get(RESULT_HELD),
            pending,
            datetime.fromisoformat(due) if isinstance(due, str) else None,
        )
        if told is not None:
            errors[agency] = told
    return errors


def _deliver_results(engine: Engine, cycle_id: int) -> dict[str, dict[str, Any]]:
    """The results of a cycle's finished deliver tasks, by agency, in agency order."""
    table = tables.cycle_tasks
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.task_key, table.c.result).where(
                table.c.cycle_id == cycle_id,
                table.c.kind == KIND_DELIVER,
                table.c.status == TASK_DONE,
            )
        ).all()
    results = {task_ref(cycle_id, row.task_key).arg: json.loads(row.result or "{}") for row in rows}
    return dict(sorted(results.items()))


def agency_freshness(engine: Engine) -> list[AgencyFreshness]:
    """Last successful pull and delivery per agency, and the oldest undelivered batch."""
    outbox = schema.outbox
    found = []
    with engine.connect() as conn:
        for agency in AGENCIES:
            last_pull = _last_pull(conn, agency)
            delivered_task = _last_full_delivery_task(conn, agency)
            delivered_batch = conn.execute(
                select(func.max(outbox.c.delivered_at)).where(outbox.c.agency == agency)
            ).scalar_one_or_none()
            oldest, attempts, failure = _next_in_line(conn, agency)
            candidates = [t for t in (delivered_task, delivered_batch) if t is not None]
            waits = schema.feed_waits
            not_before = conn.execute(
                select(func.max(waits.c.not_before)).where(waits.c.agency == agency)
            ).scalar_one_or_none()
            found.append(
                AgencyFreshness(
                    agency,
                    last_pull,
                    max(candidates, default=None),
                    oldest,
                    not_before,
                    attempts,
                    failure,
                )
            )
    return found


def _next_in_line(conn: Connection, agency: str) -> tuple[datetime | None, int, str | None]:
    """The agency's batch next in line for delivery (the oldest waiting): when it was
    made, how many attempts to deliver it failed, and the last failure's error class."""
    outbox = schema.outbox
    row = conn.execute(
        select(outbox.c.created_at, outbox.c.attempts, outbox.c.last_error)
        .where(outbox.c.agency == agency, outbox.c.delivered_at.is_(None))
        .order_by(outbox.c.position, outbox.c.created_at)
        .limit(1)
    ).first()
    if row is None:
        return None, 0, None
    return row.created_at, int(row.attempts), row.last_error


def feeds_never_read_whole(conn: Connection, read_now: Collection[str] = ()) -> list[str]:
    """The agencies whose feed has never been read to its end: neither now (`read_now`,
    a run's whole reads before it is recorded) nor by any run or cycle before."""
    return [
        agency for agency in AGENCIES if agency not in read_now and _last_pull(conn, agency) is None
    ]


def _last_pull(conn: Connection, agency: str) -> datetime | None:
    """When the agency's feed was last read whole: by a cycle's ingest task or by an
    in-process run (`arms-sync run`, the demo), not ending on its gateway's error."""
    by_cycle = _last_done(
        conn, f"{KIND_INGEST}:{agency}", lambda result: result_feed_error(result) is None
    )
    by_run = _last_in_process_pull(conn, agency)
    found = [moment for moment in (by_cycle, by_run) if moment is not None]
    return max(found, key=as_utc, default=None)


def _last_in_process_pull(conn: Connection, agency: str) -> datetime | None:
    """When an in-process run that read the agency's feed without a feed error last finished."""
    runs = schema.runs
    rows = conn.execute(
        select(runs.c.finished_at, runs.c.summary)
        .where(
            runs.c.kind == KIND_IN_PROCESS,
            runs.c.status.in_((RUN_SUCCEEDED, RUN_PARTIAL)),
            runs.c.finished_at.is_not(None),
        )
        .order_by(runs.c.id.desc())
    )
    for finished, summary in rows:
        told = json.loads(summary or "{}")
        if agency in told.get("feeds", {}) and agency not in told.get("feed_errors", {}):
            return finished  # type: ignore[no-any-return]
    return None


def _last_full_delivery_task(conn: Connection, agency: str) -> datetime | None:
    """When a cycle's deliver task last finished with nothing left waiting for the agency."""
    return _last_done(conn, f"{KIND_DELIVER}:{agency}", lambda result: not result.get("pending"))


def _last_done(
    conn: Connection, task_key: str, counts: Callable[[dict[str, Any]], bool]
) -> datetime | None:
    """When a task of `task_key` last finished with a result that `counts`."""
    table = tables.cycle_tasks
    rows = conn.execute(
        select(table.c.updated_at, table.c.result)
        .where(table.c.task_key == task_key, table.c.status == TASK_DONE)
        .order_by(table.c.updated_at.desc())
    )
    finished: datetime
    for finished, result in rows:
        if counts(json.loads(result or "{}")):
            return finished
    return None
