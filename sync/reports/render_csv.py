"""Renders the duplicate-assessment report as CSV: one row per flag, for spreadsheets.

The file starts with a UTF-8 byte-order mark so Excel reads it as UTF-8. Dates
(reference dates, and the days in England and Wales a flag was raised and
closed) are ISO `YYYY-MM-DD`, which spreadsheets read as dates. Any value that a spreadsheet
could take for a formula (one that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return) is prefixed with a single quote, following OWASP's guidance on
CSV injection. The columns are `CSV_COLUMNS`, documented in `docs/reports.md`.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from sync.local_day import day_in_england
from sync.reports.models import DuplicateReport, FlagRow

CSV_COLUMNS: tuple[str, ...] = (
    "kind",
    "state",
    "subject_id",
    "agency",
    "person_ids",
    "assessment_id",
    "assessment_status",
    "reference_date",
    "owner_at_reference_date",
    "rule_at_reference_date",
    "counterpart_agency",
    "counterpart_assessment_id",
    "counterpart_reference_date",
    "redundant",
    "area",
    "first_seen",
    "closed_at",
    "owner_at_as_of",
    "rule_at_as_of",
    "counterpart_redundant",
    "report_date",
    "resolved_at",
    "resolved_by",
)
"""The header row, in order; names are stable (scripts rely on them), new ones go last."""

FORMULA_TRIGGERS = frozenset({"=", "+", "-", "@", "\t", "\r"})
"""First characters that make a spreadsheet evaluate a cell."""
FORMULA_GUARD = "'"
PERSON_ID_SEPARATOR = " "
BYTE_ORDER_MARK_ENCODING = "utf-8-sig"


def render_csv(report: DuplicateReport) -> bytes:
    """The report's flags as CSV bytes: BOM, header row `CSV_COLUMNS`, one row per flag."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(map(_RowWriter().row, report.flags))
    return buffer.getvalue().encode(BYTE_ORDER_MARK_ENCODING)


def neutralise(value: str) -> str:
    """The value with a leading quote when a spreadsheet would read it as a formula."""
    return FORMULA_GUARD + value if value[:1] in FORMULA_TRIGGERS else value


class _RowWriter:
    """Turns flags into CSV cells, formatting each distinct date and time once.

    A national report has a few hundred thousand flags but only a few thousand
    distinct dates and run times, so the caches save most of the formatting work.
    """

    def __init__(self) -> None:
        self._days: dict[date | None, str] = {None: ""}
        self._moments: dict[datetime | None, str] = {None: ""}

    def row(self, flag: FlagRow) -> list[str]:
        """The cells of one flag, in `CSV_COLUMNS` order."""
        counterpart = flag.counterpart
        return [
            neutralise(flag.kind),
            flag.state,
            neutralise(flag.subject_id),
            flag.agency or "",
            neutralise(PERSON_ID_SEPARATOR.join(flag.person_ids)),
            _text(flag.assessment_id),
            _text(flag.assessment_status),
            self._day(flag.reference_date),
            _text(flag.owner_at_reference_date),
            _text(flag.rule_at_reference_date),
            counterpart.agency if counterpart is not None else "",
            neutralise(counterpart.assessment_id) if counterpart is not None else "",
            self._day(counterpart.reference_date) if counterpart is not None else "",
            _BOOLEANS[flag.redundant],
            _text(flag.area),
            self._moment_day(flag.first_seen),
            self._moment_day(flag.closed_at),
            _text(flag.owner_at_as_of),
            _text(flag.rule_at_as_of),
            _BOOLEANS[counterpart.redundant] if counterpart is not None else "",
            self._day(flag.report_date),
            self._moment_day(flag.resolved_at),
            _text(flag.resolved_by),
        ]

    def _day(self, value: date | None) -> str:
        text = self._days.get(value)
        if text is None:
            text = self._days[value] = value.isoformat() if value is not None else ""
        return text

    def _moment_day(self, value: datetime | None) -> str:
        text = self._moments.get(value)
        if text is None:
            text = self._moments[value] = (
                day_in_england(value).isoformat() if value is not None else ""
            )
        return text


_BOOLEANS = {None: "", True: "true", False: "false"}


def _text(value: str | None) -> str:
    return "" if value is None else neutralise(value)
