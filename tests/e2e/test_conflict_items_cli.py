"""`reconcile list` names the records behind a gender or date-of-birth conflict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feed_records import person, run_args, write_feeds

pytestmark = pytest.mark.e2e
PNC = "1990/0004242E"  # links the conflicting records across the agencies
OTHER_PNC = "1991/0001234A"


def _items(folder: Path, kind: str) -> list[dict[str, object]]:
    output = run_cli("reconcile", "list", "--kind", kind, "--json", cwd=folder).stdout
    return [json.loads(line) for line in output.splitlines()]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("conflicts")
    probation = [
        person("probation", "X100001", pnc=PNC, date_of_birth="1970-01-02", gender="M"),
        # Another person, in no item.
        person(
            "probation",
            "X100002",
            pnc=OTHER_PNC,
            surname="QUIXLEY",
            forenames="ALBERIC",
            date_of_birth="1961-07-08",
        ),
    ]
    police = [
        person("police", "X100001", pnc=PNC, date_of_birth="1971-03-04", gender="F"),
        person("police", "LAN-2", pnc=PNC, date_of_birth="1970-01-02", gender="M"),
    ]
    run_cli(*run_args(*write_feeds(folder, probation, police)), cwd=folder)
    return folder


@pytest.mark.parametrize("kind", ["gender-conflict", "dob-conflict"])
def test_a_conflict_item_names_every_record_of_its_subject_with_its_agency(
    ledger: Path, kind: str
) -> None:
    (item,) = _items(ledger, kind)
    assert item["refs"] == ["police/LAN-2", "police/X100001", "probation/X100001"]
    assert item["subject_id"]
    text = run_cli("reconcile", "list", "--kind", kind, cwd=ledger).stdout
    assert "probation/X100001" in text
