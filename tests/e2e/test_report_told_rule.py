"""`report duplicates --for`: an agency's view never names a rule its ownership notice hides.

The police hold no date of birth; probation's gives the 18th birthday on which
the `OUT-UNDER-18` segment ends. The police notices tell that segment as part
of the next one, so the police view of flags on the eve of the birthday and on
it gives them the same rule, and does not pin the other agency's date of birth.
The national report gives the rules as decided.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.feed_records import STAMP, completed_assessment, person, run_args, write_feeds

pytestmark = pytest.mark.e2e

PNC = "1990/0004242E"
EVE, BIRTHDAY = "2018-06-14", "2018-06-15"


@pytest.fixture(scope="module")
def ledger_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("told")
    probation = [person("probation", "X200001", pnc=PNC, date_of_birth="2000-06-15")]
    police = [
        person("police", "P-1", pnc=PNC, date_of_birth=None),
        {
            "type": "registration",
            "agency": "police",
            "id": "R-1",
            "person_id": "P-1",
            "start": "2019-01-01",
            "end": None,
            "updated_at": STAMP,
        },
        completed_assessment("police", "PA-EVE", "P-1", EVE),
        completed_assessment("police", "PA-DAY", "P-1", BIRTHDAY),
    ]
    run_cli(*run_args(*write_feeds(folder, probation, police)), cwd=folder)
    return folder


def _report(folder: Path, fmt: str, *view: str) -> str:
    return run_cli("report", "duplicates", "--format", fmt, *view, cwd=folder).stdout


def _rules(flags: list[dict[str, Any]]) -> dict[str, str]:
    return {flag["assessment_id"]: flag["rule_at_reference_date"] for flag in flags}


def test_the_police_view_gives_both_flags_the_rule_the_police_are_told(
    ledger_folder: Path,
) -> None:
    report = json.loads(_report(ledger_folder, "json", "--for", "police"))
    assert _rules(report["flags"]) == {
        "PA-EVE": "NONE-NOT-IN-SCOPE",
        "PA-DAY": "NONE-NOT-IN-SCOPE",
    }
    assert all("rule_told" not in flag for flag in report["flags"])


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
def test_no_format_of_the_police_view_names_the_childhood_rule(
    ledger_folder: Path, fmt: str
) -> None:
    assert "OUT-UNDER-18" not in _report(ledger_folder, fmt, "--for", "police")


def test_the_police_view_in_csv_keeps_its_columns(ledger_folder: Path) -> None:
    national = list(csv.DictReader(io.StringIO(_report(ledger_folder, "csv"))))
    police = list(csv.DictReader(io.StringIO(_report(ledger_folder, "csv", "--for", "police"))))
    assert list(police[0]) == list(national[0])
    assert {row["rule_at_reference_date"] for row in police} == {"NONE-NOT-IN-SCOPE"}


def test_the_national_report_gives_the_rules_as_decided(ledger_folder: Path) -> None:
    report = json.loads(_report(ledger_folder, "json"))
    assert _rules(report["flags"]) == {"PA-EVE": "OUT-UNDER-18", "PA-DAY": "NONE-NOT-IN-SCOPE"}
