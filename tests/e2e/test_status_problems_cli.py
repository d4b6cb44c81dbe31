"""`arms-sync status` problems and waits, as a user sees them in `--json`.

Only a configured agency's pull can be stale, and one never pulled is; a
wait the feed gateway asked for is shown while it lasts, with the command
that clears it, and is gone once cleared; notices waiting
too long for an agency that was delivered to before do not ask for a
gateway to be set; the failed attempts of the batch next in line, and why the
last one failed, are shown.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine

from sync.app import App
from sync.ledger import schema
from sync.settings import load_settings
from tests.conftest import REDIS_URL, run_cli
from tests.e2e import test_status_cli as status_cli

pytestmark = pytest.mark.e2e

in_process_ledger = status_cli.in_process_ledger
LONG_AGO = timedelta(hours=2)


@pytest.fixture(autouse=True)
def empty_broker() -> None:
    """This test process's Redis database emptied first: a task message another test
    left there would be work no worker takes, a problem of its own."""
    redis.Redis.from_url(REDIS_URL).flushdb()


def status_json(db: list[str], cwd: Path, **env: str) -> tuple[int, dict[str, Any]]:
    """`arms-sync status --json` with extra settings: exit status and report."""
    result = run_cli(*db, "status", "--json", cwd=cwd, env={**os.environ, **env}, check=False)
    return result.returncode, json.loads(result.stdout)


def write_rows(db: list[str], table: Any, rows: list[dict[str, Any]]) -> None:
    """Rows written straight into the ledger named by `db`."""
    engine = create_engine(db[1])
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
    finally:
        engine.dispose()


def police_batch(digit: str, position: int, created: datetime, **columns: Any) -> dict[str, Any]:
    """An outbox row of one notice for the police, made at `created`, waiting unless
    `columns` say otherwise."""
    return {
        "batch_id": digit * 32,
        "agency": "police",
        "position": position,
        "envelope": b"",
        "sealed_batch": b"",
        "notice_count": 1,
        "created_at": created,
        "attempts": 0,
        "next_attempt_at": created,
        "delivered_at": None,
        **columns,
    }


def agency(report: dict[str, Any], name: str) -> dict[str, Any]:
    """One agency's entry of the report."""
    found: list[dict[str, Any]] = [entry for entry in report["agencies"] if entry["agency"] == name]
    assert len(found) == 1
    return found[0]


