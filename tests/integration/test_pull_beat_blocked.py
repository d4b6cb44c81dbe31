"""The pull beat and a blocked or running cycle: it says why it pulls nothing, and pulls again
once the cycle is abandoned.

A blocked cycle holds back every pull; the worker log is where an operator
of a background deployment looks, so each beat names the cycle and what to
do. The pull task's body is called in this process with a real Celery
application, a PostgreSQL ledger and the test's Redis as broker.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.distributed.abandon import abandon_cycle
from sync.ledger import tables_cycle as tables
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import feed_specs, service_app
from tests.integration.test_cycle_abandonment import ACTOR, cycle_row, run_until_blocked
from workers import tasks
from workers.app import create_app
from workers.settings import load_worker_settings

pytestmark = pytest.mark.integration

close_apps = shared.close_apps
small_feeds = shared.small_feeds
broker = shared.broker


def cycles_recorded(app: App) -> int:
    """How many cycles the ledger holds."""
    with app.ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tables.cycles)).scalar_one())


def test_each_pull_names_the_blocked_cycle_and_the_next_pull_after_abandoning_starts_one(
    fresh_postgres_url: str,
    small_feeds: Path,
    broker: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = service_app(fresh_postgres_url)
    blocked = run_until_blocked(app, small_feeds)
    feeds = feed_specs(small_feeds)
    settings = load_worker_settings(
        database_url=fresh_postgres_url,
        broker_url=broker,
        probation_feed=feeds["probation"],
        police_feed=feeds["police"],
    )
    celery_app = create_app(settings)
    monkeypatch.setattr(tasks, "_SERVICES", {})  # this process plays the worker
    try:
        with caplog.at_level(logging.WARNING, logger="workers.tasks"):
            tasks._pull(celery_app)
        assert cycles_recorded(app) == 1
        [warning] = [r.getMessage() for r in caplog.records if r.name == "workers.tasks"]
        assert warning.startswith(f"no pull: cycle {blocked} is blocked on a dead letter")
        assert "abandon the cycle (`arms-sync dead-letters`)" in warning

        abandon_cycle(app.ledger.engine, blocked, ACTOR, app.clock(), apply=True)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="workers.tasks"):
            tasks._pull(celery_app)
        assert [r for r in caplog.records if r.name == "workers.tasks"] == []
        assert cycles_recorded(app) == 2
        assert cycle_row(app, blocked + 1) == ("running", "running")

        caplog.clear()
        with caplog.at_level(logging.INFO, logger="workers.tasks"):
            tasks._pull(celery_app)
        assert cycles_recorded(app) == 2
        assert [r.getMessage() for r in caplog.records if r.name == "workers.tasks"] == [
            f"no pull: cycle {blocked + 1} is still running; a pull once it has finished "
            "starts the next"
        ]
    finally:
        for service, _ in tasks._SERVICES.values():
            service.close()


def test_a_pull_with_no_feeds_configured_starts_no_cycle_and_says_so_once(
    fresh_postgres_url: str,
    broker: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deployment that only delivers names no feed: its pull beat decides nothing, and a
    worker started without the feeds it was meant to have says so in its log."""
    app = service_app(fresh_postgres_url)
    settings = load_worker_settings(database_url=fresh_postgres_url, broker_url=broker)
    assert settings.feeds() == {}
    celery_app = create_app(settings)
    monkeypatch.setattr(tasks, "_SERVICES", {})  # this process plays the worker
    tasks._say_no_feeds_once.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="workers.tasks"):
            tasks._pull(celery_app)
            tasks._pull(celery_app)
        assert cycles_recorded(app) == 0
        [warning] = [r.getMessage() for r in caplog.records if r.name == "workers.tasks"]
        assert warning.startswith("no pull: this worker names no feed (ARMS_SYNC_PROBATION_FEED")
    finally:
        for service, _ in tasks._SERVICES.values():
            service.close()
