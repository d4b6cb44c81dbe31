"""The gateway's own storage: notice batches it received and the receipts it issued.

A small SQLite file in the gateway's state folder (the gateway stands in for an
agency system; it is not the ledger). One row per `msg_id`, holding the
decrypted batch and the signed receipt, so a delivery seen again, even after a
restart, gets the same receipt (signed again with the gateway's key of the
day) and stores nothing twice. The UNIQUE
constraint on `msg_id` settles concurrent deliveries of the same envelope.
"""

from __future__ import annotations

import hmac
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from sync.owner_only_files import create_owner_only_file

STORE_FILE = "gateway.sqlite3"
BUSY_TIMEOUT_SECONDS = 30.0
DEFAULT_LIST_LIMIT = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notices (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL,
    sender TEXT NOT NULL,
    content_type TEXT NOT NULL,
    received_at TEXT NOT NULL,
    batch TEXT NOT NULL,
    receipt BLOB NOT NULL
)
"""
_SELECT = (
    "SELECT seq, msg_id, digest, sender, content_type, received_at, batch, receipt FROM notices "
)
_FIND = _SELECT + "WHERE msg_id = ?"
_AFTER = _SELECT + "WHERE seq > ? ORDER BY seq LIMIT ?"


class MsgIdConflictError(Exception):
    """A `msg_id` already stored with a different envelope."""


@dataclass(frozen=True, slots=True)
class StoredNotice:
    """One received notice batch and the receipt issued for it."""

    seq: int
    msg_id: str
    digest: str
    sender: str
    content_type: str
    received_at: str
    batch: str
    receipt: bytes


@dataclass(frozen=True, slots=True)
class NewNotice:
    """A notice batch just opened, to be stored with its receipt."""

    msg_id: str
    digest: str
    sender: str
    content_type: str
    received_at: str
    batch: str


def _row(values: tuple[object, ...]) -> StoredNotice:
    seq, msg_id, digest, sender, content_type, received_at, batch, receipt = values
    return StoredNotice(
        seq=int(str(seq)),
        msg_id=str(msg_id),
        digest=str(digest),
        sender=str(sender),
        content_type=str(content_type),
        received_at=str(received_at),
        batch=str(batch),
        receipt=bytes(receipt) if isinstance(receipt, bytes | bytearray | memoryview) else b"",
    )


class NoticeStore:
    """Received notices and receipts in SQLite; one connection shared under a lock."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STORE_FILE
        create_owner_only_file(self.path)  # the notices it holds are personal data
        self._db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def find(self, msg_id: str) -> StoredNotice | None:
        """The stored notice with this `msg_id`, if any."""
        with self._lock:
            cursor = self._db.execute(_FIND, (msg_id,))
            values = cursor.fetchone()
        return None if values is None else _row(values)

    def add(self, notice: NewNotice, receipt: bytes) -> bytes:
        """Store a notice with its receipt; the receipt now on file for its `msg_id`.

        The very same envelope stored meanwhile returns the receipt already on
        file; another envelope under the same `msg_id` raises `MsgIdConflictError`.
        """
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO notices (msg_id, digest, sender, content_type, received_at, "
                    "batch, receipt) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        notice.msg_id,
                        notice.digest,
                        notice.sender,
                        notice.content_type,
                        notice.received_at,
                        notice.batch,
                        receipt,
                    ),
                )
        except sqlite3.IntegrityError:
            return self._existing_receipt(notice)
        return receipt

    def _existing_receipt(self, notice: NewNotice) -> bytes:
        stored = self.find(notice.msg_id)
        if stored is None or not hmac.compare_digest(stored.digest, notice.digest):
            raise MsgIdConflictError
        return stored.receipt

    def after(self, seq: int, limit: int = DEFAULT_LIST_LIMIT) -> list[StoredNotice]:
        """Stored notices with a sequence number above `seq`, oldest first."""
        with self._lock:
            cursor = self._db.execute(_AFTER, (seq, limit))
            rows = cursor.fetchall()
        return [_row(values) for values in rows]

    def count(self) -> int:
        """How many notice batches are stored."""
        with self._lock:
            (total,) = self._db.execute("SELECT COUNT(*) FROM notices").fetchone()
        return int(total)

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()
