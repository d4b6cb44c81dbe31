"""Renders the duplicate-assessment report as one self-contained, printable HTML page.

Everything is inline (CSS, an SVG chart; no fonts, scripts or images from
anywhere) and a Content-Security-Policy forbids fetching anything, so the file
opens offline and leaks nothing. Jinja2 escapes every value. This module turns
the report into plain view values (chart geometry, labels, table rows); the
template `templates/duplicates.html.j2` only lays them out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cache, partial
from pathlib import Path

import jinja2
from markupsafe import Markup

from sync.core.duplicates import FlagKind
from sync.local_day import day_in_england
from sync.reports.models import (
    AGENCIES,
    KNOWN_KINDS,
    AgencyName,
    DuplicateReport,
    FlagRow,
    MonthCounts,
    hours_text,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "duplicates.html.j2"

DETAIL_ROW_LIMIT = 10_000
"""Flags listed in full on the page by default; the totals always cover every flag."""

KIND_LABELS: dict[str, str] = {
    FlagKind.DUPLICATE: "Duplicate assessment",
    FlagKind.ASSESSED_BY_NON_OWNER: "Assessed by the non-owner",
    FlagKind.ASSESSED_WITHOUT_OWNER: "Assessed with no owner",
    FlagKind.IN_PROGRESS_BY_NON_OWNER: "In progress by the non-owner",
    FlagKind.DUPLICATE_PERSON_RECORD: "Duplicate person record",
}
# What each kind of flag means and who should act, for the legend beneath the flags
# (`spec/duplicates.md`, "Flags"), in the report's order of kinds.
KIND_MEANINGS: dict[str, str] = {
    FlagKind.DUPLICATE: (
        "both agencies assessed the same person within the window and at least one of "
        "them was not the owner at the time: the assessment marked redundant need not "
        "have been done; the other stands"
    ),
    FlagKind.ASSESSED_BY_NON_OWNER: (
        "the agency that did this assessment did not own ARMS on its date: the owner "
        "named should have done it; its manager should check that the owner knew"
    ),
    FlagKind.ASSESSED_WITHOUT_OWNER: (
        "nobody owned ARMS on the assessment's date (in custody, under 18, not in scope): "
        "its manager should check why it was done"
    ),
    FlagKind.IN_PROGRESS_BY_NON_OWNER: (
        "an alert: an assessment still in progress by an agency that does not own ARMS "
        "today; stop the work and leave it to the owner named"
    ),
    FlagKind.DUPLICATE_PERSON_RECORD: (
        "one agency holds two or more person records of this person: that agency should "
        "merge them in its own system"
    ),
}
AGENCY_LABELS = {"probation": "Probation", "police": "Police"}
OWNER_LABELS = {**AGENCY_LABELS, "none": "No owner"}
# What each ownership rule means, for the legend beneath the flags (the rules of
# `spec/ownership-policy.md`, in its order, and an operator's override).
RULE_MEANINGS: dict[str, str] = {
    "OUT-NOT-MALE": "no owner: recorded as female or X (ARMS is for males)",
    "OUT-UNDER-18": "no owner: under 18 on that date",
    "NONE-CUSTODY": "no owner: in custody on that date",
    "PROB-SEXUAL": "probation: supervised for a sexual offence",
    "PROB-REGISTERED": "probation: supervised (for any offence) and registered",
    "PROB-SEXUAL-ELEMENT": "probation: supervised for an offence with a sexual element",
    "POLICE-REGISTERED": "police: registered, and not supervised by probation",
    "NONE-NOT-IN-SCOPE": (
        "no owner: not registered, and not supervised for a sexual offence or one with "
        "a sexual element"
    ),
    "MANUAL": "set by an operator's override (manual reconciliation)",
}
# Where each agency's bar stands in a month, and how it is drawn: the chart is read
# in black and white too, where the two colours look alike.
BAR_PLACES = {"probation": "left bar of each month, solid", "police": "right bar, striped"}
VIEW_LABELS = {
    "national": "National view",
    "probation": "Probation's own view",
    "police": "Police's own view",
}

CHART_WIDTH = 960
CHART_HEIGHT = 340
CHART_MARGIN_LEFT = 64
CHART_MARGIN_RIGHT = 16
CHART_MARGIN_TOP = 16
CHART_MARGIN_BOTTOM = 64
CHART_BAR_FILL = 0.8
"""Share of a month's slot taken by its two bars; the rest is the gap between months."""
CHART_BAR_GAP = 0.15
"""Share of each bar's place left empty, so a month's two bars never touch."""
CHART_MAX_BAR_WIDTH = 36
CHART_TICKS = 5
CHART_MAX_MONTH_LABELS = 12
NICE_STEPS = (1, 2, 5, 10)
MONTHS_PER_YEAR = 12
CHART_MAX_WIDENING = 120  # months a report's period may widen the chart by, at each end
FIRST_MONTH = 1 * MONTHS_PER_YEAR  # January of the year 1, the first a date can hold
LAST_MONTH = 10_000 * MONTHS_PER_YEAR - 1  # December 9999, the last


