"""The JSON, CSV and HTML renderings of the duplicate-assessment report."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.errors import UsageError
from sync.reports import DuplicateReport, ReportFilters
from sync.reports.render import render
from sync.reports.render_csv import CSV_COLUMNS, FORMULA_TRIGGERS, neutralise, render_csv
from sync.reports.render_html import build_chart, render_html
from sync.reports.render_json import render_json
from tests.unit.test_report_factories import (
    ReportPage,
    assessment_flag,
    csv_records,
    duplicate_pair,
    person_record_flag,
    report_of,
)

HOSTILE = [
    '<script>alert("x")</script>',
    '" onmouseover="alert(1)',
    "</td></tr><img src=x onerror=alert(1)>",
    '=HYPERLINK("https://example.invalid")',
]
FORMULA_STARTS = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]


def _sample_report() -> DuplicateReport:
    return report_of(
        [
            *duplicate_pair("SUB-1", area="Łódź"),
            assessment_flag("in_progress_by_non_owner", subject_id="SUB-3", status="in_progress"),
            person_record_flag("SUB-2", state="closed"),
        ]
    )


def test_json_is_utf8_with_a_final_newline_and_stable() -> None:
    payload = render_json(_sample_report())

    assert payload.endswith(b"}\n")
    assert "ŁÓDŹ".encode() in payload  # the area as compared: upper case
    assert payload == render_json(_sample_report())
    assert json.loads(payload)["summary"]["total"] == 5


def test_csv_has_bom_documented_header_and_one_row_per_flag() -> None:
    report = _sample_report()

    payload = render_csv(report)

    assert payload.startswith(b"\xef\xbb\xbf")
    header = payload.decode("utf-8-sig").splitlines()[0].split(",")
    assert tuple(header) == CSV_COLUMNS
    records = csv_records(payload)
    assert len(records) == len(report.flags) == report.summary.total


def test_csv_writes_iso_dates_and_plain_booleans() -> None:
    records = csv_records(render_csv(report_of(duplicate_pair())))

    police = next(r for r in records if r["kind"] == "duplicate" and r["agency"] == "police")
    assert police["reference_date"] == "2025-05-10"
    assert police["counterpart_reference_date"] == "2025-04-20"
    assert police["redundant"] == "true"
    assert police["first_seen"] == "2025-06-01"
    assert police["closed_at"] == ""


def test_csv_lists_person_ids_of_a_duplicate_person_record() -> None:
    (record,) = csv_records(render_csv(report_of([person_record_flag()])))

    assert record["person_ids"].split(" ") == ["D000001", "D000002"]
    assert record["assessment_id"] == ""


@pytest.mark.parametrize("value", FORMULA_STARTS)
def test_csv_neutralises_formulas_in_every_text_field(value: str) -> None:
    row = assessment_flag(
        subject_id=value, assessment_id=value, area=value, rule_at_reference_date=value
    )

    (record,) = csv_records(render_csv(report_of([row])))

    for column in ("subject_id", "assessment_id", "rule_at_reference_date"):
        assert record[column] == "'" + value
    # An area code is compared without surrounding spaces, so a tab or a carriage
    # return before it is gone; the other starts are still formulas.
    area = value.strip()
    assert record["area"] == ("'" + area if area == value else area.upper())
    assert record["person_ids"].startswith("POL-")


@given(st.text())
def test_neutralised_values_never_start_a_formula(value: str) -> None:
    safe = neutralise(value)

    assert safe[:1] not in FORMULA_TRIGGERS
    assert safe in (value, "'" + value)


def test_html_fetches_nothing_from_anywhere() -> None:
    page = render_html(_sample_report())
    text = page.decode()

    assert "http://" not in text
    assert "https://" not in text
    assert "default-src 'none'" in text
    assert {"script", "link", "img", "iframe", "object"}.isdisjoint(ReportPage(page).tags)
    assert re.findall(r"url\((.)", text) == ["#"]  # the chart's own stripes, on the page
    assert "@import" not in text


@pytest.mark.parametrize("hostile", HOSTILE)
def test_html_escapes_hostile_values(hostile: str) -> None:
    row = assessment_flag(subject_id=hostile, area=hostile, rule_at_reference_date=hostile)

    page = render_html(report_of([row], ReportFilters(area=hostile)))
    parsed = ReportPage(page)

    assert hostile not in page.decode()
    assert {"script", "img"}.isdisjoint(parsed.tags)
    assert [row["data-subject"] for row in parsed.flag_rows] == [hostile]


def test_html_shows_template_syntax_in_values_as_text() -> None:
    parsed = ReportPage(render_html(report_of([assessment_flag(subject_id="{{ 6*7 }}")])))

    assert [row["data-subject"] for row in parsed.flag_rows] == ["{{ 6*7 }}"]


def test_html_headline_figures_match_the_summary() -> None:
    report = _sample_report()

    parsed = ReportPage(render_html(report))

    figure = {
        name: parsed.by_id[f"figure-{name}"]["data-value"] for name in ("total", "open", "closed")
    }
    assert figure == {"total": "5", "open": "4", "closed": "1"}
    assert parsed.by_id["figure-redundant-completed"]["data-value"] == "1"
    assert parsed.by_id["figure-hours-lost"]["data-value"] == "6.0"
    assert parsed.by_id["figure-kind-duplicate"]["data-value"] == "2"
    assert parsed.by_id["figure-kind-assessed_without_owner"]["data-value"] == "0"
    assert "estimate-note" in parsed.by_id
    assert parsed.by_id["table-flags"]["data-rows"] == "5"


def test_html_chart_has_two_labelled_series_with_the_month_counts() -> None:
    parsed = ReportPage(render_html(_sample_report()))

    chart = parsed.by_id["chart-duplicates-by-month"]
    assert chart["role"] == "img"
    assert chart["aria-labelledby"] == "chart-title chart-desc"
    assert {"chart-title", "chart-desc", "chart-x-label", "chart-y-label", "chart-legend"} <= (
        parsed.by_id.keys()
    )
    bars = {(b["data-month"], b["data-agency"]): b["data-value"] for b in parsed.bars}
    assert bars == {
        ("2025-04", "probation"): "1",
        ("2025-04", "police"): "0",
        ("2025-05", "probation"): "0",
        ("2025-05", "police"): "1",
    }


def test_html_marks_the_redundant_assessment() -> None:
    text = render_html(report_of(duplicate_pair())).decode()

    table = text[text.index('id="table-flags"') :]
    assert table.count('<span class="badge">redundant</span>') == 2


def test_html_shows_the_change_against_the_previous_period() -> None:
    filters = ReportFilters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31))

    parsed = ReportPage(render_html(report_of(duplicate_pair(), filters)))

    assert parsed.by_id["previous-period"]["data-total-change"] == "1"
    assert parsed.by_id["previous-period"]["data-redundant-change"] == "1"


def test_html_of_an_empty_report_says_so() -> None:
    parsed = ReportPage(render_html(report_of([])))

    assert parsed.by_id["figure-total"]["data-value"] == "0"
    assert {"chart-empty", "detail-empty"} <= parsed.by_id.keys()
    assert parsed.flag_rows == []


def test_html_lists_up_to_the_limit_and_says_how_many_more() -> None:
    rows = [assessment_flag(subject_id=f"SUB-{n}") for n in range(5)]

    parsed = ReportPage(render_html(report_of(rows), max_detail_rows=2))

    assert len(parsed.flag_rows) == 2
    assert parsed.by_id["detail-truncated"]["data-hidden"] == "3"
    assert parsed.by_id["figure-total"]["data-value"] == "5"


def test_chart_fills_months_without_flags() -> None:
    rows = [
        *duplicate_pair(
            "SUB-1", police=("PA-1", date(2025, 1, 5)), probation=("A-1", date(2025, 1, 2))
        ),
        *duplicate_pair(
            "SUB-2", police=("PA-2", date(2025, 4, 5)), probation=("A-2", date(2025, 4, 2))
        ),
    ]

    chart = build_chart(report_of(rows).summary.by_month)

    assert chart is not None
    assert [bar.month for bar in chart.bars[::2]] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert all(bar.y + bar.height == pytest.approx(chart.bottom) for bar in chart.bars)
    assert chart.y_marks[-1].label == "1"


def test_chart_spans_only_the_months_with_a_duplicate() -> None:
    rows = [
        assessment_flag(assessment_id="PA-0", reference_date=date(2024, 11, 3)),
        *duplicate_pair(
            "SUB-1", police=("PA-1", date(2025, 1, 5)), probation=("A-1", date(2025, 1, 2))
        ),
        *duplicate_pair(
            "SUB-2", police=("PA-2", date(2025, 3, 5)), probation=("A-2", date(2025, 3, 2))
        ),
        assessment_flag(assessment_id="PA-9", reference_date=date(2025, 6, 20)),
    ]

    chart = build_chart(report_of(rows).summary.by_month)

    assert chart is not None
    assert [bar.month for bar in chart.bars[::2]] == ["2025-01", "2025-02", "2025-03"]


@pytest.mark.parametrize(
    ("fmt", "renderer"), [("json", render_json), ("csv", render_csv), ("html", render_html)]
)
def test_render_picks_the_renderer_by_format_name(fmt: str, renderer: object) -> None:
    report = _sample_report()

    assert render(report, fmt) == renderer(report)  # type: ignore[operator]


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(UsageError, match="json, csv or html"):
        render(_sample_report(), "xlsx")


def test_no_kinds_given_means_every_kind() -> None:
    assert ReportFilters(kinds=None).kinds == ()


def test_chart_spans_the_reports_period_at_the_ends_it_gives() -> None:
    rows = duplicate_pair(
        "SUB-1", police=("PA-1", date(2025, 5, 5)), probation=("A-1", date(2025, 5, 2))
    )
    by_month = report_of(rows).summary.by_month

    closed = build_chart(by_month, date(2025, 3, 1), date(2025, 7, 31))
    opened = build_chart(by_month, date(2025, 4, 15), None)
    unbounded = build_chart(by_month)

    assert closed is not None
    assert opened is not None
    assert unbounded is not None
    assert [mark.label for mark in closed.x_marks] == [
        "2025-03",
        "2025-04",
        "2025-05",
        "2025-06",
        "2025-07",
    ]
    assert [mark.label for mark in opened.x_marks] == ["2025-04", "2025-05"]
    assert [mark.label for mark in unbounded.x_marks] == ["2025-05"]


def test_a_period_of_centuries_widens_the_chart_by_ten_years_at_most() -> None:
    rows = duplicate_pair(
        "SUB-1", police=("PA-1", date(2025, 5, 5)), probation=("A-1", date(2025, 5, 2))
    )

    chart = build_chart(report_of(rows).summary.by_month, date(1, 1, 1), date(9999, 12, 31))

    assert chart is not None
    months = [bar.month for bar in chart.bars[::2]]
    assert (months[0], months[-1], len(months)) == ("2015-05", "2035-05", 241)


def _documented_csv_columns() -> list[str]:
    """The CSV columns `docs/reports.md` lists, in its order."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text()
    section = text.split("## CSV", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])]


