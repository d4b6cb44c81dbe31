"""The ledger-backed replay guard: each envelope `msg_id` is accepted once.

It records inside the caller's transaction, so an envelope whose content is
rolled back (a refused file, a crash) is not counted as seen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from sync.crypto.replay import ReplayVerdict, replay_refused
from sync.ledger import schema


class LedgerReplayGuard:
    """`ReplayGuard` over the `received_envelopes` table, bound to one transaction."""

    def __init__(self, conn: Connection | None, sender: str, now: datetime) -> None:
        self.conn = conn
        self.sender = sender
        self.now = now

    def check_and_record(self, msg_id: str, digest: str) -> ReplayVerdict:
        """NEW the first time; SAME for the very same envelope; refuse a reused id."""
        if self.conn is None:
            raise RuntimeError("the replay guard is used outside a transaction")
        table = schema.received_envelopes
        seen = self.conn.execute(
            select(table.c.digest).where(table.c.msg_id == msg_id)
        ).scalar_one_or_none()
        if seen is None:
            self.conn.execute(
                table.insert().values(
                    msg_id=msg_id,
                    digest=digest,
                    sender=self.sender,
                    received_at=self.now,
                )
            )
            return ReplayVerdict.NEW
        if seen == digest:
            return ReplayVerdict.SAME
        raise replay_refused()
