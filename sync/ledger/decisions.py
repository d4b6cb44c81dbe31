"""Store a decision pass: subjects, links, timelines, orphans, and flags with their history.

Derived tables (members, links, segments, orphans) are replaced whole inside
one transaction, so a crash leaves the previous pass intact. A caller storing
a pass computed earlier can have the ledger checked first, under the
decision-store lock, and nothing is stored when the check fails; or it can
have the pass computed under that lock (`decide_under_lock`). Flags are merged:
a new flag gets its first-seen time, a flag that still holds gets its
last-seen time, one that no longer holds is closed, never erased. Overrides
of a subject id the pass no longer has follow its records to the successor
(`sync.ledger.override_moves`), and the records such an id last held are
kept, so a command given it can say where they are now
(`sync.ledger.former_members`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from sync.audit.chain import Draft
from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import decision_pass_drafts, override_move_drafts
from sync.core.decide import Decisions, SubjectDecision, membership_matched_by
from sync.core.duplicates import FLAG_KEY_SEPARATOR, Flag
from sync.core.notices import Notice, notices_for_subject, provisional
from sync.errors import StalePass
from sync.ledger import schema
from sync.ledger.former_members import keep_former_members
from sync.ledger.outbox import OutboxKeys, changed_notices, store_outgoing
from sync.ledger.override_moves import Placing, move_overrides
from sync.ledger.reviews import store_reviews
from sync.ledger.store import Ledger, bulk_execute, driver_value
from sync.ledger.store_lock import lock_decision_store
from sync.local_day import day_in_england

# The agencies whose feed has never been read to its end, asked in the storing transaction.
Awaiting = Callable[[Connection], Sequence[str]]
FLAG_CONTENT_COLUMNS = (
    "kind",
    "subject_id",
    "agency",
    "assessment_id",
    "person_ids",
    "reference_date",
    "owner_at_reference_date",
    "rule_at_reference_date",
    "counterpart",
    "redundant",
    "area",
    "assessment_status",
)
# Stored beside the content but not part of it: the rule the flag's agency is told
# (`Flag.rule_told`). It follows from the content and the subject's dates of birth,
# and a resolution stands while the content is unchanged (`sync.reconcile.flags`).
FLAG_TOLD_COLUMNS = ("rule_told",)
FLAG_STORED_COLUMNS = (*FLAG_CONTENT_COLUMNS, *FLAG_TOLD_COLUMNS)


def flag_key(flag: Flag) -> str:
    """The flag's stable identity as one string: `kind|agency|assessment or person ids`."""
    return FLAG_KEY_SEPARATOR.join(str(part) for part in flag.key)


def flag_content(flag: Flag) -> dict[str, Any]:
    """The stored columns that describe a flag (`FLAG_CONTENT_COLUMNS`)."""
    counterpart = None
    if flag.counterpart is not None:
        counterpart = json.dumps(
            {
                "agency": str(flag.counterpart.agency),
                "assessment_id": flag.counterpart.assessment_id,
                "reference_date": flag.counterpart.reference_date.isoformat(),
            },
            sort_keys=True,
        )
    return {
        "kind": str(flag.kind),
        "subject_id": flag.subject_id,
        "agency": None if flag.agency is None else str(flag.agency),
        "assessment_id": flag.assessment_id,
        "person_ids": json.dumps(list(flag.person_ids)),
        "reference_date": flag.reference_date,
        "owner_at_reference_date": (
            None if flag.owner_at_reference_date is None else str(flag.owner_at_reference_date)
        ),
        "rule_at_reference_date": flag.rule_at_reference_date,
        "counterpart": counterpart,
        "redundant": flag.redundant,
        "area": flag.area,
        "assessment_status": (
            None if flag.assessment_status is None else str(flag.assessment_status)
        ),
    }


def flag_columns(flag: Flag) -> dict[str, Any]:
    """Every stored column of a flag but its key and times (`FLAG_STORED_COLUMNS`)."""
    return {**flag_content(flag), "rule_told": flag.rule_told}


