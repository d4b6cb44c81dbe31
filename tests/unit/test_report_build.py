"""Building the duplicate-assessment report: counts, estimate, ordering, periods, agency views."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sync.errors import UsageError
from sync.reports import FlagRow, ReportFilters, build_report
from sync.reports.models import KNOWN_KINDS
from sync.reports.render_csv import render_csv
from sync.reports.render_html import render_html
from sync.reports.render_json import render_json
from tests.unit.test_report_factories import (
    SEEN,
    assessment_flag,
    duplicate_pair,
    flag_rows,
    key_of,
    person_record_flag,
    report_of,
)

# `cli.md`'s report shape: its keys, in its order (a report may add keys after them, and
# a flag may add keys among them).
CLI_TOP_KEYS = ("as_of", "window_days", "from", "to", "summary", "flags")
CLI_SUMMARY_KEYS = ("flags", "redundant_completed", "hours_lost_estimate", "by_area", "by_month")
CLI_FLAG_KEYS = (
    "kind",
    "subject_id",
    "agency",
    "assessment_id",
    "reference_date",
    "owner_at_reference_date",
    "rule_at_reference_date",
    "counterpart",
    "redundant",
    "area",
)
ASSESSMENT_FIELDS = (
    "assessment_id",
    "reference_date",
    "owner_at_reference_date",
    "rule_at_reference_date",
    "counterpart",
    "redundant",
)


def test_worked_example_one_gives_the_cli_example_figures() -> None:
    report = report_of(duplicate_pair())

    summary = report.model_dump(mode="json")["summary"]
    assert summary["flags"] == {"duplicate": 2, "assessed_by_non_owner": 1}
    assert summary["redundant_completed"] == 1
    assert summary["hours_lost_estimate"] == 6.0
    assert summary["by_area"][0]["area"] == "NW"
    assert summary["by_area"][0]["flags"] == {"duplicate": 2, "assessed_by_non_owner": 1}
    assert [m["month"] for m in summary["by_month"]] == ["2025-04", "2025-05"]


def test_json_keeps_every_key_of_the_cli_contract() -> None:
    dumped = report_of([*duplicate_pair(), person_record_flag()]).model_dump(mode="json")

    assert dumped.keys() >= set(CLI_TOP_KEYS)
    assert dumped["summary"].keys() >= set(CLI_SUMMARY_KEYS)
    assert all(flag.keys() >= set(CLI_FLAG_KEYS) for flag in dumped["flags"])
    duplicate = next(f for f in dumped["flags"] if f["kind"] == "duplicate")
    assert duplicate["counterpart"].keys() == {
        "agency",
        "assessment_id",
        "reference_date",
        "redundant",
    }
    assert isinstance(duplicate["redundant"], bool)


def test_person_record_flags_carry_person_ids_and_no_assessment_fields() -> None:
    dumped = report_of([person_record_flag()]).model_dump(mode="json")

    (flag,) = dumped["flags"]
    assert flag["agency"] == "probation"
    assert flag["person_ids"] == ["D000001", "D000002"]
    assert all(flag[field] is None for field in ASSESSMENT_FIELDS)


def test_single_assessment_kinds_have_no_counterpart_or_redundancy() -> None:
    dumped = report_of([assessment_flag("in_progress_by_non_owner", status="in_progress")])

    (flag,) = dumped.model_dump(mode="json")["flags"]
    assert flag["counterpart"] is None
    assert flag["redundant"] is None


def test_redundant_counts_distinct_completed_assessments_only() -> None:
    completed = duplicate_pair("SUB-1")
    reopened = [
        row.model_copy(update={"state": "closed"}) for row in completed if row.kind == "duplicate"
    ]
    in_progress = duplicate_pair(
        "SUB-2",
        police=("PA-5", date(2025, 6, 1)),
        probation=("A-5", date(2025, 5, 1)),
        status="in_progress",
    )

    report = report_of(completed + reopened + in_progress)

    assert report.summary.redundant_completed == 1
    assert report.summary.hours_lost_estimate == 6.0


@pytest.mark.parametrize(("hours", "estimate"), [(2.1, 6.3), (2.111, 6.33)])
def test_hours_estimate_is_rounded_and_explains_its_assumption(
    hours: float, estimate: float
) -> None:
    rows = [
        row
        for n in range(3)
        for row in duplicate_pair(
            f"SUB-{n}",
            police=(f"PA-{n}", date(2025, 5, 10)),
            probation=(f"A-{n}", date(2025, 5, 1)),
        )
    ]

    report = build_report(
        rows,
        as_of=date(2026, 11, 28),
        window_days=180,
        hours_per_assessment=hours,
        filters=ReportFilters(),
    )

    assert report.summary.hours_lost_estimate == estimate
    assert report.summary.hours_per_assessment == hours
    assert "Estimate" in report.summary.estimate_note
    assert f"({hours:g})" in report.summary.estimate_note
    assert "redundant completed assessments (3)" in report.summary.estimate_note


def test_totals_by_area_and_month_are_sorted_and_add_up() -> None:
    rows = [
        assessment_flag(subject_id="SUB-3", area="SW", reference_date=date(2025, 7, 1)),
        assessment_flag(subject_id="SUB-4", area=None, reference_date=date(2024, 12, 31)),
        *duplicate_pair("SUB-1", area="NE"),
        person_record_flag("SUB-2", area="NE", first_seen=datetime(2025, 2, 3, tzinfo=UTC)),
    ]

    summary = report_of(rows).summary

    assert [a.area for a in summary.by_area] == ["NE", "SW", None]
    assert [m.month for m in summary.by_month] == [
        "2024-12",
        "2025-02",
        "2025-04",
        "2025-05",
        "2025-07",
    ]
    assert sum(a.total for a in summary.by_area) == summary.total == len(rows)
    assert sum(m.total for m in summary.by_month) == summary.total
    assert sum(summary.flags.values()) == summary.total
    may = next(m for m in summary.by_month if m.month == "2025-05")
    assert may.duplicates_by_agency == {"probation": 0, "police": 1}


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(flag_rows(), max_size=25, unique_by=key_of), seed=st.integers(0, 1000))
def test_flag_order_does_not_depend_on_input_order(rows: list[FlagRow], seed: int) -> None:
    """One flag per assessment and kind (duplicates.md), so the order is total."""
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)

    assert render_json(report_of(rows)) == render_json(report_of(shuffled))


def test_flags_are_sorted_by_subject_then_kind() -> None:
    rows = [person_record_flag("SUB-0"), *duplicate_pair("SUB-1")[::-1]]

    keys = [key_of(row) for row in report_of(rows).flags]

    assert keys == [
        ("duplicate_person_record", "SUB-0", "probation", ""),
        ("duplicate", "SUB-1", "police", "PA-9"),
        ("duplicate", "SUB-1", "probation", "A-77"),
        ("assessed_by_non_owner", "SUB-1", "police", "PA-9"),
    ]


def test_period_is_inclusive_and_undated_flags_use_the_as_of_they_were_raised_on() -> None:
    rows = [
        assessment_flag(subject_id="SUB-1", reference_date=date(2025, 3, 1)),
        assessment_flag(subject_id="SUB-2", reference_date=date(2025, 3, 31)),
        assessment_flag(subject_id="SUB-3", reference_date=date(2025, 4, 1)),
        person_record_flag("SUB-4", first_seen=datetime(2025, 3, 15, tzinfo=UTC)),
        person_record_flag("SUB-5", first_seen=datetime(2025, 4, 15, tzinfo=UTC)),
        person_record_flag(
            "SUB-6",
            first_seen=datetime(2025, 4, 1, 0, 30, tzinfo=UTC),
            first_seen_as_of=date(2025, 3, 31),
        ),
        person_record_flag(
            "SUB-7",
            first_seen=datetime(2025, 3, 20, tzinfo=UTC),
            first_seen_as_of=date(2025, 4, 2),
        ),
    ]

    report = report_of(rows, ReportFilters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31)))

    # SUB-4 and SUB-5 were stored before the as-of date was kept: their first-seen day.
    assert [row.subject_id for row in report.flags] == ["SUB-1", "SUB-2", "SUB-4", "SUB-6"]


def test_previous_period_has_the_same_length_and_the_change() -> None:
    rows = [
        *duplicate_pair(
            "SUB-1", police=("PA-1", date(2025, 5, 10)), probation=("A-1", date(2025, 5, 2))
        ),
        *duplicate_pair(
            "SUB-2", police=("PA-2", date(2025, 4, 10)), probation=("A-2", date(2025, 4, 2))
        ),
        *duplicate_pair(
            "SUB-3", police=("PA-3", date(2025, 4, 11)), probation=("A-3", date(2025, 4, 3))
        ),
    ]

    report = report_of(rows, ReportFilters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31)))

    previous = report.summary.previous_period
    assert previous is not None
    assert (previous.date_from, previous.date_to) == (date(2025, 3, 31), date(2025, 4, 30))
    assert previous.total == 6
    assert previous.redundant_completed == 2
    assert previous.change.total == 3 - 6
    assert previous.change.redundant_completed == -1
    assert previous.change.hours_lost_estimate == -6.0
    assert previous.change.flags == {"duplicate": -2, "assessed_by_non_owner": -1}
    dumped = report.model_dump(mode="json")["summary"]["previous_period"]
    assert (dumped["from"], dumped["to"]) == ("2025-03-31", "2025-04-30")


def test_no_previous_period_without_both_ends() -> None:
    report = report_of(duplicate_pair(), ReportFilters(date_from=date(2025, 1, 1)))

    assert report.summary.previous_period is None


@pytest.mark.parametrize(
    ("first", "last"),
    [(date(2026, 1, 1), date(9999, 12, 31)), (date(1, 1, 1), date(2, 1, 1))],
    ids=["to-the-last-day", "from-the-first-day"],
)
def test_no_previous_period_before_the_calendar_begins(first: date, last: date) -> None:
    report = report_of(duplicate_pair(), ReportFilters(date_from=first, date_to=last))

    assert report.summary.previous_period is None
    assert render_html(report).startswith(b"<!DOCTYPE html>")


def test_area_filter_ignores_case_and_surrounding_space() -> None:
    rows = [
        assessment_flag(subject_id="SUB-1", area="NW"),
        assessment_flag(subject_id="SUB-2", area="NE"),
    ]

    report = report_of(rows, ReportFilters(area=" nw "))

    assert [row.subject_id for row in report.flags] == ["SUB-1"]


def _probation_only_values() -> list[str]:
    """Strings that belong only to probation's side of the rows below."""
    return [
        "PRO-SUB-1",
        "PRO-SUB-2",
        "2025-04-20",
        "PROB-AREA",
        "D000001",
        "A-OTHER",
        "POLICE-REGISTERED",
    ]


