"""What the HTML duplicate report shows a manager, cell by cell.

The page's labels, headline figures, filters and view, the chart's scale and
geometry, the detailed rows (owners, rules, redundancy badges, days raised and
closed), the detail-row limit, escaping, the Content-Security-Policy and the
print layout; plus the JSON's one-line shape and the format names. Each test
names the passage of `docs/reports.md` (or `spec/`) it holds the renderer to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.core import rules as rules_module
from sync.core.duplicates import DUPLICATE_REPORT_KINDS
from sync.errors import UsageError
from sync.reports import DuplicateReport, ReportFilters, build_report
from sync.reports.models import AgencyName, Counterpart, FlagState, MonthCounts, hours_text
from sync.reports.render import REPORT_FORMATS, render
from sync.reports.render_html import (
    CHART_BAR_GAP,
    KIND_LABELS,
    KIND_MEANINGS,
    RULE_MEANINGS,
    Chart,
    build_chart,
    css_string,
    render_html,
)
from sync.reports.render_json import render_json
from tests.unit.test_report_factories import (
    AS_OF,
    HOURS,
    assessment_flag,
    duplicate_pair,
    person_record_flag,
    report_of,
)

KIND_LABELS_IN_SPEC_ORDER = [
    ("duplicate", "Duplicate assessment"),
    ("assessed_by_non_owner", "Assessed by the non-owner"),
    ("assessed_without_owner", "Assessed with no owner"),
    ("in_progress_by_non_owner", "In progress by the non-owner"),
    ("duplicate_person_record", "Duplicate person record"),
]
HOSTILE = '<em id="injected">EXAMPLE</em>'
CSP = "default-src 'none'; style-src 'unsafe-inline'"
VOID_TAGS = frozenset({"meta", "br", "link", "img", "input", "hr"})


@dataclass
class Node:
    """One element of a parsed page."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """The element's text, its descendants' included, whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def walk(self) -> list[Node]:
        """The element and every element under it, in document order."""
        found = [self]
        for child in self.children:
            if isinstance(child, Node):
                found.extend(child.walk())
        return found

    def all(self, tag: str) -> list[Node]:
        """Every element under this one (itself included) with that tag."""
        return [node for node in self.walk() if node.tag == tag]


class _Tree(HTMLParser):
    def __init__(self, page: bytes) -> None:
        super().__init__()
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.feed(page.decode("utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if any(node.tag == tag for node in self.stack[1:]):
            while self.stack.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _page(page: bytes) -> Node:
    return _Tree(page).root


def _by_id(root: Node, element_id: str) -> Node:
    (node,) = [n for n in root.walk() if n.attrs.get("id") == element_id]
    return node


def _ids(root: Node) -> set[str]:
    return {n.attrs["id"] for n in root.walk() if "id" in n.attrs}


def _flag_cells(root: Node) -> dict[tuple[str, str, str], list[str]]:
    """The detailed list's cells by (kind, agency, assessment): the row's header (its
    subject) first."""
    rows = _by_id(root, "table-flags").all("tr")[1:]
    return {
        (r.attrs["data-kind"], r.attrs["data-agency"], r.attrs["data-assessment"]): [
            cell.text() for cell in r.walk()[1:] if cell.tag in {"th", "td"}
        ]
        for r in rows
    }


def _month(month: str, probation: int, police: int) -> MonthCounts:
    total = probation + police
    return MonthCounts(
        month=month,
        flags={"duplicate": total},
        total=total,
        duplicates_by_agency={"probation": probation, "police": police},
    )


def _chart(
    by_month: list[MonthCounts], date_from: date | None = None, date_to: date | None = None
) -> Chart:
    chart = build_chart(by_month, date_from, date_to)
    assert chart is not None
    return chart


def _sample() -> DuplicateReport:
    return report_of(
        [
            *duplicate_pair("SUB-1"),
            assessment_flag("in_progress_by_non_owner", subject_id="SUB-3", status="in_progress"),
            person_record_flag("SUB-2", state="closed"),
        ]
    )


# Header: title, as-of date, period, filters, view, window


def test_title_and_as_of_date_name_the_reports_day() -> None:
    """docs/reports.md, HTML: "It shows the title, as-of date and filters"."""
    root = _page(render_html(_sample()))

    assert root.all("title")[0].text() == "Duplicate ARMS assessments – as of 2026-11-28"
    assert _by_id(root, "report-as-of").text() == "2026-11-28"


@pytest.mark.parametrize(
    ("date_from", "date_to", "shown"),
    [
        (date(2025, 5, 1), date(2025, 5, 31), "Period: 2025-05-01 to 2025-05-31"),
        (date(2025, 5, 1), None, "Period: 2025-05-01 to any date"),
        (None, date(2025, 5, 31), "Period: any date to 2025-05-31"),
        (None, None, "Period: all dates"),
    ],
)
def test_the_period_is_shown_with_either_end_open(
    date_from: date | None, date_to: date | None, shown: str
) -> None:
    """docs/reports.md: the period has both ends inclusive, "either may be open"."""
    filters = ReportFilters(date_from=date_from, date_to=date_to, state=None)

    root = _page(render_html(report_of(duplicate_pair(), filters)))

    assert _by_id(root, "report-period").text() == shown


def test_every_filter_given_is_shown() -> None:
    """docs/reports.md, HTML: it shows the filters (area, agency, kinds, state)."""
    filters = ReportFilters(area="NW", agency="police", kinds=("duplicate",), state="open")

    meta = _by_id(_page(render_html(report_of(duplicate_pair(), filters))), "report-meta").text()

    for shown in ("Area: NW", "Agency: police", "Flags: open only", "Kinds: duplicate"):
        assert shown in meta


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("open", "Flags: open only"),
        ("closed", "Flags: closed only"),
        (None, "Flags: open and closed"),
    ],
)
def test_the_header_says_which_flags_it_covers_whatever_the_state(
    state: FlagState | None, shown: str
) -> None:
    """docs/reports.md: `state` is open, closed, or both (`--state all`); a report of both
    says so, rather than leaving a manager to guess it holds the open flags only."""
    filters = ReportFilters(state=state)

    meta = _by_id(_page(render_html(report_of(duplicate_pair(), filters))), "report-meta").text()

    assert shown in meta
    assert meta.count("Flags:") == 1


