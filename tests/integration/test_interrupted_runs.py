"""Runs whose process died are recorded as interrupted; live and distributed runs never are.

A real child process starts an in-process run and stalls in it
(`run_child.py`); the tests kill it with SIGKILL or let it live, on SQLite and
PostgreSQL, and look at what the next run or reconcile preview records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from sync.app import App, build_engine
from sync.crypto.at_rest import FieldCipher, new_data_key
from sync.crypto.replay import ReplayGuard
from sync.cycle import run_cycle
from sync.distributed.cycles import start_cycle
from sync.errors import UsageError
from sync.feeds.files import PlainFileSource
from sync.feeds.models import FeedContext
from sync.ingest import Unit
from sync.ledger import schema
from sync.ledger.codec import CipherCodec
from sync.ledger.migrate import alembic_config, upgrade_to_head
from sync.ledger.store import Ledger
from sync.reconcile.apply import ledger_mark
from sync.settings import load_settings
from tests.feed_records import person
from tests.integration.run_child import AS_OF, RunChild, start_child

pytestmark = pytest.mark.integration

CHILD_APPLICATION = "arms-sync-run-child"
GONE_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.05
NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)


def _app(url: str) -> App:
    return App(load_settings(database_url=url, validation_processes=0))


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    """The test's own process on the ledger."""
    application = _app(ledger_url)
    application.ledger.ensure_schema()
    yield application
    application.close()


@pytest.fixture
def children() -> Iterator[list[RunChild]]:
    """Child processes to kill, whatever the test's outcome."""
    started: list[RunChild] = []
    yield started
    for child in started:
        child.close()


@dataclass
class Child:
    """A child process with a run in flight, and the name its PostgreSQL sessions carry."""

    process: RunChild
    application: str

    def kill(self, app: App) -> None:
        """SIGKILL it, then wait until PostgreSQL has ended its sessions (SQLite: at once)."""
        self.process.kill()
        if app.ledger.engine.dialect.name != "postgresql":
            return
        query = text(
            # This test's database only: other tests' children may share the name meanwhile.
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = :name AND datname = current_database()"
        )
        deadline = time.monotonic() + GONE_TIMEOUT_SECONDS
        with app.ledger.engine.connect() as conn:
            while conn.execute(query, {"name": self.application}).scalar_one():
                assert time.monotonic() < deadline, "the killed child's sessions never ended"
                conn.rollback()
                time.sleep(POLL_SECONDS)


def start(children: list[RunChild], ledger_url: str) -> Child:
    """A child with a run in flight on the ledger (its sessions named on PostgreSQL)."""
    application = f"{CHILD_APPLICATION}-{len(children)}"
    url = ledger_url
    if ledger_url.startswith("postgresql"):
        url = f"{ledger_url}?application_name={application}"
    child = start_child(url)
    children.append(child)
    return Child(child, application)


def statuses(app: App) -> dict[int, str]:
    """Every run's status by id."""
    runs = schema.runs
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(runs.c.id, runs.c.status).order_by(runs.c.id))
        return dict(rows.all())


def finished_at(app: App, run_id: int) -> datetime | None:
    """When a run was recorded as over."""
    runs = schema.runs
    with app.ledger.engine.connect() as conn:
        return conn.execute(
            select(runs.c.finished_at).where(runs.c.id == run_id)
        ).scalar_one_or_none()


def running(app: App) -> list[int]:
    """The runs recorded as running."""
    return [run_id for run_id, status in statuses(app).items() if status == "running"]


def police_feed(path: Path) -> PlainFileSource:
    """A one-person police feed file."""
    record = person("police", "P-1", pnc="1996/0000018E")
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return PlainFileSource(path)


