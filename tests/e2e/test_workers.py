"""The background deployment with real Redis, real PostgreSQL and real worker processes.

A cycle through two Celery worker processes must leave the ledger exactly as
the in-process `run` of the same feeds does: the three exports and the
duplicate report (flag first/last-seen times aside, which record when the
ledger saw each flag) are compared byte for byte. The ledger's task
bookkeeping is checked directly: a finished task delivered again changes
nothing, a task past its attempts cap is dead-lettered and can be retried,
and work whose broker message was lost is re-dispatched from the ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from sync.app import App
from sync.core.duplicates import Counterpart, Flag, FlagKind
from sync.core.records import Agency, AssessmentStatus, Owner
from sync.crypto.key_file import create_data_key_file
from sync.cycle import run_cycle
from sync.distributed import store
from sync.distributed.cycles import PULL_LOCK, start_cycle
from sync.distributed.stages import execute
from sync.distributed.work import (
    KIND_PROBE,
    Claim,
    CycleRules,
    TaskRef,
    add_tasks,
    claim,
    dispatch_pending,
    fail,
    list_dead_letters,
    retry_dead_letter,
    task_lock,
)
from sync.exports import export_links, export_ownership, export_timeline
from sync.feeds.files import PlainFileSource
from sync.ledger import schema, tables_cycle
from sync.ledger.flag_rows import iter_flag_rows
from sync.reports.duplicates import build_report
from sync.reports.models import ReportFilters
from sync.reports.render_json import render_json
from sync.settings import load_settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.conftest import AT_REST_KEY_ENV, CLI, POSTGRES_ADMIN_URL, REDIS_URL, REPO
from tests.feed_records import run_args

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SUBJECTS = 2_000
SEED = 2026
TODAY = date(2026, 11, 28)
BATCH_SIZE = 150
ONE_SUBJECT_A_BATCH = CycleRules(batch_size=1)
BROKER_URL = REDIS_URL
CYCLE_TIMEOUT_SECONDS = 120.0
WORKER_START_SECONDS = 30.0
FLAG_TIMES = ("first_seen", "last_seen")
QUEUES = "arms-sync,arms-sync-delivery"
UNACKNOWLEDGED = "unacked"  # the Redis transport's hash of messages taken but not yet acked


# -- shared by the crash tests -------------------------------------------------
def worker_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    """Settings for workers and the waiting `run`: short grace, small batches, a low cap."""
    return {
        "ARMS_SYNC_DATABASE_URL": database_url,
        "ARMS_SYNC_BROKER_URL": broker_url,
        "ARMS_SYNC_DISPATCH_GRACE_SECONDS": "2",
        "ARMS_SYNC_BATCH_SIZE": str(BATCH_SIZE),
        "ARMS_SYNC_MAX_ATTEMPTS": "3",
        "ARMS_SYNC_LONGEST_TASK_SECONDS": "60",
        "ARMS_SYNC_VISIBILITY_TIMEOUT_SECONDS": "90",
        "ARMS_SYNC_CONCURRENCY": "1",
        **extra,
    }


class WorkerPool:
    """Real Celery worker processes, each in its own process group so it can be killed whole."""

    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        queues: str | None = QUEUES,
        *,
        through_cli: bool = False,
    ) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.queues = queues
        self.through_cli = through_cli
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _command(self, name: str) -> list[str]:
        """Celery's own worker command, or `arms-sync worker` as an operator starts it."""
        queues = ["--queues", self.queues] if self.queues else []
        if self.through_cli:
            return [*CLI, "worker", "--concurrency", "1", "--hostname", f"{name}@%h", *queues]
        return [
            sys.executable,
            "-m",
            "workers",
            "worker",
            "--pool",
            "prefork",
            "--concurrency=1",
            "--loglevel=INFO",
            "--hostname",
            f"{name}@%h",
            *queues,
            "--without-mingle",
        ]

    def start(self, name: str) -> None:
        """Start one worker named `name@…` (one pool process) and wait until it consumes."""
        command = self._command(name)
        with (self.log_dir / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WORKER_START_SECONDS
        while b" ready." not in (self.log_dir / f"{name}.log").read_bytes():
            assert self.processes[name].poll() is None, "worker exited at start"
            assert time.monotonic() < deadline, "worker did not become ready"
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        """SIGKILL a worker and its pool processes, as a crash would."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        """Stop every worker still running."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def ledger_outputs(app: App) -> dict[str, str]:
    """Fingerprints of what users read: the three exports and the duplicate report (JSON).

    Compared, never printed: a mismatch names the export, not its content.
    """
    ledger = app.ledger
    report = build_report(
        list(iter_flag_rows(ledger)),
        as_of=ledger.last_as_of() or TODAY,
        window_days=app.settings.window_days,
        hours_per_assessment=app.settings.hours_per_assessment,
        filters=ReportFilters(),
    )
    document = json.loads(render_json(report))
    for flag in document["flags"]:
        for name in FLAG_TIMES:
            flag.pop(name, None)
    outputs = {
        "ownership": "".join(line + "\n" for line in export_ownership(ledger, TODAY)),
        "timeline": "".join(line + "\n" for line in export_timeline(ledger)),
        "links": "".join(line + "\n" for line in export_links(ledger)),
        "report": json.dumps(document, ensure_ascii=False),
    }
    return {
        name: f"{text.count(chr(10))} lines sha256 {hashlib.sha256(text.encode()).hexdigest()}"
        for name, text in outputs.items()
    }


def feed_specs(folder: Path) -> dict[str, str]:
    """The synthetic feeds as `run` arguments."""
    return {agency: str(folder / f"{agency}.jsonl") for agency in ("probation", "police")}


_OPEN_APPS: list[App] = []


def service_app(database_url: str) -> App:
    """An App on a ledger (schema created), closed after the test."""
    app = App(load_settings(None, database_url=database_url))
    app.ledger.ensure_schema()
    _OPEN_APPS.append(app)
    return app


@pytest.fixture(autouse=True)
def close_apps() -> Iterator[None]:
    """Release every App a test opened before its database is dropped."""
    yield
    while _OPEN_APPS:
        _OPEN_APPS.pop().close()


@pytest.fixture(scope="session")
def synthetic_feeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pair of synthetic feeds of a few thousand subjects."""
    folder = tmp_path_factory.mktemp("feeds")
    write_synthetic_feeds(folder, SynthOptions(subjects=SUBJECTS, seed=SEED, today=TODAY))
    return folder


@pytest.fixture(scope="session")
def reference_database() -> Iterator[str]:
    """A database of its own for the in-process reference run."""
    import psycopg

    name = f"arms_sync_ref_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def in_process_outputs(
    synthetic_feeds: Path, reference_database: str, postgres_at_rest_key: Path
) -> dict[str, str]:
    """The in-process run's exports over the synthetic feeds (the reference)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(AT_REST_KEY_ENV, str(postgres_at_rest_key))
        app = service_app(reference_database)
    sources = {
        agency: PlainFileSource(Path(spec)) for agency, spec in feed_specs(synthetic_feeds).items()
    }
    run_cycle(app, sources, TODAY)
    return ledger_outputs(app)


@pytest.fixture
def broker() -> str:
    """The shared Redis, on a database of its own, emptied."""
    client = redis.Redis.from_url(BROKER_URL)
    try:
        client.flushdb()
    except redis.ConnectionError:
        pytest.fail(
            "Redis is not reachable on 127.0.0.1:6379; run scripts/ensure-services.sh.",
            pytrace=False,
        )
    return BROKER_URL


@pytest.fixture
def distributed_env(
    fresh_postgres_url: str, broker: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Worker settings in this process's environment too (the waiting `run` reads them)."""
    env = worker_env(fresh_postgres_url, broker)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def pool(distributed_env: dict[str, str], tmp_path: Path) -> Iterator[WorkerPool]:
    """Two worker processes, stopped after the test."""
    workers = WorkerPool(distributed_env, tmp_path)
    try:
        workers.start("w1")
        workers.start("w2")
        yield workers
    finally:
        workers.stop()


def run_through_workers(
    database_url: str, folder: Path, sources: dict[str, str] | None = None
) -> tuple[App, object]:
    """`run --distributed` as the CLI calls it (feed files, or `sources` URLs); App and summary."""
    from workers.cycle_run import run_distributed

    app = service_app(database_url)
    specs = sources or feed_specs(folder)
    summary = run_distributed(
        app, specs["probation"], specs["police"], TODAY, timeout_seconds=CYCLE_TIMEOUT_SECONDS
    )
    return app, summary


# -- the distributed cycle against the in-process run ----------------------------
def test_two_workers_give_exactly_the_in_process_exports(
    pool: WorkerPool,
    distributed_env: dict[str, str],
    synthetic_feeds: Path,
    in_process_outputs: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The feeds named as an operator in their folder names them; the workers run elsewhere."""
    monkeypatch.chdir(synthetic_feeds)
    relative = {agency: f"{agency}.jsonl" for agency in ("probation", "police")}
    app, summary = run_through_workers(
        distributed_env["ARMS_SYNC_DATABASE_URL"], synthetic_feeds, relative
    )
    assert ledger_outputs(app) == in_process_outputs
    assert in_process_outputs["ownership"].startswith(f"{summary.subjects} lines")  # type: ignore[attr-defined]
    claimed = _claimers(app)
    assert {name.split("@")[0] for name in claimed} == {"w1", "w2"}


def _claimers(app: App) -> set[str]:
    table = tables_cycle.cycle_tasks
    with app.ledger.engine.connect() as conn:
        return {row for row in conn.execute(select(table.c.claimed_by)).scalars() if row}


def test_a_lost_broker_message_is_re_dispatched_from_the_ledger(
    pool: WorkerPool,
    distributed_env: dict[str, str],
    synthetic_feeds: Path,
    in_process_outputs: dict[str, str],
) -> None:
    from workers.app import create_app, send
    from workers.settings import load_worker_settings

    app = service_app(distributed_env["ARMS_SYNC_DATABASE_URL"])
    cycle_id, _never_sent = start_cycle(app, feed_specs(synthetic_feeds), {}, TODAY)
    settings = load_worker_settings()
    celery_app = create_app(settings)
    deadline = time.monotonic() + CYCLE_TIMEOUT_SECONDS
    while _cycle_status(app, cycle_id) != "succeeded":
        assert time.monotonic() < deadline, "the cycle did not finish"
        send(celery_app, dispatch_pending(app.ledger.engine, settings.rules, app.clock()))
        time.sleep(0.5)
    assert ledger_outputs(app) == in_process_outputs


def _cycle_status(app: App, cycle_id: int) -> str:
    table = tables_cycle.cycles
    with app.ledger.engine.connect() as conn:
        return str(conn.execute(select(table.c.status).where(table.c.id == cycle_id)).scalar_one())


# -- the ledger's task bookkeeping, in process -------------------------------------
@pytest.fixture
def small_feeds(tmp_path: Path) -> Path:
    """A few hundred subjects: enough for every stage."""
    folder = tmp_path / "small"
    write_synthetic_feeds(folder, SynthOptions(subjects=300, seed=SEED, today=TODAY))
    return folder


def run_cycle_inline(app: App, rules: CycleRules, folder: Path) -> tuple[int, list[TaskRef]]:
    """Start a cycle over the feeds in `folder` and run every task it makes due in this
    process, in order; its id and the tasks run."""
    cycle_id, queue = start_cycle(app, feed_specs(folder), {}, TODAY)
    executed = []
    while queue:
        ref = queue.pop(0)
        executed.append(ref)
        queue.extend(execute(app, rules, ref, "test"))
    return cycle_id, executed


def test_every_task_delivered_again_changes_nothing(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    app = service_app(fresh_postgres_url)
    rules = CycleRules(batch_size=50)
    cycle_id, executed = run_cycle_inline(app, rules, small_feeds)
    before = ledger_outputs(app)
    assert _cycle_status(app, cycle_id) == "succeeded"
    assert len([ref for ref in executed if ref.kind == "decide"]) > 1
    for ref in executed:
        assert execute(app, rules, ref, "again") == []
    assert ledger_outputs(app) == before
    table = tables_cycle.cycle_tasks
    with app.ledger.engine.connect() as conn:
        attempts = set(conn.execute(select(table.c.attempts)).scalars())
    assert attempts == {1}


def test_a_task_past_its_cap_is_dead_lettered_then_retried(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    app = service_app(fresh_postgres_url)
    rules = CycleRules(max_attempts=2, batch_size=100)
    cycle_id, _ = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    probe = TaskRef(KIND_PROBE, cycle_id, "poison")
    with app.ledger.engine.begin() as conn:
        add_tasks(conn, [probe], app.clock())
    engine = app.ledger.engine
    assert claim(engine, probe, "test", rules, app.clock()) is Claim.RUN
    assert fail(engine, probe, "RuntimeError", rules, app.clock()) is Claim.RUN
    assert claim(engine, probe, "test", rules, app.clock()) is Claim.RUN
    assert fail(engine, probe, "RuntimeError", rules, app.clock()) is Claim.DEAD
    assert claim(engine, probe, "test", rules, app.clock()) is Claim.SKIP
    letters = list_dead_letters(engine)
    assert [(row["task_key"], row["attempts"], row["last_error"]) for row in letters] == [
        ("probe:poison", 2, "RuntimeError")
    ]
    assert json.loads(letters[0]["args"]) == [cycle_id, "poison"]
    assert retry_dead_letter(engine, letters[0]["id"], app.clock()) == probe
    assert list_dead_letters(engine) == []
    assert claim(engine, probe, "test", rules, app.clock()) is Claim.RUN


def test_a_dead_stage_task_blocks_its_cycle_until_retried(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    app = service_app(fresh_postgres_url)
    rules = CycleRules(max_attempts=1, batch_size=100)
    cycle_id, first = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    engine = app.ledger.engine
    broken = first[0]
    assert claim(engine, broken, "test", rules, app.clock()) is Claim.RUN
    assert fail(engine, broken, "OSError", rules, app.clock()) is Claim.DEAD
    assert _cycle_status(app, cycle_id) == "blocked"
    [letter] = list_dead_letters(engine)
    queue = [retry_dead_letter(engine, letter["id"], app.clock()), first[1]]
    assert _cycle_status(app, cycle_id) == "running"
    while queue:
        ref = queue.pop(0)
        assert ref is not None
        queue.extend(execute(app, rules, ref, "test"))
    assert _cycle_status(app, cycle_id) == "succeeded"


def test_dispatch_pending_leaves_fresh_and_held_tasks_alone(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    from sync.distributed.work import task_lock

    app = service_app(fresh_postgres_url)
    rules = CycleRules(dispatch_grace_seconds=60)
    _cycle_id, first = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    engine = app.ledger.engine
    assert dispatch_pending(engine, rules, app.clock()) == []
    later = datetime(2100, 1, 1, tzinfo=UTC)
    with task_lock(engine, first[0]) as held:
        assert held
        assert dispatch_pending(engine, rules, later) == [first[1]]
    assert dispatch_pending(engine, rules, datetime(2101, 1, 1, tzinfo=UTC)) == sorted(first)


# -- staged values round-trip -----------------------------------------------------
_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31))
_ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)


@st.composite
def _flags(draw: st.DrawFn) -> Flag:
    counterpart = draw(st.none() | st.builds(Counterpart, st.sampled_from(Agency), _ids, _dates))
    return Flag(
        kind=draw(st.sampled_from(FlagKind)),
        subject_id=draw(_ids),
        agency=draw(st.none() | st.sampled_from(Agency)),
        assessment_id=draw(st.none() | _ids),
        person_ids=tuple(draw(st.lists(_ids, max_size=3))),
        reference_date=draw(st.none() | _dates),
        owner_at_reference_date=draw(st.none() | st.sampled_from(Owner)),
        rule_at_reference_date=draw(st.none() | _ids),
        counterpart=counterpart,
        redundant=draw(st.none() | st.booleans()),
        area=draw(st.none() | _ids),
        assessment_status=draw(st.none() | st.sampled_from(AssessmentStatus)),
        rule_told=draw(st.none() | _ids),
    )


@given(_flags())
def test_a_staged_flag_comes_back_as_the_same_flag(flag: Flag) -> None:
    value = json.loads(json.dumps(store.flag_to_value(flag)))
    assert store.flag_from_value(value) == flag


def test_worker_settings_refuse_a_visibility_timeout_below_the_longest_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sync.errors import ConfigurationError
    from workers.settings import load_worker_settings

    monkeypatch.setenv("ARMS_SYNC_LONGEST_TASK_SECONDS", "600")
    monkeypatch.setenv("ARMS_SYNC_VISIBILITY_TIMEOUT_SECONDS", "300")
    with pytest.raises(ConfigurationError) as refused:
        load_worker_settings()
    assert str(refused.value) == (
        "ARMS_SYNC_VISIBILITY_TIMEOUT_SECONDS must be above ARMS_SYNC_LONGEST_TASK_SECONDS, "
        "or Redis hands a running task to a second worker."
    )


def test_the_celery_app_is_configured_for_redelivery_not_loss() -> None:
    from workers.app import create_app
    from workers.settings import WorkerSettings

    conf = create_app(WorkerSettings(broker_url=BROKER_URL)).conf
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result
    assert conf.result_backend is None
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


@pytest.mark.parametrize("through_cli", [False, True], ids=["celery", "arms-sync-worker"])
def test_a_worker_started_without_queues_takes_delivery_tasks_too(
    distributed_env: dict[str, str], tmp_path: Path, through_cli: bool
) -> None:
    """A worker started bare (`python -m workers worker` from a supervisor, or `arms-sync
    worker`) takes delivery tasks too: deliveries must not wait unseen."""
    from workers.app import TASK_DELIVER_OUTBOXES, create_app
    from workers.settings import load_worker_settings

    service_app(distributed_env["ARMS_SYNC_DATABASE_URL"])
    workers = WorkerPool(distributed_env, tmp_path, queues=None, through_cli=through_cli)
    create_app(load_worker_settings()).send_task(TASK_DELIVER_OUTBOXES)
    waiting = redis.Redis.from_url(BROKER_URL)
    assert waiting.llen("arms-sync-delivery") == 1
    try:
        workers.start("bare")
        deadline = time.monotonic() + CYCLE_TIMEOUT_SECONDS
        log = tmp_path / "bare.log"
        while b"deliver_outboxes" not in log.read_bytes() or b"succeeded" not in log.read_bytes():
            assert time.monotonic() < deadline, "the delivery task was never taken"
            time.sleep(0.2)
        # The pool child logs its success before the worker acknowledges the message;
        # stopped in between, the worker would give it back to the queue.
        while waiting.hlen(UNACKNOWLEDGED):
            assert time.monotonic() < deadline, "the delivery task was never acknowledged"
            time.sleep(0.2)
    finally:
        workers.stop()
    assert waiting.llen("arms-sync-delivery") == 0


# -- the commands ------------------------------------------------------------------


def _cli_run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an `arms-sync` command as a user does (its own process), whatever its exit."""
    return subprocess.run(
        [*CLI, "--db", database_url, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _cli(database_url: str, *args: str) -> tuple[int, str]:
    """Run an `arms-sync` command as a user does; exit status and stdout."""
    result = _cli_run(database_url, *args)
    return result.returncode, result.stdout


def _a_dead_letter(app: App, feeds: Path) -> int:
    """A cycle whose probe task failed past its one attempt; the dead letter's id."""
    cycle_id, _ = start_cycle(app, feed_specs(feeds), {}, TODAY)
    probe = TaskRef(KIND_PROBE, cycle_id, "poison")
    with app.ledger.engine.begin() as conn:
        add_tasks(conn, [probe], app.clock())
    rules = CycleRules(max_attempts=1)
    claim(app.ledger.engine, probe, "test", rules, app.clock())
    fail(app.ledger.engine, probe, "RuntimeError", rules, app.clock())
    [letter] = list_dead_letters(app.ledger.engine)
    return int(letter["id"])


def test_status_is_quiet_after_a_cycle_and_flags_dead_letters(
    distributed_env: dict[str, str], small_feeds: Path
) -> None:
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    app = service_app(url)
    cycle_id, _ = run_cycle_inline(app, CycleRules(batch_size=100), small_feeds)
    code, output = _cli(url, "status", "--json")
    report = json.loads(output)
    assert code == 0
    assert report["problems"] == []
    assert report["dead_letters"] == 0
    assert set(report["queues"]) == {"arms-sync", "arms-sync-delivery"}
    assert all(agency["last_pull"] for agency in report["agencies"])

    probe = TaskRef(KIND_PROBE, cycle_id, "poison")
    with app.ledger.engine.begin() as conn:
        add_tasks(conn, [probe], app.clock())
    rules = CycleRules(max_attempts=1)
    assert claim(app.ledger.engine, probe, "test", rules, app.clock()) is Claim.RUN
    assert fail(app.ledger.engine, probe, "RuntimeError", rules, app.clock()) is Claim.DEAD
    code, output = _cli(url, "status", "--json")
    assert code == 1
    assert json.loads(output)["dead_letters"] == 1


def test_status_names_a_stale_pull_and_notices_waiting_too_long(
    distributed_env: dict[str, str], small_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    app = service_app(url)
    run_cycle_inline(app, CycleRules(batch_size=100), small_feeds)
    with app.ledger.engine.begin() as conn:  # a batch queued a while ago, never delivered
        conn.execute(
            schema.outbox.insert().values(
                batch_id="0" * 32,
                agency="police",
                position=0,
                envelope=b"",
                sealed_batch=b"",
                notice_count=1,
                created_at=app.clock() - timedelta(hours=1),
                attempts=0,
                next_attempt_at=app.clock(),
            )
        )
    monkeypatch.setenv("ARMS_SYNC_PROBATION_FEED", str(small_feeds / "probation.jsonl"))
    monkeypatch.setenv("ARMS_SYNC_PULL_INTERVAL_SECONDS", "0.1")
    monkeypatch.setenv("ARMS_SYNC_DELIVERY_INTERVAL_SECONDS", "0.1")
    monkeypatch.setenv("ARMS_SYNC_POLICE_GATEWAY", "https://police.example/")
    time.sleep(0.5)  # both past three intervals
    code, output = _cli(url, "status", "--json")
    problems = json.loads(output)["problems"]
    assert code == 1
    assert "the last probation pull is stale" in problems
    assert "notices to police are waiting too long" in problems


def test_status_shows_an_open_cycle_with_its_task_counts(
    distributed_env: dict[str, str], small_feeds: Path
) -> None:
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    cycle_id, _ = start_cycle(service_app(url), feed_specs(small_feeds), {}, TODAY)
    result = _cli_run(url, "status")
    assert f"cycle {cycle_id}: ingest (running); tasks: 2 pending\n" in result.stdout


def test_status_names_a_cycle_running_longer_than_three_pull_intervals(
    distributed_env: dict[str, str], small_feeds: Path
) -> None:
    """A cycle whose tasks no worker can take (none can open the ledger) never dead-letters:
    status says which cycle stalls and where to look, not only that pulls are stale."""
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    app = service_app(url)
    cycle_id, _ = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    stalled = f"cycle {cycle_id} has been running since "
    no_worker = (  # none runs here; one that cannot open the ledger would answer
        "no worker answered the broker's ping while 1 cycle open: start `arms-sync worker` "
        "(or see why the workers stopped in their logs)"
    )
    code, output = _cli(url, "status", "--json")
    assert json.loads(output)["problems"] == [no_worker]

    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    cycles = tables_cycle.cycles
    with app.ledger.engine.begin() as conn:
        conn.execute(update(cycles).where(cycles.c.id == cycle_id).values(started_at=long_ago))
    code, output = _cli(url, "status", "--json")

    assert code == 1
    assert json.loads(output)["problems"] == [
        f"{stalled}{long_ago.isoformat()} and is at its ingest stage with 2 tasks not done: "
        "see the workers' logs (a worker that cannot open the ledger leaves its tasks pending)",
        no_worker,
    ]


def test_status_counts_the_workers_that_answer_and_names_work_none_takes(
    distributed_env: dict[str, str], tmp_path: Path
) -> None:
    from workers.app import TASK_DELIVER_OUTBOXES, create_app
    from workers.settings import load_worker_settings

    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    service_app(url)
    workers = WorkerPool(distributed_env, tmp_path)
    try:
        workers.start("w1")
        code, output = _cli(url, "status", "--json")
        report = json.loads(output)
        assert (code, report["workers"], report["problems"]) == (0, 1, [])
        assert "\nworkers: 1 worker answered a ping\n" in _cli_run(url, "status").stdout
    finally:
        workers.stop()
    create_app(load_worker_settings()).send_task(TASK_DELIVER_OUTBOXES)  # no one takes it
    try:
        code, output = _cli(url, "status", "--json")
    finally:
        redis.Redis.from_url(BROKER_URL).flushdb()  # later tests share this database
    report = json.loads(output)
    assert (code, report["workers"]) == (1, 0)
    assert report["problems"] == [
        "no worker answered the broker's ping while 1 task message queued: start "
        "`arms-sync worker` (or see why the workers stopped in their logs)"
    ]


def test_dead_letters_are_listed_and_retried_onto_the_queue(
    distributed_env: dict[str, str], small_feeds: Path
) -> None:
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    letter_id = _a_dead_letter(service_app(url), small_feeds)
    code, output = _cli(url, "dead-letters", "--json")
    [letter] = [json.loads(line) for line in output.splitlines()]
    assert code == 0
    assert letter["id"] == letter_id
    assert (letter["task_key"], letter["attempts"], letter["last_error"]) == (
        "probe:poison",
        1,
        "RuntimeError",
    )
    depth_before = redis.Redis.from_url(BROKER_URL).llen("arms-sync")
    code, _output = _cli(url, "dead-letters", "retry", str(letter["id"]))
    assert code == 0
    assert redis.Redis.from_url(BROKER_URL).llen("arms-sync") == depth_before + 1
    code, output = _cli(url, "dead-letters", "--json")
    assert (code, output) == (0, "")
    code, _output = _cli(url, "dead-letters", "retry", str(letter["id"]))
    assert code == 2


def test_beat_starts_cycles_and_the_nightly_report_is_written(
    fresh_postgres_url: str,
    broker: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    small_feeds: Path,
) -> None:
    from workers.app import TASK_NIGHTLY_REPORT, create_app
    from workers.settings import load_worker_settings

    specs = feed_specs(small_feeds)
    reports = tmp_path / "reports"
    env = worker_env(
        fresh_postgres_url,
        broker,
        ARMS_SYNC_PROBATION_FEED=specs["probation"],
        ARMS_SYNC_POLICE_FEED=specs["police"],
        ARMS_SYNC_PULL_INTERVAL_SECONDS="1",
        ARMS_SYNC_DISPATCH_INTERVAL_SECONDS="1",
        ARMS_SYNC_REPORT_DIR=str(reports),
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    workers = WorkerPool(env, tmp_path)
    with (tmp_path / "beat.log").open("wb") as log:
        beat = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workers",
                "beat",
                "--loglevel=INFO",
                f"--schedule={tmp_path / 'beat-schedule'}",
            ],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        workers.start("b1")
        app = service_app(fresh_postgres_url)
        deadline = time.monotonic() + CYCLE_TIMEOUT_SECONDS
        while _succeeded_cycles(app) < 2:
            assert time.monotonic() < deadline, "beat did not start two cycles"
            time.sleep(0.5)
        create_app(load_worker_settings()).send_task(TASK_NIGHTLY_REPORT)
        while len(list(reports.glob("duplicates-*"))) < len(("json", "csv", "html")):
            assert time.monotonic() < deadline, "the nightly report was not written"
            time.sleep(0.5)
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait()
        workers.stop()
    assert sorted(path.suffix for path in reports.glob("duplicates-*")) == [
        ".csv",
        ".html",
        ".json",
    ]
    assert _open_cycles_at_once(app) == 1


def _succeeded_cycles(app: App) -> int:
    table = tables_cycle.cycles
    with app.ledger.engine.connect() as conn:
        return len(conn.execute(select(table.c.id).where(table.c.status == "succeeded")).all())


def _open_cycles_at_once(app: App) -> int:
    """The most cycles that were ever open together (each starts after the last finished)."""
    table = tables_cycle.cycles
    with app.ledger.engine.connect() as conn:
        spans = conn.execute(select(table.c.started_at, table.c.finished_at)).all()
    return max(
        sum(1 for start, end in spans if start <= moment and (end is None or moment < end))
        for moment, _end in spans
    )


DISTRIBUTED_RUN = (
    "run",
    "--probation-feed",
    "p.jsonl",
    "--police-feed",
    "q.jsonl",
    "--distributed",
)


@pytest.mark.parametrize("command", [("worker",), ("beat",), DISTRIBUTED_RUN])
def test_workers_beat_and_distributed_runs_refuse_a_ledger_other_hosts_cannot_share(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    result = subprocess.run(
        [*CLI, "--db", f"sqlite:///{tmp_path / 'ledger.db'}", *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "Error: The background deployment needs a PostgreSQL ledger: set ARMS_SYNC_DATABASE_URL "
        "(or --db) to a postgresql:// URL.\n",
    )
    assert not (tmp_path / "ledger.db").exists()


UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


def test_a_distributed_run_with_no_broker_says_so_and_records_no_cycle(
    distributed_env: dict[str, str], small_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    monkeypatch.setenv("ARMS_SYNC_BROKER_URL", UNREACHABLE_BROKER)
    specs = feed_specs(small_feeds)
    feeds = run_args(Path(specs["probation"]), Path(specs["police"]))
    result = _cli_run(url, *feeds, "--distributed")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: The broker at 127.0.0.1:1 cannot be reached (")
    assert result.stderr.endswith("); start it, or check ARMS_SYNC_BROKER_URL.\n")
    with service_app(url).ledger.engine.connect() as conn:
        assert conn.execute(select(tables_cycle.cycles)).first() is None


def test_a_distributed_run_refuses_a_missing_feed_file_before_starting_a_cycle(
    distributed_env: dict[str, str], small_feeds: Path
) -> None:
    """Refused in one sentence, as `run` refuses it, not left to the workers to fail on."""
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    police = Path(feed_specs(small_feeds)["police"])

    result = _cli_run(url, *run_args(small_feeds / "absent.jsonl", police), "--distributed")

    assert (result.returncode, result.stderr) == (
        2,
        "Error: The probation feed file absent.jsonl does not exist or is not a file.\n",
    )
    with service_app(url).ledger.engine.connect() as conn:
        assert conn.execute(select(tables_cycle.cycles)).first() is None


PLAIN_HTTP_REFUSED = (
    "Error: A gateway off this machine must be reached over https (plain http is allowed "
    "only for 127.0.0.1, ::1 or localhost, or with ARMS_SYNC_GATEWAY_ALLOW_PLAIN_HTTP on a "
    "private test network).\n"
)
CREDENTIALS_REFUSED = (
    "Error: A gateway URL must not hold a user name or password: give https://HOST[:PORT] "
    "and put the hub's client secret in ARMS_SYNC_GATEWAY_CLIENT_SECRET or the agency's "
    "ARMS_SYNC_<AGENCY>_GATEWAY_CLIENT_SECRET.\n"
)
URL_SECRET = "pw-in-a-url"  # a stand-in for a password typed into a URL by mistake
UNUSABLE_GATEWAYS = [
    ("http://gateway.example:8080", PLAIN_HTTP_REFUSED),
    (f"https://hub:{URL_SECRET}@gateway.example", CREDENTIALS_REFUSED),
]


@pytest.mark.parametrize(
    ("gateway", "sentence"), UNUSABLE_GATEWAYS, ids=["plain-http", "credentials"]
)
@pytest.mark.parametrize("use", ["feed", "delivery"])
def test_a_distributed_run_refuses_a_gateway_no_client_may_use_before_starting_a_cycle(
    distributed_env: dict[str, str],
    small_feeds: Path,
    monkeypatch: pytest.MonkeyPatch,
    gateway: str,
    sentence: str,
    use: str,
) -> None:
    """Refused as `run` refuses it, not left to fail every attempt of a task and block the
    cycles after it; a URL holding a password is never stored with the cycle."""
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    specs = feed_specs(small_feeds)
    probation = gateway if use == "feed" else specs["probation"]
    if use == "delivery":
        monkeypatch.setenv("ARMS_SYNC_PROBATION_GATEWAY", gateway)
    feeds = ("--probation-feed", probation, "--police-feed", specs["police"])

    result = _cli_run(url, "run", *feeds, "--as-of", TODAY.isoformat(), "--distributed")

    assert (result.returncode, result.stderr) == (2, sentence)
    with service_app(url).ledger.engine.connect() as conn:
        assert conn.execute(select(tables_cycle.cycles)).first() is None


def _start_refused(
    command: str, env: dict[str, str], folder: Path
) -> subprocess.CompletedProcess[str]:
    """`arms-sync worker` or `beat` started in `folder` (where a beat that started would keep
    its schedule), expected to refuse; a timeout means it started."""
    return subprocess.run(
        [*CLI, command],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("gateway", "sentence"), UNUSABLE_GATEWAYS, ids=["plain-http", "credentials"]
)
@pytest.mark.parametrize("setting", ["ARMS_SYNC_POLICE_FEED", "ARMS_SYNC_POLICE_GATEWAY"])
@pytest.mark.parametrize("command", ["worker", "beat"])
def test_a_worker_or_beat_refuses_to_start_with_a_gateway_no_client_may_use(
    distributed_env: dict[str, str],
    tmp_path: Path,
    command: str,
    setting: str,
    gateway: str,
    sentence: str,
) -> None:
    """Else each task using the gateway fails until it is dead-lettered."""
    env = {**os.environ, **distributed_env, setting: gateway}
    result = _start_refused(command, env, tmp_path)
    assert (result.returncode, result.stderr) == (2, sentence)


@pytest.mark.parametrize("fault", ["unreachable", "another key"])
@pytest.mark.parametrize("command", ["worker", "beat"])
def test_a_worker_or_beat_refuses_to_start_on_a_ledger_it_cannot_open(
    distributed_env: dict[str, str], tmp_path: Path, command: str, fault: str
) -> None:
    """Else every task fails before the ledger can count its attempt: none is ever
    dead-lettered, and the process looks healthy while no work is done."""
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    _ = service_app(url).ledger  # made, and bound to the session's at-rest key
    env = {**os.environ, **distributed_env}
    if fault == "unreachable":
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env["ARMS_SYNC_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{port}/absent"
        expected = (
            1,
            "Error: No database server answers for the ledger database absent on "
            f"127.0.0.1:{port};",
        )
    else:
        other_key = tmp_path / "other.key"
        create_data_key_file(other_key)
        env[AT_REST_KEY_ENV] = str(other_key)
        expected = (2, "Error: The ledger ")

    result = _start_refused(command, env, tmp_path)

    assert (result.returncode, result.stderr[: len(expected[1])]) == expected
    assert len(result.stderr.splitlines()) == 1
    if fault == "another key":
        assert "another at-rest key" in result.stderr


def test_a_distributed_run_waits_for_no_open_cycle_but_says_so(
    distributed_env: dict[str, str], small_feeds: Path
) -> None:
    """Cycles run one at a time: each decides over what the last one stored."""
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    app = service_app(url)
    open_cycle, _ = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    specs = feed_specs(small_feeds)

    result = _cli_run(
        url, *run_args(Path(specs["probation"]), Path(specs["police"])), "--distributed"
    )

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: Cycle {open_cycle} is still open: cycles run one at a time; see "
        "`arms-sync status`, or `arms-sync dead-letters` if it is blocked.\n"
    )
    with app.ledger.engine.connect() as conn:
        cycles = conn.execute(select(tables_cycle.cycles.c.id)).scalars().all()
    assert cycles == [open_cycle]


def test_a_distributed_run_started_while_another_starts_its_cycle_says_so(
    distributed_env: dict[str, str], small_feeds: Path
) -> None:
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    app = service_app(url)
    specs = feed_specs(small_feeds)

    with task_lock(app.ledger.engine, PULL_LOCK) as free:  # another starter, mid-way
        assert free
        result = _cli_run(
            url, *run_args(Path(specs["probation"]), Path(specs["police"])), "--distributed"
        )

    assert result.returncode == 1
    assert result.stderr == (
        "Error: Another cycle is being started: cycles run one at a time; see "
        "`arms-sync status`, or `arms-sync dead-letters` if it is blocked.\n"
    )


def test_a_retried_dead_letter_is_not_said_to_be_queued_when_the_broker_is_down(
    distributed_env: dict[str, str], small_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    app = service_app(url)
    letter_id = _a_dead_letter(app, small_feeds)
    monkeypatch.setenv("ARMS_SYNC_BROKER_URL", UNREACHABLE_BROKER)

    result = _cli_run(url, "dead-letters", "retry", str(letter_id))

    assert result.returncode == 0
    assert result.stdout == ""
    warning, sentence = result.stderr.splitlines()
    assert warning.startswith("Warning: the broker did not take 1 task message (")
    assert sentence.endswith("the broker cannot be reached now, so the next re-dispatch sends it.")
    assert list_dead_letters(app.ledger.engine) == []


def test_beat_asks_for_a_pull_as_it_starts(
    fresh_postgres_url: str, broker: str, tmp_path: Path
) -> None:
    """Not a whole pull interval (15 minutes by default) after it starts."""
    env = worker_env(fresh_postgres_url, broker, ARMS_SYNC_PULL_INTERVAL_SECONDS="3600")
    with (tmp_path / "beat.log").open("wb") as log:
        beat = subprocess.Popen(
            [*CLI, "beat", "--schedule-file", str(tmp_path / "beat-schedule")],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    queue = redis.Redis.from_url(broker)
    try:
        deadline = time.monotonic() + WORKER_START_SECONDS
        while not queue.llen("arms-sync"):
            assert beat.poll() is None, "beat exited at start"
            assert time.monotonic() < deadline, "beat sent no pull as it started"
            time.sleep(0.2)
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait()
    sent = [json.loads(raw)["headers"]["task"] for raw in queue.lrange("arms-sync", 0, -1)]
    # One pull; the nightly report's, due at 02:00 UTC, may come with it at that hour.
    assert sent.count("arms_sync.pull") == 1
    assert set(sent) <= {"arms_sync.pull", "arms_sync.nightly_report"}


def test_a_distributed_run_whose_gateway_is_down_ends_partial_and_says_why(
    distributed_env: dict[str, str],
    small_feeds: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sync.crypto.keyring import generate_party
    from sync.crypto.keys import Party
    from tests.e2e.test_deliver_stage import closed_port_url

    keys = tmp_path / "keys"
    for party in Party:
        generate_party(keys, party)
    gateway_env = {
        "ARMS_SYNC_KEYS_DIR": str(keys),
        "ARMS_SYNC_GATEWAY_CLIENT_SECRET": "unused",
        "ARMS_SYNC_GATEWAY_RETRY_ATTEMPTS": "1",
    }
    for name, value in gateway_env.items():
        monkeypatch.setenv(name, value)
    workers = WorkerPool({**distributed_env, **gateway_env}, tmp_path)
    try:
        workers.start("w1")
        sources = {**feed_specs(small_feeds), "police": closed_port_url()}
        app, summary = run_through_workers(
            distributed_env["ARMS_SYNC_DATABASE_URL"], small_feeds, sources
        )
    finally:
        workers.stop()

    assert list(summary.feed_errors) == ["police"]  # type: ignore[attr-defined]
    assert list(summary.feeds) == ["probation"]  # type: ignore[attr-defined]
    [cycle_id] = _cycle_ids(app)
    assert _cycle_status(app, cycle_id) == "partial"


def _cycle_ids(app: App) -> list[int]:
    table = tables_cycle.cycles
    with app.ledger.engine.connect() as conn:
        return list(conn.execute(select(table.c.id)).scalars())
