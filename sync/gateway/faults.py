"""Fault injection for tests and demos: make a gateway fail a share of its calls.

`FaultInjector(rate, seed)` draws, per call, whether to fail and how, from a
seeded random generator, so a run with the same seed and the same sequence of
calls fails the same way. Faults of the first kind answer before any work is
done (HTTP 500; HTTP 503 with `Retry-After`, one second unless told otherwise);
the others do the work first and then lose the answer (a reply slower than
the client waits, a dropped connection, a garbage body), which is what tests
that deliveries are idempotent.
"""

from __future__ import annotations

import random
import threading
from enum import StrEnum

MIN_RATE = 0.0
MAX_RATE = 1.0
DEFAULT_FAULT_DELAY_SECONDS = 5.0
RETRY_AFTER_SECONDS = 1
GARBAGE_BODY = b"\x00\xff<html>not json{"


class Fault(StrEnum):
    """How a call is made to fail."""

    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    SLOW = "slow"
    DROP = "drop"
    GARBAGE = "garbage"


BEFORE_WORK = frozenset({Fault.SERVER_ERROR, Fault.UNAVAILABLE})
ALL_FAULTS = tuple(Fault)


class FaultInjector:
    """Decides, call by call, whether and how to fail; deterministic for a seed."""

    def __init__(
        self,
        rate: float = MIN_RATE,
        seed: int | None = None,
        *,
        delay_seconds: float = DEFAULT_FAULT_DELAY_SECONDS,
        retry_after_seconds: int = RETRY_AFTER_SECONDS,
    ) -> None:
        if not MIN_RATE <= rate <= MAX_RATE:
            raise ValueError("the fail rate must be between 0 and 1.")
        if retry_after_seconds < 0:
            raise ValueError("the Retry-After of a 503 must not be negative.")
        self.rate = rate
        self.delay_seconds = delay_seconds
        self.retry_after_seconds = retry_after_seconds
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: dict[Fault, int] = dict.fromkeys(Fault, 0)

    def draw(self) -> Fault | None:
        """The fault for the next call, or `None` to answer it normally."""
        if self.rate <= MIN_RATE:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            fault = self._random.choice(ALL_FAULTS)
            self.counts[fault] += 1
        return fault
