"""A failing gateway in a distributed cycle holds back only its own agency, as in `run`.

Real PostgreSQL, real gateway processes, the stages driven in process. A dead
police gateway at ingest becomes the police feed error of a `partial` run:
the cycle decides and stores probation's data, finishes, and leaves room for
the next cycle. A gateway that refuses the hub or cannot be reached at
delivery keeps its agency's batches in the outbox for the delivery beat,
while the other agency's batches are delivered and the cycle finishes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync.app import App
from sync.crypto import Party
from sync.cycle import run_cycle
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import execute
from sync.distributed.status import agency_freshness, open_cycle_ids
from sync.distributed.work import CycleRules, TaskRef, dispatch_pending, list_dead_letters
from sync.feeds.files import PlainFileSource
from sync.gateway_source import gateway_source
from sync.ingest import FeedSource
from sync.ledger import schema, tables_cycle
from sync.ledger.runs import latest_finished_run
from sync.settings import load_settings
from tests.e2e import test_deliver_stage as deliver_stage
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import closed_port_url, cycle_status
from tests.e2e.test_workers import TODAY, feed_specs
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningGateway,
    start_gateway,
)
from tests.integration.test_cycle_outcomes import notices_queued
from tests.integration.test_gateway_replayed_pages import replaying_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

hub = deliver_stage.hub
keys = deliver_stage.keys
small_feeds = shared.small_feeds
RULES = CycleRules(max_attempts=2, batch_size=100)
REDISPATCH_ROUNDS = RULES.max_attempts + 2
WRONG_SECRET = "a-secret-the-hub-does-not-have"


def run_inline(
    app: App, feeds: dict[str, str], deliver: dict[str, str]
) -> tuple[int, list[TaskRef]]:
    """Start a cycle and run every task it makes due, re-dispatching what the ledger says
    is owed (as the beat does) until nothing is; its id and the tasks run."""
    cycle_id, queue = start_cycle(app, feeds, deliver, TODAY)
    executed = []
    for _round in range(REDISPATCH_ROUNDS):
        while queue:
            ref = queue.pop(0)
            executed.append(ref)
            queue.extend(execute(app, RULES, ref, "test"))
        later = app.clock() + timedelta(seconds=1)
        queue = dispatch_pending(app.ledger.engine, replace(RULES, dispatch_grace_seconds=0), later)
        if not queue:
            break
    return cycle_id, executed


def task_row(app: App, cycle_id: int, key: str) -> tuple[str, int, dict[str, Any] | None]:
    """A task's status, attempts and result."""
    table = tables_cycle.cycle_tasks
    with app.ledger.engine.connect() as conn:
        row = conn.execute(
            select(table.c.status, table.c.attempts, table.c.result).where(
                table.c.cycle_id == cycle_id, table.c.task_key == key
            )
        ).one()
    return row.status, row.attempts, None if row.result is None else json.loads(row.result)


def the_run(app: App) -> tuple[str, dict[str, Any]]:
    """The only run's status and summary."""
    with app.ledger.engine.connect() as conn:
        status, summary = conn.execute(select(schema.runs.c.status, schema.runs.c.summary)).one()
    return str(status), {} if summary is None else json.loads(summary)


def member_agencies(app: App) -> set[str]:
    """The agencies of every record that belongs to a stored subject."""
    table = schema.subject_members
    with app.ledger.engine.connect() as conn:
        return set(conn.execute(select(table.c.agency).distinct()).scalars())


def outbox(app: App, agency: str) -> list[tuple[int, datetime, str | None, bool]]:
    """An agency's batches: attempts, next attempt time, last error, delivered."""
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(
                table.c.attempts,
                table.c.next_attempt_at,
                table.c.last_error,
                table.c.delivered_at.is_not(None),
            )
            .where(table.c.agency == agency)
            .order_by(table.c.position)
        ).all()
    return [(int(a), when, error, bool(done)) for a, when, error, done in rows]


def in_process_summary(tmp_path: Path, keys: Path, sources: dict[str, str]) -> dict[str, Any]:
    """What the in-process `run` records over the same sources (a ledger of its own)."""
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'in-process.db'}",
        keys_dir=keys,
        gateway_client_secret="unused",
        gateway_retry_attempts=1,
    )
    app = App(settings)
    try:
        app.ledger.ensure_schema()
        opened: dict[str, FeedSource] = {
            agency: gateway_source(spec, agency, app)
            if spec.startswith("http")
            else PlainFileSource(Path(spec))
            for agency, spec in sources.items()
        }
        return run_cycle(app, opened, TODAY).as_dict()
    finally:
        app.close()


