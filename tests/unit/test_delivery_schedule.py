"""The outbox's retry schedule: a failed batch waits twice as long each time, at most an hour."""

from __future__ import annotations

from datetime import timedelta

from sync.delivery import retry_delay

ONE_HOUR = timedelta(hours=1)


def test_the_wait_doubles_from_thirty_seconds_up_to_an_hour() -> None:
    doubling = [timedelta(seconds=30 * 2**step) for step in range(7)]
    assert [retry_delay(attempts) for attempts in range(1, 10)] == [*doubling, ONE_HOUR, ONE_HOUR]


def test_a_batch_never_tried_waits_as_one_that_failed_once() -> None:
    assert retry_delay(0) == retry_delay(1)


def test_a_batch_that_failed_for_days_still_waits_an_hour() -> None:
    assert retry_delay(50) == ONE_HOUR
    assert retry_delay(10_000) == ONE_HOUR