def test_a_report_without_filters_says_it_covers_all_areas() -> None:
    """docs/reports.md: every filter left empty means no restriction."""
    meta = _by_id(_page(render_html(report_of(duplicate_pair()))), "report-meta").text()

    assert "Area: all areas" in meta
    assert "Agency:" not in meta
    assert "Kinds:" not in meta


def test_the_duplicate_window_is_the_reports_own() -> None:
    """docs/reports.md: the report states the duplicate window its run decided with."""
    report = build_report(
        duplicate_pair(),
        as_of=AS_OF,
        window_days=90,
        hours_per_assessment=HOURS,
        filters=ReportFilters(),
    )

    meta = _by_id(_page(render_html(report)), "report-meta").text()

    assert "Duplicate window: 90 days" in meta


@pytest.mark.parametrize(
    ("view", "label"),
    [
        (None, "National view"),
        ("probation", "Probation's own view"),
        ("police", "Police's own view"),
    ],
)
def test_the_page_says_whose_view_it_is(view: str | None, label: str) -> None:
    """docs/reports.md, Agency views: an agency's report is its own minimised view."""
    report = report_of(duplicate_pair(), for_agency=view)  # type: ignore[arg-type]

    element = _by_id(_page(render_html(report)), "report-view")

    assert (element.attrs["data-view"], element.text()) == (view or "national", label)


# Headline figures


def test_headline_figures_show_their_values() -> None:
    """docs/reports.md: flags, open, closed, redundant completed and hours lost."""
    root = _page(render_html(_sample()))

    shown = {
        name: _by_id(root, f"figure-{name}").all("dd")[0].text()
        for name in ("total", "open", "closed", "redundant-completed", "hours-lost")
    }

    assert shown == {
        "total": "5",
        "open": "4",
        "closed": "1",
        "redundant-completed": "1",
        "hours-lost": "6",
    }


def test_the_estimate_states_its_assumption() -> None:
    """docs/reports.md: the estimate is "an order of magnitude ... every format says so"."""
    report = _sample()

    note = _by_id(_page(render_html(report)), "estimate-note").text()

    assert note
    assert note == " ".join(report.summary.estimate_note.split())


def test_kind_figures_follow_the_spec_order_with_labels_then_other_kinds() -> None:
    """docs/reports.md, summary.flags: "the five known kinds first in the spec's order"."""
    rows = [*duplicate_pair(), assessment_flag("future_kind", assessment_id="PA-2")]
    figures = _by_id(_page(render_html(report_of(rows))), "kind-figures").all("div")

    shown = [(f.attrs["data-kind"], f.all("dt")[0].text(), f.all("dd")[0].text()) for f in figures]

    counts = {"duplicate": "2", "assessed_by_non_owner": "1", "future_kind": "1"}
    expected = [*KIND_LABELS_IN_SPEC_ORDER, ("future_kind", "future_kind")]
    assert shown == [(kind, label, counts.get(kind, "0")) for kind, label in expected]


def test_the_change_against_the_previous_period_is_stated_in_full() -> None:
    """docs/reports.md, summary.previous_period: the same counts for the period of the
    same length ending the day before `date_from`, and `change`."""
    rows = [
        *duplicate_pair(
            "SUB-1", police=("PA-1", date(2025, 5, 10)), probation=("A-1", date(2025, 5, 2))
        ),
        *duplicate_pair(
            "SUB-2", police=("PA-2", date(2025, 5, 20)), probation=("A-2", date(2025, 5, 12))
        ),
        assessment_flag(subject_id="SUB-3", assessment_id="PA-50", reference_date=date(2025, 4, 5)),
    ]
    filters = ReportFilters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31), state=None)

    element = _by_id(_page(render_html(report_of(rows, filters))), "previous-period")

    assert element.text() == (
        "Against the previous period (2025-03-31 to 2025-04-30: 1 flag, 0 redundant completed):"
        " flags +5 , redundant completed +2 , hours lost +12 ."
    )
    assert (element.attrs["data-total-change"], element.attrs["data-redundant-change"]) == (
        "5",
        "2",
    )
    assert [s.attrs.get("class") for s in element.all("strong")] == ["up", "up", None]


