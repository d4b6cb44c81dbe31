"""`arms-sync reconcile`: the manual acts (list, show, link, unlink, assign, revoke,
resolve, reopen). Each command parses, calls a service in `sync.reconcile`, prints."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sync.audit.cli_hooks import audit_cli_consultation
from sync.audit.pipeline_hooks import person_ref, subject_ref
from sync.cli.context import AGENCY_CHOICE, ISO_DATE, CliState, any_case_choice, pass_state
from sync.core.records import Owner, RecordRef
from sync.reconcile.acts import Actor, parse_record_ref, require_actor, require_operator
from sync.reconcile.items import LISTING_KINDS
from sync.wording import counted

if TYPE_CHECKING:
    from sync.reconcile.items import Item
    from sync.reconcile.preview import ActOutcome

F = TypeVar("F", bound=Callable[..., Any])
OWNER_CHOICES = [owner.value for owner in Owner]
RecordPair = tuple[RecordRef, RecordRef]
PairAct = Callable[[CliState, Actor, RecordPair, bool], None]


def operator_options(func: F) -> F:
    """`--operator` and `--reason`, both required by the service (one-sentence refusal)."""
    func = click.option(
        "--reason", help="Why this act is made (required; kept with the act, encrypted)."
    )(func)
    return click.option(
        "--operator", help="Who is acting (default: ARMS_SYNC_OPERATOR or the settings file)."
    )(func)


def _as_printed(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """A subject or override id as arms-sync prints it (upper case): `s1a2…` is `S1A2…`."""
    return value.strip().upper()


def _as_printed_if_given(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """`_as_printed` for an option that may be left out."""
    return None if value is None else _as_printed(ctx, param, value)


def apply_option(func: F) -> F:
    """`--apply`: without it an act is only previewed."""
    return click.option("--apply", "do_apply", is_flag=True, help="Make the change.")(func)


def record_pair_act(act: PairAct) -> Callable[..., None]:
    """A command on two person records: `FIRST SECOND` (agency:ID each), operator, `--apply`.

    The actor is checked before the records are parsed, so a missing operator or
    reason is refused first.
    """

    @click.argument("first")
    @click.argument("second")
    @operator_options
    @apply_option
    @pass_state
    @functools.wraps(act)
    def command(
        state: CliState,
        *,
        first: str,
        second: str,
        operator: str | None,
        reason: str | None,
        do_apply: bool,
    ) -> None:
        actor = _actor(state, operator, reason)
        pair = (parse_record_ref(first), parse_record_ref(second))
        act(state, actor, pair, do_apply)

    return command


def _actor(state: CliState, operator: str | None, reason: str | None) -> Actor:
    return require_actor(state.operator(operator), reason)


def _echo_outcome(state: CliState, outcome: ActOutcome, act: str) -> None:
    """Print what an act will do or did; its notices are sent only if the hub has keys."""
    from sync.reconcile.render import outcome_lines

    _echo(outcome_lines(outcome, act, sends_notices=state.app.outbox_keys is not None))


def _echo(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


@click.group()
def reconcile() -> None:
    """Manual reconciliation: review items, links, overrides and flags."""


@reconcile.command("list")
@click.option(
    "--kind",
    type=any_case_choice(LISTING_KINDS),
    help="Only items of this kind; a kind of flag (such as in_progress_by_non_owner) "
    "lists those flags alone.",
)
@click.option(
    "--agency",
    type=AGENCY_CHOICE,
    help="Only items about a record of this agency.",
)
@click.option(
    "--area",
    help="Only flags of this police force or probation region (items of no one area, "
    "such as link reviews, are counted, not listed).",
)
@click.option(
    "--subject",
    "subject_id",
    callback=_as_printed_if_given,
    help="Only items about this subject (its flags, and the link reviews of its records).",
)
@click.option("--all", "show_all", is_flag=True, help="Include resolved and lapsed items.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of text.")
@click.option(
    "--operator", help="Who is looking (default: ARMS_SYNC_OPERATOR or the settings file)."
)
@pass_state
def list_cmd(
    state: CliState,
    *,
    kind: str | None,
    agency: str | None,
    area: str | None,
    subject_id: str | None,
    show_all: bool,
    as_json: bool,
    operator: str | None,
) -> None:
    """Open items, oldest first (then by kind), each with the day in England it was found."""
    from sync.cli.data_cmds import require_area_code, warn_of_unknown_area
    from sync.reconcile.items import about_subject, in_area, list_items

    require_area_code(area)
    name = state.operator(operator)
    app = state.app
    audit_cli_consultation(
        app,
        "reconcile list",
        refs=() if subject_id is None else (subject_ref(subject_id),),
        detail=_listing_detail(kind, agency, area),
        operator=name,
    )
    with app.ledger.engine.connect() as conn:
        items = list_items(conn, app.ledger.codec, kind, resolved=show_all)
        if subject_id is not None:
            items = about_subject(conn, items, subject_id)
    if agency is not None:
        items = [item for item in items if item.names_a_record_of(agency)]
    without_area = 0
    if area is not None:
        warn_of_unknown_area(app, area, agency)
        items, without_area = in_area(items, area)
    _print_items(items, as_json)
    if without_area:
        click.echo(
            f"{counted(without_area, 'item')} with no area (link reviews, for one) "
            "not listed; leave out --area to see them.",
            err=True,
        )


def _print_items(items: list[Item], as_json: bool) -> None:
    """The listed items as JSON Lines, or as text lines with a count at the end."""
    from sync.local_day import day_in_england

    for item in items:
        if as_json:
            click.echo(json.dumps(item.as_json(), sort_keys=True))
        else:
            refs = " ".join(item.refs)
            click.echo(
                f"{day_in_england(item.opened).isoformat()} {item.kind:<24} [{item.state}] "
                f"{item.key}  {item.subject_id or '-'}  {refs}  {item.detail}"
            )
    if not as_json:
        click.echo(counted(len(items), "item"))


def _listing_detail(kind: str | None, agency: str | None, area: str | None) -> str:
    """What a listing asked for, for its audit entry (codes only, areas as compared)."""
    from sync.reports.models import area_or_none

    asked = [f"kind {kind or 'all'}"]
    if agency is not None:
        asked.append(f"agency {agency}")
    if area is not None:
        asked.append(f"area {area_or_none(area)}")
    return ", ".join(asked)


@reconcile.command("show")
@click.argument("subject_id", callback=_as_printed)
@click.option(
    "--operator",
    help="Who is looking (required; default: ARMS_SYNC_OPERATOR or the settings file).",
)
@pass_state
def show_cmd(state: CliState, subject_id: str, operator: str | None) -> None:
    """Both agencies' records side by side, their periods and assessments, the timeline,
    flags and manual acts.

    It shows names and dates of birth, so the consultation is logged under the
    operator's name, which it requires; looking needs no reason.
    """
    from sync.reconcile.render import report_lines
    from sync.reconcile.subject import subject_report

    name = require_operator(state.operator(operator))
    app = state.app
    report = subject_report(app.ledger, subject_id)
    audit_cli_consultation(
        app,
        "reconcile show",
        refs=(subject_ref(subject_id), *(person_ref(ref) for ref in report.records)),
        operator=name,
    )
    _echo(report_lines(report))


@reconcile.command("link")
@record_pair_act
def link_cmd(state: CliState, actor: Actor, pair: RecordPair, do_apply: bool) -> None:
    """Link two person records (agency:ID agency:ID) as one person."""
    from sync.reconcile.links import link

    _echo_outcome(state, link(state.app, *pair, actor, apply=do_apply), "link")


@reconcile.command("unlink")
@record_pair_act
def unlink_cmd(state: CliState, actor: Actor, pair: RecordPair, do_apply: bool) -> None:
    """Keep two person records (agency:ID agency:ID) apart from now on."""
    from sync.reconcile.links import unlink

    outcome = unlink(state.app, *pair, actor, apply=do_apply)
    _echo_outcome(state, outcome, "unlink")
    if any(set(pair) <= set(view.members) for view in outcome.preview.after):
        click.echo("The two records stay in one subject through other links.")


@reconcile.command("assign")
@click.argument("subject_id", callback=_as_printed)
@click.option(
    "--owner",
    type=any_case_choice(OWNER_CHOICES),
    required=True,
    help="The agency that owns ARMS over the period, or none.",
)
@click.option("--from", "start", type=ISO_DATE, required=True, help="First day.")
@click.option("--to", "end", type=ISO_DATE, help="Last day (default: open-ended).")
@operator_options
@apply_option
@pass_state
def assign_cmd(
    state: CliState,
    *,
    subject_id: str,
    owner: str,
    start: date,
    end: date | None,
    operator: str | None,
    reason: str | None,
    do_apply: bool,
) -> None:
    """Override the owner of a subject for a date range (rule MANUAL)."""
    from sync.reconcile.overrides import AssignRequest, assign

    actor = _actor(state, operator, reason)
    request = AssignRequest(subject_id, Owner(owner), start, end)
    _echo_outcome(state, assign(state.app, request, actor, apply=do_apply), "override")


@reconcile.command("revoke")
@click.argument("override_id", callback=_as_printed)
@operator_options
@apply_option
@pass_state
def revoke_cmd(
    state: CliState, override_id: str, operator: str | None, reason: str | None, do_apply: bool
) -> None:
    """Revoke a manual override."""
    from sync.reconcile.overrides import revoke

    actor = _actor(state, operator, reason)
    _echo_outcome(state, revoke(state.app, override_id, actor, apply=do_apply), "revocation")


@reconcile.command("resolve")
@click.argument("flag_key")
@operator_options
@pass_state
def resolve_cmd(state: CliState, flag_key: str, operator: str | None, reason: str | None) -> None:
    """Mark a flag resolved (until its facts change)."""
    from sync.reconcile.flags import resolve

    actor = _actor(state, operator, reason)
    click.echo(_flag_now(flag_key, resolve(state.app, flag_key, actor)))


@reconcile.command("reopen")
@click.argument("flag_key")
@operator_options
@pass_state
def reopen_cmd(state: CliState, flag_key: str, operator: str | None, reason: str | None) -> None:
    """Reopen a resolved flag."""
    from sync.reconcile.flags import reopen

    actor = _actor(state, operator, reason)
    click.echo(_flag_now(flag_key, reopen(state.app, flag_key, actor)))


def _flag_now(key: str, flag_state: str) -> str:
    """The flag acted on, by the key `reconcile list` shows it under (references only, as in
    the audit log), and its state now."""
    return f"The flag {key} is now {flag_state}."
