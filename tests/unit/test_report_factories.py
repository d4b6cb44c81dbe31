"""Builders of `FlagRow` values and readers of rendered reports, shared by the report tests.

This module holds no tests of its own.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

from hypothesis import strategies as st

from sync.reports import DuplicateReport, FlagRow, ReportFilters, build_report
from sync.reports.models import KNOWN_KINDS, AgencyName, Counterpart

AS_OF = date(2026, 11, 28)
WINDOW_DAYS = 180
HOURS = 6.0
SEEN = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)

FlagKey = tuple[str, str, str, str]
"""kind, subject, agency, assessment id: what identifies a flag in every format."""


def assessment_flag(
    kind: str = "assessed_by_non_owner",
    *,
    subject_id: str = "SUB-1",
    agency: AgencyName = "police",
    assessment_id: str = "PA-1",
    reference_date: date = date(2025, 5, 10),
    area: str | None = "NW",
    state: str = "open",
    status: str = "completed",
    **extra: Any,
) -> FlagRow:
    """A flag about one assessment (not a duplicate pair)."""
    return FlagRow.model_validate(
        {
            "kind": kind,
            "subject_id": subject_id,
            "agency": agency,
            "assessment_id": assessment_id,
            "person_ids": [f"{agency[:3].upper()}-{subject_id}"],
            "reference_date": reference_date,
            "owner_at_reference_date": "probation" if agency == "police" else "police",
            "rule_at_reference_date": "PROB-SEXUAL" if agency == "police" else "POLICE-REGISTERED",
            "area": area,
            "assessment_status": status,
            "state": state,
            "first_seen": SEEN,
            "last_seen": SEEN,
            "closed_at": SEEN if state == "closed" else None,
        }
        | extra
    )


def duplicate_pair(
    subject_id: str = "SUB-1",
    *,
    police: tuple[str, date] = ("PA-9", date(2025, 5, 10)),
    probation: tuple[str, date] = ("A-77", date(2025, 4, 20)),
    redundant: AgencyName = "police",
    area: str | None = "NW",
    state: str = "open",
    status: str = "completed",
) -> list[FlagRow]:
    """Worked example 1 of duplicates.md: the two `duplicate` flags and the non-owner flag."""
    sides: dict[AgencyName, tuple[str, date]] = {"police": police, "probation": probation}
    rows = []
    pairs: tuple[tuple[AgencyName, AgencyName], ...] = (
        ("police", "probation"),
        ("probation", "police"),
    )
    for agency, other in pairs:
        own_id, own_date = sides[agency]
        other_id, other_date = sides[other]
        counterpart = Counterpart(agency=other, assessment_id=other_id, reference_date=other_date)
        rows.append(
            assessment_flag(
                "duplicate",
                subject_id=subject_id,
                agency=agency,
                assessment_id=own_id,
                reference_date=own_date,
                area=area,
                state=state,
                status=status,
                counterpart=counterpart,
                redundant=agency == redundant,
            )
        )
    own_id, own_date = sides[redundant]
    rows.append(
        assessment_flag(
            subject_id=subject_id,
            agency=redundant,
            assessment_id=own_id,
            reference_date=own_date,
            area=area,
            state=state,
            status=status,
        )
    )
    return rows


def person_record_flag(
    subject_id: str = "SUB-2",
    *,
    agency: AgencyName = "probation",
    person_ids: tuple[str, ...] = ("D000001", "D000002"),
    area: str | None = "NW",
    state: str = "open",
    first_seen: datetime = SEEN,
    first_seen_as_of: date | None = None,
) -> FlagRow:
    """A `duplicate_person_record` flag (no assessment fields)."""
    return FlagRow(
        kind="duplicate_person_record",
        subject_id=subject_id,
        agency=agency,
        person_ids=list(person_ids),
        area=area,
        state=state,
        first_seen=first_seen,
        first_seen_as_of=first_seen_as_of,
        last_seen=first_seen,
    )


def report_of(
    rows: list[FlagRow],
    filters: ReportFilters | None = None,
    for_agency: AgencyName | None = None,
) -> DuplicateReport:
    """The report of `rows` with the default settings, open and closed flags alike."""
    return build_report(
        rows,
        as_of=AS_OF,
        window_days=WINDOW_DAYS,
        hours_per_assessment=HOURS,
        filters=filters or ReportFilters(state=None),
        for_agency=for_agency,
    )


def key_of(row: FlagRow) -> FlagKey:
    """A flag's identity."""
    return (row.kind, row.subject_id, row.agency or "", row.assessment_id or "")


