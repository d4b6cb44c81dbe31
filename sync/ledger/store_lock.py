"""One decision pass stored at a time, without holding the audit chain's head meanwhile.

Storing a pass reads what is stored (to draft its audit entries) and then
replaces it, so two stores must not interleave. The lock taken here orders
stores only: other writers (ingest units, deliveries, consultations) may
still append to the audit log while a pass is written. PostgreSQL: a
transaction-level advisory lock. SQLite: the database write lock, taken up
front by a write that changes nothing, so the store never has to upgrade a
read snapshot another writer has made stale.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, false, text, update

from sync.ledger import schema

LOCK_KEY_BYTES = 8
DECISION_STORE_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"arms-sync/decision-store").digest()[:LOCK_KEY_BYTES], "big", signed=True
)


def lock_decision_store(conn: Connection) -> None:
    """Wait for, then hold until the transaction ends, the right to store a decision pass."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DECISION_STORE_LOCK_KEY})
        return
    runs = schema.runs
    conn.execute(update(runs).where(false()).values(status=runs.c.status))
