"""Two merges of one person record into different people: the later stands, the other is
listed.

feed-v1's merge means "from now on the source reference means the target
person", so of two merges of one source the one with the later `updated_at`
is in force, whatever their ids (on a tie, the id later in text order). The other is not
applied and is listed by `rejects` with its reason, never dropped; once the
later merge is deleted, the earlier is in force again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.cycle import run_cycle
from sync.exports import export_ownership
from sync.settings import Settings
from tests.feed_records import licence, merge, person, write_sources

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
SOURCE, FIRST_TARGET, SECOND_TARGET = "X230001", "X230002", "X230003"
EARLY, LATE = "2026-01-01T09:00:00Z", "2026-06-01T09:00:00Z"
SUPERSEDED = (
    "merge not applied: a later merge (by updated_at) sends the same person record "
    "to another person"
)


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url))
    yield application
    application.close()


def probation_feed(*merges: dict[str, object]) -> list[dict[str, object]]:
    """Three probation people, a licence on the first, and `merges`."""
    people = [
        person("probation", pid, surname=surname, date_of_birth=born)
        for pid, surname, born in (
            (SOURCE, "FIRST", "1971-01-01"),
            (FIRST_TARGET, "SECOND", "1972-02-02"),
            (SECOND_TARGET, "THIRD", "1973-03-03"),
        )
    ]
    return [*people, licence("S-1", SOURCE, "2025-06-01", "2027-05-31"), *merges]


def run(app: App, folder: Path, probation: list[dict[str, object]]) -> None:
    folder.mkdir()
    run_cycle(app, write_sources(folder, probation, []), AS_OF)


def licensed_subject_members(app: App) -> set[str]:
    """The person ids of the subject the licence counts for."""
    rows = [json.loads(line) for line in export_ownership(app.ledger, AS_OF)]
    (licensed,) = [row for row in rows if row["owner"] == "probation"]
    return {record["person_id"] for record in licensed["records"]}


def merge_orphans(app: App) -> dict[str, str]:
    return {
        row["record_id"]: row["reason"]
        for row in app.ledger.list_orphans()
        if row["record_type"] == "merge"
    }


@pytest.mark.parametrize(
    ("ten_at", "nine_at", "in_force", "set_aside"),
    [
        (LATE, EARLY, FIRST_TARGET, "M-9"),
        (EARLY, LATE, SECOND_TARGET, "M-10"),
        (LATE, LATE, SECOND_TARGET, "M-10"),
    ],
    ids=[
        "later-merge-has-the-smaller-id",
        "later-merge-has-the-larger-id",
        "a-tie-goes-to-the-id-later-in-text-order",
    ],
)
def test_the_later_of_two_merges_of_one_record_stands_and_the_other_is_listed(
    app: App, tmp_path: Path, ten_at: str, nine_at: str, in_force: str, set_aside: str
) -> None:
    merges = (
        merge("probation", "M-10", SOURCE, FIRST_TARGET, updated_at=ten_at),
        merge("probation", "M-9", SOURCE, SECOND_TARGET, updated_at=nine_at),
    )
    run(app, tmp_path / "1", probation_feed(*merges))

    assert licensed_subject_members(app) == {in_force}
    assert merge_orphans(app) == {set_aside: SUPERSEDED}


def test_once_the_later_merge_is_deleted_the_earlier_one_stands_again(
    app: App, tmp_path: Path
) -> None:
    later = merge("probation", "M-10", SOURCE, FIRST_TARGET, updated_at=LATE)
    earlier = merge("probation", "M-9", SOURCE, SECOND_TARGET, updated_at=EARLY)
    run(app, tmp_path / "1", probation_feed(later, earlier))
    deleted = {**later, "deleted": True, "updated_at": "2026-07-01T09:00:00Z"}

    run(app, tmp_path / "2", probation_feed(deleted, earlier))

    assert licensed_subject_members(app) == {SECOND_TARGET}
    assert merge_orphans(app) == {}