def store_decisions(
    ledger: Ledger,
    decisions: Decisions,
    run_id: int,
    now: datetime,
    keys: OutboxKeys | None = None,
    finish: Callable[[Connection, int], None] | None = None,
    notices: Iterable[Notice] | None = None,
    check: Callable[[Connection], bool] | None = None,
    awaiting: Awaiting | None = None,
) -> int:
    """Write a decision pass in one transaction; with a key ring, queue changed notices too.

    The notices are the pass's own unless `notices` gives them (worked out
    elsewhere, as a distributed cycle's decide tasks do). Returns the number of
    notice batches queued in the outbox. `finish` is called in the same
    transaction with that number (a run records its outcome there, so a pass is
    never stored without its run finished). The pass's audit entries are
    drafted first (from what is stored) and appended last, so other writers can
    append to the audit log while the rows are written. `check` is called on
    the transaction once the decision-store lock is held, before anything is
    written: when it returns false, `StalePass` is raised and nothing is stored.
    `awaiting` names, in that transaction, the agencies whose feed has never been
    read to its end: the notices queued say so (`sync.core.notices.provisional`).
    """

    def checked(conn: Connection) -> Decisions:
        if check is not None and not check(conn):
            raise StalePass("The decision pass no longer fits the ledger; it was not stored.")
        return decisions

    def finished(conn: Connection, _decisions: Decisions, batches: int) -> None:
        if finish is not None:
            finish(conn, batches)

    _, batches = _store(ledger, checked, run_id, lambda: now, keys, finished, notices, awaiting)
    return batches


def decide_under_lock(
    ledger: Ledger,
    decide: Callable[[], Decisions],
    run_id: int,
    clock: Callable[[], datetime],
    keys: OutboxKeys | None = None,
    finish: Callable[[Connection, Decisions, int], None] | None = None,
    awaiting: Awaiting | None = None,
) -> tuple[Decisions, int]:
    """Compute a pass while holding the decision-store lock, and store it in that transaction.

    `decide` reads the ledger (in connections of its own) only once the lock
    is held, so no other pass is stored between its reading and its storing.
    Otherwise as `store_decisions` with the pass's own notices; `finish` is
    also given the pass. Returns the pass and the notice batches queued. The
    lock is held for the whole computation: a pass decided this way cannot
    be overtaken, at the cost of keeping other passes (and, on SQLite, every
    writer) waiting meanwhile.
    """
    return _store(ledger, lambda _conn: decide(), run_id, clock, keys, finish, None, awaiting)


def _store(
    ledger: Ledger,
    obtain: Callable[[Connection], Decisions],
    run_id: int,
    clock: Callable[[], datetime],
    keys: OutboxKeys | None,
    finish: Callable[[Connection, Decisions, int], None] | None,
    notices: Iterable[Notice] | None,
    awaiting: Awaiting | None,
) -> tuple[Decisions, int]:
    """Take the decision-store lock, obtain the pass, write it, its notices and `finish`."""
    audit = audit_log_for(ledger.engine)
    audit.require_writable()  # no decisions are written without the audit log
    with ledger.engine.begin() as conn:
        lock_decision_store(conn)
        decisions = obtain(conn)
        now = clock()
        drafts = _write_decisions(conn, ledger, decisions, run_id, now)
        batches = 0
        if keys is not None:
            desired = _pass_notices(decisions) if notices is None else notices
            if awaiting is not None:
                desired = provisional(desired, awaiting(conn))
            batches = store_outgoing(conn, changed_notices(conn, desired), keys, run_id, now)
        if finish is not None:
            finish(conn, decisions, batches)
        # Last: the audit chain's head stays locked only from here to the commit.
        audit.record_many(conn, drafts)
        return decisions, batches


def _pass_notices(decisions: Decisions) -> Iterator[Notice]:
    """Every notice the pass's subjects call for."""
    for d in decisions.subjects:
        yield from notices_for_subject(d.facts, d.timeline, d.flags)


