"""A decide batch reads exactly its records from the ledger, however many it names.

`load_batch_records` asks the ledger for a batch's person records and the
records pointing at them in chunks of ids (a database bounds a statement's
parameters). Every id of every chunk is read, and a record of one type is
never taken for another that shares its id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.core.records import Agency, RecordRef
from sync.cycle import run_cycle
from sync.distributed import store
from sync.settings import Settings
from tests.feed_records import AS_OF, completed_assessment, person, write_sources

pytestmark = pytest.mark.integration

PERSONS = [f"X00000{n}" for n in range(1, 6)]


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    """A ledger holding five probation persons; the first has an assessment whose id is
    the second person's reference."""
    application = App(Settings(database_url=ledger_url))
    probation = [person("probation", pid, surname=f"SAMPLE{pid[-1]}") for pid in PERSONS]
    probation.append(completed_assessment("probation", PERSONS[1], PERSONS[0], "2026-01-01"))
    run_cycle(application, write_sources(tmp_path, probation, []), date.fromisoformat(AS_OF))
    yield application
    application.close()


def refs(*pids: str) -> list[RecordRef]:
    """Probation person references."""
    return [RecordRef(Agency.PROBATION, pid) for pid in pids]


def test_every_chunk_of_person_ids_is_read(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five persons in chunks of two: all five, and not the assessment sharing an id."""
    monkeypatch.setattr(store, "IN_LIST_CHUNK", 2)
    found = store.load_batch_records(app.ledger, refs(*PERSONS), [])
    assert sorted((record.rtype, record.rid) for record in found) == [
        ("person", pid) for pid in PERSONS
    ]


def test_an_owner_brings_exactly_its_dependent_records(app: App) -> None:
    found = store.load_batch_records(app.ledger, [], refs(PERSONS[0], PERSONS[1]))
    assert [(record.rtype, record.rid) for record in found] == [("assessment", PERSONS[1])]
