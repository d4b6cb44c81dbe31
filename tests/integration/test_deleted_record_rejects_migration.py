"""Migration 0014 on both databases: the rejected lines of records already deleted
lose their content in a ledger upgraded in place, keeping the mark `rejects` showed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from sync.ledger import schema
from sync.ledger.migrate import upgrade_to_head
from tests.conftest import ledger_at_revision

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """A ledger at revision 0013."""
    with ledger_at_revision(ledger_url, "0013") as made:
        yield made


def _record(rid: str, *, deleted: bool, applied_run: int) -> dict[str, object]:
    return {
        "agency": "probation",
        "rtype": "person",
        "rid": rid,
        "updated_at": "2026-11-01T09:00:00",
        "deleted": deleted,
        "person_id": None,
        "digest": "deleted" if deleted else "k0",
        "payload": None if deleted else b"stored encrypted",
        "warnings": None,
        "applied_run": applied_run,
    }


def _reject(key: str, rid: str, last_seen_run: int) -> dict[str, object]:
    return {
        "fingerprint": key,
        "agency": "probation",
        "source": "feed.jsonl",
        "position": "line 1",
        "record_type": "person",
        "record_id": rid,
        "reason": "person.date_of_birth: must be a date in the form YYYY-MM-DD",
        "raw": b"stored encrypted",
        "first_seen": datetime(2026, 11, 28, 9, tzinfo=UTC),
        "last_seen_run": last_seen_run,
    }


def upgraded_rejects(
    engine: Engine, records: list[dict[str, Any]], rejects: list[dict[str, Any]]
) -> list[Any]:
    """Store the records and rejected lines, upgrade to the head; the rejected lines then."""
    with engine.begin() as conn:
        conn.execute(schema.records.insert(), records)
        conn.execute(schema.rejects.insert(), rejects)
    upgrade_to_head(engine)
    table = schema.rejects
    with engine.connect() as conn:
        query = select(table.c.fingerprint, table.c.raw, table.c.fixed_run, table.c.reason)
        return list(conn.execute(query).all())


def test_rejected_lines_of_deleted_records_lose_their_content(engine: Engine) -> None:
    records = [
        _record("B123456", deleted=True, applied_run=3),
        _record("C123456", deleted=True, applied_run=3),
        _record("D123456", deleted=False, applied_run=2),
    ]
    rejects = [
        _reject("k1", "B123456", 1),  # deleted after it was read: settled by the deletion
        _reject("k2", "C123456", 3),  # read in the deletion's run: stands
        _reject("k3", "D123456", 1),  # a live record: kept as it was
    ]
    rows = upgraded_rejects(engine, records, rejects)
    kept = {row.fingerprint: (row.raw is not None, row.fixed_run) for row in rows}
    assert kept == {"k1": (False, 3), "k2": (False, None), "k3": (True, None)}
    assert {row.reason for row in rows} == {rejects[0]["reason"]}


def test_lines_of_a_deleted_record_in_the_other_agencys_feed_lose_their_content(
    engine: Engine,
) -> None:
    """A line the police feed carried of a probation record is that record's line too; it is
    settled by the run that applied the record's version, whenever that was."""
    records = [_record("B123456", deleted=True, applied_run=3)]
    misplaced = [
        {**_reject(key, "B123456", last_seen), "agency": "police", "record_agency": "probation"}
        for key, last_seen in (("k1", 1), ("k2", 4))
    ]
    rows = upgraded_rejects(engine, records, misplaced)
    assert {row.fingerprint: (row.raw is not None, row.fixed_run) for row in rows} == {
        "k1": (False, 3),
        "k2": (False, 3),
    }
