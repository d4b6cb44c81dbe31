"""Migration 0007 on both databases: ids of rejected lines that may be personal data
are forgotten in a ledger upgraded in place; ids that look like ids are kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from sync.ledger import schema
from sync.ledger.migrate import upgrade_to_head
from tests.conftest import ledger_at_revision

pytestmark = pytest.mark.integration

KEPT_IDS = {"k1": "PA-1", "k2": "X12345", "k3": "RAS00042127"}
FORGOTTEN_IDS = {"k4": "ELLIS", "k5": "1972-03-20", "k6": "2001/0000123Z", "k7": "20010000123Z"}


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """A ledger at revision 0006."""
    with ledger_at_revision(ledger_url, "0006") as made:
        yield made


def test_ids_that_may_be_personal_data_are_forgotten(engine: Engine) -> None:
    rows = [
        {
            "fingerprint": key,
            "agency": "probation",
            "source": "feed.jsonl",
            "position": f"line {number}",
            "record_type": "person",
            "record_id": record_id,
            "reason": "person.surname: must be text of 1 to 200 characters",
            "raw": b"stored encrypted",
            "first_seen": datetime(2026, 11, 28, 9, tzinfo=UTC),
            "last_seen_run": 1,
        }
        for number, (key, record_id) in enumerate({**KEPT_IDS, **FORGOTTEN_IDS}.items(), 1)
    ]
    with engine.begin() as conn:
        conn.execute(schema.rejects.insert(), rows)

    upgrade_to_head(engine)

    table = schema.rejects
    with engine.connect() as conn:
        kept = dict(conn.execute(select(table.c.fingerprint, table.c.record_id)).all())
    assert kept == {**KEPT_IDS, **dict.fromkeys(FORGOTTEN_IDS)}
