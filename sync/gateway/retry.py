"""Retry timing for gateway calls: exponential backoff with jitter, and `Retry-After`.

Pure functions over a `RetryPolicy`; the caller supplies the random number and
the clock, so every rule here is tested without sleeping or sockets. A
gateway's `Retry-After` is a floor, never cut short: a call waits it out only
when it is within the policy's `max_delay`, and otherwise gives up at once so
that its caller schedules the next try no sooner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from sync.settings import (
    DEFAULT_GATEWAY_RETRY_ATTEMPTS,
    DEFAULT_GATEWAY_RETRY_BASE_SECONDS,
    DEFAULT_GATEWAY_RETRY_MAX_SECONDS,
)

# The longest wait a gateway's `Retry-After` is honoured for (a day).
MAX_RETRY_AFTER_SECONDS = 86_400.0
# Enough digits for any wait up to that cap; more are not read (no huge integers).
MAX_RETRY_AFTER_DIGITS = 12
BACKOFF_FACTOR = 2.0
MAX_BACKOFF_EXPONENT = 60
MIN_ATTEMPTS = 1


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a gateway call is tried.

    `max_attempts` counts every try, the first included. The wait before retry
    n (n = 1, 2, …) is drawn from [0, min(max_delay, base_delay · 2^(n-1))]
    with full jitter, or is that ceiling itself without jitter.
    """

    max_attempts: int = DEFAULT_GATEWAY_RETRY_ATTEMPTS
    base_delay: float = DEFAULT_GATEWAY_RETRY_BASE_SECONDS
    max_delay: float = DEFAULT_GATEWAY_RETRY_MAX_SECONDS
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < MIN_ATTEMPTS:
            raise ValueError("max_attempts must be at least 1.")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays must not be negative.")


def backoff_ceiling(policy: RetryPolicy, retry_number: int) -> float:
    """The longest wait before retry `retry_number` (1 = the second attempt)."""
    if retry_number < 1:
        raise ValueError("retry_number starts at 1.")
    exponent = min(retry_number - 1, MAX_BACKOFF_EXPONENT)
    return min(policy.max_delay, policy.base_delay * BACKOFF_FACTOR**exponent)


def backoff_delay(policy: RetryPolicy, retry_number: int, rand: float) -> float:
    """The wait before retry `retry_number`, with full jitter from `rand` in [0, 1)."""
    ceiling = backoff_ceiling(policy, retry_number)
    if not policy.jitter:
        return ceiling
    return ceiling * min(max(rand, 0.0), 1.0)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), or `None`.

    At most `MAX_RETRY_AFTER_SECONDS`: a gateway, or a proxy in front of it, asking
    for longer is called again after a day, not years later (or never).
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) > MAX_RETRY_AFTER_DIGITS:  # beyond the cap; never parsed whole
            return MAX_RETRY_AFTER_SECONDS
        return min(float(int(digits)), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


def partial_jitter(ceiling: float, share: float, rand: float) -> float:
    """`ceiling` less a random part of at most `share` of it, from `rand` in [0, 1).

    The wait lies in [(1 - share) · ceiling, ceiling]: spread out, yet never
    much shorter than the backoff asked for.
    """
    return ceiling * (1.0 - min(max(share, 0.0), 1.0) * min(max(rand, 0.0), 1.0))


def waits_too_long(policy: RetryPolicy, retry_after: float | None) -> bool:
    """Whether a `Retry-After` asks for more than a call waits (`max_delay`)."""
    return retry_after is not None and retry_after > policy.max_delay


def next_delay(
    policy: RetryPolicy, retry_number: int, rand: float, retry_after: float | None
) -> float:
    """The wait before retry `retry_number`: the backoff, and never less than `Retry-After`.

    A `Retry-After` the call will not wait out (`waits_too_long`) ends the call
    instead; the caller checks that first.
    """
    backoff = backoff_delay(policy, retry_number, rand)
    if retry_after is None:
        return backoff
    return max(retry_after, backoff)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