def _mixed_rows() -> list[FlagRow]:
    pair = duplicate_pair("SUB-1", area="FORCE-1")
    probation_area = [
        row.model_copy(update={"area": "PROB-AREA"}) if row.agency == "probation" else row
        for row in pair
    ]
    return [
        *probation_area,
        person_record_flag("SUB-2", area="PROB-AREA"),
        assessment_flag(
            subject_id="SUB-2", agency="probation", assessment_id="A-OTHER", area="PROB-AREA"
        ),
        assessment_flag(subject_id="SUB-3", area="FORCE-1"),
    ]


def test_agency_view_holds_only_its_own_flags_and_bare_counterparts() -> None:
    report = report_of(_mixed_rows(), for_agency="police")

    assert report.view == "police"
    assert {row.agency for row in report.flags} == {"police"}
    counterparts = [row.counterpart for row in report.flags if row.counterpart is not None]
    assert counterparts
    assert all(c.agency == "probation" and c.reference_date is None for c in counterparts)
    assert report.summary.total == len(report.flags) == 3


@pytest.mark.parametrize("render", [render_json, render_csv, render_html])
def test_agency_view_shows_nothing_else_of_the_other_agency(render: object) -> None:
    report = report_of(_mixed_rows(), for_agency="police")

    page = render(report).decode("utf-8-sig")  # type: ignore[operator]

    leaked = [value for value in _probation_only_values() if value in page]
    assert leaked == []
    assert "A-77" in page


