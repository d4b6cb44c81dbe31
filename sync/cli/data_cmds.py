"""CLI commands that read the ledger: `export`, `report duplicates` and `rejects`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from sync.app import App
from sync.audit.cli_hooks import audit_cli_consultation, audit_cli_disclosure
from sync.cli.context import (
    AGENCY_CHOICE,
    ISO_DATE,
    OUTPUT_FILE,
    CliState,
    any_case_choice,
    pass_state,
    require_period,
    write_lines,
    writing,
)
from sync.errors import UsageError
from sync.exports import export_links, export_ownership, export_timeline
from sync.ledger.moments import iso_utc
from sync.ledger.store import LastPass
from sync.owner_only_files import write_owner_only_file
from sync.reports.from_ledger import ledger_report
from sync.reports.models import KNOWN_KINDS, ReportFilters
from sync.reports.render import render
from sync.wording import counted

NO_RUN_YET = (
    "The ledger holds no completed run, so there are no {what} yet: "
    "run `arms-sync run` first, or check --db."
)
# The fields of each `rejects --json` line, in order; an orphan has no source,
# place or first sighting, and is never fixed, so those are null rather than missing.
REJECT_FIELDS = (
    "agency",
    "record_type",
    "record_id",
    "source",
    "position",
    "reason",
    "first_seen",
    "fixed_in_run",
)
OUT_OPTION = click.option(
    "--out", type=OUTPUT_FILE, help="Write to a file, not stdout (`-`: stdout)."
)


@click.group()
def export() -> None:
    """Export decisions as JSON Lines, one line per subject."""


@export.command("ownership")
@click.option("--as-of", type=ISO_DATE, help="The date whose segment is shown (default: today).")
@OUT_OPTION
@pass_state
def export_ownership_cmd(state: CliState, as_of: date | None, out: Path | None) -> None:
    """The ownership segment covering a date, per subject."""
    operator = state.operator()
    app, _ = _with_a_run(state, "decisions to export")
    audit_cli_consultation(app, "export ownership", refs=("export:ownership",), operator=operator)
    write_lines(
        export_ownership(app.ledger, as_of or app.today()), out, _disclosed(app, "ownership")
    )


@export.command("timeline")
@OUT_OPTION
@pass_state
def export_timeline_cmd(state: CliState, out: Path | None) -> None:
    """Every ownership segment, per subject."""
    operator = state.operator()
    app, _ = _with_a_run(state, "decisions to export")
    audit_cli_consultation(app, "export timeline", refs=("export:timeline",), operator=operator)
    write_lines(export_timeline(app.ledger), out, _disclosed(app, "timeline"))


@export.command("links")
@OUT_OPTION
@pass_state
def export_links_cmd(state: CliState, out: Path | None) -> None:
    """Each subject's records and how they were linked."""
    operator = state.operator()
    app, _ = _with_a_run(state, "decisions to export")
    audit_cli_consultation(app, "export links", refs=("export:links",), operator=operator)
    write_lines(export_links(app.ledger), out, _disclosed(app, "links"))


def _with_a_run(state: CliState, what: str) -> tuple[App, LastPass]:
    """The App and the ledger's latest completed run; with none, exit 2 naming `what`.

    Without one, an export or report would be empty, which reads as "nothing to
    show" rather than "nothing decided yet".
    """
    app = state.app
    last = app.ledger.last_pass()
    if last is None:
        raise UsageError(NO_RUN_YET.format(what=what))
    return app, last


def _disclosed(app: App, export_name: str) -> Callable[[Path], None]:
    """Audit an export written to a file as a disclosure to that file."""
    return lambda path: audit_cli_disclosure(app, f"{export_name} export written", path)


@click.group()
def report() -> None:
    """Reports for managers."""


@report.command("duplicates")
@click.option("--from", "date_from", type=ISO_DATE, help="First reference date included.")
@click.option("--to", "date_to", type=ISO_DATE, help="Last reference date included.")
@click.option("--area", help="A police force or probation region code.")
@click.option(
    "--agency",
    type=AGENCY_CHOICE,
    help="Assessing agency.",
)
@click.option(
    "--kind",
    "kinds",
    type=any_case_choice(KNOWN_KINDS),
    multiple=True,
    help="Flag kind (repeatable).",
)
@click.option(
    "--state",
    "flag_state",
    type=any_case_choice(["open", "closed", "all"]),
    default="open",
    show_default=True,
    help="Open flags (their condition holds now), closed ones, or all.",
)
@click.option(
    "--for",
    "for_agency",
    type=AGENCY_CHOICE,
    help="An agency's own, minimised view.",
)
@click.option(
    "--format",
    "fmt",
    type=any_case_choice(["json", "csv", "html"]),
    required=True,
    help="JSON for programs, CSV for spreadsheets, HTML to read or print.",
)
@OUT_OPTION
@pass_state
def report_duplicates(
    state: CliState,
    date_from: date | None,
    date_to: date | None,
    area: str | None,
    agency: str | None,
    kinds: tuple[str, ...],
    flag_state: str,
    for_agency: str | None,
    fmt: str,
    out: Path | None,
) -> None:
    """The duplicate-assessment report."""
    require_period(date_from, date_to)
    require_area_code(area)
    operator = state.operator()
    app, last = _with_a_run(state, "flags to report")
    filters = ReportFilters(
        date_from=date_from,
        date_to=date_to,
        area=area,
        agency=agency,
        kinds=kinds or None,
        state=None if flag_state == "all" else flag_state,
    )
    warn_of_another_agencys_view(for_agency, agency)
    if area is not None:
        warn_of_unknown_area(app, area, for_agency or agency)
    built = ledger_report(app, filters, for_agency, last)  # type: ignore[arg-type]
    content = render(built, fmt)
    audit_cli_consultation(
        app, "report duplicates", refs=("report:duplicates",), detail=fmt, operator=operator
    )
    if out is None:
        click.echo(content.decode("utf-8-sig"), nl=False)
        return
    with writing(out):
        write_owner_only_file(out, content)
    audit_cli_disclosure(app, "duplicate-assessment report written", out)


