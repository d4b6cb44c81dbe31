"""Shared fixtures: ledger URLs for both databases, the conformance examples, the CLI.

The integration tier runs against a real PostgreSQL on 127.0.0.1:5432 (a fresh
database per test session, dropped afterwards) as well as SQLite. A missing
PostgreSQL or Redis is a failure with one sentence, never a silent skip. A
PostgreSQL ledger is refused without an at-rest key every host shares, so the
PostgreSQL fixtures set one (`ARMS_SYNC_AT_REST_KEY_FILE`) for the test and the
processes it starts; SQLite ledgers keep their own key file beside them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import Engine, create_engine

from sync.crypto import Party, generate_party, load_keyring
from sync.crypto.keys import KeyRing

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO.parent / "shared" / "spec" / "examples"
POSTGRES_ADMIN_URL = os.environ.get(
    "ARMS_SYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _redis_url_of_this_worker() -> str:
    """The test Redis database: the one `ARMS_SYNC_TEST_REDIS` names (else 15), one lower
    for each further pytest-xdist worker.

    Tests empty their database and run Celery workers on it, so two test
    processes never share one.
    """
    base = urlsplit(os.environ.get("ARMS_SYNC_TEST_REDIS", "redis://127.0.0.1:6379/15"))
    database = int(base.path.strip("/") or 15)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = int(worker.removeprefix("gw") or 0)
    return urlunsplit(base._replace(path=f"/{database - offset}"))


REDIS_URL = _redis_url_of_this_worker()
CLI = [sys.executable, "-m", "sync.cli"]
AT_REST_KEY_ENV = "ARMS_SYNC_AT_REST_KEY_FILE"


def _postgres_admin() -> object:
    import psycopg

    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        pytest.fail(
            "PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres); "
            "run scripts/ensure-services.sh or `make test`.",
            pytrace=False,
        )


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database named `prefix` + a random suffix, dropped afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin()
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session."""
    with scratch_database("arms_sync_test_") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_at_rest_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The at-rest key file of every PostgreSQL ledger of the session (made on first use).

    One key for all of them, as one deployment: subject ids stay comparable
    between two ledgers of the same test.
    """
    return tmp_path_factory.mktemp("at-rest") / "ledger.key"


@pytest.fixture
def fresh_postgres_url(
    postgres_url: str, postgres_at_rest_key: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, with the session's at-rest key set."""
    monkeypatch.setenv(AT_REST_KEY_ENV, str(postgres_at_rest_key))
    with scratch_database("arms_sync_t_") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh ledger URL, once per database backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


@contextmanager
def ledger_at_revision(url: str, revision: str) -> Iterator[Engine]:
    """An engine on the ledger at `url`, made by the migrations up to `revision` only."""
    from alembic import command

    from sync.ledger.migrate import alembic_config

    made = create_engine(url)
    try:
        command.upgrade(alembic_config(made), revision)
        yield made
    finally:
        made.dispose()


@pytest.fixture(scope="session")
def keyrings(tmp_path_factory: pytest.TempPathFactory) -> dict[Party, KeyRing]:
    """A key ring for every party, from keys generated for this test session."""
    directory = tmp_path_factory.mktemp("keys")
    for party in Party:
        generate_party(directory, party)
    return {party: load_keyring(directory, party) for party in Party}


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The conformance examples of the spec."""
    if not EXAMPLES.is_dir():
        pytest.fail("The spec's conformance examples are missing next to the repository.")
    return EXAMPLES


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `arms-sync` as a user would, in a separate process."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [*CLI, *args],
        check=False,
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        pytest.fail(f"arms-sync {args[0]} exited {result.returncode}: {result.stderr[-500:]}")
    return result