# By area


def test_area_table_counts_each_kind_areas_by_name_and_no_area_last() -> None:
    """docs/reports.md, summary.by_area: per area (sorted by name, flags with no area
    last): counts per kind and total."""
    rows = [
        assessment_flag(subject_id="SUB-1", assessment_id="PA-1", area="AB"),
        assessment_flag(subject_id="SUB-2", assessment_id="PA-2", area="AB"),
        person_record_flag("SUB-3", area="NW"),
        assessment_flag(subject_id="SUB-4", assessment_id="PA-4", area=None),
    ]
    table = _by_id(_page(render_html(report_of(rows))), "table-by-area")

    header = [th.text() for th in table.all("thead")[0].all("th")]
    body = table.all("tbody")[0].all("tr")

    assert header == ["Area", *(label for _, label in KIND_LABELS_IN_SPEC_ORDER), "All flags"]
    assert [[cell.text() for cell in r.walk()[1:] if cell.tag in {"th", "td"}] for r in body] == [
        ["AB", "0", "2", "0", "0", "0", "2"],
        ["NW", "0", "0", "0", "0", "1", "1"],
        ["(no area)", "0", "1", "0", "0", "0", "1"],
    ]
    assert [r.attrs["data-total"] for r in body] == ["2", "1", "1"]


# Flags in detail


def test_a_duplicate_row_names_both_assessments_owner_rule_and_area() -> None:
    """docs/reports.md, HTML: the flags in detail, with the owner and rule at the time,
    the redundant assessment of each duplicate pair marked (worked example 1)."""
    cells = _flag_cells(_page(render_html(report_of(duplicate_pair()))))

    assert cells[("duplicate", "police", "PA-9")] == [
        "SUB-1 POL-SUB-1",
        "Duplicate assessment open",
        "Police PA-9 redundant completed 2025-05-10",
        "Probation PROB-SEXUAL",
        "Probation A-77 2025-04-20",
        "NW",
        "raised 2025-06-01",
    ]


def test_the_legend_gives_each_rule_the_listed_flags_name_in_the_policys_order() -> None:
    """A manager reading a rule id finds what it means beneath the flags; rules no
    listed flag names are left out."""
    flags = [
        assessment_flag(
            "in_progress_by_non_owner",
            status="in_progress",
            rule_at_reference_date="POLICE-REGISTERED",
            rule_at_as_of="PROB-SEXUAL",
        ),
        assessment_flag(assessment_id="PA-2", rule_at_reference_date="NONE-CUSTODY"),
    ]
    legend = _by_id(_page(render_html(report_of(flags))), "rule-legend")

    assert [(div.attrs["data-rule"], div.all("dd")[0].text()) for div in legend.all("div")] == [
        ("NONE-CUSTODY", "no owner: in custody on that date"),
        ("PROB-SEXUAL", "probation: supervised for a sexual offence"),
        ("POLICE-REGISTERED", "police: registered, and not supervised by probation"),
    ]


def test_the_legend_says_what_each_listed_kind_of_flag_means_and_who_should_act() -> None:
    """An alert to stop work in progress reads as one; kinds no listed flag has are left out."""
    flags = [
        assessment_flag("assessed_by_non_owner", assessment_id="PA-2"),
        assessment_flag("in_progress_by_non_owner", status="in_progress"),
    ]
    legend = _by_id(_page(render_html(report_of(flags))), "kind-legend")

    told = [(div.attrs["data-kind"], div.all("dd")[0].text()) for div in legend.all("div")]
    assert [kind for kind, _ in told] == ["assessed_by_non_owner", "in_progress_by_non_owner"]
    assert "stop the work" in told[1][1]
    assert [div.all("dt")[0].text() for div in legend.all("div")] == [
        "Assessed by the non-owner",
        "In progress by the non-owner",
    ]


def test_every_kind_of_flag_has_a_meaning_in_the_legend() -> None:
    assert set(KIND_MEANINGS) == set(KIND_LABELS) == DUPLICATE_REPORT_KINDS


def test_every_rule_the_policy_can_name_has_a_meaning_in_the_legend() -> None:
    rules = {
        value
        for name, value in vars(rules_module).items()
        if name.startswith("RULE_") and isinstance(value, str)
    }
    assert set(RULE_MEANINGS) == rules


def test_the_page_says_that_figures_count_flags_and_what_an_area_is() -> None:
    root = _page(render_html(_sample()))
    assert "twice the number of pairs" in _by_id(root, "count-note").text()
    assert "a police force for a police flag" in _by_id(root, "area-note").text()


def test_the_counterpart_side_of_a_pair_marks_the_counterpart_redundant() -> None:
    """docs/reports.md, HTML: "Each assessment of a duplicate pair that is redundant is
    marked, the counterpart included"."""
    cells = _flag_cells(_page(render_html(report_of(duplicate_pair()))))

    row = cells[("duplicate", "probation", "A-77")]
    assert (row[2], row[4]) == (
        "Probation A-77 completed 2025-04-20",
        "Police PA-9 redundant 2025-05-10",
    )


