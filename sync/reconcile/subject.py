"""Everything an operator sees about one subject: both agencies' person records side by
side, the records the timeline was decided from (supervisions, custodies,
registrations) and its assessments, the ownership timeline, flags with their state,
and the history of manual acts (an override that followed its subject's records here
shows where it came from).

This is a consultation of personal data shown to an operator on a terminal;
the caller logs it in the audit log by reference only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from sync.audit.pipeline_hooks import ACTOR_DECIDE
from sync.core.records import Agency, RecordRef
from sync.ledger import schema
from sync.ledger.codec import CipherCodec, field_key
from sync.ledger.flag_states import flag_state, latest_acts
from sync.ledger.moments import as_utc
from sync.ledger.override_moves import subject_records
from sync.ledger.store import Ledger, record_key
from sync.ledger.tables_manual import flag_acts, manual_links
from sync.reconcile.acts import require_subject

MOVE_ACT = "move"
MOVE_REASON = "the subject's records joined another subject"
PERSON_FIELDS = (
    "surname",
    "forenames",
    "date_of_birth",
    "gender",
    "area",
    "pnc",
    "cro",
    "noms",
)


# What `reconcile show` prints of each record about a person, by type (feed-v1 fields).
FACT_FIELDS = {
    "supervision": ("kind", "offence", "start", "end", "terminated_on"),
    "custody": ("start", "end"),
    "registration": ("start", "end"),
    "assessment": ("status", "started_on", "completed_on"),
}


@dataclass(frozen=True, slots=True)
class SubjectFact:
    """One record about one of the subject's persons: a period or an assessment."""

    person: RecordRef
    rtype: str
    rid: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One manual act touching the subject."""

    at: datetime
    act: str
    act_id: str
    operator: str
    reason: str
    detail: str


@dataclass
class SubjectReport:
    """The subject as `reconcile show` prints it."""

    subject_id: str
    records: list[RecordRef] = field(default_factory=list)
    persons: dict[RecordRef, dict[str, str]] = field(default_factory=dict)
    # Records their agency merged into another of its records: the id each was merged into.
    merged_into: dict[RecordRef, str] = field(default_factory=dict)
    facts: list[SubjectFact] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    history: list[HistoryEvent] = field(default_factory=list)


def _persons(
    conn: Connection, ledger: Ledger, refs: Sequence[RecordRef]
) -> dict[RecordRef, dict[str, str]]:
    table = schema.records
    result: dict[RecordRef, dict[str, str]] = {}
    for ref in refs:
        row = conn.execute(
            select(table.c.payload).where(
                table.c.agency == str(ref.agency),
                table.c.rtype == "person",
                table.c.rid == ref.person_id,
                table.c.deleted.is_(False),
            )
        ).first()
        if row is None or row.payload is None:
            continue
        data = _record_data(ledger, str(ref.agency), "person", ref.person_id, row.payload)
        result[ref] = {
            name: "" if data.get(name) is None else str(data[name]) for name in PERSON_FIELDS
        }
    return result


def _merged_into(conn: Connection, subject_id: str) -> dict[RecordRef, str]:
    """The subject's records their agency merged into another: the id each now means."""
    table = schema.subject_members
    rows = conn.execute(
        select(table.c.agency, table.c.person_id, table.c.merged_into).where(
            table.c.subject_id == subject_id, table.c.merged_into.is_not(None)
        )
    )
    return {RecordRef(Agency(agency), person_id): str(into) for agency, person_id, into in rows}


def _facts(conn: Connection, ledger: Ledger, refs: Sequence[RecordRef]) -> list[SubjectFact]:
    """The periods and assessments the agencies hold about the subject's person records
    (references an agency merged into another are members too), by person, type and
    start. Records the agency deleted are left out."""
    table = schema.records
    facts: list[SubjectFact] = []
    for agency in sorted({ref.agency for ref in refs}):
        ids = sorted(ref.person_id for ref in refs if ref.agency == agency)
        rows = conn.execute(
            select(table.c.rtype, table.c.rid, table.c.person_id, table.c.payload).where(
                table.c.agency == str(agency),
                table.c.rtype.in_(sorted(FACT_FIELDS)),
                table.c.person_id.in_(ids),
                table.c.deleted.is_(False),
            )
        )
        for rtype, rid, person_id, payload in rows:
            if payload is None:
                continue
            data = _record_data(ledger, str(agency), rtype, rid, payload)
            shown = {name: str(data[name]) for name in FACT_FIELDS[rtype] if data.get(name)}
            facts.append(SubjectFact(RecordRef(agency, person_id), rtype, rid, shown))
    return sorted(facts, key=_fact_order)


def _record_data(ledger: Ledger, agency: str, rtype: str, rid: str, payload: bytes) -> Any:
    """A stored record's fields, its payload decrypted under its own record key."""
    return json.loads(ledger.codec.decode(record_key(agency, rtype, rid), payload))


def _fact_order(fact: SubjectFact) -> tuple[RecordRef, int, str, str]:
    start = fact.fields.get("start") or fact.fields.get("started_on") or ""
    return (fact.person, list(FACT_FIELDS).index(fact.rtype), start, fact.rid)


