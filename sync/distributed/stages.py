"""The work of each stage of a distributed cycle, built on the same service code as `run`.

A cycle runs: ingest (one task per agency; a gateway that keeps failing
becomes its agency's feed error, as in `run`) → link (one task over the full
state, which plans batches of subjects) → decide (one task per batch, loading
only its subjects' records) → commit (one task storing everything as the
in-process run does and finishing the run, in one transaction; when the
ledger changed after the link stage read it, the commit decides afresh as
`run` does; a feed error makes the run partial) → deliver (one delivery
pass per agency with a gateway; the delivery beat retries what it leaves,
refusals included). Every task ends by marking itself done in the same
transaction as its effects, so a redelivered task finds itself done and
changes nothing. `execute` is the one entry point a worker calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from functools import partial
from typing import Any

from sqlalchemy import update

from sync.app import App
from sync.bulk import paused_garbage_collection
from sync.core.consolidate import Consolidated, FeedState, repoint
from sync.core.decide import (
    DecisionInputs,
    Linked,
    decide_subject,
    gather_facts,
    link_subjects,
    override_places,
)
from sync.core.notices import notices_for_subject
from sync.core.records import Agency, Override, RecordRef, SubjectFacts
from sync.cycle import decision_inputs, feed_error, ingest_live, load_active_overrides
from sync.delivery import deliver_to
from sync.distributed import store
from sync.distributed.commit import commit_cycle
from sync.distributed.cycles import load_cycle
from sync.distributed.work import (
    KIND_COMMIT,
    KIND_DECIDE,
    KIND_DELIVER,
    KIND_INGEST,
    KIND_LINK,
    Claim,
    CycleRules,
    LostClaim,
    Postponed,
    TaskRef,
    claim,
    claimed,
    complete,
    fail,
    feed_error_result,
    hold_claim,
    postpone,
    task_lock,
)
from sync.errors import ArmsSyncError
from sync.feeds.convert import feed_state
from sync.ingest import IngestCounts
from sync.ledger import tables_cycle as tables
from sync.ledger.mark import mark_now

log = logging.getLogger(__name__)
Work = Callable[[App, CycleRules, TaskRef], list[TaskRef]]


def execute(
    app: App, rules: CycleRules, ref: TaskRef, claimer: str, work: Work | None = None
) -> list[TaskRef]:
    """Run one delivered task at most once at a time; return the tasks it made due."""
    engine = app.ledger.engine
    with task_lock(engine, ref) as free:
        if not free:
            log.info("task %s of cycle %d is running elsewhere", ref.key, ref.cycle_id)
            return []
        if claim(engine, ref, claimer, rules, app.clock()) is not Claim.RUN:
            return []
        try:
            with paused_garbage_collection(), claimed(ref, claimer):
                return (work or WORK[ref.kind])(app, rules, ref)
        except LostClaim:
            log.warning(
                "task %s of cycle %d was taken over by another worker (its lock's "
                "connection was lost) or its cycle was abandoned; this copy stopped "
                "without writing more",
                ref.key,
                ref.cycle_id,
            )
            return []
        except Postponed:
            postpone(engine, ref, app.clock())
            log.info("task %s of cycle %d postponed", ref.key, ref.cycle_id)
            return []
        except Exception as error:  # noqa: BLE001 - recorded by class, retried by the ledger
            outcome = fail(engine, ref, type(error).__name__, rules, app.clock())
            log.warning(
                "task %s of cycle %d failed (%s); %s",
                ref.key,
                ref.cycle_id,
                told(error),
                _after_failure(outcome),
            )
            return []


def _after_failure(outcome: Claim) -> str:
    """What becomes of a task whose attempt failed, for the log."""
    match outcome:
        case Claim.DEAD:
            return "dead-lettered"
        case Claim.SKIP:
            return "its task is finished or its cycle abandoned; nothing more is done"
        case _:
            return "will be re-dispatched"


def told(error: Exception) -> str:
    """How a task's failure is logged: the product's own one-sentence errors in full
    (they name files, fields and agencies, never personal data), any other by its class
    only (a database or library message can quote the values it was given). The
    sentence's full stop is left off: the log line goes on after it."""
    if isinstance(error, ArmsSyncError):
        return f"{type(error).__name__}: {str(error).removesuffix('.')}"
    return type(error).__name__


