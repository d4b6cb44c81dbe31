"""Celery tasks: thin wrappers that parse ids, call `sync.distributed`, and send what is due.

Arguments are ids only (cycle id, agency name, batch number); nothing personal
passes through the broker. Each worker process builds its own `App` after the
fork (`worker_process_init`), so no database or gateway connection crosses a
fork; its gateway clients (and their bearer tokens) serve every task it runs,
until the key files change on disk, when the next task builds it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from functools import cache, partial
from typing import Any, TypeVar

from celery import shared_task
from celery.signals import worker_process_init

from sync.app import App, KeysStamp
from sync.delivery import deliver_to
from sync.distributed.cycles import start_next_cycle
from sync.distributed.stages import Work, execute, told
from sync.distributed.status import blocked_cycle_ids, open_cycle_ids
from sync.distributed.work import (
    KIND_COMMIT,
    KIND_DECIDE,
    KIND_DELIVER,
    KIND_INGEST,
    KIND_LINK,
    TaskRef,
    dispatch_pending,
)
from sync.reports.nightly import write_nightly_report
from workers.app import (
    TASK_COMMIT,
    TASK_DECIDE,
    TASK_DELIVER,
    TASK_DELIVER_OUTBOXES,
    TASK_DISPATCH,
    TASK_INGEST,
    TASK_LINK,
    TASK_NIGHTLY_REPORT,
    TASK_PULL,
    send,
)
from workers.settings import WorkerSettings, app_settings

log = logging.getLogger(__name__)
_SERVICES: dict[int, tuple[App, KeysStamp]] = {}  # by pid: the App, its keys as read
_Task = TypeVar("_Task", bound=Callable[..., None])


def service(celery_app: Any) -> App:
    """This process's composition root (rebuilt in a forked child, never shared across a fork).

    Rebuilt too when its key files changed on disk (a rotation, a revocation,
    an agency's new public keys, a new data key), so the next task runs
    under the keys as they are now, without a restart.
    """
    pid = os.getpid()
    found = _SERVICES.get(pid)
    if found is not None and found[0].keys_stamp() != found[1]:
        log.info("the key files changed; this worker reads them again")
        found[0].close()
        found = None
    if found is None:
        _SERVICES.clear()
        app = App(app_settings(celery_app.arms_settings))
        found = _SERVICES[pid] = (app, app.keys_stamp())
    return found[0]


def _build_after_fork(**_: object) -> None:
    """Build the child's own App as soon as it is forked (a failure is the first task's)."""
    from celery import current_app

    _SERVICES.clear()
    with contextlib.suppress(Exception):  # told, in one line, by the first task it fails
        service(current_app)


worker_process_init.connect(_build_after_fork, weak=False)


def celery_task(name: str) -> Callable[[_Task], _Task]:
    """`shared_task(name=…, bind=True)`, typed for mypy."""
    decorator: Callable[[_Task], _Task] = shared_task(name=name, bind=True)
    return decorator


def _run(task: Any, ref: TaskRef, work: Work | None = None) -> None:
    """Run one task through the ledger's claim, then send the tasks it made due."""
    settings: WorkerSettings = task.app.arms_settings
    claimer = f"{task.request.hostname}:{os.getpid()}"
    app = opened_service(task.app, ref)
    if app is not None:
        send(task.app, execute(app, settings.rules, ref, claimer, work))


def opened_service(celery_app: Any, ref: TaskRef) -> App | None:
    """This process's App with its ledger open, or None after one line saying why not.

    A ledger that cannot be reached, or a key file gone since the worker
    started, fails the task before the ledger could count the attempt: the
    task stays pending there, and is dispatched again once the cause is mended.
    """
    try:
        app = service(celery_app)
        _ = app.ledger
    except Exception as error:  # noqa: BLE001 - one line by `told`, not a traceback
        log.error(
            "task %s of cycle %d cannot start on this worker: %s; it stays pending in the "
            "ledger and is dispatched again once the cause is mended",
            ref.key,
            ref.cycle_id,
            told(error),
        )
        return None
    return app


@celery_task(TASK_INGEST)
def ingest_task(self: Any, cycle_id: int, agency: str) -> None:
    """Read one agency's feed for a cycle."""
    _run(self, TaskRef(KIND_INGEST, int(cycle_id), str(agency)))