def test_agency_filter_and_a_different_agency_view_give_an_empty_report() -> None:
    report = report_of(_mixed_rows(), ReportFilters(agency="probation"), for_agency="police")

    assert report.flags == []
    assert report.summary.total == 0


def test_national_view_keeps_counterpart_dates() -> None:
    report = report_of(duplicate_pair())

    assert all(row.counterpart.reference_date for row in report.flags if row.counterpart)


@pytest.mark.parametrize(
    ("window_days", "hours", "agency"),
    [(-1, 6.0, None), (180, -1.0, None), (180, 6.0, "courts")],
)
def test_bad_settings_are_refused(window_days: int, hours: float, agency: str | None) -> None:
    with pytest.raises(UsageError):
        build_report(
            [],
            as_of=date(2026, 11, 28),
            window_days=window_days,
            hours_per_assessment=hours,
            filters=ReportFilters(),
            for_agency=agency,  # type: ignore[arg-type]
        )


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError, match="start must not be after its end"):
        ReportFilters(date_from=date(2025, 2, 1), date_to=date(2025, 1, 1))


def test_empty_input_gives_an_empty_report() -> None:
    dumped = report_of([]).model_dump(mode="json")

    assert dumped["flags"] == []
    assert dumped["summary"]["flags"] == {}
    assert dumped["summary"]["by_area"] == []
    assert dumped["summary"]["hours_lost_estimate"] == 0.0


