"""The CSV report cell by cell: each documented column holds its own value, rows end in CRLF."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sync.reports import ReportFilters
from sync.reports.models import Counterpart
from sync.reports.render_csv import CSV_COLUMNS, render_csv
from tests.unit.test_report_factories import (
    assessment_flag,
    csv_records,
    duplicate_pair,
    person_record_flag,
    report_of,
)

FORMULA = "=1+1"


def test_every_row_ends_in_crlf() -> None:
    payload = render_csv(report_of([*duplicate_pair(), person_record_flag()]))

    lines = payload.split(b"\r\n")
    assert lines[-1] == b""
    assert len(lines) == 1 + 4 + 1
    assert all(b"\n" not in line and b"\r" not in line for line in lines)


def test_each_column_holds_the_flags_own_value() -> None:
    alert = assessment_flag(
        "in_progress_by_non_owner",
        subject_id="SUB-7",
        agency="police",
        assessment_id="PA-7",
        reference_date=date(2025, 5, 7),
        area="NW",
        status="in_progress",
        owner_at_reference_date="police",
        rule_at_reference_date="POLICE-REGISTERED",
        owner_at_as_of="probation",
        rule_at_as_of="PROB-SEXUAL",
    )

    (record,) = csv_records(render_csv(report_of([alert])))

    assert record == {
        "kind": "in_progress_by_non_owner",
        "state": "open",
        "subject_id": "SUB-7",
        "agency": "police",
        "person_ids": "POL-SUB-7",
        "assessment_id": "PA-7",
        "assessment_status": "in_progress",
        "reference_date": "2025-05-07",
        "owner_at_reference_date": "police",
        "rule_at_reference_date": "POLICE-REGISTERED",
        "counterpart_agency": "",
        "counterpart_assessment_id": "",
        "counterpart_reference_date": "",
        "redundant": "",
        "area": "NW",
        "first_seen": "2025-06-01",
        "closed_at": "",
        "owner_at_as_of": "probation",
        "rule_at_as_of": "PROB-SEXUAL",
        "counterpart_redundant": "",
        "report_date": "2025-05-07",
        "resolved_at": "",
        "resolved_by": "",
    }


def test_a_resolved_flag_says_when_in_england_and_by_whom() -> None:
    late_evening = datetime(2025, 6, 30, 23, 30, tzinfo=UTC)  # 1 July in England (BST)
    resolved = assessment_flag(resolved_at=late_evening, resolved_by="=jsmith")

    (record,) = csv_records(render_csv(report_of([resolved])))

    assert (record["state"], record["resolved_at"], record["resolved_by"]) == (
        "open",
        "2025-07-01",
        "'=jsmith",
    )


def test_a_closed_flag_says_closed() -> None:
    closed = assessment_flag(state="closed")

    (record,) = csv_records(render_csv(report_of([closed], ReportFilters(state="closed"))))

    assert (record["state"], record["closed_at"]) == ("closed", "2025-06-01")


def test_no_text_cell_can_start_a_formula() -> None:
    """docs/reports.md: any value starting with `=`, `+`, `-`, `@`, tab or CR gets a `'`."""
    flag = assessment_flag(
        FORMULA,
        subject_id=FORMULA,
        assessment_id=FORMULA,
        area=FORMULA,
        status=FORMULA,
        person_ids=[FORMULA],
        owner_at_reference_date=FORMULA,
        rule_at_reference_date=FORMULA,
        owner_at_as_of=FORMULA,
        rule_at_as_of=FORMULA,
        counterpart=Counterpart(agency="probation", assessment_id=FORMULA),
        redundant=True,
    )

    (record,) = csv_records(render_csv(report_of([flag])))

    guarded = [column for column in CSV_COLUMNS if record[column] == "'" + FORMULA]
    assert guarded == [
        "kind",
        "subject_id",
        "person_ids",
        "assessment_id",
        "assessment_status",
        "owner_at_reference_date",
        "rule_at_reference_date",
        "counterpart_assessment_id",
        "area",
        "owner_at_as_of",
        "rule_at_as_of",
    ]
    assert not any(value.startswith("=") for value in record.values())
