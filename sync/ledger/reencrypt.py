"""Rewriting every encrypted value of the ledger under a new at-rest key, batch by batch.

Each encrypted column (`ENCRYPTED_COLUMNS`, the table of `docs/crypto.md`) is
read in primary-key order, a batch at a time; each batch is rewritten and
committed in one transaction. A value already under the new key is left as it
is (AES-GCM tells: only the key that sealed a value opens it), so a pass
interrupted anywhere is finished by running it again, and no row is ever
under a key that is not kept. A value under the old key is decrypted and
encrypted again under the new one, with the same associated data; a value
still in plaintext (a ledger from before encryption at rest was always on)
is encrypted. The MAC half of the key is not touched here: pseudonyms and
subject ids stay as they are.

A rewritten row leaves its old version in the database's storage (a dead
tuple on PostgreSQL until a vacuum, a free page or the write-ahead log on
SQLite), which the old key still opens: `compact_storage` rewrites the
tables so that none is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    select,
    text,
    update,
)

from sync.crypto.at_rest import BLOB_FORMAT, FieldCipher
from sync.errors import CryptoError
from sync.ledger import schema
from sync.ledger.codec import TEXT_PREFIX, CipherCodec, field_key
from sync.ledger.store import bulk_execute, key_after, record_key, reject_key
from sync.ledger.tables_cycle import cycle_staging
from sync.ledger.tables_manual import flag_acts, manual_links, review_items, review_row_key

REENCRYPT_BATCH = 1_000
SNAPSHOT_WAIT_SECONDS = 60.0
SNAPSHOT_POLL_SECONDS = 0.2
log = logging.getLogger(__name__)
_KEY_PARAM = "key_"
_OLD_PARAM = "old_value"
_NEW_PARAM = "new_value"

AssociatedData = Callable[[Any], str]
_Stored = TypeVar("_Stored", bytes, str)  # a value as stored: a blob, or `enc1:` text
_Plain = TypeVar("_Plain", bytes, str)
Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    """One encrypted column: its table, the key it is paged by, its associated data."""

    table: Table
    column: str
    keys: tuple[str, ...]
    associated_data: AssociatedData
    text: bool = False
    reads: tuple[str, ...] = ()  # columns besides the keys its associated data needs


def _reason(
    table: Table, column: str, row_key: Callable[[Any], str], reads: tuple[str, ...] = ()
) -> EncryptedColumn:
    def associated_data(row: Any) -> str:
        return field_key(table.name, row_key(row), column)

    return EncryptedColumn(table, column, ("id",), associated_data, text=True, reads=reads)


def _act_id(row: Any) -> str:
    return str(row.id)


def _review_pair(row: Any) -> str:
    return review_row_key(row.a_agency, row.a_person_id, row.b_agency, row.b_person_id)


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(
        schema.records,
        "payload",
        ("agency", "rtype", "rid"),
        lambda row: record_key(row.agency, row.rtype, row.rid),
    ),
    EncryptedColumn(
        schema.rejects, "raw", ("fingerprint",), lambda row: reject_key(row.fingerprint)
    ),
    EncryptedColumn(
        cycle_staging,
        "payload",
        ("cycle_id", "part"),
        lambda row: f"cycle/{row.cycle_id}/{row.part}",
    ),
    EncryptedColumn(
        schema.outbox, "sealed_batch", ("batch_id",), lambda row: f"outbox/{row.batch_id}"
    ),
    _reason(manual_links, "reason", _act_id),
    _reason(schema.overrides, "reason", _act_id),
    _reason(schema.overrides, "revoke_reason", _act_id),
    _reason(flag_acts, "reason", _act_id),
    _reason(
        review_items,
        "reason",
        _review_pair,
        reads=("a_agency", "a_person_id", "b_agency", "b_person_id"),
    ),
)
TABLES: tuple[str, ...] = tuple(dict.fromkeys(c.table.name for c in ENCRYPTED_COLUMNS))


@dataclass
class Rewritten:
    """What a pass rewrote: values per table, and how many of them were plaintext."""

    by_table: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    plaintext: int = 0

    @property
    def total(self) -> int:
        """Every value rewritten."""
        return sum(self.by_table.values())


@dataclass(frozen=True, slots=True)
class Rekey:
    """The codec that reads the values as they are, and the cipher they are rewritten under."""

    old: CipherCodec
    new: FieldCipher
    _old_sealed: CipherCodec = field(init=False, repr=False)  # no plaintext fallback
    _new: CipherCodec = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_old_sealed", CipherCodec(self.old.cipher))
        object.__setattr__(self, "_new", CipherCodec(self.new))

    def rewrite_blob(self, associated_data: str, stored: bytes) -> tuple[bytes | None, bool]:
        """The value under the new key (None if it already is), and whether it was plaintext.

        A value opens with exactly one of the two keys: the old key is tried
        first (most values, on a first run); a value neither opens is refused.
        """
        sealed = stored[:1] == BLOB_FORMAT
        return self._rewrite(
            associated_data, stored, sealed, CipherCodec.decode, CipherCodec.encode
        )

    def rewrite_text(self, associated_data: str, stored: str) -> tuple[str | None, bool]:
        """`rewrite_blob` for a text value (`enc1:` and base64, or legacy plaintext)."""
        sealed = stored.startswith(TEXT_PREFIX)
        decode, encode = CipherCodec.decode_text, CipherCodec.encode_text
        return self._rewrite(associated_data, stored, sealed, decode, encode)

    def _rewrite(
        self,
        associated_data: str,
        stored: _Stored,
        sealed: bool,
        decode: Callable[[CipherCodec, str, _Stored], _Plain],
        encode: Callable[[CipherCodec, str, _Plain], _Stored],
    ) -> tuple[_Stored | None, bool]:
        if not sealed:
            plain = decode(self.old, associated_data, stored)  # refused unless legacy
            return encode(self._new, associated_data, plain), True
        try:
            plain = decode(self._old_sealed, associated_data, stored)
        except CryptoError:
            decode(self._new, associated_data, stored)
            return None, False
        return encode(self._new, associated_data, plain), False


def reencrypt_rows(
    engine: Engine,
    rekey: Rekey,
    batch_size: int = REENCRYPT_BATCH,
    progress: Progress | None = None,
) -> Rewritten:
    """Rewrite every encrypted value not yet under the new key; one transaction per batch.

    `progress` is told, after each batch, the column and how many of its
    batches are done.
    """
    rewritten = Rewritten()
    for column in ENCRYPTED_COLUMNS:
        after: tuple[Any, ...] | None = None
        batches = 0
        while True:
            with engine.begin() as conn:
                after = _rewrite_batch(conn, column, rekey, after, batch_size, rewritten)
            batches += 1
            if progress is not None:
                progress(f"{column.table.name}.{column.column}", batches)
            if after is None:
                break
    return rewritten


def compact_storage(engine: Engine) -> None:
    """Rewrite the encrypted tables' storage, so that no old version of a row is left in it.

    PostgreSQL: `VACUUM FULL` of each table (a new file for the table and its
    TOAST table; the old files are removed). SQLite: `VACUUM` of the file, then
    a checkpoint that empties the write-ahead log. Each takes the table (the
    file) for itself while it runs; nothing else uses the ledger meanwhile.
    """
    quote = engine.dialect.identifier_preparer.quote
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        statements = [f"VACUUM FULL {quote(table)}" for table in TABLES]
    else:
        statements = ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        holding = _wait_for_older_snapshots(conn, SNAPSHOT_WAIT_SECONDS) if postgresql else []
        if holding:
            log.warning(
                "A transaction that may still see rows as they were before the re-encryption "
                "(a backup in progress, say) is still open (%s); their old versions stay in "
                "the ledger's storage until, once it has ended, an operator runs VACUUM FULL "
                "on %s.",
                ", ".join(holding),
                ", ".join(TABLES),
            )
        for statement in statements:
            conn.execute(text(statement))


XID_MODULUS = 2**32  # a transaction id as the statistics views show it: 32 bits, wrapping

# The first transaction id not yet begun: every rewrite batch has committed before it.
_HORIZON = text("SELECT CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text)")

# What may keep a row's old version alive past the horizon, each named for the warning:
# - a write begun before it, in any database of the server (a snapshot taken while it
#   runs, VACUUM's own included, keeps what it might not yet have seen);
# - a snapshot older than it in this database (a backup, or any transaction begun while
#   such a write was open), or in a process of no database (a walsender relaying a
#   standby's hot_standby_feedback); a lazy VACUUM's is not counted: PostgreSQL leaves it
#   out of the horizon;
# - a prepared transaction or a replication slot older than it, in any database;
# - vacuum_defer_cleanup_age (PostgreSQL 15 and older), until that many more transactions
#   have begun since.
# `age` compares transaction ids across their wrap-around: the older, the greater.
_HOLDERS = text(
    """
    SELECT 'session ' || pid FROM pg_stat_activity
    WHERE pid <> pg_backend_pid()
      AND (age(backend_xid) > age(CAST(:horizon AS xid))
           OR ((datname = current_database() OR datname IS NULL)
               AND age(backend_xmin) > age(CAST(:horizon AS xid))
               AND pid NOT IN (SELECT pid FROM pg_stat_progress_vacuum)))
    UNION ALL
    SELECT 'a prepared transaction' FROM pg_prepared_xacts
    WHERE age(transaction) > age(CAST(:horizon AS xid))
    UNION ALL
    SELECT 'replication slot ' || slot_name FROM pg_replication_slots
    WHERE age(xmin) > age(CAST(:horizon AS xid))
    UNION ALL
    SELECT 'vacuum_defer_cleanup_age'
    WHERE age(CAST(:horizon AS xid))
          < coalesce(current_setting('vacuum_defer_cleanup_age', true)::int, 0)
    """
)


def _wait_for_older_snapshots(conn: Connection, within_seconds: float) -> list[str]:
    """Wait until nothing can still see a row as it was before the rewrite; what still
    could after `within_seconds` (empty once nothing can).

    VACUUM FULL keeps a row's old version while a transaction that may still
    see it is open: one whose snapshot is older than the rewrite's commits, in
    this database (an autovacuum's analysis, a backup, or one begun later while
    an older write was open) or on a standby whose feedback reaches the server,
    or one that writes, in any database of the server, begun before the
    rewrite ended. Waiting for the sessions open now would miss those begun
    meanwhile with an old snapshot; waiting for a horizon does not, and ends
    once everything older than it has ended.
    """
    horizon = str(int(conn.execute(_HORIZON).scalar_one()) % XID_MODULUS)
    deadline = time.monotonic() + within_seconds
    while holding := list(conn.execute(_HOLDERS, {"horizon": horizon}).scalars()):
        if time.monotonic() >= deadline:
            return holding
        time.sleep(SNAPSHOT_POLL_SECONDS)
    return []


def _rewrite_batch(
    conn: Connection,
    column: EncryptedColumn,
    rekey: Rekey,
    after: tuple[Any, ...] | None,
    batch_size: int,
    rewritten: Rewritten,
) -> tuple[Any, ...] | None:
    """Rewrite one batch (the rows after `after`); the last row's key, or None at the end."""
    rows = _read_batch(conn, column, after, batch_size)
    changes: list[dict[str, Any]] = []
    for row in rows:
        stored = getattr(row, column.column)
        new, was_plaintext = _rewrite_one(column, rekey, row, stored)
        if new is None:
            continue
        changes.append(
            {
                **{_KEY_PARAM + key: getattr(row, key) for key in column.keys},
                _OLD_PARAM: stored,
                _NEW_PARAM: new,
            }
        )
        rewritten.plaintext += was_plaintext
    if changes:
        name = f"reencrypt-{column.table.name}-{column.column}"
        bulk_execute(conn, _update_statement(column), changes, name)
        rewritten.by_table[column.table.name] += len(changes)
    if len(rows) < batch_size:
        return None
    last = rows[-1]
    return tuple(getattr(last, key) for key in column.keys)


