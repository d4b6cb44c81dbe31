"""`report duplicates` gives a manager what each flag was raised on, in every format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

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


def _licence(start: str, end: str) -> Record:
    return {
        "type": "supervision",
        "agency": "probation",
        "id": "S-1",
        "person_id": "W900000",
        "kind": "licence",
        "offence": "sexual",
        "start": start,
        "end": end,
        "updated_at": STAMP,
    }


def _registration() -> Record:
    return {
        "type": "registration",
        "agency": "police",
        "id": "R-1",
        "person_id": "P-1",
        "start": "2019-01-01",
        "end": None,
        "updated_at": STAMP,
    }


def _report(cwd: Path, fmt: str) -> str:
    return run_cli("report", "duplicates", "--format", fmt, cwd=cwd).stdout


def test_an_in_progress_alert_shows_the_owner_on_the_as_of_date(tmp_path: Path) -> None:
    """Police work begun while the police owned the case, still going once a licence began."""
    probation = [person("probation", "W900000", pnc=PNC), _licence("2025-03-01", "2027-02-28")]
    police = [
        person("police", "P-1", pnc=PNC),
        _registration(),
        completed_assessment(
            "police", "PA-1", "P-1", "2024-01-10", status="in_progress", completed_on=None
        ),
    ]
    run_cli(*run_args(*write_feeds(tmp_path, probation, police)), cwd=tmp_path)

    (flag,) = json.loads(_report(tmp_path, "json"))["flags"]
    assert flag["kind"] == "in_progress_by_non_owner"
    assert (flag["owner_at_reference_date"], flag["rule_at_reference_date"]) == (
        "police",
        "POLICE-REGISTERED",
    )
    assert (flag["owner_at_as_of"], flag["rule_at_as_of"]) == ("probation", "PROB-SEXUAL")

    (row,) = csv.DictReader(io.StringIO(_report(tmp_path, "csv")))
    assert (row["owner_at_as_of"], row["rule_at_as_of"]) == ("probation", "PROB-SEXUAL")

    html = _report(tmp_path, "html")
    assert "on 2026-11-28: Probation" in html
    assert "PROB-SEXUAL" in html


def test_other_flags_have_no_owner_on_the_as_of_date(tmp_path: Path) -> None:
    probation = [person("probation", "W900000", pnc=PNC), _licence("2025-03-01", "2027-02-28")]
    police = [
        person("police", "P-1", pnc=PNC),
        _registration(),
        completed_assessment("police", "PA-1", "P-1", "2025-05-10"),
    ]
    run_cli(*run_args(*write_feeds(tmp_path, probation, police)), cwd=tmp_path)

    (flag,) = json.loads(_report(tmp_path, "json"))["flags"]
    assert flag["kind"] == "assessed_by_non_owner"
    assert (flag["owner_at_as_of"], flag["rule_at_as_of"]) == (None, None)


def _run_recalled_case(tmp_path: Path) -> None:
    """Both agencies assessed while the man was recalled to custody: neither owned him."""
    custody: Record = {
        "type": "custody",
        "agency": "probation",
        "id": "C-1",
        "person_id": "W900000",
        "start": "2025-05-01",
        "end": "2025-06-15",
        "updated_at": STAMP,
    }
    probation = [
        person("probation", "W900000", pnc=PNC),
        _licence("2025-03-01", "2027-02-28"),
        custody,
        completed_assessment("probation", "A-1", "W900000", "2025-05-20"),
    ]
    police = [
        person("police", "P-1", pnc=PNC),
        _registration(),
        completed_assessment("police", "PA-1", "P-1", "2025-05-10"),
    ]
    run_cli(*run_args(*write_feeds(tmp_path, probation, police)), cwd=tmp_path)


def test_a_duplicate_names_both_assessments_redundant_when_both_are(tmp_path: Path) -> None:
    """Both agencies assessed while the man was recalled to custody: neither owned him."""
    _run_recalled_case(tmp_path)

    area = ("--area", "LANC")  # the police force's flags only
    report = run_cli("report", "duplicates", "--format", "json", *area, cwd=tmp_path).stdout
    (duplicate,) = [f for f in json.loads(report)["flags"] if f["kind"] == "duplicate"]
    assert duplicate["redundant"] is True
    assert duplicate["counterpart"]["assessment_id"] == "A-1"
    assert duplicate["counterpart"]["redundant"] is True
    table = run_cli("report", "duplicates", "--format", "csv", *area, cwd=tmp_path).stdout
    (row,) = [r for r in csv.DictReader(io.StringIO(table)) if r["kind"] == "duplicate"]
    assert row["counterpart_redundant"] == "true"


def test_an_area_no_flag_is_in_is_warned_of_and_the_report_still_written(tmp_path: Path) -> None:
    _run_recalled_case(tmp_path)
    report = ("report", "duplicates", "--format", "json")

    known = run_cli(*report, "--area", "lanc", cwd=tmp_path)
    mistyped = run_cli(*report, "--area", "LANX", cwd=tmp_path)

    assert known.stderr == ""
    assert json.loads(known.stdout)["flags"]
    assert json.loads(mistyped.stdout)["flags"] == []
    assert mistyped.stderr.strip() == (
        "Warning: no flag in the ledger is in area LANX; areas with flags: LANC, NW."
    )


def test_an_agency_s_view_lists_only_the_areas_of_its_own_flags(tmp_path: Path) -> None:
    _run_recalled_case(tmp_path)
    report = ("report", "duplicates", "--format", "json", "--area", "LANX")

    for_police = run_cli(*report, "--for", "police", cwd=tmp_path)
    of_probation = run_cli(*report, "--agency", "probation", cwd=tmp_path)

    assert for_police.stderr.strip() == (
        "Warning: no police flag in the ledger is in area LANX; areas with police flags: LANC."
    )
    assert of_probation.stderr.strip() == (
        "Warning: no probation flag in the ledger is in area LANX; areas with probation flags: NW."
    )


def test_an_agency_s_view_filtered_to_the_other_agency_lists_only_its_own_areas(
    tmp_path: Path,
) -> None:
    """The police view asked for probation's assessments shows no flag, and its warning
    names the police areas, never probation's."""
    _run_recalled_case(tmp_path)
    report = ("report", "duplicates", "--format", "json", "--area", "LANX")

    crossed = run_cli(*report, "--for", "police", "--agency", "probation", cwd=tmp_path)

    assert json.loads(crossed.stdout)["flags"] == []
    assert crossed.stderr.splitlines()[1:] == [
        "Warning: no police flag in the ledger is in area LANX; areas with police flags: LANC."
    ]


def test_an_agency_s_view_filtered_to_the_other_agency_says_why_it_is_empty(
    tmp_path: Path,
) -> None:
    _run_recalled_case(tmp_path)
    report = ("report", "duplicates", "--format", "json", "--for", "police")

    crossed = run_cli(*report, "--agency", "probation", cwd=tmp_path)
    own = run_cli(*report, "--agency", "police", cwd=tmp_path)

    assert json.loads(crossed.stdout)["flags"] == []
    assert crossed.stderr.strip() == (
        "Warning: the police view holds only flags on police assessments, so --agency "
        "probation leaves it empty; leave --agency out, or ask for --for probation."
    )
    assert json.loads(own.stdout)["flags"]
    assert own.stderr == ""
