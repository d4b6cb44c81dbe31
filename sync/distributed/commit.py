"""The commit stage: the staged pass stored exactly as the in-process run stores it.

The link and decide stages staged plain values; here they become a `Decisions`
again and go through `store_decisions`, the code the in-process `run` stores
with (given the notices the decide tasks staged), so subjects, links,
segments, orphans, flags, reviews and audit entries are written alike, and
the run's summary comes from `summarise_decisions` as `run`'s does. The
decisions, changed notices, run summary and the task's completion are one
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from sync.app import App
from sync.core.decide import Decisions, SubjectDecision
from sync.core.records import Agency, RecordRef, SubjectFacts
from sync.cycle import RunSummary, summarise_decisions
from sync.distributed import store
from sync.distributed.cycles import CycleRow, load_cycle
from sync.distributed.work import KIND_INGEST, CycleRules, TaskRef, complete
from sync.ingest import IngestCounts
from sync.ledger import tables_cycle as tables
from sync.ledger.decisions import store_decisions
from sync.ledger.store import Ledger

AGENCY_ORDER = (Agency.PROBATION, Agency.POLICE)


def staged_decisions(link: Mapping[str, Any], results: list[dict[str, Any]]) -> Decisions:
    """The decision pass the staged parts describe, as `store_decisions` takes it."""
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
    )


def commit_cycle(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """Store the staged decisions, queue changed notices and finish the run, all at once.

    One transaction holds the decisions (stored by `store_decisions`, as the
    in-process run stores them), the changed notices, the run's summary, the
    cleared staging and the task's completion: a crash anywhere leaves none of
    them, and the commit delivered again starts from the same staged parts.
    """
    cycle = load_cycle(app, ref.cycle_id)
    ledger = app.ledger
    with ledger.engine.connect() as conn:
        link = store.get_staged(conn, ledger, ref.cycle_id, store.PART_LINK)
        results = list(store.iter_staged(conn, ledger, ref.cycle_id, store.PART_RESULT))
    decisions = staged_decisions(link, results)
    summary = RunSummary(
        run_id=cycle.run_id,
        as_of=cycle.as_of,
        feeds=_ingest_counts(app, ref.cycle_id),
        changed=ledger.count_applied(cycle.run_id),
    )
    summarise_decisions(summary, decisions)
    completed: list[TaskRef] = []

    def finish(conn: Connection, batches: int) -> None:
        summary.notice_batches = batches
        _finish_run(conn, ledger, cycle, summary, now)
        store.clear_staging(conn, ref.cycle_id)
        completed.extend(complete(conn, ref, {"notice_batches": batches}, now))

    now = app.clock()
    staged_notices = (store.notice_from_value(v) for r in results for v in r["notices"])
    store_decisions(
        ledger, decisions, cycle.run_id, now, app.outbox_keys, finish, notices=staged_notices
    )
    return completed


def _finish_run(
    conn: Connection, ledger: Ledger, cycle: CycleRow, summary: RunSummary, now: datetime
) -> None:
    """Record the run as succeeded with its summary, on the run and on the cycle."""
    document = summary.as_dict()
    ledger.finish_run(cycle.run_id, "succeeded", document, now, conn)
    conn.execute(
        update(tables.cycles)
        .where(tables.cycles.c.id == cycle.id)
        .values(summary=json.dumps(document))
    )


def _ingest_counts(app: App, cycle_id: int) -> dict[str, IngestCounts]:
    """What each agency's ingest task counted, probation first as in `run`."""
    table = tables.cycle_tasks
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.task_key, table.c.result)
            .where(table.c.cycle_id == cycle_id, table.c.kind == KIND_INGEST)
            .order_by(table.c.task_key)
        )
        found = {
            key.split(":", 1)[1]: IngestCounts(**json.loads(result))
            for key, result in rows
            if result is not None
        }
    return {str(agency): found[str(agency)] for agency in AGENCY_ORDER if str(agency) in found}
