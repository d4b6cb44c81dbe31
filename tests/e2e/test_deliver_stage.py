"""The deliver stage of a distributed cycle against a real gateway process and PostgreSQL.

A cycle whose decisions are stored must not be blocked because delivery is in
progress elsewhere or the gateway cannot take a batch for now: a busy
delivery lock postpones the stage without spending an attempt, and a batch
the gateway could not take stays in the outbox for the delivery beat. So
does a gateway that refuses the hub: the stage finishes and the beat
delivers once the refusal is mended. Only an error that is not the
gateway's is a failed attempt, dead-lettered past the cap. `status` names a
delivery only once nothing is left waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

import sync.delivery
from sync.app import App
from sync.crypto import Party
from sync.cycle import DELIVERING_ELSEWHERE, RunSummary, deliver_to_gateways
from sync.delivery import deliver_to, delivery_lock
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import execute
from sync.distributed.status import agency_freshness, cycle_deliveries, cycle_delivery_errors
from sync.distributed.work import (
    KIND_DELIVER,
    CycleRules,
    TaskRef,
    list_dead_letters,
)
from sync.gateway_source import gateway_source
from sync.ledger import schema, tables_cycle
from sync.settings import load_settings
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import TODAY, feed_specs
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningGateway,
    make_keys,
    start_gateway,
)
from tests.ports import free_loopback_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

small_feeds = shared.small_feeds
AGENCY = "probation"
RULES = CycleRules(max_attempts=2, batch_size=100)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Key rings for the hub and both agencies."""
    folder = tmp_path / "keys"
    make_keys(folder)
    return folder


@pytest.fixture
def gateway(tmp_path: Path, keys: Path, small_feeds: Path) -> Iterator[RunningGateway]:
    """The probation gateway, a real process, stopped after the test."""
    running = start_gateway(
        agency=Party.PROBATION,
        feed=small_feeds / f"{AGENCY}.jsonl",
        keys=keys,
        state=tmp_path / "gateway-state",
        cwd=tmp_path,
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def hub(fresh_postgres_url: str, keys: Path) -> Iterator[Callable[[str], App]]:
    """Builds the hub's App on a fresh ledger with a client secret; closed after the test."""
    opened: list[App] = []

    def build(secret: str = CLIENT_SECRET) -> App:
        settings = load_settings(
            None,
            database_url=fresh_postgres_url,
            keys_dir=keys,
            gateway_client_id=CLIENT_ID,
            gateway_client_secret=secret,
            gateway_retry_attempts=1,
        )
        app = App(settings)
        app.ledger.ensure_schema()
        opened.append(app)
        return app

    yield build
    for app in opened:
        app.close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    return f"http://127.0.0.1:{free_loopback_port()}"


def run_until_deliver(app: App, folder: Path, gateway_url: str) -> tuple[int, TaskRef]:
    """Run a cycle in process up to its deliver task; the cycle id and that task."""
    cycle_id, queue = start_cycle(app, feed_specs(folder), {AGENCY: gateway_url}, TODAY)
    while queue and queue[0].kind != KIND_DELIVER:
        queue.extend(execute(app, RULES, queue.pop(0), "test"))
    [deliver] = queue
    return cycle_id, deliver


def task_state(app: App, ref: TaskRef) -> tuple[str, int, str | None]:
    """A task's status, attempts and last error."""
    table = tables_cycle.cycle_tasks
    with app.ledger.engine.connect() as conn:
        row = conn.execute(
            select(table.c.status, table.c.attempts, table.c.last_error).where(
                table.c.cycle_id == ref.cycle_id, table.c.task_key == ref.key
            )
        ).one()
    return row.status, row.attempts, row.last_error


def cycle_status(app: App, cycle_id: int) -> str:
    """The cycle's status: running, blocked or succeeded."""
    table = tables_cycle.cycles
    with app.ledger.engine.connect() as conn:
        return str(conn.execute(select(table.c.status).where(table.c.id == cycle_id)).scalar_one())


def batches(app: App, delivered: bool) -> int:
    """Outbox batches to the agency, delivered or still waiting."""
    table = schema.outbox
    waiting = table.c.delivered_at.is_not(None) if delivered else table.c.delivered_at.is_(None)
    with app.ledger.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(table.c.agency == AGENCY, waiting)).scalar_one()
        )


