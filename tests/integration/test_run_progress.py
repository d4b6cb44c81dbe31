"""The stages `run_cycle` reports as it goes (a terminal's status line shows them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.cycle import run_cycle
from sync.settings import Settings
from tests.feed_records import person, write_sources

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
DECIDING = "Linking records, deciding ownership and flags, storing the decisions"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    application = App(Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    yield application
    application.close()


def _stages(app: App, folder: Path, probation: list[dict[str, object]]) -> list[str]:
    sources = write_sources(folder, probation, [person("police", "GMP-1")])
    told: list[str] = []
    run_cycle(app, sources, AS_OF, told.append)
    return told


def test_each_feed_is_named_as_it_is_read_then_the_decision_pass(app: App, tmp_path: Path) -> None:
    assert _stages(app, tmp_path, [person("probation", "X000001")]) == [
        "Reading the probation feed (probation.jsonl)",
        "Reading the police feed (police.jsonl)",
        DECIDING,
    ]


def test_a_feed_of_only_the_other_agencys_records_is_read_again_after_the_other(
    app: App, tmp_path: Path
) -> None:
    assert _stages(app, tmp_path, [person("police", "GMP-2")]) == [
        "Reading the probation feed (probation.jsonl)",
        "Reading the police feed (police.jsonl)",
        "Reading the probation feed (probation.jsonl) again, keeping its lines as rejects",
        DECIDING,
    ]