def test_filters_are_recorded_in_the_report() -> None:
    filters = ReportFilters(area="NW", kinds=("duplicate", "duplicate", "assessed_by_non_owner"))

    dumped = json.loads(render_json(report_of(duplicate_pair(), filters)))

    assert dumped["filters"]["kinds"] == ["assessed_by_non_owner", "duplicate"]
    assert dumped["filters"]["area"] == "NW"


@pytest.mark.parametrize("render", [render_json, render_csv, render_html])
def test_a_rerun_that_only_moves_last_seen_gives_the_same_report(render: object) -> None:
    rows = duplicate_pair()
    rerun = [
        row.model_copy(update={"last_seen": SEEN + timedelta(days=3, hours=2)}) for row in rows
    ]

    assert render(report_of(rows)) == render(report_of(rerun))  # type: ignore[operator]


def test_flags_show_the_days_raised_and_closed_but_not_last_seen() -> None:
    closed = assessment_flag(state="closed")

    (flag,) = report_of([closed]).model_dump(mode="json")["flags"]

    assert (flag["first_seen"], flag["closed_at"]) == ("2025-06-01", "2025-06-01")
    assert "last_seen" not in flag


def test_a_report_covers_open_flags_unless_asked_for_closed_ones() -> None:
    open_flag = assessment_flag(state="open")
    assert open_flag.assessment_id is not None
    closed = assessment_flag(state="closed").model_copy(update={"assessment_id": "PA-2"})

    def listed(filters: ReportFilters) -> list[str]:
        return [flag.assessment_id or "" for flag in report_of([open_flag, closed], filters).flags]

    assert listed(ReportFilters()) == [open_flag.assessment_id]
    assert listed(ReportFilters(state="closed")) == ["PA-2"]
    assert sorted(listed(ReportFilters(state=None))) == sorted([open_flag.assessment_id, "PA-2"])


def _both_misplaced() -> list[FlagRow]:
    """A duplicate pair both of whose assessments were made while nobody owned the subject."""
    pair = [
        row.model_copy(update={"redundant": True})
        for row in duplicate_pair(redundant="police")
        if row.kind == "duplicate"
    ]
    misplaced = [
        assessment_flag("assessed_without_owner", agency="police", assessment_id="PA-9"),
        assessment_flag("assessed_without_owner", agency="probation", assessment_id="A-77"),
    ]
    return [*pair, *misplaced]


def _counterpart_redundancy(report_rows: list[FlagRow]) -> dict[str, bool | None]:
    return {
        str(row.assessment_id): row.counterpart.redundant
        for row in report_rows
        if row.counterpart is not None
    }


def test_each_duplicate_says_whether_its_counterpart_is_redundant() -> None:
    report = report_of(duplicate_pair(redundant="police"))

    assert _counterpart_redundancy(report.flags) == {"PA-9": False, "A-77": True}


