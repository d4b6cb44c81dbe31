"""What `rejects`, `report duplicates` and `export links` leave in the audit log.

Each look at the ledger is a consultation naming what was looked at; a file
written is a disclosure to that file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.test_audit_cli import _disclosures
from tests.e2e.test_reconcile_cli import arms_sync, synced
from tests.e2e.test_reconcile_cli_consultations import _consultations

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after one run of the test feeds (made once for this module)."""
    return synced(tmp_path_factory.mktemp("data-cli-audit"))


@pytest.fixture
def ledger(pristine: Path, tmp_path: Path) -> Path:
    """This test's own copy of that ledger."""
    return Path(shutil.copytree(pristine, tmp_path / "ledger"))


@pytest.mark.parametrize(
    ("command", "purpose", "refs", "detail"),
    [
        (("rejects",), "rejects list", [], None),
        (("rejects", "--json"), "rejects list", [], None),
        (("rejects", "--warnings"), "rejects list", [], "warnings"),
        (
            ("report", "duplicates", "--format", "csv"),
            "report duplicates",
            ["report:duplicates"],
            "csv",
        ),
        (("export", "links"), "export links", ["export:links"], None),
    ],
    ids=["rejects", "rejects json", "rejects warnings", "report", "export links"],
)
def test_each_look_at_the_ledger_is_logged_as_one_consultation(
    ledger: Path, command: tuple[str, ...], purpose: str, refs: list[str], detail: str | None
) -> None:
    """The command leaves one consultation entry saying what was consulted, and how."""
    arms_sync(*command, cwd=ledger)
    [entry] = _consultations(ledger, purpose)
    assert (entry["refs"], entry["detail"]) == (refs, detail)


@pytest.mark.parametrize(
    "command",
    [("export", "links"), ("report", "duplicates", "--format", "json")],
    ids=["export links", "report"],
)
def test_a_links_export_or_report_written_to_a_file_is_a_disclosure_to_it(
    ledger: Path, command: tuple[str, ...]
) -> None:
    """Written to a file, the output is disclosed to that file; printed, it is not."""
    before = _disclosures(ledger)
    arms_sync(*command, "--out", "written.out", cwd=ledger)
    assert _disclosures(ledger)[len(before) :] == [("cli", "file written.out")]
    arms_sync(*command, cwd=ledger)
    assert len(_disclosures(ledger)) == len(before) + 1
