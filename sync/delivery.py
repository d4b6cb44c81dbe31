"""Deliver one agency's outbox: sealed notice batches, in order, until a signed receipt.

A batch leaves the outbox only when the gateway's signed receipt is stored
beside it. A failed call is retried later with backoff (the batch and every
later one wait, so notices never overtake the ones they replace); one agency's
failing gateway never holds back the other's delivery.

The wait after a failure is 30 s doubling per failed attempt, at most an
hour, less a random part of at most half of it (jitter, so batches and hubs
do not retry in step), and never less than a `Retry-After` the gateway asked
for. A cycle's prompt pass tries a waiting batch at once, unless its last
failure was the gateway asking for that wait (`RetryAfterError`).

A batch the gateway refused without storing it is sealed again, same message
id, when that can mend it: sealed too long ago, or under keys rotated or
revoked since it was queued. A batch's first offer is recorded before the
call, so one never offered, sealed under keys retired since, is sealed again
before it goes rather than sent once under them.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, select, update

from sync.app import App
from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import audit_disclosure
from sync.errors import (
    EnvelopeRefusedError,
    GatewayError,
    GatewayTLSError,
    PermanentGatewayError,
    RetryableGatewayError,
    RetryAfterError,
    StaleEnvelopeError,
)
from sync.gateway.retry import RetryPolicy, backoff_ceiling, partial_jitter
from sync.ledger import schema
from sync.ledger.moments import as_utc
from sync.ledger.outbox import (
    UNSEALED,
    reseal_batch,
    sealed_under_retired_keys,
    sealing_keys_named,
    why_unsealable,
)
from sync.ledger.run_locks import hold_ledger_task_lock

log = logging.getLogger(__name__)
# What a delivery pass's counts name besides the numbers, as a task's result.
RESULT_REFUSED = "refused"  # the class of the gateway's refusal that ended the pass
RESULT_FAILURE = "failure"  # the sentence of the failure that ended the pass
RESULT_HELD = "held"  # why batches wait unsent (no active key of the hub or the agency)
# When the first batch a pass left for later is due (ISO 8601, UTC).
RESULT_NEXT_ATTEMPT = "next_attempt_at"
# Batches a pass left waiting without a failure (a gateway's `Retry-After` to honour).
NOTICES_WAITING = "notices are still waiting for delivery"
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
OUTBOX_JITTER_SHARE = 0.5  # a wait lies between half and all of its ceiling
# The waits only: a batch stays in the outbox until delivered, so max_attempts never applies.
OUTBOX_BACKOFF = RetryPolicy(
    base_delay=RETRY_BASE.total_seconds(), max_delay=RETRY_MAX.total_seconds(), jitter=False
)
ASKED_TO_WAIT = RetryAfterError.__name__  # a batch's last error when the gateway asked to wait
# What each failure a batch keeps (its error class) means, for an operator: most specific first.
_FAILURE_WORDS: tuple[tuple[type[GatewayError], str], ...] = (
    (RetryAfterError, "its gateway asked to be called later"),
    (RetryableGatewayError, "its gateway could not be reached or failed"),
    (StaleEnvelopeError, "its gateway refused it as sealed too long ago"),
    (EnvelopeRefusedError, "its gateway refused the envelope for its format, origin or keys"),
    (GatewayTLSError, "the TLS connection to its gateway failed this hub's certificate checks"),
    (PermanentGatewayError, "its gateway refused it"),
    (GatewayError, "its gateway's answer could not be used"),
)
Random = Callable[[], float]


class SignedReceipt(Protocol):
    """What a gateway answers for a delivered batch."""

    @property
    def raw(self) -> bytes:
        """The receipt as signed by the agency."""
        ...


class NoticeClient(Protocol):
    """The part of a gateway client that delivers notices."""

    def deliver(self, envelope: bytes) -> SignedReceipt:
        """Deliver one sealed batch and return its verified, signed receipt."""
        ...


@dataclass
class DeliveryCounts:
    """What one delivery pass did for one agency."""

    delivered: int = 0
    notices: int = 0
    failed: int = 0
    pending: int = 0


def retry_delay(attempts: int, rand: float, retry_after: float | None = None) -> timedelta:
    """The wait before the next attempt at a batch that failed `attempts` times.

    30 s doubling, at most an hour, less a random part (from `rand` in [0, 1))
    of at most `OUTBOX_JITTER_SHARE` of it; never less than `retry_after` seconds.
    """
    ceiling = backoff_ceiling(OUTBOX_BACKOFF, max(attempts, 1))
    wait = partial_jitter(ceiling, OUTBOX_JITTER_SHARE, rand)
    return timedelta(seconds=max(wait, retry_after or 0.0))


@dataclass
class DeliveryPass:
    """One delivery pass: its counts, and the gateway's failure that ended it, if one did.

    `held` says why the pass sent nothing more (the hub or the agency has no
    active key, or a batch kept unsealed has no key directory to be sealed
    with); no attempt was counted.
    """

    counts: DeliveryCounts
    failure: GatewayError | None = None
    held: str | None = None
    next_attempt_at: datetime | None = None  # when the batch it left for later is due

    @property
    def refusal(self) -> PermanentGatewayError | None:
        """The failure, if the gateway refused the batch (it will not take it as it is)."""
        return self.failure if isinstance(self.failure, PermanentGatewayError) else None

    @property
    def why_waiting(self) -> str | None:
        """Why the pass left batches waiting (see `why_batches_wait`), or None."""
        failure = None if self.failure is None else str(self.failure)
        return why_batches_wait(failure, self.held, self.counts.pending, self.next_attempt_at)


def why_batches_wait(
    failure: str | None, held: str | None, pending: int, next_attempt_at: datetime | None = None
) -> str | None:
    """Why a delivery pass left batches waiting: the sentence of its failure,
    why they are held, or that they still wait (a `Retry-After` to honour), and until
    when; None when none wait. A pass's own outcome, or a deliver task's result, reads
    the same."""
    if failure is not None:
        return failure
    if held is not None:
        return held
    if not pending:
        return None
    if next_attempt_at is None:
        return NOTICES_WAITING
    due = as_utc(next_attempt_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{NOTICES_WAITING}, the next attempt not before {due} UTC"


@contextmanager
def delivery_lock(engine: Engine, agency: str) -> Iterator[bool]:
    """Hold the agency's delivery lock while the block runs; yields whether it was free.

    One process at a time delivers to an agency, whatever starts it (`arms-sync
    run`, a cycle's deliver stage, the delivery beat): batches go in order, and
    a batch one process seals again must not be sent as it was by another.
    """
    held = hold_ledger_task_lock(engine, f"deliver-{agency}")
    try:
        yield held is not None
    finally:
        if held is not None:
            held.release()


def deliver_to(
    app: App, agency: str, url: str, *, ignore_schedule: bool = False
) -> dict[str, Any] | None:
    """One delivery pass to an agency's gateway, its counts as a task's result; None when
    another process is delivering to it.

    The delivery beat's passes wait for each failed batch's retry time (the
    back-off); a cycle's own prompt pass (`ignore_schedule`) tries at once,
    unless the gateway asked for a wait (`Retry-After`) that has not passed.
    A gateway's refusal ends the pass like any failed batch (kept, with its
    retry time) and is named in the counts (`refused`), never raised; the
    failure that ended a pass is told in its sentence (`failure`),
    and why batches wait unsent (`held`). The client is the App's,
    reused pass after pass (its connections and token).
    """
    delivery = deliver_when_free(
        app, agency, app.gateway_client(url, agency), ignore_schedule=ignore_schedule
    )
    if delivery is None:
        return None
    counts: dict[str, Any] = asdict(delivery.counts)
    if delivery.refusal is not None:
        counts[RESULT_REFUSED] = type(delivery.refusal).__name__
    if delivery.failure is not None:
        counts[RESULT_FAILURE] = str(delivery.failure)
    if delivery.held is not None:
        counts[RESULT_HELD] = delivery.held
    if delivery.next_attempt_at is not None:
        counts[RESULT_NEXT_ATTEMPT] = as_utc(delivery.next_attempt_at).astimezone(UTC).isoformat()
    return counts


def deliver_when_free(
    app: App, agency: str, client: NoticeClient, *, ignore_schedule: bool = False
) -> DeliveryPass | None:
    """One delivery pass (`deliver_pass`) under the agency's delivery lock; None when
    another process holds it (it delivers what this pass would have)."""
    with delivery_lock(app.ledger.engine, agency) as free:
        if not free:
            return None
        return deliver_pass(app, agency, client, ignore_schedule=ignore_schedule)


def deliver_pass(
    app: App,
    agency: str,
    client: NoticeClient,
    *,
    ignore_schedule: bool = False,
    rand: Random = random.random,
) -> DeliveryPass:
    """Deliver every due batch of one agency, oldest first, stopping at the first failure.

    The failed batch (and so every later one) stays in the outbox with its next
    attempt time; nothing is dropped. The failure is returned, not raised.
    `ignore_schedule` (a cycle's prompt pass) skips the backoff, never a
    gateway's `Retry-After`; `rand` draws the jitter.
    """
    counts = DeliveryCounts()
    pending = _waiting_batches(app, agency)
    counts.pending = len(pending)
    held = held_for_keys(app, agency)
    if held is not None and pending:
        return DeliveryPass(counts, held=held)
    for batch in pending:
        now = app.clock()
        if _must_wait(batch, now, ignore_schedule):
            return DeliveryPass(counts, next_attempt_at=_due(batch, ignore_schedule))
        envelope = _envelope_to_offer(app, agency, batch)
        if isinstance(envelope, str):
            return DeliveryPass(counts, held=envelope)
        try:
            receipt = _deliver_resealing_if_stale(app, client, batch.batch_id, envelope)
        except GatewayError as error:
            _record_failure(app, batch, error, now, rand())
            counts.failed += 1
            log.warning(
                "delivery to %s failed (%s): %s; batch kept for retry",
                agency,
                type(error).__name__,
                str(error).removesuffix("."),
            )
            return DeliveryPass(counts, error)
        _record_delivery(app, agency, batch, receipt)
        counts.delivered += 1
        counts.notices += batch.notice_count
        counts.pending -= 1
    return DeliveryPass(counts)


def _envelope_to_offer(app: App, agency: str, batch: _Batch) -> bytes | str:
    """The batch's envelope as it is to be offered now (sealed at last if it was kept
    unsealed, its first offer recorded), or why it cannot be sealed yet."""
    envelope = batch.envelope
    if envelope == UNSEALED:
        sealed = _seal_kept(app, agency, batch.batch_id)
        if isinstance(sealed, str):
            return sealed
        envelope = sealed
    if batch.offered_at is None:
        envelope = _first_offer(app, batch.batch_id, envelope)
    return envelope


def failure_words(error_name: str | None) -> str | None:
    """What the failure a waiting batch keeps (`last_error`, its error class) means, in
    words for a status line; None when it has none (never tried, or held for keys)."""
    if error_name is None:
        return None
    for error_class, words in _FAILURE_WORDS:
        if error_class.__name__ == error_name:
            return words
    return error_name


@dataclass(frozen=True, slots=True)
class _Batch:
    """A batch waiting in the outbox, as a delivery pass reads it."""

    batch_id: str
    envelope: bytes
    notice_count: int
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    wait_asked_until: datetime | None
    offered_at: datetime | None


def _waiting_batches(app: App, agency: str) -> list[_Batch]:
    """The agency's undelivered batches, oldest first."""
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(
                table.c.batch_id,
                table.c.envelope,
                table.c.notice_count,
                table.c.attempts,
                table.c.next_attempt_at,
                table.c.last_error,
                table.c.wait_asked_until,
                table.c.offered_at,
            )
            .where(table.c.agency == agency, table.c.delivered_at.is_(None))
            .order_by(table.c.position)
        ).all()
    return [
        _Batch(batch_id, bytes(envelope), int(count), int(attempts), when, error, asked, offered)
        for batch_id, envelope, count, attempts, when, error, asked, offered in rows
    ]


