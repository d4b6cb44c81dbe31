"""What a worker's task body does at its edges: whose claim a task runs under, a ledger it
cannot open, and one agency's delivery failing while the other's goes on.

The task bodies of `workers.tasks` are called in this process with a real
Celery application object (the test's Redis as broker, nothing consumed from
it), a real PostgreSQL or SQLite ledger and, for delivery, the probation
reference gateway on 127.0.0.1. A second process of the same worker host is a
real process of its own (spawned), as a pool process of one worker would be.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, text

from sync.app import App
from sync.crypto import Party
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import ingest_feed
from sync.distributed.work import KIND_INGEST, KIND_LINK, CycleRules, TaskRef
from sync.ledger import schema
from tests.conftest import AT_REST_KEY_ENV
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import closed_port_url
from tests.e2e.test_task_takeover import task_claim
from tests.e2e.test_workers import TODAY, feed_specs, service_app
from tests.integration.fronted_gateway import reference_gateway
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET, make_keys, write_feed
from tests.integration.test_delivery_passes import batches, hub, queue_notices
from tests.integration.test_gateway_retry_after import Clock
from tests.ports import free_loopback_port
from workers import tasks
from workers.app import TASK_DELIVER_OUTBOXES, TASK_LINK, create_app
from workers.settings import load_worker_settings

pytestmark = pytest.mark.integration

close_apps = shared.close_apps
small_feeds = shared.small_feeds
broker = shared.broker

HOST = "w1@worker-host"
AGENCY = "probation"
TASKS_LOGGER = "workers.tasks"


def worker_task(celery_app: Any, hostname: str = HOST) -> Any:
    """What a bound task is to `_run`: its Celery application and its request's host."""
    return SimpleNamespace(app=celery_app, request=SimpleNamespace(hostname=hostname))


@pytest.fixture
def own_services(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process plays a worker process: its own App, closed after the test."""
    monkeypatch.setattr(tasks, "_SERVICES", {})
    yield
    for service, _ in tasks._SERVICES.values():
        service.close()


# -- whose claim a task runs under ---------------------------------------------
def _claim_and_leave_running(_app: App, _rules: CycleRules, _ref: TaskRef) -> list[TaskRef]:
    """A copy's work that has claimed its task and is still busy with it."""
    return []


def second_copy(database_url: str, broker_url: str, cycle_id: int, agency: str) -> int:
    """In a process of its own on the same host: run the ingest task through `_run`; its pid."""
    tasks._SERVICES.clear()
    celery_app = create_app(load_worker_settings(database_url=database_url, broker_url=broker_url))
    ref = TaskRef(KIND_INGEST, cycle_id, agency)
    try:
        tasks._run(worker_task(celery_app), ref, _claim_and_leave_running)
    finally:
        for service, _ in tasks._SERVICES.values():
            service.close()
    return os.getpid()


def cut_task_locks(app: App) -> None:
    """Cut the connections holding this ledger's task locks, as a network fault would."""
    with app.ledger.engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )


def records_stored(app: App) -> int:
    """How many person and other records the ledger holds."""
    with app.ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.records)).scalar_one())


def test_two_processes_of_one_host_hold_different_claims_so_a_stale_copy_writes_nothing(
    fresh_postgres_url: str, small_feeds: Path, broker: str, own_services: None
) -> None:
    """The first copy loses its lock's connection; another process of the same worker host
    claims the task; the first copy's ingest is then refused its claim and stores nothing."""
    app = service_app(fresh_postgres_url)
    cycle_id, _ = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    ref = TaskRef(KIND_INGEST, cycle_id, AGENCY)
    celery_app = create_app(
        load_worker_settings(database_url=fresh_postgres_url, broker_url=broker)
    )
    second: list[int] = []

    def taken_over_then_ingest(app_: App, rules: CycleRules, task: TaskRef) -> list[TaskRef]:
        cut_task_locks(app_)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            args = (fresh_postgres_url, broker, task.cycle_id, task.arg)
            second.append(pool.submit(second_copy, *args).result())
        return ingest_feed(app_, rules, task)

    tasks._run(worker_task(celery_app), ref, taken_over_then_ingest)

    [second_pid] = second
    assert second_pid != os.getpid()
    assert task_claim(app, ref) == ("running", f"{HOST}:{second_pid}", 2)
    assert records_stored(app) == 0


