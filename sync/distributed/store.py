"""Storage for the distributed cycle: staged hand-offs between stages and per-batch record loads.

What one stage hands to the next (the link plan, each batch's decisions) is
staged in `cycle_staging` as JSON sealed with the ledger's payload codec (so it
is encrypted at rest like the records it came from), one row per part, written
by delete and insert inside the task's transaction so a redelivered task
replaces its own output and nothing else. Flags and notices are staged as
plain values and rebuilt into the core's types for `merge_flags` and the
outbox, so the commit stores exactly what the in-process run stores.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, delete, select

from sync.core.consolidate import Orphan
from sync.core.decide import Review
from sync.core.duplicates import Counterpart, Flag, FlagKind
from sync.core.linking import Edge
from sync.core.notices import Notice
from sync.core.policy import Segment
from sync.core.records import Agency, AssessmentStatus, Owner, RecordRef
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.ledger.mark import LedgerMark
from sync.ledger.store import PERSON_TYPE, Ledger, StoredRecord, record_key

PART_LINK = "link"
PART_PLAN = "plan"
PART_RESULT = "result"
PART_SEPARATOR = ":"
IN_LIST_CHUNK = 5_000


def part_name(kind: str, number: int | None = None) -> str:
    """The staging part for a kind (and batch number)."""
    return kind if number is None else f"{kind}{PART_SEPARATOR}{number}"


def _aad(cycle_id: int, part: str) -> str:
    return f"cycle/{cycle_id}/{part}"


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def put_staged(conn: Connection, ledger: Ledger, cycle_id: int, part: str, value: Any) -> None:
    """Replace one staged part of a cycle (inside the caller's transaction)."""
    table = tables.cycle_staging
    data = json.dumps(value, separators=(",", ":"), default=_json_default).encode()
    payload = ledger.codec.encode(_aad(cycle_id, part), data)
    conn.execute(delete(table).where(table.c.cycle_id == cycle_id, table.c.part == part))
    conn.execute(table.insert().values(cycle_id=cycle_id, part=part, payload=payload))


def get_staged(conn: Connection, ledger: Ledger, cycle_id: int, part: str) -> Any:
    """One staged part of a cycle, decoded."""
    table = tables.cycle_staging
    payload = conn.execute(
        select(table.c.payload).where(table.c.cycle_id == cycle_id, table.c.part == part)
    ).scalar_one()
    return json.loads(ledger.codec.decode(_aad(cycle_id, part), bytes(payload)))


def iter_staged(conn: Connection, ledger: Ledger, cycle_id: int, kind: str) -> Iterator[Any]:
    """Every staged part of one kind (`result:0`, `result:1`, …) in batch order."""
    table = tables.cycle_staging
    prefix = kind + PART_SEPARATOR
    parts = conn.execute(
        select(table.c.part).where(table.c.cycle_id == cycle_id, table.c.part.startswith(prefix))
    ).scalars()
    for part in sorted(parts, key=lambda name: int(name.rsplit(PART_SEPARATOR, 1)[1])):
        yield get_staged(conn, ledger, cycle_id, part)


def clear_staging(conn: Connection, cycle_id: int) -> int:
    """Drop a finished or abandoned cycle's staged parts; return how many there were."""
    table = tables.cycle_staging
    return int(conn.execute(delete(table).where(table.c.cycle_id == cycle_id)).rowcount)


# -- records of one batch ----------------------------------------------------
def load_batch_records(
    ledger: Ledger, persons: Iterable[RecordRef], owners: Iterable[RecordRef]
) -> list[StoredRecord]:
    """Current person records `persons` and every dependent record pointing at `owners`."""
    table = schema.records
    wanted_persons = _ids_by_agency(persons)
    wanted_owners = _ids_by_agency(owners)
    conditions = []
    for agency, ids in wanted_persons.items():
        for chunk in _chunks(ids):
            conditions.append(
                and_(table.c.agency == agency, table.c.rtype == PERSON_TYPE, table.c.rid.in_(chunk))
            )
    for agency, ids in wanted_owners.items():
        for chunk in _chunks(ids):
            conditions.append(
                and_(
                    table.c.agency == agency,
                    table.c.rtype != PERSON_TYPE,
                    table.c.person_id.in_(chunk),
                )
            )
    columns = (table.c.agency, table.c.rtype, table.c.rid, table.c.payload)
    found: list[StoredRecord] = []
    decode = ledger.codec.decode
    with ledger.engine.connect() as conn:
        for condition in conditions:
            rows = conn.execute(select(*columns).where(table.c.deleted.is_(False), condition))
            for agency, rtype, rid, payload in rows:
                data = json.loads(decode(record_key(agency, rtype, rid), bytes(payload)))
                found.append(StoredRecord(agency, rtype, rid, data))
    return found


def _ids_by_agency(refs: Iterable[RecordRef]) -> dict[str, list[str]]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for ref in refs:
        grouped[str(ref.agency)].add(ref.person_id)
    return {agency: sorted(ids) for agency, ids in sorted(grouped.items())}


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), IN_LIST_CHUNK):
        yield ids[start : start + IN_LIST_CHUNK]


