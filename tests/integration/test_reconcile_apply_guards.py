"""What guards an applied act: the store lock, a writable log, runs in flight, a lost race."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

import sync.reconcile.overrides
from sync.app import App
from sync.audit.log import AuditLog
from sync.audit.tables import audit_log
from sync.core.records import Agency, Owner, RecordRef
from sync.errors import AuditError, UsageError
from sync.ledger import schema
from sync.ledger.runs import KIND_IN_PROCESS, insert_run
from sync.reconcile import apply
from sync.reconcile.acts import require_subject
from sync.reconcile.links import link
from sync.reconcile.overrides import AssignRequest, assign, revoke
from sync.reconcile.preview import build_preview
from tests.integration.test_reconcile_apply import (
    ACTOR,
    AS_OF,
    POLICE_TWO,
    PROBATION_TWO,
    app,
    matches_a_fresh_pass,
    passes,
    subject_of,
)
from tests.integration.test_stale_passes import decision_store_is_held

pytestmark = pytest.mark.integration
__all__ = ["app", "passes"]  # the fixtures, shared with the act tests


def run_status(app: App, run_id: int) -> str:
    runs = schema.runs
    with app.ledger.engine.connect() as conn:
        return str(conn.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar_one())


def test_a_run_in_flight_at_the_preview_makes_the_act_decide_afresh(
    app: App, passes: list[int]
) -> None:
    running = app.ledger.start_run(AS_OF, datetime.now(UTC))
    try:
        link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
        assert len(passes) == 2  # the preview's, and the act's own fresh pass
        assert run_status(app, running) == "running"
        assert subject_of(app, PROBATION_TWO) == subject_of(app, POLICE_TWO)
    finally:
        app.ledger.release_run(running)


def test_a_run_whose_process_died_is_interrupted_and_the_preview_pass_is_stored(
    app: App, passes: list[int]
) -> None:
    with app.ledger.engine.begin() as conn:
        dead = insert_run(conn, AS_OF, datetime.now(UTC), KIND_IN_PROCESS)
    link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
    assert run_status(app, dead) == "interrupted"
    assert len(passes) == 1  # the preview's; its pass is stored with the link
    assert subject_of(app, PROBATION_TWO) == subject_of(app, POLICE_TWO)
    assert matches_a_fresh_pass(app)


def test_an_override_checks_its_subject_again_holding_the_decision_store_lock(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[bool] = []

    def probing(*args: Any) -> Any:
        held.append(decision_store_is_held(app))
        return require_subject(*args)

    monkeypatch.setattr(sync.reconcile.overrides, "require_subject", probing)
    subject = subject_of(app, RecordRef(Agency.PROBATION, "P100001"))
    request = AssignRequest(subject, Owner.POLICE, date(2025, 6, 1), date(2025, 6, 30))
    assign(app, request, ACTOR, apply=True)
    assert held == [False, True]  # before the preview, then as the act is written


def test_the_act_s_run_does_not_start_without_a_writable_audit_log(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unwritable(_log: AuditLog) -> None:
        raise AuditError("The audit log cannot be written, so nothing was changed.")

    with app.ledger.engine.connect() as conn:
        runs_before = conn.execute(select(func.count()).select_from(schema.runs)).scalar_one()
    monkeypatch.setattr(AuditLog, "require_writable", unwritable)
    with pytest.raises(AuditError):
        link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
    with app.ledger.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(schema.runs)).scalar_one() == runs_before
        )


def test_an_override_revoked_by_someone_else_during_the_preview_is_refused(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = subject_of(app, RecordRef(Agency.PROBATION, "P100001"))
    request = AssignRequest(subject, Owner.POLICE, date(2025, 6, 1), date(2025, 6, 30))
    override = assign(app, request, ACTOR, apply=True).act_id
    assert override is not None
    previewed = build_preview
    pending = [lambda: revoke(app, override, ACTOR, apply=True)]

    def preview_while_another_revokes(*args: Any, **kwargs: Any) -> Any:
        preview = previewed(*args, **kwargs)
        while pending:
            pending.pop()()
        return preview

    monkeypatch.setattr(apply, "build_preview", preview_while_another_revokes)
    with pytest.raises(UsageError, match=f"Override {override} is already revoked"):
        revoke(app, override, ACTOR, apply=True)
    with app.ledger.engine.connect() as conn:
        entries = conn.execute(
            select(func.count())
            .select_from(audit_log)
            .where(audit_log.c.purpose == "revocation of a manual ownership override")
        ).scalar_one()
    assert entries == 1
