"""The commit stage of a distributed cycle is one transaction, on a real PostgreSQL ledger.

A failure after the run's summary is written must leave neither decisions,
notices, audit entries nor summary behind, and the commit run again must
store exactly what the in-process `run` of the same feeds stores: the same
exports and report, notices, audit entries by kind, and summary. The staged
pass is stored only while the ledger is as the link stage read it: an act
applied while the cycle decides makes the commit decide afresh, so the act
is kept. A subject whose id vanishes in the cycle hands its overrides to its
successor in the decide tasks and the commit, as in `run`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import sync.cycle
from sync.app import App
from sync.audit.tables import audit_log
from sync.core.records import Owner
from sync.cycle import decide_and_store, run_cycle
from sync.distributed import stages, store
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import execute
from sync.distributed.work import KIND_COMMIT, KIND_DECIDE, KIND_LINK, CycleRules, TaskRef
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.reconcile.overrides import AssignRequest, assign, revoke
from sync.settings import load_settings
from tests.e2e import test_deliver_stage as deliver_stage
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import cycle_status, task_state
from tests.e2e.test_workers import TODAY, feed_specs, ledger_outputs
from tests.integration import test_override_moves as succession
from tests.integration.test_reconcile_apply import ACTOR, run_statuses, segment_rules
from tests.integration.test_reconcile_apply import stored as stored_decisions

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


def run_until(app: App, queue: list[TaskRef], kind: str | None) -> list[TaskRef]:
    """Execute the cycle's tasks in order until the next is of `kind` (None: to the end)."""
    while queue and queue[0].kind != kind:
        queue.extend(execute(app, RULES, queue.pop(0), "test"))
    return queue


def override_request(app: App) -> AssignRequest:
    """An override giving a stored subject with a probation record to the police for a month."""
    members = schema.subject_members
    with app.ledger.engine.connect() as conn:
        subject = conn.execute(
            select(members.c.subject_id)
            .where(members.c.agency == "probation")
            .order_by(members.c.subject_id)
            .limit(1)
        ).scalar_one()
    return AssignRequest(subject, Owner.POLICE, date(2025, 6, 1), date(2025, 6, 28))


def a_fresh_pass_changes_nothing(app: App) -> bool:
    """Whether a fresh pass would store what is stored and queue no notice."""
    before = stored_decisions(app)
    _, batches = decide_and_store(app, TODAY, app.ledger.start_run(TODAY, datetime.now(UTC)))
    return batches == 0 and stored_decisions(app) == before


def ran_before(app: App, folder: Path) -> None:
    """One in-process run of the feeds, so the ledger holds subjects an act can name."""
    sources = {a: PlainFileSource(Path(s)) for a, s in feed_specs(folder).items()}
    run_cycle(app, sources, TODAY)


