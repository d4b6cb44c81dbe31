"""Abandoning a blocked distributed cycle, on a real PostgreSQL ledger.

A cycle blocked on a dead letter no retry will mend is closed for good: its
unfinished tasks stop, its staged parts are erased, its run (not yet
committed) is recorded abandoned, its letters stop waiting, and the act is
audited. The next cycle then starts and, deciding over everything the
ledger holds, decides as one uninterrupted run does. Without `apply` the
act is previewed and nothing changes. Only a blocked cycle can be
abandoned; a copy of a task still running when its cycle is abandoned
writes nothing more, and a letter of an abandoned cycle cannot be retried.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from sync.app import App
from sync.audit.log import audit_log_for
from sync.cycle import run_cycle
from sync.distributed.abandon import AUDIT_PURPOSE, abandon_cycle
from sync.distributed.cycles import start_cycle, start_next_cycle
from sync.distributed.stages import execute
from sync.distributed.status import open_cycle_ids
from sync.distributed.work import (
    KIND_COMMIT,
    KIND_DECIDE,
    KIND_DELIVER,
    CycleRules,
    TaskRef,
    claim,
    complete,
    dispatch_pending,
    fail,
    list_dead_letters,
    retry_dead_letter,
)
from sync.errors import ArmsSyncError, UsageError
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.ledger.store_lock import lock_decision_store
from sync.settings import load_settings
from tests.conftest import AT_REST_KEY_ENV, scratch_database
from tests.e2e import test_workers as shared
from tests.e2e.test_reconcile_cli import arms_sync
from tests.e2e.test_workers import TODAY, feed_specs, ledger_outputs, service_app

pytestmark = pytest.mark.integration

close_apps = shared.close_apps
small_feeds = shared.small_feeds
broker = shared.broker
distributed_env = shared.distributed_env
RULES = CycleRules(max_attempts=1, batch_size=100)
ACTOR = "operator:duty-officer"


def poisoned(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """Work that fails at every attempt, as a batch no retry gets past."""
    raise RuntimeError("the batch cannot be decided")


def block_cycle(
    app: App, feeds: Path, deliver: dict[str, str] | None = None, poison: str = KIND_DECIDE
) -> tuple[int, list[TaskRef]]:
    """A cycle run in this process until its first `poison` task fails for good.

    Its id, and the tasks it still owes (due, never run): a blocked cycle's
    siblings of the dead task, as a deployment's workers may not have reached.
    """
    cycle_id, queue = start_cycle(app, feed_specs(feeds), deliver or {}, TODAY)
    while queue:
        ref = queue.pop(0)
        if ref.kind == poison and ref.arg in ("", "0", "probation"):
            execute(app, RULES, ref, "w1", work=poisoned)
            return cycle_id, queue
        queue.extend(execute(app, RULES, ref, "w1"))
    raise AssertionError(f"cycle {cycle_id} never reached a {poison} task")


def run_until_blocked(
    app: App, feeds: Path, deliver: dict[str, str] | None = None, poison: str = KIND_DECIDE
) -> int:
    """`block_cycle`'s cycle id."""
    return block_cycle(app, feeds, deliver, poison)[0]


def cycle_row(app: App, cycle_id: int) -> tuple[str, str]:
    """A cycle's status and its run's status."""
    cycles, runs = tables.cycles, schema.runs
    with app.ledger.engine.connect() as conn:
        row = conn.execute(
            select(cycles.c.status, runs.c.status.label("run_status"))
            .join(runs, runs.c.id == cycles.c.run_id)
            .where(cycles.c.id == cycle_id)
        ).one()
    return str(row.status), str(row.run_status)


def task_statuses(app: App, cycle_id: int) -> dict[str, str]:
    """Each task of a cycle and its status."""
    table = tables.cycle_tasks
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.task_key, table.c.status).where(table.c.cycle_id == cycle_id)
        ).all()
    return {row.task_key: row.status for row in rows}


def staged_parts(app: App, cycle_id: int) -> int:
    """How many staged parts a cycle has."""
    table = tables.cycle_staging
    with app.ledger.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(table.c.cycle_id == cycle_id)).scalar_one()
        )


@pytest.fixture
def reference_outputs(small_feeds: Path, fresh_postgres_url: str) -> Iterator[dict[str, str]]:
    """What one uninterrupted in-process run over the small feeds gives users."""
    with scratch_database("arms_sync_t_") as url:
        app = App(load_settings(None, database_url=url))
        try:
            app.ledger.ensure_schema()
            sources = {
                agency: PlainFileSource(Path(spec))
                for agency, spec in feed_specs(small_feeds).items()
            }
            run_cycle(app, sources, TODAY)
            outputs = ledger_outputs(app)
        finally:
            app.close()
        yield outputs


