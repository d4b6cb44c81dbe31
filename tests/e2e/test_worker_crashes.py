"""Crashes in the middle of a distributed cycle: killed workers, a restarted Redis, a poison task.

Each test runs a real cycle through real worker processes while something
breaks, then checks the cycle completed and the ledger holds exactly what the
in-process run of the same feeds gives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from sync.app import App
from sync.distributed.cycles import start_cycle
from sync.distributed.work import (
    KIND_PROBE,
    TaskRef,
    add_tasks,
    dispatch_pending,
    list_dead_letters,
)
from sync.ledger import schema, tables_cycle
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import (
    CYCLE_TIMEOUT_SECONDS,
    TODAY,
    WorkerPool,
    feed_specs,
    ledger_outputs,
    run_through_workers,
    service_app,
    worker_env,
)
from tests.ports import free_loopback_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# The cycle tests' fixtures, used here too.
broker = shared.broker
distributed_env = shared.distributed_env
in_process_outputs = shared.in_process_outputs
pool = shared.pool
reference_database = shared.reference_database
synthetic_feeds = shared.synthetic_feeds
close_apps = shared.close_apps

POLL_SECONDS = 0.02
REDIS_DOWN_SECONDS = 1.5
REDIS_START_SECONDS = 10.0
WATCH_TIMEOUT_SECONDS = 60.0
MAX_ATTEMPTS = 3


class CycleInBackground:
    """`run --distributed` in a thread, so the test can break things while it waits."""

    def __init__(
        self, database_url: str, feeds: Path, sources: dict[str, str] | None = None
    ) -> None:
        self.app: App | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, args=(database_url, feeds, sources), daemon=True
        )
        self.thread.start()

    def _run(self, database_url: str, feeds: Path, sources: dict[str, str] | None) -> None:
        try:
            self.app, _summary = run_through_workers(database_url, feeds, sources)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            self.error = error

    def result(self) -> App:
        """The App the finished cycle ran on (raises what the cycle raised)."""
        self.thread.join(CYCLE_TIMEOUT_SECONDS + WATCH_TIMEOUT_SECONDS)
        assert not self.thread.is_alive(), "the cycle did not finish"
        if self.error is not None:
            raise self.error
        assert self.app is not None
        return self.app


def running_tasks(app: App, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """(task key, claimer) of the tasks of these kinds running now."""
    table = tables_cycle.cycle_tasks
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.task_key, table.c.claimed_by).where(
                table.c.status == "running", table.c.kind.in_(kinds)
            )
        )
        return [(key, claimer or "") for key, claimer in rows]


def running_on_live_workers(
    pool: WorkerPool, app: App, kinds: tuple[str, ...]
) -> list[tuple[str, str]]:
    """`running_tasks` claimed by a worker of the pool still alive (a killed worker's task
    shows as running until it is re-dispatched)."""
    return [
        (key, claimer)
        for key, claimer in running_tasks(app, kinds)
        if claimer.split("@")[0] in pool.processes
    ]


def wait_for(condition: Callable[[], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Poll until `condition` finds something."""
    deadline = time.monotonic() + WATCH_TIMEOUT_SECONDS
    while not (found := condition()):
        assert time.monotonic() < deadline, "the awaited moment never came"
        time.sleep(POLL_SECONDS)
    return found


def max_attempts_seen(app: App) -> int:
    """The most attempts any task of any cycle needed."""
    table = tables_cycle.cycle_tasks
    with app.ledger.engine.connect() as conn:
        return int(conn.execute(select(func.max(table.c.attempts))).scalar_one())


def test_killing_workers_twice_mid_cycle_changes_nothing(
    pool: WorkerPool,
    distributed_env: dict[str, str],
    synthetic_feeds: Path,
    in_process_outputs: dict[str, str],
) -> None:
    url = distributed_env["ARMS_SYNC_DATABASE_URL"]
    watcher = service_app(url)
    cycle = CycleInBackground(url, synthetic_feeds)
    for kinds, replacement in ((("link", "decide"), "w3"), (("decide", "commit"), "w4")):
        _key, claimer = wait_for(partial(running_on_live_workers, pool, watcher, kinds))[0]
        victim = claimer.split("@")[0]
        pool.kill(victim)
        pool.start(replacement)
    app = cycle.result()
    assert ledger_outputs(app) == in_process_outputs
    assert max_attempts_seen(app) >= 2


@dataclass(frozen=True)
class PrivateRedis:
    """A Redis of the test's own: its broker URL, and how to restart it on the same port."""

    url: str
    restart: Callable[[], None]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis of this test's own without persistence, on a port free when the test starts."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed; run scripts/ensure-services.sh.", pytrace=False)
    port = free_loopback_port()
    url = f"redis://127.0.0.1:{port}/0"
    command = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    processes = [_start_redis(command, url)]

    def restart() -> None:
        processes[-1].kill()
        processes[-1].wait()
        time.sleep(REDIS_DOWN_SECONDS)
        processes.append(_start_redis(command, url))

    try:
        yield PrivateRedis(url, restart)
    finally:
        for process in processes:
            process.kill()
            process.wait()