def task_result(app: App, ref: TaskRef) -> dict[str, Any] | None:
    """What a finished task recorded as its result."""
    table = tables_cycle.cycle_tasks
    with app.ledger.engine.connect() as conn:
        result = conn.execute(
            select(table.c.result).where(
                table.c.cycle_id == ref.cycle_id, table.c.task_key == ref.key
            )
        ).scalar_one()
    return None if result is None else dict(json.loads(result))


class InjectedBug(Exception):
    """An error of the hub's own, injected into a stage."""


def last_delivery(app: App) -> datetime | None:
    """When `status` says the agency was last delivered to."""
    [found] = [f for f in agency_freshness(app.ledger.engine) if f.agency == AGENCY]
    return found.last_delivery


def test_a_busy_delivery_lock_postpones_the_stage_without_spending_attempts(
    hub: Callable[..., App], gateway: RunningGateway, small_feeds: Path
) -> None:
    app = hub()
    cycle_id, deliver = run_until_deliver(app, small_feeds, gateway.url)
    assert batches(app, delivered=False) > 0
    with delivery_lock(app.ledger.engine, AGENCY) as held:
        assert held
        for _ in range(RULES.max_attempts + 1):
            assert execute(app, RULES, deliver, "test") == []
        assert task_state(app, deliver) == ("pending", 0, None)
        assert cycle_status(app, cycle_id) == "running"
    assert list_dead_letters(app.ledger.engine) == []
    assert execute(app, RULES, deliver, "test") == []
    assert task_state(app, deliver)[:2] == ("done", 1)
    assert cycle_status(app, cycle_id) == "succeeded"
    assert batches(app, delivered=False) == 0


def test_a_run_leaves_an_agency_another_process_is_delivering_to_and_says_so(
    hub: Callable[..., App], gateway: RunningGateway, small_feeds: Path
) -> None:
    app = hub()
    run_until_deliver(app, small_feeds, gateway.url)
    waiting = batches(app, delivered=False)
    assert waiting > 0
    source = {AGENCY: gateway_source(gateway.url, AGENCY, app)}

    busy = RunSummary(run_id=0, as_of=TODAY)
    with delivery_lock(app.ledger.engine, AGENCY) as held:
        assert held
        deliver_to_gateways(app, source, busy)
    free = RunSummary(run_id=0, as_of=TODAY)
    deliver_to_gateways(app, source, free)

    assert busy.delivery_notes == {AGENCY: DELIVERING_ELSEWHERE}
    assert busy.feed_errors == {}
    assert busy.delivered == {}
    assert free.feed_errors == {}
    assert free.delivered[AGENCY]["delivered"] == waiting
    assert batches(app, delivered=False) == 0


def test_a_run_tells_a_gateway_that_took_no_notices_apart_from_one_that_served_no_feed(
    hub: Callable[..., App], gateway: RunningGateway, small_feeds: Path
) -> None:
    app = hub()
    run_until_deliver(app, small_feeds, gateway.url)
    waiting = batches(app, delivered=False)
    assert waiting > 0
    summary = RunSummary(run_id=0, as_of=TODAY)
    unreachable = {AGENCY: gateway_source(closed_port_url(), AGENCY, app)}
    deliver_to_gateways(app, unreachable, summary)

    assert summary.feed_errors == {}
    assert list(summary.delivery_errors) == [AGENCY]
    assert "did not answer" in summary.delivery_errors[AGENCY]
    assert batches(app, delivered=False) == waiting  # kept for the next delivery