def test_after_an_abandoned_cycle_the_next_one_decides_as_one_uninterrupted_run(
    fresh_postgres_url: str, small_feeds: Path, reference_outputs: dict[str, str]
) -> None:
    """Nothing the agencies sent is lost with the cycle; its staged work and letters go."""
    app = service_app(fresh_postgres_url)
    cycle_id, owed = block_cycle(app, small_feeds)
    assert cycle_row(app, cycle_id) == ("blocked", "running")
    assert staged_parts(app, cycle_id) > 0
    assert owed
    assert start_next_cycle(app, feed_specs(small_feeds), {}, TODAY) is None

    done = abandon_cycle(app.ledger.engine, cycle_id, ACTOR, app.clock(), apply=True)

    assert (done.stage, done.decisions_stored, done.dead_letters_closed) == ("decide", False, 1)
    assert done.tasks_stopped == len(owed)
    assert done.staged_parts_erased > 0
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")
    assert staged_parts(app, cycle_id) == 0
    statuses = task_statuses(app, cycle_id)
    assert statuses["decide:0"] == "dead"
    assert set(statuses.values()) <= {"done", "dead", "abandoned"}
    assert list_dead_letters(app.ledger.engine) == []
    [letter] = list_dead_letters(app.ledger.engine, include_retried=True)
    assert letter["cycle_status"] == "abandoned"
    [entry] = [e for e in audit_log_for(app.ledger.engine).entries() if e.purpose == AUDIT_PURPOSE]
    assert (entry.kind, entry.actor) == ("erasure", ACTOR)
    assert str(entry.detail).startswith(
        f"cycle {cycle_id} at its decide stage: 1 dead letter closed"
    )

    started = start_next_cycle(app, feed_specs(small_feeds), {}, TODAY)
    assert started is not None
    next_id, queue = started
    while queue:
        queue.extend(execute(app, RULES, queue.pop(0), "w1"))
    assert cycle_row(app, next_id) == ("succeeded", "succeeded")
    assert ledger_outputs(app) == reference_outputs