# -- a ledger the worker cannot open --------------------------------------------
def test_a_task_whose_ledger_cannot_be_opened_logs_one_line_and_raises_nothing(
    postgres_at_rest_key: Path,
    broker: str,
    own_services: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing listens where the ledger should be: one error line naming the task and cycle,
    in the product's own sentence, no traceback; the task is left for a later dispatch."""
    monkeypatch.setenv(AT_REST_KEY_ENV, str(postgres_at_rest_key))
    port = free_loopback_port()
    unreachable = f"postgresql://postgres@127.0.0.1:{port}/ledger"
    celery_app = create_app(load_worker_settings(database_url=unreachable, broker_url=broker))
    link = celery_app.tasks[TASK_LINK]

    with caplog.at_level(logging.INFO, logger=TASKS_LOGGER):
        assert link.run(41) is None

    records = [r for r in caplog.records if r.name == TASKS_LOGGER]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.ERROR, None)]
    line = records[0].getMessage()
    assert line == (
        f"task {KIND_LINK} of cycle 41 cannot start on this worker: LedgerError: No database "
        f"server answers for the ledger database ledger on 127.0.0.1:{port}; start it, or "
        "correct the host and port in the URL; it stays pending in the ledger and is "
        "dispatched again once the cause is mended"
    )


# -- one agency's delivery failing ----------------------------------------------
def outbox_left(app: App, agency: str) -> tuple[int, int]:
    """The agency's outbox batches: delivered (a receipt stored), and still waiting."""
    found = batches(app, agency)
    delivered = sum(1 for *_, receipt in found if receipt is not None)
    return delivered, len(found) - delivered


def test_a_delivery_beat_delivers_to_probation_when_the_delivery_to_police_fails(
    tmp_path: Path,
    own_services: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Police is delivered to first, and no client may be built for it (no client secret of
    its own, none shared): the beat says so by the error's class and still delivers every
    probation batch."""
    keys = tmp_path / "keys"
    make_keys(keys)
    for name in ("GATEWAY_CLIENT_SECRET", "POLICE_GATEWAY_CLIENT_SECRET"):
        monkeypatch.delenv(f"ARMS_SYNC_{name}", raising=False)
    monkeypatch.setenv("ARMS_SYNC_KEYS_DIR", str(keys))
    monkeypatch.setenv("ARMS_SYNC_GATEWAY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ARMS_SYNC_PROBATION_GATEWAY_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ARMS_SYNC_GATEWAY_RETRY_ATTEMPTS", "1")
    feed = tmp_path / "gateway-feed.jsonl"
    write_feed(feed, AGENCY, 3)
    with (
        hub(tmp_path, keys, Clock()) as app,
        reference_gateway(Party.PROBATION, keys, feed, tmp_path / "gateway") as probation_url,
    ):
        queue_notices(app, tmp_path)
        police_before = batches(app, Party.POLICE.value)
        waiting = len(batches(app, AGENCY))
        assert waiting > 0
        assert police_before
        settings = load_worker_settings(
            database_url=str(app.settings.database_url),
            probation_gateway=probation_url,
            police_gateway=closed_port_url(),
        )
        beat = create_app(settings).tasks[TASK_DELIVER_OUTBOXES]
        with caplog.at_level(logging.INFO, logger=TASKS_LOGGER):
            beat.run()

        assert outbox_left(app, AGENCY) == (waiting, 0)
        assert batches(app, Party.POLICE.value) == police_before
    told = [r.getMessage() for r in caplog.records if r.name == TASKS_LOGGER]
    assert told == ["delivery to police failed (ConfigurationError); the next beat tries again"]
