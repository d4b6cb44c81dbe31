"""The audit calls the sync pipeline makes: collection, erasure, combination, alteration,
disclosure and consultation, each with record references only.

Every function taking a `Connection` appends inside the caller's transaction,
so the pipeline's write and its audit entries commit together, and a failure
to audit aborts the write. Large batches are split into entries of at most
`REFS_PER_ENTRY` references.
"""

from __future__ import annotations

import getpass
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sqlalchemy import Connection, select

from sync.audit.chain import (
    MAX_DETAIL_CHARS,
    MAX_RECIPIENT_CHARS,
    AuditKind,
    Draft,
    looks_like_identifier,
)
from sync.audit.log import AuditLog
from sync.core.decide import Decisions
from sync.core.records import Agency, RecordRef
from sync.errors import UsageError
from sync.ledger import schema
from sync.ledger.override_moves import OverrideMove
from sync.ledger.segments import StoredSegment, iter_stored_segments

REFS_PER_ENTRY = 500
ACTOR_INGEST = "service:ingest"
ACTOR_DECIDE = "service:decide"
ACTOR_EXCHANGE = "service:exchange"
ACTOR_REPORT = "service:report"
CLI_ACTOR_PREFIX = "cli:"
OPERATOR_ACTOR_PREFIX = "operator:"
MAX_OPERATOR_CHARS = 80  # with its prefix, well within the audit log's actor field
MIN_COMBINED_RECORDS = 2


def cli_actor(operator: str | None) -> str:
    """Who is consulting from the command line: the operator if named, else the OS account."""
    name = checked_operator(operator)
    if name is not None:
        return OPERATOR_ACTOR_PREFIX + name
    try:
        return CLI_ACTOR_PREFIX + getpass.getuser()
    except (KeyError, OSError):
        return CLI_ACTOR_PREFIX + "unknown"


def checked_operator(operator: str | None, given_as: str = "") -> str | None:
    """The operator's name without surrounding blanks (None when blank), or a refusal.

    Every command takes an operator through this one check, so a name is
    refused (exit 2) alike wherever it is used: longer than
    `MAX_OPERATOR_CHARS`, not plain text, or shaped like a PNC or CRO number,
    which the audit log must never hold. `given_as` says where the name came
    from ("given with --operator"); the refusal never repeats the name.
    """
    name = (operator or "").strip()
    if not name:
        return None
    who = f"The operator {given_as}" if given_as else "The operator"
    if len(name) > MAX_OPERATOR_CHARS or not name.isprintable():
        raise UsageError(f"{who} must be plain text of at most {MAX_OPERATOR_CHARS} characters.")
    return refuse_identifier_as_operator(name, who)


def refuse_identifier_as_operator(name: str, who: str = "The operator") -> str:
    """The operator's name, refused (exit 2) when shaped like a PNC or CRO number: the audit
    log names operators, and must never hold such a number."""
    if looks_like_identifier(name):
        raise UsageError(
            f"{who} must be a person's name or account, not something shaped like "
            "a PNC or CRO number."
        )
    return name


def _chunks(refs: Sequence[str]) -> Iterable[tuple[str, ...]]:
    for start in range(0, len(refs), REFS_PER_ENTRY):
        yield tuple(refs[start : start + REFS_PER_ENTRY])


def person_ref(ref: RecordRef) -> str:
    """The audit reference of a person record."""
    return f"person:{ref.agency}/{ref.person_id}"


def subject_ref(subject_id: str) -> str:
    """The audit reference of a subject."""
    return f"subject:{subject_id}"


def audit_collection(
    log: AuditLog,
    conn: Connection,
    run_id: int,
    *,
    agency: str,
    source_name: str,
    counts: Mapping[str, int],
    sealed: bool = True,
) -> int:
    """Log that a feed page or file of one agency was applied in a run.

    A plain file is named as such: nothing in it proved who wrote it.
    """
    figures = ", ".join(f"{name} {value}" for name, value in sorted(counts.items()))
    kind = "" if sealed else " (plain file, unsigned)"
    detail = f"{source_name}{kind}: {figures}"[:MAX_DETAIL_CHARS]
    return log.record(
        conn,
        kind=AuditKind.COLLECTION,
        actor=ACTOR_INGEST,
        purpose=f"{agency} feed applied to the ledger",
        refs=(f"run:{run_id}", f"source:{agency}"),
        detail=detail,
    )


def record_ref(key: tuple[str, str, str]) -> str:
    """The audit reference of a stored record: `record:AGENCY/TYPE/ID`."""
    agency, rtype, rid = key
    return f"record:{agency}/{rtype}/{rid}"


def audit_erasures(log: AuditLog, conn: Connection, run_id: int, refs: Sequence[str]) -> int:
    """Log records erased because their agency deleted them (one entry per chunk)."""
    drafts = [
        Draft(
            AuditKind.ERASURE,
            ACTOR_INGEST,
            "record deleted by its agency, erased from the ledger",
            refs=(f"run:{run_id}", *chunk),
        )
        for chunk in _chunks(sorted(refs))
    ]
    return log.record_many(conn, drafts)


