"""Deliver one agency's outbox: sealed notice batches, in order, until a signed receipt.

A batch leaves the outbox only when the gateway's signed receipt is stored
beside it. A failed call is retried later with backoff (the batch and every
later one wait, so notices never overtake the ones they replace); one agency's
failing gateway never holds back the other's delivery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update

from sync.app import App
from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import audit_disclosure
from sync.errors import GatewayError, PermanentGatewayError, StaleEnvelopeError
from sync.gateway.retry import RetryPolicy, backoff_ceiling
from sync.ledger import schema
from sync.ledger.outbox import reseal_batch

log = logging.getLogger(__name__)
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
# The waits only: a batch stays in the outbox until delivered, so max_attempts never applies.
OUTBOX_BACKOFF = RetryPolicy(
    base_delay=RETRY_BASE.total_seconds(), max_delay=RETRY_MAX.total_seconds(), jitter=False
)


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


def retry_delay(attempts: int) -> timedelta:
    """Backoff before the next attempt at a batch that failed `attempts` times."""
    return timedelta(seconds=backoff_ceiling(OUTBOX_BACKOFF, max(attempts, 1)))


@dataclass
class DeliveryPass:
    """One delivery pass: its counts, and the refusal that ended it, if one did."""

    counts: DeliveryCounts
    refusal: PermanentGatewayError | None = None


def deliver_outbox(
    app: App, agency: str, client: NoticeClient, *, ignore_schedule: bool = False
) -> DeliveryCounts:
    """Deliver every due batch of one agency, oldest first, stopping at the first failure.

    A refusal (`PermanentGatewayError`) is raised once its batch is kept for retry.
    """
    delivery = deliver_pass(app, agency, client, ignore_schedule=ignore_schedule)
    if delivery.refusal is not None:
        raise delivery.refusal
    return delivery.counts


def deliver_pass(
    app: App, agency: str, client: NoticeClient, *, ignore_schedule: bool = False
) -> DeliveryPass:
    """Deliver every due batch of one agency, oldest first, stopping at the first failure.

    The failed batch (and so every later one) stays in the outbox with its next
    attempt time; nothing is dropped. A refusal is returned, not raised.
    """
    counts = DeliveryCounts()
    table = schema.outbox
    engine = app.ledger.engine
    with engine.connect() as conn:
        pending = conn.execute(
            select(
                table.c.batch_id,
                table.c.envelope,
                table.c.notice_count,
                table.c.attempts,
                table.c.next_attempt_at,
            )
            .where(table.c.agency == agency, table.c.delivered_at.is_(None))
            .order_by(table.c.position)
        ).all()
    counts.pending = len(pending)
    for batch_id, envelope, notice_count, attempts, next_attempt_at in pending:
        now = app.clock()
        if not ignore_schedule and _as_aware(next_attempt_at, now) > now:
            break
        try:
            receipt = _deliver_resealing_if_stale(app, client, batch_id, bytes(envelope))
        except GatewayError as error:
            _record_failure(app, batch_id, attempts, error, now)
            counts.failed += 1
            log.warning(
                "delivery to %s failed (%s); batch kept for retry", agency, type(error).__name__
            )
            if isinstance(error, PermanentGatewayError):
                return DeliveryPass(counts, error)
            break
        with engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.batch_id == batch_id, table.c.delivered_at.is_(None))
                .values(delivered_at=app.clock(), receipt=receipt.raw, attempts=attempts + 1)
            )
            audit_disclosure(
                audit_log_for(engine), conn, agency, "notice batch delivered", [f"batch:{batch_id}"]
            )
        counts.delivered += 1
        counts.notices += int(notice_count)
        counts.pending -= 1
    return DeliveryPass(counts)


def _deliver_resealing_if_stale(
    app: App, client: NoticeClient, batch_id: str, envelope: bytes
) -> SignedReceipt:
    """Deliver a batch; if the gateway finds it sealed too long ago, seal it again once."""
    try:
        return client.deliver(envelope)
    except StaleEnvelopeError:
        keys = app.outbox_keys
        if keys is None:
            raise
        with app.ledger.engine.begin() as conn:
            fresh = reseal_batch(conn, batch_id, keys, app.clock())
        return client.deliver(fresh)


def _as_aware(value: datetime, like: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=like.tzinfo)


def _record_failure(
    app: App, batch_id: str, attempts: int, error: Exception, now: datetime
) -> None:
    table = schema.outbox
    with app.ledger.engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.batch_id == batch_id)
            .values(
                attempts=attempts + 1,
                next_attempt_at=now + retry_delay(attempts + 1),
                last_error=type(error).__name__,
            )
        )