def test_only_a_configured_agencys_pull_can_be_stale(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    """Both feeds were read long ago in pull intervals; only the probation feed is set."""
    code, report = status_json(
        in_process_ledger,
        tmp_path,
        ARMS_SYNC_BROKER_URL=REDIS_URL,
        ARMS_SYNC_PROBATION_FEED=str(tmp_path / "probation.jsonl"),
        ARMS_SYNC_PULL_INTERVAL_SECONDS="0.001",
    )
    assert code == 1
    assert report["problems"] == ["the last probation pull is stale"]


def test_a_configured_agency_never_pulled_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment whose workers never read the police feed says so."""
    for name in status_cli.WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    app = App(load_settings(None, database_url=url))
    try:
        app.ledger.ensure_schema()
    finally:
        app.close()
    code, report = status_json(
        ["--db", url],
        tmp_path,
        ARMS_SYNC_BROKER_URL=REDIS_URL,
        ARMS_SYNC_POLICE_FEED="https://police.example/feed",
    )
    assert code == 1
    assert report["problems"] == ["the last police pull is stale"]
    assert agency(report, "police")["last_pull"] is None


def test_a_wait_the_feed_gateway_asked_for_is_shown_while_it_lasts(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    """A wait that has ended is no longer shown; one still to come is, and is no problem."""
    now = datetime.now(UTC)
    ahead = (now + LONG_AGO).replace(microsecond=0)
    write_rows(
        in_process_ledger,
        schema.feed_waits,
        [
            {
                "agency": "police",
                "source": "https://police.example/feed",
                "not_before": ahead,
                "asked_at": now,
            },
            {
                "agency": "probation",
                "source": "https://probation.example/feed",
                "not_before": now - LONG_AGO,
                "asked_at": now - LONG_AGO,
            },
        ],
    )
    code, report = status_json(in_process_ledger, tmp_path)
    assert code == 0
    assert agency(report, "police")["pull_not_before"] == ahead.isoformat()
    assert agency(report, "probation")["pull_not_before"] is None


def test_an_operator_clears_a_wait_and_status_no_longer_shows_it(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    ahead = (now + LONG_AGO).replace(second=0, microsecond=0)
    waits = [("police", ahead), ("probation", now - LONG_AGO)]
    write_rows(
        in_process_ledger,
        schema.feed_waits,
        [
            {"agency": name, "source": f"{name}.example:443", "not_before": at, "asked_at": now}
            for name, at in waits
        ],
    )
    shown = run_cli(*in_process_ledger, "status", cwd=tmp_path).stdout
    assert f"before {ahead.isoformat()} (`arms-sync ledger clear-wait police`" in shown

    def clear(name: str) -> str:
        command = ("ledger", "clear-wait", name, "--operator", "a.clerk")
        return run_cli(*in_process_ledger, *command, cwd=tmp_path).stdout.strip()

    assert clear("police") == (
        "Cleared the police gateway's wait (it asked not to be called for its feed before "
        f"{ahead:%Y-%m-%d %H:%M:%S} UTC): the next run or pull calls it."
    )
    nothing = "gateway's feed has no wait that still lasts; nothing to clear."
    assert clear("police") == f"The police {nothing}"
    assert clear("probation") == f"The probation {nothing}"  # its wait is over
    _, report = status_json(in_process_ledger, tmp_path)
    assert agency(report, "police")["pull_not_before"] is None
    assert "clear-wait" not in run_cli(*in_process_ledger, "status", cwd=tmp_path).stdout


def test_notices_waiting_for_an_agency_delivered_to_before_need_no_gateway_named(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    """The gateway was set once (a batch went); the problem is the wait, not the setting."""
    now = datetime.now(UTC)
    write_rows(
        in_process_ledger,
        schema.outbox,
        [
            police_batch("1", 0, now - LONG_AGO, delivered_at=now - LONG_AGO),
            police_batch("2", 1, now - LONG_AGO),
        ],
    )
    code, report = status_json(in_process_ledger, tmp_path, ARMS_SYNC_DELIVERY_INTERVAL_SECONDS="1")
    assert code == 1
    assert report["problems"] == ["notices to police are waiting too long"]


def test_why_the_batch_next_in_line_failed_is_shown(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    """A batch the gateway keeps refusing: the problem and the line say why, with the count."""
    now = datetime.now(UTC)
    refused_thrice = police_batch(
        "3", 0, now - LONG_AGO, attempts=3, last_error="EnvelopeRefusedError"
    )
    write_rows(in_process_ledger, schema.outbox, [refused_thrice])
    env = {
        **os.environ,
        "ARMS_SYNC_DELIVERY_INTERVAL_SECONDS": "1",
        "ARMS_SYNC_POLICE_GATEWAY": "https://police.example/",
        "ARMS_SYNC_BROKER_URL": REDIS_URL,  # a gateway set means workers: the test's broker
    }
    code, report = status_json(in_process_ledger, tmp_path, **env)
    refused = "its gateway refused the envelope for its format, origin or keys"
    assert code == 1
    problem = f"notices to police are waiting too long (last attempt: {refused})"
    assert report["problems"] == [problem]
    assert agency(report, "police")["failed_attempts"] == 3
    assert agency(report, "police")["last_failure"] == refused
    assert agency(report, "probation")["failed_attempts"] == 0
    assert agency(report, "probation")["last_failure"] is None

    shown = run_cli(*in_process_ledger, "status", cwd=tmp_path, env=env, check=False)
    police = [line for line in shown.stdout.splitlines() if line.startswith("police: ")]
    assert len(police) == 1
    assert police[0].endswith(f"after 3 failed attempts (last: {refused})")


def test_a_batch_that_failed_while_no_gateway_is_set_now_names_the_setting_too(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    """The gateway was unset (or misspelt) after the batch had failed, and none was ever
    delivered to: the problem says why the last attempt failed and what setting is missing."""
    now = datetime.now(UTC)
    failed = police_batch("4", 0, now - LONG_AGO, attempts=1, last_error="RetryableGatewayError")
    write_rows(in_process_ledger, schema.outbox, [failed])
    code, report = status_json(in_process_ledger, tmp_path, ARMS_SYNC_DELIVERY_INTERVAL_SECONDS="1")
    assert code == 1
    assert report["problems"] == [
        "notices to police are waiting too long (last attempt: its gateway could not be "
        "reached or failed), with no gateway set to take them (ARMS_SYNC_POLICE_GATEWAY)"
    ]
    shown = run_cli(*in_process_ledger, "status", cwd=tmp_path, check=False).stdout
    (police,) = [line for line in shown.splitlines() if line.startswith("police: ")]
    assert police.endswith(
        "after 1 failed attempt (last: its gateway could not be reached or failed)"
    )
