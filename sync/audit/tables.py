"""The audit log's tables: the hash-chained entries and the one-row chain head.

`audit_log` holds one row per act, never updated or deleted by the service;
`audit_head` holds the sequence number and hash of the last entry, so a
writer serialises on it and `verify` can tell when entries were cut off the
end. Timestamps are stored as the exact UTC text that was hashed.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from sync.ledger.schema import DIGEST, metadata

AUDIT_KIND = 16
AUDIT_ACTOR = 100
AUDIT_PURPOSE = 200
AUDIT_RECIPIENT = 100
AUDIT_TIMESTAMP = 32
HEAD_ROW_ID = 1

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(AUDIT_TIMESTAMP), nullable=False, index=True),
    Column("kind", String(AUDIT_KIND), nullable=False),
    Column("actor", String(AUDIT_ACTOR), nullable=False),
    Column("purpose", String(AUDIT_PURPOSE), nullable=False),
    Column("recipient", String(AUDIT_RECIPIENT)),
    Column("refs", Text, nullable=False),
    Column("detail", Text),
    Column("prev_hash", String(DIGEST), nullable=False),
    Column("hash", String(DIGEST), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(DIGEST), nullable=False),
)
