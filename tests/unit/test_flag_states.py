"""A stored flag's state from its row and latest act: closed, resolved or open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync.ledger.decisions import FLAG_CONTENT_COLUMNS
from sync.ledger.flag_states import (
    ACTION_REOPEN,
    ACTION_RESOLVE,
    STATE_CLOSED,
    STATE_OPEN,
    STATE_RESOLVED,
    FlagAct,
    content_digest,
    flag_state,
)

NOW = datetime(2026, 11, 28, tzinfo=UTC)
RAISED = NOW - timedelta(days=1)


def flag_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(FLAG_CONTENT_COLUMNS)
    row.update(
        kind="duplicate",
        subject_id="S1",
        agency="police",
        assessment_id="LA-1",
        person_ids='["LAN-1"]',
        reference_date="2025-05-10",
        owner_at_reference_date="probation",
        rule_at_reference_date="PROB-SEXUAL",
        redundant=True,
        area="NW",
        closed_at=None,
        raised_at=RAISED,
    )
    row.update(changes)
    return row


def act(action: str, row: dict[str, Any]) -> FlagAct:
    return FlagAct("duplicate|police|LA-1", action, content_digest(row), "jsmith", NOW)


def test_a_flag_without_acts_is_open() -> None:
    assert flag_state(flag_row(), None) == STATE_OPEN


def test_a_resolved_flag_stays_resolved_while_its_content_is_unchanged() -> None:
    row = flag_row()
    assert flag_state(row, act(ACTION_RESOLVE, row)) == STATE_RESOLVED


@pytest.mark.parametrize("column", [c for c in FLAG_CONTENT_COLUMNS if c != "kind"])
def test_a_resolved_flag_whose_content_changed_is_open_again(column: str) -> None:
    row = flag_row()
    changed = flag_row(**{column: "something else"})
    assert flag_state(changed, act(ACTION_RESOLVE, row)) == STATE_OPEN


def test_a_resolution_made_before_the_flag_was_last_raised_has_lapsed() -> None:
    row = flag_row()
    raised_again = flag_row(raised_at=NOW + timedelta(microseconds=1))
    assert flag_state(raised_again, act(ACTION_RESOLVE, row)) == STATE_OPEN
    assert flag_state(flag_row(raised_at=NOW), act(ACTION_RESOLVE, row)) == STATE_RESOLVED


def test_a_naive_time_read_back_from_sqlite_is_compared_as_utc() -> None:
    row = flag_row(raised_at=(NOW + timedelta(hours=1)).replace(tzinfo=None))
    assert flag_state(row, act(ACTION_RESOLVE, row)) == STATE_OPEN


def test_a_flag_stored_before_its_raising_was_kept_keeps_its_resolution() -> None:
    row = flag_row(raised_at=None)
    assert flag_state(row, act(ACTION_RESOLVE, row)) == STATE_RESOLVED


def test_a_reopened_flag_is_open() -> None:
    row = flag_row()
    assert flag_state(row, act(ACTION_REOPEN, row)) == STATE_OPEN


def test_a_closed_flag_is_closed_whatever_its_last_act() -> None:
    row = flag_row(closed_at=NOW)
    assert flag_state(row, None) == STATE_CLOSED
    assert flag_state(row, act(ACTION_RESOLVE, row)) == STATE_CLOSED


def test_the_digest_covers_content_not_times() -> None:
    assert content_digest(flag_row()) == content_digest(
        flag_row(closed_at=NOW, first_seen=NOW, raised_at=NOW)
    )
    assert content_digest(flag_row()) != content_digest(flag_row(area="SE"))