@celery_task(TASK_LINK)
def link_task(self: Any, cycle_id: int, _arg: str = "") -> None:
    """Link a cycle's subjects and plan its batches."""
    _run(self, TaskRef(KIND_LINK, int(cycle_id)))


@celery_task(TASK_DECIDE)
def decide_task(self: Any, cycle_id: int, batch: str) -> None:
    """Decide one batch of subjects."""
    _run(self, TaskRef(KIND_DECIDE, int(cycle_id), str(int(batch))))


@celery_task(TASK_COMMIT)
def commit_task(self: Any, cycle_id: int, _arg: str = "") -> None:
    """Store a cycle's decisions and finish its run."""
    _run(self, TaskRef(KIND_COMMIT, int(cycle_id)))


@celery_task(TASK_DELIVER)
def deliver_task(self: Any, cycle_id: int, agency: str) -> None:
    """Deliver one agency's outbox at the end of a cycle."""
    _run(self, TaskRef(KIND_DELIVER, int(cycle_id), str(agency)))


def _beat(name: str, work: Callable[[], object]) -> None:
    """Run a periodic task's work; the next beat runs it again after a failure.

    A failure is logged by its class only, as `execute` does: exception
    messages (a database error's parameters) may carry personal data, and
    Celery would log them in full.
    """
    try:
        work()
    except Exception as error:  # noqa: BLE001 - logged by class; the next beat retries
        log.warning("%s failed (%s); the next beat tries again", name, type(error).__name__)


@celery_task(TASK_PULL)
def pull_task(self: Any) -> None:
    """Start a cycle over the configured feeds, unless one is still open (a blocked one is
    logged at each beat, since it holds every pull back until an operator acts)."""
    _beat(TASK_PULL, lambda: _pull(self.app))


def _pull(celery_app: Any) -> None:
    settings: WorkerSettings = celery_app.arms_settings
    feeds = settings.feeds()
    if not feeds:
        _say_no_feeds_once()
        return
    app = service(celery_app)
    started = start_next_cycle(app, feeds, settings.gateways(), app.today())
    if started is not None:
        send(celery_app, started[1])
        return
    _say_why_no_pull(app)


def _say_why_no_pull(app: App) -> None:
    """Log why a pull started no cycle: one blocked on a dead letter (a warning, since only
    an operator mends it), one still running, or another worker starting one meanwhile."""
    engine = app.ledger.engine
    blocked = blocked_cycle_ids(engine)
    if blocked:
        log.warning(
            "no pull: cycle %s is blocked on a dead letter; retry the letter once its cause "
            "is mended, or abandon the cycle (`arms-sync dead-letters`)",
            ", ".join(str(cycle_id) for cycle_id in blocked),
        )
        return
    running = open_cycle_ids(engine)
    if running:
        log.info(
            "no pull: cycle %s is still running; a pull once it has finished starts the next",
            ", ".join(str(cycle_id) for cycle_id in running),
        )
    else:
        log.info("no pull: another worker was starting a cycle at the same moment")


@cache
def _say_no_feeds_once() -> None:
    """Warn, once per worker process, that its pulls pull nothing: the feeds are read from
    the worker's own settings, so a worker started without them skips every pull."""
    log.warning(
        "no pull: this worker names no feed (ARMS_SYNC_PROBATION_FEED, ARMS_SYNC_POLICE_FEED), "
        "so its pulls start no cycle; set them on every worker if this deployment pulls"
    )


@celery_task(TASK_DELIVER_OUTBOXES)
def deliver_outboxes_task(self: Any) -> None:
    """Deliver every agency's outbox; one failing gateway never holds back the other."""
    settings: WorkerSettings = self.app.arms_settings
    app = service(self.app)
    for agency, url in sorted(settings.gateways().items()):
        _beat(f"delivery to {agency}", partial(deliver_to, app, agency, url))


@celery_task(TASK_DISPATCH)
def dispatch_task(self: Any) -> None:
    """Re-send every task the ledger says is owed but may have lost its message."""
    settings: WorkerSettings = self.app.arms_settings
    app = service(self.app)
    _beat(
        TASK_DISPATCH,
        lambda: send(self.app, dispatch_pending(app.ledger.engine, settings.rules, app.clock())),
    )


@celery_task(TASK_NIGHTLY_REPORT)
def nightly_report_task(self: Any) -> None:
    """Write the duplicate report (json, csv, html) into the report folder."""
    app = service(self.app)
    _beat(TASK_NIGHTLY_REPORT, lambda: write_nightly_report(app, app.today()))
