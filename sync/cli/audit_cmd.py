"""`arms-sync audit`: verify the hash-chained audit log and its anchors, export the log."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from sync.audit.chain import Head, parse_anchor
from sync.audit.cli_hooks import audit_cli_consultation, audit_cli_disclosure
from sync.audit.log import audit_log_for
from sync.cli.context import (
    ISO_DATE,
    OUTPUT_FILE,
    CliState,
    pass_state,
    require_period,
    write_lines,
)
from sync.errors import AuditError


@click.group()
def audit() -> None:
    """The audit log: verify its chain and anchors, print its head, export it."""


def _anchors(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[Head]:
    try:
        return [parse_anchor(value) for value in values]
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@audit.command("verify")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    callback=_anchors,
    metavar="SEQ:HASH",
    help="An anchor printed earlier by `audit head` and kept outside the database (repeatable).",
)
@pass_state
def verify_cmd(state: CliState, anchors: list[Head]) -> None:
    """Check every entry's hash and link, and each anchor; exit 1 naming the first bad entry."""
    result = audit_log_for(state.app.ledger.engine).verify(anchors)
    if not result.ok:
        raise AuditError(result.sentence())
    click.echo(result.sentence() + _anchors_held(anchors))


def _anchors_held(anchors: list[Head]) -> str:
    """The sentence saying the anchors given were found in the chain (none: nothing)."""
    if not anchors:
        return ""
    seqs = sorted({anchor.seq for anchor in anchors})
    noun = "anchor" if len(anchors) == 1 else "anchors"
    at = "entry" if len(seqs) == 1 else "entries"
    return f" It holds the {noun} given, at {at} {', '.join(map(str, seqs))}, as kept."


@audit.command("head")
@pass_state
def head_cmd(state: CliState) -> None:
    """Print the chain head as an anchor (SEQ:HASH) to keep outside the database."""
    head = audit_log_for(state.app.ledger.engine).head()
    if head is None:
        click.echo("The audit log is empty: there is no anchor yet.")
        return
    click.echo(head.anchor)


@audit.command("export")
@click.option("--from", "start", type=ISO_DATE, help="First day (UTC) included.")
@click.option("--to", "end", type=ISO_DATE, help="Last day (UTC) included.")
@click.option("--out", type=OUTPUT_FILE, help="Write to a file, not stdout (`-`: stdout).")
@pass_state
def export_cmd(state: CliState, start: date | None, end: date | None, out: Path | None) -> None:
    """The entries as JSON Lines, one entry a line."""
    require_period(start, end)
    operator = state.operator()
    app = state.app
    log = audit_log_for(app.ledger.engine)
    span = f"from {start or 'start'} to {end or 'now'}"
    lines = list(log.export_lines(start, end))
    audit_cli_consultation(app, "audit log export", detail=span, operator=operator)
    write_lines(
        lines, out, lambda path: audit_cli_disclosure(app, "audit log export written", path)
    )