def test_an_agency_view_never_marks_the_counterpart_for_the_other_agencys_reasons() -> None:
    """docs/reports.md, Agency views: the counterpart is said to be redundant only where
    the agency's own flag implies it (its own assessment is not redundant)."""
    report = report_of(duplicate_pair(), for_agency="police")

    cells = _flag_cells(_page(render_html(report)))[("duplicate", "police", "PA-9")]

    assert (cells[2], cells[4]) == ("Police PA-9 redundant completed 2025-05-10", "Probation A-77")


def test_an_alert_shows_the_owner_and_rule_on_the_as_of_date_under_those_at_the_time() -> None:
    """docs/reports.md, HTML: for work in progress by the non-owner, the owner and rule
    on the as-of date under them."""
    alert = assessment_flag(
        "in_progress_by_non_owner",
        status="in_progress",
        owner_at_reference_date="police",
        rule_at_reference_date="POLICE-REGISTERED",
        owner_at_as_of="probation",
        rule_at_as_of="PROB-SEXUAL",
    )

    (cells,) = _flag_cells(_page(render_html(report_of([alert])))).values()

    assert cells[1:4] == [
        "In progress by the non-owner open",
        "Police PA-1 in progress 2025-05-10",
        "Police POLICE-REGISTERED on 2026-11-28: Probation PROB-SEXUAL",
    ]


def test_no_owner_at_the_time_is_said_in_words() -> None:
    """spec/duplicates.md, worked example 3: owner then none (`NONE-CUSTODY`)."""
    row = assessment_flag(
        "assessed_without_owner",
        owner_at_reference_date="none",
        rule_at_reference_date="NONE-CUSTODY",
    )

    (cells,) = _flag_cells(_page(render_html(report_of([row])))).values()

    assert cells[1] == "Assessed with no owner open"
    assert cells[3] == "No owner NONE-CUSTODY"


def test_a_person_record_row_lists_every_record_and_the_agency() -> None:
    """docs/reports.md: `duplicate_person_record` has two or more person records."""
    (cells,) = _flag_cells(_page(render_html(report_of([person_record_flag()])))).values()

    assert cells[:3] == [
        "SUB-2 D000001, D000002",
        "Duplicate person record open",
        "Probation filed under 2025-06-01",
    ]


def test_a_closed_flag_shows_the_days_in_england_it_was_raised_and_closed() -> None:
    """docs/reports.md: each flag with the day it was raised and the day it closed
    (`first_seen`, `closed_at` as days in England and Wales)."""
    half_past_eleven_bst = datetime(2025, 5, 31, 22, 30, tzinfo=UTC)
    row = assessment_flag(
        state="closed",
        first_seen=half_past_eleven_bst,
        closed_at=half_past_eleven_bst + timedelta(days=31, hours=1),
    )
    root = _page(render_html(report_of([row])))

    (tr,) = _by_id(root, "table-flags").all("tbody")[0].all("tr")
    (cells,) = _flag_cells(root).values()

    assert tr.attrs["data-state"] == "closed"
    assert cells[1] == "Assessed by the non-owner closed"
    assert cells[6] == "raised 2025-05-31 closed 2025-07-02"


def test_a_flag_raised_in_the_first_hour_of_a_summer_day_shows_that_day() -> None:
    """At 00:30 in England the UTC day is still the one before; the report gives the day
    in England and Wales, as the CSV and JSON do."""
    half_past_midnight_bst = datetime(2025, 5, 31, 23, 30, tzinfo=UTC)
    row = assessment_flag(
        state="closed",
        first_seen=half_past_midnight_bst,
        closed_at=half_past_midnight_bst + timedelta(days=2),
    )
    (cells,) = _flag_cells(_page(render_html(report_of([row])))).values()

    assert cells[6] == "raised 2025-06-01 closed 2025-06-03"


def test_a_kind_without_a_label_is_shown_by_its_name() -> None:
    """docs/reports.md, summary.flags: kinds other than the five known ones are listed."""
    (cells,) = _flag_cells(_page(render_html(report_of([assessment_flag("future_kind")])))).values()

    assert cells[1] == "future_kind open"


def test_the_detailed_list_stops_at_ten_thousand_flags_and_says_how_many_more() -> None:
    """docs/reports.md: "The detailed list shows at most 10,000 flags by default ... the
    page says how many more there are. The figures always count every flag"."""
    rows = [assessment_flag(subject_id=f"SUB-{n:05d}", area=None) for n in range(10_001)]
    page = render(report_of(rows), "html")
    table_at = page.index(b'<table id="table-flags"')
    head, tail = _page(page[:table_at]), _page(page[page.index(b"</table>", table_at) :])

    truncated = _by_id(tail, "detail-truncated")

    assert page.count(b'<tr class="flag ') == 10_000
    assert re.match(rb'<table id="table-flags" data-rows="10000"', page[table_at:])
    assert truncated.attrs["data-hidden"] == "1"
    assert "The first 10,000 flags are listed; 1 more" in truncated.text()
    in_order = tail.walk()
    assert in_order.index(truncated) < in_order.index(_by_id(tail, "kind-legend"))
    assert _by_id(head, "figure-total").attrs["data-value"] == "10001"


