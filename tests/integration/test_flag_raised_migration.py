"""Migration 0020 on both databases: a flag keeps when it was last raised.

A resolution holds only if it was made since its flag was last raised, so a
flag that closed and was raised again with the same content is open. Flags
stored before the revision are given their first-seen time, so their
resolutions stand until they next close and are raised again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, select

from sync.core.duplicates import Flag, FlagKind
from sync.core.records import Agency, AssessmentStatus, Owner
from sync.ledger.decisions import flag_content, flag_key, merge_flags
from sync.ledger.flag_states import (
    STATE_CLOSED,
    STATE_OPEN,
    STATE_RESOLVED,
    content_digest,
    flag_state,
    latest_acts,
)
from sync.ledger.migrate import alembic_config, upgrade_to_head
from sync.ledger.moments import as_utc
from sync.ledger.tables_manual import flag_acts
from tests.conftest import ledger_at_revision

pytestmark = pytest.mark.integration

FIRST_SEEN = datetime(2026, 11, 28, 9, tzinfo=UTC)
RESOLVED = datetime(2026, 11, 28, 12, tzinfo=UTC)
CLOSED = datetime(2026, 11, 29, 9, tzinfo=UTC)
RAISED_AGAIN = datetime(2026, 11, 30, 9, tzinfo=UTC)
RESOLVED_AGAIN = datetime(2026, 11, 30, 12, tzinfo=UTC)
NEXT_RUN = datetime(2026, 12, 1, 9, tzinfo=UTC)

FLAG = Flag(
    kind=FlagKind.ASSESSED_BY_NON_OWNER,
    subject_id="S-1",
    agency=Agency.POLICE,
    assessment_id="QA-1",
    person_ids=("Q-1",),
    reference_date=date(2025, 5, 10),
    owner_at_reference_date=Owner.PROBATION,
    rule_at_reference_date="PROBATION-SUPERVISION",
    area="LANC",
    assessment_status=AssessmentStatus.COMPLETED,
    rule_told="PROBATION-SUPERVISION",
)
KEY = flag_key(FLAG)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """A ledger at revision 0019 holding the flag, resolved after it was first seen."""
    with ledger_at_revision(ledger_url, "0019") as made:
        flags = Table("flags", MetaData(), autoload_with=made)
        times = {"first_seen": FIRST_SEEN, "first_seen_as_of": FIRST_SEEN.date()}
        row = {"key": KEY, **flag_content(FLAG), **times, "last_seen": FIRST_SEEN}
        with made.begin() as conn:
            conn.execute(flags.insert(), row)
        resolve(made, content_digest(row), RESOLVED)
        yield made


def resolve(engine: Engine, digest: str, when: datetime) -> None:
    act = {"action": "resolve", "operator": "jsmith", "reason": "agreed", "created_at": when}
    with engine.begin() as conn:
        conn.execute(flag_acts.insert(), {"flag_key": KEY, "content_digest": digest, **act})


def stored(engine: Engine) -> tuple[datetime, str]:
    """The flag's `raised_at` and state."""
    table = Table("flags", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        row = conn.execute(select(table)).one()._mapping
        state = flag_state(row, latest_acts(conn).get(KEY))
    return as_utc(row["raised_at"]), state


def merge(engine: Engine, flags: list[Flag], now: datetime) -> None:
    with engine.begin() as conn:
        merge_flags(conn, flags, now, now.date())


def digest_now(engine: Engine) -> str:
    table = Table("flags", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        row: Any = conn.execute(select(table)).one()._mapping
    return content_digest(row)


def test_upgrade_gives_stored_flags_their_first_seen_time_and_resolutions_stand(
    engine: Engine,
) -> None:
    upgrade_to_head(engine)
    assert stored(engine) == (FIRST_SEEN, STATE_RESOLVED)
    merge(engine, [FLAG], NEXT_RUN)
    assert stored(engine) == (FIRST_SEEN, STATE_RESOLVED)


def test_a_flag_raised_again_after_it_closed_is_open_until_resolved_again(
    engine: Engine,
) -> None:
    upgrade_to_head(engine)
    merge(engine, [], CLOSED)
    assert stored(engine) == (FIRST_SEEN, STATE_CLOSED)
    merge(engine, [FLAG], RAISED_AGAIN)
    assert stored(engine) == (RAISED_AGAIN, STATE_OPEN)
    resolve(engine, digest_now(engine), RESOLVED_AGAIN)
    merge(engine, [FLAG], NEXT_RUN)
    assert stored(engine) == (RAISED_AGAIN, STATE_RESOLVED)


def test_a_downgrade_to_0019_drops_the_column_and_the_upgrade_fills_it_in_again(
    engine: Engine,
) -> None:
    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "0019")
    assert "raised_at" not in Table("flags", MetaData(), autoload_with=engine).columns
    upgrade_to_head(engine)
    assert stored(engine) == (FIRST_SEEN, STATE_RESOLVED)
