"""`run --distributed`: record a cycle, send its first tasks, wait, return its summary.

While it waits it re-dispatches what the ledger says is owed (a lost message,
a task put back), so a cycle started from the command line finishes even
without a beat. The command line shows the progress this module reports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import closing
from datetime import date
from typing import Any

from sqlalchemy import select

from sync.app import App
from sync.cycle import RunSummary
from sync.distributed.cycles import require_postgresql, start_next_cycle
from sync.distributed.status import (
    CycleProgress,
    cycle_deliveries,
    cycle_delivery_errors,
    cycle_progress,
    open_cycle_ids,
)
from sync.distributed.work import (
    CYCLE_ABANDONED,
    CYCLE_BLOCKED,
    FINISHED_CYCLES,
    dispatch_pending,
)
from sync.errors import ArmsSyncError, Interrupted
from sync.gateway_clients import check_gateway_url
from sync.ledger import schema
from sync.sources import feed_for_workers
from workers.app import broker_problem, create_app, send
from workers.settings import WorkerSettings, load_worker_settings
from workers.status_report import broker_place

WAIT_POLL_SECONDS = 0.5
ShowProgress = Callable[[str, int, int], None]  # stage, tasks done, tasks in all


def _nothing_shown(stage: str, done: int, total: int) -> None:
    """No progress display (not a terminal)."""


def run_distributed(
    app: App,
    probation_spec: str,
    police_spec: str,
    as_of: date,
    timeout_seconds: float | None = None,
    show: ShowProgress = _nothing_shown,
) -> RunSummary:
    """Enqueue one full cycle on the broker, wait for it (telling `show` its stage and
    tasks done of all), and return its run's summary."""
    require_postgresql(app)
    # Checked here, in one sentence, rather than by each worker until the task is dead-lettered.
    feeds = {
        "probation": feed_for_workers(probation_spec, "probation", app),
        "police": feed_for_workers(police_spec, "police", app),
    }
    settings = load_worker_settings(database_url=app.settings.database_url)
    for url in settings.gateways().values():
        check_gateway_url(app.settings, url)
    with closing(create_app(settings)) as celery_app:
        _require_broker(celery_app, settings)
        cycle_id = _start_cycle(app, celery_app, feeds, settings, as_of)
        try:
            progress = _wait_for_cycle(app, celery_app, settings, cycle_id, timeout_seconds, show)
        except KeyboardInterrupt:
            raise Interrupted(
                f"Stopped waiting: cycle {cycle_id} goes on in the workers; see `arms-sync status`."
            ) from None
    summary = stored_summary(app, progress.run_id)
    summary.delivered.update(cycle_deliveries(app.ledger.engine, cycle_id))
    summary.delivery_errors.update(cycle_delivery_errors(app.ledger.engine, cycle_id))
    return summary


def _require_broker(celery_app: Any, settings: WorkerSettings) -> None:
    """Refuse, in one sentence, a broker that cannot be reached (never its password)."""
    problem = broker_problem(celery_app)
    if problem is not None:
        raise ArmsSyncError(
            f"The broker{broker_place(settings.broker_url)} cannot be reached ({problem}); "
            "start it, or check ARMS_SYNC_BROKER_URL."
        )


def _start_cycle(
    app: App, celery_app: Any, feeds: dict[str, str], settings: WorkerSettings, as_of: date
) -> int:
    """Record the next cycle and send its first tasks; refused while another is open."""
    started = start_next_cycle(app, feeds, settings.gateways(), as_of)
    if started is None:
        open_ids = ", ".join(str(cycle_id) for cycle_id in open_cycle_ids(app.ledger.engine))
        other = f"Cycle {open_ids} is still open" if open_ids else "Another cycle is being started"
        raise ArmsSyncError(
            f"{other}: cycles run one at a time; "
            "see `arms-sync status`, or `arms-sync dead-letters` if it is blocked."
        )
    cycle_id, refs = started
    send(celery_app, refs)
    return cycle_id


def _wait_for_cycle(
    app: App,
    celery_app: Any,
    settings: WorkerSettings,
    cycle_id: int,
    timeout_seconds: float | None,
    show: ShowProgress,
) -> CycleProgress:
    """Show the cycle's progress until it finishes, re-dispatching what is owed; refused
    in one sentence when it is blocked, abandoned or out of time."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        progress = cycle_progress(app.ledger.engine, cycle_id)
        show(progress.stage, progress.done, progress.total)
        if progress.status in FINISHED_CYCLES:
            return progress
        if progress.status == CYCLE_BLOCKED:
            raise ArmsSyncError(
                f"Cycle {cycle_id} stopped on a task that kept failing; "
                "see `arms-sync dead-letters`."
            )
        if progress.status == CYCLE_ABANDONED:
            raise ArmsSyncError(
                f"Cycle {cycle_id} was abandoned by an operator; the next cycle decides "
                "over what it read."
            )
        if deadline is not None and time.monotonic() > deadline:
            raise ArmsSyncError(f"Cycle {cycle_id} did not finish in time; it continues.")
        send(celery_app, dispatch_pending(app.ledger.engine, settings.rules, app.clock()))
        time.sleep(WAIT_POLL_SECONDS)


def stored_summary(app: App, run_id: int) -> RunSummary:
    """The summary a finished run stored (counts, and the feed errors of a partial run)."""
    table = schema.runs
    with app.ledger.engine.connect() as conn:
        raw = conn.execute(select(table.c.summary).where(table.c.id == run_id)).scalar_one()
    return RunSummary.from_dict(json.loads(raw))
