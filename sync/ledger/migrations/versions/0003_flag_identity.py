"""flag identity without the subject: one stored flag per kind and assessment

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 19:00:00.000000

A flag's key was `kind|subject|agency|target` (target: the assessment id, else
the person ids joined); it becomes `kind|agency|target`, so a flag that moves
to another subject keeps its row. Rows that the old key kept apart (the same
assessment and kind under two subjects) are merged into one: the earliest
first-seen time, and the content, last-seen and closed times of the row seen
last (an open row before a closed one on a tie). Flag resolutions follow their
flag to its new key. The audit log is left as it was: its entries are sealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SEPARATOR = "|"
BATCH = 10_000
KEY_HEAD = 3  # kind, subject, then agency and target

Params = dict[str, Any]

flags = sa.table(
    "flags",
    sa.column("key", sa.String),
    sa.column("subject_id", sa.String),
    sa.column("first_seen", sa.DateTime(timezone=True)),
    sa.column("last_seen", sa.DateTime(timezone=True)),
    sa.column("closed_at", sa.DateTime(timezone=True)),
)
flag_acts = sa.table("flag_acts", sa.column("flag_key", sa.String))


def upgrade() -> None:
    """Apply this revision."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(flags.c.key, flags.c.first_seen, flags.c.last_seen, flags.c.closed_at)
    ).all()
    dropped, renamed, merged = _merge_plan(rows)
    _execute(conn, flags.delete().where(flags.c.key == sa.bindparam("old")), dropped)
    rename = flags.update().where(flags.c.key == sa.bindparam("old"))
    _execute(conn, rename.values(key=sa.bindparam("new")), renamed)
    _execute(
        conn,
        rename.values(key=sa.bindparam("new"), first_seen=sa.bindparam("first")),
        merged,
    )
    _rekey_acts(conn, {key: new_key(key) for key in _act_keys(conn)})


def _merge_plan(rows: Sequence[Any]) -> tuple[list[Params], list[Params], list[Params]]:
    """The rows to drop, to rename, and to rename with the earliest first-seen time."""
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(new_key(row.key), []).append(row)
    dropped: list[Params] = []
    renamed: list[Params] = []
    merged: list[Params] = []
    for key, group in groups.items():
        kept = max(group, key=_latest_state)
        dropped.extend({"old": row.key} for row in group if row is not kept)
        if len(group) > 1:
            first = min(row.first_seen for row in group)
            merged.append({"old": kept.key, "new": key, "first": first})
        elif kept.key != key:
            renamed.append({"old": kept.key, "new": key})
    return dropped, renamed, merged


def downgrade() -> None:
    """Revert this revision: the keys name the subject again (merged rows stay merged)."""
    conn = op.get_bind()
    old_keys = {
        key: old_key(key, subject_id)
        for key, subject_id in conn.execute(sa.select(flags.c.key, flags.c.subject_id))
    }
    rename = flags.update().where(flags.c.key == sa.bindparam("old"))
    _execute(
        conn,
        rename.values(key=sa.bindparam("new")),
        [{"old": key, "new": old} for key, old in old_keys.items()],
    )
    _rekey_acts(conn, {key: old_keys[key] for key in _act_keys(conn) if key in old_keys})


def new_key(key: str) -> str:
    """A flag key without its subject (a key of another shape is kept as it is)."""
    parts = key.split(SEPARATOR, 2)
    if len(parts) < KEY_HEAD or SEPARATOR not in parts[-1]:
        return key
    kind, _subject, rest = parts
    return SEPARATOR.join((kind, rest))


def old_key(key: str, subject_id: str) -> str:
    """A flag key with its subject put back after the kind."""
    kind, rest = key.split(SEPARATOR, 1)
    return SEPARATOR.join((kind, subject_id, rest))


def _latest_state(row: Any) -> tuple[datetime, bool, datetime, str]:
    """Orders a flag's rows by when they were last seen, open before closed on a tie."""
    open_now = row.closed_at is None
    return (row.last_seen, open_now, row.last_seen if open_now else row.closed_at, row.key)


def _act_keys(conn: sa.Connection) -> list[str]:
    return list(conn.execute(sa.select(flag_acts.c.flag_key).distinct()).scalars())


def _rekey_acts(conn: sa.Connection, keys: dict[str, str]) -> None:
    """Point each flag act at its flag's key."""
    statement = (
        flag_acts.update()
        .where(flag_acts.c.flag_key == sa.bindparam("old"))
        .values(flag_key=sa.bindparam("new"))
    )
    _execute(conn, statement, [{"old": old, "new": new} for old, new in keys.items() if old != new])


def _execute(conn: sa.Connection, statement: Any, rows: Sequence[Params]) -> None:
    """One statement for many rows, in batches (nothing when there are none)."""
    for start in range(0, len(rows), BATCH):
        conn.execute(statement, list(rows[start : start + BATCH]))