# Chart


def test_the_chart_spans_the_period_the_report_gives() -> None:
    """docs/reports.md, HTML: the chart is widened to the report's period at each end."""
    filters = ReportFilters(date_from=date(2025, 3, 1), date_to=date(2025, 7, 31), state=None)

    bars = _by_id(
        _page(render_html(report_of(duplicate_pair(), filters))), "chart-duplicates-by-month"
    ).all("rect")

    assert sorted({b.attrs["data-month"] for b in bars}) == [f"2025-{m:02d}" for m in range(3, 8)]


def test_the_chart_counts_duplicate_flags_only() -> None:
    """docs/reports.md, HTML: "a bar chart of duplicate flags per month for each agency"."""
    rows = [
        *duplicate_pair("SUB-1"),
        *duplicate_pair(
            "SUB-2", police=("PA-2", date(2025, 5, 12)), probation=("A-2", date(2025, 4, 22))
        ),
    ]

    svg = _by_id(_page(render_html(report_of(rows))), "chart-duplicates-by-month")

    assert svg.attrs["data-total"] == "4"
    assert " 4 in all;" in _by_id(svg, "chart-desc").text()


def test_the_page_draws_the_bars_and_labels_the_chart_computes() -> None:
    """docs/reports.md, HTML: bars carry `data-month`, `data-agency`, `data-value`; each
    agency's series in its own colour, named in the legend."""
    report = report_of(duplicate_pair())
    chart = _chart(report.summary.by_month)
    svg = _by_id(_page(render_html(report)), "chart-duplicates-by-month")

    drawn = [
        (
            r.attrs["class"],
            r.attrs["x"],
            r.attrs["y"],
            r.attrs["width"],
            r.attrs["height"],
            r.text(),
        )
        for r in svg.all("rect")
    ]
    texts = [(t.attrs.get("text-anchor"), t.text()) for t in svg.all("text") if "id" not in t.attrs]

    assert drawn == [
        (
            f"bar-{b.agency}",
            f"{b.x:.2f}",
            f"{b.y:.2f}",
            f"{b.width:.2f}",
            f"{b.height:.2f}",
            f"{b.month}, {b.agency}: {b.value}",
        )
        for b in chart.bars
    ]
    assert [label for anchor, label in texts if anchor == "end"] == [m.label for m in chart.y_marks]
    assert [label for anchor, label in texts if anchor == "middle"] == [
        m.label for m in chart.x_marks
    ]


def test_the_legend_names_each_agency_in_its_bars_colour() -> None:
    """docs/reports.md, HTML: a bar chart of duplicate flags per month for each agency."""
    legend = _by_id(_page(render_html(report_of(duplicate_pair()))), "chart-legend")

    shown = {
        li.attrs["data-agency"]: (li.all("span")[0].attrs["class"], li.text())
        for li in legend.all("li")
    }

    assert shown == {
        "probation": (
            "swatch bar-probation",
            "Probation assessments (left bar of each month, solid)",
        ),
        "police": ("swatch bar-police", "Police assessments (right bar, striped)"),
    }


def test_everything_drawn_lies_inside_the_charts_frame() -> None:
    """docs/reports.md, HTML: one self-contained page, printable on A4: the chart's
    labels are not cut off at the edge of its drawing."""
    report = report_of(duplicate_pair())
    svg = _by_id(_page(render_html(report)), "chart-duplicates-by-month")
    _, _, width, height = (float(v) for v in svg.attrs["viewbox"].split())

    for node in svg.walk():
        if "x" in node.attrs:
            assert 0 <= float(node.attrs["x"]) <= width, node.attrs
        if "y" in node.attrs:
            assert 0 <= float(node.attrs["y"]) <= height, node.attrs


@pytest.mark.parametrize(
    ("peak", "labels"),
    [
        (1, ["0", "1"]),
        (7, ["0", "2", "4", "6", "8"]),
        (10, ["0", "2", "4", "6", "8", "10"]),
        (23, ["0", "5", "10", "15", "20", "25"]),
        (120, ["0", "50", "100", "150"]),
        (2500, ["0", "500", "1,000", "1,500", "2,000", "2,500"]),
    ],
)
def test_the_scale_reaches_the_tallest_bar_in_round_steps(peak: int, labels: list[str]) -> None:
    """docs/reports.md, HTML bar chart; render_html: ticks of 1, 2 or 5 × 10ⁿ, about
    five, the top one at or just above the tallest bar of any month and agency."""
    chart = _chart([_month("2025-01", peak, 0), _month("2025-02", 1, 1)])

    assert [mark.label for mark in chart.y_marks] == labels


