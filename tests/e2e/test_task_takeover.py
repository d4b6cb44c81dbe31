"""A task taken over by another worker writes nothing more from its first copy.

A task's advisory lock lives on a connection of its own. When that connection
is cut, the lock goes while the task may still run, and the ledger can hand
the task to another worker. The claim is then the fence: the first copy's
next unit, and its completion, are refused (`LostClaim`) and roll back. Real
PostgreSQL; the takeover is made by claiming the task again, as a second
worker would after `dispatch_pending` put it back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from sync.app import App
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import execute, ingest_feed
from sync.distributed.work import (
    TASK_PENDING,
    Claim,
    CycleRules,
    LostClaim,
    TaskRef,
    claim,
    claimed,
    complete,
    task_lock,
)
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import TODAY, feed_specs, service_app

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

small_feeds = shared.small_feeds
close_apps = shared.close_apps
RULES = CycleRules(batch_size=100)


def _taken_over(app: App, ref: TaskRef, by: str) -> None:
    """What another worker does once the first copy's lock is gone: claim the task anew."""
    engine = app.ledger.engine
    with engine.begin() as conn:
        table = tables.cycle_tasks
        conn.execute(
            update(table)
            .where(table.c.cycle_id == ref.cycle_id, table.c.task_key == ref.key)
            .values(status=TASK_PENDING)
        )
    assert claim(engine, ref, by, RULES, app.clock()) is Claim.RUN


def task_claim(app: App, ref: TaskRef) -> tuple[str, str | None, int]:
    """The task's status, who claimed it last, and its attempts."""
    table = tables.cycle_tasks
    with app.ledger.engine.connect() as conn:
        row = conn.execute(
            select(table.c.status, table.c.claimed_by, table.c.attempts).where(
                table.c.cycle_id == ref.cycle_id, table.c.task_key == ref.key
            )
        ).one()
    return str(row.status), row.claimed_by, int(row.attempts)


def _claimed_then_taken_over(app: App, feeds: Path, agency: str) -> TaskRef:
    """An ingest task claimed by worker w1, then taken over by worker w2."""
    cycle_id, _ = start_cycle(app, feed_specs(feeds), {}, TODAY)
    ref = TaskRef("ingest", cycle_id, agency)
    assert claim(app.ledger.engine, ref, "w1", RULES, app.clock()) is Claim.RUN
    _taken_over(app, ref, by="w2")
    return ref


def _records(app: App) -> int:
    with app.ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.records)).scalar_one())


def test_the_first_copy_of_a_taken_over_ingest_writes_nothing(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    app = service_app(fresh_postgres_url)
    ref = _claimed_then_taken_over(app, small_feeds, "probation")

    with claimed(ref, "w1"), pytest.raises(LostClaim):
        ingest_feed(app, RULES, ref)
    assert _records(app) == 0

    with claimed(ref, "w2"):
        ingest_feed(app, RULES, ref)
    assert _records(app) > 0


def test_the_first_copy_cannot_complete_a_taken_over_task(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    app = service_app(fresh_postgres_url)
    ref = _claimed_then_taken_over(app, small_feeds, "police")

    with claimed(ref, "w1"), app.ledger.engine.begin() as conn, pytest.raises(LostClaim):
        complete(conn, ref, {}, app.clock())

    assert task_claim(app, ref) == ("running", "w2", 2)


def test_a_copy_taken_over_mid_work_stops_and_leaves_the_task_to_the_new_one(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    app = service_app(fresh_postgres_url)
    cycle_id, _ = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    ref = TaskRef("ingest", cycle_id, "probation")

    def taken_over_then_ingest(app_: App, rules: CycleRules, task: TaskRef) -> list[TaskRef]:
        _taken_over(app_, task, by="w2")
        return ingest_feed(app_, rules, task)

    assert execute(app, RULES, ref, "w1", taken_over_then_ingest) == []

    assert task_claim(app, ref) == ("running", "w2", 2)
    assert _records(app) == 0


def test_a_lock_whose_connection_was_cut_is_let_go_quietly(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    app = service_app(fresh_postgres_url)
    cycle_id, _ = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    engine = app.ledger.engine
    with task_lock(engine, TaskRef("link", cycle_id)) as free:
        assert free
        with engine.connect() as conn:
            cut = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() "
                    # Only this test's ledger: other tests' ledgers share the server.
                    "AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalar_one()
        assert cut == 1
    with task_lock(engine, TaskRef("link", cycle_id)) as free_again:
        assert free_again
