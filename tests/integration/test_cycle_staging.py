"""A distributed cycle's staged parts are bound to their cycle and part.

Each part is sealed with the ledger's at-rest key under "cycle/ID/PART", so
a part copied into another cycle's rows, or under another part's name (a
stale link plan put where the next cycle's plan belongs), is refused instead
of being decided on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from sync.app import App
from sync.distributed.store import PART_LINK, PART_PLAN, get_staged, part_name, put_staged
from sync.errors import CryptoError
from sync.ledger import tables_cycle
from sync.settings import load_settings

pytestmark = pytest.mark.integration

PLAN = {"batches": [["probation/X000001", "police/LAN-1"]], "note": "synthetic"}


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(load_settings(database_url=ledger_url))
    yield application
    application.close()


def _copy_payload(app: App, source: tuple[int, str], targets: list[tuple[int, str]]) -> None:
    table = tables_cycle.cycle_staging
    with app.ledger.engine.begin() as conn:
        payload = conn.execute(
            select(table.c.payload).where(table.c.cycle_id == source[0], table.c.part == source[1])
        ).scalar_one()
        for cycle_id, part in targets:
            conn.execute(table.insert().values(cycle_id=cycle_id, part=part, payload=payload))


def test_a_staged_part_reads_back_only_where_it_was_staged(app: App) -> None:
    with app.ledger.engine.begin() as conn:
        put_staged(conn, app.ledger, 1, PART_PLAN, PLAN)
    moved = [(2, PART_PLAN), (1, PART_LINK), (1, part_name("result", 0))]
    _copy_payload(app, (1, PART_PLAN), moved)

    with app.ledger.engine.connect() as conn:
        assert get_staged(conn, app.ledger, 1, PART_PLAN) == PLAN
        for cycle_id, part in moved:
            with pytest.raises(CryptoError, match="moved to another record"):
                get_staged(conn, app.ledger, cycle_id, part)


def test_the_stored_part_holds_no_plaintext(app: App) -> None:
    with app.ledger.engine.begin() as conn:
        put_staged(conn, app.ledger, 3, PART_PLAN, PLAN)
    table = tables_cycle.cycle_staging
    with app.ledger.engine.connect() as conn:
        payload = bytes(conn.execute(select(table.c.payload)).scalar_one())

    assert b"X000001" not in payload
    assert b"synthetic" not in payload
