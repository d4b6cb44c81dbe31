"""A delivery pass for tests that expect a gateway's refusal to be raised."""

from __future__ import annotations

import random

from sync.app import App
from sync.delivery import DeliveryCounts, NoticeClient, Random, deliver_pass


def deliver_outbox(
    app: App,
    agency: str,
    client: NoticeClient,
    *,
    ignore_schedule: bool = False,
    rand: Random = random.random,
) -> DeliveryCounts:
    """`deliver_pass`, raising the refusal it returns (its batch already kept for retry)."""
    delivery = deliver_pass(app, agency, client, ignore_schedule=ignore_schedule, rand=rand)
    if delivery.refusal is not None:
        raise delivery.refusal
    return delivery.counts
