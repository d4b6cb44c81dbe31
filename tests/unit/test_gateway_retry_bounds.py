"""Retry timing at its edges: long backoffs, a zoneless date, jitter shares outside 0 to 1."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync.gateway.retry import RetryPolicy, backoff_ceiling, parse_retry_after, partial_jitter

NOW = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("retry_number", [16, 40, 10_000])
def test_a_tiny_base_delay_still_doubles_up_to_the_max_delay(retry_number: int) -> None:
    policy = RetryPolicy(base_delay=0.001, max_delay=30.0)
    assert backoff_ceiling(policy, retry_number) == 30.0


def test_a_retry_after_date_without_a_zone_is_read_as_utc() -> None:
    assert parse_retry_after("Sat, 28 Nov 2026 10:00:07 -0000", NOW) == 7.0
    assert parse_retry_after("Sat, 28 Nov 2026 10:00:07 +0000", NOW) == 7.0


@pytest.mark.parametrize(
    ("share", "rand", "wait"),
    [(0.5, 0.5, 7.5), (2.0, 0.5, 5.0), (-1.0, 0.5, 10.0), (0.5, 1.5, 5.0), (0.5, -0.5, 10.0)],
)
def test_partial_jitter_stays_between_the_ceiling_less_its_share_and_the_ceiling(
    share: float, rand: float, wait: float
) -> None:
    assert partial_jitter(10.0, share, rand) == wait