def test_a_duplicate_says_when_both_are_redundant_even_without_the_other_listed() -> None:
    report = report_of(_both_misplaced(), ReportFilters(agency="police"))

    (duplicate,) = [row for row in report.flags if row.kind == "duplicate"]
    assert duplicate.redundant is True
    assert duplicate.counterpart is not None
    assert duplicate.counterpart.redundant is True
    (row,) = [r for r in _csv_rows(render_csv(report)) if r["kind"] == "duplicate"]
    assert (row["redundant"], row["counterpart_redundant"]) == ("true", "true")
    assert render_html(report).decode().count('<span class="badge">redundant</span>') == 3


def test_a_counterpart_is_not_redundant_once_its_own_flag_has_closed() -> None:
    rows = _both_misplaced()
    rows[-1] = rows[-1].model_copy(update={"state": "closed", "closed_at": SEEN})

    report = report_of(rows, ReportFilters(state=None))

    assert _counterpart_redundancy(report.flags)["PA-9"] is False


def test_a_closed_duplicate_leaves_a_redundant_flags_counterpart_unknown() -> None:
    closed = [
        row.model_copy(update={"state": "closed", "closed_at": SEEN})
        for row in duplicate_pair(redundant="police")
    ]

    report = report_of(closed, ReportFilters(state="closed"))

    assert _counterpart_redundancy(report.flags) == {"PA-9": None, "A-77": True}


def test_an_agency_view_says_only_what_its_own_flag_implies_of_the_counterpart() -> None:
    police = report_of(_both_misplaced(), for_agency="police")
    probation = report_of(duplicate_pair(redundant="police"), for_agency="probation")

    assert _counterpart_redundancy(police.flags) == {"PA-9": None}
    assert _counterpart_redundancy(probation.flags) == {"A-77": True}


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("window_days", "hours", "estimate"), [(0, 0.0, 0.0), (30, 6.0, 6.0)], ids=["zero", "set"]
)
def test_the_window_and_hours_given_are_accepted_and_reported(
    window_days: int, hours: float, estimate: float
) -> None:
    report = build_report(
        duplicate_pair(),
        as_of=date(2026, 11, 28),
        window_days=window_days,
        hours_per_assessment=hours,
        filters=ReportFilters(),
    )
    assert (report.window_days, report.summary.hours_lost_estimate) == (window_days, estimate)


def test_counts_by_kind_follow_the_specs_order_of_kinds() -> None:
    rows = [
        person_record_flag("SUB-9"),
        assessment_flag("in_progress_by_non_owner", subject_id="SUB-8", status="in_progress"),
        assessment_flag("assessed_without_owner", subject_id="SUB-7"),
        *duplicate_pair(),
    ]
    summary = report_of(rows).summary
    kinds = [
        "duplicate",
        "assessed_by_non_owner",
        "assessed_without_owner",
        "in_progress_by_non_owner",
        "duplicate_person_record",
    ]
    assert list(summary.flags) == kinds
    assert [list(area.flags) for area in summary.by_area] == [kinds]


def test_the_report_covers_exactly_the_five_kinds_of_duplicates_md() -> None:
    assert KNOWN_KINDS == (
        "duplicate",
        "assessed_by_non_owner",
        "assessed_without_owner",
        "in_progress_by_non_owner",
        "duplicate_person_record",
    )


def test_duplicates_by_agency_count_every_pair_of_a_month_and_area() -> None:
    rows = [
        row
        for n in (1, 2)
        for row in duplicate_pair(
            f"SUB-{n}",
            police=(f"PA-{n}", date(2025, 5, 10 + n)),
            probation=(f"A-{n}", date(2025, 5, 2 + n)),
        )
    ]
    (may,) = report_of(rows).summary.by_month
    assert may.duplicates_by_agency == {"probation": 2, "police": 2}


def test_the_previous_period_is_given_when_empty_and_under_the_same_state_filter() -> None:
    rows = [
        *duplicate_pair(
            "SUB-1", police=("PA-1", date(2025, 5, 10)), probation=("A-1", date(2025, 5, 2))
        ),
        assessment_flag(subject_id="SUB-2", reference_date=date(2025, 4, 10), state="closed"),
    ]
    may = {"date_from": date(2025, 5, 1), "date_to": date(2025, 5, 31)}
    open_only = report_of(rows, ReportFilters(**may)).summary.previous_period
    assert open_only is not None
    assert (open_only.total, open_only.hours_lost_estimate) == (0, 0.0)
    all_states = report_of(rows, ReportFilters(state=None, **may)).summary.previous_period
    assert all_states is not None
    assert all_states.total == 1
    earlier_pair = duplicate_pair(
        "SUB-3", police=("PA-3", date(2025, 4, 10)), probation=("A-3", date(2025, 4, 2))
    )
    with_pair = report_of([*rows, *earlier_pair], ReportFilters(**may)).summary.previous_period
    assert with_pair is not None
    assert (with_pair.redundant_completed, with_pair.hours_lost_estimate) == (1, 6.0)


