"""docs/reports.md rules: report dates, filters, figures, order, agency views, previous period."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from sync.reports import FlagRow, ReportFilters, build_report
from sync.reports.models import AgencyName, Counterpart, DuplicateReport
from tests.unit.test_report_factories import (
    AS_OF,
    SEEN,
    assessment_flag,
    duplicate_pair,
    person_record_flag,
    report_of,
)

MAY = ReportFilters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31), state=None)


def _with_hours(rows: list[FlagRow], hours: float, filters: ReportFilters) -> DuplicateReport:
    return build_report(
        rows, as_of=AS_OF, window_days=180, hours_per_assessment=hours, filters=filters
    )


def _pairs(month: int, count: int) -> list[FlagRow]:
    """`count` worked-example pairs in `month` of 2025, each with its own subject."""
    return [
        row
        for n in range(count)
        for row in duplicate_pair(
            f"SUB-{month}-{n}",
            police=(f"PA-{month}-{n}", date(2025, month, 20)),
            probation=(f"A-{month}-{n}", date(2025, month, 10)),
        )
    ]


def test_a_flag_with_a_reference_date_is_filed_under_it_not_the_runs_as_of_date() -> None:
    flag = assessment_flag(reference_date=date(2025, 5, 10), first_seen_as_of=date(2025, 7, 1))

    in_may = report_of([flag], MAY)
    in_july = report_of([flag], ReportFilters(date_from=date(2025, 7, 1), state=None))

    assert [row.assessment_id for row in in_may.flags] == ["PA-1"]
    assert in_july.flags == []
    assert [month.month for month in in_may.summary.by_month] == ["2025-05"]


def test_a_flag_kept_without_its_as_of_date_is_filed_under_the_day_in_england_first_seen() -> None:
    half_past_midnight_bst = datetime(2025, 4, 30, 23, 30, tzinfo=UTC)
    flag = person_record_flag(first_seen=half_past_midnight_bst)

    report = report_of([flag], MAY)

    assert [row.subject_id for row in report.flags] == ["SUB-2"]
    assert [month.month for month in report.summary.by_month] == ["2025-05"]
    (dumped,) = report.model_dump(mode="json")["flags"]
    assert dumped["first_seen"] == "2025-05-01"


@pytest.fixture
def far_east_local_time() -> Iterator[None]:
    """The process's local time zone set well east of UTC for one test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "JST-9")
        time.tzset()
        try:
            yield
        finally:
            patch.undo()
            time.tzset()


@pytest.mark.usefixtures("far_east_local_time")
def test_a_time_without_a_zone_is_taken_as_utc_whatever_the_local_zone() -> None:
    early_morning = datetime(2025, 5, 1, 3, 0)
    flag = person_record_flag(first_seen=early_morning)

    report = report_of([flag], MAY)

    assert [row.subject_id for row in report.flags] == ["SUB-2"]
    (dumped,) = report.model_dump(mode="json")["flags"]
    assert dumped["first_seen"] == "2025-05-01"


def test_a_one_day_period_is_accepted_and_covers_that_day() -> None:
    day = date(2025, 5, 10)
    rows = [
        assessment_flag(subject_id="SUB-1", reference_date=day),
        assessment_flag(subject_id="SUB-2", reference_date=day + timedelta(days=1)),
    ]

    report = report_of(rows, ReportFilters(date_from=day, date_to=day))

    assert [row.subject_id for row in report.flags] == ["SUB-1"]
    previous = report.summary.previous_period
    assert previous is not None
    assert (previous.date_from, previous.date_to) == (day - timedelta(days=1),) * 2


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_area_is_no_restriction(blank: str) -> None:
    rows = [
        assessment_flag(subject_id="SUB-1", area="NW"),
        assessment_flag(subject_id="SUB-2", area=None),
    ]

    filters = ReportFilters(area=blank)
    report = report_of(rows, filters)

    assert filters.area is None
    assert [row.subject_id for row in report.flags] == ["SUB-1", "SUB-2"]