# -- flags, notices and segments as staged values ----------------------------
def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def flag_to_value(flag: Flag) -> dict[str, Any]:
    """A flag as a JSON-ready value that `flag_from_value` turns back into the same flag."""
    counterpart = flag.counterpart
    return {
        "kind": flag.kind.value,
        "subject_id": flag.subject_id,
        "agency": None if flag.agency is None else flag.agency.value,
        "assessment_id": flag.assessment_id,
        "person_ids": list(flag.person_ids),
        "reference_date": _iso(flag.reference_date),
        "owner": None
        if flag.owner_at_reference_date is None
        else flag.owner_at_reference_date.value,
        "rule": flag.rule_at_reference_date,
        "rule_told": flag.rule_told,
        "counterpart": None
        if counterpart is None
        else [
            counterpart.agency.value,
            counterpart.assessment_id,
            counterpart.reference_date.isoformat(),
        ],
        "redundant": flag.redundant,
        "area": flag.area,
        "status": None if flag.assessment_status is None else flag.assessment_status.value,
    }


def flag_from_value(value: dict[str, Any]) -> Flag:
    """The flag a staged value describes."""
    counterpart = value["counterpart"]
    return Flag(
        kind=FlagKind(value["kind"]),
        subject_id=value["subject_id"],
        agency=None if value["agency"] is None else Agency(value["agency"]),
        assessment_id=value["assessment_id"],
        person_ids=tuple(value["person_ids"]),
        reference_date=_day(value["reference_date"]),
        owner_at_reference_date=None if value["owner"] is None else Owner(value["owner"]),
        rule_at_reference_date=value["rule"],
        # A value staged before the told rule was kept has none: the commit stores none,
        # and the next pass stores it.
        rule_told=value.get("rule_told"),
        counterpart=None
        if counterpart is None
        else Counterpart(
            Agency(counterpart[0]), counterpart[1], date.fromisoformat(counterpart[2])
        ),
        redundant=value["redundant"],
        area=value["area"],
        assessment_status=None if value["status"] is None else AssessmentStatus(value["status"]),
    )


def notice_to_value(notice: Notice) -> dict[str, Any]:
    """A notice as a JSON-ready value."""
    return {
        "agency": notice.agency.value,
        "key": notice.key,
        "kind": notice.kind,
        "subject_id": notice.subject_id,
        "body": notice.body,
    }


def notice_from_value(value: dict[str, Any]) -> Notice:
    """The notice a staged value describes."""
    return Notice(
        Agency(value["agency"]), value["key"], value["kind"], value["subject_id"], value["body"]
    )


def ref_value(ref: RecordRef) -> list[str]:
    """A record reference as a JSON-ready pair."""
    return [str(ref.agency), ref.person_id]


def ref_from_value(value: Sequence[str]) -> RecordRef:
    """The record reference a staged pair names."""
    return RecordRef(Agency(value[0]), value[1])


def edge_to_value(edge: Edge) -> list[Any]:
    """A link between two records as a JSON-ready value."""
    return [ref_value(edge.a), ref_value(edge.b), edge.matched_by, edge.weight]


def edge_from_value(value: Sequence[Any]) -> Edge:
    """The link a staged value describes."""
    return Edge(ref_from_value(value[0]), ref_from_value(value[1]), value[2], value[3])


def segment_to_value(segment: Segment) -> list[Any]:
    """A timeline segment as a JSON-ready value."""
    return [
        _iso(segment.start),
        _iso(segment.end),
        segment.owner.value,
        segment.rule,
        segment.mandatory,
        segment.policy,
    ]


def segment_from_value(value: Sequence[Any]) -> Segment:
    """The timeline segment a staged value describes."""
    return Segment(_day(value[0]), _day(value[1]), Owner(value[2]), value[3], value[4], value[5])


def orphan_to_value(orphan: Orphan) -> list[str]:
    """An orphaned record as a JSON-ready value."""
    return [
        str(orphan.agency),
        orphan.record_type,
        orphan.record_id,
        orphan.missing_person_id,
        orphan.cause,
    ]


def orphan_from_value(value: Sequence[str]) -> Orphan:
    """The orphan a staged value describes."""
    return Orphan(Agency(value[0]), value[1], value[2], value[3], value[4])


def review_to_value(review: Review) -> list[Any]:
    """A pair for link review as a JSON-ready value."""
    return [ref_value(review.a), ref_value(review.b), review.weight, review.reason]


def review_from_value(value: Sequence[Any]) -> Review:
    """The review a staged value describes."""
    return Review(ref_from_value(value[0]), ref_from_value(value[1]), value[2], value[3])


def mark_to_value(mark: LedgerMark) -> dict[str, Any]:
    """The ledger's mark as staged."""
    return asdict(mark)


def mark_from_value(value: Mapping[str, Any]) -> LedgerMark:
    """A staged ledger mark."""
    return LedgerMark(**value)
