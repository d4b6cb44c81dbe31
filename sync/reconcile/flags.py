"""Resolving and reopening flags (their states: `sync.ledger.flag_states`).

A resolution is stored with a digest of the flag's content at that moment, so
it holds only while the content is unchanged. Nothing is deleted: every act
is a new row, its reason encrypted and bound to the act's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from sync.app import App
from sync.audit.chain import AuditKind
from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import subject_ref
from sync.errors import UsageError
from sync.ledger import schema
from sync.ledger.codec import CipherCodec, field_key
from sync.ledger.flag_states import (
    ACTION_REOPEN,
    ACTION_RESOLVE,
    STATE_CLOSED,
    STATE_OPEN,
    STATE_RESOLVED,
    FlagAct,
    content_digest,
    flag_state,
    latest_acts,
)
from sync.ledger.moments import as_utc
from sync.ledger.tables_manual import flag_acts, review_items
from sync.local_day import day_in_england
from sync.reconcile.acts import Actor

LINK_REVIEW_IS_SETTLED_BY_AN_ACT = (
    "The item given is a link review, not a flag: settle it by linking its two records "
    "(`arms-sync reconcile link`) or keeping them apart (`arms-sync reconcile unlink`)."
)


def _flag_row(conn: Connection, key: str) -> Mapping[Any, Any]:
    row = conn.execute(select(schema.flags).where(schema.flags.c.key == key)).first()
    if row is not None:
        return row._mapping
    if _is_link_review(conn, key):
        raise UsageError(LINK_REVIEW_IS_SETTLED_BY_AN_ACT)
    raise UsageError("The flag given is not known to the ledger; see `arms-sync reconcile list`.")


def _is_link_review(conn: Connection, key: str) -> bool:
    """Whether `key` is the number `reconcile list` shows for a link-review item."""
    if not (key.isascii() and key.isdigit()):
        return False
    query = select(review_items.c.id).where(review_items.c.id == int(key))
    return conn.execute(query).first() is not None


def _store_act(
    conn: Connection,
    codec: CipherCodec,
    key: str,
    action: str,
    digest: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Insert the act, then its reason encrypted under the id the insert gave it."""
    act_id = conn.execute(
        flag_acts.insert()
        .values(
            flag_key=key,
            action=action,
            content_digest=digest,
            operator=actor.operator,
            reason="",
            created_at=now,
        )
        .returning(flag_acts.c.id)
    ).scalar_one()
    reason = codec.encode_text(field_key(flag_acts.name, str(act_id), "reason"), actor.reason)
    conn.execute(update(flag_acts).where(flag_acts.c.id == act_id).values(reason=reason))


def _refusal(action: str, state: str, act: FlagAct | None) -> str:
    """Why a flag in `state` cannot take `action`, in one sentence (naming who made it
    so, and when, where an operator's act did)."""
    verb = "resolved" if action == ACTION_RESOLVE else "reopened"
    if state == STATE_CLOSED:
        return f"The flag given is closed (its facts no longer hold), so it cannot be {verb}."
    made_so = ACTION_RESOLVE if state == STATE_RESOLVED else ACTION_REOPEN
    if act is None or act.action != made_so:  # open as raised, or its resolution lapsed
        return f"The flag given is already {state}."
    when = day_in_england(as_utc(act.created_at)).isoformat()
    return f"The flag given is already {state} (by {act.operator} on {when})."


def _act(app: App, key: str, actor: Actor, action: str) -> str:
    log = audit_log_for(app.ledger.engine)
    with app.ledger.engine.begin() as conn:
        row = _flag_row(conn, key)
        act = latest_acts(conn, [key]).get(key)
        state = flag_state(row, act)
        wanted = STATE_OPEN if action == ACTION_RESOLVE else STATE_RESOLVED
        if state != wanted:
            raise UsageError(_refusal(action, state, act))
        _store_act(conn, app.ledger.codec, key, action, content_digest(row), actor, app.clock())
        log.record(
            conn,
            kind=AuditKind.ALTERATION,
            actor=actor.audit_actor,
            purpose=f"manual {action} of a flag",
            refs=(f"flag:{key}", subject_ref(str(row["subject_id"]))),
        )
    return STATE_RESOLVED if action == ACTION_RESOLVE else STATE_OPEN


def resolve(app: App, key: str, actor: Actor) -> str:
    """Mark an open flag resolved; returns its new state."""
    return _act(app, key, actor, ACTION_RESOLVE)


def reopen(app: App, key: str, actor: Actor) -> str:
    """Reopen a resolved flag; returns its new state."""
    return _act(app, key, actor, ACTION_REOPEN)
