"""What `status` reads of each agency and of each cycle: last pull, last delivery, waits, progress.

A pull counts only when the agency's feed was read whole, by a cycle's
ingest task or by an in-process run; one that ended on its gateway's error
is not one. The last delivery is the later of a deliver task that left
nothing waiting and a delivered batch; the oldest waiting batch is the
oldest not yet delivered. Each runs on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection

from sync.app import App
from sync.delivery import NOTICES_WAITING, RESULT_NEXT_ATTEMPT
from sync.distributed.status import (
    AgencyFreshness,
    agency_freshness,
    cycle_deliveries,
    cycle_delivery_errors,
    cycle_progress,
    open_cycle_ids,
)
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.ledger.moments import as_utc
from sync.ledger.runs import KIND_DISTRIBUTED, KIND_IN_PROCESS, insert_run
from sync.settings import load_settings

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
T0 = datetime(2026, 11, 28, 6, tzinfo=UTC)
GATEWAY_SENTENCE = "The police gateway refused the batch (400)."


def at(hours: int) -> datetime:
    """A moment `hours` after the first one of the test."""
    return T0 + timedelta(hours=hours)


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    """An App on a fresh ledger of either database, schema created."""
    made = App(load_settings(None, database_url=ledger_url))
    made.ledger.ensure_schema()
    yield made
    made.close()


def add_cycle(conn: Connection, status: str = "succeeded", stage: str = "done") -> int:
    """A recorded cycle (and its distributed run); its id."""
    run_id = insert_run(conn, AS_OF, T0, KIND_DISTRIBUTED)
    inserted = conn.execute(
        tables.cycles.insert().values(
            run_id=run_id,
            as_of=AS_OF,
            stage=stage,
            status=status,
            sources=json.dumps({"feeds": {}, "deliver": {}}),
            started_at=T0,
        )
    ).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


def add_task(
    conn: Connection,
    cycle_id: int,
    key: str,
    status: str,
    finished: datetime,
    result: dict[str, Any] | None,
) -> None:
    """A task of a cycle in `status`, last changed at `finished`, with its result."""
    conn.execute(
        tables.cycle_tasks.insert().values(
            cycle_id=cycle_id,
            task_key=key,
            kind=key.partition(":")[0],
            status=status,
            attempts=1,
            result=None if result is None else json.dumps(result),
            created_at=T0,
            updated_at=finished,
        )
    )


def add_run(
    conn: Connection, kind: str, status: str, finished: datetime, summary: dict[str, Any]
) -> None:
    """A finished run of `kind` whose stored summary is `summary`."""
    run_id = insert_run(conn, AS_OF, T0, kind)
    conn.execute(
        schema.runs.update()
        .where(schema.runs.c.id == run_id)
        .values(status=status, finished_at=finished, summary=json.dumps(summary))
    )


def add_batch(
    conn: Connection,
    batch: str,
    created: datetime,
    delivered: datetime | None = None,
    *,
    position: int = 0,
    attempts: int = 0,
    last_error: str | None = None,
) -> None:
    """A notice batch for the police, delivered at `delivered` or still waiting."""
    conn.execute(
        schema.outbox.insert().values(
            batch_id=batch.ljust(32, "0"),
            agency="police",
            position=position,
            envelope=b"",
            sealed_batch=b"",
            notice_count=1,
            created_at=created,
            attempts=attempts,
            last_error=last_error,
            next_attempt_at=created,
            delivered_at=delivered,
        )
    )


def freshness(app: App) -> dict[str, AgencyFreshness]:
    """Each agency's freshness, by agency."""
    return {fresh.agency: fresh for fresh in agency_freshness(app.ledger.engine)}


def moment(value: datetime | None) -> datetime | None:
    """A stored moment made aware, for comparison."""
    return None if value is None else as_utc(value)


READ = {"units": 1, "records": 3}


def test_the_last_pull_is_the_latest_ingest_that_read_its_feed_whole(app: App) -> None:
    """An ingest that ended on its gateway's error, or has not finished, is no pull."""
    with app.ledger.engine.begin() as conn:
        for hours, status, result in (
            (0, "done", READ),
            (1, "done", READ),
            (3, "done", {"units": 1, "feed_error": "The probation gateway did not answer."}),
            (4, "running", None),
        ):
            cycle_id = add_cycle(conn)
            add_task(conn, cycle_id, "ingest:probation", status, at(hours), result)
    found = freshness(app)
    assert moment(found["probation"].last_pull) == at(1)
    assert found["police"].last_pull is None