def test_csv_header_is_the_documented_one_and_every_row_as_long() -> None:
    payload = render_csv(_sample_report())
    rows = list(csv.reader(io.StringIO(payload.decode("utf-8-sig"))))
    assert rows[0] == _documented_csv_columns()
    assert {len(row) for row in rows} == {len(rows[0])}


def test_csv_says_which_side_of_a_duplicate_is_redundant_and_leaves_others_empty() -> None:
    records = csv_records(render_csv(report_of(duplicate_pair())))
    by_side = {
        (r["kind"], r["agency"]): (r["redundant"], r["counterpart_redundant"]) for r in records
    }
    assert by_side == {
        ("duplicate", "police"): ("true", "false"),
        ("duplicate", "probation"): ("false", "true"),
        ("assessed_by_non_owner", "police"): ("", ""),
    }


def test_csv_leaves_the_cells_of_a_person_record_flag_empty() -> None:
    (record,) = csv_records(render_csv(report_of([person_record_flag()])))
    for column in (
        "assessment_id",
        "reference_date",
        "counterpart_agency",
        "counterpart_assessment_id",
        "counterpart_reference_date",
        "redundant",
        "counterpart_redundant",
        "closed_at",
    ):
        assert record[column] == "", column


def test_csv_puts_an_alerts_owner_on_the_as_of_date_in_its_own_columns() -> None:
    alert = assessment_flag(
        "in_progress_by_non_owner",
        status="in_progress",
        owner_at_as_of="probation",
        rule_at_as_of="PROB-SEXUAL",
    )
    (record,) = csv_records(render_csv(report_of([alert])))
    assert (record["owner_at_as_of"], record["rule_at_as_of"]) == ("probation", "PROB-SEXUAL")