def test_area_codes_differing_only_in_case_or_spaces_are_one_area() -> None:
    rows = [
        assessment_flag(subject_id="SUB-1", area="NW"),
        assessment_flag(subject_id="SUB-2", area=" nw "),
        assessment_flag(subject_id="SUB-3", area="Nw"),
        assessment_flag(subject_id="SUB-4", area="NE"),
        assessment_flag(subject_id="SUB-5", area="   "),
    ]

    whole = report_of(rows)
    filtered = report_of(rows, ReportFilters(area=" nW", state=None))

    assert [(area.area, area.total) for area in whole.summary.by_area] == [
        ("NE", 1),
        ("NW", 3),
        (None, 1),
    ]
    assert [row.area for row in whole.flags] == ["NW", "NW", "NW", "NE", None]
    assert filtered.filters.area == "NW"
    assert [row.subject_id for row in filtered.flags] == ["SUB-1", "SUB-2", "SUB-3"]


def test_the_same_reference_at_both_agencies_counts_as_two_redundant_assessments() -> None:
    """Each agency numbers its own assessments, so a reference means nothing without its agency."""
    sides: tuple[tuple[AgencyName, AgencyName], ...] = (
        ("police", "probation"),
        ("probation", "police"),
    )
    both_redundant = [
        assessment_flag(
            "duplicate",
            agency=agency,
            assessment_id="ARMS-1",
            counterpart=Counterpart(agency=other, assessment_id="ARMS-1"),
            redundant=True,
        )
        for agency, other in sides
    ]

    report = report_of(both_redundant)

    assert report.summary.redundant_completed == 2
    assert report.summary.hours_lost_estimate == 12.0


def test_flags_differing_only_in_when_first_seen_are_listed_earliest_first() -> None:
    earlier = person_record_flag(
        person_ids=("D000001", "D000002"), state="closed", first_seen=SEEN - timedelta(days=30)
    )
    later = person_record_flag(person_ids=("D000001", "D000003"), first_seen=SEEN)

    for rows in ([earlier, later], [later, earlier]):
        listed = [row.person_ids for row in report_of(rows).flags]
        assert listed == [["D000001", "D000002"], ["D000001", "D000003"]]


def test_kinds_the_spec_does_not_name_are_counted_after_the_five_by_name() -> None:
    rows = [
        assessment_flag("zeta_kind", subject_id="SUB-1"),
        assessment_flag("alpha_kind", subject_id="SUB-2"),
        assessment_flag("duplicate_person_record", subject_id="SUB-3"),
        assessment_flag(subject_id="SUB-4"),
    ]

    summary = report_of(rows).summary

    expected = ["assessed_by_non_owner", "duplicate_person_record", "alpha_kind", "zeta_kind"]
    assert list(summary.flags) == expected
    assert [list(area.flags) for area in summary.by_area] == [expected]
    assert [list(month.flags) for month in summary.by_month] == [expected]


def test_each_months_counts_follow_the_specs_order_of_kinds() -> None:
    rows = [
        assessment_flag("in_progress_by_non_owner", subject_id="SUB-1", status="in_progress"),
        *duplicate_pair(
            "SUB-2", police=("PA-2", date(2025, 5, 12)), probation=("A-2", date(2025, 5, 2))
        ),
    ]

    (may,) = report_of(rows).summary.by_month

    assert list(may.flags) == ["duplicate", "assessed_by_non_owner", "in_progress_by_non_owner"]


def test_months_before_the_year_1000_are_written_with_four_digit_years() -> None:
    rows = [
        assessment_flag(subject_id="SUB-1", reference_date=date(999, 12, 1)),
        assessment_flag(subject_id="SUB-2", reference_date=date(1000, 1, 1)),
    ]

    by_month = report_of(rows).summary.by_month

    assert [month.month for month in by_month] == ["0999-12", "1000-01"]


def test_the_previous_periods_figures_are_rounded_like_the_reports() -> None:
    rows = [*_pairs(4, 3), *_pairs(5, 1)]

    summary = _with_hours(rows, 2.111, MAY).summary

    assert summary.hours_lost_estimate == 2.11
    previous = summary.previous_period
    assert previous is not None
    assert previous.hours_lost_estimate == 6.33
    assert previous.change.hours_lost_estimate == -4.22


def test_the_change_in_hours_is_rounded_to_two_decimals() -> None:
    rows = [*_pairs(4, 1), *_pairs(5, 3)]

    previous = _with_hours(rows, 2.1, MAY).summary.previous_period

    assert previous is not None
    assert (previous.hours_lost_estimate, previous.change.hours_lost_estimate) == (2.1, 4.2)


