"""The Celery application the settings build: queues and routes, time limits, schedule, format.

Nothing here connects: `create_app` only configures. Deliveries have their
own queue and every worker consumes both; a task is warned before it is
killed at the longest task's time; beat runs pulls, deliveries and
re-dispatch at their own intervals and the report at its time of day;
messages are JSON (ids only), never pickles.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from workers.app import (
    TASK_COMMIT,
    TASK_DELIVER,
    TASK_DELIVER_OUTBOXES,
    TASK_DISPATCH,
    TASK_INGEST,
    TASK_NIGHTLY_REPORT,
    TASK_PULL,
    TEST_TASKS_ENV,
    create_app,
)
from workers.settings import WorkerSettings

NO_BROKER = "redis://127.0.0.1:1/0"  # never contacted


def configured(monkeypatch: pytest.MonkeyPatch, **given: Any) -> Any:
    """The configuration `create_app` gives for these settings (test tasks not asked for)."""
    monkeypatch.delenv(TEST_TASKS_ENV, raising=False)
    settings = WorkerSettings(
        broker_url=NO_BROKER,
        queue="main-q",
        delivery_queue="delivery-q",
        **given,
    )
    return create_app(settings).conf


def test_deliveries_go_to_their_own_queue_and_every_worker_consumes_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stage tasks use the main queue; both delivery tasks the delivery queue."""
    conf = configured(monkeypatch)
    assert conf.task_default_queue == "main-q"
    assert {name: route["queue"] for name, route in conf.task_routes.items()} == {
        TASK_DELIVER: "delivery-q",
        TASK_DELIVER_OUTBOXES: "delivery-q",
    }
    assert TASK_INGEST not in conf.task_routes
    assert TASK_COMMIT not in conf.task_routes
    assert sorted(queue.name for queue in conf.task_queues) == ["delivery-q", "main-q"]


def test_a_task_is_warned_before_the_hard_limit_of_the_longest_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hard limit is the longest task; the soft one comes before it, never at zero."""
    conf = configured(monkeypatch, longest_task_seconds=100, visibility_timeout_seconds=200)
    assert conf.task_time_limit == 100
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    short = configured(monkeypatch, longest_task_seconds=5, visibility_timeout_seconds=10)
    assert 0 < short.task_soft_time_limit <= short.task_time_limit


def test_beat_runs_each_periodic_task_at_its_own_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pull, delivery and re-dispatch intervals, and the nightly report's time of day."""
    conf = configured(
        monkeypatch,
        pull_interval_seconds=17,
        delivery_interval_seconds=23,
        dispatch_interval_seconds=5,
        nightly_report_time=time(3, 45),
    )
    schedule = {entry["task"]: entry["schedule"] for entry in conf.beat_schedule.values()}
    assert schedule[TASK_PULL] == timedelta(seconds=17)
    assert schedule[TASK_DELIVER_OUTBOXES] == timedelta(seconds=23)
    assert schedule[TASK_DISPATCH] == timedelta(seconds=5)
    report = schedule[TASK_NIGHTLY_REPORT]
    assert (report.hour, report.minute) == ({3}, {45})
    assert conf.timezone == "UTC"


def test_messages_are_json_only_and_workers_run_the_configured_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No pickled message is ever accepted; concurrency follows the settings."""
    conf = configured(monkeypatch, concurrency=3)
    assert conf.task_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.worker_concurrency == 3


def test_the_poison_test_task_is_registered_only_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deployment never loads the task that kills its worker."""
    assert list(configured(monkeypatch).include) == ["workers.tasks"]
    monkeypatch.setenv(TEST_TASKS_ENV, "workers.testing")
    settings = WorkerSettings(broker_url=NO_BROKER)
    assert list(create_app(settings).conf.include) == ["workers.tasks", "workers.testing"]