def test_a_preview_counts_what_abandoning_would_do_and_changes_nothing(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    app = service_app(fresh_postgres_url)
    cycle_id = run_until_blocked(app, small_feeds)
    parts, tasks = staged_parts(app, cycle_id), task_statuses(app, cycle_id)
    entries = len(list(audit_log_for(app.ledger.engine).entries()))

    preview = abandon_cycle(app.ledger.engine, cycle_id, ACTOR, app.clock(), apply=False)

    assert (preview.dead_letters_closed, preview.staged_parts_erased) == (1, parts)
    assert cycle_row(app, cycle_id) == ("blocked", "running")
    assert (staged_parts(app, cycle_id), task_statuses(app, cycle_id)) == (parts, tasks)
    assert len(list_dead_letters(app.ledger.engine)) == 1
    assert len(list(audit_log_for(app.ledger.engine).entries())) == entries
    assert preview.sentence(applied=False).endswith("give --apply to abandon it.")
    applied = abandon_cycle(app.ledger.engine, cycle_id, ACTOR, app.clock(), apply=True)
    assert applied == preview
    assert audit_log_for(app.ledger.engine).verify().ok  # the preview's entry left no gap


def test_the_command_with_a_blank_operator_audits_the_configured_one(
    fresh_postgres_url: str, small_feeds: Path, tmp_path: Path
) -> None:
    """`dead-letters abandon --operator " "` is as if the option were left out: the act is
    audited under ARMS_SYNC_OPERATOR, as every other command's is."""
    app = service_app(fresh_postgres_url)
    cycle_id = run_until_blocked(app, small_feeds)
    settings = {
        "ARMS_SYNC_DATABASE_URL": fresh_postgres_url,
        AT_REST_KEY_ENV: os.environ[AT_REST_KEY_ENV],  # the fixture's key, for the ledger
        "ARMS_SYNC_OPERATOR": "duty-officer",
    }
    command = ["dead-letters", "abandon", str(cycle_id), "--operator", " ", "--apply"]

    arms_sync(*command, cwd=tmp_path, env=settings)

    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")
    [entry] = [e for e in audit_log_for(app.ledger.engine).entries() if e.purpose == AUDIT_PURPOSE]
    assert entry.actor == ACTOR


def test_a_cycle_blocked_at_delivery_keeps_its_decisions_and_notices(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """Its run stays succeeded; the sentence sends the operator to the delivery beat."""
    app = service_app(fresh_postgres_url)
    gateways = {"probation": "http://127.0.0.1:9"}
    cycle_id = run_until_blocked(app, small_feeds, gateways, poison=KIND_DELIVER)
    assert cycle_row(app, cycle_id) == ("blocked", "succeeded")
    outputs = ledger_outputs(app)

    done = abandon_cycle(app.ledger.engine, cycle_id, ACTOR, app.clock(), apply=True)

    assert (done.stage, done.decisions_stored) == ("deliver", True)
    assert cycle_row(app, cycle_id) == ("abandoned", "succeeded")
    assert ledger_outputs(app) == outputs
    assert "notices wait in the outbox for the delivery beat" in done.sentence(applied=True)


def test_only_a_blocked_cycle_can_be_abandoned(fresh_postgres_url: str, small_feeds: Path) -> None:
    app = service_app(fresh_postgres_url)
    running, _ = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    engine = app.ledger.engine
    still_running = rf"Cycle {running} is not blocked \(it is still running\)"
    with pytest.raises(UsageError, match=still_running):
        abandon_cycle(engine, running, ACTOR, app.clock(), apply=True)
    with pytest.raises(UsageError, match="There is no cycle 99"):
        abandon_cycle(engine, 99, ACTOR, app.clock(), apply=True)
    assert cycle_row(app, running) == ("running", "running")


def test_a_letter_of_an_abandoned_cycle_cannot_be_retried(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """Retrying it would run a task of a cycle that is over."""
    app = service_app(fresh_postgres_url)
    cycle_id = run_until_blocked(app, small_feeds)
    [letter] = list_dead_letters(app.ledger.engine)
    abandon_cycle(app.ledger.engine, cycle_id, ACTOR, app.clock(), apply=True)

    assert retry_dead_letter(app.ledger.engine, letter["id"], app.clock()) is None
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")
    assert task_statuses(app, cycle_id)["decide:0"] == "dead"


def test_a_task_still_running_when_its_cycle_is_abandoned_writes_nothing_more(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """Its claim is gone: its completion is refused and the task stays abandoned."""
    app = service_app(fresh_postgres_url)
    cycle_id, first = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    dead, still_running = first
    engine = app.ledger.engine
    execute(app, RULES, dead, "w1", work=poisoned)  # fails: dead, and the cycle blocked
    assert cycle_row(app, cycle_id) == ("blocked", "running")

    def abandoned_meanwhile(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
        abandon_cycle(engine, cycle_id, ACTOR, app.clock(), apply=True)
        with app.ledger.engine.begin() as conn:  # the work's last transaction
            return complete(conn, ref, {"units": 0}, app.clock())

    assert execute(app, RULES, still_running, "w2", work=abandoned_meanwhile) == []
    assert task_statuses(app, cycle_id)[still_running.key] == "abandoned"
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")


def test_a_task_failing_after_its_cycle_was_abandoned_neither_buries_nor_reopens_it(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """Its failure at its last attempt writes no dead letter, and the cycle stays over,
    so the pull beat may start the next one."""
    app = service_app(fresh_postgres_url)
    cycle_id, first = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    dead, still_running = first
    engine = app.ledger.engine
    execute(app, RULES, dead, "w1", work=poisoned)
    [letter] = list_dead_letters(engine)

    def abandoned_then_failing(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
        abandon_cycle(engine, cycle_id, ACTOR, app.clock(), apply=True)
        raise RuntimeError("the feed could not be read")

    assert execute(app, RULES, still_running, "w2", work=abandoned_then_failing) == []
    assert task_statuses(app, cycle_id)[still_running.key] == "abandoned"
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")
    assert [found["id"] for found in list_dead_letters(engine, include_retried=True)] == [
        letter["id"]
    ]
    assert open_cycle_ids(engine) == []


def test_a_task_owed_by_an_abandoned_cycle_that_is_delivered_later_does_nothing(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """A message still on the broker, or a re-dispatch: skipped, and the cycle stays over."""
    app = service_app(fresh_postgres_url)
    cycle_id, owed = block_cycle(app, small_feeds)
    abandon_cycle(app.ledger.engine, cycle_id, ACTOR, app.clock(), apply=True)

    for ref in owed:
        assert execute(app, RULES, ref, "w2") == []

    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")
    assert {task_statuses(app, cycle_id)[ref.key] for ref in owed} == {"abandoned"}
    assert list_dead_letters(app.ledger.engine) == []
    assert dispatch_pending(app.ledger.engine, RULES, app.clock() + timedelta(days=1)) == []


def test_abandoning_queues_behind_an_ingest_page_instead_of_deadlocking(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """A page locks the audit log's head, then its task's row; abandoning takes them in
    that order too, so it waits for the page's commit, and both go through."""
    app = service_app(fresh_postgres_url)
    cycle_id, (dead, reading) = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    execute(app, RULES, dead, "w1", work=poisoned)  # blocked at ingest, the other feed being read
    engine = app.ledger.engine
    with ThreadPoolExecutor(1) as pool, engine.connect() as page:
        transaction = page.begin()
        page.execute(text("SET LOCAL lock_timeout = '30s'"))
        audit_log_for(engine).hold_head(page)  # the page's collection entry
        abandoning = pool.submit(abandon_cycle, engine, cycle_id, ACTOR, app.clock(), apply=True)
        time.sleep(0.5)  # time for the abandon to take whatever it locks first
        page.execute(task_row_lock(reading))  # the page's fence, last
        transaction.commit()
        done = abandoning.result(timeout=60)
    assert (done.stage, done.tasks_stopped) == ("ingest", 1)
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")


def test_abandoning_queues_behind_a_stale_commit_instead_of_deadlocking(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """A commit takes the decision-store lock, writes its run's outcome on its cycle's row
    and appends to the audit log last. A copy of it still running when its cycle is
    abandoned (it writes nothing in the end: its claim is gone) must not deadlock with
    the abandon, which therefore waits for the decision-store lock before anything else."""
    app = service_app(fresh_postgres_url)
    cycle_id = run_until_blocked(app, small_feeds, poison=KIND_COMMIT)
    engine = app.ledger.engine
    cycles = tables.cycles
    with ThreadPoolExecutor(1) as pool, engine.connect() as commit:
        transaction = commit.begin()
        commit.execute(text("SET LOCAL lock_timeout = '30s'"))
        lock_decision_store(commit)
        commit.execute(select(cycles.c.id).where(cycles.c.id == cycle_id).with_for_update())
        abandoning = pool.submit(abandon_cycle, engine, cycle_id, ACTOR, app.clock(), apply=True)
        time.sleep(0.5)  # time for the abandon to take whatever it locks first
        audit_log_for(engine).hold_head(commit)  # the pass's audit entries, last
        transaction.rollback()  # the stale copy's claim is gone: it stores nothing
        done = abandoning.result(timeout=60)
    assert (done.stage, done.decisions_stored) == ("commit", False)
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")


def test_a_cycle_still_running_is_refused_without_waiting_for_its_tasks(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """A mistaken id, even only previewed, never holds up a live cycle's work."""
    app = service_app(fresh_postgres_url)
    cycle_id, (working, _) = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    engine = app.ledger.engine
    with ThreadPoolExecutor(1) as pool, engine.connect() as task, task.begin():
        task.execute(task_row_lock(working))  # a task's transaction under way
        refusal = pool.submit(abandon_cycle, engine, cycle_id, ACTOR, app.clock(), apply=False)
        with pytest.raises(UsageError, match="is not blocked"):
            refusal.result(timeout=30)
    assert cycle_row(app, cycle_id) == ("running", "running")


def task_row_lock(ref: TaskRef) -> Any:
    """The statement a task's writing transaction locks its row with."""
    table = tables.cycle_tasks
    return (
        select(table.c.status)
        .where(table.c.cycle_id == ref.cycle_id, table.c.task_key == ref.key)
        .with_for_update()
    )


def test_a_waiting_distributed_run_ends_when_its_cycle_is_abandoned(
    distributed_env: dict[str, str], small_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocked and abandoned between two looks (no worker runs here): the run says so and
    ends (exit 1) rather than wait for a cycle that will never finish."""
    from workers.cycle_run import run_distributed

    app = service_app(distributed_env["ARMS_SYNC_DATABASE_URL"])
    engine = app.ledger.engine

    def blocked_then_abandoned(_seconds: float) -> None:
        [cycle_id] = open_cycle_ids(engine)
        ingest = TaskRef("ingest", cycle_id, "police")
        claim(engine, ingest, "w1", RULES, app.clock())
        fail(engine, ingest, "OSError", RULES, app.clock())
        abandon_cycle(engine, cycle_id, ACTOR, app.clock(), apply=True)

    monkeypatch.setattr(time, "sleep", blocked_then_abandoned)  # the wait between looks
    feeds = feed_specs(small_feeds)
    with pytest.raises(ArmsSyncError, match=r"^Cycle 1 was abandoned by an operator; the next"):
        run_distributed(app, feeds["probation"], feeds["police"], TODAY, 60.0)
