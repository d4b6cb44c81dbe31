"""Each stored flag's state, open, resolved or closed, from its latest manual act.

A resolution is stored with a digest of the flag's content at that moment. A
flag stays resolved while it is open and its content is unchanged; when the
facts change its content it is open again, and when they no longer raise it
the decision pass closes it. A flag raised again after it closed is open, its
content the same or not: a resolution holds only if made since the flag was
last raised (`raised_at`). `sync.reconcile.flags` makes the acts; reports
and `reconcile list` read the states here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from sync.ledger.decisions import FLAG_CONTENT_COLUMNS
from sync.ledger.moments import as_utc
from sync.ledger.tables_manual import flag_acts

ACTION_RESOLVE = "resolve"
ACTION_REOPEN = "reopen"
STATE_OPEN = "open"
STATE_RESOLVED = "resolved"
STATE_CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class FlagAct:
    """One resolve or reopen act on a flag."""

    flag_key: str
    action: str
    content_digest: str
    operator: str
    created_at: datetime


def content_digest(row: Mapping[Any, Any]) -> str:
    """A digest of a stored flag's content columns (not its times)."""
    values = [None if row[name] is None else str(row[name]) for name in FLAG_CONTENT_COLUMNS]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def latest_acts(conn: Connection, keys: Iterable[str] | None = None) -> dict[str, FlagAct]:
    """The latest resolve or reopen act per flag key."""
    query = select(flag_acts).order_by(flag_acts.c.id)
    if keys is not None:
        query = query.where(flag_acts.c.flag_key.in_(sorted(set(keys))))
    latest: dict[str, FlagAct] = {}
    for row in conn.execute(query):
        latest[row.flag_key] = FlagAct(
            row.flag_key, row.action, row.content_digest, row.operator, row.created_at
        )
    return latest


def flag_state(row: Mapping[Any, Any], act: FlagAct | None) -> str:
    """A stored flag's state given its latest act."""
    if row["closed_at"] is not None:
        return STATE_CLOSED
    if (
        act is not None
        and act.action == ACTION_RESOLVE
        and _made_since_raised(act, row["raised_at"])
        and act.content_digest == content_digest(row)
    ):
        return STATE_RESOLVED
    return STATE_OPEN


def _made_since_raised(act: FlagAct, raised_at: datetime | None) -> bool:
    """Whether the act was made since the flag was last raised (None: not kept)."""
    return raised_at is None or as_utc(act.created_at) >= as_utc(raised_at)