def _start_redis(command: list[str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + REDIS_START_SECONDS
    while True:
        try:
            client.ping()
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the private Redis did not start"
            time.sleep(POLL_SECONDS)
        else:
            client.close()
            return process


def test_restarting_redis_mid_cycle_changes_nothing(
    private_redis: PrivateRedis,
    fresh_postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    synthetic_feeds: Path,
    in_process_outputs: dict[str, str],
) -> None:
    env = worker_env(fresh_postgres_url, private_redis.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    workers = WorkerPool(env, tmp_path)
    try:
        workers.start("r1")
        workers.start("r2")
        watcher = service_app(fresh_postgres_url)
        cycle = CycleInBackground(fresh_postgres_url, synthetic_feeds)
        wait_for(lambda: running_tasks(watcher, ("decide",)))
        private_redis.restart()
        app = cycle.result()
    finally:
        workers.stop()
    assert ledger_outputs(app) == in_process_outputs


def test_a_poison_task_is_dead_lettered_and_the_cycle_completes(
    fresh_postgres_url: str,
    broker: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    synthetic_feeds: Path,
    in_process_outputs: dict[str, str],
) -> None:
    from workers.app import create_app, send, task_name
    from workers.settings import load_worker_settings

    env = worker_env(fresh_postgres_url, broker, ARMS_SYNC_WORKER_TEST_TASKS="workers.testing")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    workers = WorkerPool(env, tmp_path)
    try:
        workers.start("p1")
        workers.start("p2")
        app = service_app(fresh_postgres_url)
        settings = load_worker_settings()
        celery_app = create_app(settings)
        cycle_id, first = start_cycle(app, feed_specs(synthetic_feeds), {}, TODAY)
        probe = TaskRef(KIND_PROBE, cycle_id, "poison")
        with app.ledger.engine.begin() as conn:
            add_tasks(conn, [probe], app.clock())
        celery_app.send_task(task_name(KIND_PROBE), args=[cycle_id, probe.arg])
        send(celery_app, first)
        deadline = time.monotonic() + CYCLE_TIMEOUT_SECONDS
        while _status(app, cycle_id) != "succeeded" or not list_dead_letters(app.ledger.engine):
            assert time.monotonic() < deadline, "the cycle did not finish"
            send(celery_app, dispatch_pending(app.ledger.engine, settings.rules, app.clock()))
            time.sleep(0.5)
    finally:
        workers.stop()
    [letter] = list_dead_letters(app.ledger.engine)
    assert (letter["task_key"], letter["task_name"], letter["attempts"]) == (
        "probe:poison",
        KIND_PROBE,
        MAX_ATTEMPTS,
    )
    assert ledger_outputs(app) == in_process_outputs


def _status(app: App, cycle_id: int) -> str:
    table = tables_cycle.cycles
    with app.ledger.engine.connect() as conn:
        return str(conn.execute(select(table.c.status).where(table.c.id == cycle_id)).scalar_one())


# -- delivery to two gateways, with workers killed on the way ----------------------
def _gateway_notice_ids(state: Path) -> list[str]:
    """Every notice id a gateway holds, one entry per stored copy."""
    from sync.gateway.store import NoticeStore

    notices = NoticeStore(state)
    try:
        rows = notices.after(0, notices.count() + 1)
    finally:
        notices.close()
    return [notice["notice_id"] for row in rows for notice in json.loads(row.batch)["notices"]]


def _hub_notice_ids(app: App, agency: str) -> list[str]:
    table = schema.notices
    with app.ledger.engine.connect() as conn:
        return sorted(
            conn.execute(select(table.c.notice_id).where(table.c.agency == agency)).scalars()
        )


def test_gateways_hold_every_notice_once_after_workers_are_killed(
    fresh_postgres_url: str,
    broker: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    synthetic_feeds: Path,
) -> None:
    from sync.crypto import Party
    from tests.integration.gateway_process import (
        CLIENT_ID,
        CLIENT_SECRET,
        make_keys,
        start_gateway,
    )

    keys = tmp_path / "keys"
    make_keys(keys)
    gateways = {
        party.value: start_gateway(
            agency=party,
            feed=synthetic_feeds / f"{party.value}.jsonl",
            keys=keys,
            state=tmp_path / f"{party.value}-state",
            cwd=tmp_path,
        )
        for party in (Party.PROBATION, Party.POLICE)
    }
    env = worker_env(
        fresh_postgres_url,
        broker,
        ARMS_SYNC_KEYS_DIR=str(keys),
        ARMS_SYNC_GATEWAY_CLIENT_ID=CLIENT_ID,
        ARMS_SYNC_GATEWAY_CLIENT_SECRET=CLIENT_SECRET,
        ARMS_SYNC_PROBATION_GATEWAY=gateways["probation"].url,
        ARMS_SYNC_POLICE_GATEWAY=gateways["police"].url,
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    workers = WorkerPool(env, tmp_path)
    try:
        workers.start("g1")
        workers.start("g2")
        watcher = service_app(fresh_postgres_url)
        cycle = CycleInBackground(
            fresh_postgres_url, synthetic_feeds, {a: g.url for a, g in gateways.items()}
        )
        for kinds, replacement in ((("decide",), "g3"), (("commit", "deliver"), "g4")):
            _key, claimer = wait_for(partial(running_tasks, watcher, kinds))[0]
            workers.kill(claimer.split("@")[0])
            workers.start(replacement)
        app = cycle.result()
    finally:
        workers.stop()
        for gateway in gateways.values():
            gateway.stop()
    for agency in gateways:
        held = _gateway_notice_ids(tmp_path / f"{agency}-state")
        assert len(held) == len(set(held))
        assert sorted(held) == _hub_notice_ids(app, agency)
        assert held
    with app.ledger.engine.connect() as conn:
        waiting = conn.execute(
            select(func.count()).where(schema.outbox.c.delivered_at.is_(None))
        ).scalar_one()
    assert waiting == 0
