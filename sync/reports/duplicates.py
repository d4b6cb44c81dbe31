"""Builds the duplicate-assessment report from ledger flags: select, minimise, count.

One pass selects the flags in scope (area, agency, kinds, state and, for an
agency's own view, that agency's flags only); the period then splits them into
the report's flags and, when the period is closed at both ends, the flags of
the period of the same length just before it. Every output format renders the
same `DuplicateReport`, so the filters apply identically to all of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from sync.core.duplicates import MISPLACED_KINDS, FlagKind
from sync.core.records import AssessmentStatus
from sync.core.rules import RULE_OUT_UNDER_18
from sync.errors import UsageError
from sync.reports.models import (
    AGENCIES,
    KNOWN_KINDS,
    AgencyName,
    AreaCounts,
    Counterpart,
    DuplicateReport,
    FlagRow,
    KindCounts,
    MonthCounts,
    PeriodChange,
    PreviousPeriod,
    ReportFilters,
    Summary,
)

HOURS_DECIMALS = 2
MIN_WINDOW_DAYS = 0  # same-day pairs only
MIN_HOURS_PER_ASSESSMENT = 0.0
ESTIMATE_NOTE = (
    "Estimate, not a measurement: redundant completed assessments ({count}) multiplied by "
    "the configured officer hours one ARMS assessment takes ({hours:g}). It counts only "
    "completed assessments marked redundant in a duplicate flag; work stopped while in "
    "progress is not counted."
)

_KIND_RANK = {kind: rank for rank, kind in enumerate(KNOWN_KINDS)}

FlagPredicate = Callable[[FlagRow], bool]


def build_report(
    rows: Iterable[FlagRow],
    *,
    as_of: date,
    window_days: int,
    hours_per_assessment: float,
    filters: ReportFilters,
    for_agency: AgencyName | None = None,
    marking: str = "",
) -> DuplicateReport:
    """The report over `rows` for `filters`; `for_agency` gives that agency's minimised view,
    `marking` the handling marking its printed pages carry."""
    _check_settings(window_days, hours_per_assessment, for_agency)
    in_scope = _scope_predicate(filters, for_agency)
    scoped = [row for row in with_counterpart_redundancy(rows) if in_scope(row)]
    flags = _in_period(scoped, filters.date_from, filters.date_to)
    if for_agency is not None:
        flags = [_minimised(row) for row in flags]
    flags.sort(key=_flag_sort_key)
    summary = _summary(flags, hours_per_assessment)
    if filters.date_from is not None and filters.date_to is not None:
        previous = _previous_period(
            scoped, (filters.date_from, filters.date_to), summary, hours_per_assessment
        )
        if previous is not None:
            summary = summary.model_copy(update={"previous_period": previous})
    return DuplicateReport(
        as_of=as_of,
        window_days=window_days,
        date_from=filters.date_from,
        date_to=filters.date_to,
        summary=summary,
        flags=flags,
        view=for_agency or "national",
        filters=filters,
        marking=marking,
    )


def _check_settings(window_days: int, hours_per_assessment: float, for_agency: str | None) -> None:
    if window_days < MIN_WINDOW_DAYS:
        raise UsageError("the duplicate window must not be negative")
    if hours_per_assessment < MIN_HOURS_PER_ASSESSMENT:
        raise UsageError("hours per assessment must not be negative")
    if for_agency is not None and for_agency not in AGENCIES:
        raise UsageError("the agency view must be probation or police")


def _scope_predicate(filters: ReportFilters, for_agency: str | None) -> FlagPredicate:
    """Every filter except the period, as one predicate (the period is applied later)."""
    agencies = _agencies_in_scope(filters.agency, for_agency)
    kinds = frozenset(filters.kinds)
    area = filters.area
    state = filters.state

    def in_scope(row: FlagRow) -> bool:
        return (
            (agencies is None or row.agency in agencies)
            and (not kinds or row.kind in kinds)
            and (state is None or row.state == state)
            and (area is None or row.area == area)
        )

    return in_scope


def _agencies_in_scope(agency: str | None, for_agency: str | None) -> frozenset[str | None] | None:
    """The agencies a report may show (`None`: any); an agency filter and view that differ: none."""
    wanted = {name for name in (agency, for_agency) if name is not None}
    if not wanted:
        return None
    return frozenset(wanted) if len(wanted) == 1 else frozenset()


def with_counterpart_redundancy(rows: Iterable[FlagRow]) -> list[FlagRow]:
    """The rows, each `duplicate` saying whether its counterpart is redundant too.

    A pair is a duplicate only when at least one of the two is redundant, so
    the counterpart of a flag whose own assessment is not redundant is. When
    both are (`spec/duplicates.md`: "both, when both are"), the counterpart
    carries an `assessed_by_non_owner` or `assessed_without_owner` flag of its
    own: on an open duplicate, its open one says so. A closed duplicate whose
    own assessment is redundant leaves it unknown, as the ledger does not keep
    what the counterpart was when the pair was last seen.
    """
    listed = list(rows)
    misplaced_now = {
        (row.agency, row.assessment_id)
        for row in listed
        if row.kind in MISPLACED_KINDS and row.state == "open"
    }
    return [_with_counterpart_redundant(row, misplaced_now) for row in listed]


def _with_counterpart_redundant(
    row: FlagRow, misplaced_now: set[tuple[AgencyName | None, str | None]]
) -> FlagRow:
    counterpart = row.counterpart
    if row.kind != FlagKind.DUPLICATE or counterpart is None:
        return row
    redundant: bool | None = None
    if row.redundant is False:
        redundant = True
    elif row.state == "open":
        redundant = (counterpart.agency, counterpart.assessment_id) in misplaced_now
    update = {"redundant": redundant}
    return row.model_copy(update={"counterpart": counterpart.model_copy(update=update)})


def _minimised(row: FlagRow) -> FlagRow:
    """The flag as its own agency may see it: the counterpart only by agency and reference,
    and the rule the agency is told.

    The counterpart is said to be redundant only where the agency's own flag
    implies it (its own assessment is not redundant); whether the other agency
    also assessed without being the owner is the other agency's business. The
    rule at the reference date is the one the agency's notices give
    (`told_rule`), so the view never pins the other agency's date of birth.
    """
    update: dict[str, object] = {"rule_at_reference_date": told_rule(row)}
    counterpart = row.counterpart
    if counterpart is not None:
        update["counterpart"] = Counterpart(
            agency=counterpart.agency,
            assessment_id=counterpart.assessment_id,
            redundant=True if row.redundant is False else None,
        )
    return row.model_copy(update=update)


def told_rule(row: FlagRow) -> str | None:
    """The rule the flag's agency is told at its reference date.

    A flag stored before the told rule was kept has none; its stored rule is
    told as it is unless it is `OUT-UNDER-18`, which only the next run can say
    whether the agency is told (a closed flag is not stored again): until
    then no rule is given.
    """
    if row.rule_told is not None:
        return row.rule_told
    if row.rule_at_reference_date == RULE_OUT_UNDER_18:
        return None
    return row.rule_at_reference_date


def _in_period(rows: list[FlagRow], start: date | None, end: date | None) -> list[FlagRow]:
    """The rows whose report date lies in the inclusive period (open ends unbounded)."""
    if start is None and end is None:
        return list(rows)
    low = start if start is not None else date.min
    high = end if end is not None else date.max
    return [row for row in rows if low <= row.report_date <= high]


def _flag_sort_key(row: FlagRow) -> tuple[str, int, str, str, str, datetime]:
    """Subject, kind (in the spec's order), agency, assessment, then when first seen."""
    return (
        row.subject_id,
        _KIND_RANK.get(row.kind, len(_KIND_RANK)),
        row.kind,
        row.agency or "",
        row.assessment_id or "",
        row.first_seen,
    )


def _ordered_counts(counter: Counter[str]) -> KindCounts:
    """Counts per kind, known kinds first in the spec's order, then others by name."""
    return dict(
        sorted(
            counter.items(), key=lambda item: (_KIND_RANK.get(item[0], len(_KIND_RANK)), item[0])
        )
    )


def _redundant_completed(flags: list[FlagRow]) -> int:
    """Distinct completed assessments marked redundant in an open `duplicate` flag.

    A closed flag is history: the pair is no longer a duplicate (an assessment
    deleted or cancelled since, records found to be two people), so its hours
    are not counted as lost, whichever states the report lists.
    """
    return len(
        {
            (row.agency, row.assessment_id)
            for row in flags
            if row.kind == FlagKind.DUPLICATE
            and row.state == "open"
            and row.redundant
            and row.assessment_status == AssessmentStatus.COMPLETED
        }
    )


def _hours(redundant: int, hours_per_assessment: float) -> float:
    return round(redundant * hours_per_assessment, HOURS_DECIMALS)


class _MonthOf(dict[date, str]):
    """`YYYY-MM` of a day, worked out once per distinct day."""

    def __missing__(self, day: date) -> str:
        month = self[day] = f"{day.year:04d}-{day.month:02d}"
        return month


Cell = tuple[str | None, str, str, str | None, str]
"""A flag's area, month, kind, agency and state: what every summary count groups by."""


def _cells(flags: list[FlagRow]) -> Counter[Cell]:
    """Flags counted per cell, in one pass; every summary count rolls up from these."""
    month_of = _MonthOf()
    return Counter(
        (
            row.area,
            month_of[row.report_date],
            row.kind,
            row.agency,
            row.state,
        )
        for row in flags
    )


def _by_area(cells: Counter[Cell]) -> list[AreaCounts]:
    """Counts per area and kind, areas by name with flags of no area last."""
    groups: dict[str | None, Counter[str]] = defaultdict(Counter)
    for (area, _month, kind, _agency, _state), count in cells.items():
        groups[area][kind] += count
    ordered = sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or ""))
    return [
        AreaCounts(area=area, flags=_ordered_counts(kinds), total=kinds.total())
        for area, kinds in ordered
    ]


