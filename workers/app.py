"""The Celery application, built by `create_app(settings)`: reliability settings, routes, schedule.

Nothing connects at import time. The settings follow what a lost or repeated
message must not break: late acknowledgement, reject (and requeue) when a
worker dies, a prefetch of one, no result backend, a visibility timeout above
the longest task (and a hard time limit at the longest task), and no ETA or
countdown anywhere. Redeliveries are capped by the ledger (`cycle_tasks`), not
by the broker.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import beat_init
from kombu.entity import Queue

from sync.distributed.work import (
    KIND_COMMIT,
    KIND_DECIDE,
    KIND_DELIVER,
    KIND_INGEST,
    KIND_LINK,
    TaskRef,
)
from sync.wording import counted
from workers.settings import WorkerSettings, load_worker_settings

TASK_PREFIX = "arms_sync."
TASK_INGEST = TASK_PREFIX + KIND_INGEST
TASK_LINK = TASK_PREFIX + KIND_LINK
TASK_DECIDE = TASK_PREFIX + KIND_DECIDE
TASK_COMMIT = TASK_PREFIX + KIND_COMMIT
TASK_DELIVER = TASK_PREFIX + KIND_DELIVER
TASK_PULL = "arms_sync.pull"
TASK_DELIVER_OUTBOXES = "arms_sync.deliver_outboxes"
TASK_DISPATCH = "arms_sync.dispatch_pending"
TASK_NIGHTLY_REPORT = "arms_sync.nightly_report"
STATUS_CONNECT_RETRIES = 2  # `status` reports an unreachable broker after two quick retries
PING_SECONDS = 1.0  # how long `status` waits for workers to answer its ping
DELIVERY_TASKS = (TASK_DELIVER, TASK_DELIVER_OUTBOXES)
TEST_TASKS_ENV = "ARMS_SYNC_WORKER_TEST_TASKS"
TEST_TASKS_MODULE = "workers.testing"
PUBLISH_RETRIES = 3
PUBLISH_RETRY_STEP_SECONDS = 0.5
SOFT_LIMIT_MARGIN_SECONDS = 30
FIRST_PULL_UID = "arms-sync-first-pull"

log = logging.getLogger(__name__)


def task_name(kind: str) -> str:
    """The Celery task that runs tasks of one kind (`arms_sync.<kind>`)."""
    return TASK_PREFIX + kind


def _schedule(settings: WorkerSettings) -> dict[str, dict[str, Any]]:
    report_at = settings.nightly_report_time
    return {
        "pull-both-agencies": {
            "task": TASK_PULL,
            "schedule": timedelta(seconds=settings.pull_interval_seconds),
        },
        "deliver-outboxes": {
            "task": TASK_DELIVER_OUTBOXES,
            "schedule": timedelta(seconds=settings.delivery_interval_seconds),
        },
        "dispatch-pending": {
            "task": TASK_DISPATCH,
            "schedule": timedelta(seconds=settings.dispatch_interval_seconds),
        },
        "nightly-report": {
            "task": TASK_NIGHTLY_REPORT,
            "schedule": crontab(hour=report_at.hour, minute=report_at.minute),
        },
    }


def _includes() -> list[str]:
    """The task modules; the test-only module only when the test switch names it."""
    modules = ["workers.tasks"]
    if os.environ.get(TEST_TASKS_ENV) == TEST_TASKS_MODULE:
        modules.append(TEST_TASKS_MODULE)
    return modules


def create_app(settings: WorkerSettings | None = None) -> Any:
    """A configured Celery application (no connection is opened until it is used)."""
    settings = settings or load_worker_settings()
    app = Celery("arms_sync", broker=settings.broker_url, include=_includes())
    routes = {name: {"queue": settings.delivery_queue} for name in DELIVERY_TASKS}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_time_limit=settings.longest_task_seconds,
        task_soft_time_limit=max(settings.longest_task_seconds - SOFT_LIMIT_MARGIN_SECONDS, 1),
        task_default_queue=settings.queue,
        # Both queues, so that a worker started without `--queues` (`python -m
        # workers worker`, a supervisor calling Celery) consumes deliveries too.
        task_queues=[Queue(name) for name in (settings.queue, settings.delivery_queue)],  # type: ignore[no-untyped-call]
        task_routes=routes,
        task_serializer="json",
        accept_content=["json"],
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": PUBLISH_RETRIES,
            "interval_start": 0,
            "interval_step": PUBLISH_RETRY_STEP_SECONDS,
            "interval_max": PUBLISH_RETRY_STEP_SECONDS * PUBLISH_RETRIES,
        },
        worker_concurrency=settings.concurrency,
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_schedule=_schedule(settings),
        timezone="UTC",
        enable_utc=True,
    )
    app.arms_settings = settings
    beat_init.connect(_pull_at_start, weak=False, dispatch_uid=FIRST_PULL_UID)
    return app


def _broker_errors() -> tuple[type[Exception], ...]:
    """What publishing raises when the broker cannot take a message (imported when used)."""
    from kombu.exceptions import OperationalError
    from redis.exceptions import RedisError

    return OperationalError, RedisError, OSError


def _pull_at_start(sender: Any = None, **_: Any) -> None:
    """When beat starts, ask for a pull at once rather than a whole pull interval later,
    so a deployment just started has fresh data (and `status` no stale pull) from the start."""
    try:
        sender.app.send_task(TASK_PULL)
    except _broker_errors() as error:
        log.warning(
            "the first pull could not be sent (%s); beat sends the next", type(error).__name__
        )


def send(app: Any, refs: list[TaskRef]) -> int:
    """Publish task references (ids only); a broker failure is logged and left to re-dispatch.

    Returns how many were sent: the ledger still holds the others as owed, and
    the next re-dispatch sends them.
    """
    for sent, ref in enumerate(refs):
        try:
            app.send_task(task_name(ref.kind), args=[ref.cycle_id, ref.arg])
        except _broker_errors() as error:
            log.warning(
                "the broker did not take %s (%s); the next re-dispatch sends what it did not take",
                counted(len(refs) - sent, "task message"),
                type(error).__name__,
            )
            return sent
    return len(refs)


def broker_problem(app: Any) -> str | None:
    """Why the broker cannot be used now (the error's class), or None when it answers."""
    return queue_depths_or_problem(app)[1]


def queue_depths_or_problem(app: Any) -> tuple[dict[str, int] | None, str | None]:
    """The queues' depths, or None and why the broker cannot be reached (the error's class)."""
    try:
        return queue_depths(app), None
    except Exception as error:  # noqa: BLE001 - any failure to reach the broker is the answer
        return None, type(error).__name__


def queue_depths(app: Any) -> dict[str, int]:
    """Messages waiting in each of the deployment's queues."""
    settings: WorkerSettings = app.arms_settings
    depths = {}
    with app.connection_for_read() as connection:
        connection.ensure_connection(
            max_retries=STATUS_CONNECT_RETRIES, interval_start=0.5, interval_step=0.5
        )
        channel = connection.default_channel
        for queue in (settings.queue, settings.delivery_queue):
            depths[queue] = int(channel.client.llen(queue))
    return depths


def answering_workers(app: Any) -> int | None:
    """How many workers answered a ping through the broker within `PING_SECONDS`, or
    None when the broker could not be asked."""
    try:
        return len(app.control.ping(timeout=PING_SECONDS) or [])
    except Exception:  # noqa: BLE001 - a broker that cannot be asked counts no one
        return None