def test_bars_stand_on_the_axis_in_proportion_to_the_scale() -> None:
    """docs/reports.md, HTML: the bars show duplicate flags per month; a bar's height
    reads off the y axis as its value."""
    chart = _chart([_month("2025-01", 7, 3), _month("2025-03", 2, 0)])
    zero, top = chart.y_marks[0], chart.y_marks[-1]
    per_flag = (chart.bottom - chart.top) / int(top.label)

    assert zero.label == "0"
    assert zero.position == pytest.approx(chart.bottom)
    assert top.position == pytest.approx(chart.top)
    assert [mark.position for mark in chart.y_marks] == sorted(
        (mark.position for mark in chart.y_marks), reverse=True
    )
    for bar in chart.bars:
        assert bar.height == pytest.approx(bar.value * per_flag)
        assert bar.y + bar.height == pytest.approx(chart.bottom)


def test_months_share_the_width_and_each_pair_of_bars_is_centred_under_its_label() -> None:
    """docs/reports.md, HTML: every month from the first to the last, empty ones
    included; the two agencies' bars side by side in their month."""
    chart = _chart([_month("2025-01", 2, 1), _month("2025-04", 1, 2)])
    slot = (chart.right - chart.left) / 4

    for index, (one, other) in enumerate(zip(chart.bars[::2], chart.bars[1::2], strict=True)):
        first, second = sorted((one, other), key=lambda bar: bar.x)
        centre = chart.left + (index + 0.5) * slot
        gap = second.x - (first.x + first.width)
        assert gap == pytest.approx(first.width * CHART_BAR_GAP / (1 - CHART_BAR_GAP))
        assert gap > 0
        assert (first.x + second.x + second.width) / 2 == pytest.approx(centre)
        assert chart.x_marks[index].position == pytest.approx(centre)