def _must_wait(batch: _Batch, now: datetime, ignore_schedule: bool) -> bool:
    """Whether this pass must leave the batch for now.

    A scheduled pass honours the batch's next attempt time; a prompt pass
    (`ignore_schedule`) only the wait the gateway asked for. A batch turned
    away with a `Retry-After` before that wait was kept on its own (revision
    0011) keeps its next attempt time in both.
    """
    if ignore_schedule and batch.last_error != ASKED_TO_WAIT:
        return False
    return _due(batch, ignore_schedule) > now


def _due(batch: _Batch, ignore_schedule: bool) -> datetime:
    """When this pass may try the batch: its next attempt time, or for a prompt pass the
    end of the wait the gateway asked for, where that was kept."""
    if ignore_schedule and batch.wait_asked_until is not None:
        return as_utc(batch.wait_asked_until)
    return as_utc(batch.next_attempt_at)


def _record_delivery(app: App, agency: str, batch: _Batch, receipt: SignedReceipt) -> None:
    """Store the batch's signed receipt and audit the disclosure, in one transaction."""
    table = schema.outbox
    engine = app.ledger.engine
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.batch_id == batch.batch_id, table.c.delivered_at.is_(None))
            .values(delivered_at=app.clock(), receipt=receipt.raw, attempts=batch.attempts + 1)
        )
        audit_disclosure(
            audit_log_for(engine),
            conn,
            agency,
            "notice batch delivered",
            [f"batch:{batch.batch_id}"],
        )