@pytest.mark.parametrize(
    "stage", [KIND_DECIDE, KIND_COMMIT], ids=["before-decide", "before-commit"]
)
def test_an_act_applied_while_a_cycle_decides_is_kept(
    hub: Callable[..., App], small_feeds: Path, stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = hub()
    ran_before(app, small_feeds)
    cycle_id, queue = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    queue = run_until(app, queue, stage)
    assign(app, override_request(app), ACTOR, apply=True)  # its own run stores a pass
    with caplog.at_level(logging.INFO, logger=sync.cycle.__name__):
        assert run_until(app, queue, None) == []
    assert cycle_status(app, cycle_id) == "succeeded"
    assert "MANUAL" in segment_rules(app)
    assert run_statuses(app) == ["succeeded"] * 3  # the first run, the act's, the cycle's
    assert len([m for m in caplog.messages if "deciding again" in m]) == 1
    assert a_fresh_pass_changes_nothing(app)


def test_an_act_applied_while_the_link_stage_reads_is_kept(
    hub: Callable[..., App],
    small_feeds: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The link stage's mark is read before its inputs, so an act applied after the
    inputs were read is newer than the mark, and the commit decides again with it."""
    app = hub()
    ran_before(app, small_feeds)
    cycle_id, queue = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    queue = run_until(app, queue, KIND_LINK)
    read_inputs = sync.cycle.decision_inputs

    def inputs_then_an_act(*args: Any) -> Any:
        inputs = read_inputs(*args)
        assign(app, override_request(app), ACTOR, apply=True)
        return inputs

    with monkeypatch.context() as patch:
        patch.setattr(stages, "decision_inputs", inputs_then_an_act)
        queue.extend(execute(app, RULES, queue.pop(0), "test"))
    with caplog.at_level(logging.INFO, logger=sync.cycle.__name__):
        assert run_until(app, queue, None) == []
    assert cycle_status(app, cycle_id) == "succeeded"
    assert "MANUAL" in segment_rules(app)
    assert len([m for m in caplog.messages if "deciding again" in m]) == 1
    assert a_fresh_pass_changes_nothing(app)


def test_an_override_revoked_after_the_link_stage_is_gone_from_the_cycles_decisions(
    hub: Callable[..., App], small_feeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The decide tasks skip the override the link stage placed, and the commit decides
    again: the cycle succeeds without it, rather than failing at every attempt."""
    app = hub()
    ran_before(app, small_feeds)
    override = assign(app, override_request(app), ACTOR, apply=True).act_id
    assert override is not None
    cycle_id, queue = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    queue = run_until(app, queue, KIND_DECIDE)
    revoke(app, override, ACTOR, apply=True)
    with caplog.at_level(logging.INFO, logger=sync.cycle.__name__):
        assert run_until(app, queue, None) == []
    assert cycle_status(app, cycle_id) == "succeeded"
    assert "MANUAL" not in segment_rules(app)
    assert len([m for m in caplog.messages if "deciding again" in m]) == 1
    assert a_fresh_pass_changes_nothing(app)


def test_a_cycle_over_an_unchanged_ledger_stores_its_staged_pass(
    hub: Callable[..., App], small_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = hub()
    ran_before(app, small_feeds)
    cycle_id, queue = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    queue = run_until(app, queue, KIND_COMMIT)
    computed: list[object] = []
    monkeypatch.setattr(sync.cycle, "decide", lambda *args: computed.append(args))
    assert run_until(app, queue, None) == []
    assert cycle_status(app, cycle_id) == "succeeded"
    assert computed == []  # the commit decided nothing itself
    monkeypatch.undo()
    assert a_fresh_pass_changes_nothing(app)


def test_a_cycle_moves_the_override_of_a_subject_linked_into_another(
    hub: Callable[..., App], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = hub()
    succession.run_feeds(app, tmp_path, linked=False)
    kept, vanished = sorted(succession.subject_of(app, pid) for pid in ("X600001", "P6"))
    request = AssignRequest(vanished, Owner.PROBATION, date(2020, 1, 1), date(2020, 12, 31))
    override = assign(app, request, ACTOR, apply=True).act_id
    succession.write_succession_feeds(tmp_path, linked=True)
    cycle_id, queue = start_cycle(app, feed_specs(tmp_path), {}, TODAY)
    computed: list[object] = []
    monkeypatch.setattr(sync.cycle, "decide", lambda *args: computed.append(args))
    assert run_until(app, queue, None) == []
    assert cycle_status(app, cycle_id) == "succeeded"
    assert computed == []  # the staged pass was stored: its decide task applied the override
    monkeypatch.undo()
    assert succession.subject_of(app, "P6") == kept
    assert succession.rules_in_2020(app, kept) == {("probation", "MANUAL")}
    assert succession.override_rows(app) == {override: kept}
    cycle_run = succession.last_run(app)
    assert succession.moves(app) == [(override, vanished, kept, cycle_run)]
    assert len(succession.move_entries(app)) == 1
    assert a_fresh_pass_changes_nothing(app)
    assert succession.rules_in_2020(app, kept) == {("probation", "MANUAL")}
