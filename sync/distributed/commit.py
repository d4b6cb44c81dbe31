"""The commit stage: the staged pass stored exactly as the in-process run stores it.

The link and decide stages staged plain values; here they become a `Decisions`
again and go through `store_decisions`, the function the in-process `run`
uses, so subjects, links, segments, orphans, flags, reviews and audit entries
are written by the same code. Changed notices, the run's outcome and the
task's completion follow in a second transaction.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from sync.app import App
from sync.core.decide import Decisions, SubjectDecision
from sync.core.records import Agency, RecordRef, SubjectFacts
from sync.cycle import RunSummary
from sync.distributed import store
from sync.distributed.cycles import CycleRow, load_cycle
from sync.distributed.work import KIND_INGEST, CycleRules, TaskRef, complete
from sync.ingest import IngestCounts
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.ledger.decisions import store_decisions
from sync.ledger.outbox import changed_notices, store_outgoing

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
    """Store the staged decisions with `store_decisions`, queue notices, finish the run.

    The decisions are stored as the in-process run stores them (subjects,
    links, segments, orphans, flags, reviews, audit entries); the changed
    notices, the run's outcome and the task's completion follow in a second
    transaction. Both steps compare with what is stored, so a commit delivered
    again after a crash between them stores nothing twice.
    """
    cycle = load_cycle(app, ref.cycle_id)
    ledger = app.ledger
    with ledger.engine.connect() as conn:
        link = store.get_staged(conn, ledger, ref.cycle_id, store.PART_LINK)
        results = list(store.iter_staged(conn, ledger, ref.cycle_id, store.PART_RESULT))
    now = app.clock()
    store_decisions(ledger, staged_decisions(link, results), cycle.run_id, now)
    summary = _summary(
        cycle, _ingest_counts(app, ref.cycle_id), ledger.count_applied(cycle.run_id), link, results
    )
    with ledger.engine.begin() as conn:
        keys = app.outbox_keys
        if keys is not None:
            desired = (store.notice_from_value(v) for r in results for v in r["notices"])
            summary.notice_batches = store_outgoing(
                conn, changed_notices(conn, desired), keys, cycle.run_id, now
            )
        document = json.dumps(summary.as_dict())
        conn.execute(
            update(schema.runs)
            .where(schema.runs.c.id == cycle.run_id)
            .values(finished_at=now, status="succeeded", summary=document)
        )
        conn.execute(
            update(tables.cycles).where(tables.cycles.c.id == ref.cycle_id).values(summary=document)
        )
        store.clear_staging(conn, ref.cycle_id)
        return complete(conn, ref, {"notice_batches": summary.notice_batches}, now)


def _ingest_counts(app: App, cycle_id: int) -> dict[str, IngestCounts]:
    table = tables.cycle_tasks
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.task_key, table.c.result)
            .where(table.c.cycle_id == cycle_id, table.c.kind == KIND_INGEST)
            .order_by(table.c.task_key)
        )
        return {
            key.split(":", 1)[1]: IngestCounts(**json.loads(result))
            for key, result in rows
            if result is not None
        }


def _summary(
    cycle: CycleRow,
    feeds: dict[str, IngestCounts],
    changed: dict[str, int],
    link: Mapping[str, Any],
    results: list[dict[str, Any]],
) -> RunSummary:
    owners: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for result in results:
        owners.update(result["owners"])
        kinds.update(result["kinds"])
    ordered: dict[str, IngestCounts] = {
        str(agency): feeds[str(agency)] for agency in AGENCY_ORDER if str(agency) in feeds
    }
    summary = RunSummary(run_id=cycle.run_id, as_of=cycle.as_of, feeds=ordered, changed=changed)
    summary.subjects = len(link["subjects"])
    summary.orphans = len(link["orphans"])
    summary.owners_today = dict(sorted(owners.items()))
    summary.open_flags = dict(sorted(kinds.items()))
    return summary
