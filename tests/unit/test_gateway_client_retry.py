"""Retry timing (backoff, full jitter, Retry-After) and retry errors, as pure functions.

The timing rules are pure functions. The client's decisions, which need a
gateway to answer, are tested against a real HTTP server in
`tests/integration/test_gateway_client_decisions.py`.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.errors import (
    RetryAfterError,
)
from sync.gateway.retry import (
    RetryPolicy,
    backoff_ceiling,
    backoff_delay,
    next_delay,
    parse_retry_after,
    waits_too_long,
)

NOW = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    base_delay=st.floats(0, 10, allow_nan=False),
    max_delay=st.floats(0, 120, allow_nan=False),
    jitter=st.booleans(),
)
unit_interval = st.floats(0, 1, exclude_max=True, allow_nan=False)


# --- pure timing rules -------------------------------------------------------


def test_backoff_ceiling_doubles_until_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert [backoff_ceiling(policy, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_without_jitter_the_delay_is_the_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0, jitter=False)
    assert backoff_delay(policy, 3, 0.1) == 4.0


def test_full_jitter_scales_the_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0)
    assert backoff_delay(policy, 3, 0.25) == 1.0
    assert backoff_delay(policy, 3, 0.0) == 0.0


@given(policies, st.integers(1, 10_000), unit_interval)
def test_backoff_stays_within_zero_and_the_capped_ceiling(
    policy: RetryPolicy, retry_number: int, rand: float
) -> None:
    delay = backoff_delay(policy, retry_number, rand)
    assert 0.0 <= delay <= backoff_ceiling(policy, retry_number) <= policy.max_delay


@given(policies, st.integers(1, 50))
def test_ceiling_never_shrinks_from_one_retry_to_the_next(
    policy: RetryPolicy, retry_number: int
) -> None:
    assert backoff_ceiling(policy, retry_number) <= backoff_ceiling(policy, retry_number + 1)


@given(policies, st.integers(1, 50), unit_interval, st.floats(0, 10_000, allow_nan=False))
def test_retry_after_is_a_floor_never_cut_short(
    policy: RetryPolicy, retry_number: int, rand: float, retry_after: float
) -> None:
    delay = next_delay(policy, retry_number, rand, retry_after)
    backoff = backoff_delay(policy, retry_number, rand)
    assert delay == max(retry_after, backoff)
    assert delay >= retry_after
    if retry_after <= policy.max_delay:
        assert delay <= policy.max_delay


@given(policies, st.floats(0, 10_000, allow_nan=False))
def test_a_call_waits_out_only_what_fits_within_max_delay(
    policy: RetryPolicy, retry_after: float
) -> None:
    assert waits_too_long(policy, retry_after) == (retry_after > policy.max_delay)
    assert not waits_too_long(policy, None)


def test_next_delay_without_retry_after_is_the_backoff() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    assert next_delay(policy, 2, 0.5, None) == backoff_delay(policy, 2, 0.5)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=7), usegmt=True), 7.0),
        (format_datetime(NOW - timedelta(seconds=7), usegmt=True), 0.0),
        ("-1", None),
        ("86400", 86_400.0),
        ("315360000", 86_400.0),
        ("9" * 40, 86_400.0),
        ("0" * 20 + "5", 5.0),
        (format_datetime(NOW + timedelta(days=3650), usegmt=True), 86_400.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -0.5}])
def test_policy_refuses_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)


def test_retry_number_starts_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        backoff_ceiling(RetryPolicy(), 0)


# --- errors, without a gateway ----------------------------------------------
# The client's decisions against real HTTP are in
# tests/integration/test_gateway_client_decisions.py.


def test_a_retry_after_error_survives_pickling() -> None:
    error = RetryAfterError("the police gateway asked to wait 120 s.", 120.0)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.retry_after) == (str(error), 120.0)
