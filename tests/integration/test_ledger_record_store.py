"""Stored record versions read and written through the ledger directly, on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

from sync.app import App
from sync.ledger import schema
from sync.ledger.store import (
    KEYS_PER_QUERY,
    Ledger,
    RecordKey,
    RecordVersion,
    content_digest,
    key_after,
)
from sync.settings import load_settings

pytestmark = pytest.mark.integration

EARLY = "2026-10-01T00:00:00"
LATE = "2026-10-02T00:00:00"
FIRST_RUN, SECOND_RUN = 1, 2


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    app = App(load_settings(database_url=ledger_url))
    yield app.ledger
    app.close()


def _version(
    rid: str, stamp: str, surname: str = "EXAMPLE", agency: str = "probation"
) -> RecordVersion:
    payload = f'{{"surname":"{surname}"}}'.encode()
    return RecordVersion(
        agency=agency,
        rtype="person",
        rid=rid,
        updated_at=stamp,
        deleted=False,
        person_id=rid,
        payload=payload,
        digest=content_digest(payload),
    )


def _tombstone(rid: str, stamp: str) -> RecordVersion:
    return RecordVersion("probation", "person", rid, stamp, True, None, None, content_digest(None))


def _apply(ledger: Ledger, versions: list[RecordVersion], run_id: int) -> None:
    with ledger.engine.begin() as conn:
        ledger.apply_versions(conn, versions, run_id)


def _applied_runs(ledger: Ledger) -> dict[str, int]:
    table = schema.records
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.rid, table.c.applied_run))
        return {rid: int(run) for rid, run in rows}


def test_the_same_version_or_an_older_one_applied_again_changes_nothing(ledger: Ledger) -> None:
    _apply(ledger, [_version("X000001", LATE, "KEPT")], FIRST_RUN)
    again = [_version("X000001", LATE, "KEPT"), _version("X000001", EARLY, "OLDER")]
    _apply(ledger, again, SECOND_RUN)

    assert _applied_runs(ledger) == {"X000001": FIRST_RUN}
    assert ledger.count_applied(SECOND_RUN) == {}
    (stored,) = ledger.iter_current_records()
    assert stored.payload == {"surname": "KEPT"}


def test_a_tie_with_other_content_and_a_later_version_are_applied(ledger: Ledger) -> None:
    _apply(ledger, [_version("X000001", EARLY, "FIRST"), _version("X000002", EARLY)], FIRST_RUN)
    _apply(ledger, [_version("X000001", EARLY, "SECOND")], SECOND_RUN)
    _apply(ledger, [_version("X000002", LATE, "LATER")], SECOND_RUN)

    assert _applied_runs(ledger) == {"X000001": SECOND_RUN, "X000002": SECOND_RUN}
    assert {r.rid: r.payload["surname"] for r in ledger.iter_current_records()} == {
        "X000001": "SECOND",
        "X000002": "LATER",
    }


def test_changes_are_counted_per_agency_for_the_run_that_made_them_only(ledger: Ledger) -> None:
    _apply(ledger, [_version("X000001", EARLY), _version("P-1", EARLY, agency="police")], FIRST_RUN)
    _apply(ledger, [_version("X000002", EARLY), _version("X000003", EARLY)], SECOND_RUN)

    assert ledger.count_applied(FIRST_RUN) == {"probation": 1, "police": 1}
    assert ledger.count_applied(SECOND_RUN) == {"probation": 2}


def test_stored_states_and_the_keys_a_run_deleted(ledger: Ledger) -> None:
    _apply(ledger, [_tombstone("X000001", EARLY), _version("X000002", EARLY)], FIRST_RUN)
    _apply(ledger, [_tombstone("X000003", LATE), _version("X000004", LATE)], SECOND_RUN)
    keys: list[RecordKey] = [("probation", "person", f"X00000{n}") for n in range(1, 6)]

    with ledger.engine.connect() as conn:
        states = ledger.stored_states(conn, keys)
        deleted_now = ledger.keys_deleted_by_run(conn, keys, SECOND_RUN)

    assert states == {
        ("probation", "person", "X000001"): (True, EARLY),
        ("probation", "person", "X000002"): (False, EARLY),
        ("probation", "person", "X000003"): (True, LATE),
        ("probation", "person", "X000004"): (False, LATE),
    }
    assert deleted_now == {("probation", "person", "X000003")}
    assert sorted(r.rid for r in ledger.iter_current_records()) == ["X000002", "X000004"]


def test_more_keys_than_one_query_holds_are_all_looked_up(ledger: Ledger) -> None:
    count = 2 * KEYS_PER_QUERY + 3
    versions = [_version(f"X{n:06d}", EARLY) for n in range(count)]
    _apply(ledger, versions, FIRST_RUN)

    with ledger.engine.connect() as conn:
        states = ledger.stored_states(conn, [v.key for v in versions])
        newer, tied = ledger.newer_and_tied(conn, versions)

    assert len(states) == count
    assert (newer, tied) == ([], [])


def test_key_after_selects_the_rows_that_follow_a_key_in_key_order() -> None:
    metadata = MetaData()
    table = Table(
        "keyed",
        metadata,
        Column("a", String, primary_key=True),
        Column("b", String, primary_key=True),
        Column("c", Integer, primary_key=True),
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    rows = [(a, b, c) for a in "xy" for b in "pq" for c in (1, 2)]
    keys = [table.c.a, table.c.b, table.c.c]
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"a": a, "b": b, "c": c} for a, b, c in rows])
        for position, after in enumerate(rows):
            query = select(*keys).where(key_after(keys, after)).order_by(*keys)
            assert [tuple(row) for row in conn.execute(query)] == rows[position + 1 :]
    engine.dispose()