def held_for_keys(app: App, agency: str) -> str | None:
    """Why nothing may be sent to the agency now, or None: the hub has no active signing
    key, or the agency no active encryption key (revoked, its new one not imported).

    Nothing is then sent, not even a batch sealed earlier: a refusal could not be
    mended by sealing it again. Once the keys are in place a batch never offered
    is sealed again before it goes (`_first_offer`); one offered before is sent as
    it was (a gateway that stored it answers only that envelope with its receipt)
    and sealed again if refused (`docs/crypto.md`, "Rotation and revocation").
    """
    keys = app.outbox_keys
    lacking = None if keys is None else why_unsealable(agency, keys.keyring)
    return None if lacking is None else str(lacking)


def _seal_kept(app: App, agency: str, batch_id: str) -> bytes | str:
    """Seal a batch kept unsealed, now that the keys are there; else why it cannot be."""
    keys = app.outbox_keys
    if keys is None:
        return "the notices wait for a key directory to seal them with."
    with app.ledger.engine.begin() as conn:
        return reseal_batch(conn, batch_id, keys, app.clock())


def _first_offer(app: App, batch_id: str, envelope: bytes) -> bytes:
    """The envelope to offer a batch never offered before, the offer recorded first.

    The mark (`offered_at`) is committed before the gateway is called, so a
    batch without it cannot have reached the gateway: one sealed under keys
    retired since (a revocation, a grace period over) is sealed again under
    the current keys before it goes, never sent under the old ones. A batch
    with the mark may have been stored by the gateway (its receipt lost), so
    it is sent as it was (`_deliver_resealing_if_stale`).
    """
    keys = app.outbox_keys
    with app.ledger.engine.begin() as conn:
        if keys is not None and sealed_under_retired_keys(envelope, keys.keyring):
            envelope = reseal_batch(conn, batch_id, keys, app.clock())
        table = schema.outbox
        conn.execute(
            update(table).where(table.c.batch_id == batch_id).values(offered_at=app.clock())
        )
    return envelope


