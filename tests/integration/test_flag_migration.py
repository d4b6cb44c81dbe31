"""Migration 0002 on both databases: a ledger made at 0001 is upgraded in place.

Flag keys lose their subject, rows of one kind and assessment kept apart under
two subjects become one (the earliest first-seen time, the latest state), and
flag resolutions follow their flags.
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
from sync.ledger import schema
from sync.ledger.decisions import flag_content, merge_flags
from sync.ledger.flag_states import (
    STATE_CLOSED,
    STATE_OPEN,
    STATE_RESOLVED,
    content_digest,
    flag_state,
    latest_acts,
)
from sync.ledger.migrate import alembic_config, upgrade_to_head
from sync.ledger.tables_manual import flag_acts
from tests.conftest import ledger_at_revision

pytestmark = pytest.mark.integration


def at(day: int) -> datetime:
    """A time on a day of November 2026."""
    return datetime(2026, 11, day, 9, tzinfo=UTC)


def utc(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC time (SQLite gives it back without a zone)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """A ledger at revision 0001."""
    with ledger_at_revision(ledger_url, "0001") as made:
        yield made


def police_flag(kind: FlagKind, subject_id: str, assessment_id: str) -> Flag:
    return Flag(
        kind=kind,
        subject_id=subject_id,
        agency=Agency.POLICE,
        assessment_id=assessment_id,
        person_ids=("Q-1",),
        reference_date=date(2025, 5, 10),
        owner_at_reference_date=Owner.NONE,
        rule_at_reference_date="NONE-NOT-IN-SCOPE",
        area="LANC" if subject_id == "S-OLD" else "LANC-2",
        assessment_status=AssessmentStatus.COMPLETED,
    )


def old_row(flag: Flag, first: datetime, last: datetime, closed: datetime | None) -> dict[str, Any]:
    """A flag row as revision 0001 stored it, under `kind|subject|agency|target`."""
    agency = "" if flag.agency is None else flag.agency.value
    target = flag.assessment_id or ",".join(flag.person_ids)
    key = "|".join((flag.kind.value, flag.subject_id, agency, target))
    times = {"first_seen": first, "last_seen": last, "closed_at": closed}
    return {"key": key, **flag_content(flag), **times}


def act(key: str, row: dict[str, Any], created: datetime) -> dict[str, Any]:
    return {
        "flag_key": key,
        "action": "resolve",
        "content_digest": content_digest(row),
        "operator": "jsmith",
        "reason": "agreed",
        "created_at": created,
    }


MOVED = FlagKind.ASSESSED_WITHOUT_OWNER
# Moved from S-OLD to S-NEW on the 3rd and still open there; resolved under both subjects.
MOVED_OLD = old_row(police_flag(MOVED, "S-OLD", "QA"), at(1), at(2), at(3))
MOVED_NEW = old_row(police_flag(MOVED, "S-NEW", "QA"), at(3), at(5), None)
# Moved on the 3rd, then closed under S-NEW on the 6th.
GONE_OLD = old_row(police_flag(FlagKind.DUPLICATE, "S-OLD", "QA"), at(1), at(2), at(3))
GONE_NEW = old_row(police_flag(FlagKind.DUPLICATE, "S-NEW", "QA"), at(3), at(5), at(6))
RECORDS = old_row(
    Flag(FlagKind.DUPLICATE_PERSON_RECORD, "S-9", Agency.PROBATION, person_ids=("A1", "A2")),
    at(2),
    at(5),
    None,
)
CONFLICT = old_row(
    Flag(FlagKind.GENDER_CONFLICT, "S-9", person_ids=("A1", "Q-9")), at(4), at(4), at(5)
)


def fill(engine: Engine) -> None:
    rows = [MOVED_OLD, MOVED_NEW, GONE_OLD, GONE_NEW, RECORDS, CONFLICT]
    acts = [
        act(MOVED_OLD["key"], MOVED_OLD, at(2)),
        act(MOVED_NEW["key"], MOVED_NEW, at(4)),
        act(RECORDS["key"], RECORDS, at(3)),
    ]
    with engine.begin() as conn:
        conn.execute(schema.flags.insert(), rows)
        conn.execute(flag_acts.insert(), acts)


def flags_table(engine: Engine) -> Table:
    """The flags table as the ledger's revision has it (later revisions add columns)."""
    return Table("flags", MetaData(), autoload_with=engine)


