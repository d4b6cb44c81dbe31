"""Notice batches reach an agency in the order they were queued, each with a signed receipt.

A later pass's batch replaces notices of earlier ones, so it must never
overtake them: a batch told to wait holds back every batch behind it. Each
delivered batch keeps the gateway's signed receipt and is audited as a
disclosure, once; a pass with nothing due calls nobody. The reference gateway
serves on 127.0.0.1 from a thread of the test, with scripted faults.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from sync.app import App
from sync.audit.tables import audit_log
from sync.crypto import Party
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.gateway.faults import Fault
from sync.gateway.receipt import verify_receipt
from sync.gateway.store import NoticeStore
from sync.ledger import schema
from tests.integration.delivering import deliver_outbox
from tests.integration.test_gateway_retry_after import (
    AGENCY,
    HALF,
    LONG_WAIT,
    TODAY,
    Clock,
    Served,
    client,
    first_batch,
    hub_app,
    serve,
)

__all__ = ["serve"]  # the fixture, shared with the Retry-After tests


def _queue_a_second_pass(app: App, tmp_path: Path) -> dict[str, PlainFileSource]:
    """A pass after the agency deleted half its person records: notices that replace others.

    Returns the pass's feeds, to read again.
    """
    feeds = tmp_path / "feeds"
    lines = (feeds / "probation.jsonl").read_text().splitlines()
    persons = [json.loads(line) for line in lines if '"type": "person"' in line]
    deletions = [
        {
            "type": "person",
            "agency": "probation",
            "id": p["id"],
            "deleted": True,
            "updated_at": "2030-01-01T00:00:00Z",
        }
        for p in persons[::2]
    ]
    changed = tmp_path / "probation-later.jsonl"
    changed.write_text("".join(json.dumps(d) + "\n" for d in deletions))
    sources = {
        "probation": PlainFileSource(changed),
        "police": PlainFileSource(feeds / "police.jsonl"),
    }
    run_cycle(app, sources, TODAY)
    return sources


def _batches(app: App) -> list[tuple[str, bytes | None, bytes]]:
    """The agency's batches in queue order: id, receipt, envelope."""
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.batch_id, table.c.receipt, table.c.envelope)
            .where(table.c.agency == AGENCY.value)
            .order_by(table.c.position)
        ).all()
    return [(str(b), None if r is None else bytes(r), bytes(e)) for b, r, e in rows]


def _positions(app: App) -> list[int]:
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        query = select(table.c.position).where(table.c.agency == AGENCY.value)
        return [int(position) for position in conn.execute(query).scalars()]


def _disclosed(app: App) -> list[str]:
    query = select(audit_log.c.refs).where(
        audit_log.c.kind == "disclosure", audit_log.c.recipient == AGENCY.value
    )
    with app.ledger.engine.connect() as conn:
        return [ref for refs in conn.execute(query).scalars() for ref in json.loads(refs)]


