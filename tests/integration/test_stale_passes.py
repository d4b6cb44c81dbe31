"""A decision pass is never stored over a ledger that changed since it read its inputs.

On both databases: an ordinary run whose pass was computed before an act was
applied (and the act's own run stored) computes its pass again instead of
storing one without the act; a ledger that changes before every store still
ends with a pass equal to a fresh one, the last attempt computed and stored
under the decision-store lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

import sync.cycle
from sync.app import SQLITE_BUSY_TIMEOUT_MS, App
from sync.core.records import Agency, Owner, RecordRef
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.ledger.store_lock import DECISION_STORE_LOCK_KEY, lock_decision_store
from sync.reconcile.overrides import AssignRequest, assign
from tests.integration.test_audit_log import write_feeds
from tests.integration.test_reconcile_apply import (
    ACTOR,
    AS_OF,
    app,
    matches_a_fresh_pass,
    run_statuses,
    segment_rules,
    subject_of,
)

pytestmark = pytest.mark.integration
__all__ = ["app"]  # the fixture, shared with the act tests
PROBATION_ONE = RecordRef(Agency.PROBATION, "P100001")
PROBE_TIMEOUT_MS = 50


def the_feeds_again(folder: Path) -> dict[str, PlainFileSource]:
    """The test feeds as the first run read them (a run over them changes no record)."""
    folder.mkdir()
    probation, police = write_feeds(folder)
    return {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}


def override_request(app: App, month: int = 6) -> AssignRequest:
    """An override giving the first subject to the police for one month of 2025."""
    subject = subject_of(app, PROBATION_ONE)
    return AssignRequest(subject, Owner.POLICE, date(2025, month, 1), date(2025, month, 28))


def _after_the_first_pass(monkeypatch: pytest.MonkeyPatch, then: Callable[[], object]) -> None:
    """Once the next decision pass is computed, `then` runs to the end; the pass is returned."""
    compute: Callable[..., Any] = sync.cycle.compute_decisions
    pending = [then]

    def compute_then(*args: Any, **kwargs: Any) -> Any:
        decisions = compute(*args, **kwargs)
        while pending:
            pending.pop()()
        return decisions

    monkeypatch.setattr(sync.cycle, "compute_decisions", compute_then)


def test_an_act_applied_while_a_run_decides_is_kept(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = override_request(app)
    _after_the_first_pass(monkeypatch, lambda: assign(app, request, ACTOR, apply=True))
    run_cycle(app, the_feeds_again(tmp_path / "again"), AS_OF)
    assert "MANUAL" in segment_rules(app)
    assert run_statuses(app) == ["succeeded"] * 3  # the first run, the act's, this run
    assert matches_a_fresh_pass(app)


def decision_store_is_held(app: App) -> bool:
    """Whether another connection holds the decision-store lock now."""
    with app.ledger.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            taken = conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": DECISION_STORE_LOCK_KEY}
            ).scalar_one()
            conn.rollback()
            return not taken
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {PROBE_TIMEOUT_MS}")
        try:
            lock_decision_store(conn)
        except OperationalError:
            return True
        finally:
            conn.rollback()
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        return False


@pytest.fixture
def held_while_deciding(app: App, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each decision pass from now on, whether the decision-store lock was held meanwhile."""
    held: list[bool] = []
    compute: Callable[..., Any] = sync.cycle.compute_decisions

    def probing(*args: Any, **kwargs: Any) -> Any:
        held.append(decision_store_is_held(app))
        return compute(*args, **kwargs)

    monkeypatch.setattr(sync.cycle, "compute_decisions", probing)
    return held


def _override_row(app: App, month: int) -> None:
    """Store an override (as an act would, without its run) for one month of 2025."""
    request = override_request(app, month)
    with app.ledger.engine.begin() as conn:
        conn.execute(
            schema.overrides.insert().values(
                id=f"OVR-TEST-{month}",
                subject_id=request.subject_id,
                owner=str(request.owner),
                start=request.start,
                end=request.end,
                operator="jsmith",
                reason="test",
                created_at=datetime.now(UTC),
            )
        )


def _change_before_every_store(app: App, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Before every store of a pass, an override for a new month is stored; returns the months."""
    months: list[int] = []

    def changing_first(store: Callable[..., Any]) -> Callable[..., Any]:
        def change_then_store(*args: Any, **kwargs: Any) -> Any:
            months.append(6 + len(months))
            _override_row(app, months[-1])
            return store(*args, **kwargs)

        return change_then_store

    for name in ("store_decisions", "decide_under_lock"):
        monkeypatch.setattr(sync.cycle, name, changing_first(getattr(sync.cycle, name)))
    return months


def manual_starts(app: App) -> set[date]:
    """The first days of the stored segments an override decides."""
    segments = schema.segments
    with app.ledger.engine.connect() as conn:
        query = select(segments.c.start).where(segments.c.rule == "MANUAL")
        return set(conn.execute(query).scalars())


def test_a_ledger_changing_before_every_store_still_gets_a_fresh_pass(
    app: App,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    held_while_deciding: list[bool],
    caplog: pytest.LogCaptureFixture,
) -> None:
    months = _change_before_every_store(app, monkeypatch)
    with caplog.at_level(logging.INFO, logger=sync.cycle.__name__):
        summary = run_cycle(app, the_feeds_again(tmp_path / "again"), AS_OF)
    assert held_while_deciding == [False, False, True]  # the last pass is decided under the lock
    assert months == [6, 7, 8]
    assert manual_starts(app) == {date(2025, month, 1) for month in months}
    assert run_statuses(app) == ["succeeded"] * 2
    retries = [r.getMessage() for r in caplog.records if "deciding again" in r.getMessage()]
    assert len(retries) == sync.cycle.STALE_PASS_RETRIES
    assert "under the decision-store lock" in retries[-1]
    assert all(f"run {summary.run_id}:" in message for message in retries)
    assert not [m for m in retries if "P100001" in m or "QUIXLEY" in m]
    monkeypatch.undo()
    assert matches_a_fresh_pass(app)
