"""The outbox's retry schedule: a failed batch waits about twice as long each time, at most an
hour, with jitter drawn from the top half of each wait, and never less than `Retry-After`."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from sync.delivery import RETRY_BASE, RETRY_MAX, retry_delay

ONE_HOUR = timedelta(hours=1)
unit_interval = st.floats(0, 1, exclude_max=True, allow_nan=False)


def ceiling(attempts: int) -> timedelta:
    """The longest wait after `attempts` failures: 30 s doubling, at most an hour."""
    doublings = min(max(attempts, 1) - 1, 20)  # past 2**7 the hour caps it anyway
    factor: int = 2**doublings
    return min(RETRY_BASE * factor, RETRY_MAX)


def test_the_longest_wait_doubles_from_thirty_seconds_up_to_an_hour() -> None:
    doubling = [timedelta(seconds=30 * 2**step) for step in range(7)]
    longest = [retry_delay(attempts, 0.0) for attempts in range(1, 10)]
    assert longest == [*doubling, ONE_HOUR, ONE_HOUR]


def test_the_jitter_takes_off_at_most_half_of_the_wait() -> None:
    assert retry_delay(1, 0.5) == timedelta(seconds=22.5)
    assert retry_delay(1, 0.999_999) > timedelta(seconds=15)


def test_a_batch_never_tried_waits_as_one_that_failed_once() -> None:
    assert retry_delay(0, 0.3) == retry_delay(1, 0.3)


def test_a_batch_that_failed_for_days_still_waits_an_hour_at_most() -> None:
    assert retry_delay(50, 0.0) == ONE_HOUR
    assert retry_delay(10_000, 0.0) == ONE_HOUR


@given(st.integers(0, 10_000), unit_interval)
def test_every_wait_lies_between_half_and_all_of_its_ceiling(attempts: int, rand: float) -> None:
    wait = retry_delay(attempts, rand)
    assert ceiling(attempts) / 2 <= wait <= ceiling(attempts)  # operations.md: half to all


@given(st.integers(0, 10_000), unit_interval, st.floats(0, 86_400, allow_nan=False))
def test_a_wait_is_never_shorter_than_the_gateway_asked(
    attempts: int, rand: float, retry_after: float
) -> None:
    wait = retry_delay(attempts, rand, retry_after)
    assert wait >= timedelta(seconds=retry_after)
    assert wait == max(retry_delay(attempts, rand), timedelta(seconds=retry_after))


def test_a_long_retry_after_is_the_wait() -> None:
    assert retry_delay(1, 0.9, 120.0) == timedelta(seconds=120)
