"""An erasure is audited once, when a deletion erases content the ledger held."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.audit.tables import audit_log
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.settings import Settings
from tests.feed_records import completed_assessment, person, write_feeds

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
HELD = completed_assessment("police", "PA-1", "GMP-1", "2025-05-10")
REF = "record:police/assessment/PA-1"


def _deletion(record_id: str, stamp: str) -> dict[str, object]:
    return {
        "type": "assessment",
        "agency": "police",
        "id": record_id,
        "deleted": True,
        "updated_at": stamp,
    }


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url))
    yield application
    application.close()


def _run(app: App, folder: Path, police: list[dict[str, object]]) -> None:
    probation, police_feed = write_feeds(folder, [], [person("police", "GMP-1"), *police])
    sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police_feed)}
    run_cycle(app, sources, AS_OF)


def _erasures(app: App) -> list[list[str]]:
    query = select(audit_log.c.refs).where(audit_log.c.kind == "erasure").order_by(audit_log.c.seq)
    with app.ledger.engine.connect() as conn:
        return [
            [ref for ref in json.loads(refs) if ref.startswith("record:")]
            for refs in conn.execute(query).scalars()
        ]


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_only_a_deletion_that_erases_held_content_is_audited(app: App, tmp_path: Path) -> None:
    _run(app, tmp_path, [HELD, _deletion("NEVER-HELD", "2026-02-01T00:00:00Z")])
    assert _erasures(app) == []  # nothing held was erased

    _run(app, tmp_path, [HELD, _deletion("PA-1", "2025-12-01T00:00:00Z")])
    assert _erasures(app) == []  # older than what is held: not applied

    _run(app, tmp_path, [HELD, _deletion("PA-1", "2026-02-01T00:00:00Z")])
    assert _erasures(app) == [[REF]]

    _run(app, tmp_path, [HELD, _deletion("PA-1", "2026-02-01T00:00:00Z")])
    assert _erasures(app) == [[REF]]  # read again: nothing more erased


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_a_record_sent_and_deleted_in_one_file_is_audited_as_erased_once(
    app: App, tmp_path: Path
) -> None:
    _run(app, tmp_path, [HELD, _deletion("PA-1", "2026-02-01T00:00:00Z")])
    assert _erasures(app) == [[REF]]

    _run(app, tmp_path, [HELD, _deletion("PA-1", "2026-02-01T00:00:00Z")])
    assert _erasures(app) == [[REF]]  # read again: nothing more erased


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_a_deletion_tied_with_its_content_in_another_batch_is_erased_once(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read again, the earlier tied line must not bring the content back to erase it anew."""
    monkeypatch.setattr("sync.ingest.INGEST_BATCH", 2)  # the content and its deletion apart
    stamp = "2026-02-01T00:00:00Z"
    tied = [completed_assessment("police", "PA-1", "GMP-1", "2025-05-10", updated_at=stamp)]
    _run(app, tmp_path, [*tied, _deletion("PA-1", stamp)])
    assert _erasures(app) == [[REF]]

    _run(app, tmp_path, [*tied, _deletion("PA-1", stamp)])
    assert _erasures(app) == [[REF]]  # read again: nothing more erased


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_a_deletion_sent_alone_erases_what_an_earlier_run_stored(app: App, tmp_path: Path) -> None:
    _run(app, tmp_path, [HELD])
    assert _erasures(app) == []
    _run(app, tmp_path, [_deletion("PA-1", "2026-02-01T00:00:00Z")])
    assert _erasures(app) == [[REF]]
    _run(app, tmp_path, [_deletion("PA-1", "2026-03-01T00:00:00Z")])
    assert _erasures(app) == [[REF]]  # a newer deletion of a tombstone erases nothing


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_a_units_erasures_are_audited_in_record_order_in_entries_of_bounded_size(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deletions spread over batches, out of order: one sorted list, cut into full entries."""
    monkeypatch.setattr("sync.ingest.INGEST_BATCH", 2)
    monkeypatch.setattr("sync.audit.pipeline_hooks.REFS_PER_ENTRY", 2)
    numbers = (5, 3, 1, 4, 2)
    held = [completed_assessment("police", f"PA-{n}", "GMP-1", "2025-05-10") for n in numbers]
    _run(app, tmp_path, held)
    _run(app, tmp_path, [_deletion(f"PA-{n}", "2026-02-01T00:00:00Z") for n in numbers])
    refs = [f"record:police/assessment/PA-{n}" for n in sorted(numbers)]
    assert _erasures(app) == [refs[0:2], refs[2:4], refs[4:]]


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
def test_a_stale_line_and_a_later_deletion_of_a_deleted_record_erase_nothing(
    app: App, tmp_path: Path
) -> None:
    """The stale content would never have been stored over the stored deletion."""
    _run(app, tmp_path, [_deletion("PA-1", "2026-02-01T00:00:00Z")])
    stale = completed_assessment(
        "police", "PA-1", "GMP-1", "2025-05-10", updated_at="2026-01-01T00:00:00Z"
    )
    _run(app, tmp_path, [stale, _deletion("PA-1", "2026-03-01T00:00:00Z")])
    assert _erasures(app) == []


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("sent_at", ["2026-02-01T00:00:00Z", "2026-02-15T00:00:00Z"])
def test_content_sent_again_after_its_deletion_then_deleted_again_is_erased(
    app: App, tmp_path: Path, sent_at: str
) -> None:
    """Content not older than the stored deletion would have been stored: its deletion erases."""
    _run(app, tmp_path, [_deletion("PA-1", "2026-02-01T00:00:00Z")])
    again = completed_assessment("police", "PA-1", "GMP-1", "2025-05-10", updated_at=sent_at)
    _run(app, tmp_path, [again, _deletion("PA-1", "2026-03-01T00:00:00Z")])
    assert _erasures(app) == [[REF]]