def test_a_waiting_batch_holds_back_the_later_ones_and_each_arrives_once_in_order(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    served = serve(LONG_WAIT)
    clock = Clock()
    app = hub_app(served, tmp_path, clock)
    try:
        first_pass = [batch_id for batch_id, _, _ in _batches(app)]
        sources = _queue_a_second_pass(app, tmp_path)
        queued = [batch_id for batch_id, _, _ in _batches(app)]
        assert len(queued) > len(first_pass)
        assert queued[: len(first_pass)] == first_pass  # a later pass queues behind
        assert len(set(_positions(app))) == len(queued)
        run_cycle(app, sources, TODAY)
        assert [batch_id for batch_id, _, _ in _batches(app)] == queued  # nothing new to say
        asked_at = clock.now
        served.faults.script = [None, Fault.UNAVAILABLE]
        with client(served, lambda _s: None) as hub_client:
            counts = deliver_outbox(app, AGENCY.value, hub_client, rand=lambda: HALF)
            assert (counts.delivered, counts.failed) == (0, 1)
            clock.now = asked_at + timedelta(seconds=LONG_WAIT - 1)
            for prompt in (True, False):
                counts = deliver_outbox(app, AGENCY.value, hub_client, ignore_schedule=prompt)
                assert counts.delivered == 0

            clock.now = asked_at + timedelta(seconds=LONG_WAIT + 1)
            counts = deliver_outbox(app, AGENCY.value, hub_client)
            assert (counts.delivered, counts.pending) == (len(queued), 0)
            calls = served.faults.calls
            assert deliver_outbox(app, AGENCY.value, hub_client).delivered == 0
            assert served.faults.calls == calls  # nothing due: nobody called
        for batch_id, receipt, envelope in _batches(app):
            assert receipt is not None
            verified = verify_receipt(
                json.loads(receipt), keyring=served.hub, agency=Party.PROBATION, now=clock.now
            )
            assert verified.msg_id == json.loads(envelope)["header"]["msg_id"] == batch_id
        assert sorted(_disclosed(app)) == sorted(f"batch:{batch_id}" for batch_id in queued)
    finally:
        app.close()
    store = NoticeStore(tmp_path / "gateway-state")
    try:
        assert [row.msg_id for row in store.after(0)] == queued
    finally:
        store.close()


def _attempts(app: App) -> list[tuple[int, str | None]]:
    """Each of the agency's batches in queue order: attempts, last error."""
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        query = (
            select(table.c.attempts, table.c.last_error)
            .where(table.c.agency == AGENCY.value)
            .order_by(table.c.position)
        )
        return [(int(attempts), error) for attempts, error in conn.execute(query)]


def test_a_batch_that_keeps_failing_waits_twice_as_long_each_time(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    served = serve(LONG_WAIT)
    clock = Clock()
    app = hub_app(served, tmp_path, clock)
    waits: list[timedelta] = []
    try:
        _queue_a_second_pass(app, tmp_path)
        with client(served, lambda _s: None) as hub_client:
            for _ in range(3):
                served.faults.script = [Fault.SERVER_ERROR] * 20
                failed_at = clock.now
                counts = deliver_outbox(app, AGENCY.value, hub_client, rand=lambda: HALF)
                assert (counts.delivered, counts.failed) == (0, 1)
                clock.now = first_batch(app)[1]
                waits.append(clock.now - failed_at)
            first, *behind = _attempts(app)
            assert first == (3, "RetryableGatewayError")
            assert set(behind) == {(0, None)}  # the failure ended each pass
            # 30 s doubling, less a quarter (the jitter drew half its share): 22.5 s, 45 s, 90 s.
            assert waits == [timedelta(seconds=22.5 * 2**step) for step in range(3)]
            served.faults.script = []
            counts = deliver_outbox(app, AGENCY.value, hub_client, rand=lambda: HALF)
            assert (counts.delivered, counts.pending) == (len(behind) + 1, 0)
    finally:
        app.close()


def test_a_prompt_pass_waits_only_as_long_as_the_gateway_asked_not_the_back_off(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    served = serve(LONG_WAIT)
    clock = Clock()
    app = hub_app(served, tmp_path, clock)
    table = schema.outbox
    try:
        with app.ledger.engine.begin() as conn:  # six failures before: a back-off of 24 min
            conn.execute(update(table).where(table.c.agency == AGENCY.value).values(attempts=6))
        with client(served, lambda _s: None) as hub_client:
            served.faults.script = [None, Fault.UNAVAILABLE]
            asked_at = clock.now
            counts = deliver_outbox(app, AGENCY.value, hub_client, rand=lambda: HALF)
            assert (counts.delivered, counts.failed) == (0, 1)
            assert first_batch(app)[1] - asked_at == timedelta(minutes=24)
            clock.now = asked_at + timedelta(seconds=LONG_WAIT - 1)
            prompt = deliver_outbox(app, AGENCY.value, hub_client, ignore_schedule=True)
            assert prompt.delivered == 0  # the gateway's own wait holds a prompt pass too
            clock.now = asked_at + timedelta(seconds=LONG_WAIT + 1)
            assert deliver_outbox(app, AGENCY.value, hub_client).delivered == 0  # the beat
            prompt = deliver_outbox(app, AGENCY.value, hub_client, ignore_schedule=True)
            assert (prompt.delivered, prompt.pending) == (len(_batches(app)), 0)
    finally:
        app.close()