def _write_decisions(
    conn: Connection, ledger: Ledger, decisions: Decisions, run_id: int, now: datetime
) -> list[Draft]:
    """Write a decision pass, notices aside, inside the caller's transaction.

    Subjects, members, links, segments, orphans, flags, review items, the
    overrides re-pointed at the subjects they now belong to, and the last
    members of vanished ids kept (`former_members`); the caller holds the
    decision-store lock. Returns the pass's audit entries, drafted before
    anything is replaced: the caller (which checks `require_writable` on the
    audit log first) appends them as its last write, so the audit chain's
    head is locked only from there to the commit.
    """
    drafts = decision_pass_drafts(conn, decisions, run_id)
    vanished = _store_subjects(conn, decisions.subjects, run_id)
    keep_former_members(conn, vanished, run_id)
    current = {decision.subject_id for decision in decisions.subjects}
    moves = move_overrides(conn, placing_of(decisions), current, run_id, now)
    drafts.extend(override_move_drafts(moves, run_id))
    ledger.replace_rows(schema.subject_members, list(_member_rows(decisions)), conn)
    ledger.replace_rows(schema.links, list(_link_rows(decisions.subjects)), conn)
    ledger.replace_rows(schema.segments, list(_segment_rows(decisions.subjects)), conn)
    ledger.replace_rows(schema.orphans, [_orphan_row(o) for o in decisions.orphans], conn)
    flags = (flag for decision in decisions.subjects for flag in decision.flags)
    merge_flags(conn, flags, now, _raised_on(conn, run_id, now))
    store_reviews(conn, ledger.codec, decisions.reviews, now)
    return drafts


def placing_of(decisions: Decisions) -> Placing:
    """Where a pass puts records: each member's subject, merges and vanished ids' successors."""
    subject_of = {ref: d.subject_id for d in decisions.subjects for ref in d.members}
    return Placing(subject_of, decisions.merged_into, decisions.successors)


def _store_subjects(conn: Connection, subjects: Iterable[SubjectDecision], run_id: int) -> set[str]:
    """Mark the pass's subjects active and every other inactive; return the ids that vanish."""
    table = schema.subjects
    stored = conn.execute(select(table.c.subject_id, table.c.active)).all()
    known = {subject_id for subject_id, _active in stored}
    current = {decision.subject_id for decision in subjects}
    conn.execute(update(table).values(active=False))
    new = [{"subject_id": sid, "created_run": run_id, "active": True} for sid in current - known]
    bulk_execute(conn, table.insert(), new, "subjects-insert")
    still = [{"sid": sid} for sid in current & known]
    bulk_execute(
        conn,
        update(table).where(table.c.subject_id == bindparam("sid")).values(active=True),
        still,
        "subjects-reactivate",
    )
    return {subject_id for subject_id, active in stored if active} - current


def _member_rows(decisions: Decisions) -> Iterable[dict[str, Any]]:
    subject_of = {}
    for decision in decisions.subjects:
        for ref, (matched_by, weight) in membership_matched_by(decision).items():
            subject_of[ref] = decision.subject_id
            yield {
                "agency": str(ref.agency),
                "person_id": ref.person_id,
                "subject_id": decision.subject_id,
                "matched_by": matched_by,
                "weight": weight,
                "merged_into": None,
            }
    for source, target in sorted(decisions.merged_into.items()):
        if target in subject_of:
            yield {
                "agency": str(source.agency),
                "person_id": source.person_id,
                "subject_id": subject_of[target],
                "matched_by": "MERGE",
                "weight": None,
                "merged_into": target.person_id,
            }


def _link_rows(subjects: Iterable[SubjectDecision]) -> Iterable[dict[str, Any]]:
    for decision in subjects:
        for edge in decision.edges:
            yield {
                "subject_id": decision.subject_id,
                "a_agency": str(edge.a.agency),
                "a_person_id": edge.a.person_id,
                "b_agency": str(edge.b.agency),
                "b_person_id": edge.b.person_id,
                "matched_by": edge.matched_by,
                "weight": edge.weight,
            }