_Scale = tuple[float, float]
"""The chart's baseline (y of zero) and its units per flag."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the chart: a month's duplicate flags for one agency."""

    month: str
    agency: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class AxisMark:
    """A labelled position on an axis."""

    position: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """The duplicates-per-month chart, laid out in SVG user units."""

    width: int
    height: int
    left: int
    top: int
    bottom: float
    right: float
    bars: tuple[Bar, ...]
    y_marks: tuple[AxisMark, ...]
    x_marks: tuple[AxisMark, ...]
    total: int
    months: int


@dataclass(frozen=True, slots=True)
class DetailRow:
    """One flag as the detailed list shows it."""

    kind: str
    kind_label: str
    state: str
    subject_id: str
    agency: str
    agency_label: str
    person_ids: str
    assessment_id: str
    assessment_status: str
    reference_date: str
    owner: str
    rule: str
    owner_now: str
    rule_now: str
    counterpart_agency: str
    counterpart_id: str
    counterpart_date: str
    this_redundant: bool
    counterpart_redundant: bool
    area: str
    first_seen: str
    closed_at: str
    report_date: str
    resolved: str


def render_html(
    report: DuplicateReport, *, max_detail_rows: int | None = DETAIL_ROW_LIMIT
) -> bytes:
    """The report as a self-contained UTF-8 HTML page (`max_detail_rows` None: list all)."""
    shown = report.flags if max_detail_rows is None else report.flags[:max_detail_rows]
    view_label = VIEW_LABELS[report.view]
    series = chart_series(report)
    page = (
        _environment()
        .get_template(TEMPLATE_NAME)
        .render(
            report=report,
            summary=report.summary,
            view_label=view_label,
            marking_css=css_string(report.marking) if report.marking else "",
            running_title_css=css_string(_running_title(report, view_label)),
            bar_places=BAR_PLACES,
            month_rows=_month_rows(report.summary.by_month),
            kind_figures=_kind_figures(report.summary.flags),
            agencies=[(agency, AGENCY_LABELS[agency]) for agency in series],
            series_words=" and ".join(series),
            chart=build_chart(
                report.summary.by_month, report.filters.date_from, report.filters.date_to, series
            ),
            rows=[_detail_row(flag) for flag in shown],
            hidden_rows=len(report.flags) - len(shown),
            rules=_rules_named(shown),
            kinds=_kinds_named(shown),
        )
    )
    return page.encode("utf-8")


def chart_series(report: DuplicateReport) -> tuple[AgencyName, ...]:
    """The agencies the chart draws a series for: both, unless the report is one
    agency's view or lists one agency's flags only (the other's would be all zero)."""
    if report.view != "national":
        return (report.view,)
    agency = report.filters.agency
    return AGENCIES if agency is None else (agency,)


def css_string(text: str) -> Markup:
    """`text` as a quoted CSS string for the page's style sheet: every character but
    ASCII letters, digits and spaces written as a hex escape, so nothing in it can
    end the string, the rule or the style element. Each escape ends with the one
    space CSS takes as its end, so a space that follows in the text is kept."""
    escaped = "".join(
        char if char == " " or (char.isascii() and char.isalnum()) else f"\\{ord(char):06x} "
        for char in text
    )
    return Markup('"{}"').format(escaped)


def _running_title(report: DuplicateReport, view_label: str) -> str:
    """What each printed page says at its head: the report, its date, area and view."""
    area = report.filters.area or "all areas"
    return f"Duplicate ARMS assessments, as of {report.as_of.isoformat()}, {area}, {view_label}"


