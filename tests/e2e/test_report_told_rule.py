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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from sync.crypto.envelope import open_envelope
from sync.crypto.keyring import generate_party, load_keyring
from sync.crypto.keys import Party
from sync.ledger import schema
from tests.conftest import run_cli
from tests.feed_records import (
    STAMP,
    Record,
    completed_assessment,
    person,
    run_args,
    write_feeds,
)

pytestmark = pytest.mark.e2e

PNC = "1990/0004242E"
EVE, BIRTHDAY = "2018-06-14", "2018-06-15"


@pytest.fixture(scope="module")
def ledger_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("told")
    probation = [person("probation", "X200001", pnc=PNC, date_of_birth="2000-06-15")]
    police: list[Record] = [
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
    keys = folder / "keys"
    for party in Party:
        generate_party(keys, party)
    env = {"ARMS_SYNC_KEYS_DIR": str(keys)}
    run_cli(*run_args(*write_feeds(folder, probation, police)), cwd=folder, env=env)
    return folder


def _police_notices(folder: Path) -> list[dict[str, Any]]:
    """Every notice the run queued for the police, opened with the police's keys."""
    police = load_keyring(folder / "keys", Party.POLICE)
    engine = create_engine(f"sqlite:///{folder / 'arms-sync.db'}")
    table = schema.outbox
    try:
        with engine.connect() as conn:
            query = select(table.c.envelope).where(table.c.agency == "police")
            envelopes = list(conn.execute(query).scalars())
    finally:
        engine.dispose()
    now = datetime.now(UTC)
    notices: list[dict[str, Any]] = []
    for envelope in envelopes:
        opened = open_envelope(envelope, keyring=police, now=now, max_skew=None, replay_guard=None)
        notices.extend(json.loads(opened.plaintext)["notices"])
    return notices


def test_the_police_flag_notices_give_the_rule_of_their_ownership_notice(
    ledger_folder: Path,
) -> None:
    notices = _police_notices(ledger_folder)
    (ownership,) = [n for n in notices if n["kind"] == "ownership"]
    flags = [n for n in notices if n["kind"] == "flag"]
    assert {segment["rule"] for segment in ownership["segments"]} == {
        "NONE-NOT-IN-SCOPE",
        "POLICE-REGISTERED",
    }
    assert BIRTHDAY not in {segment["from"] for segment in ownership["segments"]}
    assert _rules(flags) == {"PA-EVE": "NONE-NOT-IN-SCOPE", "PA-DAY": "NONE-NOT-IN-SCOPE"}


def _report(folder: Path, fmt: str, *view: str) -> str:
    env = {"ARMS_SYNC_KEYS_DIR": str(folder / "keys")}
    return run_cli("report", "duplicates", "--format", fmt, *view, cwd=folder, env=env).stdout


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