def test_a_dead_police_gateway_makes_a_partial_run_over_probation_alone(
    hub: Callable[..., App],
    keys: Path,
    small_feeds: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = hub()
    feeds = {"probation": str(small_feeds / "probation.jsonl"), "police": closed_port_url()}
    with caplog.at_level(logging.WARNING, logger="sync.distributed.stages"):
        cycle_id, _executed = run_inline(app, feeds, {})

    assert task_row(app, cycle_id, "ingest:police")[:2] == ("done", 1)
    assert list_dead_letters(app.ledger.engine) == []
    assert cycle_status(app, cycle_id) == "partial"
    status, summary = the_run(app)
    assert status == "partial"
    assert list(summary["feed_errors"]) == ["police"]
    assert "police gateway" in summary["feed_errors"]["police"]
    told_in_log = summary["feed_errors"]["police"].removesuffix(".")
    assert f"failed at its gateway ({told_in_log})" in caplog.text
    with app.ledger.engine.connect() as conn:
        latest = latest_finished_run(conn)
    assert latest is not None
    assert latest.feed_errors == summary["feed_errors"]
    assert list(summary["feeds"]) == ["probation"]
    assert summary["subjects"] > 0
    assert member_agencies(app) == {"probation"}
    reference = in_process_summary(tmp_path, keys, feeds)
    for part in (
        "feed_errors",
        "feeds",
        "subjects",
        "owners_today",
        "open_flags",
        "orphans",
        "provisional",
    ):
        assert summary[part] == reference[part], part
    assert summary["provisional"] == ["police"]  # the police feed was never read whole
    told = notices_queued(app, summary["run_id"])
    assert told
    assert {str(notice["provisional"]) for notice in told} == {"['police']"}

    pulls = {found.agency: found.last_pull for found in agency_freshness(app.ledger.engine)}
    assert pulls["probation"] is not None
    assert pulls["police"] is None
    assert open_cycle_ids(app.ledger.engine) == []
    next_cycle, first = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    assert next_cycle > cycle_id
    assert [ref.key for ref in first] == ["ingest:police", "ingest:probation"]


def test_a_feed_file_that_cannot_be_read_still_blocks_its_cycle(
    hub: Callable[..., App], small_feeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = hub()
    feeds = {"probation": str(small_feeds / "probation.jsonl"), "police": str(small_feeds / "gone")}
    cycle_id, _executed = run_inline(app, feeds, {})
    assert task_row(app, cycle_id, "ingest:police")[:2] == ("dead", RULES.max_attempts)
    assert cycle_status(app, cycle_id) == "blocked"
    assert the_run(app)[0] == "running"
    # The worker's log says what to mend, not only the error's class.
    assert "UsageError: The police feed file gone does not exist or is not a file)" in caplog.text


@pytest.fixture
def probation_gateway(tmp_path: Path, keys: Path, small_feeds: Path) -> Iterator[RunningGateway]:
    """A working probation gateway process."""
    yield from _gateway(tmp_path / "probation-gateway", keys, small_feeds, Party.PROBATION)


@pytest.fixture
def refusing_police_gateway(
    tmp_path: Path, keys: Path, small_feeds: Path
) -> Iterator[RunningGateway]:
    """A police gateway process that knows another client secret than the hub's."""
    yield from _gateway(tmp_path / "police-gateway", keys, small_feeds, Party.POLICE, WRONG_SECRET)


def _gateway(
    folder: Path, keys: Path, feeds: Path, agency: Party, secret: str = CLIENT_SECRET
) -> Iterator[RunningGateway]:
    folder.mkdir()
    running = start_gateway(
        agency=agency,
        feed=feeds / f"{agency.value}.jsonl",
        keys=keys,
        state=folder / "state",
        cwd=folder,
        client_secret=secret,
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("police", "error"),
    [("refusing", "PermanentGatewayError"), ("unreachable", "RetryableGatewayError")],
)
def test_a_failing_gateway_at_delivery_keeps_its_batches_and_blocks_nothing(
    hub: Callable[..., App],
    small_feeds: Path,
    probation_gateway: RunningGateway,
    request: pytest.FixtureRequest,
    police: str,
    error: str,
) -> None:
    app = hub()
    police_url = (
        request.getfixturevalue("refusing_police_gateway").url
        if police == "refusing"
        else closed_port_url()
    )
    deliver = {"probation": probation_gateway.url, "police": police_url}
    started = datetime.now(UTC)
    cycle_id, _executed = run_inline(app, feed_specs(small_feeds), deliver)

    assert cycle_status(app, cycle_id) == "succeeded"
    assert list_dead_letters(app.ledger.engine) == []
    assert the_run(app)[0] == "succeeded"
    probation = outbox(app, "probation")
    assert probation
    assert all(delivered for *_rest, delivered in probation)
    police_batches = outbox(app, "police")
    assert police_batches
    [(attempts, next_attempt, last_error, delivered), *later] = police_batches
    assert (attempts, last_error, delivered) == (1, error, False)
    assert next_attempt > started
    assert all(row[0] == 0 and not row[3] for row in later)
    status, attempts_spent, result = task_row(app, cycle_id, "deliver:police")
    assert (status, attempts_spent) == ("done", 1)
    assert result is not None
    assert result["failed"] == 1
    assert result["pending"] == len(police_batches)
    assert task_row(app, cycle_id, "deliver:probation")[0] == "done"
    assert open_cycle_ids(app.ledger.engine) == []


def test_pages_read_before_a_gateway_failed_are_counted_in_the_partial_run(
    fresh_postgres_url: str,
    keys: Path,
    small_feeds: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = 7
    feed = small_feeds / "probation.jsonl"
    with replaying_gateway(keys, feed, tmp_path / "state", monkeypatch) as (url, _replaying):
        settings = load_settings(
            None,
            database_url=fresh_postgres_url,
            keys_dir=keys,
            gateway_client_id=CLIENT_ID,
            gateway_client_secret=CLIENT_SECRET,
            gateway_retry_attempts=1,
            gateway_page_size=page,
        )
        app = App(settings)
        try:
            app.ledger.ensure_schema()
            run_inline(app, {**feed_specs(small_feeds), "probation": url}, {})
            status, summary = the_run(app)
        finally:
            app.close()

    assert status == "partial"
    assert "Page 2 of" in summary["feed_errors"]["probation"]
    read_before = summary["feeds"]["probation"]
    assert (read_before["read"], read_before["units"]) == (page, 1)
    assert summary["feeds"]["police"]["read"] > 0
