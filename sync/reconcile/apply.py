"""Applying an act: store it with its audit entry in one transaction, then decide again.

The act's row and its audit entry commit together (a failure to audit aborts
the act). The decision pass that follows runs as a new run in the ledger, so
the act shows at once in exports; it refuses to start without a writable
audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import Connection

from sync.app import App
from sync.audit.chain import AuditKind
from sync.audit.log import audit_log_for
from sync.cycle import decide_and_store
from sync.reconcile.acts import Actor, AuditNote

RUN_SUCCEEDED = "succeeded"
RUN_FAILED = "failed"


def act_as_of(app: App) -> date:
    """The date acts are decided as of: the last run's, else today."""
    return app.ledger.last_as_of() or app.today()


def apply_act(
    app: App, actor: Actor, note: AuditNote, write: Callable[[Connection], None], act_id: str
) -> int:
    """Store an act and its audit entry together, then re-decide; returns the new run id."""
    log = audit_log_for(app.ledger.engine)
    with app.ledger.engine.begin() as conn:
        write(conn)
        log.record(
            conn,
            kind=note.kind,
            actor=actor.audit_actor,
            purpose=note.purpose,
            refs=note.refs,
            detail=note.detail,
        )
    return redecide(app, act_id)


def redecide(app: App, act_id: str) -> int:
    """A new run that recomputes and stores every decision with the acts in force."""
    audit_log_for(app.ledger.engine).require_writable()
    ledger = app.ledger
    as_of = act_as_of(app)
    run_id = ledger.start_run(as_of, app.clock())
    try:
        decide_and_store(app, as_of, run_id)
    except BaseException:
        ledger.finish_run(run_id, RUN_FAILED, {"manual_act": act_id}, app.clock())
        raise
    ledger.finish_run(run_id, RUN_SUCCEEDED, {"manual_act": act_id}, app.clock())
    return run_id


def audit_preview(app: App, actor: Actor, note: AuditNote) -> None:
    """Log that an operator consulted a preview of an act (refs only)."""
    audit_log_for(app.ledger.engine).record_now(
        kind=AuditKind.CONSULTATION,
        actor=actor.audit_actor,
        purpose=f"preview: {note.purpose}",
        refs=note.refs,
    )
