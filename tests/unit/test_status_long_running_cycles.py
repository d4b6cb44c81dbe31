"""`status` names a running cycle older than three pull intervals, and no other cycle.

`operations.md`: a cycle whose tasks no worker takes (none can open the ledger)
never dead-letters, so `status` reports a cycle that has been running longer than
a pull is allowed to be stale, with its stage and the tasks not done.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.distributed.status import CycleProgress
from sync.distributed.work import CYCLE_BLOCKED, CYCLE_RUNNING, CYCLE_SUCCEEDED
from workers.settings import STALE_FACTOR, WorkerSettings, load_worker_settings
from workers.status_report import running_too_long

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
INTERVAL = 60.0
TASKS = {"pending": 2, "running": 1, "done": 4}


@pytest.fixture
def settings() -> WorkerSettings:
    return load_worker_settings(pull_interval_seconds=INTERVAL, delivery_interval_seconds=1.0)


def _cycle(status: str, age_seconds: float | None) -> CycleProgress:
    started = None if age_seconds is None else NOW - timedelta(seconds=age_seconds)
    return CycleProgress(7, "decide", status, dict(TASKS), 3, started)


def _named(settings: WorkerSettings, *cycles: CycleProgress) -> list[str]:
    return running_too_long(cycles, settings, NOW)


def test_a_running_cycle_past_three_pull_intervals_is_named_with_its_stage_and_tasks_left(
    settings: WorkerSettings,
) -> None:
    [problem] = _named(settings, _cycle(CYCLE_RUNNING, STALE_FACTOR * INTERVAL + 1))
    started = (NOW - timedelta(seconds=STALE_FACTOR * INTERVAL + 1)).isoformat()
    assert problem.startswith(f"cycle 7 has been running since {started} and is at its decide ")
    assert "stage with 3 tasks not done: see the workers' logs" in problem


@pytest.mark.parametrize("age", [0.0, INTERVAL, (STALE_FACTOR - 1) * INTERVAL + 1, 180.0])
def test_a_running_cycle_within_three_pull_intervals_is_no_problem(
    settings: WorkerSettings, age: float
) -> None:
    assert STALE_FACTOR * INTERVAL == 180.0  # the last case is the limit itself
    assert _named(settings, _cycle(CYCLE_RUNNING, age)) == []


@pytest.mark.parametrize("status", [CYCLE_BLOCKED, CYCLE_SUCCEEDED])
def test_a_cycle_not_running_is_not_named_as_running_too_long(
    settings: WorkerSettings, status: str
) -> None:
    assert _named(settings, _cycle(status, 10 * STALE_FACTOR * INTERVAL)) == []


def test_a_cycle_without_a_start_is_not_named(settings: WorkerSettings) -> None:
    assert _named(settings, _cycle(CYCLE_RUNNING, None)) == []


def test_the_limit_is_three_pull_intervals_not_delivery_intervals(
    settings: WorkerSettings,
) -> None:
    assert settings.stale_pull_seconds == STALE_FACTOR * INTERVAL
    assert _named(settings, _cycle(CYCLE_RUNNING, STALE_FACTOR * INTERVAL - 1)) == []