def _rewrite_one(column: EncryptedColumn, rekey: Rekey, row: Any, stored: Any) -> tuple[Any, bool]:
    associated_data = column.associated_data(row)
    try:
        if column.text:
            return rekey.rewrite_text(associated_data, str(stored))
        return rekey.rewrite_blob(associated_data, bytes(stored))
    except CryptoError as error:
        raise CryptoError(
            f"A value in {column.table.name}.{column.column} opens with neither the old nor "
            "the new at-rest key, so the re-encryption stopped; every row is still readable."
        ) from error


def _read_batch(
    conn: Connection, column: EncryptedColumn, after: tuple[Any, ...] | None, batch_size: int
) -> Sequence[Any]:
    keys = [column.table.c[key] for key in column.keys]
    query = _select_values(column)
    if after is not None:
        query = query.where(key_after(keys, after))
    return conn.execute(query.order_by(*keys).limit(batch_size)).all()


def _select_values(column: EncryptedColumn) -> Select[Any]:
    """The column's stored values with what identifies them: keys, then what its data reads."""
    table = column.table
    names = dict.fromkeys((*column.keys, *column.reads, column.column))
    return select(*(table.c[name] for name in names)).where(table.c[column.column].is_not(None))


def _update_statement(column: EncryptedColumn) -> Any:
    table = column.table
    target = table.c[column.column]
    match = [table.c[key] == bindparam(_KEY_PARAM + key) for key in column.keys]
    return (
        update(table)
        .where(*match, target == bindparam(_OLD_PARAM))
        .values({column.column: bindparam(_NEW_PARAM)})
    )


def iter_encrypted_values(engine: Engine) -> Iterator[tuple[str, str, Any]]:
    """Every stored encrypted value: its table, its associated data and the value as stored."""
    for column in ENCRYPTED_COLUMNS:
        query = _select_values(column)
        with engine.connect() as conn:
            result = conn.execution_options(yield_per=REENCRYPT_BATCH).execute(query)
            try:
                for row in result:
                    yield (
                        column.table.name,
                        column.associated_data(row),
                        getattr(row, column.column),
                    )
            finally:
                result.close()  # a value that fails to open must not leak the cursor
