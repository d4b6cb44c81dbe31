"""Checks found missing by a mutation audit of `AuditLog` on a ledger: `verify` with
anchors, every field of an entry as written, and the inclusive days of an export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from sync.app import App
from sync.audit.chain import AuditKind, Head
from sync.audit.log import AuditLog
from sync.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url))
    yield application
    application.close()


def _fill(log: AuditLog, count: int) -> None:
    for number in range(count):
        log.record_now(
            kind=AuditKind.COLLECTION,
            actor="service:ingest",
            purpose="feed applied",
            refs=(f"run:{number}",),
        )


def test_verify_checks_the_anchors_it_is_given(app: App) -> None:
    """docs/audit.md: `audit verify --anchor SEQ:HASH` checks each anchored entry is
    still in the chain with that hash, and that the log does not end before it."""
    log = AuditLog(app.ledger.engine)
    _fill(log, 3)
    entries = list(log.entries())
    assert log.verify([Head(2, entries[1].hash)]).ok
    mismatch = log.verify([Head(2, "f" * 64)])
    assert (mismatch.ok, mismatch.first_bad) == (False, 2)
    beyond = log.verify([Head(5, entries[2].hash)])
    assert (beyond.ok, beyond.first_bad) == (False, 4)


def test_an_entry_keeps_every_field_it_was_given(app: App) -> None:
    """docs/audit.md, "What an entry holds": kind, actor, purpose, recipient, refs, detail."""
    log = AuditLog(app.ledger.engine, clock=lambda: datetime(2026, 11, 28, 10, 15, 2, tzinfo=UTC))
    log.record_now(
        kind=AuditKind.DISCLOSURE,
        actor="service:exchange",
        purpose="notice batch delivered",
        recipient="probation",
        refs=("record:police/assessment/PA-1", "batch:B-1"),
        detail="batch 1 of 1",
    )
    (entry,) = log.entries()
    assert entry.as_json() | {"prev_hash": None, "hash": None} == {
        "seq": 1,
        "at": "2026-11-28T10:15:02.000000Z",
        "kind": "disclosure",
        "actor": "service:exchange",
        "purpose": "notice batch delivered",
        "recipient": "probation",
        "refs": ["batch:B-1", "record:police/assessment/PA-1"],
        "detail": "batch 1 of 1",
        "prev_hash": None,
        "hash": None,
    }


def test_an_export_includes_entries_at_the_first_moment_of_its_first_day(app: App) -> None:
    """docs/audit.md: `audit export --from DATE --to DATE` takes the UTC days inclusive."""
    moments = iter(
        [
            datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 1, 2, 0, 0, tzinfo=UTC),
            datetime(2026, 1, 2, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 1, 3, 0, 0, tzinfo=UTC),
        ]
    )
    log = AuditLog(app.ledger.engine, clock=lambda: next(moments))
    _fill(log, 4)
    lines = [json.loads(line) for line in log.export_lines(date(2026, 1, 2), date(2026, 1, 2))]
    assert [line["seq"] for line in lines] == [2, 3]
