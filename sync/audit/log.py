"""`AuditLog`: appends entries to the hash-chained audit log, reads, exports and verifies it.

Writers append inside the caller's transaction (`record`), so an act and its
audit entry commit together and a failure to audit aborts the act; or in a
transaction of their own (`record_now`). Every writer first locks the one-row
chain head (PostgreSQL: `SELECT … FOR UPDATE`; SQLite: the database write
lock, taken by touching the head row), so concurrent workers cannot fork the
chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import NotRequired, TypedDict, Unpack
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import SQLAlchemyError

from sync.audit.chain import (
    FIRST_SEQ,
    GENESIS_HASH,
    AuditKind,
    Draft,
    Entry,
    Head,
    UnsafeEntry,
    VerifyResult,
    check_draft,
    format_timestamp,
    seal_all,
    verify_chain,
)
from sync.audit.tables import HEAD_ROW_ID, audit_head, audit_log
from sync.errors import ArmsSyncError, AuditError
from sync.ledger import schema
from sync.ledger.location import ledger_failure
from sync.ledger.upsert import dialect_insert

READ_BATCH = 5_000
CANNOT_WRITE = "The audit log cannot be written, so nothing was changed."
CANNOT_READ = "The audit log cannot be read."
EMPTIED = (
    "the log holds no entry, yet the ledger holds feed records whose collection it logs, "
    "so it has been emptied"
)
_LOGS: WeakKeyDictionary[Engine, AuditLog] = WeakKeyDictionary()


def cannot_write(error: SQLAlchemyError) -> ArmsSyncError:
    """Why an entry could not be written: the ledger's own refusal when it is one a person
    can mend (a read-only file, a full disk, a lost connection), else the log's."""
    return ledger_failure(error) or AuditError(CANNOT_WRITE)


class EntryFields(TypedDict):
    """One entry's content as writers give it: `kind`, `actor` and `purpose` are required."""

    kind: AuditKind
    actor: str
    purpose: str
    recipient: NotRequired[str | None]
    refs: NotRequired[Iterable[str]]
    detail: NotRequired[str | None]


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class AuditLog:
    """The audit log over one engine; build it once per process (`audit_log_for`)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # -- writing ------------------------------------------------------------
    def record(self, conn: Connection, **fields: Unpack[EntryFields]) -> int:
        """Append one entry inside the caller's transaction; returns its sequence number."""
        return self.record_many(conn, [_draft(fields)])

    def record_many(self, conn: Connection, drafts: Sequence[Draft]) -> int:
        """Append entries in order inside the caller's transaction; returns the last number."""
        try:
            for draft in drafts:
                check_draft(draft)
        except UnsafeEntry as error:
            raise AuditError(f"{CANNOT_WRITE[:-1]}: {error}.") from error
        try:
            head = _lock_head(conn)
            if not drafts:
                return head.seq
            entries = seal_all(drafts, head, format_timestamp(self.clock()))
            conn.execute(audit_log.insert(), [asdict(entry) for entry in entries])
            last = entries[-1]
            conn.execute(
                update(audit_head)
                .where(audit_head.c.id == HEAD_ROW_ID)
                .values(seq=last.seq, hash=last.hash)
            )
        except SQLAlchemyError as error:
            raise cannot_write(error) from error
        return last.seq

    def record_now(self, **fields: Unpack[EntryFields]) -> int:
        """Append one entry in a transaction of its own."""
        try:
            with self.engine.begin() as conn:
                return self.record(conn, **fields)
        except SQLAlchemyError as error:
            raise cannot_write(error) from error

    def hold_head(self, conn: Connection) -> None:
        """Lock the log's head in the caller's transaction now, before the act's other locks.

        For an act that writes its entry last but must queue behind writers
        that take the head first (an ingest page), not deadlock with them.
        """
        try:
            _lock_head(conn)
        except SQLAlchemyError as error:
            raise cannot_write(error) from error

    def require_writable(self) -> None:
        """Raise `AuditError` unless the log's head can be locked (checked before decisions)."""
        try:
            with self.engine.begin() as conn:
                _lock_head(conn)
        except SQLAlchemyError as error:
            raise cannot_write(error) from error

    # -- reading ------------------------------------------------------------
    def entries(self, start: date | None = None, end: date | None = None) -> Generator[Entry]:
        """Entries in sequence order, optionally those timed within `start`..`end` (UTC days)."""
        query = select(audit_log).order_by(audit_log.c.seq)
        if start is not None:
            query = query.where(audit_log.c.at >= _day_start(start))
        if end is not None:
            query = query.where(audit_log.c.at < _day_start(end + timedelta(days=1)))
        try:
            with (
                self.engine.connect() as conn,
                closing(conn.execution_options(yield_per=READ_BATCH).execute(query)) as result,
            ):
                for row in result:
                    yield Entry(**row._mapping)
        except SQLAlchemyError as error:
            raise AuditError(CANNOT_READ) from error

    def head(self) -> Head | None:
        """The chain head, or `None` before the first entry."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(audit_head.c.seq, audit_head.c.hash).where(
                        audit_head.c.id == HEAD_ROW_ID
                    )
                ).first()
        except SQLAlchemyError as error:
            raise AuditError(CANNOT_READ) from error
        return None if row is None else Head(int(row.seq), str(row.hash))

    def export_lines(self, start: date | None = None, end: date | None = None) -> Iterator[str]:
        """JSON Lines for the regulator, one entry a line."""
        for entry in self.entries(start, end):
            yield json.dumps(entry.as_json(), sort_keys=True, separators=(",", ":"))

    def verify(self, anchors: Iterable[Head] = ()) -> VerifyResult:
        """Check the whole chain, its head and the `anchors` kept outside the database."""
        head = self.head()
        with closing(self.entries()) as entries:
            result = verify_chain(entries, head, anchors)
        if result.ok and result.count == 0 and self._holds_records():
            return VerifyResult(ok=False, count=0, first_bad=FIRST_SEQ, problem=EMPTIED)
        return result

    def _holds_records(self) -> bool:
        """Whether the ledger holds feed records (each collection of them is logged)."""
        with self.engine.connect() as conn:
            return conn.execute(select(schema.records.c.agency).limit(1)).first() is not None


def audit_log_for(engine: Engine) -> AuditLog:
    """The one `AuditLog` of this process for `engine`."""
    log = _LOGS.get(engine)
    if log is None:
        log = _LOGS[engine] = AuditLog(engine)
    return log


def _draft(fields: EntryFields) -> Draft:
    return Draft(
        fields["kind"],
        fields["actor"],
        fields["purpose"],
        fields.get("recipient"),
        tuple(fields.get("refs", ())),
        fields.get("detail"),
    )


def _day_start(day: date) -> str:
    return format_timestamp(datetime.combine(day, time.min, tzinfo=UTC))


def _lock_head(conn: Connection) -> Head:
    """Create the head row if missing, lock it, and read it."""
    insert = dialect_insert(conn.dialect.name, audit_head)
    conn.execute(
        insert.values(id=HEAD_ROW_ID, seq=0, hash=GENESIS_HASH).on_conflict_do_nothing(
            index_elements=[audit_head.c.id]
        )
    )
    query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ROW_ID)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    return Head(int(row.seq), str(row.hash))
