"""The commit stage: the staged pass stored exactly as the in-process run stores it.

The link and decide stages staged plain values; here they become a `Decisions`
again and go through `decide_and_store`, the code the in-process `run` stores
with (given the notices the decide tasks staged), so subjects, links,
segments, orphans, flags, reviews and audit entries are written alike, and
the run's summary comes from `summarise_decisions` as `run`'s does. The
decisions, changed notices, run summary and the task's completion are one
transaction.

The staged pass is stored only if, under the decision-store lock, the
ledger's mark is the one the link stage read before anything else (an act or
another run committed since would be missing from it). Otherwise the commit
decides afresh in-process, as `run` does (checked in turn, the last retry
under the lock), rather than running the link and decide stages again, which
would need a second set of tasks for stages already done and could itself be
overtaken without bound.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from sync.app import App
from sync.core.decide import Decisions, SubjectDecision
from sync.core.records import Agency, RecordRef, SubjectFacts
from sync.cycle import (
    CheckedPass,
    RunSummary,
    decide_and_store,
    note_notices_held_for_keys,
    policy_in_force,
    summarise_decisions,
)
from sync.distributed import store
from sync.distributed.cycles import load_cycle
from sync.distributed.status import feeds_never_read_whole
from sync.distributed.work import (
    KIND_INGEST,
    CycleRules,
    TaskRef,
    complete,
    result_feed_error,
    task_ref,
)
from sync.ingest import IngestCounts
from sync.ledger import tables_cycle as tables
from sync.ledger.mark import unchanged_since
from sync.ledger.runs import RUN_PARTIAL, RUN_SUCCEEDED
from sync.ledger.store import Ledger

AGENCY_ORDER = (Agency.PROBATION, Agency.POLICE)


def staged_decisions(link: Mapping[str, Any], results: list[dict[str, Any]]) -> Decisions:
    """The decision pass the staged parts describe, as `decide_and_store` takes it.

    Its successors (vanished subject ids and the subjects their records joined)
    are the link stage's, so the commit moves stored overrides as `run` does.
    """
    decided = {
        subject_id: (segments, flags)
        for result in results
        for subject_id, segments, flags in result["decided"]
    }
    subjects = []
    for subject_id, members, edges in link["subjects"]:
        segments, flags = decided[subject_id]
        subjects.append(
            SubjectDecision(
                SubjectFacts(subject_id, ()),
                tuple(store.ref_from_value(value) for value in members),
                tuple(store.edge_from_value(value) for value in edges),
                tuple(store.segment_from_value(value) for value in segments),
                tuple(store.flag_from_value(value) for value in flags),
            )
        )
    merged_into = {
        RecordRef(Agency(agency), source): RecordRef(Agency(agency), target)
        for agency, source, target in link["merged"]
    }
    return Decisions(
        tuple(subjects),
        merged_into,
        tuple(store.orphan_from_value(value) for value in link["orphans"]),
        tuple(store.review_from_value(value) for value in link["reviews"]),
        {str(old): str(new) for old, new in link.get("successors", ())},
    )


def staged_pass(link: Mapping[str, Any], results: list[dict[str, Any]]) -> CheckedPass:
    """The staged pass and its notices, checked against the mark the link stage read.

    A link staged without a mark (before marks were staged) never fits.
    """
    mark = link.get("mark")
    fits = _never if mark is None else unchanged_since(store.mark_from_value(mark))
    notices = (store.notice_from_value(v) for r in results for v in r["notices"])
    return CheckedPass(staged_decisions(link, results), fits, notices)


def _never(_conn: Connection) -> bool:
    """A check that always fails."""
    return False


def commit_cycle(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """Store the cycle's decisions, queue changed notices and finish the run, all at once.

    One transaction holds the decisions (the staged pass if the ledger is
    unchanged since the link stage, else one decided afresh, stored by
    `decide_and_store` as the in-process run stores them), the changed
    notices, the run's summary, the cleared staging and the task's
    completion: a crash anywhere leaves none of them, and the commit
    delivered again starts from the same staged parts.
    """
    cycle = load_cycle(app, ref.cycle_id)
    ledger = app.ledger
    with ledger.engine.connect() as conn:
        link = store.get_staged(conn, ledger, ref.cycle_id, store.PART_LINK)
        results = list(store.iter_staged(conn, ledger, ref.cycle_id, store.PART_RESULT))
    feeds, feed_errors = _ingest_outcomes(app, ref.cycle_id)
    summary = RunSummary(
        run_id=cycle.run_id,
        as_of=cycle.as_of,
        feeds=feeds,
        changed=ledger.count_applied(cycle.run_id),
        feed_errors=feed_errors,
        window_days=app.settings.window_days,
        policy=policy_in_force(app.policy),
    )
    completed: list[TaskRef] = []

    def finish(conn: Connection, decisions: Decisions, batches: int) -> None:
        now = app.clock()
        summarise_decisions(summary, decisions)
        summary.provisional = feeds_never_read_whole(conn)
        summary.notice_batches = batches
        note_notices_held_for_keys(app, summary)
        _finish_run(conn, ledger, cycle.run_id, summary, now)
        store.clear_staging(conn, ref.cycle_id)
        completed.extend(complete(conn, ref, {"notice_batches": batches}, now))

    decide_and_store(app, cycle.as_of, cycle.run_id, finish, staged_pass(link, results))
    return completed


def _finish_run(
    conn: Connection, ledger: Ledger, run_id: int, summary: RunSummary, now: datetime
) -> None:
    """Record the run's outcome with its summary.

    A run whose gateway let it down at ingest is partial, as in `run`.
    """
    status = RUN_PARTIAL if summary.feed_errors else RUN_SUCCEEDED
    ledger.finish_run(run_id, status, summary.as_dict(), now, conn)


def _ingest_outcomes(app: App, cycle_id: int) -> tuple[dict[str, IngestCounts], dict[str, str]]:
    """What each agency's ingest task counted, and the feed error of each whose gateway
    failed, probation first as in `run`."""
    table = tables.cycle_tasks
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.task_key, table.c.result)
            .where(table.c.cycle_id == cycle_id, table.c.kind == KIND_INGEST)
            .order_by(table.c.task_key)
        )
        found = {
            task_ref(cycle_id, key).arg: json.loads(result)
            for key, result in rows
            if result is not None
        }
    counts: dict[str, IngestCounts] = {}
    errors: dict[str, str] = {}
    for agency in (str(agency) for agency in AGENCY_ORDER if str(agency) in found):
        result = found[agency]
        error = result_feed_error(result)
        if error is not None:
            errors[agency] = error
        if error is None or result.get("units"):
            counts[agency] = IngestCounts.from_dict(result)
    return counts, errors
