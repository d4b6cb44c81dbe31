"""A cycle of many decide batches queues each agency's notices in the in-process run's order.

The commit gathers the notices every batch staged, batch 0, 1, 2, … 10, 11 in
number order, so a cycle cut into more than ten batches gives each agency
the same notices in the same order as `run` over the same feeds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync.app import App
from sync.cycle import run_cycle
from sync.distributed.work import KIND_DECIDE, CycleRules
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.settings import load_settings
from tests.e2e import test_deliver_stage as deliver_stage
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import cycle_status
from tests.e2e.test_workers import TODAY, feed_specs

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

hub = deliver_stage.hub
keys = deliver_stage.keys
small_feeds = shared.small_feeds
close_apps = shared.close_apps
MANY_BATCHES = CycleRules(batch_size=25)


def queued_notices(app: App) -> dict[str, list[Any]]:
    """Each agency's queued notices, batch after batch, in the order each batch holds them
    (without their ids, which each pass draws afresh)."""
    outbox = schema.outbox
    keys_ = app.outbox_keys
    assert keys_ is not None
    found: dict[str, list[Any]] = {}
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.agency, outbox.c.batch_id, outbox.c.sealed_batch).order_by(
                outbox.c.agency, outbox.c.position
            )
        ).all()
    for agency, batch_id, sealed in rows:
        plaintext = keys_.cipher.decrypt(f"outbox/{batch_id}", bytes(sealed))
        notices = json.loads(plaintext)["notices"]
        found.setdefault(agency, []).extend(
            {name: value for name, value in notice.items() if name != "notice_id"}
            for notice in notices
        )
    return found


def test_a_cycle_of_more_than_ten_batches_queues_notices_in_runs_order(
    hub: Callable[..., App], keys: Path, small_feeds: Path, tmp_path: Path
) -> None:
    """Batch 10's notices come after batch 9's, not after batch 1's."""
    app = hub()
    cycle_id, executed = shared.run_cycle_inline(app, MANY_BATCHES, small_feeds)
    assert len([ref for ref in executed if ref.kind == KIND_DECIDE]) > 10
    assert cycle_status(app, cycle_id) == "succeeded"
    cycle = queued_notices(app)

    reference = App(
        load_settings(None, database_url=f"sqlite:///{tmp_path / 'in-process.db'}", keys_dir=keys)
    )
    try:
        reference.ledger.ensure_schema()
        sources = {a: PlainFileSource(Path(s)) for a, s in feed_specs(small_feeds).items()}
        run_cycle(reference, sources, TODAY)
        expected = queued_notices(reference)
    finally:
        reference.close()
    assert sorted(cycle) == ["police", "probation"]
    assert cycle == expected
