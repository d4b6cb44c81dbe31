"""`arms-sync status` for a deployment without background workers: no broker to check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sync.crypto.keyring import generate_party
from sync.crypto.keys import Party
from tests.conftest import run_cli
from tests.e2e.test_deliver_stage import closed_port_url
from tests.feed_records import run_args
from tests.integration.run_child import start_child
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.e2e

WORKER_VARIABLES = (
    "ARMS_SYNC_BROKER_URL",
    "ARMS_SYNC_PROBATION_FEED",
    "ARMS_SYNC_POLICE_FEED",
    "ARMS_SYNC_PROBATION_GATEWAY",
    "ARMS_SYNC_POLICE_GATEWAY",
    "ARMS_SYNC_PULL_INTERVAL_SECONDS",
)
NO_BROKER_HERE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def in_process_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`--db` of an SQLite ledger kept by `run` alone, in an environment naming no workers."""
    for name in WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    db = ["--db", f"sqlite:///{tmp_path / 'ledger.db'}"]
    run_cli(*db, *run_args(*write_feeds(tmp_path)), cwd=tmp_path)
    return db


def test_a_ledger_only_run_keeps_has_no_broker_to_check(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    result = run_cli(*in_process_ledger, "status", "--json", cwd=tmp_path, check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert (report["broker"], report["queues"], report["problems"]) == ("not used", None, [])
    assert {agency["agency"] for agency in report["agencies"] if agency["last_pull"]} == {
        "probation",
        "police",
    }
    shown = run_cli(*in_process_ledger, "status", cwd=tmp_path).stdout.splitlines()
    assert shown[0] == (
        "queues: none (no background workers: no broker, feeds or gateways set, no cycle run)"
    )
    assert [line.split(",")[0].rsplit(" ", 1)[0] for line in shown[1:3]] == [
        "probation: last whole pull",
        "police: last whole pull",
    ]


@pytest.mark.parametrize(
    ("interval", "problems"),
    [
        (None, []),  # no schedule given: nothing to judge the pulls against
        ("86400", []),
        ("0.001", ["the last probation pull is stale", "the last police pull is stale"]),
    ],
)
def test_a_ledger_only_run_keeps_has_its_pulls_judged_once_given_its_schedule(
    in_process_ledger: list[str], tmp_path: Path, interval: str | None, problems: list[str]
) -> None:
    env = {**os.environ}
    if interval is not None:
        env["ARMS_SYNC_PULL_INTERVAL_SECONDS"] = interval
    result = run_cli(*in_process_ledger, "status", "--json", cwd=tmp_path, env=env, check=False)
    report = json.loads(result.stdout)
    assert report["problems"] == problems
    assert result.returncode == (1 if problems else 0)
    assert report["broker"] == "not used"  # the schedule alone brings no broker to check


def test_a_run_in_flight_is_shown_and_one_whose_process_was_killed_is_a_problem(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    child = start_child(in_process_ledger[1])
    try:
        alive = run_cli(*in_process_ledger, "status", "--json", cwd=tmp_path, check=False)
        report = json.loads(alive.stdout)
        assert alive.returncode == 0, alive.stderr
        assert [run["run_id"] for run in report["runs_in_progress"]] == [2]
        assert report["last_run"]["run_id"] == 1
        shown = run_cli(*in_process_ledger, "status", cwd=tmp_path).stdout
        assert "\nrun in progress: 2 since " in shown
        child.kill()
    finally:
        child.close()
    for _ in range(2):  # status records nothing: it says the same until the next run
        killed = run_cli(*in_process_ledger, "status", "--json", cwd=tmp_path, check=False)
        report = json.loads(killed.stdout)
        assert killed.returncode == 1
        assert report["runs_in_progress"] == []
        assert (report["last_run"]["run_id"], report["last_run"]["status"]) == (1, "succeeded")
        [problem] = report["problems"]
        assert problem.startswith("run 2, as of 2026-11-28, started at ")
        assert "ended without recording an outcome (its process is gone" in problem


def test_a_broker_set_for_the_deployment_is_checked(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    env = {**os.environ, "ARMS_SYNC_BROKER_URL": NO_BROKER_HERE}
    result = run_cli(*in_process_ledger, "status", "--json", cwd=tmp_path, env=env, check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert (report["broker"], report["queues"]) == ("unreachable", None)
    assert report["problems"] == [
        "the broker at 127.0.0.1:1 cannot be reached (OperationalError); start it, or check "
        "ARMS_SYNC_BROKER_URL"
    ]


def test_a_feed_set_for_the_workers_makes_the_broker_checked(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    env = {**os.environ, "ARMS_SYNC_PROBATION_FEED": str(tmp_path / "probation.jsonl")}
    result = run_cli(*in_process_ledger, "status", "--json", cwd=tmp_path, env=env, check=False)
    # The default broker (127.0.0.1:6379, the test suite's Redis) is reachable.
    assert json.loads(result.stdout)["broker"] == "reachable", result.stderr


@pytest.fixture
def keyed_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Path]:
    """`--db` of an SQLite ledger a run with keys (every party's, in one key directory)
    filled and left notices in, in an environment naming no workers; and the keys."""
    for name in WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    keys = tmp_path / "keys"
    for party in Party:
        generate_party(keys, party)
    db = ["--db", f"sqlite:///{tmp_path / 'ledger.db'}"]
    run_cli(*db, *run_args(*write_feeds(tmp_path)), "--keys", str(keys), cwd=tmp_path)
    return db, keys


def test_notices_no_gateway_takes_are_named_with_the_setting_they_wait_for(
    keyed_ledger: tuple[list[str], Path], tmp_path: Path
) -> None:
    db, keys = keyed_ledger
    # Any notice batch is past three delivery intervals of a millisecond.
    env = {
        **os.environ,
        "ARMS_SYNC_KEYS_DIR": str(keys),
        "ARMS_SYNC_DELIVERY_INTERVAL_SECONDS": "0.001",
    }
    result = run_cli(*db, "status", cwd=tmp_path, env=env, check=False)
    assert result.returncode == 1
    shown = result.stdout.splitlines()
    assert (
        "problem: notices to police are waiting too long, with no gateway set to take them "
        "(ARMS_SYNC_POLICE_GATEWAY)" in shown
    )
    assert any(
        line.startswith("police: ") and ", oldest notices waiting since " in line for line in shown
    )
    gateway_set = {**env, "ARMS_SYNC_POLICE_GATEWAY": "https://police.example/"}
    report = run_cli(*db, "status", "--json", cwd=tmp_path, env=gateway_set, check=False)
    assert "notices to police are waiting too long" in json.loads(report.stdout)["problems"]


def test_notices_held_for_a_key_revoked_say_so_and_what_to_do(
    keyed_ledger: tuple[list[str], Path], tmp_path: Path
) -> None:
    """The police's keys were revoked after the run queued their notices: none is sent until
    they have new ones, and `status` says so on the line, in `--json` and in the problem,
    with the command that mends it. One key directory holds every party's keys (as the demo
    and the compose file keep them), so the police's new keys are made here, not imported."""
    db, keys = keyed_ledger
    listed = run_cli(*db, "keys", "list", "--dir", str(keys), "--json", cwd=tmp_path).stdout
    police_key = next(
        key["key_id"] for key in map(json.loads, listed.splitlines()) if key["party"] == "police"
    )
    revoke = ("keys", "revoke", "--dir", str(keys), "--party", "police", "--key-id", police_key)
    run_cli(*db, *revoke, cwd=tmp_path)
    env = {**os.environ, "ARMS_SYNC_KEYS_DIR": str(keys)}  # not yet waiting too long
    held = (
        "police has no active encryption key; rotate to make one with "
        "`arms-sync keys rotate --party police`"
    )

    status = run_cli(*db, "status", "--json", cwd=tmp_path, env=env, check=False)
    report = json.loads(status.stdout)
    police = [entry for entry in report["agencies"] if entry["agency"] == "police"]
    assert police[0]["held"] == f"{held}."
    assert police[0]["failed_attempts"] == 0
    assert status.returncode == 1  # held for keys is a problem at once: only an operator mends it
    assert report["problems"] == [
        f"notices to police are held unsent: {held}, with no gateway set to take them "
        "(ARMS_SYNC_POLICE_GATEWAY)"
    ]
    shown = run_cli(*db, "status", cwd=tmp_path, env=env, check=False).stdout.splitlines()
    police_lines = [line for line in shown if line.startswith("police: ")]
    assert police_lines[0].endswith(f"; held unsent: {held}")


def test_the_latest_run_is_shown_and_one_that_succeeded_is_no_problem(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    report = json.loads(run_cli(*in_process_ledger, "status", "--json", cwd=tmp_path).stdout)
    assert report["last_run"]["run_id"] == 1
    assert (report["last_run"]["status"], report["last_run"]["kind"]) == (
        "succeeded",
        "in_process",
    )
    assert report["last_run"]["as_of"] == "2026-11-28"
    shown = run_cli(*in_process_ledger, "status", cwd=tmp_path).stdout.splitlines()
    assert f"last run: 1 succeeded at {report['last_run']['finished_at']}, as of 2026-11-28" in (
        shown
    )


def test_a_partial_run_shows_the_sentence_of_the_feed_it_could_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose police gateway did not answer is partial: `status` names that feed and
    why, in the sentence the run stored, and counts it no problem of its own (a stale
    pull is one, in time)."""
    for name in WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    keys = tmp_path / "keys"
    for party in Party:
        generate_party(keys, party)
    env = {
        **os.environ,
        "ARMS_SYNC_KEYS_DIR": str(keys),
        "ARMS_SYNC_GATEWAY_CLIENT_SECRET": "unused",
        "ARMS_SYNC_GATEWAY_RETRY_ATTEMPTS": "1",
    }
    db = ["--db", f"sqlite:///{tmp_path / 'ledger.db'}"]
    probation, _police = write_feeds(tmp_path)
    feeds = ["--probation-feed", str(probation), "--police-feed", closed_port_url()]
    run_cli(*db, "run", *feeds, "--as-of", "2026-11-28", cwd=tmp_path, env=env, check=False)

    report = json.loads(run_cli(*db, "status", "--json", cwd=tmp_path, env=env).stdout)

    assert report["last_run"]["status"] == "partial"
    told = report["last_run"]["feed_errors"]
    assert list(told) == ["police"]
    assert told["police"].startswith("the police gateway did not answer")
    shown = run_cli(*db, "status", cwd=tmp_path, env=env).stdout.splitlines()
    assert f"as of 2026-11-28; its police feed was not read whole: {told['police']}" in (
        next(line for line in shown if line.startswith("last run: "))
    )


def test_a_latest_run_that_failed_is_a_problem_until_a_run_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that stored the feeds but failed before its decisions (here: a key ring
    without the police's keys, with notices for them) leaves the ledger's decisions
    older than its records: `status` says so and exits 1, until a run succeeds."""
    for name in WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    keys = tmp_path / "keys"
    for party in (Party.HUB, Party.PROBATION):
        generate_party(keys, party)
    db = ["--db", f"sqlite:///{tmp_path / 'ledger.db'}"]
    feeds = run_args(*write_feeds(tmp_path))
    failed = run_cli(*db, *feeds, "--keys", str(keys), cwd=tmp_path, check=False)
    assert failed.returncode == 2, failed.stderr
    env = {**os.environ, "ARMS_SYNC_KEYS_DIR": str(keys)}

    result = run_cli(*db, "status", "--json", cwd=tmp_path, env=env, check=False)

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["last_run"]["status"] == "failed"
    assert report["problems"] == [
        f"the latest run, 1, failed at {report['last_run']['finished_at']} without storing "
        "its decisions: mend what stopped it, as its command said, and run again"
    ]
    generate_party(keys, Party.POLICE)
    run_cli(*db, *feeds, "--keys", str(keys), cwd=tmp_path)
    mended = run_cli(*db, "status", "--json", cwd=tmp_path, env=env)
    assert json.loads(mended.stdout)["last_run"]["status"] == "succeeded"
    assert json.loads(mended.stdout)["problems"] == []
