"""Abandoning a blocked distributed cycle, on a real PostgreSQL ledger.

A cycle blocked on a dead letter no retry will mend is closed for good: its
unfinished tasks stop, its staged parts are erased, its run (not yet
committed) is recorded abandoned, its letters stop waiting, and the act is
audited. The next cycle then starts and, deciding over everything the
ledger holds, gives what one uninterrupted run gives. Without `apply` the
act is previewed and nothing changes. Only a blocked cycle can be
abandoned; a copy of a task still running when its cycle is abandoned
writes nothing more, and a letter of an abandoned cycle cannot be retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.audit.log import audit_log_for
from sync.cycle import run_cycle
from sync.distributed.abandon import AUDIT_PURPOSE, abandon_cycle
from sync.distributed.cycles import start_cycle, start_next_cycle
from sync.distributed.stages import execute
from sync.distributed.work import (
    KIND_DECIDE,
    KIND_DELIVER,
    CycleRules,
    TaskRef,
    complete,
    list_dead_letters,
    retry_dead_letter,
)
from sync.errors import UsageError
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.settings import load_settings
from tests.conftest import scratch_database
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import TODAY, feed_specs, ledger_outputs, service_app

pytestmark = pytest.mark.integration

close_apps = shared.close_apps
small_feeds = shared.small_feeds
RULES = CycleRules(max_attempts=1, batch_size=100)
ACTOR = "operator:duty-officer"


def poisoned(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """Work that fails at every attempt, as a batch no retry gets past."""
    raise RuntimeError("the batch cannot be decided")


def run_until_blocked(
    app: App, feeds: Path, deliver: dict[str, str] | None = None, poison: str = KIND_DECIDE
) -> int:
    """A cycle run in this process whose first `poison` task always fails; its id."""
    cycle_id, queue = start_cycle(app, feed_specs(feeds), deliver or {}, TODAY)
    while queue:
        ref = queue.pop(0)
        failing = ref.kind == poison and ref.arg in ("0", "probation")
        queue.extend(execute(app, RULES, ref, "w1", work=poisoned if failing else None))
    return cycle_id


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


def test_an_abandoned_cycle_lets_the_next_one_give_what_one_run_gives(
    fresh_postgres_url: str, small_feeds: Path, reference_outputs: dict[str, str]
) -> None:
    """Nothing the agencies sent is lost with the cycle; its staged work and letters go."""
    app = service_app(fresh_postgres_url)
    cycle_id = run_until_blocked(app, small_feeds)
    assert cycle_row(app, cycle_id) == ("blocked", "running")
    assert staged_parts(app, cycle_id) > 0
    assert start_next_cycle(app, feed_specs(small_feeds), {}, TODAY) is None

    done = abandon_cycle(app.ledger.engine, cycle_id, ACTOR, app.clock(), apply=True)

    assert (done.stage, done.decisions_stored, done.dead_letters_closed) == ("decide", False, 1)
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