def json_keys(payload: bytes) -> list[FlagKey]:
    """The flags listed in a JSON report, in order."""
    flags = json.loads(payload)["flags"]
    return [
        (f["kind"], f["subject_id"], f["agency"] or "", f["assessment_id"] or "") for f in flags
    ]


def csv_records(payload: bytes) -> list[dict[str, str]]:
    """The data rows of a CSV report (BOM removed)."""
    return list(csv.DictReader(io.StringIO(payload.decode("utf-8-sig"), newline="")))


def csv_keys(payload: bytes) -> list[FlagKey]:
    """The flags listed in a CSV report, in order."""
    return [
        (r["kind"], r["subject_id"], r["agency"], r["assessment_id"]) for r in csv_records(payload)
    ]


class ReportPage(HTMLParser):
    """The parts of an HTML report the tests look at: elements by id, flag rows, bars."""

    def __init__(self, page: bytes) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.flag_rows: list[dict[str, str | None]] = []
        self.bars: list[dict[str, str | None]] = []
        self.tags: set[str] = set()
        self.feed(page.decode("utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.add(tag)
        if "id" in values and values["id"] is not None:
            self.by_id[values["id"]] = values
        if tag == "tr" and "flag" in (values.get("class") or "").split():
            self.flag_rows.append(values)
        if tag == "rect" and "data-month" in values:
            self.bars.append(values)

    def keys(self) -> list[FlagKey]:
        """The flags listed, in order."""
        return [
            (
                r["data-kind"] or "",
                r["data-subject"] or "",
                r["data-agency"] or "",
                r["data-assessment"] or "",
            )
            for r in self.flag_rows
        ]


SUBJECTS = ("SUB-1", "SUB-2", "SUB-3", "SUB-4")
AREAS = ("NW", "NE", "Łódź", None)


@st.composite
def flag_rows(draw: st.DrawFn) -> FlagRow:
    """Any flag of any kind, over a few subjects, areas, dates and states."""
    kind = draw(st.sampled_from(KNOWN_KINDS))
    agency: AgencyName = draw(st.sampled_from(("probation", "police")))
    subject_id = draw(st.sampled_from(SUBJECTS))
    area = draw(st.sampled_from(AREAS))
    state = draw(st.sampled_from(("open", "closed")))
    day = draw(st.dates(date(2024, 11, 1), date(2025, 8, 31)))
    if kind == "duplicate_person_record":
        seen = datetime.combine(day, SEEN.time(), tzinfo=UTC)
        return person_record_flag(
            subject_id, agency=agency, area=area, state=state, first_seen=seen
        )
    extra: dict[str, Any] = {}
    if kind == "duplicate":
        other = "police" if agency == "probation" else "probation"
        extra = {
            "counterpart": Counterpart(agency=other, assessment_id="X-1", reference_date=AS_OF),
            "redundant": draw(st.booleans()),
        }
    return assessment_flag(
        kind,
        agency=agency,
        assessment_id=f"{agency[:2].upper()}-{draw(st.integers(1, 30))}",
        subject_id=subject_id,
        reference_date=day,
        area=area,
        state=state,
        status=draw(st.sampled_from(("completed", "in_progress"))),
        **extra,
    )


@st.composite
def report_filters(draw: st.DrawFn) -> ReportFilters:
    """Any combination of filters, the period with either, both or no ends."""
    ends = sorted(
        draw(st.lists(st.dates(date(2024, 10, 1), date(2025, 9, 30)), min_size=2, max_size=2))
    )
    return ReportFilters(
        date_from=draw(st.sampled_from((None, ends[0]))),
        date_to=draw(st.sampled_from((None, ends[1]))),
        area=draw(st.sampled_from((None, "NW", "nw", "Łódź"))),
        agency=draw(st.sampled_from((None, "probation", "police"))),
        kinds=tuple(draw(st.lists(st.sampled_from(KNOWN_KINDS), max_size=2))),
        state=draw(st.sampled_from((None, "open", "closed"))),
    )
