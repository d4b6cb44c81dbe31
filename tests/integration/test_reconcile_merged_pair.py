"""A link or unlink of two records their agency merged says why it changes nothing now.

An agency's merge record makes its source record mean the target in every
pass, so an operator can neither join the two again nor part them: the act is
stored as asked, and its output says that an unlink holds only once the agency
undoes the merge. These tests hold the product to that sentence.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.core.records import Agency, RecordRef
from sync.cycle import run_cycle
from sync.reconcile.acts import Actor
from sync.reconcile.links import link, unlink
from sync.reconcile.render import outcome_lines
from sync.settings import Settings
from tests.feed_records import merge, person, write_sources

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
ACTOR = Actor("jsmith", "not the same person")
PNC = "2002/0073319Z"  # both probation records carry it: without the merge they link on it
SOURCE = RecordRef(Agency.PROBATION, "X100001")
TARGET = RecordRef(Agency.PROBATION, "X100002")
OTHER = RecordRef(Agency.POLICE, "LAN-1")
MERGED = merge("probation", "M-1", SOURCE.person_id, TARGET.person_id)
MERGE_UNDONE = {**MERGED, "deleted": True, "updated_at": "2026-06-01T00:00:00Z"}
UNLINK_NOTE = (
    "The probation system has merged probation:X100001 and probation:X100002 into one "
    "person record; the unlink keeps them apart only once probation undoes that merge "
    "in its own system."
)
LINK_NOTE = (
    "The probation system has already merged probation:X100001 and probation:X100002 "
    "into one person record; the link adds nothing."
)


def probation_feed(*extra: dict[str, object]) -> list[dict[str, object]]:
    """Two probation records with one PNC, and `extra` (the merge, or its undoing)."""
    return [
        person("probation", SOURCE.person_id, pnc=PNC),
        person("probation", TARGET.person_id, pnc=PNC),
        *extra,
    ]


def sync_feeds(app: App, folder: Path, *extra: dict[str, object]) -> None:
    """One run over the probation records (with `extra`) and one police record."""
    folder.mkdir(exist_ok=True)
    police = [person("police", OTHER.person_id, surname="OTHER")]
    run_cycle(app, write_sources(folder, probation_feed(*extra), police), AS_OF)


def subject_of(app: App, ref: RecordRef) -> str:
    """The subject the record belongs to in the ledger's current decisions."""
    return app.ledger.load_membership()[(str(ref.agency), ref.person_id)]


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    """An app over a ledger after a run in which probation merged SOURCE into TARGET."""
    application = App(Settings(database_url=ledger_url))
    sync_feeds(application, tmp_path / "first", MERGED)
    yield application
    application.close()


def test_an_unlink_of_a_merged_pair_says_it_holds_once_the_merge_is_undone(
    app: App, tmp_path: Path
) -> None:
    outcome = unlink(app, SOURCE, TARGET, ACTOR, apply=False)
    assert not outcome.preview.changes_anything
    assert outcome.preview.notes == (UNLINK_NOTE,)
    assert outcome_lines(outcome, "unlink", sends_notices=False)[-1] == UNLINK_NOTE

    applied = unlink(app, TARGET, SOURCE, ACTOR, apply=True)
    assert applied.preview.notes == (
        UNLINK_NOTE.replace(
            "probation:X100001 and probation:X100002", "probation:X100002 and probation:X100001"
        ),
    )
    sync_feeds(app, tmp_path / "undone", MERGE_UNDONE)
    assert subject_of(app, SOURCE) != subject_of(app, TARGET)


def test_without_the_unlink_the_undone_merge_leaves_the_pair_linked_on_its_pnc(
    app: App, tmp_path: Path
) -> None:
    sync_feeds(app, tmp_path / "undone", MERGE_UNDONE)
    assert subject_of(app, SOURCE) == subject_of(app, TARGET)


def test_a_link_of_a_merged_pair_says_it_adds_nothing(app: App) -> None:
    outcome = link(app, SOURCE, TARGET, ACTOR, apply=False)
    assert not outcome.preview.changes_anything
    assert outcome.preview.notes == (LINK_NOTE,)


def test_a_pair_no_merge_joins_has_no_note_of_a_merge(app: App) -> None:
    for outcome in (
        unlink(app, TARGET, OTHER, ACTOR, apply=False),
        link(app, SOURCE, OTHER, ACTOR, apply=False),
    ):
        assert [note for note in outcome.preview.notes if "settles" not in note] == []
