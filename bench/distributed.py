"""The distributed cycle against the in-process run, with one and with two worker processes.

Generates a synthetic pair of feeds (20,000 subjects by default; `--national`
for 100,000), then measures in one run, each on a fresh PostgreSQL ledger:
- the in-process cycle (`run_cycle`, the service layer `arms-sync run` calls);
- the distributed cycle (`run_distributed`, what `arms-sync run --distributed`
  calls) through one Celery worker process;
- the same through two worker processes.
Prints the times and the ratios to the in-process run, and checks that every
ledger gives the same exports. Needs PostgreSQL on 127.0.0.1:5432 and Redis on
127.0.0.1:6379 (database 13 is flushed).

    .venv/bin/python bench/distributed.py [--subjects 20000 | --national] [--batch-size 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sync.app import App  # noqa: E402
from sync.cycle import run_cycle  # noqa: E402
from sync.exports import export_links, export_ownership, export_timeline  # noqa: E402
from sync.feeds.files import PlainFileSource  # noqa: E402
from sync.settings import load_settings  # noqa: E402
from sync.synth.options import SynthOptions  # noqa: E402
from sync.synth.stream import write_synthetic_feeds  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BROKER_URL = "redis://127.0.0.1:6379/13"
TODAY = date(2026, 11, 28)
DEFAULT_SUBJECTS = 20_000
NATIONAL_SUBJECTS = 100_000
SEED = 15
READY_TIMEOUT_SECONDS = 60


@contextmanager
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"arms_sync_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fingerprint(app: App) -> str:
    """A hash of the three exports."""
    digest = hashlib.sha256()
    for lines in (
        export_ownership(app.ledger, TODAY),
        export_timeline(app.ledger),
        export_links(app.ledger),
    ):
        for line in lines:
            digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def fresh_app(url: str) -> App:
    """An App on a new ledger, schema created outside the timing."""
    app = App(load_settings(None, database_url=url))
    app.ledger.ensure_schema()
    return app


def in_process(feeds: Path) -> tuple[float, str]:
    """Seconds for the in-process cycle, and the exports' fingerprint."""
    with database() as url:
        app = fresh_app(url)
        sources = {
            agency: PlainFileSource(feeds / f"{agency}.jsonl") for agency in ("probation", "police")
        }
        start = time.perf_counter()
        run_cycle(app, sources, TODAY)
        seconds = time.perf_counter() - start
        result = fingerprint(app)
        app.close()
    return seconds, result


@contextmanager
def workers(count: int, env: dict[str, str], logs: Path) -> Iterator[None]:
    """`count` worker processes (one pool process each), ready to consume."""
    processes = []
    for number in range(count):
        log = logs / f"worker{number}.log"
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "workers",
                        "worker",
                        "--pool",
                        "prefork",
                        "--concurrency=1",
                        "--loglevel=INFO",
                        "--without-mingle",
                        "--hostname",
                        f"bench{number}@%h",
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while b" ready." not in log.read_bytes():
            if time.monotonic() > deadline or processes[-1].poll() is not None:
                raise SystemExit(f"worker {number} did not start; see {log}")
            time.sleep(0.1)
    try:
        yield
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait()


def distributed(feeds: Path, count: int, batch_size: int, logs: Path) -> tuple[float, str]:
    """Seconds for the distributed cycle through `count` workers, and the fingerprint."""
    from workers.cycle_run import run_distributed

    redis.Redis.from_url(BROKER_URL).flushdb()
    with database() as url:
        settings = {
            "ARMS_SYNC_DATABASE_URL": url,
            "ARMS_SYNC_BROKER_URL": BROKER_URL,
            "ARMS_SYNC_BATCH_SIZE": str(batch_size),
            "ARMS_SYNC_CONCURRENCY": "1",
        }
        os.environ.update(settings)
        app = fresh_app(url)
        with workers(count, {**os.environ, **settings}, logs):
            start = time.perf_counter()
            run_distributed(app, str(feeds / "probation.jsonl"), str(feeds / "police.jsonl"), TODAY)
            seconds = time.perf_counter() - start
        result = fingerprint(app)
        app.close()
    return seconds, result


def main() -> None:
    """Generate the feeds, time the three ways, print times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=DEFAULT_SUBJECTS)
    parser.add_argument("--national", action="store_true", help="100,000 subjects")
    parser.add_argument("--batch-size", type=int, default=2_000)
    args = parser.parse_args()
    subjects = NATIONAL_SUBJECTS if args.national else args.subjects
    with tempfile.TemporaryDirectory(prefix="arms-sync-bench-") as folder:
        feeds = Path(folder)
        print(f"generating {subjects} subjects…", flush=True)
        write_synthetic_feeds(feeds, SynthOptions(subjects=subjects, seed=SEED, today=TODAY))
        base, expected = in_process(feeds)
        print(f"in-process run:        {base:8.2f} s", flush=True)
        one, first = distributed(feeds, 1, args.batch_size, feeds)
        print(f"distributed, 1 worker: {one:8.2f} s  ({one / base:.2f}x in-process)", flush=True)
        two, second = distributed(feeds, 2, args.batch_size, feeds)
        print(
            f"distributed, 2 workers:{two:8.2f} s  ({two / base:.2f}x in-process, "
            f"{two / one:.2f}x one worker)"
        )
        same = expected == first == second
        print(f"exports identical: {'yes' if same else 'NO'}")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
