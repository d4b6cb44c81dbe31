"""Rejected lines, orphans and warnings as the ledger keeps and lists them, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sync.app import App
from sync.core.consolidate import MERGE_LOOP, MISSING_PERSON
from sync.ledger import schema
from sync.ledger.store import Ledger, RecordVersion, content_digest
from sync.settings import load_settings

pytestmark = pytest.mark.integration

STAMP = "2026-10-01T00:00:00"
MONDAY = datetime(2026, 11, 23, 2, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 24, 2, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 25, 2, tzinfo=UTC)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    app = App(load_settings(database_url=ledger_url))
    yield app.ledger
    app.close()


def _reject(
    fingerprint: str,
    rid: str,
    *,
    agency: str = "probation",
    source: str = "probation.jsonl",
    position: str = "line 2",
    rtype: str = "person",
    record_agency: str | None = None,
) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint,
        "agency": agency,
        "source": source,
        "position": position,
        "record_type": rtype,
        "record_id": rid,
        "record_agency": record_agency,
        "reason": "person.gender: not a known value",
        "raw": b'{"synthetic": true}',
    }


def _store_rejects(ledger: Ledger, rows: list[dict[str, Any]], run_id: int, now: datetime) -> None:
    with ledger.engine.begin() as conn:
        ledger.store_rejects(conn, rows, run_id, now)


def _apply(
    ledger: Ledger,
    rid: str,
    run_id: int,
    *,
    agency: str = "probation",
    deleted: bool = False,
    warnings: tuple[str, ...] = (),
) -> None:
    payload = None if deleted else b'{"surname":"EXAMPLE"}'
    version = RecordVersion(
        agency, "person", rid, STAMP, deleted, None, payload, content_digest(payload), warnings
    )
    with ledger.engine.begin() as conn:
        ledger.apply_versions(conn, [version], run_id)


def _listed(ledger: Ledger) -> list[tuple[Any, ...]]:
    return [
        (r["agency"], r["record_id"], r["source"], r["position"], r["fixed_in_run"])
        for r in ledger.list_rejects()
    ]


def test_a_line_read_again_moves_to_where_it_was_last_read_and_keeps_its_first_time(
    ledger: Ledger,
) -> None:
    _store_rejects(ledger, [_reject("f1", "X000001")], 1, MONDAY)
    moved = _reject("f1", "X000001", source="tuesday.jsonl", position="line 7")
    _store_rejects(ledger, [moved], 2, TUESDAY)

    (row,) = ledger.list_rejects()
    assert (row["source"], row["position"]) == ("tuesday.jsonl", "line 7")
    first_seen = row["first_seen"]
    assert first_seen.replace(tzinfo=first_seen.tzinfo or UTC) == MONDAY


def test_a_line_is_fixed_only_by_a_version_applied_after_the_run_that_last_read_it(
    ledger: Ledger,
) -> None:
    first = [_reject("f1", "X000001"), _reject("f2", "X000002", position="line 3")]
    _store_rejects(ledger, first, 1, MONDAY)
    _apply(ledger, "X000001", 1)  # applied in the run that read the bad line: not a fix
    _apply(ledger, "X000002", 2)  # sent again, corrected, in a later run
    assert _listed(ledger) == [
        ("probation", "X000001", "probation.jsonl", "line 2", None),
        ("probation", "X000002", "probation.jsonl", "line 3", 2),
    ]

    # The bad line read again after the correction stands once more.
    _store_rejects(ledger, [_reject("f2", "X000002", position="line 4")], 3, WEDNESDAY)
    assert _listed(ledger)[1] == ("probation", "X000002", "probation.jsonl", "line 4", None)


def test_a_line_of_the_other_agency_is_fixed_by_that_agencys_own_version(ledger: Ledger) -> None:
    _apply(ledger, "P-1", 1, agency="police")
    other = _reject("f1", "P-1", record_agency="police")
    _store_rejects(ledger, [other], 2, TUESDAY)
    assert _listed(ledger) == [("probation", "P-1", "probation.jsonl", "line 2", 1)]


def test_rejects_are_listed_by_first_seen_then_agency_then_source_and_place(
    ledger: Ledger,
) -> None:
    rows = [
        _reject("f1", "X000001", agency="probation", source="a.jsonl"),
        _reject("f2", "P-1", agency="police", source="z.jsonl", position="line 10"),
        _reject("f3", "P-2", agency="police", source="z.jsonl", position="line 9"),
        _reject("f4", "P-3", agency="police", source="b.jsonl", position="line 50"),
    ]
    _store_rejects(ledger, [_reject("f0", "P-9", agency="police")], 1, TUESDAY)
    _store_rejects(ledger, rows, 1, MONDAY)
    assert [r["record_id"] for r in ledger.list_rejects()] == [
        "P-3",
        "P-2",
        "P-1",
        "X000001",
        "P-9",
    ]


def _orphan(rid: str, missing: str, cause: str = MISSING_PERSON) -> dict[str, Any]:
    return {
        "agency": "probation",
        "rtype": "supervision",
        "rid": rid,
        "missing_person_id": missing,
        "cause": cause,
    }


def test_an_orphans_reason_says_what_became_of_its_person(ledger: Ledger) -> None:
    for rid in ("X000001", "X000002", "X000005"):
        _apply(ledger, rid, 2)
    _apply(ledger, "X000003", 2, deleted=True)
    first = [
        _reject("a1", "X000001"),
        _reject("a2", "X000002"),  # read only before the person was stored: not why
        _reject("a6", "X000006", rtype="supervision"),  # not a person line
    ]
    _store_rejects(ledger, first, 1, MONDAY)
    _store_rejects(ledger, [_reject("a5", "X000005")], 2, TUESDAY)  # the run that stored it
    _store_rejects(ledger, [_reject("a7", "X000001", position="line 9")], 3, WEDNESDAY)
    orphans = [
        _orphan("S-1", "X000001"),
        _orphan("S-2", "X000002"),
        _orphan("S-3", "X000003"),
        _orphan("S-4", "X000004"),
        _orphan("S-5", "X000005"),
        _orphan("S-6", "X000006"),
        _orphan("S-7", "X000001", cause=MERGE_LOOP),
    ]
    with ledger.engine.begin() as conn:
        ledger.replace_rows(schema.orphans, orphans, conn)
    reasons = {row["record_id"]: row["reason"] for row in ledger.list_orphans()}
    rejected = "orphan: refers to a person record whose line was rejected (see its reject)"
    missing = "orphan: refers to a person record that is not in the feed"
    assert reasons == {
        "S-1": rejected,
        "S-2": missing,
        "S-3": "orphan: refers to a person record its agency deleted",
        "S-4": missing,
        "S-5": rejected,
        "S-6": missing,
        "S-7": reasons["S-7"],
    }
    assert reasons["S-7"].startswith("merge not applied: it closes a loop of merges")


def test_warnings_of_a_deleted_record_are_not_listed(ledger: Ledger) -> None:
    _apply(ledger, "X000001", 1, warnings=("person.area: set aside",))
    _apply(ledger, "X000002", 1, deleted=True, warnings=("person.area: set aside",))
    assert [row["record_id"] for row in ledger.list_warnings()] == ["X000001"]