def _timeline(conn: Connection, subject_id: str) -> list[dict[str, Any]]:
    table = schema.segments
    rows = conn.execute(
        select(table).where(table.c.subject_id == subject_id).order_by(table.c.position)
    )
    return [
        {
            "from": row.start,
            "to": row.end,
            "owner": row.owner,
            "rule": row.rule,
            "mandatory": bool(row.mandatory),
        }
        for row in rows
    ]


def _flags(conn: Connection, subject_id: str) -> list[dict[str, Any]]:
    table = schema.flags
    rows = conn.execute(
        select(table)
        .where(table.c.subject_id == subject_id)
        .order_by(table.c.first_seen, table.c.key)
    ).all()
    acts = latest_acts(conn, [row.key for row in rows])
    return [
        {
            "key": row.key,
            "kind": row.kind,
            "state": flag_state(row._mapping, acts.get(row.key)),
            "first_seen": as_utc(row.first_seen),
        }
        for row in rows
    ]


def _reason(codec: CipherCodec, table: str, row_key: object, stored: str | None) -> str:
    """A stored reason, decrypted for display ("" when there is none)."""
    key = field_key(table, str(row_key), "reason")
    return codec.decode_optional_text(key, stored) or ""


def _override_events(conn: Connection, codec: CipherCodec, subject_id: str) -> list[HistoryEvent]:
    table = schema.overrides
    events: list[HistoryEvent] = []
    rows = conn.execute(select(table).where(table.c.subject_id == subject_id)).all()
    for row in rows:
        until = row.end.isoformat() if row.end else "open"
        detail = f"owner {row.owner} from {row.start.isoformat()} to {until}"
        reason = _reason(codec, table.name, row.id, row.reason)
        events.append(
            HistoryEvent(as_utc(row.created_at), "assign", row.id, row.operator, reason, detail)
        )
        if row.revoked_at is not None:
            revoke_key = field_key(table.name, row.id, "revoke_reason")
            events.append(
                HistoryEvent(
                    as_utc(row.revoked_at),
                    "revoke",
                    row.id,
                    row.revoked_by or "",
                    codec.decode_optional_text(revoke_key, row.revoke_reason) or "",
                    detail,
                )
            )
    return [*events, *_move_events(conn, [row.id for row in rows])]


def _move_events(conn: Connection, override_ids: Sequence[str]) -> list[HistoryEvent]:
    """Each time one of the overrides followed its subject's records to another subject."""
    if not override_ids:
        return []
    table = schema.override_moves
    rows = conn.execute(select(table).where(table.c.override_id.in_(sorted(override_ids))))
    return [
        HistoryEvent(
            as_utc(row.moved_at),
            MOVE_ACT,
            row.override_id,
            ACTOR_DECIDE,
            MOVE_REASON,
            f"from subject {row.from_subject_id} to subject {row.to_subject_id}",
        )
        for row in rows
    ]


def _link_events(
    conn: Connection, codec: CipherCodec, refs: Sequence[RecordRef]
) -> list[HistoryEvent]:
    table = manual_links
    if not refs:
        return []
    ends = [
        and_(
            table.c[f"{side}_agency"] == str(ref.agency),
            table.c[f"{side}_person_id"] == ref.person_id,
        )
        for ref in refs
        for side in ("a", "b")
    ]
    return [
        HistoryEvent(
            as_utc(row.created_at),
            row.action,
            row.id,
            row.operator,
            _reason(codec, table.name, row.id, row.reason),
            f"{row.a_agency}:{row.a_person_id} and {row.b_agency}:{row.b_person_id}",
        )
        for row in conn.execute(select(table).where(or_(*ends)))
    ]


def _flag_events(
    conn: Connection, codec: CipherCodec, flag_keys: Sequence[str]
) -> list[HistoryEvent]:
    if not flag_keys:
        return []
    rows = conn.execute(select(flag_acts).where(flag_acts.c.flag_key.in_(sorted(flag_keys))))
    return [
        HistoryEvent(
            as_utc(row.created_at),
            row.action,
            str(row.id),
            row.operator,
            _reason(codec, flag_acts.name, row.id, row.reason),
            row.flag_key,
        )
        for row in rows
    ]


def subject_report(ledger: Ledger, subject_id: str) -> SubjectReport:
    """Gather one subject for display; refuses an unknown subject."""
    with ledger.engine.connect() as conn:
        require_subject(conn, subject_id)
        report = SubjectReport(subject_id)
        report.records = list(subject_records(conn, subject_id))
        report.persons = _persons(conn, ledger, report.records)
        report.merged_into = _merged_into(conn, subject_id)
        report.facts = _facts(conn, ledger, report.records)
        report.timeline = _timeline(conn, subject_id)
        report.flags = _flags(conn, subject_id)
        history = [
            *_override_events(conn, ledger.codec, subject_id),
            *_link_events(conn, ledger.codec, report.records),
            *_flag_events(conn, ledger.codec, [flag["key"] for flag in report.flags]),
        ]
    report.history = sorted(history, key=lambda event: (event.at, event.act_id))
    return report
