"""The duplicate report of the ledger as it is: its flags, with the window its last pass used.

The report's as-of date and duplicate window are those of the latest
successful run (the settings' window when no run recorded one); the hours per
assessment are the estimate's assumption, taken from the settings now. An open
`in_progress_by_non_owner` flag is given the owner and rule of its subject on
the as-of date, the decision that raised it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sync.app import App
from sync.core.duplicates import FlagKind
from sync.ledger.flag_rows import iter_flag_rows, owners_on
from sync.ledger.store import LastPass, Ledger
from sync.reports.duplicates import build_report
from sync.reports.models import AgencyName, DuplicateReport, FlagRow, ReportFilters


def ledger_report(
    app: App,
    filters: ReportFilters,
    for_agency: AgencyName | None = None,
    last: LastPass | None = None,
) -> DuplicateReport:
    """The duplicate-assessment report over the ledger's stored flags.

    `last` is the latest successful run when the caller has read it already.
    """
    ledger = app.ledger
    last = last or ledger.last_pass()
    as_of = app.today() if last is None else last.as_of
    window = None if last is None else last.window_days
    return build_report(
        with_owner_on_as_of(ledger, iter_flag_rows(ledger), as_of),
        as_of=as_of,
        window_days=app.settings.window_days if window is None else window,
        hours_per_assessment=app.settings.hours_per_assessment,
        filters=filters,
        for_agency=for_agency,
        marking=app.settings.report_marking,
    )


def _alerts_now(row: FlagRow) -> bool:
    return row.kind == FlagKind.IN_PROGRESS_BY_NON_OWNER and row.state == "open"


def with_owner_on_as_of(ledger: Ledger, rows: Iterable[FlagRow], as_of: date) -> list[FlagRow]:
    """The rows, each open in-progress alert with its subject's owner and rule on `as_of`."""
    listed = list(rows)
    owners = owners_on(ledger, {row.subject_id for row in listed if _alerts_now(row)}, as_of)
    return [
        _with_owner(row, owners.get(row.subject_id)) if _alerts_now(row) else row for row in listed
    ]


def _with_owner(row: FlagRow, owner_rule: tuple[str, str] | None) -> FlagRow:
    if owner_rule is None:
        return row
    owner, rule = owner_rule
    return row.model_copy(update={"owner_at_as_of": owner, "rule_at_as_of": rule})