def test_an_in_process_run_is_a_pull_of_each_feed_it_read_without_error(app: App) -> None:
    """A partial run is a pull of the agency it read; failed and worker runs are not."""
    with app.ledger.engine.begin() as conn:
        both: dict[str, Any] = {"feeds": {"probation": {}, "police": {}}}
        add_run(conn, KIND_IN_PROCESS, "succeeded", at(1), both)
        partial = {  # police pages were read before its gateway failed
            "feeds": {"probation": {}, "police": {"units": 1}},
            "feed_errors": {"police": "down"},
        }
        add_run(conn, KIND_IN_PROCESS, "partial", at(2), partial)
        add_run(conn, KIND_DISTRIBUTED, "succeeded", at(5), both)
        add_run(conn, KIND_IN_PROCESS, "failed", at(6), both)
    found = freshness(app)
    assert moment(found["probation"].last_pull) == at(2)
    assert moment(found["police"].last_pull) == at(1)


def test_the_later_of_a_cycle_pull_and_a_run_pull_is_shown(app: App) -> None:
    """Whichever read the feed last, a worker cycle or `arms-sync run`, is the last pull."""
    with app.ledger.engine.begin() as conn:
        cycle_id = add_cycle(conn)
        add_task(conn, cycle_id, "ingest:probation", "done", at(1), READ)
        add_task(conn, cycle_id, "ingest:police", "done", at(3), READ)
        both: dict[str, Any] = {"feeds": {"probation": {}, "police": {}}}
        add_run(conn, KIND_IN_PROCESS, "succeeded", at(2), both)
    found = freshness(app)
    assert moment(found["probation"].last_pull) == at(2)
    assert moment(found["police"].last_pull) == at(3)


def test_the_last_delivery_and_the_oldest_waiting_batch(app: App) -> None:
    """A deliver task that left batches waiting is no full delivery; delivered batches are."""
    with app.ledger.engine.begin() as conn:
        first, second = add_cycle(conn), add_cycle(conn)
        add_task(conn, first, "deliver:police", "done", at(1), {"delivered": 1, "pending": 0})
        add_task(conn, second, "deliver:police", "done", at(3), {"delivered": 0, "pending": 2})
        add_batch(conn, "a", created=at(-2), delivered=at(0))
        add_batch(conn, "b", created=at(-1), delivered=at(2))
        add_batch(conn, "c", created=at(4))
        add_batch(conn, "d", created=at(5))
    found = freshness(app)
    assert moment(found["police"].last_delivery) == at(2)
    assert moment(found["police"].oldest_undelivered) == at(4)
    assert found["probation"].last_delivery is None
    assert found["probation"].oldest_undelivered is None


def test_the_batch_next_in_line_tells_its_failed_attempts_and_last_failure(app: App) -> None:
    """The oldest waiting batch (by its place in line: one run makes several at once) is
    the one whose failures count; a later batch, never tried since delivery stops at the
    first failure, does not."""
    with app.ledger.engine.begin() as conn:
        add_batch(conn, "a", created=at(0), delivered=at(1), position=0, attempts=1)
        add_batch(conn, "c", created=at(2), position=2)
        add_batch(conn, "b", created=at(2), position=1, attempts=4, last_error="StaleEnvelopeError")
    found = freshness(app)
    assert moment(found["police"].oldest_undelivered) == at(2)
    assert found["police"].delivery_attempts == 4
    assert found["police"].delivery_failure == "StaleEnvelopeError"
    assert found["probation"].delivery_attempts == 0
    assert found["probation"].delivery_failure is None


