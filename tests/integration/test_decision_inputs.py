"""What a decision pass reads from the ledger besides the records, on SQLite.

The settings' duplicate window; each record's subject and every subject id
already given; the overrides not revoked, by subject, oldest first; and the
operators' links and unlinks, as edges and forbidden pairs.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.core.decide import ordered_pair
from sync.core.records import Agency, Owner, RecordRef
from sync.cycle import decision_inputs, run_cycle
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.reconcile.acts import Actor
from sync.reconcile.links import link, unlink
from sync.reconcile.overrides import AssignRequest, assign, revoke
from sync.settings import Settings
from tests.integration.test_audit_log import write_feeds
from tests.integration.test_gateway_retry_after import Clock

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
ACTOR = Actor("operator-1", "agreed at the case review")
PROBATION_ONE = RecordRef(Agency.PROBATION, "P100001")
PROBATION_TWO = RecordRef(Agency.PROBATION, "P100002")
POLICE_ONE = RecordRef(Agency.POLICE, "LAN-1")
POLICE_TWO = RecordRef(Agency.POLICE, "LAN-2")
WINDOW_DAYS = 90


def _membership(app: App) -> dict[RecordRef, str]:
    table = schema.subject_members
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.agency, table.c.person_id, table.c.subject_id))
        return {RecordRef(Agency(a), str(p)): str(s) for a, p, s in rows}


def _override_ids(app: App) -> list[str]:
    table = schema.overrides
    with app.ledger.engine.connect() as conn:
        query = select(table.c.id).order_by(table.c.created_at)
        return [str(override_id) for override_id in conn.execute(query).scalars()]


def test_a_pass_reads_the_window_subjects_overrides_and_manual_links(tmp_path: Path) -> None:
    clock = Clock()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}", window_days=WINDOW_DAYS)
    app = App(settings, clock=clock)
    try:
        probation, police = write_feeds(tmp_path)
        run_cycle(
            app, {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}, AS_OF
        )
        link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
        unlink(app, PROBATION_ONE, POLICE_ONE, ACTOR, apply=True)
        subject = _membership(app)[PROBATION_TWO]
        for month in (8, 6, 7):  # created in this order, a minute apart
            clock.now += timedelta(minutes=1)
            request = AssignRequest(
                subject, Owner.POLICE, date(2025, month, 1), date(2025, month, 20)
            )
            assign(app, request, ACTOR, apply=True)
        first, revoked, last = _override_ids(app)
        clock.now += timedelta(minutes=1)
        revoke(app, revoked, ACTOR, apply=True)
        membership = _membership(app)
        inputs = decision_inputs(app, AS_OF)
    finally:
        app.close()
    assert inputs.window_days == WINDOW_DAYS
    assert inputs.as_of == AS_OF
    assert inputs.previous_membership == membership
    assert set(membership.values()) <= inputs.taken_subject_ids
    assert [override.id for override in inputs.overrides[subject]] == [first, last]
    assert [override.start for override in inputs.overrides[subject]] == [
        date(2025, 8, 1),
        date(2025, 7, 1),
    ]
    assert list(inputs.overrides) == [subject]
    assert [(ordered_pair(act.a, act.b), act.link) for act in inputs.link_acts] == [
        (ordered_pair(PROBATION_TWO, POLICE_TWO), True),
        (ordered_pair(PROBATION_ONE, POLICE_ONE), False),
    ]
