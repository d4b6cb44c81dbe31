"""Migration 0016 on both databases: flags keep the rule their own agency is told.

A flag stored before it has no told rule: one whose decided rule is not
`OUT-UNDER-18` is given that rule (only that rule is ever told otherwise); one
with `OUT-UNDER-18` keeps none until the next pass stores it again. Filling it
in leaves a flag's resolution standing: the told rule is not part of the
content a resolution is bound to.
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
from sync.ledger.flag_states import STATE_RESOLVED, content_digest, flag_state, latest_acts
from sync.ledger.migrate import alembic_config, upgrade_to_head
from sync.ledger.tables_manual import flag_acts
from tests.conftest import ledger_at_revision

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)
LATER = datetime(2026, 11, 29, 9, tzinfo=UTC)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """A ledger at revision 0015."""
    with ledger_at_revision(ledger_url, "0015") as made:
        yield made


def police_flag(assessment_id: str, day: date, rule: str, told: str | None = None) -> Flag:
    return Flag(
        kind=FlagKind.ASSESSED_WITHOUT_OWNER,
        subject_id="S-1",
        agency=Agency.POLICE,
        assessment_id=assessment_id,
        person_ids=("Q-1",),
        reference_date=day,
        owner_at_reference_date=Owner.NONE,
        rule_at_reference_date=rule,
        area="LANC",
        assessment_status=AssessmentStatus.COMPLETED,
        rule_told=told,
    )


CHILDHOOD = police_flag("QA-1", date(2018, 6, 14), "OUT-UNDER-18", "NONE-NOT-IN-SCOPE")
ADULT = police_flag("QA-2", date(2018, 6, 15), "NONE-NOT-IN-SCOPE", "NONE-NOT-IN-SCOPE")


def flags_table(engine: Engine) -> Table:
    return Table("flags", MetaData(), autoload_with=engine)


def old_row(flag: Flag) -> dict[str, Any]:
    """A flag row as revision 0015 stored it."""
    times = {"first_seen": NOW, "first_seen_as_of": NOW.date(), "last_seen": NOW}
    return {"key": flag_key(flag), **flag_content(flag), **times}


def fill(engine: Engine) -> None:
    rows = [old_row(CHILDHOOD), old_row(ADULT)]
    acts = [
        {
            "flag_key": row["key"],
            "action": "resolve",
            "content_digest": content_digest(row),
            "operator": "jsmith",
            "reason": "agreed",
            "created_at": NOW,
        }
        for row in rows
    ]
    with engine.begin() as conn:
        conn.execute(flags_table(engine).insert(), rows)
        conn.execute(flag_acts.insert(), acts)


def told_and_states(engine: Engine) -> dict[str, tuple[str | None, str]]:
    table = flags_table(engine)
    with engine.connect() as conn:
        acts = latest_acts(conn)
        return {
            row.key: (row.rule_told, flag_state(row._mapping, acts.get(row.key)))
            for row in conn.execute(select(table))
        }


def test_upgrade_gives_stored_flags_their_rule_unless_it_is_the_childhood_one(
    engine: Engine,
) -> None:
    fill(engine)
    upgrade_to_head(engine)
    assert told_and_states(engine) == {
        flag_key(CHILDHOOD): (None, STATE_RESOLVED),
        flag_key(ADULT): ("NONE-NOT-IN-SCOPE", STATE_RESOLVED),
    }


def test_the_next_pass_stores_the_told_rule_and_resolutions_stand(engine: Engine) -> None:
    fill(engine)
    upgrade_to_head(engine)
    with engine.begin() as conn:
        merge_flags(conn, [CHILDHOOD, ADULT], LATER, LATER.date())
    assert told_and_states(engine) == {
        flag_key(CHILDHOOD): ("NONE-NOT-IN-SCOPE", STATE_RESOLVED),
        flag_key(ADULT): ("NONE-NOT-IN-SCOPE", STATE_RESOLVED),
    }


def test_a_downgrade_to_0015_drops_the_told_rule_and_the_upgrade_fills_it_in_again(
    engine: Engine,
) -> None:
    fill(engine)
    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "0015")
    assert "rule_told" not in flags_table(engine).columns
    upgrade_to_head(engine)
    assert told_and_states(engine) == {
        flag_key(CHILDHOOD): (None, STATE_RESOLVED),
        flag_key(ADULT): ("NONE-NOT-IN-SCOPE", STATE_RESOLVED),
    }
