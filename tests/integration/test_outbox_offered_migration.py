"""Migration 0018 on both databases: batches queued before it count as offered.

A batch that holds an envelope may have reached its gateway before the ledger
recorded offers, so it is taken as offered when it was made (and is sent as
first sealed, as before); a batch kept unsealed was never offered and keeps
no offer. A downgrade drops the column and the upgrade fills it in again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, select

from sync.ledger.migrate import alembic_config, upgrade_to_head
from sync.ledger.moments import as_utc
from tests.conftest import ledger_at_revision

pytestmark = pytest.mark.integration

MADE = datetime(2026, 11, 28, 9, tzinfo=UTC)
LATER = datetime(2026, 11, 29, 9, tzinfo=UTC)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """A ledger at revision 0017."""
    with ledger_at_revision(ledger_url, "0017") as made:
        yield made


def outbox_table(engine: Engine) -> Table:
    return Table("outbox", MetaData(), autoload_with=engine)


def old_batch(digit: str, position: int, envelope: bytes, **columns: Any) -> dict[str, Any]:
    """A probation batch as revision 0017 stored it, made at `MADE`."""
    return {
        "batch_id": digit * 32,
        "agency": "probation",
        "position": position,
        "envelope": envelope,
        "sealed_batch": b"\x01sealed-at-rest",
        "notice_count": 1,
        "created_at": MADE,
        "attempts": 0,
        "next_attempt_at": MADE,
        "delivered_at": None,
        **columns,
    }


def fill(engine: Engine) -> None:
    rows = [
        old_batch("a", 1, b'{"header": {}}', delivered_at=LATER, attempts=1),
        old_batch("b", 2, b'{"header": {}}'),
        old_batch("c", 3, b""),  # kept unsealed while a key was missing
    ]
    with engine.begin() as conn:
        conn.execute(outbox_table(engine).insert(), rows)


def offers(engine: Engine) -> dict[str, datetime | None]:
    table = outbox_table(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.batch_id, table.c.offered_at)).all()
    return {batch_id[0]: None if at is None else as_utc(at) for batch_id, at in rows}


def test_upgrade_takes_every_sealed_batch_as_offered_when_made_and_no_unsealed_one(
    engine: Engine,
) -> None:
    fill(engine)
    upgrade_to_head(engine)
    assert offers(engine) == {"a": MADE, "b": MADE, "c": None}


def test_a_downgrade_to_0017_drops_the_offers_and_the_upgrade_fills_them_in_again(
    engine: Engine,
) -> None:
    fill(engine)
    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "0017")
    assert "offered_at" not in outbox_table(engine).columns
    upgrade_to_head(engine)
    assert offers(engine) == {"a": MADE, "b": MADE, "c": None}
