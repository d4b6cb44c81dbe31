"""Manual ownership overrides: `assign` one for a subject and date range, `revoke` it.

An override beats every rule in its range (rule `MANUAL`). Both acts are
previewed first and change nothing until applied; the override row is kept
for ever, a revocation only stamps it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial

from sqlalchemy import Connection, select, update

from sync.app import App
from sync.audit.chain import AuditKind
from sync.audit.pipeline_hooks import subject_ref
from sync.core.decide import DecisionInputs, Decisions
from sync.core.policy import Span, override_spans
from sync.core.records import Override, Owner
from sync.errors import UsageError
from sync.ledger import schema
from sync.ledger.codec import field_key
from sync.ledger.moments import as_utc
from sync.ledger.override_moves import keep_override_records, subject_records
from sync.local_day import day_in_england
from sync.reconcile.acts import (
    Actor,
    AuditNote,
    as_given,
    new_act_id,
    require_date_range,
    require_subject,
)
from sync.reconcile.apply import ManualAct, preview_or_apply
from sync.reconcile.links import LINK_PREFIX, UNLINK_PREFIX
from sync.reconcile.preview import ActOutcome

OVERRIDE_PREFIX = "OVR"
# A link act's id given to `revoke`: what it is, and the act that undoes it.
UNDOING_LINK_ACTS = {LINK_PREFIX: ("link", "unlink"), UNLINK_PREFIX: ("unlink", "link")}


@dataclass(frozen=True, slots=True)
class AssignRequest:
    """An override to make: subject, owner and inclusive date range (`end` None: open)."""

    subject_id: str
    owner: Owner
    start: date
    end: date | None = None


def _sealed_reason(app: App, override_id: str, column: str, reason: str) -> str:
    """An operator's reason as stored: encrypted, bound to its override and column."""
    key = field_key(schema.overrides.name, override_id, column)
    return app.ledger.codec.encode_text(key, reason)


def _range_text(start: date, end: date | None) -> str:
    return f"from {start.isoformat()} to {end.isoformat() if end else 'open'}"


def assign(app: App, request: AssignRequest, actor: Actor, *, apply: bool) -> ActOutcome:
    """Preview, and with `apply` store, a manual override (rule `MANUAL`)."""
    require_date_range(request.start, request.end)
    subject_id = request.subject_id
    with app.ledger.engine.connect() as conn:
        require_subject(conn, subject_id)
        made_on = subject_records(conn, subject_id)
    act_id = new_act_id(OVERRIDE_PREFIX)

    def change(current: DecisionInputs) -> DecisionInputs:
        existing = tuple(current.overrides.get(subject_id, ()))
        made = 1 + max((o.made for found in current.overrides.values() for o in found), default=-1)
        override = Override(act_id, request.owner, request.start, request.end, made, made_on)
        return replace(current, overrides={**current.overrides, subject_id: (*existing, override)})

    def write(conn: Connection) -> None:
        require_subject(conn, subject_id)  # again: a pass may have re-linked it since
        # The records it is made on, as they are now: the preview's, unless a pass
        # re-linked them since, and then the act's run decides afresh.
        keep_override_records(conn, act_id, subject_records(conn, subject_id))
        conn.execute(
            schema.overrides.insert().values(
                id=act_id,
                subject_id=subject_id,
                owner=str(request.owner),
                start=request.start,
                end=request.end,
                operator=actor.operator,
                reason=_sealed_reason(app, act_id, "reason", actor.reason),
                created_at=app.clock(),
            )
        )

    note = AuditNote(
        AuditKind.ALTERATION,
        "manual ownership override",
        (subject_ref(subject_id), f"override:{act_id}"),
        f"owner {request.owner} {_range_text(request.start, request.end)}",
    )
    act = ManualAct(
        act_id,
        change,
        write,
        note,
        subject_id=subject_id,
        preview_refs=(subject_ref(subject_id),),
        explain=partial(_overlaps_explained, act_id),
    )
    return preview_or_apply(app, actor, act, apply=apply)


