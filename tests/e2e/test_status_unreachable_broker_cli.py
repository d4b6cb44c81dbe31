"""`arms-sync status` as a user reads it when the deployment's broker cannot be reached."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.e2e import test_status_cli as status_cli
from tests.e2e.test_status_cli import NO_BROKER_HERE

pytestmark = pytest.mark.e2e

in_process_ledger = status_cli.in_process_ledger


def test_an_unreachable_broker_is_shown_as_such_and_is_a_problem(
    in_process_ledger: list[str], tmp_path: Path
) -> None:
    """The queues line says `unreachable`; the problem names the error's class; exit 1."""
    env = {**os.environ, "ARMS_SYNC_BROKER_URL": NO_BROKER_HERE}
    result = run_cli(*in_process_ledger, "status", cwd=tmp_path, env=env, check=False)
    shown = result.stdout.splitlines()
    assert result.returncode == 1
    assert shown[0] == "queues: unreachable"
    assert (
        "problem: the broker at 127.0.0.1:1 cannot be reached (OperationalError); start it, "
        "or check ARMS_SYNC_BROKER_URL"
    ) in shown
