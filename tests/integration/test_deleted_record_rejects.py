"""A deleted record's rejected lines keep no content, and stay marked as they were.

A record deleted by its agency is kept as a tombstone without its content
(`decisions.md`); the lines of it that were rejected lose theirs too (the line
itself), keeping what says that a line was rejected and why. Run on both
databases, through the run as an operator starts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync import ingest
from sync.app import App
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.settings import Settings
from tests.feed_records import deleted_person, person, write_feeds

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
CRN = "B123456"
OTHER = "C654321"
BAD = person("probation", CRN, date_of_birth="1975-13-45", updated_at="2026-11-01T09:00:00Z")
GOOD = person("probation", CRN, updated_at="2026-11-02T09:00:00Z")
DELETION = deleted_person("probation", CRN, "2026-11-03T09:00:00Z")
LATER = person("probation", CRN, updated_at="2026-11-04T09:00:00Z")
BAD_OTHER = person("probation", OTHER, date_of_birth="1975-13-45")
# A bad assessment sharing the person's id, and a bad police person under that id.
BAD_ASSESSMENT: dict[str, object] = {
    "type": "assessment",
    "agency": "probation",
    "id": CRN,
    "person_id": CRN,
    "started_on": "2025-06-10",
    "status": "unknown",
    "updated_at": "2026-11-01T09:00:00Z",
}
BAD_POLICE = person("police", CRN, date_of_birth="1975-13-45")
POLICE = person("police", "GMP-1")
# The probation person, sent in the police feed: kept as a line of the other agency's.
MISPLACED = person("probation", CRN, updated_at="2026-11-02T09:00:00Z")


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url))
    yield application
    application.close()


def _run(
    app: App,
    folder: Path,
    probation: list[dict[str, object]],
    police: list[dict[str, object]] | None = None,
    police_first: bool = False,
) -> None:
    folder.mkdir(exist_ok=True)
    probation_feed, police_feed = write_feeds(folder, probation, police or [])
    sources = {
        "probation": PlainFileSource(probation_feed),
        "police": PlainFileSource(police_feed),
    }
    if police_first:
        sources = {"police": sources["police"], "probation": sources["probation"]}
    run_cycle(app, sources, AS_OF)


def _kept(app: App) -> dict[str | None, tuple[Any, ...]]:
    """Each rejected line's id, with whether its content is kept and its fixed mark."""
    table = schema.rejects
    with app.ledger.engine.connect() as conn:
        kept = {
            rid: raw is not None
            for rid, raw in conn.execute(select(table.c.record_id, table.c.raw))
        }
    return {
        row["record_id"]: (kept[row["record_id"]], row["fixed_in_run"])
        for row in app.ledger.list_rejects()
    }


def _listed(app: App) -> list[tuple[Any, ...]]:
    return [
        (row["agency"], row["record_type"], row["record_id"], row["position"], row["reason"])
        for row in app.ledger.list_rejects()
    ]


def test_a_deletion_empties_its_records_rejected_lines_and_keeps_the_fixed_mark(
    app: App, tmp_path: Path
) -> None:
    _run(app, tmp_path / "1", [BAD, BAD_OTHER])
    _run(app, tmp_path / "2", [GOOD])
    assert _kept(app) == {CRN: (True, 2), OTHER: (True, None)}
    listed = _listed(app)

    _run(app, tmp_path / "3", [DELETION])

    assert _kept(app) == {CRN: (False, 2), OTHER: (True, None)}
    assert _listed(app) == listed  # still listed, with its place and reason
    _run(app, tmp_path / "4", [LATER])  # sent again, not deleted
    assert _kept(app) == {CRN: (False, 2), OTHER: (True, None)}
    _run(app, tmp_path / "5", [BAD])  # the bad line read again: it stands again
    assert _kept(app) == {CRN: (False, None), OTHER: (True, None)}


def test_a_line_never_fixed_is_settled_by_its_records_deletion(app: App, tmp_path: Path) -> None:
    _run(app, tmp_path / "1", [BAD])
    _run(app, tmp_path / "2", [DELETION])

    assert _kept(app) == {CRN: (False, 2)}
    _run(app, tmp_path / "3", [DELETION])  # read again: nothing changes
    assert _kept(app) == {CRN: (False, 2)}


def test_a_line_read_with_or_after_its_records_deletion_keeps_no_content(
    app: App, tmp_path: Path
) -> None:
    _run(app, tmp_path / "1", [BAD, DELETION])
    assert _kept(app) == {CRN: (False, None)}

    _run(
        app, tmp_path / "2", [BAD_OTHER, deleted_person("probation", OTHER, "2026-11-03T09:00:00Z")]
    )
    _run(app, tmp_path / "3", [BAD_OTHER])  # read again after the deletion: it stands again
    assert _kept(app) == {CRN: (False, None), OTHER: (False, None)}
    _run(app, tmp_path / "4", [person("probation", OTHER, updated_at="2026-11-05T09:00:00Z")])
    assert _kept(app) == {CRN: (False, None), OTHER: (False, 4)}