@pytest.mark.parametrize("value", [*FORMULA_STARTS, "=", "-", "@"])
def test_csv_neutralises_formulas_in_references_the_other_agency_sent(value: str) -> None:
    row = assessment_flag(
        "duplicate",
        person_ids=[value],
        counterpart={"agency": "probation", "assessment_id": value},
        redundant=False,
    )
    (record,) = csv_records(render_csv(report_of([row])))
    assert record["person_ids"] == "'" + value
    assert record["counterpart_assessment_id"] == "'" + value


def test_csv_gives_the_days_in_england_a_flag_was_raised_and_closed() -> None:
    """Half past midnight in summer in England is still the evening before in UTC; in
    winter England keeps UTC."""
    half_past_midnight_bst = datetime(2025, 5, 31, 23, 30, tzinfo=UTC)
    half_past_eleven_gmt = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    row = assessment_flag(
        state="closed",
        first_seen=half_past_midnight_bst,
        closed_at=half_past_eleven_gmt,
    )
    (record,) = csv_records(render_csv(report_of([row], ReportFilters(state="closed"))))
    assert (record["first_seen"], record["closed_at"]) == ("2025-06-01", "2025-12-31")


def test_every_format_shows_the_date_a_person_record_flag_is_filed_under() -> None:
    """A `duplicate_person_record` flag has no reference date: it is filed under the as-of
    date of the run that raised it, which each format shows, so a manager sees why it
    falls in the period asked for (here raised on 1 June by a run dated 31 May)."""
    row = person_record_flag(
        first_seen=datetime(2025, 6, 1, 9, tzinfo=UTC), first_seen_as_of=date(2025, 5, 31)
    )
    report = report_of([row], ReportFilters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31)))

    (dumped,) = json.loads(render_json(report))["flags"]
    (record,) = csv_records(render_csv(report))
    assert (dumped["first_seen"], dumped["report_date"]) == ("2025-06-01", "2025-05-31")
    assert (record["first_seen"], record["report_date"]) == ("2025-06-01", "2025-05-31")
    assert "filed under 2025-05-31" in render_html(report).decode()