def held_run_locks(app: App, ledger_url: str) -> list[str]:
    """What shows that runs are held: lock files beside SQLite, advisory locks on PostgreSQL."""
    if app.ledger.engine.dialect.name == "sqlite":
        folder = Path(ledger_url.removeprefix("sqlite:///")).parent
        return sorted(path.name for path in folder.glob("*.lock"))
    query = text(
        "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with app.ledger.engine.connect() as conn:
        return sorted(str(objid) for objid in conn.execute(query).scalars())


def test_a_run_killed_mid_run_is_marked_interrupted_by_the_next_run(
    app: App, ledger_url: str, tmp_path: Path, children: list[RunChild]
) -> None:
    child = start(children, ledger_url)
    (killed,) = running(app)
    child.kill(app)

    summary = run_cycle(app, {"police": police_feed(tmp_path / "police.jsonl")}, AS_OF)

    assert statuses(app) == {killed: "interrupted", summary.run_id: "succeeded"}
    assert finished_at(app, killed) is not None
    assert held_run_locks(app, ledger_url) == []


def test_a_run_of_a_live_process_is_never_marked_and_is_once_it_dies(
    app: App, ledger_url: str, tmp_path: Path, children: list[RunChild]
) -> None:
    child = start(children, ledger_url)
    (live,) = running(app)

    summary = run_cycle(app, {"police": police_feed(tmp_path / "police.jsonl")}, AS_OF)
    assert statuses(app) == {live: "running", summary.run_id: "succeeded"}
    assert ledger_mark(app).runs_in_flight == 1

    child.kill(app)
    assert ledger_mark(app).runs_in_flight == 0
    assert statuses(app)[live] == "interrupted"


def test_two_killed_runs_are_marked_once_and_a_live_one_between_them_is_not(
    app: App, ledger_url: str, children: list[RunChild]
) -> None:
    first = start(children, ledger_url)
    start(children, ledger_url)
    third = start(children, ledger_url)
    dead, live, also_dead = running(app)
    first.kill(app)
    third.kill(app)

    assert app.ledger.mark_interrupted_runs(NOW) == [dead, also_dead]
    assert app.ledger.mark_interrupted_runs(NOW) == []
    assert statuses(app) == {dead: "interrupted", live: "running", also_dead: "interrupted"}


def test_runs_whose_process_is_gone_are_found_without_writing_or_holding_a_lock(
    app: App, ledger_url: str, children: list[RunChild]
) -> None:
    first = start(children, ledger_url)
    start(children, ledger_url)
    dead, live = running(app)
    first.kill(app)

    assert app.ledger.in_process_runs_gone() == [dead]
    assert app.ledger.in_process_runs_gone() == [dead]  # asked again: still there
    assert statuses(app) == {dead: "running", live: "running"}
    assert held_run_locks(app, ledger_url) == held_by_the_live_child(app, ledger_url, live)


def held_by_the_live_child(app: App, ledger_url: str, live: int) -> list[str]:
    """The run locks the live child holds: its lock file, or its run id's advisory lock."""
    if app.ledger.engine.dialect.name == "sqlite":
        return [f"{Path(ledger_url.removeprefix('sqlite:///')).name}.run-{live}.lock"]
    return [str(live)]


class WatchedSource:
    """A feed file that notes the held run locks while the run reads it."""

    name = "watched.jsonl"
    live = False
    sealed = False

    def __init__(self, source: PlainFileSource, look: Iterator[list[str]]) -> None:
        self.source = source
        self.look = look
        self.seen: list[str] | None = None

    def units(self, context: FeedContext, guard: ReplayGuard) -> Iterator[Unit]:
        """The file's units, after a look at the locks."""
        self.seen = next(self.look)
        yield from self.source.units(context, guard)


def test_a_run_holds_its_lock_while_in_flight_and_leaves_none_behind(
    app: App, ledger_url: str, tmp_path: Path
) -> None:
    def looks() -> Iterator[list[str]]:
        while True:
            yield held_run_locks(app, ledger_url)

    watched = WatchedSource(police_feed(tmp_path / "police.jsonl"), looks())
    summary = run_cycle(app, {"police": watched}, AS_OF)
    own_lock = (
        f"ledger.db.run-{summary.run_id}.lock"
        if ledger_url.startswith("sqlite")
        else str(summary.run_id)
    )
    assert watched.seen == [own_lock]
    assert held_run_locks(app, ledger_url) == []

    missing = PlainFileSource(tmp_path / "absent.jsonl")
    with pytest.raises(UsageError):
        run_cycle(app, {"police": missing}, AS_OF)
    assert list(statuses(app).values()) == ["succeeded", "failed"]
    assert held_run_locks(app, ledger_url) == []


def test_a_distributed_cycles_run_is_never_marked(
    fresh_postgres_url: str, tmp_path: Path, children: list[RunChild]
) -> None:
    app = _app(fresh_postgres_url)
    try:
        feeds = {"probation": "probation.jsonl", "police": "police.jsonl"}
        cycle_id, _first_tasks = start_cycle(app, feeds, {}, AS_OF)
        (cycle_run,) = running(app)
        start(children, fresh_postgres_url).kill(app)
        (_, killed) = running(app)

        summary = run_cycle(app, {"police": police_feed(tmp_path / "police.jsonl")}, AS_OF)

        assert statuses(app) == {
            cycle_run: "running",
            killed: "interrupted",
            summary.run_id: "succeeded",
        }
        with app.ledger.engine.connect() as conn:
            cycles = conn.execute(text("SELECT id, status FROM cycles")).all()
        assert [tuple(row) for row in cycles] == [(cycle_id, "running")]
    finally:
        app.close()


def test_an_in_memory_ledger_keeps_its_own_runs_and_writes_no_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    feed = police_feed(tmp_path / "police.jsonl")
    app = _app("sqlite://")
    try:
        in_flight = app.ledger.start_run(AS_OF, NOW)
        summary = run_cycle(app, {"police": feed}, AS_OF)
        assert statuses(app) == {in_flight: "running", summary.run_id: "succeeded"}
    finally:
        app.close()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["police.jsonl"]


def test_the_upgrade_gives_recorded_runs_their_kind_and_leaves_old_running_ones(
    ledger_url: str,
) -> None:
    engine = build_engine(ledger_url)
    try:
        command.upgrade(alembic_config(engine), "0001")
        with engine.begin() as conn:
            for status in ("succeeded", "running", "running"):
                conn.execute(
                    text(
                        "INSERT INTO runs (started_at, as_of, status)"
                        " VALUES (:now, :as_of, :status)"
                    ),
                    {"now": NOW, "as_of": AS_OF, "status": status},
                )
            conn.execute(
                text(
                    "INSERT INTO cycles (run_id, as_of, stage, status, sources, started_at)"
                    " VALUES (2, :as_of, 'ingest', 'running', '{}', :now)"
                ),
                {"now": NOW, "as_of": AS_OF},
            )
        upgrade_to_head(engine)
        runs = schema.runs
        with engine.connect() as conn:
            kinds = conn.execute(select(runs.c.id, runs.c.kind).order_by(runs.c.id)).all()
        assert [tuple(row) for row in kinds] == [(1, "in_process"), (2, "distributed"), (3, None)]

        ledger = Ledger(engine, CipherCodec(FieldCipher(new_data_key())))
        assert ledger.mark_interrupted_runs(NOW) == []
        ledger.release_run(ledger.start_run(AS_OF, NOW))
        with engine.connect() as conn:
            after = conn.execute(select(runs.c.status).order_by(runs.c.id)).scalars().all()
        assert after == ["succeeded", "running", "running", "running"]
    finally:
        engine.dispose()


def test_closing_the_app_lets_go_of_a_run_it_still_holds(ledger_url: str) -> None:
    """An App closed with a run in flight leaves no lock: the next run records it interrupted."""
    closing = _app(ledger_url)
    closing.ledger.ensure_schema()
    run_id = closing.ledger.start_run(AS_OF, NOW)
    assert len(held_run_locks(closing, ledger_url)) == 1
    closing.close()

    after = _app(ledger_url)
    try:
        assert held_run_locks(after, ledger_url) == []
        after.ledger.start_run(AS_OF, NOW)
        assert statuses(after)[run_id] == "interrupted"
    finally:
        after.close()