def _contents(app: App) -> dict[tuple[str, str, str], bool]:
    """Whether each rejected line (by agency, record agency and type) keeps its content."""
    table = schema.rejects
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.agency, table.c.record_agency, table.c.record_type, table.c.raw)
        ).all()
    return {
        (row.agency, row.record_agency or "-", row.record_type): row.raw is not None for row in rows
    }


def _marks(app: App) -> dict[tuple[str, str], Any]:
    """Each rejected line's fixed mark, by its agency and record type."""
    return {
        (row["agency"], row["record_type"]): row["fixed_in_run"]
        for row in app.ledger.list_rejects()
    }


def test_a_deletion_empties_no_line_of_another_type_or_agency_under_the_same_id(
    app: App, tmp_path: Path
) -> None:
    _run(app, tmp_path / "1", [BAD, BAD_ASSESSMENT], [BAD_POLICE])
    _run(app, tmp_path / "2", [DELETION])

    assert _contents(app) == {
        ("probation", "-", "person"): False,
        ("probation", "-", "assessment"): True,
        ("police", "-", "person"): True,
    }


def test_a_line_of_the_other_agencys_feed_read_after_the_deletion_keeps_no_content(
    app: App, tmp_path: Path
) -> None:
    _run(app, tmp_path / "1", [GOOD])
    _run(app, tmp_path / "2", [DELETION])
    _run(app, tmp_path / "3", [], [POLICE, MISPLACED])

    assert _contents(app) == {("police", "probation", "person"): False}
    assert _marks(app) == {("police", "person"): None}  # no live record settles it


def test_a_line_of_the_other_agencys_feed_keeps_its_fixed_mark_through_the_deletion(
    app: App, tmp_path: Path
) -> None:
    _run(app, tmp_path / "1", [GOOD])
    _run(app, tmp_path / "2", [], [POLICE, MISPLACED])
    assert _marks(app) == {("police", "person"): 1}

    _run(app, tmp_path / "3", [DELETION])

    assert _contents(app) == {("police", "probation", "person"): False}
    assert _marks(app) == {("police", "person"): 1}


def test_a_line_settled_at_a_deletion_keeps_its_mark_when_the_record_is_deleted_again(
    app: App, tmp_path: Path
) -> None:
    _run(app, tmp_path / "1", [BAD])
    _run(app, tmp_path / "2", [GOOD])
    _run(app, tmp_path / "3", [DELETION])
    _run(app, tmp_path / "4", [LATER])
    _run(app, tmp_path / "5", [deleted_person("probation", CRN, "2026-11-05T09:00:00Z")])

    assert _kept(app) == {CRN: (False, 2)}


def test_a_line_read_in_the_run_that_applied_its_record_is_settled_by_the_deletion(
    app: App, tmp_path: Path
) -> None:
    _run(app, tmp_path / "1", [BAD, GOOD])
    assert _kept(app) == {CRN: (True, None)}

    _run(app, tmp_path / "2", [DELETION])

    assert _kept(app) == {CRN: (False, 2)}


def test_a_line_stored_earlier_in_the_deletions_run_still_stands(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bad line written in a batch of its own before the deletion's: nothing after it
    settled it."""
    monkeypatch.setattr(ingest, "INGEST_BATCH", 1)
    _run(app, tmp_path / "1", [GOOD])
    _run(app, tmp_path / "2", [BAD, DELETION])

    assert _kept(app) == {CRN: (False, None)}


def test_a_line_of_the_other_agencys_feed_read_first_in_the_deletions_run_is_settled(
    app: App, tmp_path: Path
) -> None:
    """The police feed read before the probation feed that deletes the record: the line did
    not belong there, and the deletion settles it."""
    _run(app, tmp_path / "1", [BAD_OTHER])
    _run(app, tmp_path / "2", [DELETION], [POLICE, MISPLACED], police_first=True)

    assert _contents(app) == {
        ("probation", "-", "person"): True,
        ("police", "probation", "person"): False,
    }
    assert _marks(app) == {("probation", "person"): None, ("police", "person"): 2}


def test_a_line_of_the_other_agencys_feed_keeps_its_mark_when_the_record_is_deleted_again(
    app: App, tmp_path: Path
) -> None:
    """Settled by the live record before the first deletion, the line keeps that run through
    the record's return and its second deletion."""
    _run(app, tmp_path / "1", [GOOD])
    _run(app, tmp_path / "2", [], [POLICE, MISPLACED])
    _run(app, tmp_path / "3", [DELETION])
    _run(app, tmp_path / "4", [LATER])
    _run(app, tmp_path / "5", [deleted_person("probation", CRN, "2026-11-05T09:00:00Z")])

    assert _contents(app) == {("police", "probation", "person"): False}
    assert _marks(app) == {("police", "person"): 1}