def test_a_long_chart_keeps_each_months_bars_within_its_month() -> None:
    """docs/reports.md, HTML: a period widened by up to ten years at each end still
    makes a chart of a sensible size: months do not overlap."""
    chart = _chart([_month("2015-05", 1, 0), _month("2035-05", 0, 1)])
    slot = (chart.right - chart.left) / 241

    assert len(chart.bars) == 2 * 241
    for index, bar in enumerate(chart.bars):
        assert chart.left + (index // 2) * slot - 1e-9 <= bar.x
        assert bar.x + bar.width <= chart.left + (index // 2 + 1) * slot + 1e-9


def test_month_labels_are_a_dozen_at_most_evenly_spaced_from_the_first() -> None:
    """docs/reports.md, HTML: a chart of a sensible size; render_html: at most twelve
    month labels, evenly spaced, so they stay legible."""
    two_years = _chart([_month("2024-01", 1, 0), _month("2025-12", 0, 1)])
    twenty_years = _chart([_month("2015-05", 1, 0), _month("2035-05", 0, 1)])

    months = [bar.month for bar in two_years.bars[::2]]
    assert [mark.label for mark in two_years.x_marks] == months[::2]
    assert len(twenty_years.x_marks) <= 12
    assert twenty_years.x_marks[0].label == "2015-05"


@pytest.mark.parametrize(
    ("flagged", "date_to", "first", "last", "count"),
    [
        ("9995-01", date(9998, 6, 30), "9995-01", "9998-06", 42),
        ("9995-01", date(9999, 12, 31), "9995-01", "9999-12", 60),
        ("9999-12", date(9999, 12, 31), "9999-12", "9999-12", 1),
        ("9999-12", None, "9999-12", "9999-12", 1),
    ],
)
def test_a_period_near_the_end_of_the_calendar_ends_the_chart_at_the_periods_end(
    flagged: str, date_to: date | None, first: str, last: str, count: int
) -> None:
    """docs/reports.md, HTML: the chart is "widened to the report's period ... by ten years
    at most", within the calendar (years 1-9999): a period to 9999-12-31 still makes a
    chart of a sensible size."""
    chart = _chart([_month(flagged, 1, 0)], None, date_to)

    _assert_every_month(chart, first, last, count)


@pytest.mark.parametrize(
    ("date_from", "first", "count"),
    [
        (date(2024, 11, 1), "2024-11", 7),
        (date(2016, 2, 29), "2016-02", 112),
        (date(999, 1, 1), "2015-05", 121),
        (date(1, 1, 1), "2015-05", 121),
    ],
)
def test_a_period_from_long_ago_widens_the_chart_by_ten_years_at_most(
    date_from: date, first: str, count: int
) -> None:
    """docs/reports.md, HTML: widened to the report's period, by ten years at most, for a
    period starting before the year 1000 as for any other."""
    chart = _chart([_month("2025-05", 1, 0)], date_from)

    _assert_every_month(chart, first, "2025-05", count)


def _assert_every_month(chart: Chart, first: str, last: str, count: int) -> None:
    """The chart's months run from `first` to `last`, `count` distinct months in order."""
    months = [bar.month for bar in chart.bars[::2]]
    assert (months[0], months[-1], len(months)) == (first, last, count)
    assert months == sorted(set(months))


# Hours


@pytest.mark.parametrize(
    ("hours", "signed", "shown"),
    [
        (12345.67, False, "12,345.67"),
        (1234567.0, False, "1,234,567"),
        (7.5, False, "7.5"),
        (6.0, False, "6"),
        (0.0, False, "0"),
        (-0.0, False, "0"),
        (12.0, True, "+12"),
        (-3.25, True, "-3.25"),
        (1000.1, True, "+1,000.1"),
    ],
)
def test_hours_read_with_thousands_separators_and_two_decimals_at_most(
    hours: float, signed: bool, shown: str
) -> None:
    """docs/reports.md: `hours_lost_estimate` is rounded to two decimals; shown in full."""
    assert hours_text(hours, signed=signed) == shown


def test_the_page_shows_a_large_estimate_in_full() -> None:
    """docs/reports.md: the estimate is `redundant_completed × hours_per_assessment`."""
    report = build_report(
        duplicate_pair(),
        as_of=AS_OF,
        window_days=180,
        hours_per_assessment=12345.67,
        filters=ReportFilters(),
    )

    figure = _by_id(_page(render_html(report)), "figure-hours-lost")

    assert figure.all("dd")[0].text() == "12,345.67"


# Escaping, Content-Security-Policy, print layout


def _hostile_reports() -> dict[str, DuplicateReport]:
    counterpart = Counterpart(agency="probation", assessment_id=HOSTILE)
    alert = assessment_flag(
        "in_progress_by_non_owner", owner_at_as_of=HOSTILE, rule_at_as_of=HOSTILE
    )
    return {
        "assessment_id": report_of([assessment_flag(assessment_id=HOSTILE)]),
        "counterpart": report_of(
            [assessment_flag("duplicate", counterpart=counterpart, redundant=True)]
        ),
        "owner_and_rule_now": report_of([alert]),
        "owner_then": report_of([assessment_flag(owner_at_reference_date=HOSTILE)]),
        "kind": report_of([assessment_flag(HOSTILE)]),
        "kinds_filter": report_of([assessment_flag()], ReportFilters(kinds=(HOSTILE,))),
    }


@pytest.mark.parametrize("value", sorted(_hostile_reports()))
def test_every_value_is_escaped(value: str) -> None:
    """docs/reports.md, HTML: "Every value is escaped"."""
    page = render_html(_hostile_reports()[value])

    assert HOSTILE not in page.decode()
    assert "injected" not in _ids(_page(page))
    assert "&lt;em id=&#34;injected&#34;&gt;EXAMPLE&lt;/em&gt;" in page.decode()


def test_the_content_security_policy_is_the_documented_one() -> None:
    """docs/reports.md, HTML: a Content-Security-Policy of `default-src 'none';
    style-src 'unsafe-inline'`."""
    metas = _page(render_html(_sample())).all("meta")

    policies = [
        m.attrs["content"] for m in metas if m.attrs.get("http-equiv") == "Content-Security-Policy"
    ]

    assert policies == [CSP]


def test_printed_it_is_a4_with_headers_on_every_page_and_rows_whole() -> None:
    """docs/reports.md, HTML: "Printed, it is laid out for A4, table headers repeat on
    every page and rows do not split"."""
    style = _page(render_html(_sample())).all("style")[0].text()
    print_rules = style.split("@media print {", 1)[1]

    assert re.search(r"@page \{[^}]*size: A4", style)
    assert re.search(r"(^| )thead \{ display: table-header-group; \}", print_rules)
    assert re.search(r"(^| )tr \{ break-inside: avoid; \}", print_rules)


# JSON and format names


def test_json_is_one_line_with_the_cli_key_names() -> None:
    """docs/reports.md, JSON: the spec/cli.md shape (`from`, `to`), one line."""
    filters = ReportFilters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31), state=None)

    payload = render_json(report_of(duplicate_pair(), filters))
    dumped = json.loads(payload)

    assert payload.count(b"\n") == 1
    assert {"as_of", "window_days", "from", "to", "summary", "flags"} <= dumped.keys()
    assert {"from", "to"} <= dumped["summary"]["previous_period"].keys()


def test_the_three_formats_are_json_csv_and_html_by_their_exact_names() -> None:
    """spec/cli.md: `report duplicates ... --format json|csv|html`."""
    report = report_of([])

    assert sorted(REPORT_FORMATS) == ["csv", "html", "json"]
    with pytest.raises(UsageError):
        render(report, "HTML")


# Reading without colour or sight, and printing


def test_the_months_table_gives_each_charted_months_figures_by_agency() -> None:
    """docs/reports.md, HTML: the chart's figures are in a table beneath it, for a
    screen reader and for paper; months with no duplicate are left out, and it says so."""
    rows = duplicate_pair("SUB-1") + duplicate_pair(
        "SUB-2",
        police=("PA-5", date(2025, 8, 2)),
        probation=("A-5", date(2025, 8, 20)),
    )
    page = _page(render_html(report_of(rows)))
    table = _by_id(page, "table-by-month")

    body = [
        [cell.text() for cell in row.walk()[1:] if cell.tag in {"th", "td"}]
        for row in table.all("tr")[1:]
    ]

    assert body == [
        ["2025-04", "1", "0", "1"],
        ["2025-05", "0", "1", "1"],
        ["2025-08", "1", "1", "2"],
    ]
    assert all(row.all("th")[0].attrs["scope"] == "row" for row in table.all("tr")[1:])
    assert table.all("caption")[0].text() == (
        "Duplicate flags per month (months with none left out)"
    )
    assert "the table below the chart" in _by_id(page, "chart-desc").text()


