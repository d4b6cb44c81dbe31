"""Applying an act: store it with its audit entry in one transaction, then decide again.

The act's row and its audit entry commit together (a failure to audit aborts
the act). The decision pass that follows runs as a new run in the ledger, so
the act shows at once in exports; it refuses to start without a writable
audit log. The preview's pass with the act is stored as it is, instead of
being computed a third time, only when nothing but the act and its own run
happened since the preview: the ledger's mark is checked twice, once when the
act is stored (no run started or in flight, no other act stored) and again
when the pass is stored, in the storing transaction under the decision-store
lock (only the act itself and its run, the latest and the only one in flight,
since the preview). Acts and runs that commit between the act and its pass
(another act applied meanwhile, a run of the feeds) fail the second check;
the pass is then computed afresh from the ledger and checked in turn (see
`sync.cycle.decide_and_store`), so what is stored is always what a fresh
pass would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import Connection

from sync.app import App
from sync.audit.chain import AuditKind
from sync.audit.log import audit_log_for
from sync.core.decide import DecisionInputs, Decisions
from sync.core.records import RecordRef
from sync.cycle import CheckedPass, decide_and_store, decision_inputs, policy_in_force
from sync.ledger.mark import LedgerMark, mark_now, read_ledger_mark, unchanged_since
from sync.ledger.runs import RUN_SUCCEEDED
from sync.ledger.store_lock import lock_decision_store
from sync.reconcile.acts import Actor, AuditNote
from sync.reconcile.preview import ActOutcome, build_preview


@dataclass(frozen=True, slots=True)
class PreparedPass:
    """A pass computed ahead of storing, and the ledger mark it assumes.

    A preview's pass carries the mark read before the preview began; once the
    act is stored, the mark read after the act's write (see `_with_act`).
    """

    decisions: Decisions
    mark: LedgerMark

    def for_run(self, run_id: int) -> CheckedPass:
        """The pass, checked that the ledger changed by nothing but the run `run_id` since."""
        return CheckedPass(self.decisions, unchanged_since(self.mark.with_run(run_id)))


@dataclass(frozen=True, slots=True)
class ManualAct:
    """One manual act, as its preview and its application need it.

    `change` gives the decision inputs with the act; `write` stores the act
    (holding the decision-store lock); `note` is the applied act's audit entry.
    The preview compares the passes around `refs` and the records of
    `subject_id`; its consultation entry names `preview_refs` (default: the
    note's) and it reports `preview_id` (None: the act gets its id when applied).
    `explain` gives the preview's notes from the inputs and the pass with the act.
    """

    act_id: str
    change: Callable[[DecisionInputs], DecisionInputs]
    write: Callable[[Connection], None]
    note: AuditNote
    refs: frozenset[RecordRef] = frozenset()
    subject_id: str | None = None
    preview_refs: tuple[str, ...] | None = None
    preview_id: str | None = None
    explain: Callable[[DecisionInputs, Decisions], tuple[str, ...]] | None = None


def preview_or_apply(app: App, actor: Actor, act: ManualAct, *, apply: bool) -> ActOutcome:
    """Preview an act (audited as a consultation), or with `apply` store it and decide again.

    The ledger's mark is read before the preview reads anything, so its pass
    with the act is stored as it is only over a ledger nothing else changed.
    """
    mark = ledger_mark(app)
    current = decision_inputs(app, act_as_of(app))
    changed = act.change(current)
    preview, after = build_preview(
        app, current, changed, refs=set(act.refs), subject_id=act.subject_id
    )
    if act.explain is not None:
        preview = replace(preview, notes=act.explain(changed, after))
    if not apply:
        consulted = (
            act.note if act.preview_refs is None else replace(act.note, refs=act.preview_refs)
        )
        audit_preview(app, actor, consulted)
        return ActOutcome(act.preview_id, preview, applied=False)
    run_id = apply_act(app, actor, act.note, act.write, act.act_id, PreparedPass(after, mark))
    return ActOutcome(act.act_id, preview, applied=True, run_id=run_id)


def ledger_mark(app: App) -> LedgerMark:
    """The ledger's mark now, in a connection of its own.

    Runs whose process died are recorded as interrupted first: they are not in flight.
    """
    app.ledger.mark_interrupted_runs(app.clock())
    return mark_now(app.ledger.engine)


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

    `write` runs holding the decision-store lock, so what it checks in the
    ledger (a subject id still current) holds until the act commits.

    `prepared` is the preview's pass with the act: it is stored as it is when
    the ledger has changed by nothing but the act and its run since the preview
    read it, else a fresh pass is made.
    """
    log = audit_log_for(app.ledger.engine)
    with app.ledger.engine.begin() as conn:
        # No pass is stored while the act checks what it names and is written:
        # a subject id it names cannot vanish between its check and its commit.
        lock_decision_store(conn)
        write(conn)
        log.record(
            conn,
            kind=note.kind,
            actor=actor.audit_actor,
            purpose=note.purpose,
            refs=note.refs,
            detail=note.detail,
        )
        ready = _with_act(prepared, read_ledger_mark(conn))
    return redecide(app, act_id, ready)


def _with_act(prepared: PreparedPass | None, now: LedgerMark) -> PreparedPass | None:
    """The prepared pass with the mark `now` (read after the act's write) if the act is all
    that changed since the preview read its mark, else `None`.

    A run in flight at the mark could have changed records since, so it never counts
    as unchanged.
    """
    if prepared is None or prepared.mark.runs_in_flight:
        return None
    if not now.is_one_act_after(prepared.mark):
        return None
    return PreparedPass(prepared.decisions, now)


def redecide(app: App, act_id: str, ready: PreparedPass | None = None) -> int:
    """A new run that stores every decision with the acts in force (the run's outcome
    in the same transaction).

    `ready` is a pass already computed with the act, under the mark read after
    the act was stored (see `_with_act`): it is
    stored only if, under the decision-store lock, the ledger has changed by
    nothing but this run since the act; otherwise a pass is computed afresh
    and checked in the same way (see `decide_and_store`).
    """
    audit_log_for(app.ledger.engine).require_writable()
    ledger = app.ledger
    summary = {
        "manual_act": act_id,
        "window_days": app.settings.window_days,
        "policy": policy_in_force(app.policy),
    }
    as_of = act_as_of(app)
    with ledger.in_process_run(as_of, app.clock, failure_summary=summary) as run_id:

        def finish(conn: Connection, _decisions: Decisions, _batches: int) -> None:
            ledger.finish_run(run_id, RUN_SUCCEEDED, summary, app.clock(), conn)

        decide_and_store(
            app, as_of, run_id, finish, None if ready is None else ready.for_run(run_id)
        )
    return run_id


def audit_preview(app: App, actor: Actor, note: AuditNote) -> None:
    """Log that an operator consulted a preview of an act (refs only)."""
    audit_log_for(app.ledger.engine).record_now(
        kind=AuditKind.CONSULTATION,
        actor=actor.audit_actor,
        purpose=f"preview: {note.purpose}",
        refs=note.refs,
    )
