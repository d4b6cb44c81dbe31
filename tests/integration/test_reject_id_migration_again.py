"""Migration 0015 on both databases: ids kept before the rule withheld dates of birth
written as digits, NOMS numbers and names beside a date are forgotten on upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from sync.ledger import schema
from sync.ledger.migrate import upgrade_to_head
from tests.conftest import ledger_at_revision

pytestmark = pytest.mark.integration

KEPT_IDS = {"k1": "PA-9", "k2": "X123456", "k3": "RAS00042127", "k4": "LAN-88123"}
FORGOTTEN_IDS = {
    "k5": "19750412",
    "k6": "JSMITH12041975",
    "k7": "JOHN.SMITH.120475",
    "k8": "SMITH-JOHN-1975",
    "k9": "A1234BC",
}


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """A ledger at revision 0014."""
    with ledger_at_revision(ledger_url, "0014") as made:
        yield made


def test_ids_that_hold_personal_data_are_forgotten(engine: Engine) -> None:
    rows = [
        {
            "fingerprint": key,
            "agency": "probation",
            "source": "feed.jsonl",
            "position": f"line {number}",
            "record_type": "assessment",
            "record_id": record_id,
            "reason": "assessment.status: not a known value",
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
