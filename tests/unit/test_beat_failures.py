"""A periodic task's failure is logged by its class, never by its message."""

from __future__ import annotations

import logging

import pytest

from workers.tasks import _beat

PERSONAL = "QUILLFEATHER 1961/0000001A"


def _fails() -> None:
    raise ValueError(f"parameters: {PERSONAL}")


def test_a_failing_periodic_task_is_logged_by_class_and_does_not_propagate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="workers.tasks"):
        _beat("nightly report", _fails)
    assert [record.getMessage() for record in caplog.records] == [
        "nightly report failed (ValueError); the next beat tries again"
    ]
    assert PERSONAL not in caplog.text


def test_a_periodic_task_that_succeeds_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    with caplog.at_level(logging.WARNING, logger="workers.tasks"):
        _beat("dispatch", lambda: calls.append(1))
    assert calls == [1]
    assert caplog.records == []
