"""Migrations 0015, 0017 and 0019 on both databases: ids kept before the rule withheld
dates of birth written as digits, NOMS numbers and names beside a date (0015), names
straight after a digit (0017), and one name against a short date or a year (0019), are
forgotten on upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from sync.ledger import schema
from sync.ledger.migrate import upgrade_to_head
from sync.ledger.withheld_ids import CHUNK
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


def _store_rejects(engine: Engine, ids: dict[str, str]) -> None:
    """Store a rejected line for each fingerprint, with its id."""
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
        for number, (key, record_id) in enumerate(ids.items(), 1)
    ]
    with engine.begin() as conn:
        conn.execute(schema.rejects.insert(), rows)


def _stored_ids(engine: Engine) -> dict[str, str | None]:
    table = schema.rejects
    with engine.connect() as conn:
        return dict(conn.execute(select(table.c.fingerprint, table.c.record_id)).all())


def test_ids_that_hold_personal_data_are_forgotten(engine: Engine) -> None:
    _store_rejects(engine, {**KEPT_IDS, **FORGOTTEN_IDS})

    upgrade_to_head(engine)

    assert _stored_ids(engine) == {**KEPT_IDS, **dict.fromkeys(FORGOTTEN_IDS)}


def test_every_withheld_id_is_forgotten_however_many_there_are(engine: Engine) -> None:
    """More withheld ids than one update handles at a time, and kept ids between them."""
    count = 3 * CHUNK + 7
    withheld = {f"w{number:05d}": f"B{number % 10_000:04d}XY" for number in range(count)}
    kept = {f"k{number:05d}": f"PA-{number}" for number in range(count)}
    _store_rejects(engine, {**withheld, **kept})

    upgrade_to_head(engine)

    stored = _stored_ids(engine)
    assert [key for key in withheld if stored[key] is not None] == []
    assert {key: stored[key] for key in kept} == kept


def test_names_straight_after_a_digit_kept_before_0017_are_forgotten(ledger_url: str) -> None:
    """A ledger upgraded past 0015 kept these: its rule read no word glued to a digit."""
    glued = {"g1": "3JOHN.SMITH.120475", "g2": "1SMITH-JOHN-1975"}
    with ledger_at_revision(ledger_url, "0016") as engine:
        _store_rejects(engine, {**KEPT_IDS, **glued})

        upgrade_to_head(engine)

        assert _stored_ids(engine) == {**KEPT_IDS, **dict.fromkeys(glued)}


def test_one_name_against_a_short_date_or_a_year_kept_before_0019_is_forgotten(
    ledger_url: str,
) -> None:
    """A ledger upgraded past 0017 kept these: its rule wanted two names, or a full date."""
    single = {"n1": "SMITH120475", "n2": "SMITH-1975", "n3": "120475SMITH"}
    with ledger_at_revision(ledger_url, "0018") as engine:
        _store_rejects(engine, {**KEPT_IDS, **single})

        upgrade_to_head(engine)

        assert _stored_ids(engine) == {**KEPT_IDS, **dict.fromkeys(single)}
