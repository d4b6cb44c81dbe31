"""The ledger's account of dead tasks and owed tasks of a cycle, on a real PostgreSQL ledger.

A task whose worker died at every attempt is dead-lettered as `WorkerLost`,
with when it was first and last seen. Only a dead stage task blocks its
cycle, and retrying the last one unblocks it; a retried letter of a cycle
that has finished leaves it finished. Re-dispatch sends every owed task of
an open cycle, blocked ones included, and a task left running by a worker
that holds no lock any more. A stage moves on only when all its tasks are
done. A worker whose name is longer than the ledger keeps of it still
finishes its own task, and a copy failing after its task was done leaves it
done.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

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
    complete,
    dispatch_pending,
    fail,
    list_dead_letters,
    postpone,
    retry_dead_letter,
)
from sync.ledger import tables_cycle as tables
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import TODAY, service_app

pytestmark = pytest.mark.integration

close_apps = shared.close_apps
ONE_ATTEMPT = CycleRules(max_attempts=1)
FEEDS = {"probation": "probation.jsonl", "police": "police.jsonl"}
CREATED = datetime(2026, 11, 28, 6, tzinfo=UTC)
CLAIMED = CREATED + timedelta(minutes=1)
REDELIVERED = CREATED + timedelta(minutes=20)
MUCH_LATER = datetime(2100, 1, 1, tzinfo=UTC)


def cycle_status(app: App, cycle_id: int) -> str:
    """The stored status of a cycle."""
    table = tables.cycles
    with app.ledger.engine.connect() as conn:
        return str(conn.execute(select(table.c.status).where(table.c.id == cycle_id)).scalar_one())


def task_row(app: App, ref: TaskRef) -> tuple[str, int]:
    """A task's status and attempts."""
    table = tables.cycle_tasks
    with app.ledger.engine.connect() as conn:
        row = conn.execute(
            select(table.c.status, table.c.attempts).where(
                table.c.cycle_id == ref.cycle_id, table.c.task_key == ref.key
            )
        ).one()
    return str(row.status), int(row.attempts)


def probe_of(app: App, cycle_id: int) -> TaskRef:
    """A task outside the cycle's stages, added to it at `CREATED`."""
    probe = TaskRef(KIND_PROBE, cycle_id, "poison")
    with app.ledger.engine.begin() as conn:
        add_tasks(conn, [probe], CREATED)
    return probe


def bury(app: App, ref: TaskRef) -> None:
    """Start a task and fail it past its one attempt."""
    engine = app.ledger.engine
    assert claim(engine, ref, "w1", ONE_ATTEMPT, CLAIMED) is Claim.RUN
    assert fail(engine, ref, "OSError", ONE_ATTEMPT, CLAIMED) is Claim.DEAD


def letter_of(app: App, ref: TaskRef) -> int:
    """The id of the waiting dead letter of `ref`."""
    [found] = [
        letter
        for letter in list_dead_letters(app.ledger.engine)
        if (letter["cycle_id"], letter["task_key"]) == (ref.cycle_id, ref.key)
    ]
    return int(found["id"])


def test_a_task_whose_worker_died_at_each_attempt_is_dead_lettered_as_worker_lost(
    fresh_postgres_url: str,
) -> None:
    """No error was recorded: the letter says `WorkerLost`, with first and last seen times."""
    app = service_app(fresh_postgres_url)
    cycle_id, _ = start_cycle(app, FEEDS, {}, TODAY)
    probe = probe_of(app, cycle_id)
    engine = app.ledger.engine
    assert claim(engine, probe, "w1", ONE_ATTEMPT, CLAIMED) is Claim.RUN
    # The worker process dies here; the message comes back to another worker.
    assert claim(engine, probe, "w2", ONE_ATTEMPT, REDELIVERED) is Claim.DEAD
    [letter] = list_dead_letters(engine)
    assert (letter["task_key"], letter["task_name"], letter["attempts"]) == (
        "probe:poison",
        "probe",
        1,
    )
    assert letter["last_error"] == "WorkerLost"
    assert json.loads(letter["args"]) == [cycle_id, "poison"]
    assert (letter["first_seen"], letter["last_seen"]) == (CREATED, REDELIVERED)
    assert cycle_status(app, cycle_id) == "running"


def test_retrying_the_last_dead_stage_task_unblocks_its_cycle_whatever_else_is_dead(
    fresh_postgres_url: str,
) -> None:
    """A dead task outside the stages never keeps a cycle blocked."""
    app = service_app(fresh_postgres_url)
    cycle_id, first = start_cycle(app, FEEDS, {}, TODAY)
    probe = probe_of(app, cycle_id)
    bury(app, probe)
    bury(app, first[0])
    assert cycle_status(app, cycle_id) == "blocked"
    assert retry_dead_letter(app.ledger.engine, letter_of(app, first[0]), REDELIVERED) == first[0]
    assert cycle_status(app, cycle_id) == "running"
    assert task_row(app, first[0]) == ("pending", 0)