def test_a_deliver_task_with_nothing_to_send_is_a_delivery(app: App) -> None:
    """An agency that is up to date was last delivered to when its last deliver task
    found nothing waiting, later than its last delivered batch or with none at all."""
    nothing_waiting = {"delivered": 0, "notices": 0, "failed": 0, "pending": 0}
    with app.ledger.engine.begin() as conn:
        cycle_id = add_cycle(conn)
        add_task(conn, cycle_id, "deliver:police", "done", at(5), nothing_waiting)
        add_task(conn, cycle_id, "deliver:probation", "done", at(6), nothing_waiting)
        add_batch(conn, "a", created=at(0), delivered=at(1))
    found = freshness(app)
    assert moment(found["police"].last_delivery) == at(5)
    assert moment(found["probation"].last_delivery) == at(6)
    assert found["police"].oldest_undelivered is None


def test_the_latest_wait_a_feed_gateway_asked_for_is_the_one_shown(app: App) -> None:
    """Of the waits recorded for an agency's feeds, the one that ends last."""
    with app.ledger.engine.begin() as conn:
        for source, hours in (("https://police.example/a", 8), ("https://police.example/b", 7)):
            conn.execute(
                schema.feed_waits.insert().values(
                    agency="police", source=source, not_before=at(hours), asked_at=T0
                )
            )
    found = freshness(app)
    assert moment(found["police"].pull_not_before) == at(8)
    assert found["probation"].pull_not_before is None


def test_a_cycles_deliveries_are_its_finished_deliver_tasks_and_only_trouble_is_told(
    app: App,
) -> None:
    """Counts come from finished deliver tasks; an agency without trouble has no error."""
    refused = {"delivered": 0, "failed": 1, "pending": 1, "failure": GATEWAY_SENTENCE}
    clean = {"delivered": 2, "notices": 5, "failed": 0, "pending": 0}
    with app.ledger.engine.begin() as conn:
        cycle_id = add_cycle(conn)
        add_task(conn, cycle_id, "deliver:police", "done", at(1), refused)
        add_task(conn, cycle_id, "deliver:probation", "done", at(1), clean)
        unfinished = add_cycle(conn, status="running", stage="deliver")
        add_task(conn, unfinished, "deliver:police", "done", at(2), clean)
        add_task(conn, unfinished, "deliver:probation", "pending", at(2), None)
    engine = app.ledger.engine
    assert cycle_deliveries(engine, cycle_id) == {
        "police": {"delivered": 0, "notices": 0, "failed": 1, "pending": 1},
        "probation": {"delivered": 2, "notices": 5, "failed": 0, "pending": 0},
    }
    assert cycle_delivery_errors(engine, cycle_id) == {"police": GATEWAY_SENTENCE}
    assert list(cycle_deliveries(engine, unfinished)) == ["police"]
    assert cycle_delivery_errors(engine, unfinished) == {}


def test_a_deliver_task_that_left_batches_waiting_tells_when_they_are_next_tried(
    app: App,
) -> None:
    """`status` reads the due time a deliver task kept, as a run's summary tells it."""
    waiting = {
        "delivered": 1,
        "notices": 3,
        "failed": 0,
        "pending": 2,
        RESULT_NEXT_ATTEMPT: at(3).isoformat(),
    }
    with app.ledger.engine.begin() as conn:
        cycle_id = add_cycle(conn)
        add_task(conn, cycle_id, "deliver:police", "done", at(1), waiting)
    told = cycle_delivery_errors(app.ledger.engine, cycle_id)
    assert told == {
        "police": f"{NOTICES_WAITING}, the next attempt not before 2026-11-28 09:00:00 UTC"
    }


def test_open_cycles_are_the_running_and_the_blocked_ones_with_their_task_counts(
    app: App,
) -> None:
    """A cycle blocked on a dead letter is still open; finished ones are not."""
    with app.ledger.engine.begin() as conn:
        running = add_cycle(conn, status="running", stage="ingest")
        add_task(conn, running, "ingest:police", "done", at(1), READ)
        add_task(conn, running, "ingest:probation", "done", at(1), READ)
        add_task(conn, running, "link", "pending", at(1), None)
        blocked = add_cycle(conn, status="blocked", stage="ingest")
        add_cycle(conn, status="succeeded")
        add_cycle(conn, status="partial")
    engine = app.ledger.engine
    assert open_cycle_ids(engine) == [running, blocked]
    progress = cycle_progress(engine, running)
    assert (progress.stage, progress.status) == ("ingest", "running")
    assert (progress.done, progress.total) == (2, 3)