def test_a_period_open_at_its_end_keeps_flags_dated_ahead() -> None:
    ahead = assessment_flag(subject_id="SUB-2", reference_date=date(2099, 1, 1))
    report = report_of([ahead], ReportFilters(date_from=date(2025, 1, 1), state=None))
    assert [flag.subject_id for flag in report.flags] == ["SUB-2"]


def test_a_history_report_counts_no_hours_for_duplicates_that_have_closed() -> None:
    """docs/reports.md: closed flags are history; a pair whose assessment was deleted or
    cancelled since, or whose records were found to be two people, lost no hours."""
    still_open = duplicate_pair("SUB-1")
    closed_since = duplicate_pair("SUB-2", police=("PA-7", date(2025, 6, 1)), state="closed")

    history = report_of(still_open + closed_since, ReportFilters(state=None))
    closed_only = report_of(closed_since, ReportFilters(state="closed"))

    assert (history.summary.total, history.summary.redundant_completed) == (6, 1)
    assert history.summary.hours_lost_estimate == 6.0
    assert (closed_only.summary.total, closed_only.summary.redundant_completed) == (3, 0)


def _childhood_flags(rule_told: str | None) -> list[FlagRow]:
    """Police assessments on the eve of an 18th birthday the police do not hold, and on it."""
    return [
        assessment_flag(
            "assessed_without_owner",
            assessment_id="PA-EVE",
            reference_date=date(2018, 6, 14),
            rule_at_reference_date="OUT-UNDER-18",
            rule_told=rule_told,
            owner_at_reference_date="none",
        ),
        assessment_flag(
            "assessed_without_owner",
            assessment_id="PA-DAY",
            reference_date=date(2018, 6, 15),
            rule_at_reference_date="NONE-NOT-IN-SCOPE",
            rule_told="NONE-NOT-IN-SCOPE" if rule_told is not None else None,
            owner_at_reference_date="none",
        ),
    ]


def _rules(report: object) -> dict[str, str | None]:
    flags = report.model_dump(mode="json")["flags"]  # type: ignore[attr-defined]
    return {flag["assessment_id"]: flag["rule_at_reference_date"] for flag in flags}


def test_an_agency_view_gives_the_rule_the_agency_is_told_and_the_national_one_the_rule() -> None:
    rows = _childhood_flags(rule_told="NONE-NOT-IN-SCOPE")

    police = report_of(rows, for_agency="police")
    national = report_of(rows)

    assert _rules(police) == {"PA-EVE": "NONE-NOT-IN-SCOPE", "PA-DAY": "NONE-NOT-IN-SCOPE"}
    assert _rules(national) == {"PA-EVE": "OUT-UNDER-18", "PA-DAY": "NONE-NOT-IN-SCOPE"}
    for flag in police.model_dump(mode="json")["flags"]:
        assert "rule_told" not in flag


@pytest.mark.parametrize("render", [render_json, render_csv, render_html])
def test_no_agency_view_format_names_a_rule_the_agency_is_not_told(render: object) -> None:
    rows = _childhood_flags(rule_told="NONE-NOT-IN-SCOPE")

    police = render(report_of(rows, for_agency="police")).decode("utf-8-sig")  # type: ignore[operator]
    national = render(report_of(rows)).decode("utf-8-sig")  # type: ignore[operator]

    assert "OUT-UNDER-18" not in police
    assert "OUT-UNDER-18" in national


def test_an_agency_view_of_a_flag_stored_before_the_told_rule_names_no_childhood_rule() -> None:
    police = report_of(_childhood_flags(rule_told=None), for_agency="police")

    assert _rules(police) == {"PA-EVE": None, "PA-DAY": "NONE-NOT-IN-SCOPE"}