def _by_month(cells: Counter[Cell]) -> list[MonthCounts]:
    """Counts per month of the report date and kind, with duplicates split by agency."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    duplicates: Counter[tuple[str, str | None]] = Counter()
    for (_area, month, kind, agency, _state), count in cells.items():
        groups[month][kind] += count
        if kind == FlagKind.DUPLICATE:
            duplicates[month, agency] += count
    return [
        MonthCounts(
            month=month,
            flags=_ordered_counts(kinds),
            total=kinds.total(),
            duplicates_by_agency={agency: duplicates[month, agency] for agency in AGENCIES},
        )
        for month, kinds in sorted(groups.items())
    ]


def _rolled_up(cells: Counter[Cell]) -> tuple[Counter[str], Counter[str]]:
    """Counts per kind and per state."""
    kinds: Counter[str] = Counter()
    states: Counter[str] = Counter()
    for (_area, _month, kind, _agency, state), count in cells.items():
        kinds[kind] += count
        states[state] += count
    return kinds, states


def _summary(flags: list[FlagRow], hours_per_assessment: float) -> Summary:
    cells = _cells(flags)
    kinds, states = _rolled_up(cells)
    redundant = _redundant_completed(flags)
    return Summary(
        flags=_ordered_counts(kinds),
        redundant_completed=redundant,
        hours_lost_estimate=_hours(redundant, hours_per_assessment),
        by_area=_by_area(cells),
        by_month=_by_month(cells),
        total=len(flags),
        open=states["open"],
        closed=states["closed"],
        hours_per_assessment=hours_per_assessment,
        estimate_note=ESTIMATE_NOTE.format(count=redundant, hours=hours_per_assessment),
    )


def _previous_period(
    scoped: list[FlagRow],
    period: tuple[date, date],
    now: Summary,
    hours_per_assessment: float,
) -> PreviousPeriod | None:
    """The same figures for the period of equal length just before, and the change since.

    None when that period would begin before the first day of the calendar.
    """
    first, last = period
    length = last - first + timedelta(days=1)
    try:
        start, end = first - length, first - timedelta(days=1)
    except OverflowError:
        return None
    before = _in_period(scoped, start, end)
    kinds = Counter(row.kind for row in before)
    redundant = _redundant_completed(before)
    hours = _hours(redundant, hours_per_assessment)
    change = Counter(now.flags)
    change.subtract(kinds)
    return PreviousPeriod(
        date_from=start,
        date_to=end,
        flags=_ordered_counts(kinds),
        total=len(before),
        redundant_completed=redundant,
        hours_lost_estimate=hours,
        change=PeriodChange(
            flags=_ordered_counts(change),
            total=now.total - len(before),
            redundant_completed=now.redundant_completed - redundant,
            hours_lost_estimate=round(now.hours_lost_estimate - hours, HOURS_DECIMALS),
        ),
    )
