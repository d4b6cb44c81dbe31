"""`arms-sync run` killed with SIGKILL mid-run: the next `run` records it as interrupted;
interrupted with Ctrl-C (SIGINT to its process group, as a terminal sends it): it records
itself so, and says so in one sentence.

The run pulls a feed from a "gateway" that accepts the connection and never
answers, so the run is certainly in flight when it is stopped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from sync.ledger import schema
from sync.ledger.location import parse_ledger_url
from tests.conftest import CLI, run_cli
from tests.integration.gateway_process import CLIENT_SECRET, make_keys

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

AS_OF = "2026-11-28"
KILLED_APPLICATION = "arms-sync-killed-run"
WAIT_SECONDS = 60.0
POLL_SECONDS = 0.05


@pytest.fixture
def silent_gateway() -> Iterator[str]:
    """A loopback URL whose server accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def _feed(path: Path, agency: str) -> Path:
    record = {
        "type": "person",
        "agency": agency,
        "id": f"{agency[:2].upper()}-1",
        "surname": "EXAMPLE",
        "forenames": "A",
        "gender": "M",
        "area": "NW" if agency == "probation" else "LANC",
        "date_of_birth": "1975-06-15",
        "pnc": "1996/0000018E",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def _run_env(keys: Path, validation_processes: int) -> dict[str, str]:
    """The settings of a run whose gateway pull waits as long as the test needs."""
    return {
        "ARMS_SYNC_KEYS_DIR": str(keys),
        "ARMS_SYNC_GATEWAY_CLIENT_SECRET": CLIENT_SECRET,
        "ARMS_SYNC_HTTP_TIMEOUT_SECONDS": "600",
        "ARMS_SYNC_VALIDATION_PROCESSES": str(validation_processes),
    }


def _statuses(url: str) -> list[str]:
    """The runs' statuses in order (none while the ledger has no tables yet)."""
    engine = create_engine(parse_ledger_url(url))
    runs = schema.runs
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(runs.c.status).order_by(runs.c.id)).scalars())
    except DBAPIError:
        return []
    finally:
        engine.dispose()


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(POLL_SECONDS)


def _sessions_of_killed_run(url: str) -> int:
    engine = create_engine(parse_ledger_url(url))
    query = text(
        # This test's database only: other tests' children may share the name meanwhile.
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = :name AND datname = current_database()"
    )
    try:
        with engine.connect() as conn:
            return int(conn.execute(query, {"name": KILLED_APPLICATION}).scalar_one())
    finally:
        engine.dispose()


def test_a_run_killed_mid_pull_is_recorded_interrupted_by_the_next_run(
    ledger_url: str, tmp_path: Path, silent_gateway: str
) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    postgres = ledger_url.startswith("postgresql")
    killed_url = f"{ledger_url}?application_name={KILLED_APPLICATION}" if postgres else ledger_url
    env = _run_env(keys, validation_processes=0)
    police = _feed(tmp_path / "police.jsonl", "police")
    arguments = ("--probation-feed", silent_gateway, "--police-feed", str(police))
    killed = subprocess.Popen(
        [*CLI, "--db", killed_url, "run", *arguments, "--as-of", AS_OF],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _statuses(ledger_url) == ["running"], "the run's start")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=WAIT_SECONDS)
    if postgres:
        _wait_for(lambda: _sessions_of_killed_run(ledger_url) == 0, "the end of its sessions")
    assert _statuses(ledger_url) == ["running"]

    probation = _feed(tmp_path / "probation.jsonl", "probation")
    run_cli(
        *("--db", ledger_url, "run", "--probation-feed", str(probation)),
        *("--police-feed", str(police), "--as-of", AS_OF),
        cwd=tmp_path,
        env=env,
    )

    assert _statuses(ledger_url) == ["interrupted", "succeeded"]
    assert sorted(path.name for path in tmp_path.glob("*.lock")) == []


def _interruptible(arguments: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """The command in a process group of its own that takes Ctrl-C as a terminal's would
    (a test runner started in the background may have been told to ignore it)."""
    return subprocess.Popen(
        [*CLI, *arguments],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )


def test_a_run_interrupted_with_ctrl_c_records_itself_so_and_says_it_in_one_sentence(
    ledger_url: str, tmp_path: Path, silent_gateway: str
) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    env = _run_env(keys, validation_processes=2)
    probation = _feed(tmp_path / "probation.jsonl", "probation")
    feeds = ["--probation-feed", str(probation), "--police-feed", silent_gateway]
    interrupted = _interruptible(
        ["--db", ledger_url, "run", *feeds, "--as-of", AS_OF], tmp_path, env
    )
    try:
        _wait_for(lambda: _statuses(ledger_url) == ["running"], "the run's start")
        time.sleep(1.0)  # into the pull that never ends
        os.killpg(interrupted.pid, signal.SIGINT)
        _, said = interrupted.communicate(timeout=WAIT_SECONDS)
    finally:
        if interrupted.poll() is None:
            os.killpg(interrupted.pid, signal.SIGKILL)
    assert interrupted.returncode == 130
    assert said.strip().splitlines()[-1] == (
        "Interrupted: what was stored before it is kept; run the command again to finish "
        "(a run carries on from the feeds it had stored)."
    )
    assert "Traceback" not in said
    assert "Error" not in said
    assert _statuses(ledger_url) == ["interrupted"]