def _segment_rows(subjects: Iterable[SubjectDecision]) -> Iterable[dict[str, Any]]:
    for decision in subjects:
        for position, segment in enumerate(decision.timeline):
            yield {
                "subject_id": decision.subject_id,
                "position": position,
                "start": segment.start,
                "end": segment.end,
                "owner": str(segment.owner),
                "rule": segment.rule,
                "mandatory": segment.mandatory,
                "policy": segment.policy,
            }


def _orphan_row(orphan: Any) -> dict[str, Any]:
    return {
        "agency": str(orphan.agency),
        "rtype": orphan.record_type,
        "rid": orphan.record_id,
        "missing_person_id": orphan.missing_person_id,
        "cause": orphan.cause,
    }


def _raised_on(conn: Connection, run_id: int, now: datetime) -> date:
    """The day a flag that run `run_id` raises now is filed under: the run's as-of date,
    or today (in England and Wales) when that is earlier, so a run dated ahead files
    nothing in the future."""
    today = day_in_england(now)
    runs = schema.runs
    as_of: date | None = conn.execute(select(runs.c.as_of).where(runs.c.id == run_id)).scalar()
    return today if as_of is None else min(as_of, today)


def merge_flags(
    conn: Connection, current: Iterable[Flag], now: datetime, raised_on: date | None
) -> None:
    """Insert new flags, refresh those still holding, close those that no longer hold.

    A flag is matched to its stored row by `flag_key`, which leaves the subject
    out: a flag whose assessment moved to another subject keeps its row and its
    first-seen time, takes the new subject and details, and is reopened if it
    had been closed. A new flag is first seen now, and filed under the day `raised_on`;
    a new flag and one raised again after it closed are raised now (`raised_at`).
    A flag whose told rule changed (or was not kept yet: stored before revision 0016)
    is stored again too.
    """
    table = schema.flags
    stored = _stored_flags(conn)
    stamp = driver_value(conn, table.c.first_seen, now)
    inserts, refreshes, raised_again = [], [], []
    seen = set()
    for flag in current:
        key = flag_key(flag)
        seen.add(key)
        content = flag_columns(flag)
        previous = stored.get(key)
        if previous is None:
            first = {"first_seen": stamp, "first_seen_as_of": raised_on, "last_seen": stamp}
            inserts.append({"key": key, **content, **first, "raised_at": stamp})
        elif previous[0] is not None:
            raised_again.append({"k": key, **content, "closed_at": None, "raised_at": stamp})
        elif previous[1] != _signature(content):
            refreshes.append({"k": key, **content})
    bulk_execute(conn, table.insert(), inserts, "flags-insert")
    _update_flags(conn, refreshes, "flags-refresh")
    _update_flags(conn, raised_again, "flags-raised-again")
    closing = [
        {"k": key} for key, (closed, _) in stored.items() if closed is None and key not in seen
    ]
    if closing:
        conn.execute(
            update(table).where(table.c.key == bindparam("k")).values(closed_at=now), closing
        )
    conn.execute(update(table).where(table.c.closed_at.is_(None)).values(last_seen=now))


def _update_flags(conn: Connection, rows: list[dict[str, Any]], label: str) -> None:
    """Store each row's columns (all of them alike) on the flag with key `k`."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "k"]
    statement = (
        update(schema.flags)
        .where(schema.flags.c.key == bindparam("k"))
        .values({name: bindparam(name) for name in names})
    )
    bulk_execute(conn, statement, rows, label)


def _stored_flags(conn: Connection) -> dict[str, tuple[datetime | None, tuple[Any, ...]]]:
    table = schema.flags
    columns = [table.c[name] for name in FLAG_STORED_COLUMNS]
    rows = conn.execute(select(table.c.key, table.c.closed_at, *columns))
    return {row[0]: (row[1], tuple(row[2:])) for row in rows}


def _signature(content: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(content[name] for name in FLAG_STORED_COLUMNS)
