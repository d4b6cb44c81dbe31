"""What a delivery pass says of the batches it left waiting, and when it names a refusal.

`status` and a run's summary read the same sentence from a pass or from a
deliver task's stored result: the gateway's failure first, then why batches
are held unsent (a missing key), then that some still wait (a `Retry-After`
to honour); nothing when none wait. A batch's kept failure (its error class)
reads as the most specific words for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sync.delivery import (
    NOTICES_WAITING,
    DeliveryCounts,
    DeliveryPass,
    failure_words,
    why_batches_wait,
)
from sync.errors import (
    EnvelopeRefusedError,
    GatewayError,
    PermanentGatewayError,
    RetryableGatewayError,
    RetryAfterError,
    StaleEnvelopeError,
)

FAILURE = "The probation gateway answered 503."
HELD = "probation has no active encryption key."


@pytest.mark.parametrize(
    ("failure", "held", "pending", "told"),
    [
        (FAILURE, HELD, 3, FAILURE),
        (FAILURE, None, 3, FAILURE),
        (FAILURE, None, 0, FAILURE),
        (None, HELD, 3, HELD),
        (None, HELD, 0, HELD),
        (None, None, 3, NOTICES_WAITING),
        (None, None, 1, NOTICES_WAITING),
        (None, None, 0, None),
    ],
)
def test_the_failure_comes_first_then_the_hold_then_batches_still_waiting(
    failure: str | None, held: str | None, pending: int, told: str | None
) -> None:
    assert why_batches_wait(failure, held, pending) == told


def test_a_pass_tells_the_same_sentence_as_its_stored_result() -> None:
    failed = DeliveryPass(DeliveryCounts(failed=1, pending=2), RetryableGatewayError(FAILURE))
    assert failed.why_waiting == FAILURE
    held = DeliveryPass(DeliveryCounts(pending=2), held=HELD)
    assert held.why_waiting == HELD
    waiting = DeliveryPass(DeliveryCounts(delivered=1, pending=1))
    assert waiting.why_waiting == NOTICES_WAITING
    assert DeliveryPass(DeliveryCounts(delivered=2)).why_waiting is None


@pytest.mark.parametrize(
    ("failure", "refused"),
    [
        (PermanentGatewayError(FAILURE), True),
        (StaleEnvelopeError(FAILURE), True),
        (RetryableGatewayError(FAILURE), False),
        (RetryAfterError(FAILURE, 30.0), False),
        (None, False),
    ],
)
def test_only_a_permanent_failure_is_a_refusal(
    failure: PermanentGatewayError | RetryableGatewayError | None, refused: bool
) -> None:
    outcome = DeliveryPass(DeliveryCounts(failed=failure is not None), failure)
    assert outcome.refusal is (failure if refused else None)


def test_batches_still_waiting_say_when_the_next_attempt_is_due_in_utc() -> None:
    due = datetime(2027, 6, 1, 23, 30, 5, 250_000, tzinfo=timezone(timedelta(hours=1)))
    told = why_batches_wait(None, None, 2, due)
    assert told == f"{NOTICES_WAITING}, the next attempt not before 2027-06-01 22:30:05 UTC"
    assert why_batches_wait(FAILURE, None, 2, due) == FAILURE
    assert why_batches_wait(None, None, 0, due) is None


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (RetryAfterError, "its gateway asked to be called later"),
        (RetryableGatewayError, "its gateway could not be reached or failed"),
        (StaleEnvelopeError, "its gateway refused it as sealed too long ago"),
        (EnvelopeRefusedError, "its gateway refused the envelope for its format, origin or keys"),
        (PermanentGatewayError, "its gateway refused it"),
        (GatewayError, "its gateway's answer could not be used"),
    ],
)
def test_a_kept_failure_reads_as_the_words_of_its_own_class(
    error: type[GatewayError], words: str
) -> None:
    assert failure_words(error.__name__) == words


def test_a_batch_with_no_failure_has_no_words_and_an_unknown_one_is_named() -> None:
    assert failure_words(None) is None
    assert failure_words("SomeFutureError") == "SomeFutureError"
