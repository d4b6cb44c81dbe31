"""Exports as `cli.md` fixes them: ownership, timeline and links, one JSON line per subject.

Lines are sorted by subject id and every list inside them is sorted, so the
same ledger content always gives byte-identical output. A subject's records
come probation first, then police (each by person reference), as `cli.md`
shows them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from sync.ledger import schema
from sync.ledger.segments import iter_stored_segments
from sync.ledger.store import Ledger


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


# The order of a subject's records in every export: the agencies as `cli.md`'s
# example lists them, then the person reference.
_AGENCY_ORDER = {"probation": 0, "police": 1}


def _record_order(agency: str, person_id: str) -> tuple[int, str, str]:
    return (_AGENCY_ORDER.get(agency, len(_AGENCY_ORDER)), agency, person_id)


def _records_by_subject(ledger: Ledger) -> dict[str, list[dict[str, str]]]:
    table = schema.subject_members
    records: dict[str, list[dict[str, str]]] = defaultdict(list)
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.subject_id, table.c.agency, table.c.person_id)
            .where(table.c.merged_into.is_(None))
            .order_by(table.c.subject_id, table.c.agency, table.c.person_id)
        )
        for subject_id, agency, person_id in rows:
            records[subject_id].append({"agency": agency, "person_id": person_id})
    for listed in records.values():
        listed.sort(key=lambda record: _record_order(record["agency"], record["person_id"]))
    return records


def _segments_by_subject(ledger: Ledger) -> dict[str, list[dict[str, Any]]]:
    segments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with ledger.engine.connect() as conn:
        for subject_id, (start, end, owner, rule, mandatory, policy) in iter_stored_segments(conn):
            segments[subject_id].append(
                {
                    "from": _iso(start),
                    "to": _iso(end),
                    "owner": owner,
                    "rule": rule,
                    "mandatory": mandatory,
                    "policy": policy,
                }
            )
    return segments


def _covers(segment: dict[str, Any], day: str) -> bool:
    return (segment["from"] is None or segment["from"] <= day) and (
        segment["to"] is None or day <= segment["to"]
    )


def export_ownership(ledger: Ledger, as_of: date) -> Iterator[str]:
    """One line per subject: the segment covering `as_of`."""
    records = _records_by_subject(ledger)
    day = as_of.isoformat()
    for subject_id, segments in sorted(_segments_by_subject(ledger).items()):
        segment = next(s for s in segments if _covers(s, day))
        yield _dump(
            {
                "subject_id": subject_id,
                "records": records.get(subject_id, []),
                "owner": segment["owner"],
                "rule": segment["rule"],
                "mandatory": segment["mandatory"],
                "from": segment["from"],
                "to": segment["to"],
                "policy": segment["policy"],
            }
        )


def export_timeline(ledger: Ledger) -> Iterator[str]:
    """One line per subject with all its segments."""
    records = _records_by_subject(ledger)
    for subject_id, segments in sorted(_segments_by_subject(ledger).items()):
        yield _dump(
            {"subject_id": subject_id, "records": records.get(subject_id, []), "segments": segments}
        )


def export_links(ledger: Ledger) -> Iterator[str]:
    """One line per subject: its records, how each joined, and the links between them."""
    with ledger.engine.connect() as conn:
        records = _members_by_subject(conn)
        edges = _links_by_subject(conn)
    for subject_id in sorted(records):
        yield _dump(
            {"subject_id": subject_id, "records": records[subject_id], "links": edges[subject_id]}
        )


def _members_by_subject(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Each subject's person records, in record order, with how each joined."""
    members = schema.subject_members
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(
        select(members).order_by(members.c.subject_id, members.c.agency, members.c.person_id)
    ):
        records[row.subject_id].append(
            {
                "agency": row.agency,
                "person_id": row.person_id,
                "matched_by": row.matched_by,
                "weight": row.weight,
                "merged_into": row.merged_into,
            }
        )
    for listed in records.values():
        listed.sort(key=lambda record: _record_order(record["agency"], record["person_id"]))
    return records


def _links_by_subject(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Each subject's links between its records, in a fixed order."""
    links = schema.links
    edges: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(
        select(links).order_by(
            links.c.subject_id,
            links.c.a_agency,
            links.c.a_person_id,
            links.c.b_agency,
            links.c.b_person_id,
        )
    ):
        edges[row.subject_id].append(
            {
                "a": {"agency": row.a_agency, "person_id": row.a_person_id},
                "b": {"agency": row.b_agency, "person_id": row.b_person_id},
                "matched_by": row.matched_by,
                "weight": row.weight,
            }
        )
    return edges
