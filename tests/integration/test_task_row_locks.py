"""The row locks a distributed cycle's task bookkeeping races on, on a real PostgreSQL ledger.

A claim, a claim check (`hold_claim`), a completion, a burial, a retry and
an abandon each lock the rows they read before they decide: a task's row,
then its cycle's. So a takeover waits for the transaction of the copy it
takes over, a retry and an abandon of the same cycle queue one behind the
other instead of deadlocking, and whichever commits first decides: a
retried cycle is not abandoned, an abandoned one is not retried, and no
letter or staged part is left behind on either. Each race is made
deterministic by holding one side's transaction open (or pausing the
abandon once it holds the tasks' rows) until PostgreSQL shows the other
side waiting for a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from sqlalchemy import Connection, Engine, select, text

from sync.app import App
from sync.distributed import abandon
from sync.distributed.abandon import Abandoned, abandon_cycle
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import execute, link_cycle
from sync.distributed.work import (
    KIND_LINK,
    Claim,
    CycleRules,
    LostClaim,
    TaskRef,
    claim,
    claimed,
    complete,
    fail,
    hold_claim,
    retry_dead_letter,
)
from sync.errors import UsageError
from sync.ledger import tables_cycle as tables
from tests.e2e import test_workers as shared
from tests.e2e.test_task_takeover import task_claim
from tests.e2e.test_workers import TODAY, feed_specs, service_app
from tests.integration.test_cycle_abandonment import ACTOR, cycle_row, staged_parts
from tests.integration.test_dead_letter_bookkeeping import (
    CLAIMED,
    FEEDS,
    ONE_ATTEMPT,
    REDELIVERED,
    bury,
    cycle_status,
    letter_of,
)

pytestmark = pytest.mark.integration

close_apps = shared.close_apps
small_feeds = shared.small_feeds
RULES = CycleRules(batch_size=100)
LOCK_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.01
Result = TypeVar("Result")


class _OpenTransaction:
    """An engine stand-in whose `begin` runs in the caller's transaction, left open.

    A function given it does all its work and keeps its row locks until the test
    commits: a transaction in flight at the moment the test chooses.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self.conn


def in_flight(conn: Connection) -> Engine:
    """An engine whose writing transaction is `conn`'s, committed by the test."""
    return cast(Engine, _OpenTransaction(conn))


def lock_waiters(engine: Engine) -> int:
    """How many sessions on this ledger wait for a lock right now."""
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")  # a fresh look each time
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def wait_until_blocked(engine: Engine, call: Future[Any], what: str) -> None:
    """Return once `call` (or the session it runs in) waits for a lock; fail if it ends first."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while time.monotonic() < deadline:
        if lock_waiters(engine):
            return
        if call.done():
            error = call.exception()
            ended = "went through" if error is None else f"ended ({type(error).__name__})"
            pytest.fail(f"{what} {ended} without waiting for the row lock held.")
        time.sleep(POLL_SECONDS)
    pytest.fail(f"{what} neither finished nor waited for a lock.")


def letter_retried(app: App, letter_id: int) -> bool:
    """Whether a dead letter was retried."""
    letters = tables.dead_letters
    with app.ledger.engine.connect() as conn:
        retried = conn.execute(
            select(letters.c.retried_at).where(letters.c.id == letter_id)
        ).scalar_one()
    return retried is not None


def claimed_work(ref: TaskRef, claimer: str, work: Callable[[], Result]) -> Callable[[], Result]:
    """`work`, run in another thread under `claimer`'s claim of `ref`."""

    def run() -> Result:
        with claimed(ref, claimer):
            return work()

    return run