def require_area_code(area: str | None) -> None:
    """Refuse (exit 2) an `--area` given blank, which would otherwise read as every area."""
    from sync.reports.models import area_or_none

    if area is not None and area_or_none(area) is None:
        raise UsageError("--area needs an area code, such as NW; leave it out for every area.")


def warn_of_another_agencys_view(for_agency: str | None, agency: str | None) -> None:
    """Warn (on stderr) when `--agency` names the other agency than `--for`: an agency's
    view holds only its own assessments' flags, so the report is empty by construction,
    not because there are no duplicates."""
    if for_agency is None or agency is None or for_agency == agency:
        return
    click.echo(
        f"Warning: the {for_agency} view holds only flags on {for_agency} assessments, "
        f"so --agency {agency} leaves it empty; leave --agency out, or ask for --for {agency}.",
        err=True,
    )


def warn_of_unknown_area(app: App, area: str, agency: str | None = None) -> None:
    """Warn (on stderr) when no stored flag is in `area`: a mistyped code reads as no flags.

    With `agency` (the report is that agency's, or of its assessments only), only
    its flags count, and only their areas are listed: an agency's view does not
    list the other agency's areas.
    """
    from sync.ledger.flag_rows import flag_areas
    from sync.reports.models import area_or_none

    known = {code for name in flag_areas(app.ledger, agency) if (code := area_or_none(name))}
    if area_or_none(area) in known:
        return
    listed = ", ".join(sorted(known)) or "none"
    whose = "" if agency is None else f"{agency} "
    click.echo(
        f"Warning: no {whose}flag in the ledger is in area {area}; "
        f"areas with {whose}flags: {listed}.",
        err=True,
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
@click.option(
    "--warnings",
    "with_warnings",
    is_flag=True,
    help="List the records accepted with warnings (a value set aside, say) instead.",
)
@pass_state
def rejects(state: CliState, as_json: bool, with_warnings: bool) -> None:
    """The rejected records: agency, type, id, line or page, reason.

    A rejected line whose record the agency sent again, corrected, in a later
    run is marked with that run ("fixed"): the record is in the ledger now.
    With `--json`, every line (rejected or orphaned record) has the same fields.
    """
    operator = state.operator()
    if with_warnings:
        _list_warnings(state, as_json, operator)
        return
    audit_cli_consultation(state.app, "rejects list", operator=operator)
    rows = state.app.ledger.list_rejects()
    orphans = state.app.ledger.list_orphans()
    if as_json:
        _echo_rejects_json(rows, orphans)
    else:
        _print_rejects_table(rows, orphans)


def _echo_rejects_json(rows: list[dict[str, Any]], orphans: list[dict[str, Any]]) -> None:
    """One JSON object per rejected line, then per orphaned record, with the same fields."""
    for row in rows:
        click.echo(json.dumps({**row, "first_seen": iso_utc(row["first_seen"])}))
    for orphan in orphans:
        click.echo(json.dumps({**dict.fromkeys(REJECT_FIELDS), **orphan}))


def _print_rejects_table(rows: list[dict[str, Any]], orphans: list[dict[str, Any]]) -> None:
    """The rejected lines and orphaned records as a table, and a count of each."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "agency", "type", "id", "source", "position", "reason", "fixed", title="Rejected records"
    )
    for row in rows:
        table.add_row(
            row["agency"],
            row["record_type"] or "-",
            row["record_id"] or "-",
            row["source"],
            row["position"],
            row["reason"],
            _fixed(row["fixed_in_run"]),
        )
    for orphan in orphans:
        table.add_row(
            orphan["agency"],
            orphan["record_type"],
            orphan["record_id"],
            "-",
            "-",
            orphan["reason"],
            "",
        )
    Console(width=200).print(table)
    fixed = sum(row["fixed_in_run"] is not None for row in rows)
    click.echo(
        f"{len(rows)} rejected ({len(rows) - fixed} still standing, {fixed} since fixed), "
        f"{len(orphans)} orphaned"
    )


def _list_warnings(state: CliState, as_json: bool, operator: str | None) -> None:
    """The records accepted with warnings: agency, type, id and each warning."""
    audit_cli_consultation(state.app, "rejects list", detail="warnings", operator=operator)
    rows = state.app.ledger.list_warnings()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("agency", "type", "id", "warnings", title="Records accepted with warnings")
    for row in rows:
        table.add_row(
            row["agency"], row["record_type"], row["record_id"], "; ".join(row["warnings"])
        )
    Console(width=200).print(table)
    click.echo(f"{counted(len(rows), 'record')} with warnings")


def _fixed(run_id: int | None) -> str:
    """The table's note of a rejected line whose record a later run applied."""
    return "" if run_id is None else f"run {run_id}"
