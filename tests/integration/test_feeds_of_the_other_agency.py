"""Feed files holding only the other agency's records (`docs/decisions.md`), on SQLite.

Both files swapped are refused and nothing of them is kept. One such file,
first or second, is read once more after the other and its lines kept as
rejects; the summary lists the feeds in the order given.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.cycle import run_cycle
from sync.errors import UsageError
from sync.ledger import schema
from tests.feed_records import person, write_sources
from tests.integration.test_run_progress import AS_OF, DECIDING, app

pytestmark = pytest.mark.integration

__all__ = ["app"]  # the fixture, shared with the run-progress tests


def _kept(app: App) -> tuple[int, int]:
    """Records and rejected lines in the ledger."""
    with app.ledger.engine.connect() as conn:
        records = conn.execute(select(func.count()).select_from(schema.records)).scalar_one()
        rejects = conn.execute(select(func.count()).select_from(schema.rejects)).scalar_one()
    return int(records), int(rejects)


def test_both_files_given_the_wrong_way_round_are_refused_and_nothing_is_kept(
    app: App, tmp_path: Path
) -> None:
    sources = write_sources(
        tmp_path,
        [person("police", "GMP-1"), person("police", "GMP-2")],
        [person("probation", "X000001")],
    )
    with pytest.raises(UsageError, match="the feeds were given the wrong way round"):
        run_cycle(app, sources, AS_OF)
    assert _kept(app) == (0, 0)


def test_a_second_file_of_the_other_agencys_records_is_kept_as_rejects_read_once(
    app: App, tmp_path: Path
) -> None:
    sources = write_sources(
        tmp_path, [person("probation", "X000001")], [person("probation", "X000002")]
    )
    told: list[str] = []
    summary = run_cycle(app, sources, AS_OF, told.append)
    assert told == [
        "Reading the probation feed (probation.jsonl)",
        "Reading the police feed (police.jsonl)",
        DECIDING,
    ]
    assert list(summary.feeds) == ["probation", "police"]
    police = summary.feeds["police"]
    assert (police.read, police.rejected, police.other_agency) == (1, 1, 1)
    assert _kept(app) == (1, 1)


def test_a_first_file_of_the_other_agencys_records_is_kept_as_rejects_and_listed_first(
    app: App, tmp_path: Path
) -> None:
    sources = write_sources(
        tmp_path,
        [person("police", "GMP-1"), person("police", "GMP-2")],
        [person("police", "GMP-3")],
    )
    summary = run_cycle(app, sources, AS_OF)
    assert list(summary.feeds) == ["probation", "police"]
    probation = summary.feeds["probation"]
    assert (probation.read, probation.rejected, probation.other_agency) == (2, 2, 2)
    assert summary.feeds["police"].accepted == 1
    assert _kept(app) == (1, 2)