def test_previous_period_counts_and_their_change_follow_the_specs_order_of_kinds() -> None:
    rows = [
        assessment_flag(
            "in_progress_by_non_owner",
            subject_id="SUB-1",
            status="in_progress",
            reference_date=date(2025, 5, 3),
        ),
        person_record_flag("SUB-2", first_seen=datetime(2025, 4, 3, tzinfo=UTC)),
        assessment_flag(
            "assessed_without_owner",
            subject_id="SUB-3",
            reference_date=date(2025, 4, 4),
            state="closed",
        ),
        *_pairs(4, 1),
    ]

    previous = report_of(rows, MAY).summary.previous_period

    assert previous is not None
    assert list(previous.flags) == [
        "duplicate",
        "assessed_by_non_owner",
        "assessed_without_owner",
        "duplicate_person_record",
    ]
    assert previous.flags == {
        "duplicate": 2,
        "assessed_by_non_owner": 1,
        "assessed_without_owner": 1,  # closed, and the report covers closed flags too
        "duplicate_person_record": 1,
    }
    assert list(previous.change.flags) == [
        "duplicate",
        "assessed_by_non_owner",
        "assessed_without_owner",
        "in_progress_by_non_owner",
        "duplicate_person_record",
    ]
    assert previous.change.flags["in_progress_by_non_owner"] == 1
    assert previous.change.flags["duplicate"] == -2


def test_the_json_leaves_out_the_as_of_date_a_flag_was_first_raised_on() -> None:
    flag = person_record_flag(first_seen_as_of=date(2025, 5, 31))

    (dumped,) = report_of([flag]).model_dump(mode="json")["flags"]

    assert "first_seen_as_of" not in dumped
    assert "last_seen" not in dumped


def test_report_models_refuse_unknown_fields_and_values_and_cannot_be_changed() -> None:
    with pytest.raises(ValidationError):
        ReportFilters.model_validate({"areas": "NW"})
    with pytest.raises(ValidationError):
        ReportFilters.model_validate({"agency": "courts"})
    with pytest.raises(ValidationError):
        assessment_flag(state="pending")
    flag = assessment_flag()
    with pytest.raises(ValidationError):
        flag.state = "closed"  # type: ignore[misc]


def test_an_agency_view_keeps_the_agencys_own_person_records() -> None:
    rows = [
        person_record_flag("SUB-1", agency="police", person_ids=("LAN-1", "LAN-2")),
        assessment_flag(subject_id="SUB-2", agency="police"),
    ]

    report = report_of(rows, for_agency="police")

    assert [row.person_ids for row in report.flags] == [["LAN-1", "LAN-2"], ["POL-SUB-2"]]


def test_a_subjects_flags_list_the_five_kinds_first_then_others_by_name() -> None:
    rows = [
        assessment_flag("zeta_kind", agency="police", assessment_id="PA-1"),
        assessment_flag("alpha_kind", agency="probation", assessment_id="A-2"),
        assessment_flag("alpha_kind", agency="police", assessment_id="PA-3"),
        assessment_flag(agency="police", assessment_id="PA-4"),
    ]

    kinds = [(row.kind, row.agency) for row in report_of(rows).flags]

    assert kinds == [
        ("assessed_by_non_owner", "police"),
        ("alpha_kind", "police"),
        ("alpha_kind", "probation"),
        ("zeta_kind", "police"),
    ]


def test_areas_are_listed_by_name_whatever_the_subjects_order() -> None:
    rows = [
        assessment_flag(subject_id="SUB-1", area="SW"),
        assessment_flag(subject_id="SUB-2", area=None),
        assessment_flag(subject_id="SUB-3", area="NE"),
        assessment_flag(subject_id="SUB-4", area="MID"),
    ]

    by_area = report_of(rows).summary.by_area

    assert [area.area for area in by_area] == ["MID", "NE", "SW", None]


def test_the_report_is_as_of_the_date_given() -> None:
    day = date(2025, 8, 9)

    report = build_report(
        duplicate_pair(),
        as_of=day,
        window_days=180,
        hours_per_assessment=6.0,
        filters=ReportFilters(),
    )

    assert report.as_of == day
    assert report.model_dump(mode="json")["as_of"] == "2025-08-09"
