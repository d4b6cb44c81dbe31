"""Feed cursors and gateway waits are kept per agency and source, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from sync.app import App
from sync.audit.log import audit_log_for
from sync.gateway_source import WAIT_CLEARED_PURPOSE, clear_feed_wait
from sync.ledger.cursors import (
    FeedPosition,
    clear_waits,
    end_pull,
    load_position,
    load_wait,
    save_position,
    save_wait,
)
from sync.settings import load_settings

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    app = App(load_settings(database_url=ledger_url))
    app.ledger.ensure_schema()
    yield app.ledger.engine
    app.close()


def _save(engine: Engine, agency: str, source: str, cursor: str, pages: int) -> None:
    with engine.begin() as conn:
        save_position(conn, agency, source, FeedPosition(cursor, pages), NOW)


def test_each_sources_position_is_its_own_and_the_latest_saved(engine: Engine) -> None:
    _save(engine, "police", "gateway-a", "c-1", 1)
    _save(engine, "police", "gateway-b", "c-9", 4)
    _save(engine, "probation", "gateway-a", "c-5", 2)
    _save(engine, "police", "gateway-a", "c-2", 2)

    assert load_position(engine, "police", "gateway-a") == FeedPosition("c-2", 2)
    assert load_position(engine, "police", "gateway-b") == FeedPosition("c-9", 4)
    assert load_position(engine, "probation", "gateway-a") == FeedPosition("c-5", 2)
    assert load_position(engine, "probation", "gateway-b") is None


def test_ending_a_pull_keeps_its_cursor_and_numbers_the_next_from_the_start(
    engine: Engine,
) -> None:
    _save(engine, "police", "gateway-a", "c-2", 2)
    _save(engine, "police", "gateway-b", "c-9", 4)
    end_pull(engine, "police", "gateway-a")
    assert load_position(engine, "police", "gateway-a") == FeedPosition("c-2", 0)
    assert load_position(engine, "police", "gateway-b") == FeedPosition("c-9", 4)


def test_a_wait_is_kept_per_source_as_a_utc_time(engine: Engine) -> None:
    assert load_wait(engine, "police", "gateway-a") is None
    save_wait(engine, "police", "gateway-a", NOW + timedelta(minutes=5), NOW)
    save_wait(engine, "police", "gateway-a", NOW + timedelta(minutes=10), NOW)
    save_wait(engine, "police", "gateway-b", NOW + timedelta(hours=1), NOW)

    waited = load_wait(engine, "police", "gateway-a")
    assert waited == NOW + timedelta(minutes=10)
    assert waited is not None
    assert waited.utcoffset() == timedelta(0)
    assert load_wait(engine, "police", "gateway-b") == NOW + timedelta(hours=1)


def test_clearing_an_agencys_waits_forgets_every_source_of_it_and_no_other(
    engine: Engine,
) -> None:
    save_wait(engine, "police", "gateway-a", NOW + timedelta(minutes=5), NOW)
    save_wait(engine, "police", "gateway-b", NOW - timedelta(hours=1), NOW)
    save_wait(engine, "probation", "gateway-c", NOW + timedelta(hours=2), NOW)
    with engine.begin() as conn:
        cleared = clear_waits(conn, "police")
    assert sorted(cleared) == [NOW - timedelta(hours=1), NOW + timedelta(minutes=5)]
    assert all(moment.utcoffset() == timedelta(0) for moment in cleared)
    assert (load_wait(engine, "police", "gateway-a"), load_wait(engine, "police", "gateway-b")) == (
        None,
        None,
    )
    assert load_wait(engine, "probation", "gateway-c") == NOW + timedelta(hours=2)
    with engine.begin() as conn:
        assert clear_waits(conn, "police") == []


def test_clearing_a_feed_wait_tells_and_audits_the_latest_that_still_lasted(
    ledger_url: str,
) -> None:
    """Two gateway sources of one agency asked for waits, a third one's is over: the
    operator is told, and the audit entry keeps, the latest end of those that last."""
    app = App(load_settings(database_url=ledger_url), clock=lambda: NOW)
    try:
        app.ledger.ensure_schema()
        engine = app.ledger.engine
        save_wait(engine, "police", "gateway-a", NOW + timedelta(minutes=5), NOW)
        save_wait(engine, "police", "gateway-b", NOW + timedelta(hours=3), NOW)
        save_wait(engine, "police", "gateway-c", NOW - timedelta(hours=1), NOW)
        assert clear_feed_wait(app, "police", "a.clerk") == NOW + timedelta(hours=3)
        [entry] = [e for e in audit_log_for(engine).entries() if e.purpose == WAIT_CLEARED_PURPOSE]
        assert (
            entry.detail == "police gateway; it had asked for no call before 2026-11-28 05:00 UTC"
        )
    finally:
        app.close()