def _month_rows(by_month: list[MonthCounts]) -> list[tuple[str, dict[AgencyName, int], int]]:
    """Each month with a duplicate flag: its label, its counts by agency and their sum."""
    return [
        (month.month, month.duplicates_by_agency, sum(month.duplicates_by_agency.values()))
        for month in by_month
        if sum(month.duplicates_by_agency.values())
    ]


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["hours"] = hours_text
    environment.filters["hours_change"] = partial(hours_text, signed=True)
    return environment


def _rules_named(flags: list[FlagRow]) -> list[tuple[str, str]]:
    """Each rule the listed flags name (at the time, or on the as-of date), with its
    meaning, in the policy's order; a rule this page has no words for is named alone."""
    named = {rule for flag in flags for rule in (flag.rule_at_reference_date, flag.rule_at_as_of)}
    known = [(rule, meaning) for rule, meaning in RULE_MEANINGS.items() if rule in named]
    others = sorted(rule for rule in named if rule and rule not in RULE_MEANINGS)
    return known + [(rule, "") for rule in others]


def _kinds_named(flags: list[FlagRow]) -> list[tuple[str, str, str]]:
    """Each kind of the listed flags with its label and meaning, in the report's order."""
    named = {flag.kind for flag in flags}
    return [
        (kind, KIND_LABELS[kind], meaning)
        for kind, meaning in KIND_MEANINGS.items()
        if kind in named
    ]


def _kind_figures(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    """Every known kind (zero included), then any other kind present: (kind, label, count)."""
    kinds = list(KNOWN_KINDS) + [kind for kind in counts if kind not in KIND_LABELS]
    return [(kind, KIND_LABELS.get(kind, kind), counts.get(kind, 0)) for kind in kinds]


def build_chart(
    by_month: list[MonthCounts],
    date_from: date | None = None,
    date_to: date | None = None,
    series: tuple[AgencyName, ...] = AGENCIES,
) -> Chart | None:
    """Bars of duplicate flags per month and agency; None if there are none.

    Every month from the first to the last with a duplicate is shown, empty
    ones included, widened to the report's period at either end it gives, by
    at most `CHART_MAX_WIDENING` months (a period to the year 9999 is no chart).
    """
    values = {
        month.month: month.duplicates_by_agency
        for month in by_month
        if sum(month.duplicates_by_agency.values())
    }
    total = sum(sum(counts.values()) for counts in values.values())
    if not total:
        return None
    months = _chart_months(min(values), max(values), date_from, date_to)
    step, top_value = _nice_scale(max(max(counts.values()) for counts in values.values()))
    right = CHART_WIDTH - CHART_MARGIN_RIGHT
    bottom = CHART_HEIGHT - CHART_MARGIN_BOTTOM
    slot = (right - CHART_MARGIN_LEFT) / len(months)
    scale = (bottom - CHART_MARGIN_TOP) / top_value
    return Chart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=CHART_MARGIN_LEFT,
        top=CHART_MARGIN_TOP,
        bottom=bottom,
        right=right,
        bars=tuple(
            bar
            for index, month in enumerate(months)
            for bar in _month_bars(
                month,
                values.get(month, {}),
                left=CHART_MARGIN_LEFT + index * slot,
                slot=slot,
                geometry=(bottom, scale),
                series=series,
            )
        ),
        y_marks=tuple(
            AxisMark(bottom - tick * scale, f"{tick:,}") for tick in range(0, top_value + 1, step)
        ),
        x_marks=_month_marks(months, slot),
        total=total,
        months=len(months),
    )


def _chart_months(first: str, last: str, date_from: date | None, date_to: date | None) -> list[str]:
    """Every month (`YYYY-MM`) from `first` to `last`, widened to the report's period at
    either end it gives, by at most `CHART_MAX_WIDENING` months.

    Months are counted as numbers, not compared as labels: a period from before
    the year 1000 or to 9999-12 then widens the chart as any other.
    """
    start, end = _month_number(first), _month_number(last)
    if date_from is not None:
        start = max(min(start, _day_month_number(date_from)), start - CHART_MAX_WIDENING)
    if date_to is not None:
        end = min(max(end, _day_month_number(date_to)), end + CHART_MAX_WIDENING)
    start, end = max(start, FIRST_MONTH), min(end, LAST_MONTH)
    return [_month_label(number) for number in range(start, end + 1)]


