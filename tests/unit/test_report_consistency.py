"""Every filter selects the same flags, with the same totals, in JSON, CSV and HTML."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.reports import FlagRow, ReportFilters
from sync.reports.render_csv import render_csv
from sync.reports.render_html import render_html
from sync.reports.render_json import render_json
from tests.unit.test_report_factories import (
    FlagKey,
    ReportPage,
    csv_keys,
    flag_rows,
    json_keys,
    key_of,
    report_filters,
    report_of,
)


def _selected(row: FlagRow, filters: ReportFilters) -> bool:
    """The filters' meaning, written out plainly as the oracle."""
    day = row.reference_date if row.reference_date is not None else row.first_seen.date()
    area = filters.area
    return (
        (filters.date_from is None or filters.date_from <= day)
        and (filters.date_to is None or day <= filters.date_to)
        and (area is None or (row.area is not None and row.area.lower() == area.lower()))
        and (filters.agency is None or row.agency == filters.agency)
        and (not filters.kinds or row.kind in filters.kinds)
        and (filters.state is None or row.state == filters.state)
    )


@settings(max_examples=120, deadline=None)
@given(rows=st.lists(flag_rows(), max_size=30), filters=report_filters())
def test_each_filter_selects_the_same_flags_in_every_format(
    rows: list[FlagRow], filters: ReportFilters
) -> None:
    report = report_of(rows, filters)
    expected: list[FlagKey] = sorted(key_of(row) for row in rows if _selected(row, filters))

    as_json, as_csv = render_json(report), render_csv(report)
    page = ReportPage(render_html(report))

    assert sorted(json_keys(as_json)) == expected
    assert csv_keys(as_csv) == json_keys(as_json)
    assert page.keys() == json_keys(as_json)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(flag_rows(), max_size=30), filters=report_filters())
def test_totals_agree_with_the_flags_listed_in_every_format(
    rows: list[FlagRow], filters: ReportFilters
) -> None:
    report = report_of(rows, filters)
    payload = json.loads(render_json(report))
    page = ReportPage(render_html(report))
    listed = len(payload["flags"])

    assert sum(payload["summary"]["flags"].values()) == listed
    assert payload["summary"]["total"] == listed
    assert payload["summary"]["open"] + payload["summary"]["closed"] == listed
    assert sum(area["total"] for area in payload["summary"]["by_area"]) == listed
    assert sum(month["total"] for month in payload["summary"]["by_month"]) == listed
    assert len(csv_keys(render_csv(report))) == listed
    assert page.by_id["figure-total"]["data-value"] == str(listed)
    assert len(page.flag_rows) == listed


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(flag_rows(), max_size=30),
    filters=report_filters(),
    agency=st.sampled_from(("probation", "police")),
)
def test_an_agency_view_is_the_agency_filter_minimised(
    rows: list[FlagRow], filters: ReportFilters, agency: str
) -> None:
    view = report_of(rows, filters.model_copy(update={"agency": None}), for_agency=agency)  # type: ignore[arg-type]
    filtered = report_of(rows, filters.model_copy(update={"agency": agency}))

    assert [key_of(row) for row in view.flags] == [key_of(row) for row in filtered.flags]
    assert view.summary.flags == filtered.summary.flags
    assert all(
        row.counterpart is None or row.counterpart.reference_date is None for row in view.flags
    )