def audit_disclosure(
    log: AuditLog,
    conn: Connection,
    recipient: str,
    what: str,
    refs: Sequence[str],
    *,
    actor: str = ACTOR_EXCHANGE,
) -> int:
    """Log a disclosure (a notice batch delivered, a report written) and its recipient."""
    drafts = [
        Draft(AuditKind.DISCLOSURE, actor, what, recipient=recipient, refs=chunk)
        for chunk in (_chunks(list(refs)) if refs else [()])
    ]
    return log.record_many(conn, drafts)


def audit_consultation(
    log: AuditLog, actor: str, purpose: str, refs: Sequence[str] = (), detail: str | None = None
) -> int:
    """Log a consultation (show, export, report) in a transaction of its own."""
    return log.record_now(
        kind=AuditKind.CONSULTATION, actor=actor, purpose=purpose, refs=refs, detail=detail
    )


def _stored_members(conn: Connection) -> dict[str, frozenset[RecordRef]]:
    table = schema.subject_members
    members: defaultdict[str, set[RecordRef]] = defaultdict(set)
    rows = conn.execute(
        select(table.c.subject_id, table.c.agency, table.c.person_id).where(
            table.c.merged_into.is_(None)
        )
    )
    for subject_id, agency, person_id in rows:
        members[subject_id].add(RecordRef(Agency(agency), person_id))
    return {sid: frozenset(refs) for sid, refs in members.items()}


def _stored_timelines(conn: Connection) -> dict[str, tuple[StoredSegment, ...]]:
    timelines: defaultdict[str, list[StoredSegment]] = defaultdict(list)
    for subject_id, segment in iter_stored_segments(conn):
        timelines[subject_id].append(segment)
    return {sid: tuple(segments) for sid, segments in timelines.items()}


def decision_pass_drafts(conn: Connection, decisions: Decisions, run_id: int) -> list[Draft]:
    """The audit entries of what a pass combines and alters, compared with what is stored.

    Build them inside the transaction that stores the pass, before the stored
    members and segments are replaced: one combination entry per subject whose
    set of two or more records is new, and alteration entries naming the
    subjects whose timeline changed. Nothing is written (and the chain head is
    not locked) until the caller appends them with `AuditLog.record_many`,
    last, just before the commit.
    """
    members = _stored_members(conn)
    timelines = _stored_timelines(conn)
    drafts: list[Draft] = []
    altered: list[str] = []
    combined: list[tuple[tuple[str, ...], frozenset[str]]] = []
    for decision in decisions.subjects:
        refs = frozenset(decision.members)
        if len(refs) >= MIN_COMBINED_RECORDS and members.get(decision.subject_id) != refs:
            entry = (subject_ref(decision.subject_id), *(person_ref(r) for r in sorted(refs)))
            combined.append((entry, frozenset(edge.matched_by for edge in decision.edges)))
        timeline = tuple(
            (s.start, s.end, str(s.owner), s.rule, s.mandatory, s.policy) for s in decision.timeline
        )
        if timelines.get(decision.subject_id) != timeline:
            altered.append(subject_ref(decision.subject_id))
    # One entry per subject: an entry's references are kept sorted, so only an
    # entry of its own says which records were combined into which subject.
    drafts.extend(
        Draft(
            AuditKind.COMBINATION,
            ACTOR_DECIDE,
            "person records linked as one subject",
            refs=refs,
            detail="matched by " + ", ".join(sorted(matched) or ["NONE"]),
        )
        for refs, matched in combined
    )
    drafts.extend(
        Draft(
            AuditKind.ALTERATION,
            ACTOR_DECIDE,
            "ownership timelines decided",
            refs=(f"run:{run_id}", *chunk),
        )
        for chunk in _chunks(altered)
    )
    return drafts


def override_move_drafts(moves: Iterable[OverrideMove], run_id: int) -> list[Draft]:
    """One alteration entry per override moved to the successor of its vanished subject.

    References only: the run, the override and both subjects; the detail says
    which subject is which (references are sorted).
    """
    return [
        Draft(
            AuditKind.ALTERATION,
            ACTOR_DECIDE,
            "manual ownership override moved with its subject's records",
            refs=(
                f"run:{run_id}",
                f"override:{move.override_id}",
                subject_ref(move.from_subject_id),
                subject_ref(move.to_subject_id),
            ),
            detail=f"from subject {move.from_subject_id} to subject {move.to_subject_id}",
        )
        for move in moves
    ]


def audit_report_written(log: AuditLog, written: Path) -> None:
    """Log that the service wrote a report file (the file is the recipient)."""
    audit_file_written(log, ACTOR_REPORT, "duplicate-assessment report written", written)


def audit_file_written(log: AuditLog, actor: str, purpose: str, written: Path) -> None:
    """Log a disclosure to a file: the file is the recipient, and its ref when it has no
    space; the detail holds its SHA-256 and size, so the copy disclosed can be told from
    any other (a fingerprint of the whole file, which names nobody)."""
    name = written.name
    log.record_now(
        kind=AuditKind.DISCLOSURE,
        actor=actor,
        purpose=purpose,
        recipient=f"file {name}"[:MAX_RECIPIENT_CHARS],
        refs=(f"file:{name}",) if name and " " not in name else (),
        detail=file_fingerprint(written),
    )


def file_fingerprint(written: Path) -> str:
    """`sha256 HEX, N bytes` of a file as written."""
    with written.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    return f"sha256 {digest}, {written.stat().st_size} bytes"