def _month_marks(months: list[str], slot: float) -> tuple[AxisMark, ...]:
    """The x axis's month labels: at most `CHART_MAX_MONTH_LABELS`, evenly spaced."""
    label_every = math.ceil(len(months) / CHART_MAX_MONTH_LABELS)
    return tuple(
        AxisMark(CHART_MARGIN_LEFT + (index + 0.5) * slot, month)
        for index, month in enumerate(months)
        if index % label_every == 0
    )


def _month_bars(
    month: str,
    counts: dict[AgencyName, int],
    *,
    left: float,
    slot: float,
    geometry: _Scale,
    series: tuple[AgencyName, ...],
) -> list[Bar]:
    """One month's bars side by side, one per agency, centred in the month's slot, a gap
    between them."""
    place = min(slot * CHART_BAR_FILL / len(series), CHART_MAX_BAR_WIDTH)
    start = left + (slot - place * len(series)) / 2
    gap = place * CHART_BAR_GAP
    bottom, scale = geometry
    return [
        Bar(
            month=month,
            agency=agency,
            value=counts.get(agency, 0),
            x=start + index * place + gap / 2,
            y=bottom - counts.get(agency, 0) * scale,
            width=place - gap,
            height=counts.get(agency, 0) * scale,
        )
        for index, agency in enumerate(series)
    ]


def _month_number(month: str) -> int:
    """A `YYYY-MM` month as the number of months since the start of year 0."""
    year, number = (int(part) for part in month.split("-"))
    return year * MONTHS_PER_YEAR + number - 1


def _day_month_number(day: date) -> int:
    """The month of a day, numbered as `_month_number`."""
    return day.year * MONTHS_PER_YEAR + day.month - 1


def _month_label(number: int) -> str:
    """The `YYYY-MM` label of a month numbered as `_month_number`."""
    return f"{number // MONTHS_PER_YEAR:04d}-{number % MONTHS_PER_YEAR + 1:02d}"


def _nice_scale(peak: int) -> tuple[int, int]:
    """A whole-number tick step of 1, 2 or 5 × 10ⁿ and the axis top it gives for `peak`."""
    raw = max(peak, 1) / CHART_TICKS
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(int(n * magnitude) for n in NICE_STEPS if n * magnitude >= raw)
    return step, step * math.ceil(max(peak, 1) / step)


def _detail_row(flag: FlagRow) -> DetailRow:
    counterpart = flag.counterpart
    is_duplicate = flag.kind == FlagKind.DUPLICATE
    return DetailRow(
        kind=flag.kind,
        kind_label=KIND_LABELS.get(flag.kind, flag.kind),
        state=flag.state,
        subject_id=flag.subject_id,
        agency=flag.agency or "",
        agency_label=AGENCY_LABELS.get(flag.agency or "", ""),
        person_ids=", ".join(flag.person_ids),
        assessment_id=flag.assessment_id or "",
        assessment_status=(flag.assessment_status or "").replace("_", " "),
        reference_date=_day(flag.reference_date),
        owner=OWNER_LABELS.get(
            flag.owner_at_reference_date or "", flag.owner_at_reference_date or ""
        ),
        rule=flag.rule_at_reference_date or "",
        owner_now=OWNER_LABELS.get(flag.owner_at_as_of or "", flag.owner_at_as_of or ""),
        rule_now=flag.rule_at_as_of or "",
        counterpart_agency=AGENCY_LABELS.get(counterpart.agency, "") if counterpart else "",
        counterpart_id=counterpart.assessment_id if counterpart else "",
        counterpart_date=_day(counterpart.reference_date) if counterpart else "",
        this_redundant=is_duplicate and flag.redundant is True,
        counterpart_redundant=is_duplicate
        and counterpart is not None
        and counterpart.redundant is True,
        area=flag.area or "",
        first_seen=day_in_england(flag.first_seen).isoformat(),
        closed_at=_day(day_in_england(flag.closed_at) if flag.closed_at is not None else None),
        report_date=_day(flag.report_date),
        resolved=_resolution(flag),
    )


def _resolution(flag: FlagRow) -> str:
    """`resolved 2026-11-30 by jsmith` while an operator's resolution holds, else ''."""
    if flag.resolved_at is None:
        return ""
    return f"resolved {day_in_england(flag.resolved_at).isoformat()} by {flag.resolved_by}"


def _day(value: date | None) -> str:
    return "" if value is None else value.isoformat()
