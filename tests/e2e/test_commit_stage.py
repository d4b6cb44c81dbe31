"""The commit stage of a distributed cycle is one transaction, on a real PostgreSQL ledger.

A failure after the run's summary is written must leave neither decisions,
notices, audit entries nor summary behind, and the commit run again must
store exactly what the in-process `run` of the same feeds stores: the same
exports and report, notices, audit entries by kind, and summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.audit.tables import audit_log
from sync.cycle import run_cycle
from sync.distributed import store
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import execute
from sync.distributed.work import KIND_COMMIT, CycleRules
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.settings import load_settings
from tests.e2e import test_deliver_stage as deliver_stage
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import cycle_status, task_state
from tests.e2e.test_workers import TODAY, feed_specs, ledger_outputs

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

hub = deliver_stage.hub
keys = deliver_stage.keys
small_feeds = shared.small_feeds
RULES = CycleRules(batch_size=100)
COUNTED = (
    schema.subjects,
    schema.subject_members,
    schema.segments,
    schema.flags,
    schema.notices,
    schema.notice_state,
    schema.outbox,
)


class InjectedFailure(Exception):
    """The failure the test injects into the commit."""


def stored(app: App) -> dict[str, Any]:
    """Row counts of what a commit writes, audit entries by kind, and the run's outcome."""
    with app.ledger.engine.connect() as conn:
        counts: dict[str, Any] = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in COUNTED
        }
        counts["audit"] = dict(
            conn.execute(select(audit_log.c.kind, func.count()).group_by(audit_log.c.kind)).all()
        )
        status, summary = conn.execute(select(schema.runs.c.status, schema.runs.c.summary)).one()
    counts["run"] = (status, None if summary is None else json.loads(summary))
    return counts


def test_a_commit_failing_after_the_summary_leaves_nothing_and_runs_again_once(
    hub: Callable[..., App],
    keys: Path,
    small_feeds: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = hub()
    cycle_id, queue = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    while queue and queue[0].kind != KIND_COMMIT:
        queue.extend(execute(app, RULES, queue.pop(0), "test"))
    [commit] = queue
    before = stored(app)

    def fail_after_summary(*_args: object) -> None:
        raise InjectedFailure

    with monkeypatch.context() as patch:
        patch.setattr(store, "clear_staging", fail_after_summary)
        assert execute(app, RULES, commit, "test") == []
    assert task_state(app, commit) == ("pending", 1, "InjectedFailure")
    assert stored(app) == before

    assert execute(app, RULES, commit, "test") == []
    assert cycle_status(app, cycle_id) == "succeeded"
    reference = App(
        load_settings(None, database_url=f"sqlite:///{tmp_path / 'in-process.db'}", keys_dir=keys)
    )
    try:
        reference.ledger.ensure_schema()
        sources = {a: PlainFileSource(Path(s)) for a, s in feed_specs(small_feeds).items()}
        run_cycle(reference, sources, TODAY)
        assert stored(app) == stored(reference)
        assert ledger_outputs(app) == ledger_outputs(reference)
    finally:
        reference.close()
