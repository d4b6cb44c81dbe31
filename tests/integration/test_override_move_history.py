"""A moved override in the subject report, and its vanished subject id refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.core.records import Owner
from sync.errors import UsageError
from sync.reconcile.overrides import AssignRequest, assign, revoke
from sync.reconcile.subject import MOVE_REASON, subject_report
from tests.integration.test_override_moves import ACTOR, app, run_feeds, subject_of

pytestmark = pytest.mark.integration
__all__ = ["app"]  # the fixture, shared with the override move tests
YEAR_2020 = (date(2020, 1, 1), date(2020, 12, 31))


def test_the_report_shows_the_move_and_the_revocation_under_the_successor(
    app: App, tmp_path: Path
) -> None:
    kept, vanished = sorted((subject_of(app, "X600001"), subject_of(app, "P6")))
    request = AssignRequest(vanished, Owner.PROBATION, *YEAR_2020)
    override = assign(app, request, ACTOR, apply=True).act_id
    assert override is not None
    run_feeds(app, tmp_path, linked=True)

    with pytest.raises(UsageError, match=f"^Subject {vanished} no longer exists: .* {kept}; use"):
        subject_report(app.ledger, vanished)
    with pytest.raises(UsageError, match=f"now in subject {kept}; use that id"):
        assign(app, request, ACTOR, apply=False)

    preview = revoke(app, override, ACTOR, apply=False)
    assert [view.subject_id for view in preview.preview.before] == [kept]
    revoke(app, override, ACTOR, apply=True)
    history = subject_report(app.ledger, kept).history
    assert [(e.act, e.act_id, e.operator) for e in history] == [
        ("assign", override, "jsmith"),
        ("move", override, "service:decide"),
        ("revoke", override, "jsmith"),
    ]
    move = history[1]
    assert move.reason == MOVE_REASON
    assert move.detail == f"from subject {vanished} to subject {kept}"
    assert history[2].detail == "owner probation from 2020-01-01 to 2020-12-31"