@contextmanager
def abandon_paused_once_tasks_are_locked(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Make `abandon_cycle` stop right after it locked its cycle's tasks, before the cycle's
    row: yields (locked, go); the abandon goes on once `go` is set."""
    locked, go = threading.Event(), threading.Event()
    lock_tasks = abandon._lock_tasks

    def paused(conn: Connection, cycle_id: int) -> None:
        lock_tasks(conn, cycle_id)
        locked.set()
        go.wait(LOCK_WAIT_SECONDS)

    monkeypatch.setattr(abandon, "_lock_tasks", paused)
    try:
        yield locked, go
    finally:
        go.set()


def blocked_with_a_running_task(app: App) -> tuple[int, TaskRef, TaskRef]:
    """A cycle blocked on its first ingest, dead, while w1 runs its second: (id, dead, running)."""
    cycle_id, (dead, running) = start_cycle(app, FEEDS, {}, TODAY)
    bury(app, dead)
    assert claim(app.ledger.engine, running, "w1", ONE_ATTEMPT, CLAIMED) is Claim.RUN
    return cycle_id, dead, running


def an_ingest_claimed_by_w1(database_url: str) -> tuple[App, TaskRef]:
    """A new cycle's first ingest, claimed by worker w1 and running."""
    app = service_app(database_url)
    _cycle_id, (ref, _other) = start_cycle(app, FEEDS, {}, TODAY)
    assert claim(app.ledger.engine, ref, "w1", RULES, CLAIMED) is Claim.RUN
    return app, ref


def test_a_claim_waits_for_a_commit_in_flight_of_its_task(fresh_postgres_url: str) -> None:
    """A second worker's claim reads the task only once the first copy's completion is
    committed: it finds the task done and skips it, rather than running it again."""
    app, ref = an_ingest_claimed_by_w1(fresh_postgres_url)
    engine = app.ledger.engine
    with ThreadPoolExecutor(1) as pool, engine.connect() as first, claimed(ref, "w1"):
        transaction = first.begin()
        complete(first, ref, {"units": 0}, CLAIMED)  # the first copy's commit, in flight
        takeover = pool.submit(claim, engine, ref, "w2", RULES, REDELIVERED)
        wait_until_blocked(engine, takeover, "The claim")
        transaction.commit()
        assert takeover.result(timeout=LOCK_WAIT_SECONDS) is Claim.SKIP
    assert task_claim(app, ref) == ("done", "w1", 1)


def test_a_takeover_waits_for_a_transaction_that_checked_its_claim(
    fresh_postgres_url: str,
) -> None:
    """Between a copy's claim check and its commit, the task cannot change hands: the
    copy's effects and completion land, and the second worker then skips the task."""
    app, ref = an_ingest_claimed_by_w1(fresh_postgres_url)
    engine = app.ledger.engine
    with ThreadPoolExecutor(1) as pool, engine.connect() as first, claimed(ref, "w1"):
        transaction = first.begin()
        hold_claim(first, ref)  # the copy's writing transaction, its claim checked
        takeover = pool.submit(claim, engine, ref, "w2", RULES, REDELIVERED)
        wait_until_blocked(engine, takeover, "The takeover")
        complete(first, ref, {"units": 0}, CLAIMED)
        transaction.commit()
        assert takeover.result(timeout=LOCK_WAIT_SECONDS) is Claim.SKIP
    assert task_claim(app, ref) == ("done", "w1", 1)


def test_an_abandon_waits_for_a_task_writing_its_effects_without_deadlocking(
    fresh_postgres_url: str,
) -> None:
    """A task's writing transaction locks its row, then its cycle's (on completion); the
    abandon takes the tasks' rows first too, so it queues behind the task's commit and
    then closes the cycle with that task done."""
    app = service_app(fresh_postgres_url)
    engine = app.ledger.engine
    cycle_id, dead, running = blocked_with_a_running_task(app)
    with ThreadPoolExecutor(1) as pool, engine.connect() as task, claimed(running, "w1"):
        transaction = task.begin()
        hold_claim(task, running)  # the task's writing transaction, its claim checked
        abandoning = pool.submit(abandon_cycle, engine, cycle_id, ACTOR, CLAIMED, apply=True)
        wait_until_blocked(engine, abandoning, "The abandon")
        task.execute(text("SET LOCAL lock_timeout = '5s'"))
        assert complete(task, running, {"units": 0}, CLAIMED) == []  # locks the cycle's row
        transaction.commit()
        done = abandoning.result(timeout=LOCK_WAIT_SECONDS)
    assert (done.stage, done.tasks_stopped, done.dead_letters_closed) == ("ingest", 0, 1)
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")
    assert task_claim(app, running) == ("done", "w1", 1)
    assert task_claim(app, dead)[0] == "dead"


def test_an_abandon_racing_a_retry_that_commits_first_is_refused(
    fresh_postgres_url: str,
) -> None:
    """The abandon re-reads its cycle under lock once it holds the tasks: the retry has
    unblocked it, so it is not abandoned and the retried task stays pending."""
    app = service_app(fresh_postgres_url)
    engine = app.ledger.engine
    cycle_id, (dead, _other) = start_cycle(app, FEEDS, {}, TODAY)
    bury(app, dead)
    letter = letter_of(app, dead)
    with ThreadPoolExecutor(1) as pool, engine.connect() as retry:
        transaction = retry.begin()
        assert retry_dead_letter(in_flight(retry), letter, REDELIVERED) == dead
        abandoning = pool.submit(abandon_cycle, engine, cycle_id, ACTOR, REDELIVERED, apply=True)
        wait_until_blocked(engine, abandoning, "The abandon")
        transaction.commit()
        with pytest.raises(UsageError, match=rf"Cycle {cycle_id} is not blocked \(it is still"):
            abandoning.result(timeout=LOCK_WAIT_SECONDS)
    assert cycle_row(app, cycle_id) == ("running", "running")
    status, _claimer, attempts = task_claim(app, dead)
    assert (status, attempts) == ("pending", 0)
    assert letter_retried(app, letter)


def test_a_retry_racing_an_abandon_queues_behind_it_and_retries_nothing(
    fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry locks the task, then the cycle, as the abandon does: caught between the
    abandon's two locks it waits rather than deadlock, then finds the cycle abandoned."""
    app = service_app(fresh_postgres_url)
    engine = app.ledger.engine
    cycle_id, (dead, _other) = start_cycle(app, FEEDS, {}, TODAY)
    bury(app, dead)
    letter = letter_of(app, dead)
    with (
        abandon_paused_once_tasks_are_locked(monkeypatch) as (locked, go),
        ThreadPoolExecutor(2) as pool,
    ):
        abandoning = pool.submit(abandon_cycle, engine, cycle_id, ACTOR, REDELIVERED, apply=True)
        assert locked.wait(LOCK_WAIT_SECONDS)
        retrying = pool.submit(retry_dead_letter, engine, letter, REDELIVERED)
        wait_until_blocked(engine, retrying, "The retry")
        go.set()
        done: Abandoned = abandoning.result(timeout=LOCK_WAIT_SECONDS)
        assert retrying.result(timeout=LOCK_WAIT_SECONDS) is None
    assert done.dead_letters_closed == 1
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")
    assert task_claim(app, dead)[0] == "dead"
    assert not letter_retried(app, letter)


def test_a_retry_waits_for_a_burial_in_flight_and_leaves_the_cycle_blocked(
    fresh_postgres_url: str,
) -> None:
    """Retrying one dead ingest while the other is being buried: the retry counts the dead
    tasks only once the burial is committed, so the cycle stays blocked on the second."""
    app = service_app(fresh_postgres_url)
    engine = app.ledger.engine
    cycle_id, (first, second) = start_cycle(app, FEEDS, {}, TODAY)
    bury(app, first)
    letter = letter_of(app, first)
    assert claim(engine, second, "w1", ONE_ATTEMPT, CLAIMED) is Claim.RUN
    with ThreadPoolExecutor(1) as pool, engine.connect() as burial:
        transaction = burial.begin()
        assert fail(in_flight(burial), second, "OSError", ONE_ATTEMPT, CLAIMED) is Claim.DEAD
        retrying = pool.submit(retry_dead_letter, engine, letter, REDELIVERED)
        wait_until_blocked(engine, retrying, "The retry")
        transaction.commit()
        assert retrying.result(timeout=LOCK_WAIT_SECONDS) == first
    assert cycle_status(app, cycle_id) == "blocked"
    assert (task_claim(app, first)[0], task_claim(app, second)[0]) == ("pending", "dead")


def test_a_stale_link_copy_queues_behind_an_abandon_and_stages_nothing(
    fresh_postgres_url: str, small_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link's writing transaction checks its claim before staging anything or touching
    its cycle's row, so a copy finishing while its cycle is abandoned waits for the
    abandon, then finds its claim gone; no deadlock, and no staged part outlives the cycle."""
    app = service_app(fresh_postgres_url)
    engine = app.ledger.engine
    twice = CycleRules(max_attempts=2, batch_size=100)
    cycle_id, queue = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    for ingest in queue:
        due = execute(app, twice, ingest, "w1")
    [link] = due
    assert link.kind == KIND_LINK
    assert claim(engine, link, "w1", twice, CLAIMED) is Claim.RUN
    assert claim(engine, link, "w2", twice, REDELIVERED) is Claim.RUN  # w1's lock was lost
    assert fail(engine, link, "OSError", twice, REDELIVERED) is Claim.DEAD
    with (
        abandon_paused_once_tasks_are_locked(monkeypatch) as (locked, go),
        ThreadPoolExecutor(2) as pool,
    ):
        abandoning = pool.submit(abandon_cycle, engine, cycle_id, ACTOR, REDELIVERED, apply=True)
        assert locked.wait(LOCK_WAIT_SECONDS)
        stale = pool.submit(claimed_work(link, "w1", lambda: link_cycle(app, twice, link)))
        wait_until_blocked(engine, stale, "The stale link copy")
        go.set()
        done = abandoning.result(timeout=LOCK_WAIT_SECONDS)
        with pytest.raises(LostClaim):
            stale.result(timeout=LOCK_WAIT_SECONDS)
    assert (done.stage, done.staged_parts_erased) == ("link", 0)
    assert cycle_row(app, cycle_id) == ("abandoned", "abandoned")
    assert staged_parts(app, cycle_id) == 0
