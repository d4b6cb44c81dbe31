"""What the ledger does with tasks of finished cycles and tasks past their cap, on PostgreSQL.

A task of a finished cycle (a dead letter retried after the rest of the cycle
finished) is not re-dispatched by the beat, and when a worker runs it anyway
its completion leaves the cycle as it finished. A task whose attempts are
spent is dead-lettered without its work being started again. Dead letters
are listed oldest first.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sync.app import App
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import execute
from sync.distributed.work import (
    KIND_PROBE,
    Claim,
    CycleRules,
    TaskRef,
    add_tasks,
    claim,
    dispatch_pending,
    list_dead_letters,
    retry_dead_letter,
)
from sync.ledger import tables_cycle as tables
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import TODAY, service_app
from tests.integration.test_dead_letter_bookkeeping import (
    CLAIMED,
    CREATED,
    FEEDS,
    MUCH_LATER,
    ONE_ATTEMPT,
    REDELIVERED,
    bury,
    finish,
    letter_of,
    probe_of,
    task_row,
)

pytestmark = pytest.mark.integration

close_apps = shared.close_apps
FINISHED = CREATED + timedelta(hours=1)


def finished_cycle_with_a_retried_probe(app: App) -> tuple[int, TaskRef]:
    """A cycle that finished at `FINISHED` with a dead probe task retried after it."""
    cycle_id, _ = start_cycle(app, FEEDS, {}, TODAY)
    probe = probe_of(app, cycle_id)
    bury(app, probe)
    with app.ledger.engine.begin() as conn:
        conn.execute(
            update(tables.cycles)
            .where(tables.cycles.c.id == cycle_id)
            .values(stage="done", status="succeeded", finished_at=FINISHED)
        )
    assert retry_dead_letter(app.ledger.engine, letter_of(app, probe), REDELIVERED) == probe
    return cycle_id, probe


def test_a_pending_task_of_a_finished_cycle_is_not_re_dispatched(
    fresh_postgres_url: str,
) -> None:
    """Only open cycles owe tasks; a retried letter of a finished one waits for its retry."""
    app = service_app(fresh_postgres_url)
    _cycle_id, probe = finished_cycle_with_a_retried_probe(app)
    assert task_row(app, probe) == ("pending", 0)
    assert dispatch_pending(app.ledger.engine, CycleRules(), MUCH_LATER) == []


def test_a_task_finishing_in_a_finished_cycle_leaves_the_cycle_as_it_finished(
    fresh_postgres_url: str,
) -> None:
    """Its status and finish time stay; no task is made due."""
    app = service_app(fresh_postgres_url)
    cycle_id, probe = finished_cycle_with_a_retried_probe(app)
    assert execute(app, CycleRules(), probe, "w2", work=finish) == []
    assert task_row(app, probe) == ("done", 1)
    cycles = tables.cycles
    with app.ledger.engine.connect() as conn:
        row = conn.execute(
            select(cycles.c.stage, cycles.c.status, cycles.c.finished_at).where(
                cycles.c.id == cycle_id
            )
        ).one()
    assert tuple(row) == ("done", "succeeded", FINISHED)


def test_a_task_found_past_its_cap_is_dead_lettered_without_running_its_work(
    fresh_postgres_url: str,
) -> None:
    """The worker that took it died on its last attempt; the message comes back: not run."""
    app = service_app(fresh_postgres_url)
    cycle_id, _ = start_cycle(app, FEEDS, {}, TODAY)
    probe = probe_of(app, cycle_id)
    assert claim(app.ledger.engine, probe, "w1", ONE_ATTEMPT, CLAIMED) is Claim.RUN
    started: list[TaskRef] = []

    def work(_app: App, _rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
        started.append(ref)
        return []

    assert execute(app, ONE_ATTEMPT, probe, "w2", work=work) == []
    assert started == []
    assert task_row(app, probe) == ("dead", 1)
    assert [letter["task_key"] for letter in list_dead_letters(app.ledger.engine)] == [probe.key]


def test_dead_letters_are_listed_oldest_first(fresh_postgres_url: str) -> None:
    """In the order the tasks died, whatever their keys."""
    app = service_app(fresh_postgres_url)
    cycle_id, _ = start_cycle(app, FEEDS, {}, TODAY)
    later, earlier = TaskRef(KIND_PROBE, cycle_id, "b"), TaskRef(KIND_PROBE, cycle_id, "a")
    with app.ledger.engine.begin() as conn:
        add_tasks(conn, [earlier, later], CREATED)
    bury(app, later)
    bury(app, earlier)
    listed = list_dead_letters(app.ledger.engine)
    assert [letter["task_key"] for letter in listed] == ["probe:b", "probe:a"]