def test_retrying_a_letter_of_a_finished_cycle_leaves_the_cycle_finished(
    fresh_postgres_url: str,
) -> None:
    """A finished cycle is not reopened, so it never holds back the next cycle."""
    app = service_app(fresh_postgres_url)
    cycle_id, _ = start_cycle(app, FEEDS, {}, TODAY)
    probe = probe_of(app, cycle_id)
    bury(app, probe)
    with app.ledger.engine.begin() as conn:  # the rest of the cycle finished meanwhile
        conn.execute(
            update(tables.cycles)
            .where(tables.cycles.c.id == cycle_id)
            .values(stage="done", status="succeeded")
        )
    assert retry_dead_letter(app.ledger.engine, letter_of(app, probe), REDELIVERED) == probe
    assert cycle_status(app, cycle_id) == "succeeded"
    assert task_row(app, probe) == ("pending", 0)


def test_a_blocked_cycles_other_owed_tasks_are_still_re_dispatched(
    fresh_postgres_url: str,
) -> None:
    """A cycle blocked on a dead letter is open: its other tasks keep running."""
    app = service_app(fresh_postgres_url)
    cycle_id, first = start_cycle(app, FEEDS, {}, TODAY)
    dead, owed = first
    bury(app, dead)
    assert cycle_status(app, cycle_id) == "blocked"
    assert dispatch_pending(app.ledger.engine, CycleRules(), MUCH_LATER) == [owed]


def test_a_task_left_running_by_a_worker_that_holds_no_lock_is_re_dispatched(
    fresh_postgres_url: str,
) -> None:
    """It is put back to pending, keeping the attempt it spent."""
    app = service_app(fresh_postgres_url)
    _cycle_id, first = start_cycle(app, FEEDS, {}, TODAY)
    orphan, _ = first
    assert claim(app.ledger.engine, orphan, "w1", CycleRules(), CLAIMED) is Claim.RUN
    owed = dispatch_pending(app.ledger.engine, CycleRules(), MUCH_LATER)
    assert orphan in owed
    assert task_row(app, orphan) == ("pending", 1)


def finish(app: App, _rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """A task's work that only marks it done, in its own transaction."""
    with app.ledger.engine.begin() as conn:
        return complete(conn, ref, {"units": 0}, CLAIMED)


def test_a_worker_whose_name_is_longer_than_the_ledger_keeps_finishes_its_task(
    fresh_postgres_url: str,
) -> None:
    """The claim it is fenced by is the one stored, cut to the same length."""
    app = service_app(fresh_postgres_url)
    _cycle_id, first = start_cycle(app, FEEDS, {}, TODAY)
    worker = f"celery@{'node-' * 30}:4242"
    assert execute(app, CycleRules(), first[0], worker, work=finish) == []
    assert task_row(app, first[0]) == ("done", 1)


def test_the_next_stage_starts_only_once_every_task_of_the_stage_is_done(
    fresh_postgres_url: str,
) -> None:
    """An ingest still running holds the link stage back, whoever finishes first."""
    app = service_app(fresh_postgres_url)
    cycle_id, first = start_cycle(app, FEEDS, {}, TODAY)
    for ref in first:
        assert claim(app.ledger.engine, ref, "w1", CycleRules(), CLAIMED) is Claim.RUN
    with app.ledger.engine.begin() as conn:
        assert complete(conn, first[0], {"units": 0}, CLAIMED) == []
    with app.ledger.engine.begin() as conn:
        assert complete(conn, first[1], {"units": 0}, CLAIMED) == [TaskRef("link", cycle_id)]


def a_finished_task(database_url: str) -> tuple[App, TaskRef]:
    """A new cycle's first ingest, claimed by one worker and completed on its one attempt."""
    app = service_app(database_url)
    _cycle_id, first = start_cycle(app, FEEDS, {}, TODAY)
    ref = first[0]
    assert claim(app.ledger.engine, ref, "w1", ONE_ATTEMPT, CLAIMED) is Claim.RUN
    with app.ledger.engine.begin() as conn:
        complete(conn, ref, {"units": 0}, CLAIMED)
    return app, ref


def test_a_late_failure_of_a_task_another_worker_finished_leaves_it_done(
    fresh_postgres_url: str,
) -> None:
    """A stale copy failing after the task was completed neither reopens nor buries it."""
    app, ref = a_finished_task(fresh_postgres_url)
    engine = app.ledger.engine

    assert fail(engine, ref, "OSError", ONE_ATTEMPT, REDELIVERED) is Claim.SKIP
    assert task_row(app, ref) == ("done", 1)
    assert list_dead_letters(engine) == []


def test_a_cycle_stays_blocked_until_every_dead_stage_task_is_retried(
    fresh_postgres_url: str,
) -> None:
    """Retrying one of two dead ingests leaves the cycle blocked: it could never finish."""
    app = service_app(fresh_postgres_url)
    cycle_id, first = start_cycle(app, FEEDS, {}, TODAY)
    bury(app, first[0])
    bury(app, first[1])
    engine = app.ledger.engine
    assert retry_dead_letter(engine, letter_of(app, first[0]), REDELIVERED) == first[0]
    assert cycle_status(app, cycle_id) == "blocked"
    assert retry_dead_letter(engine, letter_of(app, first[1]), REDELIVERED) == first[1]
    assert cycle_status(app, cycle_id) == "running"


def test_a_late_postponement_of_a_task_another_worker_finished_leaves_it_done(
    fresh_postgres_url: str,
) -> None:
    """A stale copy told to wait after the task was completed neither reopens it nor
    gives its attempt back."""
    app, ref = a_finished_task(fresh_postgres_url)
    engine = app.ledger.engine

    postpone(engine, ref, REDELIVERED)
    assert task_row(app, ref) == ("done", 1)
