"""`arms-sync reconcile`: the consultations it logs, what `unlink` says, what it refuses first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import cast

import pytest

from tests.e2e.test_reconcile_cli import OPERATOR, REASON, arms_sync, subjects, synced

pytestmark = pytest.mark.e2e

STAY = "The two records stay in one subject through other links."


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after one run of the test feeds (made once for this module)."""
    return synced(tmp_path_factory.mktemp("reconcile-consultations"))


@pytest.fixture
def ledger(pristine: Path, tmp_path: Path) -> Path:
    """This test's own copy of that ledger."""
    return Path(shutil.copytree(pristine, tmp_path / "ledger"))


def _consultations(ledger: Path, purpose: str) -> list[dict[str, object]]:
    lines = arms_sync("audit", "export", cwd=ledger).stdout.splitlines()
    return [
        entry
        for entry in map(json.loads, lines)
        if entry["kind"] == "consultation" and entry["purpose"] == purpose
    ]


def test_a_listing_is_logged_under_the_operator_given(ledger: Path) -> None:
    """`reconcile list --operator NAME` is a consultation by operator:NAME."""
    arms_sync("reconcile", "list", "--operator", "REVIEWER", cwd=ledger)
    [entry] = _consultations(ledger, "reconcile list")
    assert entry["actor"] == "operator:REVIEWER"


def test_showing_a_subject_logs_the_subject_and_each_record_shown(ledger: Path) -> None:
    """The consultation names the subject and both agencies' records, by reference only."""
    subject = subjects(ledger)["P100001"]
    arms_sync("reconcile", "show", subject, cwd=ledger, env=OPERATOR)
    [entry] = _consultations(ledger, "reconcile show")
    assert entry["actor"] == "operator:jsmith"
    assert sorted(cast(list[str], entry["refs"])) == sorted(
        [f"subject:{subject}", "person:probation/P100001", "person:police/LAN-1"]
    )


def test_unlink_says_when_other_links_keep_the_records_together(ledger: Path) -> None:
    """Unlinking a pair still joined through other records says they stay in one subject."""
    pair = ("probation:P100002", "police:LAN-2")
    arms_sync("reconcile", "link", *pair, *REASON, "--apply", cwd=ledger, env=OPERATOR)
    apart = arms_sync("reconcile", "unlink", *pair, *REASON, cwd=ledger, env=OPERATOR)
    for other in (("probation:P100002", "police:LAN-1"), ("probation:P100001", "police:LAN-2")):
        arms_sync("reconcile", "link", *other, *REASON, "--apply", cwd=ledger, env=OPERATOR)

    joined = arms_sync(
        "reconcile", "unlink", "probation:P100001", "police:LAN-1", *REASON,
        cwd=ledger, env=OPERATOR,
    )  # fmt: skip

    assert apart.stdout.startswith("Preview of unlink")
    assert STAY not in apart.stdout
    assert joined.stdout.splitlines()[-1] == STAY


def test_a_missing_operator_is_refused_before_the_records_are_read(ledger: Path) -> None:
    """Without an operator, an act on two records says so, even if a record is malformed."""
    result = arms_sync(
        "reconcile", "unlink", "P100001", "police:LAN-1", *REASON, cwd=ledger, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Error: An operator is required")