def test_the_police_bars_are_striped_so_the_agencies_differ_in_black_and_white() -> None:
    """docs/reports.md, HTML: the two agencies' bars differ in pattern, not only colour."""
    text = render_html(report_of(duplicate_pair())).decode()
    svg = _by_id(_page(text.encode()), "chart-duplicates-by-month")

    (pattern,) = svg.all("pattern")
    assert pattern.attrs["id"] == "police-stripes"
    assert ".bar-police { fill: url(#police-stripes); }" in text
    assert ".bar-probation { fill: var(--probation); }" in text


def test_the_page_has_a_main_region_and_each_table_a_name() -> None:
    """WCAG 1.3.1: the report's body is the page's main landmark; every table is named
    by the heading or caption above it, and each flag's row by its subject."""
    page = _page(render_html(report_of(duplicate_pair())))
    ids = _ids(page)

    (main,) = page.all("main")
    assert {table.attrs["id"] for table in main.all("table")} == {
        "table-by-month",
        "table-by-area",
        "table-flags",
    }
    for table in page.all("table"):
        assert table.attrs["aria-labelledby"] in ids
    for row in _by_id(page, "table-flags").all("tr")[1:]:
        assert row.walk()[1].tag == "th"
        assert row.walk()[1].attrs["scope"] == "row"


def test_the_handling_marking_heads_the_page_and_ends_it_and_every_printed_page() -> None:
    """docs/reports.md, HTML: the `report_marking` setting is printed above the title,
    at the end, and at the top and bottom of every printed page."""
    report = report_of(duplicate_pair()).model_copy(update={"marking": "OFFICIAL-SENSITIVE"})
    text = render_html(report).decode()
    page = _page(text.encode())

    assert _by_id(page, "report-marking").text() == "OFFICIAL-SENSITIVE"
    assert _by_id(page, "report-marking-end").text() == "OFFICIAL-SENSITIVE"
    marking = css_string("OFFICIAL-SENSITIVE")
    assert f"@top-center {{ content: {marking};" in text
    assert f"@bottom-center {{ content: {marking};" in text
    assert marking == '"OFFICIAL\\00002d SENSITIVE"'
    assert 'counter(page) " of " counter(pages)' in text


def test_no_marking_is_printed_when_the_setting_is_blank() -> None:
    text = render_html(report_of(duplicate_pair())).decode()

    assert "report-marking" not in text
    assert "@top-center" not in text


def test_each_printed_page_names_the_report_its_date_area_and_view() -> None:
    """A page parted from the others still says which report it belongs to."""
    filters = ReportFilters(area="NW", state=None)
    text = render_html(report_of(duplicate_pair(), filters, for_agency="police")).decode()

    title = css_string("Duplicate ARMS assessments, as of 2026-11-28, NW, Police's own view")
    assert AS_OF.isoformat() == "2026-11-28"
    assert f"@top-left {{ content: {title};" in text


@given(st.text(max_size=40))
def test_a_css_string_holds_any_text_and_nothing_in_it_can_end_it(text: str) -> None:
    """The marking and the running title reach the style sheet only as escaped strings."""
    quoted = css_string(text)

    assert re.fullmatch(r'"[A-Za-z0-9 \\]*"', quoted)
    # CSS takes one space after a hex escape as its end (CSS Syntax 3, "consume an escape").
    unescaped = re.sub(r"\\([0-9a-f]{6}) ", lambda hit: chr(int(hit.group(1), 16)), quoted[1:-1])
    assert unescaped == text


@pytest.mark.parametrize(
    ("filters", "for_agency"),
    [(ReportFilters(state=None), "police"), (ReportFilters(agency="police", state=None), None)],
    ids=["police-view", "police-flags-only"],
)
def test_a_report_of_one_agencys_flags_charts_that_agency_alone(
    filters: ReportFilters, for_agency: AgencyName | None
) -> None:
    """The other agency's series would be zero in every month: it is not drawn, named in
    the legend or tabled."""
    page = _page(render_html(report_of(duplicate_pair(), filters, for_agency)))
    svg = _by_id(page, "chart-duplicates-by-month")

    assert {bar.attrs["data-agency"] for bar in svg.all("rect")} == {"police"}
    assert _by_id(svg, "chart-title").text().endswith(", police")
    assert "on police assessments." in _by_id(svg, "chart-desc").text()
    assert [li.text() for li in _by_id(page, "chart-legend").all("li")] == ["Police assessments"]
    months = _by_id(page, "table-by-month")
    assert [th.text() for th in months.all("thead")[0].all("th")] == ["Month", "Police"]
    assert [
        [cell.text() for cell in row.walk()[1:] if cell.tag in {"th", "td"}]
        for row in months.all("tr")[1:]
    ] == [["2025-05", "1"]]