def _deliver_resealing_if_stale(
    app: App, client: NoticeClient, batch_id: str, envelope: bytes
) -> SignedReceipt:
    """Deliver a batch; seal it again once if the gateway refused it and that can mend it.

    That is: sealed too long ago (`StaleEnvelopeError`), or refused outright
    (`EnvelopeRefusedError`) while sealed under keys rotated or revoked since.
    Either refusal means the gateway did not store the envelope, so the new
    one (same message id) cannot be applied twice.
    """
    try:
        return client.deliver(envelope)
    except StaleEnvelopeError:
        keys = app.outbox_keys
        if keys is None:
            raise
    except EnvelopeRefusedError as refused:
        keys = app.outbox_keys
        if keys is None or not sealed_under_retired_keys(envelope, keys.keyring):
            raise _naming_its_keys(refused, envelope) from refused
    with app.ledger.engine.begin() as conn:
        fresh = reseal_batch(conn, batch_id, keys, app.clock())
    return client.deliver(fresh)


def _naming_its_keys(refused: EnvelopeRefusedError, envelope: bytes) -> EnvelopeRefusedError:
    """The refusal, naming the keys the envelope was sealed under: the gateway's own
    sentence is never passed on, so the hub says which keys the gateway must hold."""
    keys = sealing_keys_named(envelope)
    if keys is None:
        return refused
    return EnvelopeRefusedError(f"{str(refused).removesuffix('.')}; the envelope was {keys}.")


def _record_failure(
    app: App, batch: _Batch, error: GatewayError, now: datetime, rand: float
) -> None:
    """Count the failed attempt and set the batch's next attempt time (error class only)."""
    retry_after = error.retry_after if isinstance(error, RetryAfterError) else None
    asked_until = None if retry_after is None else now + timedelta(seconds=retry_after)
    table = schema.outbox
    with app.ledger.engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.batch_id == batch.batch_id)
            .values(
                attempts=batch.attempts + 1,
                next_attempt_at=now + retry_delay(batch.attempts + 1, rand, retry_after),
                last_error=type(error).__name__,
                wait_asked_until=asked_until,
            )
        )