# -- ingest ------------------------------------------------------------------
def ingest_feed(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """Read one agency's feed into the ledger (a file at once, a gateway page by page).

    A gateway that still fails after its client's own retries is the agency's
    feed error, as in `run`: the task is done with that error as its result,
    the pages read before it stay applied (and counted in the result), and
    the cycle goes on with the other agency's data (the commit records the
    run as partial). A file that cannot be read, and any other error, is a
    failed attempt.
    """
    from sync.sources import open_source

    cycle = load_cycle(app, ref.cycle_id)
    source = open_source(cycle.feeds[ref.arg], ref.arg, app)
    counts = IngestCounts()
    fence = partial(hold_claim, ref=ref)  # each unit commits only under this attempt's claim
    failed = ingest_live(app, source, ref.arg, cycle.run_id, cycle.as_of, counts, fence)
    result: dict[str, Any] = asdict(counts)
    if failed is not None:
        read_before = result if counts.units else {}
        told = feed_error(failed)
        result = {**read_before, **feed_error_result(told)}
        log.warning(
            "ingest of %s for cycle %d failed at its gateway (%s); the cycle goes on without it",
            ref.arg,
            ref.cycle_id,
            told.removesuffix("."),
        )
    with app.ledger.engine.begin() as conn:
        return complete(conn, ref, result, app.clock())


# -- link --------------------------------------------------------------------
def _link_value(linked: Linked, places: Mapping[str, str]) -> dict[str, Any]:
    """Who is who, as staged: subjects with members and edges, merges, orphans, reviews,
    the successor of each subject id that vanished, and the subject each active
    override belongs to (`places`, by override id)."""
    subjects = sorted((linked.subject_of[group[0]], group) for group in linked.groups)
    return {
        "subjects": [
            [
                subject_id,
                [store.ref_value(ref) for ref in group],
                [store.edge_to_value(e) for e in linked.edges_by_subject.get(subject_id, ())],
            ]
            for subject_id, group in subjects
        ],
        "merged": [
            [str(source.agency), source.person_id, target.person_id]
            for source, target in sorted(linked.merged.merged_into.items())
        ],
        "orphans": [store.orphan_to_value(orphan) for orphan in linked.merged.orphans],
        "reviews": [store.review_to_value(review) for review in linked.reviews],
        "successors": sorted([old, new] for old, new in linked.successors.items()),
        "override_places": sorted([oid, sid] for oid, sid in places.items()),
    }


def _plans(link: Mapping[str, Any], batch_size: int) -> list[dict[str, Any]]:
    """Subjects split into batches, each with its members, the merges into them, and the
    vanished subject ids they succeed (whose overrides they take)."""
    merged_by_target: dict[tuple[str, str], list[list[str]]] = {}
    for agency, source, target in link["merged"]:
        merged_by_target.setdefault((agency, target), []).append([agency, source, target])
    succeeded: dict[str, list[list[str]]] = {}
    for old, new in link.get("successors", ()):
        succeeded.setdefault(new, []).append([old, new])
    placed: dict[str, list[list[str]]] = {}
    for override_id, subject_id in link.get("override_places", ()):
        placed.setdefault(subject_id, []).append([override_id, subject_id])
    subjects = link["subjects"]
    plans = []
    for start in range(0, len(subjects), batch_size):
        chunk = subjects[start : start + batch_size]
        plans.append(
            {
                "subjects": [[subject_id, members] for subject_id, members, _edges in chunk],
                "merged": [
                    merge
                    for _subject_id, members, _edges in chunk
                    for agency, person_id in members
                    for merge in merged_by_target.get((agency, person_id), ())
                ],
                "successors": [
                    succession
                    for subject_id, _members, _edges in chunk
                    for succession in succeeded.get(subject_id, ())
                ],
                "override_places": [
                    place
                    for subject_id, _members, _edges in chunk
                    for place in placed.get(subject_id, ())
                ],
            }
        )
    return plans


def link_cycle(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """Link every person record into subjects and plan the decide batches.

    The ledger's mark, read before anything else, is staged with the link:
    the commit stores the cycle's pass only if the ledger is still at it.
    """
    cycle = load_cycle(app, ref.cycle_id)
    mark = mark_now(app.ledger.engine)
    inputs = decision_inputs(app, cycle.as_of)
    state = feed_state(app.ledger.iter_current_records())
    linked = link_subjects(state, inputs, app.mint_subject_id, app.linker)
    places = override_places(inputs.overrides, linked)
    link = {**_link_value(linked, places), "mark": store.mark_to_value(mark)}
    plans = _plans(link, rules.batch_size)
    ledger = app.ledger
    with ledger.engine.begin() as conn:
        hold_claim(conn, ref)  # the task's row first: the order `abandon_cycle` locks in
        store.put_staged(conn, ledger, ref.cycle_id, store.PART_LINK, link)
        for number, plan in enumerate(plans):
            part = store.part_name(store.PART_PLAN, number)
            store.put_staged(conn, ledger, ref.cycle_id, part, plan)
        conn.execute(
            update(tables.cycles)
            .where(tables.cycles.c.id == ref.cycle_id)
            .values(batches=len(plans))
        )
        result = {"subjects": len(link["subjects"]), "batches": len(plans)}
        return complete(conn, ref, result, app.clock())


# -- decide one batch --------------------------------------------------------
def _consolidated(state: FeedState, merged_into: Mapping[RecordRef, RecordRef]) -> Consolidated:
    """The batch's persons, and its dependent records re-pointed past merges (by the core)."""
    return repoint(state, {person.ref: person for person in state.persons}, merged_into)


def _read_plan(
    plan: Mapping[str, Any],
) -> tuple[dict[str, tuple[RecordRef, ...]], dict[RecordRef, RecordRef], dict[str, str]]:
    """A batch's subjects and members, the merges into them, and the ids they succeed."""
    members = {
        subject_id: tuple(store.ref_from_value(value) for value in refs)
        for subject_id, refs in plan["subjects"]
    }
    merged = {
        RecordRef(Agency(agency), source): RecordRef(Agency(agency), target)
        for agency, source, target in plan["merged"]
    }
    successors = {str(old): str(new) for old, new in plan.get("successors", ())}
    return members, merged, successors


def _batch_overrides(
    plan: Mapping[str, Any],
    active: Mapping[str, Sequence[Override]],
    successors: Mapping[str, str],
) -> dict[str, tuple[Override, ...]]:
    """The active overrides of a batch's subjects, where the link stage placed them.

    A plan staged before placements were staged puts them by successor, as then.
    """
    by_id = {o.id: (sid, o) for sid, found in active.items() for o in found}
    if "override_places" in plan:
        places = {str(oid): str(sid) for oid, sid in plan["override_places"]}
    else:
        members = {str(sid) for sid, _refs in plan["subjects"]}
        places = {oid: successors.get(sid, sid) for oid, (sid, _o) in by_id.items()}
        places = {oid: sid for oid, sid in places.items() if sid in members}
    grouped: dict[str, list[Override]] = {}
    for override_id, subject_id in places.items():
        if override_id in by_id:  # revoked since the link stage: the commit will not fit
            grouped.setdefault(subject_id, []).append(by_id[override_id][1])
    return {sid: tuple(found) for sid, found in grouped.items()}


def decide_batch(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """Decide one batch of subjects from only their own records; stage the outcome.

    A subject takes its own overrides and those of the vanished ids it succeeds.
    """
    cycle = load_cycle(app, ref.cycle_id)
    ledger = app.ledger
    number = int(ref.arg)
    with ledger.engine.connect() as conn:
        part = store.part_name(store.PART_PLAN, number)
        plan = store.get_staged(conn, ledger, ref.cycle_id, part)
    members, merged, successors = _read_plan(plan)
    subject_of = {member: sid for sid, refs in members.items() for member in refs}
    records = store.load_batch_records(ledger, subject_of, [*subject_of, *merged])
    overrides = _batch_overrides(plan, load_active_overrides(app), successors)
    facts = gather_facts(_consolidated(feed_state(records), merged), subject_of, overrides)
    inputs = DecisionInputs(
        as_of=cycle.as_of,
        window_days=app.settings.window_days,
        policy=app.policy,
        overrides=overrides,
    )
    value = _decide_all(members, facts, inputs, with_notices=app.outbox_keys is not None)
    with ledger.engine.begin() as conn:
        hold_claim(conn, ref)  # the task's row first: the order `abandon_cycle` locks in
        part = store.part_name(store.PART_RESULT, number)
        store.put_staged(conn, ledger, ref.cycle_id, part, value)
        return complete(conn, ref, {"subjects": len(members)}, app.clock())


def _decide_all(
    members: Mapping[str, tuple[RecordRef, ...]],
    facts: Mapping[str, SubjectFacts],
    inputs: DecisionInputs,
    with_notices: bool,
) -> dict[str, Any]:
    decided: list[list[Any]] = []
    notices: list[dict[str, Any]] = []
    for subject_id, refs in members.items():
        decision = decide_subject(facts[subject_id], refs, (), inputs)
        decided.append(
            [
                subject_id,
                [store.segment_to_value(segment) for segment in decision.timeline],
                [store.flag_to_value(flag) for flag in decision.flags],
            ]
        )
        if with_notices:
            found = notices_for_subject(decision.facts, decision.timeline, decision.flags)
            notices.extend(store.notice_to_value(notice) for notice in found)
    return {"decided": decided, "notices": notices}


# -- deliver -----------------------------------------------------------------
def deliver_agency(app: App, rules: CycleRules, ref: TaskRef) -> list[TaskRef]:
    """One delivery pass over an agency's outbox; what it leaves is the delivery beat's.

    While another worker (the delivery beat) delivers to the agency, the task is
    postponed without spending an attempt. A batch the gateway did not take
    (unreachable, busy, or refusing the hub or its batch) stays in the outbox
    with its retry time, the beat delivers it, and the task finishes: its
    result counts the batch as failed and pending, and names a refusal by its
    class. Only an error that is not the gateway's is a failed attempt.
    """
    cycle = load_cycle(app, ref.cycle_id)
    counts = deliver_to(app, ref.arg, cycle.deliver[ref.arg], ignore_schedule=True)
    if counts is None:
        raise Postponed
    with app.ledger.engine.begin() as conn:
        return complete(conn, ref, counts, app.clock())


WORK: dict[str, Work] = {
    KIND_INGEST: ingest_feed,
    KIND_LINK: link_cycle,
    KIND_DECIDE: decide_batch,
    KIND_COMMIT: commit_cycle,
    KIND_DELIVER: deliver_agency,
}
