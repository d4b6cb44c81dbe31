"""`reconcile link` and `unlink` read the person records an operator names as the feeds
read them, and a refusal says which of the two records is missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.test_reconcile_cli import OPERATOR, REASON, arms_sync, synced

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after one run of the test feeds (made once for this module)."""
    return synced(tmp_path_factory.mktemp("reconcile-references"))


@pytest.fixture
def ledger(pristine: Path, tmp_path: Path) -> Path:
    """This test's own copy of that ledger."""
    return Path(shutil.copytree(pristine, tmp_path / "ledger"))


def _preview_refs(ledger: Path) -> list[str]:
    lines = arms_sync("audit", "export", cwd=ledger).stdout.splitlines()
    [entry] = [e for e in map(json.loads, lines) if e["purpose"].startswith("preview: ")]
    return [ref for ref in entry["refs"] if ref.startswith("person:")]


@pytest.mark.parametrize("act", ["link", "unlink"])
def test_a_crn_in_lower_case_names_the_record_the_feed_stored(ledger: Path, act: str) -> None:
    """identifiers.md: a CRN is upper-case after trimming, in a feed and in an act alike."""
    result = arms_sync(
        "reconcile", act, "probation: p100002 ", "police/LAN-1", *REASON, cwd=ledger, env=OPERATOR
    )
    assert result.stdout.startswith(f"Preview of {act}")
    assert _preview_refs(ledger) == ["person:police/LAN-1", "person:probation/P100002"]


@pytest.mark.parametrize(
    ("first", "second", "sentence"),
    [
        ("probation:P100001", "probation:Z999999", "The second person record given (probation)"),
        ("probation/Z999999", "probation:P100001", "The first person record given (probation)"),
        ("police:NOBODY-1", "police:LAN-1", "The first person record given (police)"),
        ("probation:Z999999", "police:LAN-1", "The probation person record given"),
        ("probation:P100001", "police:NOBODY-1", "The police person record given"),
    ],
)
def test_a_missing_record_is_told_apart_from_the_other_without_repeating_it(
    ledger: Path, first: str, second: str, sentence: str
) -> None:
    """Two records of one agency are told apart by their places; of two agencies, by agency."""
    result = arms_sync(
        "reconcile", "link", first, second, *REASON, cwd=ledger, env=OPERATOR, check=False
    )
    assert (result.returncode, result.stderr) == (2, f"Error: {sentence} is not in the ledger.\n")
    assert "Z999999" not in result.stderr
    assert "NOBODY" not in result.stderr
