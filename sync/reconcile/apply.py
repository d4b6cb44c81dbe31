"""Applying an act: store it with its audit entry in one transaction, then decide again.

The act's row and its audit entry commit together (a failure to audit aborts
the act). The decision pass that follows runs as a new run in the ledger, so
the act shows at once in exports; it refuses to start without a writable
audit log. When nothing in the ledger changed between the preview and the
act (no run started or in flight, no other act stored), the preview's pass
with the act is exactly what a fresh pass would give, so it is stored as it
is instead of being computed a third time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, select

from sync.app import App
from sync.audit.chain import AuditKind
from sync.audit.log import audit_log_for
from sync.core.decide import Decisions
from sync.cycle import decide_and_store
from sync.ledger import schema
from sync.ledger.tables_manual import manual_links
from sync.reconcile.acts import Actor, AuditNote

RUN_SUCCEEDED = "succeeded"
RUN_FAILED = "failed"
RUN_IN_FLIGHT = "running"


@dataclass(frozen=True, slots=True)
class LedgerMark:
    """What changes whenever a decision pass's inputs may have changed: runs and acts.

    Records are only written by runs, and stored decisions (previous
    membership, subject ids) too, so the latest run id and the runs still in
    flight stand for them; stored links, unlinks, overrides and revocations
    are counted.
    """

    last_run: int | None
    runs_in_flight: int
    manual_links: int
    overrides: int
    revoked_overrides: int


@dataclass(frozen=True, slots=True)
class PreparedPass:
    """A preview's pass with the act, and the ledger mark read before the preview began."""

    decisions: Decisions
    mark: LedgerMark


def read_ledger_mark(conn: Connection) -> LedgerMark:
    """The ledger's mark now (read before anything a pass uses)."""
    runs, overrides = schema.runs, schema.overrides
    last_run, in_flight = conn.execute(
        select(func.max(runs.c.id), func.count().filter(runs.c.status == RUN_IN_FLIGHT))
    ).one()
    manual = conn.execute(select(func.count()).select_from(manual_links)).scalar_one()
    made, revoked = conn.execute(
        select(func.count(), func.count(overrides.c.revoked_at)).select_from(overrides)
    ).one()
    return LedgerMark(last_run, int(in_flight), int(manual), int(made), int(revoked))


def ledger_mark(app: App) -> LedgerMark:
    """The ledger's mark now, in a connection of its own.

    Runs whose process died are recorded as interrupted first: they are not in flight.
    """
    app.ledger.mark_interrupted_runs(app.clock())
    with app.ledger.engine.connect() as conn:
        return read_ledger_mark(conn)


def act_as_of(app: App) -> date:
    """The date acts are decided as of: the last run's, else today."""
    return app.ledger.last_as_of() or app.today()


def apply_act(
    app: App,
    actor: Actor,
    note: AuditNote,
    write: Callable[[Connection], None],
    act_id: str,
    prepared: PreparedPass | None = None,
) -> int:
    """Store an act and its audit entry together, then re-decide; returns the new run id.

    `prepared` is the preview's pass with the act: it is stored as it is when
    the ledger has not changed since the preview read it, else a fresh pass is made.
    """
    log = audit_log_for(app.ledger.engine)
    with app.ledger.engine.begin() as conn:
        decided = _still_current(prepared, conn)
        write(conn)
        log.record(
            conn,
            kind=note.kind,
            actor=actor.audit_actor,
            purpose=note.purpose,
            refs=note.refs,
            detail=note.detail,
        )
    return redecide(app, act_id, decided)


def _still_current(prepared: PreparedPass | None, conn: Connection) -> Decisions | None:
    """The prepared pass if the ledger is as it was when the preview read it, else `None`.

    A run in flight at the mark could have changed records since, so it never counts
    as unchanged.
    """
    if prepared is None or prepared.mark.runs_in_flight:
        return None
    return prepared.decisions if read_ledger_mark(conn) == prepared.mark else None


def redecide(app: App, act_id: str, decided: Decisions | None = None) -> int:
    """A new run that stores every decision with the acts in force (the run's outcome
    in the same transaction).

    `decided` is a pass already computed over the ledger as it now is (with
    the act); without it the pass is computed afresh.
    """
    audit_log_for(app.ledger.engine).require_writable()
    ledger = app.ledger
    as_of = act_as_of(app)
    run_id = ledger.start_run(as_of, app.clock())
    summary = {"manual_act": act_id}

    def finish(conn: Connection, _batches: int) -> None:
        ledger.finish_run(run_id, RUN_SUCCEEDED, summary, app.clock(), conn)

    try:
        decide_and_store(app, as_of, run_id, decided, finish)
    except BaseException:
        ledger.finish_run(run_id, RUN_FAILED, summary, app.clock())
        raise
    finally:
        ledger.release_run(run_id)
    return run_id


def audit_preview(app: App, actor: Actor, note: AuditNote) -> None:
    """Log that an operator consulted a preview of an act (refs only)."""
    audit_log_for(app.ledger.engine).record_now(
        kind=AuditKind.CONSULTATION,
        actor=actor.audit_actor,
        purpose=f"preview: {note.purpose}",
        refs=note.refs,
    )