def flags_by_key(engine: Engine) -> dict[str, dict[str, Any]]:
    table = flags_table(engine)
    with engine.connect() as conn:
        return {row.key: dict(row._mapping) for row in conn.execute(select(table))}


def states(engine: Engine) -> dict[str, str]:
    """Each flag's state; a ledger downgraded below 0020 keeps no `raised_at`, read as None."""
    table = flags_table(engine)
    with engine.connect() as conn:
        rows = [{"raised_at": None, **row._mapping} for row in conn.execute(select(table))]
        acts = latest_acts(conn)
        return {row["key"]: flag_state(row, acts.get(row["key"])) for row in rows}


def test_upgrade_merges_a_flag_kept_under_two_subjects(engine: Engine) -> None:
    fill(engine)
    upgrade_to_head(engine)
    rows = flags_by_key(engine)
    assert sorted(rows) == [
        "assessed_without_owner|police|QA",
        "duplicate_person_record|probation|A1,A2",
        "duplicate|police|QA",
        "gender_conflict||A1,Q-9",
    ]
    moved = rows["assessed_without_owner|police|QA"]
    assert (moved["subject_id"], moved["area"]) == ("S-NEW", "LANC-2")
    assert [utc(moved[name]) for name in ("first_seen", "last_seen", "closed_at")] == [
        at(1),
        at(5),
        None,
    ]
    gone = rows["duplicate|police|QA"]
    assert gone["subject_id"] == "S-NEW"
    assert [utc(gone[name]) for name in ("first_seen", "last_seen", "closed_at")] == [
        at(1),
        at(5),
        at(6),
    ]
    records = rows["duplicate_person_record|probation|A1,A2"]
    assert {name: records[name] for name in ("subject_id", "person_ids")} == {
        "subject_id": "S-9",
        "person_ids": RECORDS["person_ids"],
    }
    assert utc(records["first_seen"]) == at(2)


def test_upgrade_keeps_resolutions_with_their_flags(engine: Engine) -> None:
    fill(engine)
    upgrade_to_head(engine)
    assert states(engine) == {
        "assessed_without_owner|police|QA": STATE_RESOLVED,
        "duplicate_person_record|probation|A1,A2": STATE_RESOLVED,
        "duplicate|police|QA": STATE_CLOSED,
        "gender_conflict||A1,Q-9": STATE_CLOSED,
    }
    with engine.connect() as conn:
        keys = sorted(conn.execute(select(flag_acts.c.flag_key)).scalars())
    assert keys == [
        "assessed_without_owner|police|QA",
        "assessed_without_owner|police|QA",
        "duplicate_person_record|probation|A1,A2",
    ]


def test_after_the_upgrade_a_pass_updates_the_merged_row(engine: Engine) -> None:
    fill(engine)
    upgrade_to_head(engine)
    back = police_flag(MOVED, "S-OLD", "QA")
    with engine.begin() as conn:
        merge_flags(conn, [back], at(7), at(7).date())
    rows = flags_by_key(engine)
    moved = rows["assessed_without_owner|police|QA"]
    assert (moved["subject_id"], utc(moved["first_seen"]), moved["closed_at"]) == (
        "S-OLD",
        at(1),
        None,
    )
    assert states(engine)["assessed_without_owner|police|QA"] == STATE_OPEN
    assert len(rows) == 4


def test_an_empty_ledger_upgrades_and_downgrades(engine: Engine) -> None:
    upgrade_to_head(engine)
    assert flags_by_key(engine) == {}
    command.downgrade(alembic_config(engine), "0001")
    assert flags_by_key(engine) == {}


def test_downgrade_puts_the_subject_back_in_the_keys(engine: Engine) -> None:
    fill(engine)
    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "0001")
    assert sorted(flags_by_key(engine)) == [
        "assessed_without_owner|S-NEW|police|QA",
        "duplicate_person_record|S-9|probation|A1,A2",
        "duplicate|S-NEW|police|QA",
        "gender_conflict|S-9||A1,Q-9",
    ]
    assert states(engine)["assessed_without_owner|S-NEW|police|QA"] == STATE_RESOLVED