def test_batches_a_gateway_cannot_take_now_are_left_to_the_delivery_beat(
    hub: Callable[..., App], gateway: RunningGateway, small_feeds: Path
) -> None:
    app = hub()
    cycle_id, deliver = run_until_deliver(app, small_feeds, closed_port_url())
    waiting_before = batches(app, delivered=False)
    assert waiting_before > 0
    assert execute(app, RULES, deliver, "test") == []
    assert task_state(app, deliver)[:2] == ("done", 1)
    assert cycle_status(app, cycle_id) == "succeeded"
    assert list_dead_letters(app.ledger.engine) == []
    assert batches(app, delivered=False) == waiting_before
    assert last_delivery(app) is None
    # What `run --distributed` reports of the cycle's deliveries.
    assert cycle_deliveries(app.ledger.engine, cycle_id) == {
        AGENCY: {"delivered": 0, "notices": 0, "failed": 1, "pending": waiting_before}
    }
    told = cycle_delivery_errors(app.ledger.engine, cycle_id)
    assert list(told) == [AGENCY]
    assert f"the {AGENCY} gateway did not answer" in told[AGENCY]
    # The beat waits for the failed batch's retry time (the back-off) ...
    early = deliver_to(app, AGENCY, gateway.url)
    assert early is not None
    assert early["delivered"] == 0
    assert batches(app, delivered=False) == waiting_before
    # ... and delivers everything once it has come.
    with app.ledger.engine.begin() as conn:
        conn.execute(update(schema.outbox).values(next_attempt_at=app.clock()))
    counts = deliver_to(app, AGENCY, gateway.url)
    assert counts is not None
    assert counts["delivered"] == waiting_before
    assert batches(app, delivered=False) == 0
    assert last_delivery(app) is not None


def test_a_gateway_refusing_the_hub_leaves_its_batches_to_the_delivery_beat(
    hub: Callable[..., App], gateway: RunningGateway, small_feeds: Path
) -> None:
    app = hub("not-the-secret")
    cycle_id, deliver = run_until_deliver(app, small_feeds, gateway.url)
    waiting_before = batches(app, delivered=False)
    assert waiting_before > 0
    assert execute(app, RULES, deliver, "test") == []
    assert task_state(app, deliver) == ("done", 1, None)
    assert task_result(app, deliver) == {
        "delivered": 0,
        "notices": 0,
        "failed": 1,
        "pending": waiting_before,
        "refused": "PermanentGatewayError",
        "failure": "the probation gateway refused the client credentials; check the hub's "
        "client id and secret for it (ARMS_SYNC_PROBATION_GATEWAY_CLIENT_ID and "
        "ARMS_SYNC_PROBATION_GATEWAY_CLIENT_SECRET, else ARMS_SYNC_GATEWAY_CLIENT_ID and "
        "ARMS_SYNC_GATEWAY_CLIENT_SECRET).",
    }
    assert cycle_status(app, cycle_id) == "succeeded"
    assert list_dead_letters(app.ledger.engine) == []
    assert batches(app, delivered=False) == waiting_before
    # Once the hub has the right secret, the beat delivers every batch at its retry time.
    fixed = hub()
    with fixed.ledger.engine.begin() as conn:
        conn.execute(update(schema.outbox).values(next_attempt_at=fixed.clock()))
    counts = deliver_to(fixed, AGENCY, gateway.url)
    assert counts is not None
    assert counts["delivered"] == waiting_before
    assert batches(fixed, delivered=False) == 0


def test_an_error_that_is_not_the_gateways_is_a_failed_attempt(
    hub: Callable[..., App],
    gateway: RunningGateway,
    small_feeds: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = hub()
    cycle_id, deliver = run_until_deliver(app, small_feeds, gateway.url)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise InjectedBug

    monkeypatch.setattr(sync.delivery, "deliver_pass", broken)
    assert execute(app, RULES, deliver, "test") == []
    assert task_state(app, deliver) == ("pending", 1, "InjectedBug")
    assert execute(app, RULES, deliver, "test") == []
    assert task_state(app, deliver)[:2] == ("dead", 2)
    assert cycle_status(app, cycle_id) == "blocked"
    assert [letter["task_key"] for letter in list_dead_letters(app.ledger.engine)] == [deliver.key]
