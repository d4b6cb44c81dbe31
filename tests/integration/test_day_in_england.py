"""A run's "today" is the day in England and Wales, on both databases.

In British Summer Time the first hour of each day in England is still the day
before in UTC. An assessment completed today, read in that hour, must not be
rejected as dated in the future, and a flag raised then is filed under today.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.core.duplicates import FlagKind
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.settings import Settings
from tests.feed_records import completed_assessment, person, write_sources

pytestmark = pytest.mark.integration

HALF_PAST_MIDNIGHT_BST = datetime(2027, 6, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 June in England
HALF_PAST_ELEVEN_GMT = datetime(2027, 1, 1, 23, 30, tzinfo=UTC)  # 23:30 on 1 January


def app_at(ledger_url: str, moment: datetime) -> App:
    """An App whose clock stands still at `moment`."""
    return App(Settings(database_url=ledger_url), clock=lambda: moment)


@pytest.fixture
def summer_app(ledger_url: str) -> Iterator[App]:
    application = app_at(ledger_url, HALF_PAST_MIDNIGHT_BST)
    yield application
    application.close()


def feeds_with_an_assessment_on(folder: Path, day: str) -> dict[str, PlainFileSource]:
    """Police hold two records of one man (a duplicate person record) and an
    assessment of him completed on `day`; probation holds nobody."""
    police = [
        person("police", "P-1", pnc="1996/0000018E"),
        person("police", "P-2", pnc="1996/0000018E"),
        completed_assessment("police", "PA-1", "P-1", day),
    ]
    return write_sources(folder, [], police)


def test_an_assessment_completed_today_in_england_is_kept(summer_app: App, tmp_path: Path) -> None:
    assert summer_app.today() == date(2027, 6, 2)
    sources = feeds_with_an_assessment_on(tmp_path, "2027-06-02")

    summary = run_cycle(summer_app, sources, summer_app.today())

    assert summary.as_of == date(2027, 6, 2)
    assert summary.rejected == 0
    assert summary.changed == {"police": 3}


def days_filed_under(app: App) -> list[date]:
    """The days the ledger's duplicate-person-record flags are filed under."""
    flags = schema.flags
    query = select(flags.c.first_seen_as_of).where(
        flags.c.kind == FlagKind.DUPLICATE_PERSON_RECORD.value
    )
    with app.ledger.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def test_a_flag_raised_after_midnight_in_england_is_filed_under_that_day(
    summer_app: App, tmp_path: Path
) -> None:
    sources = feeds_with_an_assessment_on(tmp_path, "2027-06-01")

    run_cycle(summer_app, sources, date(2027, 6, 2))

    assert days_filed_under(summer_app) == [date(2027, 6, 2)]


def test_in_winter_tomorrow_is_still_the_future(ledger_url: str, tmp_path: Path) -> None:
    app = app_at(ledger_url, HALF_PAST_ELEVEN_GMT)
    try:
        sources = feeds_with_an_assessment_on(tmp_path, "2027-01-02")
        summary = run_cycle(app, sources, app.today())
    finally:
        app.close()

    assert summary.as_of == date(2027, 1, 1)
    assert summary.rejected == 1


def test_a_run_dated_ahead_files_its_flags_under_today_in_england(
    summer_app: App, tmp_path: Path
) -> None:
    """Nothing is filed in the future: the earlier of the run's as-of date and today."""
    sources = feeds_with_an_assessment_on(tmp_path, "2027-06-01")

    run_cycle(summer_app, sources, date(2027, 6, 5))

    assert days_filed_under(summer_app) == [date(2027, 6, 2)]