def _overlaps_explained(
    act_id: str, _inputs: DecisionInputs, decisions: Decisions
) -> tuple[str, ...]:
    """The preview's notes: for each other override of the subject holding days of the new
    one's range, before or after it, the days it still holds (it starts later) and the
    days the new one takes over from it."""
    overrides = next(
        (
            decision.facts.overrides
            for decision in decisions.subjects
            if any(override.id == act_id for override in decision.facts.overrides)
        ),
        (),
    )
    made = next((override for override in overrides if override.id == act_id), None)
    if made is None:
        return ()
    after = override_spans(overrides)
    before = override_spans(override for override in overrides if override.id != act_id)
    mine = _held(after, made, (made.start, made.end))
    notes = []
    for other in sorted(overrides, key=lambda override: (override.start, override.id)):
        if other.id == act_id:
            continue
        named = f"{other.id} ({other.owner} {_range_text(other.start, other.end)})"
        kept = _held(after, other, (made.start, made.end))
        taken = [
            shared
            for held in _held(before, other, (made.start, made.end))
            for span in mine
            if (shared := _intersection(held, span)) is not None
        ]
        if kept:
            notes.append(f"Override {named} starts later, so it still holds {_days(kept)}.")
        if taken:
            notes.append(f"This override takes the place of override {named} {_days(taken)}.")
    return tuple(notes)


def _held(spans: tuple[tuple[Override, Span], ...], holder: Override, within: Span) -> list[Span]:
    """The spans of days within `within` on which `holder` is in force."""
    return [
        found
        for override, span in spans
        if override == holder and (found := _intersection(span, within)) is not None
    ]


def _days(spans: list[Span]) -> str:
    return " and ".join(_range_text(*span) for span in sorted(spans))


def _intersection(one: Span, two: Span) -> Span | None:
    """The days two inclusive spans (end None: open) share, if any."""
    start = max(one[0], two[0])
    ends = [end for end in (one[1], two[1]) if end is not None]
    end = min(ends) if ends else None
    return None if end is not None and end < start else (start, end)


def _active_override_subject(conn: Connection, override_id: str) -> str:
    table = schema.overrides
    row = conn.execute(
        select(table.c.subject_id, table.c.revoked_at, table.c.revoked_by).where(
            table.c.id == override_id
        )
    ).first()
    if row is None:
        raise UsageError(_not_an_override(override_id))
    if row.revoked_at is not None:
        raise UsageError(_already_revoked(override_id, row.revoked_by, row.revoked_at))
    return str(row.subject_id)


def _not_an_override(act_id: str) -> str:
    """Why an id is refused for revocation: unknown, or a link act's (undone otherwise)."""
    prefix = act_id.partition("-")[0]
    if prefix in UNDOING_LINK_ACTS:
        kind, undo = UNDOING_LINK_ACTS[prefix]
        return (
            f"{act_id} is a manual {kind}, not an override: `arms-sync reconcile {undo}` on "
            f"the same two records undoes it (`reconcile show` names them)."
        )
    return f"{as_given('Override', act_id)} is not known to the ledger."


def _already_revoked(override_id: str, operator: str | None, at: datetime) -> str:
    """Why a second revocation is refused: who revoked the override, and on which day."""
    day = day_in_england(as_utc(at)).isoformat()
    by = f"by {operator} " if operator else ""
    return f"Override {override_id} is already revoked ({by}on {day}); nothing to do."


def revoke(app: App, override_id: str, actor: Actor, *, apply: bool) -> ActOutcome:
    """Preview, and with `apply` store, the revocation of an override."""
    with app.ledger.engine.connect() as conn:
        subject_id = _active_override_subject(conn, override_id)

    def change(current: DecisionInputs) -> DecisionInputs:
        remaining = tuple(o for o in current.overrides.get(subject_id, ()) if o.id != override_id)
        return replace(current, overrides={**current.overrides, subject_id: remaining})

    def write(conn: Connection) -> None:
        table = schema.overrides
        done = conn.execute(
            update(table)
            .where(table.c.id == override_id, table.c.revoked_at.is_(None))
            .values(
                revoked_at=app.clock(),
                revoked_by=actor.operator,
                revoke_reason=_sealed_reason(app, override_id, "revoke_reason", actor.reason),
            )
        )
        if done.rowcount != 1:  # revoked meanwhile: refused with who revoked it, and when
            _active_override_subject(conn, override_id)
            raise UsageError(f"Override {override_id} is already revoked.")

    note = AuditNote(
        AuditKind.ALTERATION,
        "revocation of a manual ownership override",
        (subject_ref(subject_id), f"override:{override_id}"),
    )
    act = ManualAct(override_id, change, write, note, subject_id=subject_id, preview_id=override_id)
    return preview_or_apply(app, actor, act, apply=apply)
